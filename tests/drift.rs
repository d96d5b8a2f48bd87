//! Why a plan differs (issue 15, SPEC.md "Why a plan differs"): drift, pending and both, the
//! `--only` filter, destructive changes and `--fail-on-destructive`, all on the real control
//! plane.

mod common;

use std::process::Command;

use common::app::{apply, diff_json, gitops_diff, summary, web_app};
use common::cli::{temp_tree, Gitops};
use common::kubectl::{kubectl_ok, TestNamespace};
use common::testenv;
use serde_json::{json, Value};

/// `kubectl edit` as a person uses it, with an editor that replaces `from` by `to`.
fn kubectl_edit(ns: &str, object: &str, from: &str, to: &str) {
    let dir = tempfile::tempdir().unwrap();
    let editor = dir.path().join("editor.sh");
    std::fs::write(
        &editor,
        format!("#!/bin/sh\nsed -i 's|{from}|{to}|' \"$1\"\n"),
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let env = testenv();
    let output = Command::new("kubectl")
        .args(["--context", &env.admin_context, "-n", ns, "edit", object])
        .env("KUBECONFIG", &env.kubeconfig)
        .env("KUBE_EDITOR", &editor)
        .output()
        .expect("kubectl runs");
    assert!(
        output.status.success(),
        "kubectl edit {object}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

fn change<'a>(plan: &'a Value, kind: &str, name: &str) -> &'a Value {
    plan["changes"]
        .as_array()
        .and_then(|changes| {
            changes
                .iter()
                .find(|c| c["kind"] == kind && c["name"] == name)
        })
        .unwrap_or_else(|| panic!("no change of {kind} {name} in {plan:#}"))
}

/// `(path, manager)` of each drifted field.
fn drifted(change: &Value) -> Vec<(String, Option<String>)> {
    change["driftedFields"]
        .as_array()
        .unwrap_or_else(|| panic!("no driftedFields in {change:#}"))
        .iter()
        .map(|f| {
            (
                f["path"].as_str().unwrap_or_default().to_owned(),
                f["manager"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[test]
fn a_hand_edit_is_drift_naming_the_field_and_its_manager() {
    let ns = TestNamespace::new("drift-edit");
    let manifests = web_app(&ns.name, "nginx:1.25", 2);
    apply(&ns, &manifests);
    let repo = temp_tree(&[("app.yaml", &manifests)]);
    kubectl_edit(&ns.name, "deployment/web", "replicas: 2", "replicas: 5");

    let (run, plan) = diff_json(&ns, repo.path(), &[]);
    run.expect_code(2);
    assert_eq!(summary(&plan), [0, 1, 0, 2], "{}", run.stdout);
    assert_eq!(plan["summary"]["drift"], 1, "{}", run.stdout);
    let web = change(&plan, "Deployment", "web");
    assert_eq!(web["cause"], "drift", "{web:#}");
    assert_eq!(
        drifted(web),
        [("/spec/replicas".to_owned(), Some("kubectl-edit".to_owned()))]
    );
    let time = web["driftedFields"][0]["time"].as_str().unwrap_or_default();
    assert!(time.ends_with('Z') && time.len() == 20, "{web:#}");

    let text = gitops_diff(&ns, repo.path(), &[]);
    text.expect_code(2);
    assert!(
        text.stdout.contains(&format!(
            "~ apps/v1 Deployment {}/web (drift: /spec/replicas by kubectl-edit)\n",
            ns.name
        )),
        "{}",
        text.stdout
    );
    assert!(
        text.stdout
            .contains("Plan: 0 to create, 1 to update, 0 to delete, 2 unchanged, 1 drifted."),
        "{}",
        text.stdout
    );
    let markdown = gitops_diff(&ns, repo.path(), &["-o", "markdown"]);
    assert!(
        markdown
            .stdout
            .contains("| drift: /spec/replicas by kubectl-edit |"),
        "{}",
        markdown.stdout
    );
}

#[test]
fn a_hand_scale_is_drift_on_replicas() {
    let ns = TestNamespace::new("drift-scale");
    let manifests = web_app(&ns.name, "nginx:1.25", 2);
    apply(&ns, &manifests);
    let repo = temp_tree(&[("app.yaml", &manifests)]);
    kubectl_ok(
        &["-n", &ns.name, "scale", "deployment/web", "--replicas=4"],
        None,
    );
    let (run, plan) = diff_json(&ns, repo.path(), &["--only", "drift"]);
    run.expect_code(2);
    let web = change(&plan, "Deployment", "web");
    assert_eq!(web["cause"], "drift", "{web:#}");
    let fields = drifted(web);
    assert_eq!(fields.len(), 1, "{web:#}");
    assert_eq!(fields[0].0, "/spec/replicas");
    // The scale subresource records its manager from v1.21 on; v1.20 records none, and a
    // manager is never guessed from a controller's write.
    assert!(
        fields[0]
            .1
            .as_deref()
            .is_none_or(|m| m.starts_with("kubectl")),
        "{web:#}"
    );
}

#[test]
fn a_merged_change_is_pending_and_a_drift_job_stays_quiet_until_the_cluster_changes() {
    let ns = TestNamespace::new("drift-pending");
    apply(&ns, &web_app(&ns.name, "nginx:1.25", 2));
    let repo = temp_tree(&[("app.yaml", &web_app(&ns.name, "nginx:1.26", 2))]);

    let (run, plan) = diff_json(&ns, repo.path(), &[]);
    run.expect_code(2);
    let web = change(&plan, "Deployment", "web");
    assert_eq!(web["cause"], "pending", "{web:#}");
    assert_eq!(drifted(web), []);
    assert_eq!(plan["summary"]["drift"], 0);

    let (quiet, plan) = diff_json(&ns, repo.path(), &["--only", "drift"]);
    quiet.expect_code(0);
    assert_eq!(plan["changes"], json!([]), "{}", quiet.stdout);
    assert_eq!(summary(&plan), [0, 0, 0, 2], "{}", quiet.stdout);
    assert_eq!(plan["only"], json!({"cause": "drift", "hidden": 1}));
    let text = gitops_diff(&ns, repo.path(), &["--only", "drift"]);
    text.expect_code(0);
    assert!(
        text.stdout
            .contains("(1 pending change(s) not shown: --only drift)"),
        "{}",
        text.stdout
    );
    gitops_diff(&ns, repo.path(), &["--only", "pending"]).expect_code(2);

    // A hand edit elsewhere: now the drift job fails, showing only the drift.
    kubectl_edit(
        &ns.name,
        "configmap/web-config",
        "LOG_LEVEL: info",
        "LOG_LEVEL: debug",
    );
    let (drift, plan) = diff_json(&ns, repo.path(), &["--only", "drift"]);
    drift.expect_code(2);
    let shown: Vec<&str> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(shown, ["web-config"], "{}", drift.stdout);
    assert_eq!(change(&plan, "ConfigMap", "web-config")["cause"], "drift");
}

#[test]
fn git_and_the_cluster_changing_one_object_is_both_with_each_field_attributed() {
    let ns = TestNamespace::new("drift-both");
    apply(&ns, &web_app(&ns.name, "nginx:1.25", 2));
    kubectl_edit(&ns.name, "deployment/web", "replicas: 2", "replicas: 3");
    let repo = temp_tree(&[("app.yaml", &web_app(&ns.name, "nginx:1.26", 2))]);
    let (run, plan) = diff_json(&ns, repo.path(), &[]);
    run.expect_code(2);
    let web = change(&plan, "Deployment", "web");
    assert_eq!(web["cause"], "both", "{web:#}");
    assert_eq!(
        drifted(web),
        [("/spec/replicas".to_owned(), Some("kubectl-edit".to_owned()))]
    );
    let diff = web["diff"].as_str().unwrap();
    assert!(
        diff.contains("-        image: nginx:1.25\n+        image: nginx:1.26"),
        "{diff}"
    );
    gitops_diff(&ns, repo.path(), &["--only", "drift"]).expect_code(2);
    gitops_diff(&ns, repo.path(), &["--only", "pending"]).expect_code(2);
}

#[test]
fn an_object_deleted_by_hand_is_a_drift_create() {
    let ns = TestNamespace::new("drift-deleted");
    let manifests = web_app(&ns.name, "nginx:1.25", 2);
    apply(&ns, &manifests);
    kubectl_ok(&["-n", &ns.name, "delete", "configmap/web-config"], None);
    let repo = temp_tree(&[("app.yaml", &manifests)]);
    let (run, plan) = diff_json(&ns, repo.path(), &["--only", "drift"]);
    run.expect_code(2);
    assert_eq!(summary(&plan), [1, 0, 0, 2], "{}", run.stdout);
    let config = change(&plan, "ConfigMap", "web-config");
    assert_eq!(
        (&config["action"], &config["cause"]),
        (&json!("create"), &json!("drift"))
    );
    let text = gitops_diff(&ns, repo.path(), &[]);
    assert!(
        text.stdout.contains(&format!(
            "+ v1 ConfigMap {}/web-config (drift: deleted from the cluster)",
            ns.name
        )),
        "{}",
        text.stdout
    );
}

#[test]
fn a_target_never_applied_has_only_pending_changes() {
    let ns = TestNamespace::new("drift-first");
    let repo = temp_tree(&[("app.yaml", &web_app(&ns.name, "nginx:1.25", 2))]);
    let (run, plan) = diff_json(&ns, repo.path(), &[]);
    run.expect_code(2);
    let causes: Vec<&Value> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| &c["cause"])
        .collect();
    assert_eq!(causes, [&json!("pending"); 3], "{}", run.stdout);
    gitops_diff(&ns, repo.path(), &["--only", "drift"]).expect_code(0);
}

#[test]
fn an_inventory_of_an_older_gitops_is_judged_by_managed_fields_and_upgraded() {
    let ns = TestNamespace::new("drift-format1");
    apply(&ns, &web_app(&ns.name, "nginx:1.25", 2));
    // What gitops wrote before format 2: a plain member list, no digests, no format key.
    let member = |group: &str, version: &str, kind: &str, name: &str| json!({"group": group, "version": version, "kind": kind, "namespace": ns.name, "name": name});
    let members = json!([
        member("", "v1", "ConfigMap", "web-config"),
        member("", "v1", "Service", "web"),
        member("apps", "v1", "Deployment", "web"),
    ]);
    let patch = json!([
        {"op": "replace", "path": "/data/members", "value": members.to_string()},
        {"op": "remove", "path": "/data/format"},
    ]);
    kubectl_ok(
        &[
            "-n",
            &ns.name,
            "patch",
            "configmap/gitops-app",
            "--type=json",
            "-p",
            &patch.to_string(),
        ],
        None,
    );
    kubectl_edit(
        &ns.name,
        "configmap/web-config",
        "LOG_LEVEL: info",
        "LOG_LEVEL: warn",
    );
    let repo = temp_tree(&[("app.yaml", &web_app(&ns.name, "nginx:1.26", 2))]);
    let (run, plan) = diff_json(&ns, repo.path(), &[]);
    run.expect_code(2);
    assert_eq!(change(&plan, "Deployment", "web")["cause"], "pending");
    let config = change(&plan, "ConfigMap", "web-config");
    assert_eq!(config["cause"], "drift", "{config:#}");
    assert_eq!(
        drifted(config),
        [(
            "/data/LOG_LEVEL".to_owned(),
            Some("kubectl-edit".to_owned())
        )]
    );

    Gitops::new(["apply", ".", "--no-wait", "--name", "app", "-n", &ns.name])
        .current_dir(repo.path())
        .on_cluster()
        .run()
        .expect_code(0);
    let format = kubectl_ok(
        &[
            "-n",
            &ns.name,
            "get",
            "configmap/gitops-app",
            "-o",
            "jsonpath={.data.format}",
        ],
        None,
    );
    assert_eq!(format, "2");
    gitops_diff(&ns, repo.path(), &[]).expect_code(0);
}

/// A CRD and a namespace with objects, owned by one target besides the web app.
fn platform(ns: &str, extra_ns: &str, crd_group: &str) -> String {
    format!(
        r#"apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.{crd_group}
spec:
  group: {crd_group}
  scope: Namespaced
  names: {{plural: widgets, singular: widget, kind: Widget}}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        x-kubernetes-preserve-unknown-fields: true
---
apiVersion: v1
kind: Namespace
metadata:
  name: {extra_ns}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings, namespace: {extra_ns}}}
data: {{mode: blue}}
---
apiVersion: {crd_group}/v1
kind: Widget
metadata: {{name: one, namespace: {ns}}}
spec: {{size: 1}}
---
apiVersion: {crd_group}/v1
kind: Widget
metadata: {{name: two, namespace: {ns}}}
spec: {{size: 2}}
"#
    )
}

/// Every listable namespaced object in `ns` as kubectl sees it (Events left out).
fn objects_in(ns: &str) -> usize {
    let kinds = kubectl_ok(
        &[
            "api-resources",
            "--verbs=list",
            "--namespaced",
            "-o",
            "name",
        ],
        None,
    );
    let mut seen = std::collections::BTreeSet::new();
    for kind in kinds.lines().filter(|k| !k.starts_with("events")) {
        let uids = kubectl_ok(
            &[
                "-n",
                ns,
                "get",
                kind,
                "-o",
                "jsonpath={range .items[*]}{.metadata.uid}{\"\\n\"}{end}",
            ],
            None,
        );
        seen.extend(uids.lines().map(str::to_owned));
    }
    seen.len()
}

#[test]
fn deleting_a_namespace_and_a_crd_is_destructive_with_their_reach() {
    let ns = TestNamespace::new("drift-destroy");
    let extra = TestNamespace::not_created("drift-destroy-data");
    let crd_group = format!("{}.example.com", ns.name);
    let web = web_app(&ns.name, "nginx:1.25", 2);
    let all = format!("{web}---\n{}", platform(&ns.name, &extra.name, &crd_group));
    apply(&ns, &all);
    // Objects nobody declared live in the namespace too (a Secret made by hand).
    kubectl_ok(
        &[
            "-n",
            &extra.name,
            "create",
            "secret",
            "generic",
            "by-hand",
            "--from-literal=k=v",
        ],
        None,
    );
    let in_namespace = objects_in(&extra.name);
    assert!(
        in_namespace >= 3,
        "configmap, secret, service account: {in_namespace}"
    );

    // Git drops the platform, and changes the web app's config.
    let changed = web.replace("LOG_LEVEL: info", "LOG_LEVEL: warn");
    let repo = temp_tree(&[("app.yaml", &changed)]);
    gitops_diff(&ns, repo.path(), &[]).expect_code(2);
    let (run, plan) = diff_json(&ns, repo.path(), &["--fail-on-destructive"]);
    run.expect_code(4);
    let namespace = change(&plan, "Namespace", &extra.name);
    assert_eq!(namespace["destructive"], true, "{namespace:#}");
    assert_eq!(namespace["contains"], in_namespace, "{namespace:#}");
    let crd = change(
        &plan,
        "CustomResourceDefinition",
        &format!("widgets.{crd_group}"),
    );
    assert_eq!(crd["destructive"], true);
    assert_eq!(crd["contains"], 2, "{crd:#}");
    assert!(
        crd["reason"].as_str().unwrap().contains("custom resources"),
        "{crd:#}"
    );
    assert_eq!(
        change(&plan, "ConfigMap", "web-config")["destructive"],
        false
    );
    assert!(
        plan["summary"]["destructive"].as_u64() >= Some(5),
        "{}",
        run.stdout
    );
    let text = gitops_diff(&ns, repo.path(), &["--fail-on-destructive"]);
    text.expect_code(4);
    assert!(
        text.stdout.contains(&format!(
            "- v1 Namespace {} (pending; destructive: deletes namespace {} and everything in it: {in_namespace} live object(s))",
            extra.name, extra.name
        )),
        "{}",
        text.stdout
    );

    // apply refuses before any write: the config change is not applied either.
    let refused = Gitops::new([
        "apply",
        ".",
        "--no-wait",
        "--name",
        "app",
        "-n",
        &ns.name,
        "--fail-on-destructive",
    ])
    .current_dir(repo.path())
    .on_cluster()
    .run();
    refused.expect_code(4);
    assert!(
        refused.stderr.contains("nothing was written") && refused.stderr.contains(&extra.name),
        "{}",
        refused.stderr
    );
    let level = kubectl_ok(
        &[
            "-n",
            &ns.name,
            "get",
            "configmap/web-config",
            "-o",
            "jsonpath={.data.LOG_LEVEL}",
        ],
        None,
    );
    assert_eq!(level, "info");
    kubectl_ok(&["get", "namespace", &extra.name], None);
    kubectl_ok(
        &["-n", &ns.name, "get", &format!("widgets.{crd_group}/one")],
        None,
    );
}

#[test]
fn bad_filter_values_are_usage_errors() {
    let repo = temp_tree(&[(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n",
    )]);
    let run = Gitops::new(["diff", ".", "--only", "everything"])
        .current_dir(repo.path())
        .run();
    run.expect_code(64);
    assert!(
        run.stderr.contains("drift") && run.stderr.contains("pending"),
        "{}",
        run.stderr
    );
    let run = Gitops::new(["diff", ".", "--fail-on-destructive", "--exit-zero"])
        .current_dir(repo.path())
        .run();
    run.expect_code(64);
    assert!(run.stderr.contains("cannot be used with"), "{}", run.stderr);
}

/// `diff --only drift --notify URL`, as the scheduled drift job runs it.
fn drift_job(ns: &TestNamespace, repo: &std::path::Path, url: &str) -> common::cli::Run {
    let run = gitops_diff(ns, repo, &["--only", "drift", "--notify", url, "-v"]);
    let port = url.split('/').nth(2).unwrap_or_default();
    for (stream, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(
            !text.contains(common::webhook::SECRET_PATH) && !text.contains(port),
            "the webhook URL shows in {stream}:\n{text}"
        );
    }
    run
}

#[test]
fn the_drift_alert_is_posted_once_per_change_of_state() {
    let receiver = common::webhook::Receiver::start(200);
    let url = receiver.url();
    let ns = TestNamespace::new("drift-notify");
    let manifests = web_app(&ns.name, "nginx:1.25", 2);
    apply(&ns, &manifests);
    let repo = temp_tree(&[("app.yaml", &manifests)]);

    drift_job(&ns, repo.path(), &url).expect_code(0);
    assert_eq!(receiver.bodies().len(), 0, "in sync: nothing to say");

    kubectl_edit(&ns.name, "deployment/web", "replicas: 2", "replicas: 6");
    for _ in 0..3 {
        drift_job(&ns, repo.path(), &url).expect_code(2);
    }
    let bodies = receiver.bodies();
    assert_eq!(
        bodies.len(),
        1,
        "one message for one new drift: {bodies:#?}"
    );
    let alert = &bodies[0];
    assert_eq!(alert["status"], "drifted");
    assert_eq!(alert["target"], "app");
    assert_eq!(alert["drift"][0]["kind"], "Deployment");
    assert_eq!(alert["drift"][0]["fields"][0]["path"], "/spec/replicas");
    assert_eq!(alert["drift"][0]["fields"][0]["manager"], "kubectl-edit");
    let text = alert["text"].as_str().unwrap();
    assert!(
        text.contains("web") && text.contains("/spec/replicas"),
        "{text}"
    );

    // The set of drifted objects changes: one more message (the URL from the environment).
    kubectl_edit(
        &ns.name,
        "configmap/web-config",
        "LOG_LEVEL: info",
        "LOG_LEVEL: trace",
    );
    let run = Gitops::new([
        "diff", ".", "--name", "app", "-n", &ns.name, "--only", "drift",
    ])
    .env("GITOPS_NOTIFY_URL", &url)
    .current_dir(repo.path())
    .on_cluster()
    .run();
    run.expect_code(2);
    assert_eq!(receiver.bodies().len(), 2);
    assert_eq!(receiver.bodies()[1]["drift"].as_array().unwrap().len(), 2);

    // The apply heals it (and keeps the notified state): one "recovered", then quiet.
    apply(&ns, &manifests);
    drift_job(&ns, repo.path(), &url).expect_code(0);
    drift_job(&ns, repo.path(), &url).expect_code(0);
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 3, "{bodies:#?}");
    assert_eq!(bodies[2]["status"], "recovered");
    assert!(
        bodies[2]["text"].as_str().unwrap().contains("matches Git"),
        "{:#}",
        bodies[2]
    );
}

#[test]
fn a_webhook_that_fails_is_exit_1_after_the_plan_naming_the_status_never_the_url() {
    let receiver = common::webhook::Receiver::start(500);
    let url = receiver.url();
    let ns = TestNamespace::new("drift-notify-fail");
    let manifests = web_app(&ns.name, "nginx:1.25", 2);
    apply(&ns, &manifests);
    let repo = temp_tree(&[("app.yaml", &manifests)]);
    kubectl_ok(&["-n", &ns.name, "delete", "configmap/web-config"], None);

    let run = drift_job(&ns, repo.path(), &url);
    run.expect_code(1);
    assert!(
        run.stdout.contains("drift: deleted from the cluster"),
        "the plan is printed first:\n{}",
        run.stdout
    );
    assert!(run.stderr.contains("HTTP 500"), "{}", run.stderr);
    assert_eq!(receiver.bodies().len(), 3, "a 5xx is tried 3 times");

    // Not recorded as notified: once the webhook works, the message goes out.
    receiver.set_status(404);
    let run = drift_job(&ns, repo.path(), &url);
    run.expect_code(1);
    assert!(run.stderr.contains("HTTP 404"), "{}", run.stderr);
    assert_eq!(receiver.bodies().len(), 4, "a 4xx is not tried again");
    receiver.set_status(200);
    drift_job(&ns, repo.path(), &url).expect_code(2);
    drift_job(&ns, repo.path(), &url).expect_code(2);
    assert_eq!(receiver.bodies().len(), 5);
}

#[test]
fn a_hand_edited_secret_is_drift_without_its_values_or_the_url_in_any_output() {
    let receiver = common::webhook::Receiver::start(200);
    let url = receiver.url();
    let ns = TestNamespace::new("drift-secret");
    let (old, new) = ("0ld-pa55word-value", "n3w-pa55word-value");
    let secret = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: db, namespace: {}}}\nstringData:\n  password: {old}\n",
        ns.name
    );
    apply(&ns, &secret);
    let encoded = gitops::mask::base64(new.as_bytes());
    kubectl_ok(
        &[
            "-n",
            &ns.name,
            "patch",
            "secret/db",
            "--field-manager=kubectl-edit",
            "-p",
            &format!(r#"{{"data":{{"password":"{encoded}"}}}}"#),
        ],
        None,
    );
    let repo = temp_tree(&[("secret.yaml", &secret)]);
    let forbidden: Vec<String> = [old, new]
        .iter()
        .flat_map(|v| [v.to_string(), gitops::mask::base64(v.as_bytes())])
        .chain([common::webhook::SECRET_PATH.to_owned()])
        .collect();
    for format in ["text", "json", "markdown"] {
        let run = gitops_diff(
            &ns,
            repo.path(),
            &["-v", "-o", format, "--only", "drift", "--notify", &url],
        );
        run.expect_code(2);
        for value in &forbidden {
            assert!(
                !run.stdout.contains(value.as_str()) && !run.stderr.contains(value.as_str()),
                "{format} shows {value}:\n{}\n{}",
                run.stdout,
                run.stderr
            );
        }
    }
    let (_, plan) = diff_json(&ns, repo.path(), &[]);
    let db = change(&plan, "Secret", "db");
    assert_eq!(db["cause"], "drift", "{db:#}");
    assert_eq!(
        drifted(db),
        [("/data/password".to_owned(), Some("kubectl-edit".to_owned()))]
    );
    let bodies = receiver.bodies();
    assert_eq!(bodies.len(), 1, "{bodies:#?}");
    let body = bodies[0].to_string();
    for value in &forbidden {
        assert!(
            !body.contains(value.as_str()),
            "the alert shows {value}: {body}"
        );
    }
}

#[test]
fn deleting_a_claim_names_what_its_volume_keeps() {
    let ns = TestNamespace::new("drift-claim");
    let volume = format!("{}-data", ns.name);
    // A volume made by an administrator, outside the target.
    let pv = format!(
        "apiVersion: v1\nkind: PersistentVolume\nmetadata: {{name: {volume}}}\nspec:\n  capacity: {{storage: 1Gi}}\n  accessModes: [ReadWriteOnce]\n  persistentVolumeReclaimPolicy: Retain\n  storageClassName: manual\n  hostPath: {{path: /tmp/{volume}}}\n"
    );
    kubectl_ok(&["apply", "-f", "-"], Some(&pv));
    let claim = format!(
        "apiVersion: v1\nkind: PersistentVolumeClaim\nmetadata: {{name: data, namespace: {}}}\nspec:\n  accessModes: [ReadWriteOnce]\n  storageClassName: manual\n  volumeName: {volume}\n  resources: {{requests: {{storage: 1Gi}}}}\n",
        ns.name
    );
    let web = web_app(&ns.name, "nginx:1.25", 2);
    apply(&ns, &format!("{web}---\n{claim}"));
    let bound = (0..60).any(|_| {
        let phase = kubectl_ok(
            &[
                "-n",
                &ns.name,
                "get",
                "pvc",
                "data",
                "-o",
                "jsonpath={.status.phase}",
            ],
            None,
        );
        phase == "Bound" || {
            std::thread::sleep(std::time::Duration::from_millis(500));
            false
        }
    });
    assert!(bound, "the volume controller binds the claim");

    let repo = temp_tree(&[("app.yaml", &web)]);
    let reason = || {
        let (run, plan) = diff_json(&ns, repo.path(), &["--fail-on-destructive"]);
        run.expect_code(4);
        let claim = change(&plan, "PersistentVolumeClaim", "data");
        assert_eq!(claim["destructive"], true, "{claim:#}");
        claim["reason"].as_str().unwrap_or_default().to_owned()
    };
    let kept = reason();
    assert!(
        kept.contains(&format!("volume {volume} has reclaim policy Retain")),
        "{kept}"
    );
    kubectl_ok(
        &[
            "patch",
            "pv",
            &volume,
            "-p",
            r#"{"spec":{"persistentVolumeReclaimPolicy":"Delete"}}"#,
        ],
        None,
    );
    let lost = reason();
    assert!(
        lost.contains("and its data") && lost.contains("reclaim policy Delete"),
        "{lost}"
    );
    kubectl_ok(&["delete", "pv", &volume, "--wait=false"], None);
}

#[test]
fn ten_thousand_members_with_digests_fit_the_inventory_on_the_server() {
    use gitops::inventory::{Inventory, InventoryRef, Member, Witness};
    let ns = TestNamespace::new("drift-inventory");
    let env = testenv();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let connection =
            gitops::cluster::Connection::load(Some(&env.kubeconfig), Some(&env.admin_context))
                .await;
        let cluster = connection.connect().await.expect("a client");
        let at = InventoryRef::for_target("big", &ns.name);
        let mut inventory = Inventory {
            revision: "0123456789abcdef0123456789abcdef01234567".into(),
            ..Inventory::default()
        };
        let kinds = [("", "ConfigMap"), ("apps", "Deployment"), ("", "Secret")];
        for i in 0..10_000 {
            let (group, kind) = kinds[i % kinds.len()];
            let member = Member {
                group: group.into(),
                version: "v1".into(),
                kind: kind.into(),
                namespace: Some(format!("team-{:02}-production", i % 25)),
                name: format!("shop-frontend-settings-{i:05}-7f9c8d6b5c"),
            };
            inventory.witnesses.insert(
                member.identity(),
                Witness {
                    sent: format!("{i:012x}"),
                    left: format!("{:012x}", i * 7),
                },
            );
            inventory.members.push(member);
        }
        inventory.members.sort();
        inventory.applied_at = Some("2026-12-05T10:00:00Z".into());
        gitops::inventory::write(&cluster, &at, &inventory)
            .await
            .expect("the server takes 10,000 members with their digests");
        let read = gitops::inventory::read(&cluster, &at)
            .await
            .unwrap()
            .expect("written");
        assert_eq!(read.members, inventory.members);
        assert_eq!(read.witnesses, inventory.witnesses);
        assert_eq!(read.applied_at, inventory.applied_at);
    });
}
