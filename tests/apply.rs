//! `gitops apply` on the real control plane: ordering, no-op re-applies, drift, prune safety,
//! health gates, conflicts and dry-runs. Each test asserts the exit code and the cluster state.

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::cli::{fixture, temp_tree, Gitops, Run};
use common::kubectl::{kubectl, kubectl_ok, TestNamespace};
use common::{testenv, KubeletStandIn};
use serde_json::Value;

fn gitops_apply(dir: &Path, args: &[&str]) -> Run {
    let mut all = vec!["apply"];
    all.extend_from_slice(args);
    Gitops::new(all).current_dir(dir).on_cluster().run()
}

/// Runs a blocking gitops call while async helpers (the kubelet stand-in) keep running.
async fn in_background<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work)
        .await
        .expect("the gitops run finishes")
}

fn get_json(args: &[&str]) -> Value {
    let mut all = vec!["get", "-o", "json"];
    all.extend_from_slice(args);
    serde_json::from_str(&kubectl_ok(&all, None)).unwrap()
}

/// `kind/name` lines of the objects of these kinds in the namespace.
fn object_names(ns: &str, kinds: &str) -> String {
    kubectl_ok(&["-n", ns, "get", kinds, "-o", "name"], None)
}

/// name → resourceVersion of every object of these kinds in the namespace, except the
/// inventory (it records every apply in its history).
fn resource_versions(ns: &str, kinds: &str) -> Vec<(String, String)> {
    let list = get_json(&["-n", ns, kinds]);
    let mut versions: Vec<(String, String)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                format!(
                    "{}/{}",
                    o["kind"].as_str().unwrap(),
                    o["metadata"]["name"].as_str().unwrap()
                ),
                o["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    versions.retain(|(name, _)| !name.starts_with("ConfigMap/gitops-"));
    versions.sort();
    versions
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn first_apply_of_the_demo_repo_then_a_reapply_writes_nothing() {
    let client = testenv().client().await;
    let _kubelet = KubeletStandIn::start(&client, "demo-plain");
    let demo = fixture("demo");
    let run = in_background({
        let demo = demo.clone();
        move || gitops_apply(&demo, &["--target", "plain", "--timeout", "90s"])
    })
    .await;
    run.expect_code(0);
    // Namespace, CRD and its custom resource (wave 1), RBAC, workload: all there.
    let widget = get_json(&[
        "-n",
        "demo-plain",
        "widgets.example.gitops.dev",
        "blue-widget",
    ]);
    assert_eq!(widget["spec"]["size"], 3);
    let deployment = get_json(&["-n", "demo-plain", "deployment", "web"]);
    assert_eq!(
        deployment["status"]["availableReplicas"], 2,
        "healthy before apply returned"
    );
    assert_eq!(
        deployment["spec"]["template"]["spec"]["volumes"][0]["configMap"]["defaultMode"], 420,
        "0644 is octal"
    );
    get_json(&["rolebinding", "-n", "demo-plain", "web"]);
    get_json(&["clusterrole", "demo-widget-reader"]);

    let kinds =
        "configmaps,services,deployments,serviceaccounts,roles,rolebindings,ingresses,widgets";
    let before = resource_versions("demo-plain", kinds);
    let again = in_background(move || gitops_apply(&demo, &["--target", "plain"])).await;
    again.expect_code(0);
    assert!(
        again
            .stdout
            .contains("0 to create, 0 to update, 0 to delete"),
        "{}",
        again.stdout
    );
    assert_eq!(
        resource_versions("demo-plain", kinds),
        before,
        "a re-apply must not write"
    );
}

const APP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: NS
  labels: {app: shop}
data:
  LOG_LEVEL: info
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: extra
  namespace: NS
  labels: {app: shop}
data:
  a: b
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: NS
spec:
  replicas: 1
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: registry.example.com/api:1
        ports:
        - containerPort: 8080
"#;

fn app(ns: &str) -> String {
    APP.replace("NS", ns)
}

/// Applies `manifest` server-side as another declarative owner, `other-tool`.
fn apply_as_other_tool(manifest: &str) {
    kubectl_ok(
        &[
            "apply",
            "--server-side",
            "--field-manager=other-tool",
            "--force-conflicts",
            "-f",
            "-",
        ],
        Some(manifest),
    );
}

fn repo_with(content: &str) -> tempfile::TempDir {
    temp_tree(&[("app.yaml", content)])
}

/// Applies `content` as target `NAME` into the namespace, without waiting for health.
fn apply_as(name: &str, ns: &str, content: &str, extra: &[&str]) -> Run {
    let repo = repo_with(content);
    let mut args = vec![".", "--name", name, "-n", ns, "--no-wait"];
    args.extend_from_slice(extra);
    gitops_apply(repo.path(), &args)
}

#[test]
fn drift_is_healed() {
    let ns = TestNamespace::new("apply-drift");
    apply_as("shop", &ns.name, &app(&ns.name), &[]).expect_code(0);
    kubectl_ok(
        &["-n", &ns.name, "scale", "deployment/api", "--replicas=3"],
        None,
    );
    kubectl_ok(
        &[
            "-n",
            &ns.name,
            "patch",
            "configmap/settings",
            "--type=merge",
            "-p",
            r#"{"data":{"LOG_LEVEL":"debug"}}"#,
        ],
        None,
    );
    apply_as("shop", &ns.name, &app(&ns.name), &[]).expect_code(0);
    assert_eq!(
        get_json(&["-n", &ns.name, "deployment", "api"])["spec"]["replicas"],
        1
    );
    assert_eq!(
        get_json(&["-n", &ns.name, "configmap", "settings"])["data"]["LOG_LEVEL"],
        "info"
    );
}

#[test]
fn ignored_fields_are_not_fought_when_the_object_changes_for_another_reason() {
    let ns = TestNamespace::new("apply-ignore");
    let config = format!(
        "targets:\n  - {{name: shop, path: app, namespace: {}}}\nignoreDifferences:\n  - {{group: apps, kind: Deployment, jsonPointers: [/spec/replicas]}}\n",
        ns.name
    );
    let tree = |content: &str| temp_tree(&[("gitops.yaml", &config), ("app/app.yaml", content)]);
    let first = tree(&app(&ns.name));
    gitops_apply(first.path(), &["--no-wait"]).expect_code(0);
    // An autoscaler scales the Deployment; then Git changes its image.
    kubectl_ok(
        &[
            "-n",
            &ns.name,
            "patch",
            "deployment/api",
            "--field-manager=horizontal-pod-autoscaler",
            "--type=merge",
            "-p",
            r#"{"spec":{"replicas":4}}"#,
        ],
        None,
    );
    let changed = tree(&app(&ns.name).replace("api:1", "api:2"));
    let run = gitops_apply(changed.path(), &["--no-wait"]);
    run.expect_code(0);
    let live = get_json(&["-n", &ns.name, "deployment", "api"]);
    assert_eq!(
        live["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.example.com/api:2"
    );
    assert_eq!(
        live["spec"]["replicas"], 4,
        "the autoscaler's replicas were reset"
    );
    assert!(!run.stderr.contains("drift"), "{}", run.stderr);
}

/// A manifest exported with `kubectl get -o yaml` pins a resourceVersion and uid: sent back,
/// the stale resourceVersion would fail the apply ("the object has been modified").
#[test]
fn manifests_exported_from_a_cluster_apply_again_and_again() {
    let ns = TestNamespace::new("apply-exported");
    kubectl_ok(
        &[
            "-n",
            &ns.name,
            "create",
            "configmap",
            "settings",
            "--from-literal=LOG_LEVEL=info",
        ],
        None,
    );
    let exported = kubectl_ok(
        &["-n", &ns.name, "get", "configmap", "settings", "-o", "yaml"],
        None,
    );
    assert!(exported.contains("resourceVersion:"), "{exported}");
    kubectl_ok(
        &[
            "-n",
            &ns.name,
            "label",
            "configmap",
            "settings",
            "touched=yes",
        ],
        None,
    );
    let changed = exported.replace("LOG_LEVEL: info", "LOG_LEVEL: warn");
    for _ in 0..2 {
        let run = apply_as("shop", &ns.name, &changed, &[]);
        run.expect_code(0);
        assert!(
            run.stderr.contains("metadata.resourceVersion"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(
        get_json(&["-n", &ns.name, "configmap", "settings"])["data"]["LOG_LEVEL"],
        "warn"
    );
}

#[test]
fn prune_deletes_only_this_targets_removed_members() {
    let ns = TestNamespace::new("apply-prune");
    apply_as("shop", &ns.name, &app(&ns.name), &[]).expect_code(0);
    // Another target in the same namespace, and an unrelated object with the same app label.
    let other = format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: other-target, namespace: {}, labels: {{app: shop}}}}\n", ns.name);
    apply_as("other", &ns.name, &other, &[]).expect_code(0);
    kubectl_ok(
        &[
            "-n",
            &ns.name,
            "create",
            "configmap",
            "unrelated",
            "--from-literal=a=b",
        ],
        None,
    );
    kubectl_ok(
        &[
            "-n",
            &ns.name,
            "label",
            "configmap",
            "unrelated",
            "app=shop",
        ],
        None,
    );

    let without_extra = app(&ns.name).replace("  name: extra\n", "  name: extra-renamed\n");
    let run = apply_as("shop", &ns.name, &without_extra, &[]);
    run.expect_code(0);
    assert!(
        run.stdout
            .contains(&format!("- v1 ConfigMap {}/extra", ns.name)),
        "{}",
        run.stdout
    );
    let names = object_names(&ns.name, "configmaps");
    assert!(!names.contains("configmap/extra\n"), "pruned:\n{names}");
    for survivor in [
        "configmap/extra-renamed",
        "configmap/other-target",
        "configmap/unrelated",
        "configmap/settings",
    ] {
        assert!(
            names.contains(survivor),
            "{survivor} must survive:\n{names}"
        );
    }
}

/// Servers before v1.22 serve an Ingress under `extensions` and `networking.k8s.io`: moving the
/// manifest to the new group must not prune the object it still is (the test server is v1.20).
#[test]
fn an_object_moved_to_another_api_group_is_not_pruned_as_its_old_self() {
    let ns = TestNamespace::new("apply-regroup");
    let old = "apiVersion: extensions/v1beta1\nkind: Ingress\nmetadata: {name: web}\nspec:\n  backend: {serviceName: web, servicePort: 80}\n";
    apply_as("shop", &ns.name, old, &[]).expect_code(0);
    let uid = get_json(&["-n", &ns.name, "ingress", "web"])["metadata"]["uid"].clone();
    let new = "apiVersion: networking.k8s.io/v1\nkind: Ingress\nmetadata: {name: web}\nspec:\n  defaultBackend:\n    service: {name: web, port: {number: 80}}\n";
    let run = apply_as("shop", &ns.name, new, &[]);
    run.expect_code(0);
    assert!(
        run.stderr
            .contains("same object as networking.k8s.io/v1 Ingress"),
        "{}",
        run.stderr
    );
    assert_eq!(
        get_json(&["-n", &ns.name, "ingress", "web"])["metadata"]["uid"],
        uid,
        "the Ingress was deleted"
    );
}

#[test]
fn prune_respects_annotations_and_no_prune() {
    let ns = TestNamespace::new("apply-keep");
    let content = app(&ns.name).replace(
        "  name: extra\n  namespace",
        "  name: extra\n  annotations: {gitops.dev/prune: disabled}\n  namespace",
    );
    apply_as("shop", &ns.name, &content, &[]).expect_code(0);
    let only_settings = app(&ns.name).split("---\n").next().unwrap().to_owned();
    let run = apply_as("shop", &ns.name, &only_settings, &["--no-prune"]);
    run.expect_code(0);
    assert!(run.stderr.contains("not pruned"), "{}", run.stderr);
    let run = apply_as("shop", &ns.name, &only_settings, &[]);
    run.expect_code(0);
    let names = object_names(&ns.name, "configmaps,deployments");
    assert!(
        names.contains("configmap/extra"),
        "prune disabled by annotation:\n{names}"
    );
    assert!(
        !names.contains("deployment.apps/api"),
        "pruned once pruning is on again:\n{names}"
    );
}

#[test]
fn flux_argo_cd_and_helm_annotations_keep_an_object_out_of_prune() {
    let ns = TestNamespace::new("apply-keep-others");
    let cm = |name: &str, annotations: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {}\n  annotations: {annotations}\ndata: {{a: \"1\"}}\n", ns.name)
    };
    let all = [
        cm("flux", "{kustomize.toolkit.fluxcd.io/prune: disabled}"),
        cm(
            "argo-delete",
            "{argocd.argoproj.io/sync-options: \"ServerSideApply=true,Delete=false\"}",
        ),
        cm("helm-keep", "{helm.sh/resource-policy: keep}"),
        cm("plain", "{}"),
        cm("stays", "{}"),
    ];
    apply_as("shop", &ns.name, &all.join("---\n"), &[]).expect_code(0);
    let run = apply_as("shop", &ns.name, &all[4], &[]);
    run.expect_code(0);
    for why in [
        "kustomize.toolkit.fluxcd.io/prune: disabled",
        "argocd.argoproj.io/sync-options: Delete=false",
        "helm.sh/resource-policy: keep",
    ] {
        assert!(run.stderr.contains(why), "{why:?} in:\n{}", run.stderr);
    }
    let names = object_names(&ns.name, "configmaps");
    for kept in [
        "configmap/flux",
        "configmap/argo-delete",
        "configmap/helm-keep",
        "configmap/stays",
    ] {
        assert!(names.contains(kept), "{kept} kept:\n{names}");
    }
    assert!(!names.contains("configmap/plain"), "plain pruned:\n{names}");
}

/// A CRD as kube-prometheus ships it: with a `status` stanza.
fn crd_with_status(group: &str) -> String {
    format!(
        "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: widgets.{group}\nspec:\n  group: {group}\n  names: {{kind: Widget, listKind: WidgetList, plural: widgets, singular: widget}}\n  scope: Namespaced\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    schema:\n      openAPIV3Schema: {{type: object, x-kubernetes-preserve-unknown-fields: true}}\nstatus:\n  acceptedNames: {{kind: \"\", plural: \"\"}}\n  conditions: []\n  storedVersions: []\n"
    )
}

#[test]
fn a_manifests_status_is_never_sent() {
    let ns = TestNamespace::new("apply-status");
    let group = format!("{}.example.com", ns.name);
    let crd = crd_with_status(&group);
    // Applied before by kubectl, server-side, as a team does before it moves to gitops.
    kubectl_ok(&["apply", "--server-side", "-f", "-"], Some(&crd));
    let run = apply_as("crds", &ns.name, &crd, &[]);
    run.expect_code(0);
    let managed = kubectl_ok(
        &[
            "get",
            "crd",
            &format!("widgets.{group}"),
            "-o",
            "jsonpath={.metadata.managedFields}",
        ],
        None,
    );
    let managed: Value = serde_json::from_str(&managed).unwrap();
    let gitops_fields = managed
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["manager"] == "gitops")
        .map(|m| m["fieldsV1"].to_string())
        .unwrap_or_default();
    assert!(!gitops_fields.contains("f:status"), "{gitops_fields}");
    apply_as("crds", &ns.name, &crd, &[]).expect_code(0);
    kubectl_ok(&["delete", "crd", &format!("widgets.{group}")], None);
}

#[test]
fn flux_ssa_if_not_present_creates_once_and_ignore_never_applies() {
    let ns = TestNamespace::new("apply-flux-ssa");
    let cm = |name: &str, policy: &str, value: &str| {
        format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {}\n  annotations: {{kustomize.toolkit.fluxcd.io/ssa: {policy}}}\ndata: {{value: \"{value}\"}}\n", ns.name)
    };
    let web = |replicas: u32| {
        // A Deployment that never becomes available here (no scheduler): never applied, never
        // awaited.
        format!("apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: {ns}\n  annotations: {{kustomize.toolkit.fluxcd.io/ssa: Ignore}}\nspec:\n  replicas: {replicas}\n  selector: {{matchLabels: {{app: web}}}}\n  template:\n    metadata: {{labels: {{app: web}}}}\n    spec: {{containers: [{{name: web, image: nginx}}]}}\n", ns = ns.name)
    };
    let render = |value: &str| [cm("seed", "IfNotPresent", value), web(1)].join("---\n");
    let repo_apply = |value: &str, extra: &[&str]| {
        let repo = repo_with(&render(value));
        let mut args = vec![".", "--name", "shop", "-n", &ns.name, "--timeout", "20s"];
        args.extend_from_slice(extra);
        gitops_apply(repo.path(), &args)
    };
    repo_apply("1", &[]).expect_code(0);
    let value = || {
        kubectl_ok(
            &[
                "-n",
                &ns.name,
                "get",
                "configmap",
                "seed",
                "-o",
                "jsonpath={.data.value}",
            ],
            None,
        )
    };
    assert_eq!(value(), "1");
    assert!(!object_names(&ns.name, "deployments").contains("web"));
    // Edited by hand, then changed in Git: the live value stays, and nothing is planned.
    kubectl_ok(
        &[
            "-n",
            &ns.name,
            "patch",
            "configmap",
            "seed",
            "--type=merge",
            "-p",
            r#"{"data":{"value":"by hand"}}"#,
        ],
        None,
    );
    repo_apply("2", &[]).expect_code(0);
    assert_eq!(value(), "by hand");
    let repo = repo_with(&render("2"));
    let diff = Gitops::new(["diff", ".", "--name", "shop", "-n", &ns.name])
        .current_dir(repo.path())
        .on_cluster()
        .run();
    diff.expect_code(0);
    // IfNotPresent stays a member (pruned once it leaves Git); Ignore is not gitops's at all.
    let members = common::inventory::members(&ns.name, "shop");
    assert!(members.iter().any(|m| m["name"] == "seed"), "{members:?}");
    assert!(!members.iter().any(|m| m["name"] == "web"), "{members:?}");
}

#[test]
fn an_empty_render_over_a_full_inventory_is_refused() {
    let ns = TestNamespace::new("apply-empty");
    apply_as("shop", &ns.name, &app(&ns.name), &[]).expect_code(0);
    let empty = temp_tree(&[("README.md", "nothing here")]);
    let run = gitops_apply(empty.path(), &[".", "--name", "shop", "-n", &ns.name]);
    run.expect_code(1);
    assert!(run.stderr.contains("--allow-empty"), "{}", run.stderr);
    assert!(object_names(&ns.name, "configmaps").contains("configmap/settings"));
    gitops_apply(
        empty.path(),
        &[".", "--name", "shop", "-n", &ns.name, "--allow-empty"],
    )
    .expect_code(0);
    assert!(!object_names(&ns.name, "configmaps").contains("configmap/settings"));
}

#[test]
fn a_deployment_that_never_becomes_available_exits_3_within_the_timeout() {
    let ns = TestNamespace::new("apply-unhealthy");
    let repo = repo_with(&app(&ns.name));
    let started = Instant::now();
    let run = gitops_apply(
        repo.path(),
        &[".", "--name", "shop", "-n", &ns.name, "--timeout", "10s"],
    );
    run.expect_code(3);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "took {:?}",
        started.elapsed()
    );
    // Names the object and why; on a busy controller-manager the reason can still be that the
    // new spec was not observed yet.
    let unhealthy = format!("  - apps/v1 Deployment {}/api: ", ns.name);
    assert!(
        run.stderr
            .contains(&format!("{unhealthy}0/1 replicas available"))
            || run.stderr.contains(&format!(
                "{unhealthy}the controller has not seen the new spec yet"
            )),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_job_fails_fast() {
    let ns = TestNamespace::new("apply-job");
    let job = format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata: {{name: migrate, namespace: {}}}\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: m\n        image: registry.example.com/migrate:1\n",
        ns.name
    );
    let repo = repo_with(&job);
    let dir = repo.path().to_path_buf();
    let name = ns.name.clone();
    let started = Instant::now();
    let run = tokio::task::spawn_blocking(move || {
        gitops_apply(
            &dir,
            &[".", "--name", "jobs", "-n", &name, "--timeout", "120s"],
        )
    });
    // Act as the job controller's verdict: the Job failed.
    let client = testenv().client().await;
    let jobs: kube::Api<k8s_openapi::api::batch::v1::Job> = kube::Api::namespaced(client, &ns.name);
    common::wait_for("the Job to exist", Duration::from_secs(30), || async {
        jobs.get_opt("migrate").await.ok().flatten()
    })
    .await;
    let failed = serde_json::json!({"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}});
    jobs.patch_status(
        "migrate",
        &kube::api::PatchParams::default(),
        &kube::api::Patch::Merge(&failed),
    )
    .await
    .expect("the Job status is patched");
    let run = run.await.unwrap();
    run.expect_code(3);
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "failed fast, took {:?}",
        started.elapsed()
    );
    assert!(
        run.stderr.contains("Job failed: BackoffLimitExceeded"),
        "{}",
        run.stderr
    );
}

#[test]
fn conflicts_name_the_other_manager_and_can_be_forced() {
    let ns = TestNamespace::new("apply-conflict");
    apply_as("shop", &ns.name, &app(&ns.name), &[]).expect_code(0);
    // Another tool applies the same field server-side.
    let theirs = format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: settings, namespace: {}}}\ndata: {{LOG_LEVEL: trace}}\n", ns.name);
    apply_as_other_tool(&theirs);
    // Two changes in the same group: the one without a conflict must not be written either.
    let changed = app(&ns.name)
        .replace("LOG_LEVEL: info", "LOG_LEVEL: warn")
        .replace("a: b", "a: c");
    let extra_value = || get_json(&["-n", &ns.name, "configmap", "extra"])["data"]["a"].clone();

    let repo = repo_with(&changed);
    let diff = Gitops::new(["diff", ".", "--name", "shop", "-n", &ns.name])
        .current_dir(repo.path())
        .on_cluster()
        .run();
    diff.expect_code(2);
    assert!(
        diff.stdout.contains("conflict") && diff.stdout.contains("other-tool"),
        "{}",
        diff.stdout
    );
    assert!(diff.stderr.contains("--force-conflicts"), "{}", diff.stderr);

    for extra in [&["--dry-run"][..], &[]] {
        let run = apply_as("shop", &ns.name, &changed, extra);
        run.expect_code(1);
        assert!(
            run.stderr.contains("other-tool")
                && run.stderr.contains("app.yaml:1 (document 1)")
                && run.stderr.contains(".data.LOG_LEVEL")
                && run.stderr.contains("nothing was written")
                && run.stderr.contains("--force-conflicts"),
            "{}",
            run.stderr
        );
        assert_eq!(
            get_json(&["-n", &ns.name, "configmap", "settings"])["data"]["LOG_LEVEL"],
            "trace"
        );
        assert_eq!(
            extra_value(),
            "b",
            "written before the conflict stopped the run"
        );
    }
    apply_as("shop", &ns.name, &changed, &["--force-conflicts"]).expect_code(0);
    assert_eq!(
        get_json(&["-n", &ns.name, "configmap", "settings"])["data"]["LOG_LEVEL"],
        "warn"
    );
    assert_eq!(extra_value(), "c");
}

/// A Secret's conflicts are told apart like any other object's (a hand edit is taken back,
/// another Apply manager stops the run), and no output shows a value.
#[test]
fn secret_conflicts_name_managers_and_fields_never_values() {
    let ns = TestNamespace::new("apply-secret-conflict");
    let secret = |value: &str| {
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: creds, namespace: {}}}\ndata:\n  password: {}\n",
            ns.name,
            base64(value)
        )
    };
    let password = || {
        let data = get_json(&["-n", &ns.name, "secret", "creds"]);
        data["data"]["password"].as_str().unwrap().to_owned()
    };
    apply_as("shop", &ns.name, &secret("first-S3cret"), &[]).expect_code(0);
    let hand_edit = format!(r#"{{"data":{{"password":"{}"}}}}"#, base64("hand-Edit7"));
    kubectl_ok(
        &[
            "-n",
            &ns.name,
            "patch",
            "secret",
            "creds",
            "--type=merge",
            "-p",
            &hand_edit,
        ],
        None,
    );
    let run = apply_as("shop", &ns.name, &secret("second-S3cret"), &[]);
    run.expect_code(0);
    assert_eq!(
        password(),
        base64("second-S3cret"),
        "the hand edit was taken back"
    );

    let theirs = format!(
        "apiVersion: v1\nkind: Secret\nmetadata: {{name: creds, namespace: {}}}\ndata: {{password: {}}}\n",
        ns.name,
        base64("their-S3cret")
    );
    apply_as_other_tool(&theirs);
    let refused = apply_as("shop", &ns.name, &secret("third-S3cret"), &[]);
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("other-tool") && refused.stderr.contains(".data.password"),
        "{}",
        refused.stderr
    );
    assert_eq!(password(), base64("their-S3cret"));
    for run in [&run, &refused] {
        for value in [
            "first-S3cret",
            "second-S3cret",
            "third-S3cret",
            "their-S3cret",
            "hand-Edit7",
        ] {
            for shown in [value.to_owned(), base64(value)] {
                assert!(
                    !run.stdout.contains(&shown) && !run.stderr.contains(&shown),
                    "{value} leaked"
                );
            }
        }
    }
}

fn base64(text: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(text)
}

/// A Deployment's selector and a Job's template cannot change in place: the run stops before
/// any write, naming the field and what to do, without the server's dump of the old value.
#[test]
fn immutable_field_changes_name_the_field_and_what_to_do() {
    let ns = TestNamespace::new("apply-immutable");
    let job = |tag: &str| {
        format!(
            "---\napiVersion: batch/v1\nkind: Job\nmetadata: {{name: migrate, namespace: {}}}\nspec:\n  template:\n    spec:\n      restartPolicy: Never\n      containers: [{{name: m, image: \"busybox:{tag}\", command: [\"true\"]}}]\n",
            ns.name
        )
    };
    let stateful = |size: &str| {
        format!(
            "---\napiVersion: apps/v1\nkind: StatefulSet\nmetadata: {{name: db, namespace: {}}}\nspec:\n  serviceName: db\n  replicas: 0\n  selector: {{matchLabels: {{app: db}}}}\n  template:\n    metadata: {{labels: {{app: db}}}}\n    spec:\n      containers: [{{name: db, image: postgres}}]\n  volumeClaimTemplates:\n  - metadata: {{name: data}}\n    spec:\n      accessModes: [ReadWriteOnce]\n      resources: {{requests: {{storage: {size}}}}}\n",
            ns.name
        )
    };
    apply_as(
        "shop",
        &ns.name,
        &(app(&ns.name) + &job("1.36") + &stateful("1Gi")),
        &[],
    )
    .expect_code(0);
    let changed = app(&ns.name)
        .replace("LOG_LEVEL: info", "LOG_LEVEL: warn")
        .replace("{app: api}", "{app: api-v2}")
        + &job("1.37")
        + &stateful("2Gi");
    let run = apply_as("shop", &ns.name, &changed, &[]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("Deployment")
            && run.stderr.contains("spec.selector cannot change in place")
            && run.stderr.contains("delete the object")
            && run.stderr.contains("spec.template cannot change in place")
            && run.stderr.contains("new name")
            && run.stderr.contains("--cascade=orphan")
            && !run.stderr.contains("PodTemplateSpec{")
            && !run.stderr.contains("LabelSelector{"),
        "{}",
        run.stderr
    );
    assert_eq!(
        get_json(&["-n", &ns.name, "configmap", "settings"])["data"]["LOG_LEVEL"],
        "info",
        "written although the run was refused"
    );
}

/// Charts often render `clusterIP: ""` ("allocate one"). Sent again over the allocated
/// address, server-side apply would unset it, and the server refused every later apply.
#[test]
fn a_service_with_an_empty_cluster_ip_applies_again_and_again() {
    let ns = TestNamespace::new("apply-cluster-ip");
    let service = |version: &str| {
        format!(
            "apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: {}, labels: {{v: \"{version}\"}}}}\nspec:\n  clusterIP: \"\"\n  selector: {{app: web}}\n  ports: [{{port: 80, targetPort: 8080}}]\n",
            ns.name
        )
    };
    apply_as("shop", &ns.name, &service("1"), &[]).expect_code(0);
    let allocated = get_json(&["-n", &ns.name, "service", "web"])["spec"]["clusterIP"].clone();
    assert!(allocated.as_str().is_some_and(|ip| !ip.is_empty()));
    apply_as("shop", &ns.name, &service("2"), &[]).expect_code(0);
    let live = get_json(&["-n", &ns.name, "service", "web"]);
    assert_eq!(live["metadata"]["labels"]["v"], "2");
    assert_eq!(live["spec"]["clusterIP"], allocated);
}

#[test]
fn dry_run_persists_nothing() {
    let ns = TestNamespace::new("apply-dry");
    let run = apply_as("shop", &ns.name, &app(&ns.name), &["--dry-run"]);
    run.expect_code(0);
    assert!(run.stdout.contains("Plan: 3 to create"), "{}", run.stdout);
    let left = kubectl(
        &[
            "-n",
            &ns.name,
            "get",
            "configmaps,deployments",
            "-o",
            "name",
        ],
        None,
    );
    assert!(
        !left.stdout.contains("settings") && !left.stdout.contains("gitops-shop"),
        "{}",
        left.stdout
    );
}

#[test]
fn status_and_history_read_the_inventory() {
    let ns = TestNamespace::new("apply-status");
    for level in ["info", "debug", "warn"] {
        let content = app(&ns.name).replace("LOG_LEVEL: info", &format!("LOG_LEVEL: {level}"));
        apply_as("shop", &ns.name, &content, &[]).expect_code(0);
    }
    let args = ["--name", "shop", "-n", &ns.name, "-o", "json"];
    let history = Gitops::new([&["history"], &args[..]].concat())
        .on_cluster()
        .run();
    history.expect_code(0);
    let history: Value = serde_json::from_str(&history.stdout).unwrap();
    let entries = history["history"].as_array().unwrap();
    let counts: Vec<(u64, u64)> = entries
        .iter()
        .map(|e| {
            (
                e["created"].as_u64().unwrap(),
                e["updated"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(counts, [(3, 0), (0, 1), (0, 1)], "{history:#}");
    assert!(entries.iter().all(|e| e["result"] == "succeeded"));

    let status = Gitops::new([&["status"], &args[..]].concat())
        .on_cluster()
        .run();
    status.expect_code(0);
    let status: Value = serde_json::from_str(&status.stdout).unwrap();
    let health: Vec<(&str, &str)> = status["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| (m["name"].as_str().unwrap(), m["health"].as_str().unwrap()))
        .collect();
    // No kubelet: the Deployment's pod never becomes ready.
    assert!(health.contains(&("settings", "Healthy")), "{health:?}");
    assert!(health.contains(&("api", "Progressing")), "{health:?}");

    // A job summary: Markdown tables, one row per member and per apply.
    let markdown = |command: &str| {
        let run = Gitops::new([command, "--name", "shop", "-n", &ns.name, "-o", "markdown"])
            .on_cluster()
            .run();
        run.expect_code(0);
        run.stdout
    };
    let status = markdown("status");
    assert!(
        status.contains("| KIND | NAMESPACE | NAME | HEALTH |")
            && status.contains(&format!("| ConfigMap | {} | settings | Healthy |", ns.name)),
        "{status}"
    );
    let history = markdown("history");
    assert_eq!(
        history.matches("| succeeded |").count(),
        3,
        "one row per apply:\n{history}"
    );

    let never = Gitops::new(["status", "--name", "never-applied", "-n", &ns.name])
        .on_cluster()
        .run();
    never.expect_code(0);
    assert!(never.stdout.contains("never applied"), "{}", never.stdout);
}

#[test]
fn a_second_apply_of_the_same_target_fails_fast_naming_the_holder() {
    let ns = TestNamespace::new("apply-lease");
    apply_as("shop", &ns.name, &app(&ns.name), &[]).expect_code(0);
    let changed = app(&ns.name).replace("api:1", "api:2");
    let first = {
        let (name, changed) = (ns.name.clone(), changed.clone());
        std::thread::spawn(move || {
            let repo = repo_with(&changed);
            // Waits for a Deployment that never becomes available (no kubelet here).
            gitops_apply(
                repo.path(),
                &[".", "--name", "shop", "-n", &name, "--timeout", "15s"],
            )
        })
    };
    std::thread::sleep(Duration::from_secs(4));
    let started = Instant::now();
    let second = apply_as("shop", &ns.name, &changed, &[]);
    second.expect_code(1);
    assert!(started.elapsed() < Duration::from_secs(10), "fails fast");
    assert!(
        second.stderr.contains("target shop is being applied by")
            && second.stderr.contains("since"),
        "{}",
        second.stderr
    );
    first.join().unwrap().expect_code(3);
    // Released at the end: the next run goes ahead.
    apply_as("shop", &ns.name, &changed, &[]).expect_code(0);
}

#[test]
fn the_first_apply_into_a_new_namespace_holds_the_lease_too() {
    let cleanup = TestNamespace::not_created("apply-first-lease");
    let ns = cleanup.name.clone();
    let content = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {ns}\n---\n{}",
        app(&ns)
    );
    let first = {
        let (ns, content) = (ns.clone(), content.clone());
        std::thread::spawn(move || {
            let repo = repo_with(&content);
            // Waits for a Deployment that never becomes available (no kubelet here).
            gitops_apply(
                repo.path(),
                &[".", "--name", "shop", "-n", &ns, "--timeout", "15s"],
            )
        })
    };
    // The namespace did not exist when the run started; it takes the lease as soon as it has
    // written the Namespace, before anything else.
    let deadline = Instant::now() + Duration::from_secs(10);
    while kubectl(&["-n", &ns, "get", "lease", "gitops-shop"], None).code != 0 {
        assert!(
            Instant::now() < deadline,
            "the first apply never took its lease"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let second = apply_as("shop", &ns, &content, &[]);
    second.expect_code(1);
    assert!(
        second.stderr.contains("target shop is being applied by"),
        "{}",
        second.stderr
    );
    first.join().unwrap().expect_code(3);
    let lease = kubectl(&["-n", &ns, "get", "lease", "gitops-shop"], None);
    assert_ne!(lease.code, 0, "released at the end");
}

#[test]
fn an_api_server_dying_mid_apply_stops_with_what_was_done_and_a_rerun_converges() {
    let ns = TestNamespace::new("apply-dies");
    let mut content = app(&ns.name);
    for i in 0..10 {
        content.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: late-{i}\n  namespace: {}\n  annotations: {{gitops.dev/wave: \"1\"}}\ndata: {{a: b}}\n",
            ns.name
        ));
    }
    let repo = repo_with(&content);
    let env = testenv();
    let proxy = common::proxy::FaultProxy::start(&common::proxy::upstream_of(&env.kubeconfig));
    let kubeconfig = proxy.kubeconfig(&env.kubeconfig, repo.path());
    let args = |extra: &[&str]| -> Vec<String> {
        let mut all: Vec<String> = [
            "apply",
            ".",
            "--name",
            "shop",
            "-n",
            &ns.name,
            "--kubeconfig",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        all.push(kubeconfig.display().to_string());
        all.extend(extra.iter().map(|s| s.to_string()));
        all
    };
    let first = {
        let (dir, args) = (repo.path().to_path_buf(), args(&["--timeout", "60s"]));
        std::thread::spawn(move || Gitops::new(args).current_dir(dir).run())
    };
    // Wave 0 is written and awaited (the Deployment never becomes available): the server dies.
    let deadline = Instant::now() + Duration::from_secs(30);
    while kubectl(&["-n", &ns.name, "get", "deployment", "api"], None).code != 0 {
        assert!(Instant::now() < deadline, "wave 0 was never written");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    let killed = Instant::now();
    proxy.kill();
    let run = first.join().unwrap();
    run.expect_code(1);
    assert!(
        // Retries give the server up to 30 s per request to come back (docs/reliability.md).
        killed.elapsed() < Duration::from_secs(60),
        "stopped in bounded time: {:?}",
        killed.elapsed()
    );
    let applied_line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("applied:"))
        .unwrap_or_default();
    let pending_line = run
        .stderr
        .lines()
        .find(|l| l.starts_with("not applied:"))
        .unwrap_or_default();
    assert!(applied_line.contains("Deployment"), "{}", run.stderr);
    assert!(pending_line.contains("late-0"), "{}", run.stderr);
    let names = object_names(&ns.name, "configmaps");
    assert!(
        !names.contains("late-0"),
        "wave 1 must not be written:\n{names}"
    );

    proxy.revive();
    let rerun = Gitops::new(args(&["--no-wait"]))
        .current_dir(repo.path())
        .run();
    rerun.expect_code(0);
    assert!(
        rerun
            .stderr
            .contains("target shop: applied; health not checked (--no-wait)"),
        "without waiting nothing claims health:\n{}",
        rerun.stderr
    );
    let names = object_names(&ns.name, "configmaps");
    for i in 0..10 {
        assert!(names.contains(&format!("configmap/late-{i}\n")), "{names}");
    }
    let members = common::inventory::members(&ns.name, "shop");
    assert_eq!(members.len(), 13, "every object once: {members:?}");
}

#[test]
fn a_namespace_made_by_create_namespace_is_never_pruned() {
    let demo = fixture("demo");
    let target = ["--target", "podinfo-staging", "--no-wait"];
    gitops_apply(&demo, &target).expect_code(0);
    let again = gitops_apply(&demo, &target);
    again.expect_code(0);
    assert!(again.stdout.contains("0 to delete"), "{}", again.stdout);
    let namespace = get_json(&["namespace", "podinfo-staging"]);
    assert!(
        namespace["metadata"]["deletionTimestamp"].is_null(),
        "{namespace:#}"
    );
    let deployment = get_json(&[
        "-n",
        "podinfo-staging",
        "deployment",
        "podinfo-podinfo-lite",
    ]);
    assert_eq!(
        deployment["spec"]["replicas"], 2,
        "helm --set replicaCount=2"
    );
}

#[test]
fn nothing_is_written_when_an_object_of_a_new_namespace_fails_validation() {
    let ns = common::cluster::unique_name("apply-new-ns");
    let content = format!(
        "apiVersion: v1\nkind: Namespace\nmetadata: {{name: {ns}}}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {{name: fine, namespace: {ns}}}\ndata: {{a: b}}\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: broken, namespace: {ns}}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: broken}}}}\n  template:\n    metadata: {{labels: {{app: other}}}}\n    spec:\n      containers: [{{name: c, image: x}}]\n"
    );
    let repo = repo_with(&content);
    let run = gitops_apply(
        repo.path(),
        &[".", "--name", "new-ns", "-n", &ns, "--no-wait"],
    );
    run.expect_code(1);
    assert!(
        run.stderr.contains("selector") && run.stderr.contains("broken"),
        "{}",
        run.stderr
    );
    let namespaces = kubectl_ok(&["get", "namespaces", "-o", "name"], None);
    assert!(
        !namespaces.contains(&format!("namespace/{ns}\n")),
        "the namespace must not be created"
    );
    // A field the schema does not know (a typo) is refused too, with the field: a plain create
    // would drop it without a word, and the write would fail after the namespace was created.
    let valid = content.replace("app: other", "app: broken");
    let typo = valid.replace("image: x}", "image: x, imagePullPolicyy: Always}");
    let run = gitops_apply(
        repo_with(&typo).path(),
        &[".", "--name", "new-ns", "-n", &ns, "--no-wait"],
    );
    run.expect_code(1);
    assert!(
        run.stderr.contains("imagePullPolicyy") && run.stderr.contains("broken"),
        "{}",
        run.stderr
    );
    let namespaces = kubectl_ok(&["get", "namespaces", "-o", "name"], None);
    assert!(
        !namespaces.contains(&format!("namespace/{ns}\n")),
        "the namespace must not be created for a render with an unknown field"
    );
    // A valid render of a new namespace is validated the same way, then applied.
    let run = gitops_apply(
        repo_with(&valid).path(),
        &[".", "--name", "new-ns", "-n", &ns, "--no-wait"],
    );
    run.expect_code(0);
    assert!(
        run.stdout
            .contains("validated by a server dry-run in namespace default"),
        "{}",
        run.stdout
    );
    kubectl_ok(&["delete", "namespace", &ns, "--wait=false"], None);
}

#[test]
fn a_cancelled_apply_gives_its_lease_back() {
    let ns = TestNamespace::new("apply-cancel");
    let repo = repo_with(&app(&ns.name));
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_gitops"))
        .args([
            "apply",
            ".",
            "--name",
            "shop",
            "-n",
            &ns.name,
            "--timeout",
            "60s",
        ])
        .current_dir(repo.path())
        .env("KUBECONFIG", &testenv().kubeconfig)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("gitops starts");
    // Wait until it waits for the Deployment (the lease is held by then).
    let deadline = Instant::now() + Duration::from_secs(30);
    while kubectl(&["-n", &ns.name, "get", "deployment", "api"], None).code != 0 {
        assert!(
            Instant::now() < deadline,
            "the apply never got to the Deployment"
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill runs");
    let output = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("stopped by SIGTERM"), "{stderr}");
    let lease = kubectl(&["-n", &ns.name, "get", "lease", "gitops-shop"], None);
    assert_ne!(lease.code, 0, "the lease was given back: {}", lease.stdout);
    // No 60-second wait for an expired lease: the next run goes ahead at once.
    apply_as("shop", &ns.name, &app(&ns.name), &[]).expect_code(0);
}

#[test]
fn history_records_the_commit_author_and_subject() {
    let ns = TestNamespace::new("apply-revision");
    let repo = repo_with(&app(&ns.name));
    let git = |args: &[&str]| {
        let output = std::process::Command::new("git")
            .args(args)
            .current_dir(repo.path())
            .env("GIT_AUTHOR_NAME", "Alice Example")
            .env("GIT_AUTHOR_EMAIL", "alice@example.com")
            .env("GIT_COMMITTER_NAME", "Alice Example")
            .env("GIT_COMMITTER_EMAIL", "alice@example.com")
            .output()
            .expect("git runs");
        assert!(
            output.status.success(),
            "git {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).trim().to_owned()
    };
    git(&["init", "-q"]);
    git(&["add", "."]);
    git(&[
        "commit",
        "-q",
        "-m",
        "Deploy the shop\n\nWith a body that is not the subject.",
    ]);
    let commit = git(&["rev-parse", "HEAD"]);
    gitops_apply(
        repo.path(),
        &[".", "--name", "shop", "-n", &ns.name, "--no-wait"],
    )
    .expect_code(0);
    let history = Gitops::new(["history", "--name", "shop", "-n", &ns.name, "-o", "json"])
        .on_cluster()
        .run();
    history.expect_code(0);
    let history: Value = serde_json::from_str(&history.stdout).unwrap();
    let entry = &history["history"][0];
    assert_eq!(entry["revision"], commit.as_str(), "{history:#}");
    assert_eq!(entry["author"], "Alice Example", "{history:#}");
    assert_eq!(entry["subject"], "Deploy the shop", "{history:#}");
}

/// The test API server's address and CA certificate (PEM), as a pod would be given them.
fn server_and_ca() -> ((String, u16), Vec<u8>) {
    use base64::Engine;
    let view: Value = serde_json::from_str(&kubectl_ok(
        &["config", "view", "--raw", "--minify", "-o", "json"],
        None,
    ))
    .unwrap();
    let cluster = &view["clusters"][0]["cluster"];
    let server = cluster["server"].as_str().unwrap();
    let authority = server.trim_start_matches("https://").trim_end_matches('/');
    let (host, port) = authority.rsplit_once(':').unwrap();
    let ca = match cluster["certificate-authority-data"].as_str() {
        Some(data) => base64::engine::general_purpose::STANDARD
            .decode(data)
            .unwrap(),
        None => std::fs::read(cluster["certificate-authority"].as_str().unwrap()).unwrap(),
    };
    ((host.to_owned(), port.parse().unwrap()), ca)
}

/// In a pod, with no kubeconfig, kube takes the service account's namespace; Helm, the plan, the
/// lease and the inventory must all use that same namespace (gitops once rendered the chart for
/// `default` and applied it to the service account's namespace).
#[test]
fn in_a_pod_every_stage_uses_the_service_accounts_namespace() {
    let ns = TestNamespace::new("in-pod");
    let binding = format!("{}-deployer", ns.name);
    kubectl_ok(
        &["-n", &ns.name, "create", "serviceaccount", "deployer"],
        None,
    );
    kubectl_ok(
        &[
            "create",
            "clusterrolebinding",
            &binding,
            "--clusterrole=cluster-admin",
            &format!("--serviceaccount={}:deployer", ns.name),
        ],
        None,
    );
    let token = kubectl_ok(&["-n", &ns.name, "create", "token", "deployer"], None);
    let (server, ca) = server_and_ca();
    let pod = tempfile::tempdir().unwrap();
    let account = pod.path().join("serviceaccount");
    std::fs::create_dir(&account).unwrap();
    std::fs::write(account.join("token"), token.trim()).unwrap();
    std::fs::write(account.join("ca.crt"), ca).unwrap();
    std::fs::write(account.join("namespace"), &ns.name).unwrap();
    let chart = temp_tree(&[
        ("Chart.yaml", "apiVersion: v2\nname: probe\nversion: 0.1.0\n"),
        (
            "templates/configmap.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: rendered-for\ndata:\n  namespace: {{ .Release.Namespace | quote }}\n",
        ),
    ]);
    let in_pod = |args: &[&str]| {
        Gitops::in_pod(&account, (&server.0, server.1), pod.path(), args)
            .current_dir(chart.path())
            .run()
    };

    let run = in_pod(&["apply", ".", "--name", "in-pod"]);
    kubectl(&["delete", "clusterrolebinding", &binding], None);
    run.expect_code(0);
    let rendered = get_json(&["-n", &ns.name, "configmap", "rendered-for"]);
    assert_eq!(
        rendered["data"]["namespace"], ns.name,
        "Helm rendered for another namespace than the one the object was applied to"
    );
    let inventory = get_json(&["-n", &ns.name, "configmap", "gitops-in-pod"]);
    assert!(
        inventory["data"]["members"]
            .as_str()
            .unwrap()
            .contains("rendered-for"),
        "{inventory:#}"
    );
    assert!(
        kubectl(&["-n", "default", "get", "configmap", "rendered-for"], None).code != 0,
        "nothing goes to the default namespace"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn skip_dry_run_on_missing_resource_waits_for_the_kind_an_earlier_wave_brings() {
    let ns = TestNamespace::new("apply-deferred");
    let group = format!("{}.example.com", ns.name);
    // Wave 0 stands for an operator; its CRD appears only once the operator runs.
    let operator = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: operator\n  namespace: {}\n",
        ns.name
    );
    let widget = format!(
        "apiVersion: {group}/v1\nkind: Widget\nmetadata:\n  name: w\n  namespace: {}\n  annotations:\n    argocd.argoproj.io/sync-wave: \"1\"\n    argocd.argoproj.io/sync-options: SkipDryRunOnMissingResource=true\nspec:\n  size: 3\n",
        ns.name
    );
    let render = format!("{operator}---\n{widget}");
    // Without the option the plan refuses the unknown kind, before any write.
    let refused = apply_as(
        "deferred",
        &ns.name,
        &widget.replace("SkipDryRunOnMissingResource=true", "Validate=true"),
        &[],
    );
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("kind Widget of"),
        "{}",
        refused.stderr
    );

    let repo = repo_with(&render);
    let (dir, name) = (repo.path().to_path_buf(), ns.name.clone());
    let run = tokio::task::spawn_blocking(move || {
        gitops_apply(
            &dir,
            &[
                ".",
                "--name",
                "deferred",
                "-n",
                &name,
                "--no-wait",
                "--timeout",
                "60s",
            ],
        )
    });
    // The "operator" registers its CRD once its wave is written.
    common::wait_for("wave 0", Duration::from_secs(30), || async {
        (kubectl(&["-n", &ns.name, "get", "configmap", "operator"], None).code == 0).then_some(())
    })
    .await;
    let crd = crd_with_status(&group);
    let crd = &crd[..crd.find("status:").unwrap()];
    kubectl_ok(&["apply", "-f", "-"], Some(crd));
    let run = run.await.unwrap();
    run.expect_code(0);
    let size = kubectl_ok(
        &[
            "-n",
            &ns.name,
            "get",
            &format!("widgets.{group}"),
            "w",
            "-o",
            "jsonpath={.spec.size}",
        ],
        None,
    );
    assert_eq!(size, "3");
    // Served now: the next plan resolves it like any object, and finds nothing to do.
    let repo = repo_with(&render);
    let diff = Gitops::new(["diff", ".", "--name", "deferred", "-n", &ns.name])
        .current_dir(repo.path())
        .on_cluster()
        .run();
    diff.expect_code(0);

    // A kind that never comes fails at its wave, by the run's timeout, naming the option.
    let never = widget.replace(&group, &format!("never.{group}"));
    let run = apply_as("never", &ns.name, &never, &["--timeout", "5s"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("still does not serve kind Widget")
            && run
                .stderr
                .contains("SkipDryRunOnMissingResource=true defers an object to its wave"),
        "{}",
        run.stderr
    );
}

#[test]
fn replace_true_writes_what_server_side_apply_refuses() {
    let ns = TestNamespace::new("apply-replace");
    // Duplicate env names: accepted by create and replace, refused by server-side apply.
    let deployment = |options: &str, value: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: legacy\n  namespace: {}\n  annotations:\n    argocd.argoproj.io/sync-options: {options}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: legacy}}\n  template:\n    metadata:\n      labels: {{app: legacy}}\n    spec:\n      containers:\n      - name: app\n        image: registry.example.com/legacy:1\n        env:\n        - {{name: MODE, value: a}}\n        - {{name: MODE, value: {value}}}\n",
            ns.name
        )
    };
    let refused = apply_as("legacy", &ns.name, &deployment("Validate=true", "b"), &[]);
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("duplicate entries"),
        "{}",
        refused.stderr
    );
    assert_eq!(object_names(&ns.name, "deployments").trim(), "");

    let run = apply_as("legacy", &ns.name, &deployment("Replace=true", "b"), &[]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("written with a create (argocd.argoproj.io/sync-options: Replace=true): the server refused server-side apply"),
        "{}",
        run.stdout
    );
    let env = || {
        kubectl_ok(
            &[
                "-n",
                &ns.name,
                "get",
                "deployment",
                "legacy",
                "-o",
                "jsonpath={.spec.template.spec.containers[0].env[*].value}",
            ],
            None,
        )
    };
    assert_eq!(env(), "a b");
    // A change is a replace of the live version; an unchanged object is no change.
    let run = apply_as("legacy", &ns.name, &deployment("Replace=true", "c"), &[]);
    run.expect_code(0);
    assert!(
        run.stdout.contains("written with a replace"),
        "{}",
        run.stdout
    );
    assert_eq!(env(), "a c");
    let repo = repo_with(&deployment("Replace=true", "c"));
    let diff = Gitops::new(["diff", ".", "--name", "legacy", "-n", &ns.name])
        .current_dir(repo.path())
        .on_cluster()
        .run();
    diff.expect_code(0);
}
