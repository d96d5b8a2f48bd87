//! Several targets in one run (issue 20): `dependsOn` order, a failing target with and without
//! `--keep-going`, targets in parallel across two real clusters, the run's summary and exit
//! code, on the real control plane.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use common::apiserver::SecondApiServer;
use common::cli::{Gitops, Run};
use common::cluster::{testenv, unique_name};
use common::kubectl::{kubectl_ok, TestNamespace};

fn config_map(name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\ndata:\n  value: {value}\n")
}

/// A repository with one directory per target and gitops.yaml listing `targets` as
/// (name, namespace, dependsOn, manifest).
fn repo(targets: &[(&str, &str, &[&str], String)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut config = String::from("targets:\n");
    for (name, ns, depends_on, manifest) in targets {
        config.push_str(&format!(
            "  - name: {name}\n    path: {name}\n    namespace: {ns}\n"
        ));
        if !depends_on.is_empty() {
            config.push_str(&format!("    dependsOn: [{}]\n", depends_on.join(", ")));
        }
        std::fs::create_dir_all(dir.path().join(name)).unwrap();
        std::fs::write(dir.path().join(name).join("objects.yaml"), manifest).unwrap();
    }
    std::fs::write(dir.path().join("gitops.yaml"), config).unwrap();
    dir
}

fn gitops(dir: &std::path::Path, args: &[&str]) -> Run {
    Gitops::new(args.iter().copied())
        .current_dir(dir)
        .on_cluster()
        .run()
}

fn has_config_map(ns: &str, name: &str) -> bool {
    kubectl_ok(&["-n", ns, "get", "configmaps", "-o", "name"], None)
        .contains(&format!("configmap/{name}"))
}

fn position(text: &str, needle: &str) -> usize {
    text.find(needle)
        .unwrap_or_else(|| panic!("{needle:?} not in:\n{text}"))
}

#[test]
fn depends_on_applies_a_chain_in_order_whatever_the_file_order() {
    let namespaces: Vec<TestNamespace> =
        (0..4).map(|_| TestNamespace::new("fleet-order")).collect();
    let ns = |i: usize| namespaces[i].name.as_str();
    let dir = repo(&[
        ("app", ns(0), &["platform"], config_map("app", "v1")),
        ("docs", ns(1), &[], config_map("docs", "v1")),
        ("platform", ns(2), &["crds"], config_map("platform", "v1")),
        ("crds", ns(3), &[], config_map("crds", "v1")),
    ]);
    let run = gitops(dir.path(), &["apply"]);
    run.expect_code(0);
    let (crds, platform, app) = (
        position(&run.stderr, "target crds: applied and healthy"),
        position(&run.stderr, "target platform: applied and healthy"),
        position(&run.stderr, "target app: applied and healthy"),
    );
    assert!(crds < platform && platform < app, "{}", run.stderr);
    // The run's summary: one row per target.
    let summary = &run.stderr[position(&run.stderr, "Summary:")..];
    for name in ["app", "docs", "platform", "crds"] {
        assert!(
            summary.lines().any(|l| l.trim_start().starts_with(name)
                && l.contains("applied")
                && l.contains("+1 ~0 -0")),
            "{summary}"
        );
    }
    // diff ignores the order and plans everything.
    gitops(dir.path(), &["diff"]).expect_code(0);
}

#[test]
fn a_failing_target_stops_the_run_unless_keep_going_and_its_dependents_are_skipped() {
    let namespaces: Vec<TestNamespace> = (0..4).map(|_| TestNamespace::new("fleet-fail")).collect();
    let ns = |i: usize| namespaces[i].name.as_str();
    // A number where the API wants a string: the server refuses the dry-run.
    let refused =
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: bad\ndata:\n  count: 1\n".to_owned();
    let dir = repo(&[
        ("first", ns(0), &[], config_map("first", "v1")),
        ("bad", ns(1), &[], refused),
        ("after-bad", ns(2), &["bad"], config_map("after-bad", "v1")),
        ("last", ns(3), &[], config_map("last", "v1")),
    ]);
    let stopped = gitops(dir.path(), &["apply"]);
    stopped.expect_code(1);
    assert!(has_config_map(ns(0), "first"));
    assert!(
        !has_config_map(ns(3), "last"),
        "a target started after a failure"
    );
    let summary = &stopped.stderr[position(&stopped.stderr, "Summary:")..];
    assert!(
        summary.contains("failed") && summary.contains("not started"),
        "{summary}"
    );

    let going = gitops(dir.path(), &["apply", "--keep-going"]);
    going.expect_code(1);
    assert!(has_config_map(ns(3), "last"));
    assert!(!has_config_map(ns(2), "after-bad"));
    assert!(
        going.stderr.contains("target after-bad: not applied: it depends on bad, which did not end applied and healthy"),
        "{}",
        going.stderr
    );
    let summary = &going.stderr[position(&going.stderr, "Summary:")..];
    assert!(
        summary.contains("skipped (bad did not succeed)"),
        "{summary}"
    );

    // diff: without --keep-going the first error ends it; with it, the others are planned.
    let diff = gitops(dir.path(), &["diff", "--keep-going", "-o", "json"]);
    diff.expect_code(1);
    let plans: serde_json::Value = serde_json::from_str(&diff.stdout).unwrap();
    let planned: Vec<&str> = plans
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["target"].as_str().unwrap())
        .collect();
    assert_eq!(planned, ["first", "after-bad", "last"]);
}

#[test]
fn depends_on_cycles_and_unknown_targets_are_config_errors() {
    let dir = repo(&[
        ("a", "default", &["b"], config_map("a", "v1")),
        ("b", "default", &["a"], config_map("b", "v1")),
    ]);
    let run = Gitops::new(["render"]).current_dir(dir.path()).run();
    run.expect_code(1);
    assert!(
        run.stderr.contains("dependsOn makes a cycle: a -> b -> a"),
        "{}",
        run.stderr
    );
    let dir = repo(&[("a", "default", &["platform"], config_map("a", "v1"))]);
    let run = Gitops::new(["targets"]).current_dir(dir.path()).run();
    run.expect_code(1);
    assert!(
        run.stderr
            .contains("dependsOn names \"platform\", which is not a target"),
        "{}",
        run.stderr
    );
}

/// kubectl against the second cluster.
fn kubectl_b(server: &SecondApiServer, args: &[&str]) -> String {
    let out = Command::new("kubectl")
        .arg("--kubeconfig")
        .arg(server.kubeconfig())
        .args(["--context", server.context()])
        .args(args)
        .output()
        .expect("kubectl runs");
    assert!(
        out.status.success(),
        "kubectl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A Deployment that becomes available only once `ready_after` has passed (a kubelet stand-in
/// starts then), so that the target holding it takes that long.
fn slow_deployment(name: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: {name}}}\n  template:\n    metadata:\n      labels: {{app: {name}}}\n    spec:\n      containers:\n        - name: main\n          image: registry.k8s.io/pause:3.9\n"
    )
}

/// Marks the Pods of `namespace` ready from `after` on, in the background, for a minute.
fn kubelet_after(namespace: &str, after: Duration) {
    let namespace = namespace.to_owned();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        runtime.block_on(async {
            tokio::time::sleep(after).await;
            let client = testenv().client().await;
            let _kubelet = common::kubelet::KubeletStandIn::start(&client, &namespace);
            tokio::time::sleep(Duration::from_secs(60)).await;
        });
    });
}

/// Seconds since the epoch of an RFC 3339 time to the second (`2026-12-06T05:00:00Z`).
fn epoch(time: &str) -> i64 {
    let out = Command::new("date")
        .args(["-u", "-d", time, "+%s"])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout).trim().parse().unwrap()
}

/// (started, ended) of the target's last recorded apply.
fn last_apply(dir: &Path, kubeconfig: &str, target: &str) -> (i64, i64) {
    let run = Gitops::new(["history", "--target", target, "-o", "json"])
        .current_dir(dir)
        .env("KUBECONFIG", kubeconfig)
        .run();
    run.expect_code(0);
    let history: serde_json::Value = serde_json::from_str(&run.stdout).unwrap();
    let record = history["history"]
        .as_array()
        .and_then(|r| r.last())
        .unwrap_or_else(|| panic!("no record for {target}: {history}"));
    (
        epoch(record["started"].as_str().unwrap()),
        epoch(record["time"].as_str().unwrap()),
    )
}

/// The indexes of the lines that name `target X:` for any of `targets`, as the target each
/// names: a target's lines must come in one piece.
fn groups(text: &str, targets: &[&str]) -> Vec<String> {
    let mut order: Vec<String> = Vec::new();
    for line in text.lines() {
        let Some(name) = targets.iter().find(|t| {
            line.contains(&format!("target {t}:")) || line.starts_with(&format!("Target {t} "))
        }) else {
            continue;
        };
        if order.last().map(String::as_str) != Some(*name) {
            order.push((*name).to_owned());
        }
    }
    order
}

#[test]
fn four_targets_in_two_clusters_apply_in_parallel_grouped_in_file_order() {
    let env = testenv();
    let work = tempfile::tempdir().unwrap();
    let second = SecondApiServer::start_separate(env, work.path(), "cluster-b");
    let a: Vec<TestNamespace> = (0..2).map(|_| TestNamespace::new("fleet-par")).collect();
    let (edge_ns, edge_config_ns) = (unique_name("fleet-b"), unique_name("fleet-b"));
    let dir = tempfile::tempdir().unwrap();
    let files = [
        ("app", config_map("app", "v1")),
        (
            "base",
            format!(
                "{}---\n{}",
                slow_deployment("slow"),
                config_map("base", "v1")
            ),
        ),
        ("edge", config_map("edge", "v1")),
        ("edge-config", config_map("edge-config", "v1")),
    ];
    for (name, manifest) in &files {
        std::fs::create_dir_all(dir.path().join(name)).unwrap();
        std::fs::write(dir.path().join(name).join("objects.yaml"), manifest).unwrap();
    }
    // app waits for base; the edge targets are on the second cluster, one through its own
    // kubeconfig, one through a context of the KUBECONFIG list.
    std::fs::write(
        dir.path().join("gitops.yaml"),
        format!(
            "targets:\n  - name: app\n    path: app\n    namespace: {}\n    dependsOn: [base]\n  - name: base\n    path: base\n    namespace: {}\n  - name: edge\n    path: edge\n    namespace: {edge_ns}\n    createNamespace: true\n    kubeconfig: {}\n    context: cluster-b\n  - name: edge-config\n    path: edge-config\n    namespace: {edge_config_ns}\n    createNamespace: true\n    context: cluster-b\n",
            a[0].name,
            a[1].name,
            second.kubeconfig().display()
        ),
    )
    .unwrap();
    let kubeconfigs = format!(
        "{}:{}",
        env.kubeconfig.display(),
        second.kubeconfig().display()
    );
    kubelet_after(&a[1].name, Duration::from_secs(3));
    let run = Gitops::new(["apply", "--parallel", "4", "--timeout", "90s"])
        .current_dir(dir.path())
        .env("KUBECONFIG", &kubeconfigs)
        .env("CI", "1")
        .run();
    run.expect_code(0);

    // Each object in its own cluster, and only there.
    assert!(kubectl_b(
        &second,
        &["-n", &edge_ns, "get", "configmap", "edge", "-o", "name"]
    )
    .contains("edge"));
    assert!(kubectl_b(
        &second,
        &[
            "-n",
            &edge_config_ns,
            "get",
            "configmap",
            "edge-config",
            "-o",
            "name"
        ]
    )
    .contains("edge-config"));
    assert!(has_config_map(&a[0].name, "app") && has_config_map(&a[1].name, "base"));
    assert!(
        !kubectl_ok(&["get", "namespaces", "-o", "name"], None).contains(&edge_ns),
        "the second cluster's namespace was made in the first"
    );
    assert!(
        !kubectl_b(&second, &["get", "namespaces", "-o", "name"]).contains(&a[0].name),
        "the first cluster's namespace was made in the second"
    );

    // Output grouped per target, never interleaved, in gitops.yaml order (app waited for
    // base, yet comes first).
    let names = ["app", "base", "edge", "edge-config"];
    assert_eq!(groups(&run.stdout, &names), names, "{}", run.stdout);
    assert_eq!(groups(&run.stderr, &names), names, "{}", run.stderr);

    // Timestamps: the edge targets ran while base waited for its Deployment; app started
    // only after base ended.
    let (base_started, base_ended) = last_apply(dir.path(), &kubeconfigs, "base");
    let (app_started, _) = last_apply(dir.path(), &kubeconfigs, "app");
    let (_, edge_ended) = last_apply(dir.path(), &kubeconfigs, "edge");
    assert!(
        base_ended >= base_started + 2,
        "base took {}s",
        base_ended - base_started
    );
    assert!(
        app_started >= base_ended,
        "app started at {app_started}, base ended at {base_ended}"
    );
    assert!(
        edge_ended < base_ended,
        "edge ended at {edge_ended}, base at {base_ended}: not in parallel"
    );

    // The summary: every target, its cluster and how it ended.
    let summary = &run.stderr[position(&run.stderr, "Summary:")..];
    for (name, cluster) in [
        ("app", "admin"),
        ("base", "admin"),
        ("edge", "cluster-b"),
        ("edge-config", "cluster-b"),
    ] {
        assert!(
            summary.lines().any(|l| {
                let cells: Vec<&str> = l.split_whitespace().collect();
                cells.first() == Some(&name)
                    && cells.get(1) == Some(&cluster)
                    && l.contains("applied")
            }),
            "{summary}"
        );
    }

    // diff across both clusters, the Markdown summary, and status.
    let diff = Gitops::new(["diff", "-o", "markdown"])
        .current_dir(dir.path())
        .env("KUBECONFIG", &kubeconfigs)
        .run();
    diff.expect_code(0);
    let markdown = &diff.stdout[position(&diff.stdout, "### Summary")..];
    assert_eq!(markdown.matches("| in sync |").count(), 4, "{markdown}");
    assert!(
        markdown.contains("| edge-config | cluster-b |"),
        "{markdown}"
    );
    let status = Gitops::new(["status", "--parallel", "2"])
        .current_dir(dir.path())
        .env("KUBECONFIG", &kubeconfigs)
        .run();
    status.expect_code(0);
    for name in names {
        assert!(
            status.stdout.contains(&format!("Target {name} ")),
            "{}",
            status.stdout
        );
    }
}

#[test]
fn an_unreachable_cluster_fails_its_targets_and_keep_going_applies_the_others() {
    let namespaces: Vec<TestNamespace> = (0..2).map(|_| TestNamespace::new("fleet-down")).collect();
    let dir = repo(&[
        ("up", &namespaces[0].name, &[], config_map("up", "v1")),
        ("down", &namespaces[1].name, &[], config_map("down", "v1")),
    ]);
    // A kubeconfig for "down" whose server is a port where nothing listens.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = closed.local_addr().unwrap().port();
    drop(closed);
    let text = std::fs::read_to_string(&testenv().kubeconfig).unwrap();
    let nowhere = common::cluster::with_server(&text, &format!("https://127.0.0.1:{port}"));
    std::fs::write(dir.path().join("nowhere.kubeconfig"), nowhere).unwrap();
    let config = std::fs::read_to_string(dir.path().join("gitops.yaml")).unwrap();
    let config = config.replace(
        "  - name: down\n",
        "  - name: down\n    kubeconfig: nowhere.kubeconfig\n",
    );
    std::fs::write(dir.path().join("gitops.yaml"), config).unwrap();

    let run = gitops(dir.path(), &["apply", "--parallel", "2", "--keep-going"]);
    run.expect_code(1);
    assert!(has_config_map(&namespaces[0].name, "up"));
    assert!(
        run.stderr.contains(&format!("127.0.0.1:{port}")),
        "{}",
        run.stderr
    );
    let summary = &run.stderr[position(&run.stderr, "Summary:")..];
    assert!(
        summary
            .lines()
            .any(|l| l.trim_start().starts_with("down") && l.contains("failed")),
        "{summary}"
    );
    assert!(
        summary
            .lines()
            .any(|l| l.trim_start().starts_with("up") && l.contains("applied")),
        "{summary}"
    );
}

#[test]
fn two_targets_writing_one_object_are_refused_before_any_write() {
    let ns = TestNamespace::new("fleet-shared");
    let shared = config_map("settings", "v1");
    let dir = repo(&[
        (
            "one",
            &ns.name,
            &[],
            format!("{shared}---\n{}", config_map("one", "v1")),
        ),
        ("two", &ns.name, &[], shared.clone()),
    ]);
    let run = gitops(dir.path(), &["apply", "--parallel", "2"]);
    run.expect_code(1);
    assert!(
        run.stderr.contains(&format!(
            "ConfigMap {}/settings is rendered by target one (one/objects.yaml:1",
            ns.name
        )) && run.stderr.contains("and target two (two/objects.yaml:1"),
        "{}",
        run.stderr
    );
    assert!(
        !has_config_map(&ns.name, "one"),
        "written before the refusal"
    );
    gitops(dir.path(), &["diff"]).expect_code(1);

    // --parallel 0 is a usage error.
    gitops(dir.path(), &["apply", "--parallel", "0"]).expect_code(64);
    gitops(dir.path(), &["diff", "--parallel", "0"]).expect_code(64);
}
