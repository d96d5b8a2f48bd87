//! `gitops render`: every kind of source, the YAML it prints, and each validation error.
//! No cluster is involved; helm and kustomize are the real binaries.

mod common;

use common::cli::{assert_golden, fixture, gitops, temp_tree, Gitops};

const CONFIG_MAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: NAME\ndata:\n  k: v\n";

fn config_map(name: &str) -> String {
    CONFIG_MAP.replace("NAME", name)
}

/// `kind` lines of a rendered stream, in order.
fn kinds(stream: &str) -> Vec<&str> {
    stream
        .lines()
        .filter_map(|l| l.strip_prefix("kind: "))
        .collect()
}

fn names(stream: &str) -> Vec<String> {
    let value: serde_json::Value = serde_json::from_str(stream).expect("JSON output");
    value["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned())
        .collect()
}

#[test]
fn plain_directory_is_read_recursively_in_lexical_order_skipping_hidden_entries() {
    let dir = temp_tree(&[
        ("b.yaml", &config_map("from-b")),
        ("a/z.yml", &config_map("from-a-z")),
        (
            "a/b.json",
            r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "from-a-b-json"}}"#,
        ),
        (
            "c.yaml",
            &format!(
                "---\n{}---\n# only a comment\n---\n{}",
                config_map("c-1"),
                config_map("c-2")
            ),
        ),
        (".hidden.yaml", &config_map("hidden-file")),
        (".git/config.yaml", &config_map("hidden-dir")),
        ("README.md", "not yaml: ["),
        ("notes.txt", "ignored"),
    ]);
    let run = gitops(&["render", "-o", "json", dir.path().to_str().unwrap()]);
    run.expect_code(0);
    assert_eq!(
        names(&run.stdout),
        ["from-a-b-json", "from-a-z", "from-b", "c-1", "c-2"]
    );
}

#[test]
fn stdin_single_files_and_lists() {
    let list = format!(
        "apiVersion: v1\nkind: List\nitems:\n- {}\n- {}\n",
        r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "one"}}"#,
        r#"{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "two"}}"#
    );
    let run = Gitops::new(["render", "-", "-o", "json"])
        .stdin(list.clone())
        .run();
    run.expect_code(0);
    assert_eq!(names(&run.stdout), ["one", "two"]);

    let dir = temp_tree(&[("list.yaml", &list)]);
    let run = gitops(&["render", dir.path().join("list.yaml").to_str().unwrap()]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("# Source: ")
            && run.stdout.contains("list.yaml:1 (document 1, list item 2)"),
        "{}",
        run.stdout
    );
}

#[test]
fn output_is_in_apply_order_waves_then_kinds() {
    let stream = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web}\n---\n\
        apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n---\n\
        apiVersion: v1\nkind: Service\nmetadata: {name: web}\n---\n\
        apiVersion: v1\nkind: ConfigMap\nmetadata: {name: late, annotations: {gitops.dev/wave: \"2\"}}\n---\n\
        apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\n---\n\
        apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n";
    let run = Gitops::new(["render", "-"]).stdin(stream).run();
    run.expect_code(0);
    assert_eq!(
        kinds(&run.stdout),
        [
            "Namespace",
            "CustomResourceDefinition",
            "Service",
            "Deployment",
            "Widget",
            "ConfigMap"
        ]
    );
}

#[test]
fn yaml_is_read_and_written_the_way_kubectl_reads_it() {
    let stream = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  labels: {enabled: \"true\"}\ndata:\n  mode: \"0644\"\n  flag: \"yes\"\n  script: |\n    #!/bin/sh\n    echo hi\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec:\n  template:\n    spec:\n      volumes:\n      - name: s\n        secret: {secretName: s, defaultMode: 0644}\n";
    let run = Gitops::new(["render", "-"]).stdin(stream).run();
    run.expect_code(0);
    for expected in [
        "enabled: \"true\"",
        "mode: \"0644\"",
        "flag: \"yes\"",
        "script: |\n    #!/bin/sh\n    echo hi\n",
        "defaultMode: 420",
    ] {
        assert!(
            run.stdout.contains(expected),
            "missing {expected:?} in\n{}",
            run.stdout
        );
    }
}

#[test]
fn secrets_are_masked_unless_asked_for() {
    let secret = "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\ndata:\n  password: aHVudGVyMg==\nstringData:\n  token: hunter2\n";
    let run = Gitops::new(["render", "-"]).stdin(secret).run();
    run.expect_code(0);
    assert!(
        !run.stdout.contains("aHVudGVyMg") && !run.stdout.contains("hunter2"),
        "{}",
        run.stdout
    );
    assert!(run.stdout.contains("password: <hidden>"), "{}", run.stdout);
    let run = Gitops::new(["render", "-", "--show-secrets"])
        .stdin(secret)
        .run();
    run.expect_code(0);
    assert!(run.stdout.contains("password: aHVudGVyMg==") && run.stdout.contains("token: hunter2"));
    assert!(!run.stderr.contains("hunter2"));
}

#[test]
fn missing_fields_are_errors_naming_file_and_line() {
    let dir = temp_tree(&[(
        "bad.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: ok}\n---\n\n# a comment\nkind: ConfigMap\nmetadata:\n  labels: {a: b}\n---\napiVersion: v1\nmetadata: {name: x}\n",
    )]);
    let run = Gitops::new(["render", "."]).current_dir(dir.path()).run();
    run.expect_code(1);
    for expected in [
        "bad.yaml:7 (document 2): <no apiVersion> ConfigMap <no name>: apiVersion is missing",
        "bad.yaml:7 (document 2): <no apiVersion> ConfigMap <no name>: metadata.name is missing",
        "bad.yaml:11 (document 3): v1 <no kind> x: kind is missing",
    ] {
        assert!(
            run.stderr.contains(expected),
            "missing {expected:?} in\n{}",
            run.stderr
        );
    }
    assert!(
        run.stdout.is_empty(),
        "nothing is printed when validation fails"
    );
}

#[test]
fn duplicate_objects_name_both_sources() {
    let dir = temp_tree(&[
        ("one.yaml", &config_map("same")),
        (
            "two/again.yaml",
            &format!("{}---\n{}", config_map("other"), config_map("same")),
        ),
    ]);
    let run = Gitops::new(["render", "."]).current_dir(dir.path()).run();
    run.expect_code(1);
    assert!(
        run.stderr.contains("two/again.yaml:8 (document 2)")
            && run.stderr.contains(
                "duplicate object ConfigMap default/same: also defined at one.yaml:1 (document 1)"
            ),
        "{}",
        run.stderr
    );
}

#[test]
fn yaml_errors_name_file_and_line() {
    let cases = [
        (
            "tab.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: x\n",
            "tab.yaml:4:",
        ),
        (
            "dup.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n  name: y\n",
            "dup.yaml:5:3: duplicate key \"name\"",
        ),
        (
            "open.yaml",
            "apiVersion: v1\nkind: [ConfigMap\n",
            "open.yaml:3:",
        ),
        (
            "scalar.yaml",
            "just a string\n",
            "scalar.yaml:1:1: document 1 is a plain value, not a Kubernetes object",
        ),
    ];
    for (file, content, expected) in cases {
        let dir = temp_tree(&[(file, content)]);
        let run = Gitops::new(["render", file]).current_dir(dir.path()).run();
        run.expect_code(1);
        assert!(
            run.stderr.contains(expected),
            "{file}: missing {expected:?} in\n{}",
            run.stderr
        );
        assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
    }
}

#[test]
fn bad_bytes_and_symlink_loops_are_clear_errors() {
    let dir = temp_tree(&[("ok.yaml", &config_map("ok"))]);
    std::fs::write(
        dir.path().join("latin1.yaml"),
        b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: caf\xe9}\n",
    )
    .unwrap();
    let run = Gitops::new(["render", "latin1.yaml"])
        .current_dir(dir.path())
        .run();
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("latin1.yaml:3: the file is not valid UTF-8"),
        "{}",
        run.stderr
    );

    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::os::unix::fs::symlink("..", dir.path().join("sub/loop")).unwrap();
    std::fs::remove_file(dir.path().join("latin1.yaml")).unwrap();
    let run = Gitops::new(["render", "."]).current_dir(dir.path()).run();
    run.expect_code(1);
    assert!(run.stderr.contains("symbolic link loop"), "{}", run.stderr);
}

#[test]
fn usage_errors_exit_64_never_2() {
    for args in [
        vec!["render", "--no-such-flag"],
        vec!["render", "-o", "yaml", "."],
        vec!["--color", "sometimes", "version"],
        vec!["no-such-command"],
        vec![],
        vec!["render", "a", "b"],
        vec!["render", "fixtures", "--target", "x"],
        vec!["render", "-o", "markdown", "-"],
        vec!["render", "fixtures", "--name", "Not_A_Name"],
    ] {
        let run = gitops(&args);
        assert_eq!(
            run.code, 64,
            "{args:?}: exit {} stderr:\n{}",
            run.code, run.stderr
        );
    }
    gitops(&["--help"]).expect_code(0);
    gitops(&["--version"]).expect_code(0);
}

#[test]
fn renderer_failures_carry_the_renderers_stderr() {
    let dir = temp_tree(&[(
        "kustomization.yaml",
        "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nresources:\n- missing.yaml\n",
    )]);
    let run = Gitops::new(["render", "."]).current_dir(dir.path()).run();
    run.expect_code(1);
    assert!(run.stderr.contains("missing.yaml"), "{}", run.stderr);
    assert!(run.stderr.contains("kustomize"), "{}", run.stderr);

    let chart = temp_tree(&[
        (
            "Chart.yaml",
            "apiVersion: v2\nname: broken\nversion: 0.1.0\n",
        ),
        (
            "templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Values.missing.deeper }}\n",
        ),
    ]);
    let run = Gitops::new(["render", "."]).current_dir(chart.path()).run();
    run.expect_code(1);
    assert!(
        run.stderr.contains("helm template") && run.stderr.contains("cm.yaml"),
        "{}",
        run.stderr
    );

    // helm's own "Use --debug flag" hint is for helm users; gitops has no such flag.
    let too_new = temp_tree(&[
        (
            "Chart.yaml",
            "apiVersion: v2\nname: future\nversion: 0.1.0\nkubeVersion: \">=99.0.0-0\"\n",
        ),
        ("templates/cm.yaml", &config_map("future")),
    ]);
    let run = Gitops::new(["render", "."])
        .current_dir(too_new.path())
        .run();
    run.expect_code(1);
    assert!(
        run.stderr.contains("chart requires kubeVersion") && !run.stderr.contains("--debug"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_missing_renderer_is_named_with_how_to_install_it() {
    let chart = temp_tree(&[
        ("Chart.yaml", "apiVersion: v2\nname: c\nversion: 0.1.0\n"),
        ("templates/cm.yaml", &config_map("c")),
    ]);
    let empty_path = tempfile::tempdir().unwrap();
    let run = Gitops::new(["render", "."])
        .current_dir(chart.path())
        .env("PATH", empty_path.path())
        .run();
    run.expect_code(1);
    assert!(
        run.stderr.contains("helm was not found on PATH") && run.stderr.contains("helm.sh"),
        "{}",
        run.stderr
    );
    let kustomization = temp_tree(&[("kustomization.yaml", "resources: []\n")]);
    let run = Gitops::new(["render", "."])
        .current_dir(kustomization.path())
        .env("PATH", empty_path.path())
        .run();
    run.expect_code(1);
    assert!(
        run.stderr.contains("kustomize was not found on PATH"),
        "{}",
        run.stderr
    );
}

#[test]
fn gitops_yaml_unknown_keys_and_missing_paths_are_errors() {
    let dir = temp_tree(&[
        ("apps/a.yaml", &config_map("a")),
        (
            "gitops.yaml",
            "targets:\n  - name: a\n    path: apps\n    namespce: x\n",
        ),
    ]);
    let run = Gitops::new(["render"]).current_dir(dir.path()).run();
    run.expect_code(1);
    assert!(
        run.stderr.contains("gitops.yaml")
            && run.stderr.contains("unknown key `namespce`")
            && run.stderr.contains("line 4"),
        "{}",
        run.stderr
    );
    std::fs::write(
        dir.path().join("gitops.yaml"),
        "targets:\n  - name: a\n    path: nowhere\n",
    )
    .unwrap();
    let run = Gitops::new(["render"]).current_dir(dir.path()).run();
    run.expect_code(1);
    assert!(
        run.stderr.contains("path \"nowhere\" does not exist"),
        "{}",
        run.stderr
    );
}

#[test]
fn targets_are_selected_from_gitops_yaml() {
    let dir = temp_tree(&[
        ("apps/a/cm.yaml", &config_map("a")),
        ("apps/b/cm.yaml", &config_map("b")),
        (
            "gitops.yaml",
            "targets:\n  - name: alpha\n    path: apps/a\n    namespace: ns-a\n  - name: beta\n    path: apps/b\n    prune: false\n    timeout: 90s\n",
        ),
    ]);
    let all = Gitops::new(["render", "-o", "json"])
        .current_dir(dir.path())
        .run();
    all.expect_code(0);
    assert_eq!(names(&all.stdout), ["a", "b"]);
    let beta = Gitops::new(["render", "-o", "json", "--target", "beta"])
        .current_dir(dir.path())
        .run();
    beta.expect_code(0);
    assert_eq!(names(&beta.stdout), ["b"]);
    let unknown = Gitops::new(["render", "--target", "gamma"])
        .current_dir(dir.path())
        .run();
    unknown.expect_code(1);
    assert!(
        unknown
            .stderr
            .contains("no target named \"gamma\" (targets: alpha, beta)"),
        "{}",
        unknown.stderr
    );

    let listed = Gitops::new(["targets", "--json"])
        .current_dir(dir.path())
        .run();
    listed.expect_code(0);
    let targets: serde_json::Value = serde_json::from_str(&listed.stdout).unwrap();
    assert_eq!(
        targets,
        serde_json::json!([
            {"schemaVersion": "1.0", "name": "alpha", "path": "apps/a", "namespace": "ns-a", "context": null, "prune": true, "timeout": null, "createNamespace": false, "dependsOn": []},
            {"schemaVersion": "1.0", "name": "beta", "path": "apps/b", "namespace": null, "context": null, "prune": false, "timeout": "90s", "createNamespace": false, "dependsOn": []},
        ])
    );
    let names = Gitops::new(["targets", "--names"])
        .current_dir(dir.path())
        .run();
    names.expect_code(0);
    assert_eq!(names.stdout, "alpha\nbeta\n");
    let table = Gitops::new(["targets"]).current_dir(dir.path()).run();
    table.expect_code(0);
    assert_eq!(
        table.stdout,
        "NAME   PATH    NAMESPACE  CONTEXT\nalpha  apps/a  ns-a       -\nbeta   apps/b  -          -\n"
    );
}

#[test]
fn a_paths_target_is_named_after_its_place_in_the_repository() {
    let dir = temp_tree(&[("apps/shop/cm.yaml", &config_map("a"))]);
    std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(dir.path())
        .status()
        .expect("git runs");
    // From a subdirectory, the name is still relative to the repository root.
    let run = Gitops::new(["render", "-v", "shop"])
        .current_dir(dir.path().join("apps"))
        .run();
    run.expect_code(0);
    assert!(run.stderr.contains("target apps-shop:"), "{}", run.stderr);
    let named = Gitops::new(["render", "-v", "--name", "web", "shop"])
        .current_dir(dir.path().join("apps"))
        .run();
    assert!(named.stderr.contains("target web:"), "{}", named.stderr);
}

#[test]
fn version_names_the_renderers() {
    let run = gitops(&["version"]);
    run.expect_code(0);
    assert!(run
        .stdout
        .starts_with(&format!("gitops {} (commit ", env!("CARGO_PKG_VERSION"))));
    let first = run.stdout.lines().next().unwrap();
    assert!(first.contains(", built 20"), "{first}");
    for tool in ["helm", "kustomize", "kubectl", "sops"] {
        assert!(run.stdout.contains(&format!("\n{tool} ")), "{}", run.stdout);
    }
    let json = gitops(&["version", "-o", "json"]);
    let value: serde_json::Value = serde_json::from_str(&json.stdout).unwrap();
    let commit = value["commit"].as_str().unwrap_or_default();
    assert!(
        commit.len() == 40 && commit.bytes().all(|b| b.is_ascii_hexdigit()),
        "the build records its commit: {value}"
    );
    assert!(
        value["renderers"]["helm"]["version"].is_string(),
        "helm must be installed for the test suite: {value}"
    );
    assert!(
        value["renderers"]["sops"]["version"]
            .as_str()
            .is_some_and(|v| v.starts_with("sops 3.")),
        "sops must be installed for the test suite: {value}"
    );
}

#[test]
fn demo_fixtures_render_to_their_golden_output() {
    let demo = fixture("demo");
    for target in [
        "plain",
        "shop-staging",
        "shop-production",
        "podinfo-staging",
    ] {
        let run = Gitops::new(["render", "--target", target])
            .current_dir(&demo)
            .run();
        run.expect_code(0);
        assert_golden(&format!("demo-{target}.yaml"), &run.stdout);
    }
}

#[test]
fn hooks_are_not_in_the_stream_and_are_named_with_their_phase() {
    let dir = temp_tree(&[
        ("app.yaml", &config_map("settings")),
        (
            "hooks.yaml",
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: upgrade-sql-schema-\n  annotations:\n    argocd.argoproj.io/hook: PreSync\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{name: m, image: alpine}]\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: smoke\n  annotations:\n    helm.sh/hook: test\nspec:\n  containers: [{name: s, image: alpine}]\n",
        ),
    ]);
    let run = gitops(&["render", "-o", "json", dir.path().to_str().unwrap()]);
    run.expect_code(0);
    assert_eq!(names(&run.stdout), ["settings"]);
    assert!(
        run.stderr.contains("2 hook object(s), not in this stream")
            && run
                .stderr
                .contains("PreSync: batch/v1 Job upgrade-sql-schema-* (")
            && run.stderr.contains("hooks.yaml:1 (document 1))")
            && run.stderr.contains("not run (test): v1 Pod smoke (")
            && run.stderr.contains("hooks.yaml:13 (document 2))"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_bad_hook_is_refused_naming_it_and_the_allowed_values() {
    let dir = temp_tree(&[
        ("app.yaml", &config_map("settings")),
        (
            "hooks.yaml",
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: migrate\n  annotations:\n    argocd.argoproj.io/hook: PreSynk\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: clean\n  annotations:\n    helm.sh/hook: post-upgrade\n    helm.sh/hook-delete-policy: after-success\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  annotations:\n    argocd.argoproj.io/hook: PostSync\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  annotations:\n    argocd.argoproj.io/hook: Sync\n",
        ),
    ]);
    let run = gitops(&["render", dir.path().to_str().unwrap()]);
    run.expect_code(1);
    for expected in [
        "hooks.yaml:1 (document 1): batch/v1 Job migrate: unknown hook argocd.argoproj.io/hook: PreSynk; allowed: PreSync, Sync, PostSync, SyncFail, Skip",
        "hooks.yaml:8 (document 2): batch/v1 Job clean: unknown delete policy helm.sh/hook-delete-policy: after-success; allowed: before-hook-creation, hook-succeeded, hook-failed",
        "hooks.yaml:16 (document 3): v1 Pod <no name>: a hook needs metadata.name or metadata.generateName",
    ] {
        assert!(run.stderr.contains(expected), "{expected}\n{}", run.stderr);
    }
    // Hooks are checked first; once they are valid, one that is also an object is refused.
    let dir = temp_tree(&[
        ("app.yaml", &config_map("settings")),
        (
            "hooks.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  annotations:\n    argocd.argoproj.io/hook: Sync\n",
        ),
    ]);
    let run = gitops(&["render", dir.path().to_str().unwrap()]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("hooks.yaml:1 (document 1): v1 ConfigMap settings: a hook (argocd.argoproj.io/hook: Sync) is also an ordinary object of this target, at ")
            && run.stderr.contains("app.yaml:1 (document 1): an object is one or the other"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_directory_with_files_but_no_manifests_is_an_error() {
    let dir = temp_tree(&[
        ("app/guestbook.jsonnet", "{}"),
        ("app/params.libsonnet", "{}"),
    ]);
    let run = Gitops::new(["render", "app"]).current_dir(dir.path()).run();
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("app holds no *.yaml, *.yml or *.json manifests")
            && run.stderr.contains("app/guestbook.jsonnet"),
        "{}",
        run.stderr
    );
    // Only other files (a README, a .gitkeep): an empty render, which apply refuses over a
    // non-empty inventory unless --allow-empty.
    let empty = temp_tree(&[("app/.gitkeep", ""), ("app/README.md", "moved away")]);
    Gitops::new(["render", "app"])
        .current_dir(empty.path())
        .run()
        .expect_code(0);
}

#[test]
fn chart_dependencies_missing_from_charts_are_built_in_a_copy() {
    let repo = temp_tree(&[
        ("common/Chart.yaml", "apiVersion: v2\nname: common\nversion: 0.2.0\n"),
        (
            "common/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-common\n",
        ),
        (
            "umbrella/Chart.yaml",
            "apiVersion: v2\nname: umbrella\nversion: 0.1.0\ndependencies:\n  - name: common\n    version: 0.2.0\n    repository: file://../common\n",
        ),
        (
            "umbrella/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-own\n",
        ),
    ]);
    let run = Gitops::new(["render", "umbrella", "-o", "json", "--name", "shop"])
        .current_dir(repo.path())
        .run();
    run.expect_code(0);
    let mut rendered = names(&run.stdout);
    rendered.sort();
    assert_eq!(rendered, ["shop-common", "shop-own"]);
    // The working tree is not written to: no charts/ and no Chart.lock appear.
    assert!(!repo.path().join("umbrella/charts").exists());
    assert!(!repo.path().join("umbrella/Chart.lock").exists());

    // A dependency that cannot be built: exit 1, naming it and what to do.
    std::fs::write(
        repo.path().join("umbrella/Chart.yaml"),
        "apiVersion: v2\nname: umbrella\nversion: 0.1.0\ndependencies:\n  - name: missing\n    version: 1.0.0\n    repository: file://../nowhere\n",
    )
    .unwrap();
    let broken = Gitops::new(["render", "umbrella", "--name", "shop"])
        .current_dir(repo.path())
        .run();
    broken.expect_code(1);
    assert!(
        broken.stderr.contains(
            "helm dependency build umbrella (for its dependencies missing, not in charts/)"
        ) && broken.stderr.contains("put the dependencies into charts/"),
        "{}",
        broken.stderr
    );
}

/// A dependency from a chart repository that `helm repo add` never saw (the way chart authors
/// publish umbrella charts): its index is fetched and the chart built, in a helm home of its own
/// here so that the machine's helm configuration plays no part. The repository is a static
/// HTTP server, as chart repositories are.
#[test]
fn chart_dependencies_from_a_repository_helm_never_saw_are_fetched() {
    let work = temp_tree(&[
        ("lib/Chart.yaml", "apiVersion: v2\nname: lib\nversion: 1.2.3\n"),
        (
            "lib/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-lib-{{ .Chart.Version }}\n",
        ),
    ]);
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let url = format!("http://127.0.0.1:{port}");
    let helm = |args: &[&str]| {
        let status = std::process::Command::new("helm")
            .args(args)
            .current_dir(work.path())
            .status()
            .expect("helm runs");
        assert!(status.success(), "helm {args:?}");
    };
    helm(&["package", "lib", "-d", "repository"]);
    helm(&["repo", "index", "repository", "--url", &url]);
    let mut server = std::process::Command::new("python3")
        .args([
            "-m",
            "http.server",
            &port.to_string(),
            "--bind",
            "127.0.0.1",
        ])
        .current_dir(work.path().join("repository"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("python3 serves the chart repository");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            std::time::Instant::now() < deadline,
            "the chart repository never listened"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }

    let app = temp_tree(&[
        (
            "umbrella/Chart.yaml",
            &format!("apiVersion: v2\nname: umbrella\nversion: 0.1.0\ndependencies:\n  - name: lib\n    version: 1.2.x\n    repository: {url}\n"),
        ),
        (
            "umbrella/templates/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-own\n",
        ),
    ]);
    // The author locked the dependency (Chart.lock) and did not commit charts/.
    let author_home = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("helm")
        .args(["dependency", "update", "umbrella"])
        .current_dir(app.path())
        .env("HELM_CACHE_HOME", author_home.path().join("cache"))
        .env("HELM_CONFIG_HOME", author_home.path().join("config"))
        .env("HELM_DATA_HOME", author_home.path().join("data"))
        .status()
        .expect("helm runs");
    assert!(status.success(), "helm dependency update");
    assert!(app.path().join("umbrella/Chart.lock").exists());
    std::fs::remove_dir_all(app.path().join("umbrella/charts")).unwrap();
    // A newer version in the range is published after the lock was made: the lock wins.
    std::fs::write(
        work.path().join("lib/Chart.yaml"),
        "apiVersion: v2\nname: lib\nversion: 1.2.4\n",
    )
    .unwrap();
    helm(&["package", "lib", "-d", "repository"]);
    helm(&["repo", "index", "repository", "--url", &url]);

    let helm_home = tempfile::tempdir().unwrap();
    let run = Gitops::new(["render", "umbrella", "-o", "json", "--name", "shop"])
        .current_dir(app.path())
        .env("HELM_CACHE_HOME", helm_home.path().join("cache"))
        .env("HELM_CONFIG_HOME", helm_home.path().join("config"))
        .env("HELM_DATA_HOME", helm_home.path().join("data"))
        .run();
    let _ = server.kill();
    let _ = server.wait();
    run.expect_code(0);
    let mut rendered = names(&run.stdout);
    rendered.sort();
    assert_eq!(rendered, ["shop-lib-1.2.3", "shop-own"], "{}", run.stderr);
    assert!(
        run.stderr.contains("never added with helm repo add")
            && run.stderr.contains("building from Chart.lock"),
        "{}",
        run.stderr
    );
    assert!(!app.path().join("umbrella/charts").exists());
}
