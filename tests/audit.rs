//! Audit (docs/audit.md): every apply recorded as an object of its own, `history --show`, the
//! history limit, the migration of an older inventory's history, and `gitops stats` — on the
//! real control plane, with real Git commits at known times.

mod common;

use std::time::{Duration, Instant};

use common::cli::{Gitops, Run};
use common::git::Repo;
use common::kubectl::{kubectl, kubectl_ok, TestNamespace};
use gitops::inventory::InventoryRef;
use serde_json::{json, Value};

/// gitops in `dir`, with the CI variables of the machine running the tests removed.
fn gitops_in(dir: &std::path::Path, args: &[&str]) -> Run {
    let mut run = Gitops::new(args).current_dir(dir).on_cluster();
    for key in ["GITHUB_ACTIONS", "GITLAB_CI"] {
        run = run.env_remove(key);
    }
    run.run()
}

fn json_of(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is JSON ({e}):\n{}\n{}", run.stdout, run.stderr))
}

fn config_map(ns: &str, name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: {name}\n  namespace: {ns}\ndata:\n  value: \"{value}\"\n")
}

/// One replica that never becomes available: the test control plane runs no scheduler.
fn never_available(ns: &str) -> String {
    format!(
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: web\n  namespace: {ns}\nspec:\n  replicas: 1\n  selector:\n    matchLabels: {{app: web}}\n  template:\n    metadata:\n      labels: {{app: web}}\n    spec:\n      containers:\n      - name: web\n        image: nginx:1.25\n"
    )
}

/// A quota of no Services, written in an earlier wave than the Service below: the plan's
/// dry-run of the Service passes (the quota does not exist yet); the quota's wave ends when the
/// quota controller has recorded its limits, and the Service's write is then refused.
fn quota_then_service(ns: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ResourceQuota\nmetadata:\n  name: no-services\n  namespace: {ns}\n  annotations:\n    gitops.dev/wave: \"-1\"\nspec:\n  hard:\n    services: \"0\"\n---\napiVersion: v1\nkind: Service\nmetadata:\n  name: web\n  namespace: {ns}\nspec:\n  selector: {{app: web}}\n  ports:\n  - port: 80\n"
    )
}

fn rfc3339(time: jiff::Timestamp) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn seconds_between(from: &str, to: &str) -> f64 {
    let from: jiff::Timestamp = from.parse().unwrap();
    let to: jiff::Timestamp = to.parse().unwrap();
    (to - from).get_seconds() as f64
}

/// The history records of a target in the cluster, by name (the parent excluded).
fn record_names(ns: &str, target: &str) -> Vec<String> {
    let id = InventoryRef::for_target(target, ns).id;
    let mut names: Vec<String> = kubectl_ok(
        &[
            "-n",
            ns,
            "get",
            "configmaps",
            "-l",
            &format!("gitops.dev/history-of={id}"),
            "-o",
            "name",
        ],
        None,
    )
    .lines()
    .map(|l| l.trim_start_matches("configmap/").to_owned())
    .filter(|n| *n != format!("gitops-{target}"))
    .collect();
    names.sort_by_key(|n| n.rsplit('.').next().and_then(|n| n.parse::<u64>().ok()));
    names
}

/// The data of a target's inventory ConfigMap.
fn parent_data(ns: &str, target: &str) -> Value {
    let text = kubectl_ok(
        &[
            "-n",
            ns,
            "get",
            "configmap",
            &format!("gitops-{target}"),
            "-o",
            "json",
        ],
        None,
    );
    let parent: Value = serde_json::from_str(&text).unwrap();
    parent["data"].clone()
}

fn numbers(history: &Value) -> Vec<u64> {
    history["history"]
        .as_array()
        .unwrap_or_else(|| panic!("no history list in {history:#}"))
        .iter()
        .map(|e| e["number"].as_u64().unwrap())
        .collect()
}

#[test]
fn a_scripted_sequence_gives_exact_figures_in_every_format() {
    let ns = TestNamespace::new("audit-stats");
    let repo = Repo::init();
    let now = jiff::Timestamp::now();
    let hours_ago = |h: i64| rfc3339(now - jiff::SignedDuration::from_hours(h));
    let config = format!(
        "targets:\n  - name: shop\n    path: app\n    namespace: {ns}\n  - name: ghost\n    path: app\n    namespace: {ns}\n",
        ns = ns.name
    );
    let one = config_map(&ns.name, "one", "1");
    let apply = |timeout: &str, code: i32| {
        gitops_in(
            repo.path(),
            &["apply", "--target", "shop", "--timeout", timeout],
        )
        .expect_code(code);
    };
    // 1. succeeded.
    let first = repo.commit_at(
        &[("gitops.yaml", &config), ("app/one.yaml", &one)],
        "one configmap",
        &hours_ago(10),
    );
    apply("30s", 0);
    // 2. unhealthy: exit 3.
    let second = repo.commit_at(
        &[("app/web.yaml", &never_available(&ns.name))],
        "a web deployment",
        &hours_ago(9),
    );
    apply("3s", 3);
    // 3. failed: the quota written first refuses the Service.
    repo.commit_at(
        &[("app/service.yaml", &quota_then_service(&ns.name))],
        "a service behind a quota",
        &hours_ago(8),
    );
    apply("30s", 1);
    // 4. a rollback to the first revision, which prunes what came after.
    gitops_in(
        repo.path(),
        &[
            "rollback",
            "--target",
            "shop",
            "--to",
            &first,
            "--timeout",
            "30s",
        ],
    )
    .expect_code(0);
    // 5. succeeded.
    let fifth = repo.commit_at(
        &[
            ("app/web.yaml", ""),
            ("app/service.yaml", ""),
            ("app/two.yaml", &config_map(&ns.name, "two", "2")),
        ],
        "a second configmap",
        &hours_ago(1),
    );
    apply("30s", 0);

    let history = json_of(&gitops_in(
        repo.path(),
        &["history", "--target", "shop", "-o", "json"],
    ));
    common::schema::assert_valid("history", &history);
    let records = history["history"].as_array().unwrap();
    let seen: Vec<(u64, &str, &str)> = records
        .iter()
        .map(|r| {
            (
                r["number"].as_u64().unwrap(),
                r["operation"].as_str().unwrap(),
                r["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            (1, "apply", "succeeded"),
            (2, "apply", "unhealthy"),
            (3, "apply", "failed"),
            (4, "rollback", "succeeded"),
            (5, "apply", "succeeded"),
        ],
        "{history:#}"
    );
    assert_eq!(records[3]["revision"], first.as_str());
    assert_eq!(records[3]["rolledBackFrom"], second.as_str());
    assert_eq!(records[0]["commitTime"], hours_ago(10).as_str());
    assert!(
        records[2]["error"].as_str().unwrap().contains("quota"),
        "{:#}",
        records[2]
    );
    let end = |i: usize| records[i]["time"].as_str().unwrap();
    // Lead times: the first and the fifth commit (the rollback carries no new commit, the
    // second and third never succeeded).
    let mut leads = [
        seconds_between(&hours_ago(10), end(0)),
        seconds_between(&hours_ago(1), end(4)),
    ];
    leads.sort_by(f64::total_cmp);
    let restore = seconds_between(end(1), end(3));

    let stats = gitops_in(repo.path(), &["stats", "--since", "7d", "-o", "json"]);
    stats.expect_code(0);
    let stats = json_of(&stats);
    common::schema::assert_valid("stats", &stats);
    let mut broken = stats.clone();
    broken["targets"][0]["changeFailureRate"] = json!("40%");
    common::schema::assert_invalid("stats", &broken);
    let shop = &stats["targets"][0];
    assert_eq!(shop["target"], "shop");
    assert_eq!(shop["applied"], true);
    let expected = json!({
        "applies": 5, "succeeded": 3, "failed": 1, "unhealthy": 1, "rollbacks": 1,
        "leadTimeSeconds": {"median": (leads[0] + leads[1]) / 2.0, "p90": leads[1]},
        // The unhealthy apply (also the one rolled back) and the failed one, of five.
        "changeFailureRate": 0.4,
        "timeToRestoreSeconds": {"median": restore, "max": restore},
    });
    for (key, value) in expected.as_object().unwrap() {
        assert_eq!(&shop[key], value, "{key} in {stats:#}");
        assert_eq!(&stats["total"][key], value, "total {key} in {stats:#}");
    }
    let per_day = shop["deploymentsPerDay"].as_f64().unwrap();
    assert!((per_day - 5.0 / 7.0).abs() < 1e-9, "{stats:#}");
    assert!((shop["deploymentsPerWeek"].as_f64().unwrap() - 5.0).abs() < 1e-9);
    // A target never applied: its row says so.
    let ghost = &stats["targets"][1];
    assert_eq!(
        (&ghost["target"], &ghost["applied"]),
        (&json!("ghost"), &json!(false))
    );
    assert_eq!(ghost["applies"], 0);
    assert_eq!(ghost["changeFailureRate"], Value::Null);

    let text = gitops_in(repo.path(), &["stats", "--since", "7d"]);
    text.expect_code(0);
    let shop_line = text.stdout.lines().find(|l| l.starts_with("shop")).unwrap();
    let cells: Vec<&str> = shop_line.split_whitespace().collect();
    assert_eq!(
        &cells[..7],
        ["shop", "5", "3", "1", "1", "1", "5.0"],
        "{}",
        text.stdout
    );
    assert!(shop_line.contains("40%"), "{}", text.stdout);
    assert!(
        text.stdout
            .lines()
            .any(|l| l.starts_with("ghost") && l.contains("never applied")),
        "{}",
        text.stdout
    );
    let csv = gitops_in(repo.path(), &["stats", "--since", "7d", "-o", "csv"]);
    let lines: Vec<&str> = csv.stdout.lines().collect();
    assert!(
        lines[0].starts_with("target,applied,since,until,applies,"),
        "{}",
        csv.stdout
    );
    let shop_csv: Vec<&str> = lines[1].split(',').collect();
    assert_eq!(&shop_csv[..2], ["shop", "true"]);
    assert_eq!(&shop_csv[4..9], ["5", "3", "1", "1", "1"], "{}", csv.stdout);
    assert_eq!(shop_csv[13], "0.4");
    assert_eq!(shop_csv[14].parse::<f64>().unwrap(), restore);
    assert!(lines[2].starts_with("ghost,false,"), "{}", csv.stdout);
    assert!(lines[3].starts_with("total,true,"), "{}", csv.stdout);
    let markdown = gitops_in(repo.path(), &["stats", "--since", "7d", "-o", "markdown"]);
    assert!(
        markdown
            .stdout
            .contains("| shop | 5 | 3 | 1 | 1 | 1 | 5.0 |"),
        "{}",
        markdown.stdout
    );

    // One apply in full: the rollback, by number and by a prefix of its revision.
    let shown = gitops_in(repo.path(), &["history", "--target", "shop", "--show", "4"]);
    shown.expect_code(0);
    for expected in [
        format!("rollback (from {})", &second[..12]),
        "delete  apps/v1 Deployment".to_owned(),
        "delete  v1 ResourceQuota".to_owned(),
        "Waves:".to_owned(),
    ] {
        assert!(
            shown.stdout.contains(&expected),
            "{expected:?} in:\n{}",
            shown.stdout
        );
    }
    let by_revision = json_of(&gitops_in(
        repo.path(),
        &[
            "history",
            "--target",
            "shop",
            "--revision",
            &fifth[..8],
            "-o",
            "json",
        ],
    ));
    common::schema::assert_valid("history", &by_revision);
    let mut broken = by_revision.clone();
    broken["record"]["result"] = json!("exploded");
    common::schema::assert_invalid("history", &broken);
    assert_eq!(by_revision["record"]["number"], 5);
    let waves = by_revision["record"]["waves"].as_array().unwrap();
    assert_eq!(waves.len(), 1, "{by_revision:#}");
    assert_eq!(waves[0]["result"], "healthy");
    let changes = &by_revision["record"]["changes"];
    assert_eq!(
        changes,
        &json!([{"action": "create", "apiVersion": "v1", "kind": "ConfigMap", "namespace": ns.name, "name": "two"}])
    );
    // The history lives beside the inventory, not in it.
    assert_eq!(record_names(&ns.name, "shop").len(), 5);
    let parent = parent_data(&ns.name, "shop");
    assert!(parent.get("history").is_none(), "{parent:#}");
}

#[test]
fn a_limit_of_five_keeps_the_five_newest_and_the_inventory_takes_its_history_along() {
    let ns = TestNamespace::new("audit-limit");
    let dir = common::cli::temp_tree(&[(
        "gitops.yaml",
        &format!(
            "history: {{limit: 5}}\ntargets:\n  - name: shop\n    path: app\n    namespace: {}\n",
            ns.name
        ),
    )]);
    let mut parent_sizes = Vec::new();
    for i in 1..=7 {
        std::fs::create_dir_all(dir.path().join("app")).unwrap();
        std::fs::write(
            dir.path().join("app/cm.yaml"),
            config_map(&ns.name, "settings", &i.to_string()),
        )
        .unwrap();
        gitops_in(dir.path(), &["apply", "--no-wait"]).expect_code(0);
        parent_sizes.push(parent_data(&ns.name, "shop").to_string().len());
    }
    assert_eq!(
        record_names(&ns.name, "shop"),
        [
            "gitops-shop.3",
            "gitops-shop.4",
            "gitops-shop.5",
            "gitops-shop.6",
            "gitops-shop.7"
        ]
    );
    let history = json_of(&gitops_in(dir.path(), &["history", "-o", "json"]));
    assert_eq!(numbers(&history), [3, 4, 5, 6, 7]);
    assert!(
        parent_sizes.windows(2).all(|w| w[0] == w[1]),
        "the inventory does not grow with the history: {parent_sizes:?}"
    );
    // A target's own limit wins over the file's.
    std::fs::write(
        dir.path().join("gitops.yaml"),
        format!(
            "history: {{limit: 5}}\ntargets:\n  - name: shop\n    path: app\n    namespace: {}\n    history: {{limit: 2}}\n",
            ns.name
        ),
    )
    .unwrap();
    gitops_in(dir.path(), &["apply", "--no-wait"]).expect_code(0);
    assert_eq!(
        record_names(&ns.name, "shop"),
        ["gitops-shop.7", "gitops-shop.8"]
    );

    // Deleting the inventory deletes its history (the records are owned by it).
    kubectl_ok(
        &["-n", &ns.name, "delete", "configmap", "gitops-shop"],
        None,
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while !record_names(&ns.name, "shop").is_empty() {
        assert!(
            Instant::now() < deadline,
            "the records outlived their inventory"
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A history entry as gitops wrote it into the inventory before records had objects of their
/// own (no number, start, commit time, objects or waves).
fn old_entry(revision: &str, time: &str, result: &str) -> Value {
    json!({"revision": revision, "author": "Ada Lovelace", "subject": "an old change", "time": time,
           "user": "ci", "operation": "apply", "result": result, "created": 1, "updated": 0,
           "deleted": 0, "unchanged": 0, "durationSeconds": 1.5})
}

#[test]
fn an_inventory_from_before_is_read_and_migrated_without_loss() {
    let ns = TestNamespace::new("audit-migrate");
    let at = InventoryRef::for_target("shop", &ns.name);
    let now = jiff::Timestamp::now();
    let ago = |h: i64| rfc3339(now - jiff::SignedDuration::from_hours(h));
    let entries = [
        old_entry(
            "1111111111111111111111111111111111111111",
            &ago(30),
            "succeeded",
        ),
        old_entry(
            "2222222222222222222222222222222222222222",
            &ago(20),
            "failed",
        ),
        old_entry(
            "3333333333333333333333333333333333333333",
            &ago(10),
            "succeeded",
        ),
    ];
    // The member, labelled to the set, and a format 1 parent with its history inside.
    let member = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "one", "namespace": ns.name, "labels": {"applyset.kubernetes.io/part-of": at.id}},
        "data": {"value": "1"}});
    let parent = json!({"apiVersion": "v1", "kind": "ConfigMap",
    "metadata": {"name": at.name, "namespace": ns.name, "labels": {"applyset.kubernetes.io/id": at.id}},
    "data": {
        "members": json!([{"group": "", "version": "v1", "kind": "ConfigMap", "namespace": ns.name, "name": "one"}]).to_string(),
        "revision": "3333333333333333333333333333333333333333",
        "history": Value::Array(entries.to_vec()).to_string(),
    }});
    // Written as an older gitops wrote them: server-side apply, field manager gitops.
    for object in [&member, &parent] {
        kubectl_ok(
            &[
                "apply",
                "--server-side",
                "--field-manager",
                "gitops",
                "-f",
                "-",
            ],
            Some(&object.to_string()),
        );
    }
    let dir = common::cli::temp_tree(&[("app/cm.yaml", &config_map(&ns.name, "one", "2"))]);
    let name_args = ["--name", "shop", "-n", ns.name.as_str()];
    let history_json = |dir: &std::path::Path| {
        json_of(&gitops_in(
            dir,
            &[&["history", "-o", "json"], &name_args[..]].concat(),
        ))
    };

    // Read as it is: numbered 1 to 3, what they did not record shown as unknown.
    assert_eq!(numbers(&history_json(dir.path())), [1, 2, 3]);
    let shown = gitops_in(
        dir.path(),
        &[&["history", "--show", "2"], &name_args[..]].concat(),
    );
    shown.expect_code(0);
    assert!(
        shown.stdout.contains("Started:   unknown"),
        "{}",
        shown.stdout
    );
    let stats = json_of(&gitops_in(
        dir.path(),
        &[&["stats", "--since", "2d", "-o", "json"], &name_args[..]].concat(),
    ));
    assert_eq!(
        (&stats["total"]["applies"], &stats["total"]["failed"]),
        (&json!(3), &json!(1)),
        "{stats:#}"
    );
    // A run that stopped halfway through the migration had written record 2 already.
    let mut second = entries[1].clone();
    second["number"] = json!(2);
    let halfway = json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": format!("{}.2", at.name), "namespace": ns.name,
                     "labels": {"gitops.dev/history-of": at.id}},
        "data": {"record": second.to_string()}});
    kubectl_ok(&["apply", "-f", "-"], Some(&halfway.to_string()));

    // The next apply writes the old entries as records, then the inventory without them.
    gitops_in(
        dir.path(),
        &[&["apply", "app", "--no-wait"], &name_args[..]].concat(),
    )
    .expect_code(0);
    assert_eq!(
        record_names(&ns.name, "shop"),
        [
            "gitops-shop.1",
            "gitops-shop.2",
            "gitops-shop.3",
            "gitops-shop.4"
        ]
    );
    let history = history_json(dir.path());
    assert_eq!(numbers(&history), [1, 2, 3, 4]);
    let records = history["history"].as_array().unwrap();
    for (record, entry) in records.iter().zip(&entries) {
        assert_eq!(record["revision"], entry["revision"]);
        assert_eq!(record["time"], entry["time"]);
        assert_eq!(record["result"], entry["result"]);
    }
    let parent = parent_data(&ns.name, "shop");
    assert!(parent.get("history").is_none(), "{parent:#}");
    assert_eq!(parent["format"], "2");
}

#[test]
fn bad_input_is_said_and_a_garbage_record_is_skipped() {
    let ns = TestNamespace::new("audit-bad");
    let dir = common::cli::temp_tree(&[("app/cm.yaml", &config_map(&ns.name, "one", "1"))]);
    let name_args = ["--name", "shop", "-n", ns.name.as_str()];
    let run = |args: &[&str]| gitops_in(dir.path(), &[args, &name_args[..]].concat());
    run(&["apply", "app", "--no-wait"]).expect_code(0);
    run(&["apply", "app", "--no-wait"]).expect_code(0);

    let since = run(&["stats", "--since", "yesterday"]);
    since.expect_code(64);
    assert!(
        since.stderr.contains("30d") && since.stderr.contains("2026-01-01"),
        "{}",
        since.stderr
    );
    run(&["status", "-o", "csv"]).expect_code(64);
    let missing = run(&["history", "--show", "99"]);
    missing.expect_code(1);
    assert!(missing.stderr.contains("#1 to #2"), "{}", missing.stderr);

    // Record 1 edited by hand into garbage: skipped with a warning naming it; nothing crashes.
    kubectl_ok(
        &[
            "-n",
            &ns.name,
            "patch",
            "configmap",
            "gitops-shop.1",
            "--type",
            "merge",
            "-p",
            r#"{"data":{"record":"{not json"}}"#,
        ],
        None,
    );
    let history = run(&["history", "-o", "json"]);
    history.expect_code(0);
    assert!(
        history.stderr.contains("gitops-shop.1"),
        "{}",
        history.stderr
    );
    let history = json_of(&history);
    common::schema::assert_valid("history", &history);
    assert_eq!(numbers(&history), [2]);
    assert_eq!(history["unreadable"].as_array().unwrap().len(), 1);
    let stats = run(&["stats", "-o", "json"]);
    stats.expect_code(0);
    let stats = json_of(&stats);
    assert_eq!(stats["targets"][0]["unreadableRecords"], 1, "{stats:#}");
    // The next apply numbers on, past the unreadable record.
    run(&["apply", "app", "--no-wait"]).expect_code(0);
    assert_eq!(numbers(&json_of(&run(&["history", "-o", "json"]))), [2, 3]);
    assert_eq!(
        kubectl(&["-n", &ns.name, "get", "configmap", "gitops-shop.1"], None).code,
        0
    );
}
