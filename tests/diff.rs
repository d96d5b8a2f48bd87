//! `gitops diff` against the real control plane: exit codes, what is shown, what is hidden.

mod common;

use common::app::{apply, diff_json, gitops_diff, summary, web_app};
use common::cli::{temp_tree, Gitops};
use common::kubectl::{kubectl, kubectl_ok, TestNamespace};
use serde_json::Value;

#[test]
fn in_sync_exits_0_and_ports_without_protocol_plan_cleanly() {
    let ns = TestNamespace::new("diff-sync");
    let manifests = web_app(&ns.name, "nginx:1.25", 2);
    apply(&ns, &manifests);
    let repo = temp_tree(&[("app.yaml", &manifests)]);
    let (run, plan) = diff_json(&ns, repo.path(), &[]);
    run.expect_code(0);
    assert_eq!(summary(&plan), [0, 0, 0, 3], "{}", run.stdout);
    let text = gitops_diff(&ns, repo.path(), &[]);
    text.expect_code(0);
    assert_eq!(
        text.stdout,
        "Plan: 0 to create, 0 to update, 0 to delete, 3 unchanged.\n"
    );
}

#[test]
fn a_changed_image_is_exactly_one_update() {
    let ns = TestNamespace::new("diff-image");
    apply(&ns, &web_app(&ns.name, "nginx:1.25", 2));
    let repo = temp_tree(&[("app.yaml", &web_app(&ns.name, "nginx:1.26", 2))]);
    let (run, plan) = diff_json(&ns, repo.path(), &[]);
    run.expect_code(2);
    assert_eq!(summary(&plan), [0, 1, 0, 2], "{}", run.stdout);
    let change = &plan["changes"][0];
    assert_eq!(
        (change["action"].as_str(), change["kind"].as_str()),
        (Some("update"), Some("Deployment"))
    );
    let diff = change["diff"].as_str().unwrap();
    assert!(
        diff.contains("-        image: nginx:1.25\n+        image: nginx:1.26\n"),
        "{diff}"
    );
    assert_eq!(
        diff.lines().filter(|l| l.starts_with(['+', '-'])).count(),
        2,
        "only the image changes:\n{diff}"
    );

    let text = gitops_diff(&ns, repo.path(), &[]);
    text.expect_code(2);
    assert!(
        text.stdout
            .starts_with(&format!("~ apps/v1 Deployment {}/web (pending)\n", ns.name)),
        "{}",
        text.stdout
    );
    assert!(text
        .stdout
        .ends_with("Plan: 0 to create, 1 to update, 0 to delete, 2 unchanged.\n"));
    let zero = gitops_diff(&ns, repo.path(), &["--exit-zero"]);
    zero.expect_code(0);
}

#[test]
fn hand_made_drift_is_shown() {
    let ns = TestNamespace::new("diff-drift");
    let manifests = web_app(&ns.name, "nginx:1.25", 2);
    apply(&ns, &manifests);
    let repo = temp_tree(&[("app.yaml", &manifests)]);
    kubectl_ok(
        &["-n", &ns.name, "scale", "deployment/web", "--replicas=5"],
        None,
    );
    kubectl_ok(
        &[
            "-n",
            &ns.name,
            "label",
            "--overwrite",
            "deployment/web",
            "app=changed-by-hand",
        ],
        None,
    );
    kubectl_ok(
        &[
            "-n",
            &ns.name,
            "patch",
            "configmap/web-config",
            "--type=merge",
            "-p",
            r#"{"data":{"LOG_LEVEL":"debug"}}"#,
        ],
        None,
    );
    let (run, plan) = diff_json(&ns, repo.path(), &[]);
    run.expect_code(2);
    assert_eq!(summary(&plan), [0, 2, 0, 1], "{}", run.stdout);
    let diffs: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["diff"].as_str().unwrap())
        .collect();
    let all = diffs.join("\n");
    for expected in [
        "-  replicas: 5\n+  replicas: 2",
        "-  LOG_LEVEL: debug\n+  LOG_LEVEL: info",
    ] {
        assert!(all.contains(expected), "missing {expected:?} in\n{all}");
    }
    assert!(
        all.contains("-    app: changed-by-hand\n+    app: web"),
        "{all}"
    );
}

#[test]
fn new_objects_namespaces_and_crds_with_their_resources_are_creates() {
    let ns = common::cluster::unique_name("diff-new");
    let group = format!("{ns}.example.com");
    let manifests = format!(
        r#"apiVersion: v1
kind: Namespace
metadata: {{name: {ns}}}
---
apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata: {{name: widgets.{group}}}
spec:
  group: {group}
  scope: Namespaced
  names: {{plural: widgets, singular: widget, kind: Widget}}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec: {{type: object, properties: {{size: {{type: integer}}}}}}
---
apiVersion: {group}/v1
kind: Widget
metadata: {{name: w, namespace: {ns}}}
spec: {{size: 3}}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: c, namespace: {ns}}}
data: {{a: b}}
"#
    );
    let repo = temp_tree(&[("all.yaml", &manifests)]);
    let run = Gitops::new(["diff", "-o", "json", "."])
        .current_dir(repo.path())
        .on_cluster()
        .run();
    let plan: Value = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
    run.expect_code(2);
    assert_eq!(summary(&plan), [4, 0, 0, 0], "{}", run.stdout);
    let kinds: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [
            "Namespace",
            "CustomResourceDefinition",
            "ConfigMap",
            "Widget"
        ]
    );
    // Nothing was written: the namespace and the CRD still do not exist.
    let namespaces = kubectl_ok(&["get", "namespaces", "-o", "name"], None);
    assert!(
        !namespaces.contains(&format!("namespace/{ns}\n")),
        "diff must not create anything"
    );
}

#[test]
fn ignore_differences_hide_fields_of_other_managers() {
    let ns = TestNamespace::new("diff-ignore");
    let manifests = web_app(&ns.name, "nginx:1.25", 2);
    apply(&ns, &manifests);
    // An autoscaler takes over replicas.
    kubectl_ok(
        &[
            "-n",
            &ns.name,
            "patch",
            "deployment/web",
            "--type=merge",
            "--field-manager=horizontal-pod-autoscaler",
            "-p",
            r#"{"spec":{"replicas":4}}"#,
        ],
        None,
    );
    let repo = temp_tree(&[("app.yaml", &manifests)]);
    let (run, _) = diff_json(&ns, repo.path(), &[]);
    run.expect_code(2);

    for rule in [
        "{group: apps, kind: Deployment, name: web, managedFieldsManagers: [horizontal-pod-autoscaler]}",
        "{group: apps, kind: Deployment, jsonPointers: [/spec/replicas]}",
    ] {
        let config = format!("ignoreDifferences:\n  - {rule}\n");
        std::fs::write(repo.path().join("gitops.yaml"), config).unwrap();
        let run = gitops_diff(&ns, repo.path(), &["--config", "gitops.yaml"]);
        run.expect_code(0);
    }
}

#[test]
fn a_forbidden_user_gets_exit_1_naming_the_verb() {
    let ns = TestNamespace::new("diff-forbidden");
    let repo = temp_tree(&[("app.yaml", &web_app(&ns.name, "nginx:1.25", 1))]);
    let run = gitops_diff(&ns, repo.path(), &["--context", "unprivileged"]);
    run.expect_code(1);
    assert!(run.stderr.contains("forbidden"), "{}", run.stderr);
    assert!(
        run.stderr.contains(&ns.name),
        "names the namespace/object: {}",
        run.stderr
    );
    assert!(!run.stderr.contains("panicked"), "{}", run.stderr);
}

#[test]
fn unreachable_servers_and_rejected_tokens_are_one_clear_line() {
    let env = common::cluster::testenv();
    let original = std::fs::read_to_string(&env.kubeconfig).unwrap();
    let repo = temp_tree(&[(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    )]);

    let unreachable = common::cluster::with_server(&original, "https://127.0.0.1:1");
    std::fs::write(repo.path().join("down.kubeconfig"), unreachable).unwrap();
    let run = Gitops::new(["diff", "cm.yaml", "--kubeconfig", "down.kubeconfig"])
        .current_dir(repo.path())
        .run();
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("cannot reach the API server at https://127.0.0.1:1"),
        "{}",
        run.stderr
    );

    let token_line = original
        .lines()
        .find(|l| l.trim_start().starts_with("token:"))
        .expect("token auth");
    let token = token_line.trim_start().trim_start_matches("token:").trim();
    let wrong = original.replace(token, "not-a-valid-token");
    std::fs::write(repo.path().join("wrong.kubeconfig"), wrong).unwrap();
    let run = Gitops::new(["diff", "cm.yaml", "--kubeconfig", "wrong.kubeconfig", "-v"])
        .current_dir(repo.path())
        .run();
    run.expect_code(1);
    assert!(run.stderr.contains("401 Unauthorized"), "{}", run.stderr);
    assert!(
        !run.stderr.contains("not-a-valid-token") && !run.stderr.contains(token),
        "credentials never printed"
    );
}

#[test]
fn unknown_kinds_fail_before_any_dry_run() {
    let repo = temp_tree(&[(
        "x.yaml",
        "apiVersion: nothing.example.com/v1\nkind: Gadget\nmetadata: {name: g}\n---\napiVersion: autoscaling/v9\nkind: HorizontalPodAutoscaler\nmetadata: {name: h}\nspec: {}\n",
    )]);
    let run = Gitops::new(["diff", "."])
        .current_dir(repo.path())
        .on_cluster()
        .run();
    run.expect_code(1);
    assert!(
        run.stderr.contains("x.yaml:1 (document 1): nothing.example.com/v1 Gadget g: kind Gadget of nothing.example.com/v1")
            && run.stderr.contains("does not serve Gadget in any version: install the CRD"),
        "{}",
        run.stderr
    );
    // A kind the cluster serves in other versions: the message names them (found by discovery,
    // so it holds on every server version).
    assert!(
        run.stderr
            .contains("kind HorizontalPodAutoscaler of autoscaling/v9 (this cluster (v")
            && run
                .stderr
                .contains("serves HorizontalPodAutoscaler as autoscaling/v1"),
        "{}",
        run.stderr
    );
}

#[test]
fn secret_values_never_leak_from_any_output() {
    let ns = TestNamespace::new("diff-secret");
    let secret = |password: &str, token: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: db, namespace: {}}}\nstringData:\n  password: {password}\n  token: {token}\n",
            ns.name
        )
    };
    let (old_password, new_password, token) = (
        "old-pa55word-value",
        "new-pa55word-value",
        "same-token-value",
    );
    apply(&ns, &secret(old_password, token));
    let repo = temp_tree(&[("secret.yaml", &secret(new_password, token))]);
    let forbidden: Vec<String> = [old_password, new_password, token]
        .iter()
        .flat_map(|v| [v.to_string(), gitops::mask::base64(v.as_bytes())])
        .collect();
    for format in ["text", "json", "markdown"] {
        let run = gitops_diff(&ns, repo.path(), &["-v", "-o", format]);
        run.expect_code(2);
        for value in &forbidden {
            assert!(
                !run.stdout.contains(value.as_str()),
                "{format}: stdout leaks {value}:\n{}",
                run.stdout
            );
            assert!(
                !run.stderr.contains(value.as_str()),
                "{format}: stderr leaks {value}:\n{}",
                run.stderr
            );
        }
        assert!(
            run.stdout.contains("<hidden: changed>"),
            "{format}:\n{}",
            run.stdout
        );
        assert!(
            run.stdout.contains("token: <hidden>"),
            "{format}:\n{}",
            run.stdout
        );
    }
}

#[test]
fn an_object_removed_from_git_after_an_apply_is_a_delete() {
    let ns = TestNamespace::new("diff-delete");
    let manifests = web_app(&ns.name, "nginx:1.25", 2);
    apply(&ns, &manifests);
    let without_config = manifests
        .split("---\n")
        .skip(1)
        .collect::<Vec<_>>()
        .join("---\n");
    let repo = temp_tree(&[("app.yaml", &without_config)]);
    let (run, plan) = diff_json(&ns, repo.path(), &[]);
    run.expect_code(2);
    assert_eq!(summary(&plan), [0, 0, 1, 2], "{}", run.stdout);
    let change = &plan["changes"][0];
    assert_eq!(
        (change["action"].as_str(), change["name"].as_str()),
        (Some("delete"), Some("web-config"))
    );
    let text = gitops_diff(&ns, repo.path(), &[]);
    assert!(
        text.stdout
            .starts_with(&format!(
                "- v1 ConfigMap {}/web-config (pending; destructive: deletes it from the cluster: it is no longer in Git)\n",
                ns.name
            )),
        "{}",
        text.stdout
    );

    // The plan of `apply --no-prune`: nothing to delete, so the cluster matches.
    let (kept, plan) = diff_json(&ns, repo.path(), &["--no-prune"]);
    kept.expect_code(0);
    assert_eq!(summary(&plan), [0, 0, 0, 2], "{}", kept.stdout);
}

#[test]
fn create_namespace_plans_the_namespace_as_apply_would() {
    let ns = TestNamespace::not_created("diff-new-ns");
    let repo = temp_tree(&[("app.yaml", &web_app(&ns.name, "nginx:1.25", 1))]);
    let missing = gitops_diff(&ns, repo.path(), &[]);
    missing.expect_code(1);
    assert!(
        missing.stderr.contains("createNamespace"),
        "{}",
        missing.stderr
    );
    let (run, plan) = diff_json(&ns, repo.path(), &["--create-namespace"]);
    run.expect_code(2);
    assert_eq!(summary(&plan), [4, 0, 0, 0], "{}", run.stdout);
    assert_eq!(plan["changes"][0]["kind"], "Namespace", "{}", run.stdout);
    let exists = kubectl(&["get", "namespace", &ns.name], None);
    assert_ne!(exists.code, 0, "a diff created the namespace");
}

/// The test cluster's kubeconfig, and the admin's bearer token in it.
fn admin_kubeconfig() -> (String, String) {
    let env = common::cluster::testenv();
    let kubeconfig = std::fs::read_to_string(&env.kubeconfig).unwrap();
    let token = kubeconfig
        .lines()
        .find_map(|l| l.trim().strip_prefix("token:"))
        .expect("token auth")
        .trim()
        .to_owned();
    (kubeconfig, token)
}

#[test]
fn a_broken_kubeconfig_never_shows_its_token() {
    let (original, token) = admin_kubeconfig();
    let repo = temp_tree(&[(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n",
    )]);
    // A YAML error right before the token: parsers quote the lines around an error.
    let broken = original.replacen("users:", "users: [\n", 1);
    std::fs::write(repo.path().join("broken.kubeconfig"), broken).unwrap();
    for extra in [&[][..], &["-v"][..]] {
        let mut args = vec!["diff", "cm.yaml", "--kubeconfig", "broken.kubeconfig"];
        args.extend_from_slice(extra);
        let run = Gitops::new(args).current_dir(repo.path()).run();
        run.expect_code(1);
        assert!(run.stderr.contains("not valid YAML"), "{}", run.stderr);
        assert!(
            !run.stderr.contains(&token) && !run.stdout.contains(&token),
            "token printed:\n{}",
            run.stderr
        );
    }
}

/// CI jobs often set KUBECONFIG to a list, e.g. `~/.kube/config:$RUNNER_TEMP/kubeconfig`, where
/// one file does not exist: kubectl skips it, and so does gitops. With no file at all, the
/// error names the missing one.
#[test]
fn a_kubeconfig_list_with_a_missing_file_is_read_as_kubectl_reads_it() {
    let ns = TestNamespace::new("diff-kubeconfig-list");
    let repo = temp_tree(&[(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n",
    )]);
    let missing = repo.path().join("missing.kubeconfig");
    let real = &common::cluster::testenv().kubeconfig;
    let list = std::env::join_paths([missing.as_path(), std::path::Path::new(real)]).unwrap();
    let run = Gitops::new(["diff", "cm.yaml", "-n", &ns.name])
        .current_dir(repo.path())
        .env("KUBECONFIG", &list)
        .run();
    run.expect_code(2);
    assert!(run.stdout.contains("Plan: 1 to create"), "{}", run.stdout);

    let run = Gitops::new(["diff", "cm.yaml", "-n", &ns.name])
        .current_dir(repo.path())
        .env("KUBECONFIG", &missing)
        .run();
    run.expect_code(1);
    assert!(run.stderr.contains("missing.kubeconfig"), "{}", run.stderr);
}

#[test]
fn a_rejected_secret_does_not_echo_its_values() {
    let ns = TestNamespace::new("diff-secret-reject");
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: bad, namespace: {}}}\nstringData:\n  pw: 12345999\n  nested: {{LEAKY5: x}}\n",
        ns.name
    );
    let repo = temp_tree(&[("secret.yaml", &secret)]);
    let run = gitops_diff(&ns, repo.path(), &["-v"]);
    run.expect_code(1);
    assert!(run.stderr.contains("rejected the Secret"), "{}", run.stderr);
    for value in ["12345999", "LEAKY5"] {
        assert!(
            !run.stderr.contains(value) && !run.stdout.contains(value),
            "{value} leaked:\n{}",
            run.stderr
        );
    }
}

#[test]
fn charts_render_for_the_cluster_they_are_planned_against() {
    let ns = TestNamespace::new("diff-capabilities");
    let chart = temp_tree(&[
        ("Chart.yaml", "apiVersion: v2\nname: capchart\nversion: 0.1.0\n"),
        (
            "templates/pdb.yaml",
            "{{- if semverCompare \">=1.21-0\" .Capabilities.KubeVersion.Version }}\napiVersion: policy/v1\n{{- else }}\napiVersion: policy/v1beta1\n{{- end }}\nkind: PodDisruptionBudget\nmetadata:\n  name: {{ .Release.Name }}\nspec:\n  minAvailable: 1\n  selector:\n    matchLabels: {app: web}\n",
        ),
        (
            "templates/cron.yaml",
            "{{- if .Capabilities.APIVersions.Has \"batch/v1/CronJob\" }}\napiVersion: batch/v1\n{{- else }}\napiVersion: batch/v1beta1\n{{- end }}\nkind: CronJob\nmetadata:\n  name: {{ .Release.Name }}-nightly\nspec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: Never\n          containers: [{name: job, image: busybox}]\n",
        ),
    ]);
    // What this server serves decides what the chart must produce (discovery, not a version
    // table: the test holds on any server).
    let served = kubectl_ok(&["api-versions"], None);
    let serves = |gv: &str| served.lines().any(|l| l.trim() == gv);
    let pdb = if serves("policy/v1") {
        "policy/v1"
    } else {
        "policy/v1beta1"
    };
    let cron = if kubectl_ok(&["api-resources", "--api-group=batch", "-o", "name"], None)
        .lines()
        .any(|l| l == "cronjobs.batch")
        && serves("batch/v1")
        && kubectl(&["get", "--raw", "/apis/batch/v1"], None)
            .stdout
            .contains("\"CronJob\"")
    {
        "batch/v1"
    } else {
        "batch/v1beta1"
    };
    let run = Gitops::new([
        "diff", ".", "--name", "capchart", "-n", &ns.name, "-o", "json", "-v",
    ])
    .current_dir(chart.path())
    .on_cluster()
    .run();
    run.expect_code(2);
    let plan: Value = serde_json::from_str(&run.stdout).unwrap();
    let api_version = |kind: &str| {
        plan["changes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["kind"] == kind)
            .map(|c| c["apiVersion"].as_str().unwrap().to_owned())
    };
    assert_eq!(
        api_version("PodDisruptionBudget").as_deref(),
        Some(pdb),
        "{}",
        run.stdout
    );
    assert_eq!(
        api_version("CronJob").as_deref(),
        Some(cron),
        "{}",
        run.stdout
    );
    assert!(
        run.stderr.contains("rendering the chart for Kubernetes v"),
        "{}",
        run.stderr
    );
}

/// Many objects of one kind are read with one LIST, whose items lack apiVersion/kind: the diff of
/// one changed ConfigMap among eight must still be its one changed line, nothing moved around.
#[test]
fn objects_read_by_a_list_diff_as_quietly_as_fetched_ones() {
    let ns = TestNamespace::new("diff-listed");
    let config_maps = |changed_level: &str| {
        (0..8)
            .map(|i| {
                let level = if i == 3 { changed_level } else { "info" };
                format!(
                    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings-{i}\n  namespace: {}\ndata:\n  LOG_LEVEL: {level}\n",
                    ns.name
                )
            })
            .collect::<Vec<_>>()
            .join("---\n")
    };
    apply(&ns, &config_maps("info"));
    let repo = temp_tree(&[("app.yaml", &config_maps("debug"))]);
    let (run, plan) = diff_json(&ns, repo.path(), &["-v"]);
    run.expect_code(2);
    assert!(
        run.stderr
            .contains("1 kinds listed instead of fetched one by one"),
        "the ConfigMaps were not read by a list, so this test checks nothing:\n{}",
        run.stderr
    );
    assert_eq!(summary(&plan), [0, 1, 0, 7], "{}", run.stdout);
    let diff = plan["changes"][0]["diff"].as_str().unwrap_or_default();
    let changed: Vec<&str> = diff.lines().filter(|l| l.starts_with(['+', '-'])).collect();
    assert_eq!(
        changed,
        ["-  LOG_LEVEL: info", "+  LOG_LEVEL: debug"],
        "{diff}"
    );
}

/// A misspelt field is an error naming the field, file and line, not a silently dropped field.
#[test]
fn a_field_the_schema_does_not_know_is_an_error() {
    let ns = TestNamespace::new("diff-typo");
    let manifests = web_app(&ns.name, "nginx:1.25", 1).replace(
        "        image: nginx:1.25\n",
        "        image: nginx:1.25\n        imagePullPolicyy: Always\n",
    );
    let repo = temp_tree(&[("app.yaml", &manifests)]);
    let run = gitops_diff(&ns, repo.path(), &[]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("app.yaml:9")
            && run.stderr.contains("imagePullPolicyy")
            && run.stderr.contains(&format!("Deployment {}/web", ns.name))
            && run
                .stderr
                .contains("a misspelt field, or one added in a later Kubernetes version"),
        "{}",
        run.stderr
    );
}

/// Two list items with the same key (two `env` entries named A), which client-side kubectl
/// apply accepted, are refused by server-side apply: the error says what to change.
#[test]
fn a_list_with_a_duplicate_key_is_an_error_saying_what_to_change() {
    let ns = TestNamespace::new("diff-dup");
    let manifests = web_app(&ns.name, "nginx:1.25", 1).replace(
        "        image: nginx:1.25\n",
        "        image: nginx:1.25\n        env:\n        - {name: A, value: one}\n        - {name: A, value: two}\n",
    );
    let repo = temp_tree(&[("app.yaml", &manifests)]);
    let run = gitops_diff(&ns, repo.path(), &[]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("app.yaml:")
            && run
                .stderr
                .contains("duplicate entries for key [name=\"A\"]")
            && run.stderr.contains("remove or rename the duplicate"),
        "{}",
        run.stderr
    );
}

/// `port: 8080` in a ConfigMap's data is a number in YAML: the error names the key and the
/// value as written, and says to quote it.
#[test]
fn an_unquoted_number_in_configmap_data_says_to_quote_it() {
    let ns = TestNamespace::new("diff-quote");
    let manifests = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: {}}}\ndata:\n  port: 8080\n  debug: yes\n",
        ns.name
    );
    let repo = temp_tree(&[("app.yaml", &manifests)]);
    let run = gitops_diff(&ns, repo.path(), &[]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("app.yaml:1")
            && run.stderr.contains(".data.port: expected string, got 8080")
            && run
                .stderr
                .contains(".data.debug: expected string, got true")
            && run.stderr.contains("quote the value")
            && !run.stderr.contains("valueUnstructured"),
        "{}",
        run.stderr
    );
}

/// Kubeconfigs of managed clusters get their token from a credential plugin (`user.exec`:
/// gke-gcloud-auth-plugin, `aws eks get-token`). One that works is used against the real
/// server; one that fails is named with what to do, and what it printed (a credential, in a
/// real plugin) never appears.
#[test]
fn credential_plugins_are_used_and_their_failures_never_show_their_output() {
    let (original, token) = admin_kubeconfig();
    let ns = TestNamespace::new("diff-exec");
    let repo = temp_tree(&[(
        "cm.yaml",
        &format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c, namespace: {}}}\n",
            ns.name
        ),
    )]);
    let plugin = |name: &str, body: &str| {
        let path = repo.path().join(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .unwrap();
        path
    };
    let working = plugin(
        "good-plugin",
        &format!("echo '{{\"apiVersion\":\"client.authentication.k8s.io/v1beta1\",\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{token}\"}}}}'"),
    );
    let failing = plugin(
        "bad-plugin",
        "echo '{\"status\":{\"token\":\"leaked-credential-1234\"}}'; echo 'please log in' >&2; exit 1",
    );
    let with_plugin = |command: &std::path::Path| {
        let exec = format!(
            "exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: {}\n      installHint: install it from the vendor",
            command.display()
        );
        original.replacen(&format!("token: {token}"), &exec, 1)
    };
    let diff = |kubeconfig: &str| {
        std::fs::write(repo.path().join("exec.kubeconfig"), kubeconfig).unwrap();
        Gitops::new([
            "diff",
            "cm.yaml",
            "--name",
            "exec",
            "--kubeconfig",
            "exec.kubeconfig",
            "-v",
        ])
        .current_dir(repo.path())
        .run()
    };

    let run = diff(&with_plugin(&working));
    run.expect_code(2);
    assert!(
        run.stdout
            .contains(&format!("+ v1 ConfigMap {}/c", ns.name)),
        "{}",
        run.stdout
    );

    let run = diff(&with_plugin(&failing));
    run.expect_code(1);
    assert!(
        run.stderr.contains("credential plugin")
            && run.stderr.contains("bad-plugin")
            && run.stderr.contains("failed (exit status: 1)"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("leaked-credential-1234")
            && !run.stdout.contains("leaked-credential-1234"),
        "the plugin's output was printed:\n{}",
        run.stderr
    );
    assert!(!run.stderr.contains(&token), "{}", run.stderr);

    // Tokens that expire are refreshed by running the plugin again; when that run fails, the
    // request fails: said the same way, not retried, and the output never shown.
    let calls = repo.path().join("calls");
    let expiring = plugin(
        "expiring-plugin",
        &format!(
            r#"echo x >> '{calls}'
if [ "$(wc -l < '{calls}')" -gt 1 ]; then echo '{{"status":{{"token":"leaked-refresh-5678"}}}}'; exit 3; fi
soon=$(date -u -d '+20 seconds' +%Y-%m-%dT%H:%M:%SZ)
echo '{{"apiVersion":"client.authentication.k8s.io/v1beta1","kind":"ExecCredential","status":{{"token":"{token}","expirationTimestamp":"'$soon'"}}}}'"#,
            calls = calls.display()
        ),
    );
    let run = diff(&with_plugin(&expiring));
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("expiring-plugin` failed (exit status: 3)"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("leaked-refresh-5678") && !run.stdout.contains("leaked-refresh-5678"),
        "the plugin's output was printed:\n{}",
        run.stderr
    );
    let runs = std::fs::read_to_string(&calls).unwrap().lines().count();
    // Once at connect, then once per request in flight when the token expired; a retried
    // failure would run it up to ten times per request.
    assert!(
        runs <= 8,
        "the failing plugin ran {runs} times: it was retried"
    );

    let run = diff(&with_plugin(&repo.path().join("not-installed")));
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("is not installed or not on PATH: install it from the vendor"),
        "{}",
        run.stderr
    );
}
