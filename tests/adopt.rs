//! Adoption on the real control plane: a first apply over objects that kubectl or Helm made
//! marks them `adopt`, takes them into the inventory, and leaves a quiet diff; a previous
//! declarative owner's conflict says what --force-conflicts does.

mod common;

use std::path::Path;

use common::cli::{temp_tree, Gitops, Run};
use common::kubectl::{kubectl_ok, TestNamespace};
use serde_json::Value;

fn gitops_in(dir: &Path, args: &[&str]) -> Run {
    Gitops::new(args.to_vec())
        .current_dir(dir)
        .on_cluster()
        .run()
}

fn app(ns: &str) -> String {
    format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {ns}\ndata:\n  LEVEL: info\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: chart-settings\n  namespace: {ns}\n  labels:\n    app.kubernetes.io/managed-by: Helm\n  annotations:\n    meta.helm.sh/release-name: shop\n    meta.helm.sh/release-namespace: {ns}\ndata:\n  SIZE: small\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: fresh\n  namespace: {ns}\ndata:\n  NEW: \"yes\"\n"
    )
}

fn part_of(ns: &str, name: &str) -> String {
    kubectl_ok(
        &[
            "-n",
            ns,
            "get",
            "configmap",
            name,
            "-o",
            "jsonpath={.metadata.labels.applyset\\.kubernetes\\.io/part-of}",
        ],
        None,
    )
}

#[test]
fn objects_made_by_kubectl_and_helm_are_adopted_and_then_quiet() {
    let ns = TestNamespace::new("adopt");
    // What kubectl create and a Helm install left (Helm writes as manager "helm", with its marks).
    let manifests = app(&ns.name);
    let docs: Vec<&str> = manifests.split("---\n").collect();
    kubectl_ok(&["create", "-f", "-"], Some(docs[0]));
    kubectl_ok(
        &["create", "--field-manager=helm", "-f", "-"],
        Some(docs[1]),
    );
    let dir = temp_tree(&[("app.yaml", &manifests)]);
    let args = ["--name", "app", "-n", ns.name.as_str()];

    let diff = gitops_in(
        dir.path(),
        &[&["diff", ".", "-o", "json"], &args[..]].concat(),
    );
    diff.expect_code(2);
    let plan: Value = serde_json::from_str(&diff.stdout).unwrap();
    assert_eq!(plan["summary"]["adopt"], 2, "{plan:#}");
    let adopted: Vec<(String, String)> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["adopt"] == true)
        .map(|c| {
            (
                c["name"].as_str().unwrap().to_owned(),
                c["adoptFrom"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        adopted,
        [
            (
                "settings".to_owned(),
                "field manager kubectl-create".to_owned()
            ),
            ("chart-settings".to_owned(), "Helm release shop".to_owned()),
        ]
    );
    let fresh = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "fresh")
        .unwrap();
    assert_eq!(fresh["action"], "create");
    assert!(fresh.get("adopt").is_none(), "a create adopts nothing");
    assert!(common::schema::violations("plan", &plan).is_empty());
    let text = gitops_in(dir.path(), &[&["diff", "."], &args[..]].concat());
    assert!(
        text.stdout.contains(&format!(
            "~ v1 ConfigMap {}/chart-settings (adopt from Helm release shop; pending)",
            ns.name
        )) && text.stdout.contains("2 adopted."),
        "{}",
        text.stdout
    );

    gitops_in(
        dir.path(),
        &[&["apply", ".", "--no-wait"], &args[..]].concat(),
    )
    .expect_code(0);
    let id = part_of(&ns.name, "fresh");
    assert!(!id.is_empty());
    assert_eq!(part_of(&ns.name, "settings"), id);
    assert_eq!(part_of(&ns.name, "chart-settings"), id);
    // Members now: a quiet diff, nothing adopted.
    let again = gitops_in(
        dir.path(),
        &[&["diff", ".", "-o", "json"], &args[..]].concat(),
    );
    again.expect_code(0);
    let plan: Value = serde_json::from_str(&again.stdout).unwrap();
    assert_eq!(plan["changes"], serde_json::json!([]));
    assert_eq!(plan["summary"]["adopt"], 0);
    // The Helm release's marks stay (they were in the manifest): helm keeps seeing its object.
    let helm = kubectl_ok(
        &[
            "-n",
            &ns.name,
            "get",
            "configmap",
            "chart-settings",
            "-o",
            "jsonpath={.metadata.annotations}",
        ],
        None,
    );
    assert!(helm.contains("meta.helm.sh/release-name"), "{helm}");
}

#[test]
fn a_declarative_previous_owner_is_explained_and_forced_on_request() {
    let ns = TestNamespace::new("adopt-ssa");
    let ours = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: {}\ndata:\n  LEVEL: info\n",
        ns.name
    );
    kubectl_ok(
        &["apply", "--server-side", "-f", "-"],
        Some(&ours.replace("info", "debug")),
    );
    let dir = temp_tree(&[("app.yaml", &ours)]);
    let args = ["--name", "app", "-n", ns.name.as_str(), "--no-wait"];
    let refused = gitops_in(dir.path(), &[&["apply", "."], &args[..]].concat());
    refused.expect_code(1);
    assert!(
        refused.stderr.contains("nothing was written")
            && refused.stderr.contains("conflict with \"kubectl\"")
            && refused.stderr.contains(".data.LEVEL")
            && refused.stderr.contains("adopting it from field manager kubectl: --force-conflicts makes gitops the owner of these fields"),
        "{}",
        refused.stderr
    );
    assert!(part_of(&ns.name, "settings").is_empty(), "nothing written");
    gitops_in(
        dir.path(),
        &[&["apply", ".", "--force-conflicts"], &args[..]].concat(),
    )
    .expect_code(0);
    assert!(!part_of(&ns.name, "settings").is_empty());
    let level = kubectl_ok(
        &[
            "-n",
            &ns.name,
            "get",
            "configmap",
            "settings",
            "-o",
            "jsonpath={.data.LEVEL}",
        ],
        None,
    );
    assert_eq!(level, "info");
}
