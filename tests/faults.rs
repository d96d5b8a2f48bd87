//! Faults between gitops and the API server (docs/reliability.md, "Faults and retries"):
//! transient 429s, 5xx, dropped connections, lost answers, stalls and latency are ridden
//! through; a server that stays unavailable stops the run in bounded time, naming what was
//! applied; a rerun converges with nothing lost or duplicated.
//!
//! The faults come from `common::http_proxy::HttpFaultProxy`, a fault-injecting HTTP proxy in
//! front of the real API server.

mod common;

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use common::apiserver::SecondApiServer;
use common::cli::{temp_tree, Gitops, Run};
use common::http_proxy::{Fault, HttpFaultProxy, When};
use common::inventory::members;
use common::kubectl::{kubectl, kubectl_ok, TestNamespace};
use common::{testenv, KubeletStandIn};

/// ConfigMaps `cm-0`…, a ServiceAccount, a Service and a Secret, all in `ns`.
fn objects(ns: &str, configmaps: usize, version: &str) -> String {
    let mut out = String::new();
    for i in 0..configmaps {
        out.push_str(&format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i}, namespace: {ns}}}\ndata: {{version: \"{version}\"}}\n---\n"
        ));
    }
    out.push_str(&format!(
        "apiVersion: v1\nkind: ServiceAccount\nmetadata: {{name: robot, namespace: {ns}}}\n---\n\
         apiVersion: v1\nkind: Service\nmetadata: {{name: web, namespace: {ns}}}\nspec:\n  selector: {{app: web}}\n  ports:\n  - port: 80\n---\n\
         apiVersion: v1\nkind: Secret\nmetadata: {{name: creds, namespace: {ns}}}\nstringData: {{password: hunter2-{version}}}\n"
    ));
    out
}

fn write_repo(dir: &Path, content: &str) {
    std::fs::write(dir.join("app.yaml"), content).unwrap();
}

/// gitops with these arguments against the cluster directly (no proxy).
fn direct(dir: &Path, args: &[&str]) -> Run {
    let env = testenv();
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.extend(["--context".to_owned(), env.admin_context.clone()]);
    Gitops::new(all)
        .current_dir(dir)
        .env("KUBECONFIG", &env.kubeconfig)
        .env("CI", "1")
        .run()
}

/// gitops through the proxy, with `-v`, and a short attempt timeout (stalls are abandoned
/// after 3 s).
fn through(kubeconfig: &Path, dir: &Path, args: &[&str]) -> Run {
    let env = testenv();
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.extend([
        "--kubeconfig".to_owned(),
        kubeconfig.display().to_string(),
        "--context".to_owned(),
        env.admin_context.clone(),
        "-v".to_owned(),
    ]);
    Gitops::new(all)
        .current_dir(dir)
        .env("CI", "1")
        .env("GITOPS_REQUEST_TIMEOUT", "3s")
        .run()
}

fn start_proxy(dir: &Path) -> (HttpFaultProxy, PathBuf) {
    let env = testenv();
    let proxy = HttpFaultProxy::start(&env.kubeconfig, &env.admin_context);
    let kubeconfig = proxy.kubeconfig(&env.kubeconfig, dir);
    (proxy, kubeconfig)
}

/// kind/name → resourceVersion of the objects gitops manages in `ns` (not the inventory).
fn versions(ns: &str) -> Vec<String> {
    let mut lines: Vec<String> = kubectl_ok(
        &[
            "-n",
            ns,
            "get",
            "configmaps,secrets,services,serviceaccounts",
            "-l",
            "applyset.kubernetes.io/part-of",
            "-o",
            "jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.resourceVersion}{\"\\n\"}{end}",
        ],
        None,
    )
    .lines()
    .map(str::to_owned)
    .collect();
    lines.sort();
    lines
}

fn assert_no_faults_left(proxy: &HttpFaultProxy) {
    let left = proxy.faults_left();
    assert!(left.is_empty(), "faults that never happened: {left:?}");
}

#[test]
fn diff_rides_through_503s_429s_dropped_connections_and_latency() {
    let ns = TestNamespace::new("faults-diff");
    let repo = temp_tree(&[]);
    write_repo(repo.path(), &objects(&ns.name, 5, "1"));
    let args = [
        "diff", ".", "--name", "shop", "-n", &ns.name, "--color", "never",
    ];
    direct(
        repo.path(),
        &["apply", ".", "--name", "shop", "-n", &ns.name],
    )
    .expect_code(0);
    write_repo(repo.path(), &objects(&ns.name, 5, "2"));
    let clean = direct(repo.path(), &args);
    clean.expect_code(2);

    let (proxy, kubeconfig) = start_proxy(repo.path());
    proxy.inject(When::method("GET"), Fault::Status(503), 2);
    proxy.inject(When::method("GET"), Fault::Drop, 2);
    proxy.inject(
        When::method("PATCH").dry_run(),
        Fault::TooManyRequests {
            retry_after_seconds: 1,
        },
        1,
    );
    proxy.inject(When::method("PATCH").dry_run(), Fault::Status(504), 1);
    proxy.inject(When::method("PATCH").dry_run(), Fault::Drop, 1);
    proxy.inject(When::any(), Fault::Latency(Duration::from_millis(200)), 5);
    let run = through(&kubeconfig, repo.path(), &args);
    run.expect_code(2);
    assert_eq!(run.stdout, clean.stdout, "the same plan as without faults");
    assert_no_faults_left(&proxy);
    assert!(run.stderr.contains("retrying in"), "{}", run.stderr);
    assert!(run.stderr.contains("(Retry-After)"), "{}", run.stderr);
    assert!(!run.stderr.contains(proxy.token()), "no credentials in -v");
    assert!(!run.stderr.contains("hunter2"), "no Secret values in -v");

    // Retry-After: 1 was honoured: the same request came back at least a second later.
    let seen = proxy.seen();
    let limited = seen
        .iter()
        .position(|s| matches!(s.fault, Some(Fault::TooManyRequests { .. })))
        .unwrap();
    let again = seen[limited + 1..]
        .iter()
        .find(|s| s.method == seen[limited].method && s.path == seen[limited].path)
        .expect("the request was retried");
    assert!(
        again.at.duration_since(seen[limited].at) >= Duration::from_millis(950),
        "retried after {:?}",
        again.at.duration_since(seen[limited].at)
    );
}

/// A load balancer that resets or closes the first connections before the API server ever
/// answered: more failures than a refused connection gets (3), fewer than the budget (10).
#[test]
fn resets_and_early_closes_before_the_first_answer_get_the_whole_retry_budget() {
    let ns = TestNamespace::new("faults-reset");
    let repo = temp_tree(&[]);
    write_repo(repo.path(), &objects(&ns.name, 3, "1"));
    let args = [
        "diff", ".", "--name", "shop", "-n", &ns.name, "--color", "never",
    ];
    let clean = direct(repo.path(), &args);
    clean.expect_code(2);

    let (proxy, kubeconfig) = start_proxy(repo.path());
    proxy.inject(When::any(), Fault::Reset, 3);
    proxy.inject(When::any(), Fault::Drop, 3);
    let run = through(&kubeconfig, repo.path(), &args);
    run.expect_code(2);
    assert_eq!(run.stdout, clean.stdout, "the same plan as without faults");
    assert_no_faults_left(&proxy);
    let seen = proxy.seen();
    assert!(
        seen.iter().take(6).all(|s| s.fault.is_some()),
        "the first six requests failed before any answer: {seen:?}"
    );
    assert!(
        run.stderr.contains("attempt 6 of 10 failed"),
        "{}",
        run.stderr
    );

    // Nothing listening at all still fails fast: three attempts, then exit 1 naming the server.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    let nowhere = repo.path().join("nowhere.kubeconfig");
    std::fs::write(
        &nowhere,
        text.replace(&proxy.address.to_string(), &format!("127.0.0.1:{port}")),
    )
    .unwrap();
    let started = std::time::Instant::now();
    let refused = through(&nowhere, repo.path(), &args);
    refused.expect_code(1);
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "gave up on a refused connection after {:?}",
        started.elapsed()
    );
    assert!(
        refused.stderr.contains("3 attempts made"),
        "{}",
        refused.stderr
    );
}

#[test]
fn apply_rides_through_faults_and_writes_every_object_once() {
    let ns = TestNamespace::new("faults-apply");
    let repo = temp_tree(&[]);
    write_repo(repo.path(), &objects(&ns.name, 8, "1"));
    let apply = ["apply", ".", "--name", "shop", "-n", &ns.name, "--no-wait"];
    let (proxy, kubeconfig) = start_proxy(repo.path());
    // Writes: refused, lost after the server applied them, rate-limited, stalled.
    proxy.inject(When::method("PATCH").real(), Fault::Status(503), 1);
    proxy.inject(When::method("PATCH").real(), Fault::DropAfterForward, 2);
    proxy.inject(
        When::method("PATCH").real(),
        Fault::TooManyRequests {
            retry_after_seconds: 1,
        },
        1,
    );
    proxy.inject(When::method("PATCH").real(), Fault::Stall, 1);
    proxy.inject(When::method("PATCH").real(), Fault::Status(502), 1);
    // Reads and dry-runs.
    proxy.inject(When::method("GET"), Fault::Drop, 1);
    proxy.inject(When::method("GET"), Fault::Status(500), 1);
    proxy.inject(When::method("PATCH").dry_run(), Fault::Status(503), 1);
    proxy.inject(When::any(), Fault::Latency(Duration::from_millis(100)), 10);
    let started = Instant::now();
    let run = through(&kubeconfig, repo.path(), &apply);
    run.expect_code(0);
    assert!(started.elapsed() < Duration::from_secs(60), "bounded");
    assert_no_faults_left(&proxy);
    assert!(!run.stderr.contains(proxy.token()), "no credentials in -v");

    // Every object exactly once, and the cluster is in sync.
    assert_eq!(
        members(&ns.name, "shop").len(),
        11,
        "{:?}",
        members(&ns.name, "shop")
    );
    let names = kubectl_ok(&["-n", &ns.name, "get", "configmaps", "-o", "name"], None);
    for i in 0..8 {
        assert!(names.contains(&format!("configmap/cm-{i}\n")), "{names}");
    }
    direct(
        repo.path(),
        &["diff", ".", "--name", "shop", "-n", &ns.name],
    )
    .expect_code(0);
    let before = versions(&ns.name);
    direct(repo.path(), &apply).expect_code(0);
    assert_eq!(versions(&ns.name), before, "a re-apply writes nothing");

    // Prune through faults: a delete refused (the object is still there: deleted again) and
    // a delete whose answer is lost (re-read: gone, done).
    let mut fewer = objects(&ns.name, 8, "1");
    for i in [6, 7] {
        fewer = fewer.replace(
            &format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: cm-{i}, namespace: {}}}\ndata: {{version: \"1\"}}\n---\n",
                ns.name
            ),
            "",
        );
    }
    write_repo(repo.path(), &fewer);
    proxy.inject(When::method("DELETE"), Fault::Status(503), 1);
    proxy.inject(When::method("DELETE"), Fault::DropAfterForward, 1);
    let run = through(&kubeconfig, repo.path(), &apply);
    run.expect_code(0);
    assert_no_faults_left(&proxy);
    assert!(
        run.stderr.contains("still there; deleting again"),
        "{}",
        run.stderr
    );
    let names = kubectl_ok(&["-n", &ns.name, "get", "configmaps", "-o", "name"], None);
    assert!(
        !names.contains("configmap/cm-6\n") && !names.contains("configmap/cm-7\n"),
        "{names}"
    );
    assert!(names.contains("configmap/cm-5\n"), "{names}");
    assert_eq!(members(&ns.name, "shop").len(), 9);
}

const SHOP: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: NS
data:
  LOG_LEVEL: info
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
"#;

/// Wave 0: a ConfigMap and a Deployment (never available: no kubelet); wave 1: ten ConfigMaps.
fn two_waves(ns: &str) -> String {
    let mut content = SHOP.replace("NS", ns);
    for i in 0..10 {
        content.push_str(&format!(
            "---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: late-{i}\n  namespace: {ns}\n  annotations: {{gitops.dev/wave: \"1\"}}\ndata: {{a: b}}\n"
        ));
    }
    content
}

#[test]
fn a_server_that_stays_unavailable_stops_the_apply_in_bounded_time_and_a_rerun_converges() {
    let ns = TestNamespace::new("faults-down");
    let repo = temp_tree(&[]);
    write_repo(repo.path(), &two_waves(&ns.name));
    let (proxy, kubeconfig) = start_proxy(repo.path());
    let first = {
        let (dir, kubeconfig, ns) = (
            repo.path().to_path_buf(),
            kubeconfig.clone(),
            ns.name.clone(),
        );
        std::thread::spawn(move || {
            through(
                &kubeconfig,
                &dir,
                &["apply", ".", "--name", "shop", "-n", &ns, "--timeout", "5m"],
            )
        })
    };
    // Wave 0 is written and awaited; then every request gets 503 until the run gives up.
    let deadline = Instant::now() + Duration::from_secs(30);
    while kubectl(&["-n", &ns.name, "get", "deployment", "api"], None).code != 0 {
        assert!(Instant::now() < deadline, "wave 0 was never written");
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(1));
    proxy.inject_forever(When::any(), Fault::Status(503));
    let outage = Instant::now();
    let run = first.join().unwrap();
    run.expect_code(1);
    assert!(
        outage.elapsed() < Duration::from_secs(60),
        "gave up in bounded time: {:?}",
        outage.elapsed()
    );
    let line = |prefix: &str| {
        run.stderr
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(line("applied:").contains("Deployment"), "{}", run.stderr);
    assert!(line("not applied:").contains("late-0"), "{}", run.stderr);
    assert!(run.stderr.contains("503"), "{}", run.stderr);
    assert!(run.stderr.contains("giving up"), "{}", run.stderr);
    let names = kubectl_ok(&["-n", &ns.name, "get", "configmaps", "-o", "name"], None);
    assert!(!names.contains("late-0"), "wave 1 is not written:\n{names}");

    // The server is back: the rerun converges, every object once.
    proxy.clear();
    let rerun = through(
        &kubeconfig,
        repo.path(),
        &["apply", ".", "--name", "shop", "-n", &ns.name, "--no-wait"],
    );
    rerun.expect_code(0);
    let names = kubectl_ok(&["-n", &ns.name, "get", "configmaps", "-o", "name"], None);
    for i in 0..10 {
        assert!(names.contains(&format!("configmap/late-{i}\n")), "{names}");
    }
    assert_eq!(members(&ns.name, "shop").len(), 12);
}

/// gitops against a kubeconfig (no proxy), with `-v`.
fn against(kubeconfig: &Path, dir: &Path, args: &[&str]) -> Run {
    let env = testenv();
    let mut all: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    all.extend([
        "--kubeconfig".to_owned(),
        kubeconfig.display().to_string(),
        "--context".to_owned(),
        env.admin_context.clone(),
        "-v".to_owned(),
    ]);
    Gitops::new(all).current_dir(dir).env("CI", "1").run()
}

/// uid of every object gitops manages in `ns`, by kind/name.
fn uids(ns: &str) -> Vec<String> {
    let mut lines: Vec<String> = kubectl_ok(
        &[
            "-n",
            ns,
            "get",
            "configmaps,deployments",
            "-l",
            "applyset.kubernetes.io/part-of",
            "-o",
            "jsonpath={range .items[*]}{.kind}/{.metadata.name}={.metadata.uid}{\"\\n\"}{end}",
        ],
        None,
    )
    .lines()
    .map(str::to_owned)
    .collect();
    lines.sort();
    lines
}

/// Waits until the Deployment `api` of `ns` runs `image` (gitops wrote it and now waits).
async fn until_image(ns: &str, image: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let live = kubectl(
            &[
                "-n",
                ns,
                "get",
                "deployment",
                "api",
                "-o",
                "jsonpath={.spec.template.spec.containers[0].image}",
            ],
            None,
        );
        if live.stdout.ends_with(image) {
            return;
        }
        assert!(Instant::now() < deadline, "{image} was never written");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_api_server_restarted_mid_apply() {
    let ns = TestNamespace::new("faults-restart");
    let repo = temp_tree(&[]);
    let env = testenv();
    let mut server = SecondApiServer::start(env, repo.path());
    let kubeconfig = server.kubeconfig().to_path_buf();
    let apply_in_background = |extra: &'static [&'static str]| {
        let (dir, kubeconfig, ns) = (
            repo.path().to_path_buf(),
            kubeconfig.clone(),
            ns.name.clone(),
        );
        tokio::task::spawn_blocking(move || {
            let mut args = vec!["apply", ".", "--name", "shop", "-n", &ns];
            args.extend_from_slice(extra);
            against(&kubeconfig, &dir, &args)
        })
    };

    // 1. A restart within the retry budget: the same run carries on and succeeds.
    write_repo(repo.path(), &two_waves(&ns.name));
    let first = apply_in_background(&["--timeout", "120s"]);
    until_image(&ns.name, "api:1").await;
    server.kill();
    // Down for a few seconds (a restarted server binds its port early, and requests that
    // reach it only wait: without this pause there would be nothing to retry).
    tokio::time::sleep(Duration::from_secs(3)).await;
    let took = server.restart();
    let client = env.client().await;
    let kubelet = KubeletStandIn::start(&client, &ns.name);
    let run = first.await.unwrap();
    run.expect_code(0);
    assert!(
        run.stderr.contains("Connection refused") && run.stderr.contains("retrying in"),
        "the restart was ridden through ({took:?} to restart):\n{}",
        run.stderr
    );
    assert_eq!(members(&ns.name, "shop").len(), 12);
    drop(kubelet);
    let before = uids(&ns.name);

    // 2. Down for longer than the budget: exit 1 in bounded time, naming what was applied;
    // started again, a rerun converges, nothing lost or duplicated.
    write_repo(
        repo.path(),
        &two_waves(&ns.name)
            .replace("api:1", "api:2")
            .replace("{a: b}", "{a: c}"),
    );
    let second = apply_in_background(&["--timeout", "120s"]);
    until_image(&ns.name, "api:2").await;
    server.kill();
    let down = Instant::now();
    let run = second.await.unwrap();
    run.expect_code(1);
    assert!(
        down.elapsed() < Duration::from_secs(60),
        "{:?}",
        down.elapsed()
    );
    let line = |prefix: &str| {
        run.stderr
            .lines()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_default()
            .to_owned()
    };
    assert!(line("applied:").contains("Deployment"), "{}", run.stderr);
    assert!(line("not applied:").contains("late-0"), "{}", run.stderr);
    let data = kubectl_ok(
        &[
            "-n",
            &ns.name,
            "get",
            "configmap",
            "late-0",
            "-o",
            "jsonpath={.data.a}",
        ],
        None,
    );
    assert_eq!(data, "b", "wave 1 was not written");

    server.restart();
    let rerun = against(
        &kubeconfig,
        repo.path(),
        &["apply", ".", "--name", "shop", "-n", &ns.name, "--no-wait"],
    );
    rerun.expect_code(0);
    for i in 0..10 {
        let data = kubectl_ok(
            &[
                "-n",
                &ns.name,
                "get",
                "configmap",
                &format!("late-{i}"),
                "-o",
                "jsonpath={.data.a}",
            ],
            None,
        );
        assert_eq!(data, "c", "late-{i}");
    }
    assert_eq!(members(&ns.name, "shop").len(), 12, "every object once");
    assert_eq!(uids(&ns.name), before, "nothing was recreated");
}

/// A server that drops the connection of one request every time, yet answers every other one,
/// failed on that object (v1.20 does this on a server-side apply of an APIService): the run
/// names the object, and does not call the server unreachable.
#[test]
fn a_server_failing_on_one_object_is_not_called_unreachable() {
    let ns = TestNamespace::new("faults-one");
    let repo = temp_tree(&[]);
    write_repo(repo.path(), &objects(&ns.name, 5, "1"));
    direct(
        repo.path(),
        &["apply", ".", "--name", "shop", "-n", &ns.name],
    )
    .expect_code(0);
    write_repo(repo.path(), &objects(&ns.name, 5, "2"));
    let (proxy, kubeconfig) = start_proxy(repo.path());
    proxy.inject_forever(
        When::method("PATCH").dry_run().path("/configmaps/cm-2"),
        Fault::Drop,
    );
    let run = through(
        &kubeconfig,
        repo.path(),
        &["diff", ".", "--name", "shop", "-n", &ns.name],
    );
    run.expect_code(1);
    assert!(
        run.stderr.contains(&format!("ConfigMap {}/cm-2", ns.name))
            && run.stderr.contains("which does answer other requests"),
        "{}",
        run.stderr
    );
    assert!(
        !run.stderr.contains("cannot reach the API server"),
        "{}",
        run.stderr
    );
}
