//! Bad input: every case exits exactly 1 with a message naming the file and line (or the
//! object), never panics, and writes nothing to the cluster.
//!
//! The corpus is `fixtures/bad/` (one directory per case; see its README) plus cases generated
//! here: a 50 MB document, an object just over etcd's limit, symbolic links, stdin. Each case
//! runs twice: `gitops render` without any cluster, and `gitops apply --create-namespace` into
//! a namespace that does not exist, against the real control plane, which must still not have
//! that namespace afterwards. Cases decided by the server (`replicas: "three"`) render fine and
//! fail at the server dry-run; they also run into an existing namespace that must stay empty.

mod common;

use std::path::{Path, PathBuf};

use common::cli::{fixture, temp_tree, Gitops, Run};
use common::kubectl::{kubectl, kubectl_ok, TestNamespace};
use common::unique_name;

/// How a case is handed to gitops.
#[derive(Clone, Copy)]
enum Input {
    /// A PATH (relative to the case directory).
    Path(&'static str),
    /// No PATH: the targets of the case's gitops.yaml (`--config gitops.yaml`).
    Config,
    /// `-`, with these bytes on stdin.
    Stdin(&'static [u8]),
}

struct Case {
    name: String,
    dir: PathBuf,
    input: Input,
    /// Fragments that stderr must contain; the first must appear exactly once (an error chain
    /// must not repeat its message).
    expect: Vec<String>,
    /// Render-time cases fail in `render`; server cases render fine and fail at the dry-run.
    server: bool,
    /// Whether the case also runs through `gitops apply` (a case that names the `default`
    /// namespace on purpose does not).
    apply: bool,
    _temp: Option<tempfile::TempDir>,
}

fn case(name: &str, input: Input, expect: &[&str]) -> Case {
    Case {
        name: name.to_owned(),
        dir: fixture(&format!("bad/{name}")),
        input,
        expect: expect.iter().map(|s| s.to_string()).collect(),
        server: false,
        apply: true,
        _temp: None,
    }
}

fn server_case(name: &str, expect: &[&str]) -> Case {
    Case {
        server: true,
        ..case(name, Input::Path("."), expect)
    }
}

fn generated(name: &str, dir: tempfile::TempDir, input: Input, expect: &[&str]) -> Case {
    Case {
        dir: dir.path().to_path_buf(),
        _temp: Some(dir),
        ..case(name, input, expect)
    }
}

use Input::{Config, Path as Dir};

/// The corpus in fixtures/bad, with what each must say.
fn fixture_cases() -> Vec<Case> {
    let mut cases = vec![
        // YAML syntax
        case("yaml-tab-indent", Dir("."), &["app.yaml:11:2: tabs disallowed"]),
        case("yaml-unclosed-flow", Dir("."), &["app.yaml:4:5: while parsing a flow mapping"]),
        case("yaml-unclosed-quote", Dir("."), &["app.yaml:4:9: invalid indentation in quoted scalar"]),
        case("yaml-bad-indent", Dir("."), &["app.yaml:5:9: while parsing a block mapping"]),
        case("yaml-key-without-colon", Dir("."), &["app.yaml:6:4: simple key expect ':'"]),
        case("yaml-duplicate-key-top", Dir("."), &["app.yaml:3:1: duplicate key \"kind\""]),
        case("yaml-duplicate-key-nested", Dir("."), &["app.yaml:14:3: duplicate key \"key\""]),
        case("yaml-duplicate-label", Dir("."), &["app.yaml:8:5: duplicate key \"app\""]),
        case("yaml-unknown-alias", Dir("."), &["app.yaml:5:11:", "unknown anchor"]),
        case("yaml-billion-laughs", Dir("."), &["lol.yaml:12:10: aliases expand to more than 1,000,000 nodes"]),
        case("yaml-deep-flow", Dir("."), &["deep.yaml:6:261: recursion limit exceeded"]),
        case("yaml-deep-block", Dir("."), &["deep.yaml:261:517: nesting deeper than 256 levels"]),
        case("yaml-complex-key", Dir("."), &["app.yaml:6:5: a mapping key must be a plain string"]),
        case("yaml-scalar-document", Dir("."), &["app.yaml:8:1: document 2 is a plain value, not a Kubernetes object"]),
        case("yaml-list-document", Dir("."), &["app.yaml:8:1: document 2 is a list, not a Kubernetes object"]),
        case("yaml-list-item-not-mapping", Dir("."), &["list.yaml:1:1: document 1 is a List whose item 2 is not a mapping"]),
        case("json-truncated", Dir("."), &["app.json:5:0: EOF while parsing an object"]),
        case("json-trailing-comma", Dir("."), &["app.json:5:1: trailing comma"]),
        // Encoding
        case("utf8-latin1", Dir("."), &["z-latin1.yaml:6: the file is not valid UTF-8"]),
        case("utf8-utf16", Dir("app.yaml"), &["app.yaml:1: the file is not valid UTF-8"]),
        case("utf8-invalid-in-json", Dir("."), &["app.json:3: the file is not valid UTF-8"]),
        // The object model
        case("object-missing-apiversion", Dir("."), &["app.yaml:1 (document 1): <no apiVersion> ConfigMap a: apiVersion is missing"]),
        case("object-missing-kind", Dir("."), &["app.yaml:8 (document 2): v1 <no kind> b: kind is missing"]),
        case("object-missing-metadata", Dir("."), &["app.yaml:1 (document 1): v1 ConfigMap <no name>: metadata is missing"]),
        case("object-missing-name", Dir("."), &["app.yaml:1 (document 1): v1 ConfigMap <no name>: metadata.name is missing"]),
        case("object-generate-name", Dir("."), &["job.yaml:1 (document 1): batch/v1 Job <no name>: metadata.name is missing: generateName cannot be used"]),
        case("object-empty-name", Dir("."), &["app.yaml:1 (document 1): v1 ConfigMap <no name>: metadata.name \"\" is invalid"]),
        case("object-kind-not-string", Dir("."), &["app.yaml:1 (document 1): v1 <no kind> a: kind must be a string"]),
        case("object-metadata-list", Dir("."), &["app.yaml:1 (document 1): v1 ConfigMap <no name>: metadata must be a mapping"]),
        case("object-name-not-string", Dir("."), &["app.yaml:1 (document 1): v1 ConfigMap <no name>: metadata.name must be a string"]),
        // Names, labels, annotations
        case("name-uppercase", Dir("."), &["app.yaml:1 (document 1): v1 ConfigMap MyConfig: metadata.name \"MyConfig\" is invalid"]),
        case("name-too-long", Dir("."), &["app.yaml:1 (document 1): v1 ConfigMap aaaa", "is invalid: must be 1 to 253 characters"]),
        case("name-service-dot", Dir("."), &["svc.yaml:1 (document 1): v1 Service web.internal: metadata.name \"web.internal\" is invalid"]),
        case("name-namespace-underscore", Dir("."), &["ns.yaml:1 (document 1): v1 Namespace team_a: metadata.name \"team_a\" is invalid"]),
        case("name-bad-namespace-field", Dir("."), &["app.yaml:1 (document 1): v1 ConfigMap Prod/a: metadata.namespace \"Prod\" is invalid"]),
        case("label-value-number", Dir("."), &["app.yaml:1 (document 1): v1 ConfigMap a: value of label \"version\" must be a string"]),
        case("label-bad-key", Dir("."), &["app.yaml:1 (document 1): v1 ConfigMap a: label key \"team name\" is invalid"]),
        case("label-value-too-long", Dir("."), &["app.yaml:1 (document 1): v1 ConfigMap a: value of label \"commit\" is invalid: must be at most 63 characters"]),
        case("label-bad-prefix", Dir("."), &["app.yaml:1 (document 1): v1 ConfigMap a: label key \"Example.COM/team\" is invalid: prefix"]),
        case("annotation-value-bool", Dir("."), &["app.yaml:1 (document 1): v1 ConfigMap a: value of annotation \"example.com/enabled\" must be a string"]),
        case("annotation-bad-wave", Dir("."), &["app.yaml:1 (document 1): v1 ConfigMap a: annotation gitops.dev/wave must be an integer"]),
        // Duplicates
        case("duplicate-across-files", Dir("."), &["sub/b.yaml:8 (document 2): v1 ConfigMap shared: duplicate object ConfigMap ", "/shared: also defined at a.yaml:1 (document 1)"]),
        case("duplicate-in-list", Dir("."), &["list.yaml:1 (document 1, list item 2): v1 ConfigMap twice: duplicate object", "also defined at list.yaml:1 (document 1, list item 1)"]),
        Case {
            // b.yaml names `default`, a.yaml none: a duplicate only where `default` is the default.
            apply: false,
            ..case("duplicate-default-namespace", Dir("."), &["b.yaml:1 (document 1): v1 ConfigMap default/same: duplicate object ConfigMap default/same: also defined at a.yaml:1 (document 1)"])
        },
        // Renderers
        case("kustomize-missing-resource", Dir("."), &["kustomize . failed (exit code 1)", "not-there.yaml: no such file or directory"]),
        case("kustomize-invalid-yaml", Dir("."), &["kustomize . failed (exit code 1)", "invalid Kustomization: yaml: line 5"]),
        case("kustomize-invalid-object", Dir("."), &["cm.yaml:1 (document 1, via kustomize): v1 ConfigMap Team-settings: metadata.name \"Team-settings\" is invalid"]),
        case("helm-template-fails", Dir("."), &["helm template ", "broken/templates/cm.yaml:6:10): image.tag is required"]),
        case("helm-template-syntax", Dir("."), &["helm template ", "syntax/templates/cm.yaml:4): unexpected \"}\" in operand"]),
        case("helm-renders-bad-object", Dir("."), &["templates/svc.yaml (via helm, document 1): v1 Service ", ".svc\" is invalid"]),
        case("helm-renders-duplicates", Dir("."), &["templates/b.yaml (via helm, document 2): v1 ConfigMap settings: duplicate object", "also defined at ./templates/a.yaml (via helm, document 1)"]),
        // gitops.yaml
        case("config-unknown-key", Config, &["gitops.yaml: targets[0]: unknown key `namespce`", "at line 4 column 5"]),
        case("config-unknown-top-key", Config, &["gitops.yaml: unknown key `ignoreDifference`", "at line 4 column 1"]),
        case("config-missing-path", Config, &["gitops.yaml: target \"apps\": path \"apps/overlays/prod\" does not exist"]),
        case("config-no-path-key", Config, &["gitops.yaml: targets[0]: missing field `path` at line 2 column 5"]),
        case("config-bad-target-name", Config, &["gitops.yaml: target name \"Apps_Prod\" is invalid"]),
        case("config-duplicate-target", Config, &["gitops.yaml: target \"apps\" is defined twice"]),
        case("config-bad-timeout", Config, &["gitops.yaml: target \"apps\": timeout \"soon\" is not a duration"]),
        case("config-invalid-yaml", Config, &["gitops.yaml: found character that cannot start any token at line 2 column 1"]),
        case("config-helm-values-missing", Config, &["chart/values-prod.yaml (helm values file of chart): no such file or directory"]),
        // Directories
        case("dir-nested-kustomization", Dir("."), &["overlay is a kustomization inside the plain directory ."]),
    ];
    // Decided by the API server: valid YAML and metadata, wrong types or missing fields.
    cases.extend([
        server_case(
            "server-replicas-string",
            &[
                "web.yaml:1 (document 1): dry-run ",
                " apps/v1 Deployment ",
                "/web ",
                " failed: ",
                "replicas",
            ],
        ),
        server_case(
            "server-configmap-data-number",
            &[
                "cm.yaml:1 (document 1): dry-run ",
                " v1 ConfigMap ",
                "/numbers ",
                " failed: ",
                "port",
            ],
        ),
        server_case(
            "server-deployment-no-containers",
            &[
                "web.yaml:1 (document 1): dry-run ",
                " apps/v1 Deployment ",
                "/empty ",
                " failed: ",
                "spec.template.spec.containers: Required value",
            ],
        ),
        server_case(
            "server-service-port-string",
            &[
                "svc.yaml:1 (document 1): dry-run ",
                " v1 Service ",
                "/web ",
                " failed: ",
                "eighty",
            ],
        ),
    ]);
    cases
}

const CONFIG_MAP: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fine\ndata:\n  a: b\n";

/// Cases too big, too odd or too machine-specific to commit.
fn generated_cases() -> Vec<Case> {
    // 50 MB in one document: parsed, then refused as larger than any object the API server stores.
    let big = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: big\ndata:\n  blob: {}\n",
        "x".repeat(50 * 1024 * 1024)
    );
    // 2 MiB: passes a server dry-run (which never reaches etcd), fails on the real write.
    let over_etcd_limit = format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n      - name: web\n        image: nginx\n        env:\n        - name: BLOB\n          value: {}\n",
        "y".repeat(2 * 1024 * 1024)
    );
    let symlink_loop = temp_tree(&[("a.yaml", CONFIG_MAP), ("sub/b.yaml", CONFIG_MAP)]);
    std::os::unix::fs::symlink("..", symlink_loop.path().join("sub/loop")).unwrap();
    let dangling = temp_tree(&[("a.yaml", CONFIG_MAP)]);
    std::os::unix::fs::symlink("nowhere.yaml", dangling.path().join("missing.yaml")).unwrap();
    vec![
        generated("big-50mb-document", temp_tree(&[("big.yaml", &big)]), Dir("."), &["big.yaml:1 (document 1): v1 ConfigMap big: the object is 50.0 MiB as JSON; Kubernetes stores at most 1.5 MiB per object"]),
        generated("object-over-etcd-limit", temp_tree(&[("cm.yaml", CONFIG_MAP), ("web.yaml", &over_etcd_limit)]), Dir("."), &["web.yaml:1 (document 1): apps/v1 Deployment web: the object is 2.0 MiB as JSON"]),
        generated("symlink-loop", symlink_loop, Dir("."), &["sub/loop: symbolic link loop (it leads back to .)"]),
        generated("dangling-symlink", dangling, Dir("."), &["cannot read missing.yaml: No such file or directory"]),
        generated("stdin-bad-yaml", tempfile::tempdir().unwrap(), Input::Stdin(b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: [a}\n"), &["<stdin>:3:20: while parsing a flow sequence"]),
        generated("stdin-not-utf8", tempfile::tempdir().unwrap(), Input::Stdin(b"apiVersion: v1\nkind: Config\xffMap\n"), &["<stdin>:2: the file is not valid UTF-8"]),
    ]
}

/// Runs gitops for a case: `command` is render or apply; `extra` goes after the input.
/// `kubeconfig` None: a kubeconfig that does not exist (no cluster at all).
fn run_case(case: &Case, command: &str, extra: &[&str], kubeconfig: Option<&Path>) -> Run {
    let mut args: Vec<String> = vec![command.to_owned()];
    match case.input {
        Input::Path(path) => args.push(path.to_owned()),
        Input::Config => args.extend(["--config".to_owned(), "gitops.yaml".to_owned()]),
        Input::Stdin(_) => args.push("-".to_owned()),
    }
    args.extend(extra.iter().map(|s| s.to_string()));
    let kubeconfig = kubeconfig.unwrap_or(Path::new("/nonexistent/kubeconfig"));
    let mut gitops = Gitops::new(args)
        .current_dir(&case.dir)
        .env("KUBECONFIG", kubeconfig);
    if let Input::Stdin(bytes) = case.input {
        gitops = gitops.stdin(bytes);
    }
    gitops.run()
}

/// What is wrong with one run of a case, if anything.
fn check(case: &Case, what: &str, run: &Run) -> Option<String> {
    let mut wrong = Vec::new();
    if run.code != 1 {
        wrong.push(format!("exit code {} (wanted exactly 1)", run.code));
    }
    if run.stderr.contains("panicked") || run.stderr.contains("RUST_BACKTRACE") {
        wrong.push("a panic".to_owned());
    }
    for fragment in &case.expect {
        if !run.stderr.contains(fragment.as_str()) {
            wrong.push(format!("no {fragment:?}"));
        }
    }
    if let Some(first) = case.expect.first() {
        let count = run.stderr.matches(first.as_str()).count();
        if count > 1 {
            wrong.push(format!("{first:?} printed {count} times"));
        }
    }
    (!wrong.is_empty()).then(|| {
        format!(
            "{} ({what}): {}\n--- stderr\n{}",
            case.name,
            wrong.join("; "),
            truncate(&run.stderr)
        )
    })
}

fn truncate(text: &str) -> &str {
    match text.char_indices().nth(2_000) {
        Some((at, _)) => &text[..at],
        None => text,
    }
}

#[track_caller]
fn assert_no_failures(failures: Vec<String>, total: usize) {
    assert!(
        failures.is_empty(),
        "{} of {total} case(s) failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

fn all_cases() -> Vec<Case> {
    let mut cases = fixture_cases();
    cases.extend(generated_cases());
    cases
}

#[test]
fn the_corpus_is_large_and_every_fixture_has_a_case() {
    let cases = all_cases();
    assert!(cases.len() >= 40, "only {} cases", cases.len());
    let named: std::collections::HashSet<String> = cases.iter().map(|c| c.name.clone()).collect();
    assert_eq!(named.len(), cases.len(), "case names are unique");
    for entry in std::fs::read_dir(fixture("bad")).unwrap() {
        let entry = entry.unwrap();
        if entry.file_type().unwrap().is_dir() {
            let name = entry.file_name().to_string_lossy().into_owned();
            assert!(
                named.contains(&name),
                "fixtures/bad/{name} has no case here"
            );
        }
    }
}

#[test]
fn render_refuses_every_case_without_a_cluster() {
    let cases = all_cases();
    let mut failures = Vec::new();
    for case in &cases {
        let run = run_case(case, "render", &[], None);
        if case.server {
            // Valid for gitops: only the server can tell.
            if run.code != 0 {
                failures.push(format!(
                    "{}: a server case, but render exited {}:\n{}",
                    case.name, run.code, run.stderr
                ));
            }
            continue;
        }
        if let Some(failure) = check(case, "render", &run) {
            failures.push(failure);
        } else if !run.stdout.is_empty() {
            failures.push(format!(
                "{}: render failed but printed to stdout",
                case.name
            ));
        }
    }
    assert_no_failures(failures, cases.len());
}

fn namespace_exists(name: &str) -> bool {
    let run = kubectl(&["get", "namespace", name, "-o", "name"], None);
    assert!(
        run.code == 0 || run.stderr.contains("NotFound"),
        "kubectl get namespace {name}: {}",
        run.stderr
    );
    run.code == 0
}

/// `gitops apply --create-namespace` of a case into a namespace that does not exist yet.
fn apply_into_new_namespace(case: &Case, namespace: &str) -> Run {
    let target = unique_name("bad");
    let mut extra = vec!["-n", namespace, "--create-namespace", "--no-wait"];
    if !matches!(case.input, Input::Config) {
        extra.extend(["--name", &target]);
    }
    run_case(case, "apply", &extra, Some(&common::testenv().kubeconfig))
}

#[test]
fn apply_refuses_every_case_and_writes_nothing() {
    // The check can fail: a valid render applied the same way creates its namespace.
    let valid = generated(
        "valid",
        temp_tree(&[("cm.yaml", CONFIG_MAP)]),
        Dir("."),
        &[],
    );
    let namespace = unique_name("bad-input-control");
    apply_into_new_namespace(&valid, &namespace).expect_code(0);
    assert!(
        namespace_exists(&namespace),
        "the control apply creates {namespace}"
    );
    kubectl_ok(&["delete", "namespace", &namespace, "--wait=false"], None);

    let cases: Vec<Case> = all_cases().into_iter().filter(|c| c.apply).collect();
    let mut failures = Vec::new();
    for case in &cases {
        let namespace = unique_name("bad-input");
        let run = apply_into_new_namespace(case, &namespace);
        if let Some(failure) = check(case, "apply", &run) {
            failures.push(failure);
        }
        if namespace_exists(&namespace) {
            failures.push(format!(
                "{}: apply created the namespace {namespace}",
                case.name
            ));
            let _ = kubectl(&["delete", "namespace", &namespace, "--wait=false"], None);
        }
    }
    assert_no_failures(failures, cases.len());
}

#[test]
fn server_rejections_leave_an_existing_namespace_untouched() {
    let cases: Vec<Case> = fixture_cases().into_iter().filter(|c| c.server).collect();
    assert!(cases.len() >= 4);
    let mut failures = Vec::new();
    for case in &cases {
        let namespace = TestNamespace::new("bad-server");
        let target = unique_name("bad");
        let extra = ["-n", &namespace.name, "--name", &target, "--no-wait"];
        let run = run_case(case, "apply", &extra, Some(&common::testenv().kubeconfig));
        if let Some(failure) = check(case, "apply into an existing namespace", &run) {
            failures.push(failure);
        }
        // Valid objects next to the rejected one (server-replicas-string has a ConfigMap), the
        // inventory, anything: nothing may have been written.
        let objects = kubectl_ok(
            &[
                "get",
                "configmaps,secrets,deployments,services",
                "-n",
                &namespace.name,
                "-o",
                "name",
            ],
            None,
        );
        let written: Vec<&str> = objects
            .lines()
            .filter(|o| {
                *o != "configmap/kube-root-ca.crt" && !o.starts_with("secret/default-token-")
            })
            .collect();
        if !written.is_empty() {
            failures.push(format!(
                "{}: written to {}: {written:?}",
                case.name, namespace.name
            ));
        }
    }
    assert_no_failures(failures, cases.len());
}

#[test]
fn a_kustomize_failure_names_the_command_that_ran() {
    // No kustomize binary: gitops falls back to `kubectl kustomize` and must say so.
    let bin = tempfile::tempdir().unwrap();
    let kubectl = which("kubectl");
    std::os::unix::fs::symlink(&kubectl, bin.path().join("kubectl")).unwrap();
    let run = Gitops::new(["render", "."])
        .current_dir(fixture("bad/kustomize-missing-resource"))
        .env("PATH", bin.path())
        .run();
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("kubectl kustomize . failed (exit code 1)"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("kustomize kustomize"),
        "{}",
        run.stderr
    );
}

/// The first `name` on PATH.
fn which(name: &str) -> PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is not on PATH"))
}
