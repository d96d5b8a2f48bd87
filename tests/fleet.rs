//! Several targets in one run (issue 20): `dependsOn` order, a failing target with and without
//! `--keep-going`, the run's summary and exit code, on the real control plane.

mod common;

use common::cli::{Gitops, Run};
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
