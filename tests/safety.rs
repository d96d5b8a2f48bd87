//! Safety of apply and prune (SPEC.md, Safety; docs/reliability.md, "Safety"): prune deletes
//! only objects that carry this target's membership label, whatever the inventory says and
//! whenever the label went away; an inventory that cannot be read stops the run before any
//! write. (One writer per target: tests/apply.rs,
//! `a_second_apply_of_the_same_target_fails_fast_naming_the_holder`.)

mod common;

use std::path::Path;
use std::time::{Duration, Instant};

use common::cli::{temp_tree, Gitops, Run};
use common::inventory::{members, set_members};
use common::kubectl::{kubectl, kubectl_ok, TestNamespace};
use common::{testenv, KubeletStandIn};
use serde_json::{json, Value};

const PART_OF: &str = "applyset.kubernetes.io/part-of";

fn configmap(ns: &str, name: &str, value: &str) -> String {
    format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {ns}}}\ndata: {{value: \"{value}\"}}\n---\n")
}

fn apply(dir: &Path, ns: &str, target: &str, extra: &[&str]) -> Run {
    let mut args = vec!["apply", ".", "--name", target, "-n", ns, "--no-wait"];
    args.extend_from_slice(extra);
    Gitops::new(args)
        .current_dir(dir)
        .env("CI", "1")
        .on_cluster()
        .run()
}

fn write(dir: &Path, content: &str) {
    std::fs::write(dir.join("app.yaml"), content).unwrap();
}

fn get_json(ns: &str, what: &[&str]) -> Value {
    let mut args = vec!["-n", ns, "get", "-o", "json"];
    args.extend_from_slice(what);
    serde_json::from_str(&kubectl_ok(&args, None)).unwrap()
}

/// name → resourceVersion of every ConfigMap in the namespace, the inventory included.
fn configmap_versions(ns: &str) -> Vec<(String, String)> {
    let list = get_json(ns, &["configmaps"]);
    let mut versions: Vec<(String, String)> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                o["metadata"]["name"].as_str().unwrap().to_owned(),
                o["metadata"]["resourceVersion"]
                    .as_str()
                    .unwrap()
                    .to_owned(),
            )
        })
        .collect();
    versions.sort();
    versions
}

#[test]
fn prune_keeps_what_a_hand_edited_inventory_lists_without_this_targets_label() {
    let ns = TestNamespace::new("safety-listed");
    let (shop, other) = (temp_tree(&[]), temp_tree(&[]));
    write(
        shop.path(),
        &(configmap(&ns.name, "settings", "1") + &configmap(&ns.name, "extra", "1")),
    );
    write(other.path(), &configmap(&ns.name, "other-target", "1"));
    apply(shop.path(), &ns.name, "shop", &[]).expect_code(0);
    apply(other.path(), &ns.name, "other", &[]).expect_code(0);
    kubectl_ok(
        &[
            "-n",
            &ns.name,
            "create",
            "configmap",
            "bystander",
            "--from-literal=a=b",
        ],
        None,
    );
    kubectl_ok(
        &[
            "create",
            "clusterrole",
            &format!("{}-reader", ns.name),
            "--verb=get",
            "--resource=pods",
        ],
        None,
    );

    // Someone lists an unrelated object, another target's object and a cluster-scoped object
    // in shop's inventory.
    let mut listed = members(&ns.name, "shop");
    for (group, kind, namespace, name) in [
        (
            "",
            "ConfigMap",
            Some(ns.name.as_str()),
            "bystander".to_owned(),
        ),
        (
            "",
            "ConfigMap",
            Some(ns.name.as_str()),
            "other-target".to_owned(),
        ),
        (
            "rbac.authorization.k8s.io",
            "ClusterRole",
            None,
            format!("{}-reader", ns.name),
        ),
    ] {
        let mut member = json!({"group": group, "version": "v1", "kind": kind, "name": name});
        if let Some(namespace) = namespace {
            member["namespace"] = json!(namespace);
        }
        listed.push(member);
    }
    set_members(&ns.name, "shop", &listed);

    // shop's render no longer has `extra`: that one (labelled) goes; the listed ones stay.
    write(shop.path(), &configmap(&ns.name, "settings", "1"));
    let run = apply(shop.path(), &ns.name, "shop", &[]);
    run.expect_code(0);
    let names = kubectl_ok(&["-n", &ns.name, "get", "configmaps", "-o", "name"], None);
    assert!(
        !names.contains("configmap/extra\n"),
        "extra is pruned:\n{names}"
    );
    for survivor in ["bystander", "other-target", "settings"] {
        assert!(
            names.contains(&format!("configmap/{survivor}\n")),
            "{survivor} must survive:\n{names}\n{}",
            run.stderr
        );
    }
    kubectl_ok(
        &["get", "clusterrole", &format!("{}-reader", ns.name)],
        None,
    );
    for kept in ["bystander", "other-target", "-reader"] {
        assert!(
            run.stderr
                .lines()
                .any(|l| l.contains("not pruned") && l.contains(kept) && l.contains(PART_OF)),
            "a warning names {kept} and the missing label:\n{}",
            run.stderr
        );
    }
    kubectl_ok(
        &["delete", "clusterrole", &format!("{}-reader", ns.name)],
        None,
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_label_removed_while_the_apply_waits_keeps_the_object_at_prune_time() {
    let ns = TestNamespace::new("safety-late");
    let repo = temp_tree(&[]);
    let deployment = |image: &str| {
        format!(
            "apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: api, namespace: {}}}\nspec:\n  replicas: 1\n  selector: {{matchLabels: {{app: api}}}}\n  template:\n    metadata: {{labels: {{app: api}}}}\n    spec:\n      containers: [{{name: api, image: \"registry.example.com/api:{image}\"}}]\n",
            ns.name
        )
    };
    write(
        repo.path(),
        &(configmap(&ns.name, "extra", "1") + &deployment("1")),
    );
    apply(repo.path(), &ns.name, "shop", &[]).expect_code(0);

    // The next apply drops `extra` and rolls the Deployment: it waits for health, and prunes
    // only after. Meanwhile the object loses its label; the plan (made before) still lists
    // it as a delete.
    write(repo.path(), &deployment("2"));
    let run = {
        let (dir, ns) = (repo.path().to_path_buf(), ns.name.clone());
        tokio::task::spawn_blocking(move || {
            let mut args = vec![
                "apply",
                ".",
                "--name",
                "shop",
                "-n",
                &ns,
                "--timeout",
                "90s",
            ];
            args.push("--wait");
            Gitops::new(args)
                .current_dir(dir)
                .env("CI", "1")
                .on_cluster()
                .run()
        })
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let live = kubectl(
            &[
                "-n",
                &ns.name,
                "get",
                "deployment",
                "api",
                "-o",
                "jsonpath={.spec.template.spec.containers[0].image}",
            ],
            None,
        );
        if live.stdout.ends_with(":2") {
            break;
        }
        assert!(Instant::now() < deadline, "the rollout was never written");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    kubectl_ok(
        &[
            "-n",
            &ns.name,
            "label",
            "configmap",
            "extra",
            &format!("{PART_OF}-"),
        ],
        None,
    );
    let client = testenv().client().await;
    let _kubelet = KubeletStandIn::start(&client, &ns.name);
    let run = run.await.unwrap();
    run.expect_code(0);
    assert!(
        run.stdout
            .contains(&format!("- v1 ConfigMap {}/extra", ns.name)),
        "the plan had the delete:\n{}",
        run.stdout
    );
    kubectl_ok(&["-n", &ns.name, "get", "configmap", "extra"], None);
    assert!(
        run.stderr
            .lines()
            .any(|l| l.contains("not pruned") && l.contains("extra") && l.contains(PART_OF)),
        "{}",
        run.stderr
    );
}

#[test]
fn an_inventory_that_cannot_be_read_stops_the_apply_before_any_write() {
    let ns = TestNamespace::new("safety-corrupt");
    let repo = temp_tree(&[]);
    write(
        repo.path(),
        &(configmap(&ns.name, "settings", "1") + &configmap(&ns.name, "extra", "1")),
    );
    apply(repo.path(), &ns.name, "shop", &[]).expect_code(0);
    let good = get_json(&ns.name, &["configmap", "gitops-shop"]);

    // A changed render: one update, one create, one delete.
    write(
        repo.path(),
        &(configmap(&ns.name, "settings", "2") + &configmap(&ns.name, "new", "1")),
    );
    let id_label = "applyset.kubernetes.io/id";
    let corruptions: [(&str, Vec<&str>); 3] = [
        (
            "members is not JSON",
            vec![
                "patch",
                "configmap",
                "gitops-shop",
                "--type=merge",
                "-p",
                r#"{"data":{"members":"[{\"group\": \"\", \"kind\""}}"#,
            ],
        ),
        (
            "members has the wrong shape",
            vec![
                "patch",
                "configmap",
                "gitops-shop",
                "--type=merge",
                "-p",
                r#"{"data":{"members":"{\"settings\": true}"}}"#,
            ],
        ),
        (
            "the id label was changed",
            vec![
                "label",
                "--overwrite",
                "configmap",
                "gitops-shop",
                "applyset.kubernetes.io/id=applyset-somebody-else-v1",
            ],
        ),
    ];
    for (what, edit) in corruptions {
        let mut args = vec!["-n", ns.name.as_str()];
        args.extend(edit);
        kubectl_ok(&args, None);
        let before = configmap_versions(&ns.name);
        let run = apply(repo.path(), &ns.name, "shop", &[]);
        run.expect_code(1);
        assert!(
            run.stderr
                .contains(&format!("inventory ConfigMap {}/gitops-shop", ns.name))
                && run.stderr.contains("nothing was written")
                && run.stderr.contains("Fix or delete it"),
            "{what}: names the inventory and what to do:\n{}",
            run.stderr
        );
        assert_eq!(
            configmap_versions(&ns.name),
            before,
            "{what}: no object changed (the inventory neither)"
        );
        // Put the good inventory back for the next corruption.
        let mut restore = good.clone();
        for key in [
            "resourceVersion",
            "uid",
            "creationTimestamp",
            "managedFields",
        ] {
            restore["metadata"].as_object_mut().unwrap().remove(key);
        }
        kubectl_ok(&["replace", "-f", "-"], Some(&restore.to_string()));
        assert_eq!(
            get_json(&ns.name, &["configmap", "gitops-shop"])["metadata"]["labels"][id_label],
            good["metadata"]["labels"][id_label]
        );
    }
    // With a readable inventory the same apply goes ahead (the lease was given back).
    apply(repo.path(), &ns.name, "shop", &[]).expect_code(0);
    let names = kubectl_ok(&["-n", &ns.name, "get", "configmaps", "-o", "name"], None);
    assert!(
        names.contains("configmap/new\n") && !names.contains("configmap/extra\n"),
        "{names}"
    );
}

/// SPEC.md: two different directories must never share an inventory by accident. `apps/shop`
/// and `apps-shop` both come out as the name `apps-shop`; the second is refused before any
/// write instead of pruning the first one's objects, and `--name` gives it its own.
#[test]
fn two_directories_whose_names_come_out_the_same_never_share_an_inventory() {
    let ns = TestNamespace::new("safety-names");
    let repo = temp_tree(&[
        ("apps/shop/app.yaml", &configmap(&ns.name, "first", "1")),
        ("apps-shop/app.yaml", &configmap(&ns.name, "second", "1")),
    ]);
    let run = |path: &str, extra: &[&str]| {
        let mut args = vec!["apply", path, "-n", &ns.name, "--no-wait"];
        args.extend_from_slice(extra);
        Gitops::new(args)
            .current_dir(repo.path())
            .env("CI", "1")
            .on_cluster()
            .run()
    };
    run("apps/shop", &[]).expect_code(0);
    let clash = run("apps-shop", &[]);
    clash.expect_code(1);
    assert!(
        clash
            .stderr
            .contains("was written for directory apps/shop, not apps-shop")
            && clash.stderr.contains("--name"),
        "{}",
        clash.stderr
    );
    let names = kubectl_ok(&["-n", &ns.name, "get", "configmaps", "-o", "name"], None);
    assert!(
        names.contains("configmap/first\n"),
        "first was pruned:\n{names}"
    );
    assert!(!names.contains("configmap/second\n"), "{names}");
    // A diff is refused the same way: its plan would delete the other directory's objects.
    Gitops::new(["diff", "apps-shop", "-n", &ns.name])
        .current_dir(repo.path())
        .on_cluster()
        .run()
        .expect_code(1);

    run("apps-shop", &["--name", "shop-two"]).expect_code(0);
    // The first directory still owns its inventory, and re-applying it changes nothing.
    run("apps/shop", &[]).expect_code(0);
    let names = kubectl_ok(&["-n", &ns.name, "get", "configmaps", "-o", "name"], None);
    assert!(
        names.contains("configmap/first\n") && names.contains("configmap/second\n"),
        "{names}"
    );
}
