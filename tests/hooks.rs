//! Argo CD and Helm hooks on the real control plane: phases in order, failures that stop the
//! run, delete policies, hooks never members. A stand-in ends hook Pods (Succeeded or Failed)
//! the way a kubelet would, and the Job controller of the control plane does the rest.

mod common;

use std::path::Path;
use std::time::Duration;

use common::cli::{temp_tree, Gitops, Run};
use common::kubectl::{kubectl, kubectl_ok, TestNamespace};
use common::{testenv, PodEndings, PodFinisher};
use serde_json::Value;

fn gitops_in(dir: &Path, args: &[&str]) -> Run {
    Gitops::new(args.to_vec())
        .current_dir(dir)
        .on_cluster()
        .run()
}

async fn in_background<T: Send + 'static>(work: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(work)
        .await
        .expect("the gitops run finishes")
}

/// `gitops apply . --name app -n NS --timeout T`, to run off the test's runtime.
fn apply_app(dir: &Path, ns: &str, timeout: &str) -> impl FnOnce() -> Run + Send + 'static {
    let (dir, ns, timeout) = (dir.to_path_buf(), ns.to_owned(), timeout.to_owned());
    move || {
        gitops_in(
            &dir,
            &[
                "apply",
                ".",
                "--name",
                "app",
                "-n",
                &ns,
                "--timeout",
                &timeout,
            ],
        )
    }
}

/// The app with these hooks beside it.
fn app_with(hooks: &[String]) -> tempfile::TempDir {
    temp_tree(&[("app.yaml", APP), ("hooks.yaml", &hooks.join("---\n"))])
}

/// A Job hook: `name: NAME` or `generateName: NAME`, with its annotations.
fn job(name_field: &str, name: &str, annotations: &[(&str, &str)]) -> String {
    let annotations: String = annotations
        .iter()
        .map(|(k, v)| format!("    {k}: \"{v}\"\n"))
        .collect();
    format!(
        "apiVersion: batch/v1\nkind: Job\nmetadata:\n  {name_field}: {name}\n  annotations:\n{annotations}spec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: run\n        image: registry.example.com/tools:1\n"
    )
}

const APP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\ndata:\n  LEVEL: info\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {app: web}\n  template:\n    metadata:\n      labels: {app: web}\n    spec:\n      containers:\n      - name: web\n        image: registry.example.com/web:1\n";

/// The Jobs of the namespace: name → JSON.
fn jobs(ns: &str) -> Vec<Value> {
    let list: Value =
        serde_json::from_str(&kubectl_ok(&["-n", ns, "get", "jobs", "-o", "json"], None)).unwrap();
    list["items"].as_array().cloned().unwrap_or_default()
}

fn job_names(ns: &str) -> Vec<String> {
    let mut names: Vec<String> = jobs(ns)
        .iter()
        .filter(|j| j["metadata"]["deletionTimestamp"].is_null())
        .map(|j| j["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    names.sort();
    names
}

fn exists(ns: &str, what: &str) -> bool {
    kubectl(&["-n", ns, "get", what], None).code == 0
}

fn history_record(dir: &Path, ns: &str, number: &str) -> Value {
    let run = gitops_in(
        dir,
        &[
            "history", "--name", "app", "-n", ns, "--show", number, "-o", "json",
        ],
    );
    run.expect_code(0);
    serde_json::from_str::<Value>(&run.stdout).unwrap()["record"].clone()
}

fn hook_results(record: &Value) -> Vec<(String, String)> {
    record["hooks"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|h| {
            (
                h["phase"].as_str().unwrap().to_owned(),
                h["result"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pre_sync_runs_before_any_object_and_post_sync_after_health() {
    let ns = TestNamespace::new("hooks-order");
    let dir = app_with(&[
        job(
            "generateName",
            "migrate-",
            &[("argocd.argoproj.io/hook", "PreSync")],
        ),
        job(
            "name",
            "smoke",
            &[
                ("argocd.argoproj.io/hook", "PostSync"),
                ("argocd.argoproj.io/hook-delete-policy", "HookSucceeded"),
            ],
        ),
    ]);
    let apply = tokio::task::spawn_blocking(apply_app(dir.path(), &ns.name, "120s"));
    let client = testenv().client().await;
    // The PreSync Job exists, and waits for its Pod: nothing of the sync is written yet.
    common::wait_for("the PreSync Job", Duration::from_secs(60), || async {
        job_names(&ns.name)
            .iter()
            .any(|n| n.starts_with("migrate-"))
            .then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert!(
        !exists(&ns.name, "configmap/settings"),
        "written before PreSync completed"
    );
    assert!(
        !exists(&ns.name, "deployment/web"),
        "written before PreSync completed"
    );
    // Hook Pods end; the Deployment's Pods do not become ready yet.
    let finisher = PodFinisher::start(&client, &ns.name, PodEndings::default());
    common::wait_for("the Deployment", Duration::from_secs(60), || async {
        exists(&ns.name, "deployment/web").then_some(())
    })
    .await;
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !job_names(&ns.name).contains(&"smoke".to_owned()),
        "PostSync ran before the Deployment was healthy"
    );
    finisher.set(PodEndings {
        workloads_ready: true,
        ..PodEndings::default()
    });
    let run = apply.await.unwrap();
    run.expect_code(0);
    assert!(
        run.stderr.contains("hook PreSync batch/v1 Job")
            && run.stderr.contains("hook PostSync batch/v1 Job"),
        "{}",
        run.stderr
    );
    // HookSucceeded removed the PostSync Job; the generated PreSync Job stays, as in Argo CD.
    let after_first = job_names(&ns.name);
    assert_eq!(after_first.len(), 1, "{after_first:?}");
    assert!(after_first[0].starts_with("migrate-"));
    let record = history_record(dir.path(), &ns.name, "1");
    assert_eq!(
        hook_results(&record),
        [
            ("PreSync".to_owned(), "succeeded".to_owned()),
            ("PostSync".to_owned(), "succeeded".to_owned())
        ]
    );

    // The plan lists the hooks without counting them; hooks are neither changes nor drift.
    let diff = gitops_in(
        dir.path(),
        &["diff", ".", "--name", "app", "-n", &ns.name, "-o", "json"],
    );
    diff.expect_code(0);
    let plan: Value = serde_json::from_str(&diff.stdout).unwrap();
    assert_eq!(plan["changes"], serde_json::json!([]));
    let listed: Vec<(String, String)> = plan["hooks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| {
            (
                h["phase"].as_str().unwrap().to_owned(),
                h["name"]
                    .as_str()
                    .or(h["generateName"].as_str())
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    assert_eq!(
        listed,
        [
            ("PreSync".to_owned(), "migrate-".to_owned()),
            ("PostSync".to_owned(), "smoke".to_owned())
        ]
    );
    assert!(common::schema::violations("plan", &plan).is_empty());
    let text = gitops_in(dir.path(), &["diff", ".", "--name", "app", "-n", &ns.name]);
    text.expect_code(0);
    assert!(
        text.stdout.contains(&format!(
            "hook PreSync batch/v1 Job {}/migrate-* (wave 0, delete: BeforeHookCreation)",
            ns.name
        )),
        "{}",
        text.stdout
    );

    // A second apply runs the hooks again: a new generated Job beside the first, never pruned.
    let run = in_background(apply_app(dir.path(), &ns.name, "120s")).await;
    run.expect_code(0);
    let after_second = job_names(&ns.name);
    assert_eq!(after_second.len(), 2, "{after_second:?}");
    assert!(after_second.contains(&after_first[0]));
    let members = kubectl_ok(
        &[
            "-n",
            &ns.name,
            "get",
            "jobs",
            "-l",
            "applyset.kubernetes.io/part-of",
            "-o",
            "name",
        ],
        None,
    );
    assert_eq!(members.trim(), "", "hooks are never members");
    drop(finisher);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_pre_sync_hook_stops_the_run_and_sync_fail_runs() {
    let ns = TestNamespace::new("hooks-fail");
    let dir = app_with(&[
        job("name", "migrate", &[("argocd.argoproj.io/hook", "PreSync")]),
        job(
            "generateName",
            "page-oncall-",
            &[("argocd.argoproj.io/hook", "SyncFail")],
        ),
    ]);
    let client = testenv().client().await;
    let _finisher = PodFinisher::start(
        &client,
        &ns.name,
        PodEndings {
            failing: vec!["migrate".into()],
            workloads_ready: true,
        },
    );
    let run = in_background(apply_app(dir.path(), &ns.name, "120s")).await;
    run.expect_code(1);
    assert!(
        run.stderr.contains(&format!(
            "hook PreSync batch/v1 Job {}/migrate failed: Job failed: BackoffLimitExceeded",
            ns.name
        )) && run.stderr.contains("applied: nothing"),
        "{}",
        run.stderr
    );
    assert!(!exists(&ns.name, "configmap/settings"));
    assert!(!exists(&ns.name, "deployment/web"));
    let names = job_names(&ns.name);
    assert!(
        names.iter().any(|n| n.starts_with("page-oncall-")),
        "SyncFail ran: {names:?}"
    );
    let record = history_record(dir.path(), &ns.name, "1");
    assert_eq!(record["result"], "failed");
    assert_eq!(
        hook_results(&record),
        [
            ("PreSync".to_owned(), "failed".to_owned()),
            ("SyncFail".to_owned(), "succeeded".to_owned())
        ]
    );
}

#[test]
fn a_pre_sync_hook_that_never_finishes_exits_3_with_nothing_written() {
    let ns = TestNamespace::new("hooks-stuck");
    let hooks = job("name", "migrate", &[("argocd.argoproj.io/hook", "PreSync")]);
    let dir = temp_tree(&[("app.yaml", APP), ("hooks.yaml", &hooks)]);
    let run = gitops_in(
        dir.path(),
        &[
            "apply",
            ".",
            "--name",
            "app",
            "-n",
            &ns.name,
            "--timeout",
            "4s",
        ],
    );
    run.expect_code(3);
    assert!(
        run.stderr.contains(&format!(
            "hook PreSync batch/v1 Job {}/migrate: did not complete in time",
            ns.name
        )),
        "{}",
        run.stderr
    );
    assert!(!exists(&ns.name, "configmap/settings"));
    assert!(!exists(&ns.name, "deployment/web"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sync_fail_runs_when_a_deployment_fails_its_rollout_and_named_hooks_are_replaced() {
    let ns = TestNamespace::new("hooks-rollout");
    let dir = app_with(&[
        job("name", "migrate", &[("argocd.argoproj.io/hook", "PreSync")]),
        job(
            "name",
            "rollback-db",
            &[("argocd.argoproj.io/hook", "SyncFail")],
        ),
    ]);
    let client = testenv().client().await;
    // Hook Pods end; the Deployment never becomes available.
    let finisher = PodFinisher::start(&client, &ns.name, PodEndings::default());
    let run = in_background(apply_app(dir.path(), &ns.name, "8s")).await;
    run.expect_code(3);
    assert!(exists(&ns.name, "job/rollback-db"), "SyncFail ran");
    let record = history_record(dir.path(), &ns.name, "1");
    assert_eq!(record["result"], "unhealthy");
    assert_eq!(
        hook_results(&record),
        [
            ("PreSync".to_owned(), "succeeded".to_owned()),
            ("SyncFail".to_owned(), "succeeded".to_owned())
        ]
    );
    // BeforeHookCreation (the default): the next run deletes the named hook and creates it anew.
    let uid = |job: &str| {
        kubectl_ok(
            &[
                "-n",
                &ns.name,
                "get",
                "job",
                job,
                "-o",
                "jsonpath={.metadata.uid}",
            ],
            None,
        )
    };
    let first = uid("migrate");
    finisher.set(PodEndings {
        workloads_ready: true,
        ..PodEndings::default()
    });
    let run = in_background(apply_app(dir.path(), &ns.name, "120s")).await;
    run.expect_code(0);
    let second = uid("migrate");
    assert_ne!(first, second, "the named hook was created anew");
}

#[test]
fn a_hook_may_not_take_an_object_of_another_target() {
    let ns = TestNamespace::new("hooks-other");
    let owned = temp_tree(&[(
        "app.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n",
    )]);
    gitops_in(
        owned.path(),
        &["apply", ".", "--name", "owner", "-n", &ns.name, "--no-wait"],
    )
    .expect_code(0);
    let hook = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: shared\n  annotations:\n    argocd.argoproj.io/hook: PreSync\n";
    let dir = temp_tree(&[("app.yaml", APP), ("hook.yaml", hook)]);
    let run = gitops_in(dir.path(), &["diff", ".", "--name", "app", "-n", &ns.name]);
    run.expect_code(1);
    assert!(
        run.stderr.contains("hook.yaml:1 (document 1)")
            && run.stderr.contains("belongs to another target"),
        "{}",
        run.stderr
    );
    let labels = kubectl_ok(
        &[
            "-n",
            &ns.name,
            "get",
            "configmap",
            "shared",
            "-o",
            "jsonpath={.metadata.labels}",
        ],
        None,
    );
    assert!(
        labels.contains("applyset.kubernetes.io/part-of"),
        "still the owner's: {labels}"
    );
}

/// A chart whose migration runs as a Helm pre-install/pre-upgrade hook, with a test Pod.
fn chart(dir: &Path, version: &str) {
    let files = [
        ("chart/Chart.yaml", format!("apiVersion: v2\nname: shop\nversion: {version}\n")),
        ("chart/values.yaml", "image: registry.example.com/shop:1\n".to_owned()),
        (
            "chart/templates/app.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {{ .Release.Name }}-settings\ndata:\n  image: {{ .Values.image }}\n".to_owned(),
        ),
        (
            "chart/templates/migrate.yaml",
            "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: {{ .Release.Name }}-migrate\n  annotations:\n    helm.sh/hook: pre-install,pre-upgrade\n    helm.sh/hook-weight: \"-1\"\n    helm.sh/hook-delete-policy: before-hook-creation\nspec:\n  backoffLimit: 0\n  template:\n    spec:\n      restartPolicy: Never\n      containers:\n      - name: migrate\n        image: {{ .Values.image }}\n".to_owned(),
        ),
        (
            "chart/templates/tests/ping.yaml",
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: {{ .Release.Name }}-ping\n  annotations:\n    helm.sh/hook: test\nspec:\n  restartPolicy: Never\n  containers:\n  - name: ping\n    image: busybox\n".to_owned(),
        ),
    ];
    for (path, text) in files {
        let path = dir.join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, text).unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_charts_pre_upgrade_hook_runs_on_every_apply_and_its_test_hook_never() {
    let ns = TestNamespace::new("hooks-helm");
    let dir = tempfile::tempdir().unwrap();
    chart(dir.path(), "1.0.0");
    let client = testenv().client().await;
    let _finisher = PodFinisher::start(&client, &ns.name, PodEndings::default());
    let apply = |dir: &Path| {
        let path = dir.to_path_buf();
        let name = ns.name.clone();
        move || {
            gitops_in(
                &path,
                &[
                    "apply",
                    "chart",
                    "--name",
                    "shop",
                    "-n",
                    &name,
                    "--timeout",
                    "120s",
                ],
            )
        }
    };
    in_background(apply(dir.path())).await.expect_code(0);
    let uid = || {
        kubectl_ok(
            &[
                "-n",
                &ns.name,
                "get",
                "job",
                "shop-migrate",
                "-o",
                "jsonpath={.metadata.uid}",
            ],
            None,
        )
    };
    let first = uid();
    // The upgrade: a new image, and the migration runs again before the ConfigMap changes.
    std::fs::write(
        dir.path().join("chart/values.yaml"),
        "image: registry.example.com/shop:2\n",
    )
    .unwrap();
    let diff = gitops_in(
        dir.path(),
        &["diff", "chart", "--name", "shop", "-n", &ns.name],
    );
    diff.expect_code(2);
    assert!(
        diff.stdout.contains(&format!(
            "hook PreSync batch/v1 Job {}/shop-migrate (wave -1, delete: BeforeHookCreation)",
            ns.name
        )) && diff.stdout.contains("hook not run v1 Pod")
            && diff
                .stdout
                .contains("Helm test hook: apply does not run tests")
            && diff
                .stdout
                .contains("Plan: 0 to create, 1 to update, 0 to delete"),
        "{}",
        diff.stdout
    );
    in_background(apply(dir.path())).await.expect_code(0);
    assert_ne!(first, uid(), "the pre-upgrade hook ran again");
    let image = kubectl_ok(
        &[
            "-n",
            &ns.name,
            "get",
            "job",
            "shop-migrate",
            "-o",
            "jsonpath={.spec.template.spec.containers[0].image}",
        ],
        None,
    );
    assert_eq!(image, "registry.example.com/shop:2");
    assert!(!exists(&ns.name, "pod/shop-ping"), "test hooks are not run");
}
