//! A web app as people write it, applied and planned as target `app` in a test namespace:
//! what the diff and drift tests share.

use serde_json::Value;

use super::cli::{temp_tree, Gitops, Run};
use super::kubectl::TestNamespace;

/// A web app as people write it: ports without `protocol`.
pub fn web_app(ns: &str, image: &str, replicas: u32) -> String {
    format!(
        r#"apiVersion: v1
kind: ConfigMap
metadata:
  name: web-config
  namespace: {ns}
data:
  LOG_LEVEL: info
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: {ns}
  labels: {{app: web}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      containers:
      - name: web
        image: {image}
        ports:
        - containerPort: 8080
---
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: {ns}
spec:
  selector: {{app: web}}
  ports:
  - port: 80
    targetPort: 8080
"#
    )
}

/// `gitops apply` of `manifests` as target `app` in the test namespace.
pub fn apply(ns: &TestNamespace, manifests: &str) {
    let dir = temp_tree(&[("app.yaml", manifests)]);
    Gitops::new(["apply", ".", "--no-wait", "--name", "app", "-n", &ns.name])
        .current_dir(dir.path())
        .on_cluster()
        .run()
        .expect_code(0);
}

/// `gitops diff` of the repository `dir` as target `app` in the test namespace.
pub fn gitops_diff(ns: &TestNamespace, dir: &std::path::Path, extra: &[&str]) -> Run {
    let mut args = vec!["diff", ".", "--name", "app", "-n", &ns.name];
    args.extend_from_slice(extra);
    Gitops::new(args).current_dir(dir).on_cluster().run()
}

pub fn diff_json(ns: &TestNamespace, dir: &std::path::Path, extra: &[&str]) -> (Run, Value) {
    let mut args = vec!["-o", "json"];
    args.extend_from_slice(extra);
    let run = gitops_diff(ns, dir, &args);
    let value = serde_json::from_str(&run.stdout).unwrap_or(Value::Null);
    (run, value)
}

pub fn summary(plan: &Value) -> [u64; 4] {
    ["create", "update", "delete", "unchanged"]
        .map(|k| plan["summary"][k].as_u64().unwrap_or(u64::MAX))
}
