//! Agreement with the reference: on many scenarios, the objects `gitops diff` reports as changed
//! are exactly those `kubectl diff --server-side --force-conflicts` reports (same field manager,
//! manifests kubectl accepts), and the plan with the dry-run shortcut equals the plan that
//! dry-runs every object.

mod common;

use std::collections::BTreeSet;

use common::cli::{temp_tree, Gitops};
use common::kubectl::{kubectl, kubectl_ok, TestNamespace};
use gitops::inventory::InventoryRef;
use gitops::ownership::PART_OF_LABEL;

const BASE: &str = r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: settings
  namespace: NS
  labels: {app: shop}
  annotations: {owner: team-a}
data:
  LOG_LEVEL: info
  FEATURE: "on"
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: NS}
stringData: {password: first-value}
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: api
  namespace: NS
  labels: {app: api}
spec:
  replicas: 2
  selector:
    matchLabels: {app: api}
  template:
    metadata:
      labels: {app: api}
    spec:
      containers:
      - name: api
        image: registry.example.com/api:1.0.0
        env:
        - {name: MODE, value: production}
        ports:
        - {containerPort: 8080, protocol: TCP}
---
apiVersion: v1
kind: Service
metadata: {name: api, namespace: NS}
spec:
  selector: {app: api}
  ports:
  - {port: 80, targetPort: 8080, protocol: TCP}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: reader, namespace: NS}
rules:
- apiGroups: [""]
  resources: [configmaps]
  verbs: [get, list]
"#;

struct Scenario {
    name: &'static str,
    /// kubectl arguments run after the initial apply (hand-made drift); NS is replaced.
    drift: &'static [&'static [&'static str]],
    /// (from, to) replacements that turn BASE into the desired state.
    edits: &'static [(&'static str, &'static str)],
}

const SCENARIOS: &[Scenario] = &[
    Scenario { name: "in sync", drift: &[], edits: &[] },
    Scenario { name: "image", drift: &[], edits: &[("api:1.0.0", "api:1.1.0")] },
    Scenario { name: "replica drift", drift: &[&["scale", "deployment/api", "--replicas=4"]], edits: &[] },
    Scenario {
        name: "new object",
        drift: &[],
        edits: &[(
            "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role",
            "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: new-sa, namespace: NS}\n---\napiVersion: rbac.authorization.k8s.io/v1\nkind: Role",
        )],
    },
    Scenario { name: "data value", drift: &[], edits: &[("LOG_LEVEL: info", "LOG_LEVEL: debug")] },
    Scenario { name: "label added", drift: &[], edits: &[("labels: {app: shop}", "labels: {app: shop, tier: backend}")] },
    Scenario { name: "annotation removed", drift: &[], edits: &[("  annotations: {owner: team-a}\n", "")] },
    Scenario { name: "data key removed", drift: &[], edits: &[("  FEATURE: \"on\"\n", "")] },
    Scenario { name: "service port", drift: &[], edits: &[("targetPort: 8080", "targetPort: 9090")] },
    Scenario { name: "secret value", drift: &[], edits: &[("first-value", "second-value")] },
    Scenario { name: "env added", drift: &[], edits: &[("value: production}", "value: production}\n        - {name: DEBUG, value: \"false\"}")] },
    Scenario {
        name: "foreign label is kept",
        drift: &[&["label", "configmap/settings", "added-by=someone-else"]],
        edits: &[],
    },
    Scenario {
        name: "another manager took a field",
        drift: &[&["patch", "deployment/api", "--type=merge", "--field-manager=someone", "-p", r#"{"metadata":{"labels":{"app":"taken"}}}"#]],
        edits: &[],
    },
    Scenario {
        name: "another manager set the same value",
        drift: &[&["patch", "configmap/settings", "--type=merge", "--field-manager=someone", "-p", r#"{"data":{"LOG_LEVEL":"info"}}"#]],
        edits: &[],
    },
    Scenario {
        name: "edited data and rbac",
        drift: &[&["patch", "configmap/settings", "--type=merge", "-p", r#"{"data":{"LOG_LEVEL":"trace"}}"#]],
        edits: &[("verbs: [get, list]", "verbs: [get, list, watch]")],
    },
];

/// Runs gitops on `dir` as target `agree` in namespace `ns`.
fn gitops(ns: &str, dir: &std::path::Path, args: &[&str]) -> common::cli::Run {
    let mut all = args.to_vec();
    all.extend_from_slice(&["--name", "agree", "-n", ns]);
    Gitops::new(all).current_dir(dir).on_cluster().run()
}

/// The manifests as gitops sends them: with the target's membership label (for kubectl).
fn with_membership(manifests: &str, ns: &str) -> String {
    let id = InventoryRef::for_target("agree", ns).id;
    gitops::yaml::load_documents(manifests)
        .unwrap()
        .into_iter()
        .map(|mut doc| {
            doc.value["metadata"]["labels"][PART_OF_LABEL] = serde_json::Value::String(id.clone());
            format!("---\n{}", gitops::yaml::to_string(&doc.value))
        })
        .collect()
}

fn gitops_plan(ns: &str, dir: &std::path::Path, extra: &[&str]) -> serde_json::Value {
    let mut args = vec!["diff", "-o", "json", "--exit-zero", "."];
    args.extend_from_slice(extra);
    let run = gitops(ns, dir, &args);
    run.expect_code(0);
    serde_json::from_str(&run.stdout).unwrap()
}

/// `apps.v1.Deployment.NS.api` — kubectl diff's file names.
fn gitops_changed(plan: &serde_json::Value) -> BTreeSet<String> {
    plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let api = c["apiVersion"].as_str().unwrap().replace('/', ".");
            let ns = c["namespace"]
                .as_str()
                .map(|n| format!(".{n}"))
                .unwrap_or_default();
            format!(
                "{api}.{}{ns}.{}",
                c["kind"].as_str().unwrap(),
                c["name"].as_str().unwrap()
            )
        })
        .collect()
}

fn kubectl_changed(dir: &std::path::Path) -> BTreeSet<String> {
    let path = dir.to_str().unwrap();
    let run = kubectl(
        &[
            "diff",
            "--server-side",
            "--force-conflicts",
            "--field-manager=gitops",
            "-R",
            "-f",
            path,
        ],
        None,
    );
    assert!(
        run.code == 0 || run.code == 1,
        "kubectl diff failed: {}",
        run.stderr
    );
    run.stdout
        .lines()
        .filter_map(|l| l.strip_prefix("diff -u -N "))
        .filter_map(|l| l.split_whitespace().next())
        .filter_map(|live| live.rsplit('/').next().map(str::to_owned))
        .collect()
}

#[test]
fn gitops_and_kubectl_report_the_same_changed_objects() {
    let mut disagreements = Vec::new();
    for scenario in SCENARIOS {
        let ns = TestNamespace::new("agree");
        let base = temp_tree(&[("app.yaml", &BASE.replace("NS", &ns.name))]);
        gitops(&ns.name, base.path(), &["apply", ".", "--no-wait"]).expect_code(0);
        for args in scenario.drift {
            let mut full = vec!["-n", ns.name.as_str()];
            full.extend_from_slice(args);
            kubectl_ok(&full, None);
        }
        let mut desired = BASE.to_owned();
        for (from, to) in scenario.edits {
            assert!(
                desired.contains(from),
                "{}: edit {from:?} does not apply",
                scenario.name
            );
            desired = desired.replace(from, to);
        }
        let desired = desired.replace("NS", &ns.name);
        let repo = temp_tree(&[("app.yaml", &desired)]);
        let plan = gitops_plan(&ns.name, repo.path(), &[]);
        // The dry-run shortcut must never change a plan: compare with dry-running everything.
        let full = gitops_plan(&ns.name, repo.path(), &["--full-dry-run"]);
        assert_eq!(
            plan, full,
            "{}: the shortcut changed the plan",
            scenario.name
        );
        let ours = gitops_changed(&plan);
        let for_kubectl = temp_tree(&[("app.yaml", &with_membership(&desired, &ns.name))]);
        let theirs = kubectl_changed(for_kubectl.path());
        if ours != theirs {
            disagreements.push(format!(
                "{}: gitops {ours:?}, kubectl {theirs:?}",
                scenario.name
            ));
        }
        if scenario.name == "in sync" {
            assert!(ours.is_empty(), "in sync must have no changes: {ours:?}");
        }
    }
    assert!(
        disagreements.is_empty(),
        "disagreements:\n{}",
        disagreements.join("\n")
    );
}
