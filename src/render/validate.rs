//! Checks a whole render before anything else sees it (SPEC.md, Rendering).
//!
//! Every problem is collected, not only the first, so that one run shows everything to fix.
//! Messages name objects and fields, never values: a Secret's data must not leak from here.

use std::collections::HashMap;
use std::fmt;

use serde_json::Value;

use super::manifest::{Manifest, ObjectRef, Origin};
use super::order::wave;
use crate::kinds;
use crate::names::{invalid_dns_label, invalid_label_value, invalid_name, invalid_qualified_name};

/// etcd's default request limit (`--max-request-bytes`, 1.5 MiB). A bigger object passes the
/// server dry-run, which never reaches etcd, and then fails on the real write ("etcdserver:
/// request is too large"), after other objects were written: so it is refused here.
pub const MAX_OBJECT_BYTES: usize = 1_572_864;

/// One thing wrong with one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub origin: Origin,
    pub object: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}: {}", self.origin, self.object, self.message)
    }
}

/// All problems of a render; empty when it is valid.
pub fn validate(manifests: &[Manifest], default_namespace: &str) -> Vec<Problem> {
    let mut problems = Vec::new();
    for manifest in manifests {
        let mut report = |message: String| {
            problems.push(Problem {
                origin: manifest.origin.clone(),
                object: manifest.describe(),
                message,
            })
        };
        check_object(manifest, &mut report);
    }
    problems.extend(duplicates(manifests, default_namespace));
    problems
}

/// A Secret whose values are gitops' own masks came from a masked `gitops render`: applying it
/// would store the mask (or, for `data`, be refused by the server with an HTTP 500).
fn masked_secret(object: &Value) -> Option<String> {
    if !crate::mask::is_secret(object) {
        return None;
    }
    let masked: Vec<&str> = ["data", "stringData"]
        .iter()
        .filter_map(|field| object.get(*field)?.as_object())
        .flat_map(|entries| entries.iter())
        .filter(|(_, v)| {
            v.as_str()
                .is_some_and(|v| v.starts_with(crate::mask::HIDDEN.trim_end_matches('>')))
        })
        .map(|(k, _)| k.as_str())
        .collect();
    (!masked.is_empty()).then(|| {
        format!(
            "the values of {} are gitops' mask {}, not the secret: this came from a masked `gitops render`; render with --show-secrets (or apply the source itself)",
            masked.join(", "),
            crate::mask::HIDDEN
        )
    })
}

fn check_object(manifest: &Manifest, report: &mut impl FnMut(String)) {
    let object = &manifest.object;
    if let Some(message) = masked_secret(object) {
        report(message);
    }
    let absent = |field: &str| matches!(object.get(field), None | Some(Value::Null));
    if absent("apiVersion") && absent("kind") {
        return report("not a Kubernetes object (no apiVersion, no kind); when the file is not a manifest (an application's own configuration beside its manifests), leave it out of the target with `exclude:` in gitops.yaml (docs/configuration.md)".into());
    }
    for field in ["apiVersion", "kind"] {
        match object.get(field) {
            None | Some(Value::Null) => report(format!("{field} is missing")),
            Some(Value::String(s)) if s.trim().is_empty() => report(format!("{field} is empty")),
            Some(Value::String(_)) => {}
            Some(_) => report(format!("{field} must be a string")),
        }
    }
    let metadata = match object.get("metadata") {
        Some(Value::Object(metadata)) => metadata,
        None | Some(Value::Null) => {
            return report("metadata is missing (metadata.name is required)".into())
        }
        Some(_) => return report("metadata must be a mapping".into()),
    };
    match metadata.get("name") {
        None | Some(Value::Null) => report(missing_name_message(metadata)),
        Some(Value::String(name)) => {
            if let Some(why) = invalid_name(manifest.group(), manifest.kind().unwrap_or(""), name) {
                report(format!("metadata.name {name:?} is invalid: {why}"));
            }
        }
        Some(_) => report("metadata.name must be a string".into()),
    }
    match metadata.get("namespace") {
        None | Some(Value::Null) => {}
        Some(Value::String(ns)) => {
            if let Some(why) = invalid_dns_label(ns) {
                report(format!("metadata.namespace {ns:?} is invalid: {why}"));
            }
        }
        Some(_) => report("metadata.namespace must be a string".into()),
    }
    check_labels(metadata.get("labels"), report);
    check_annotations(metadata.get("annotations"), report);
    if let Err((key, _)) = wave(manifest) {
        report(format!("annotation {key} must be an integer"));
    }
    let size = json_size(object);
    if size > MAX_OBJECT_BYTES {
        report(format!(
            "the object is {:.1} MiB as JSON; Kubernetes stores at most 1.5 MiB per object (etcd's request limit)",
            size as f64 / 1_048_576.0
        ));
    }
}

/// Bytes of `value` as compact JSON, counted without building the string.
fn json_size(value: &Value) -> usize {
    struct Count(usize);
    impl std::io::Write for Count {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut count = Count(0);
    // Writing a Value to a writer that never fails cannot fail.
    let _ = serde_json::to_writer(&mut count, value);
    count.0
}

fn missing_name_message(metadata: &serde_json::Map<String, Value>) -> String {
    if metadata.contains_key("generateName") {
        "metadata.name is missing: generateName cannot be used with a declarative apply; give the object a fixed name".into()
    } else {
        "metadata.name is missing".into()
    }
}

fn check_labels(labels: Option<&Value>, report: &mut impl FnMut(String)) {
    let labels = match labels {
        None | Some(Value::Null) => return,
        Some(Value::Object(labels)) => labels,
        Some(_) => return report("metadata.labels must be a mapping".into()),
    };
    for (key, value) in labels {
        if let Some(why) = invalid_qualified_name(key) {
            report(format!("label key {key:?} is invalid: {why}"));
        }
        match value {
            Value::String(v) => {
                if let Some(why) = invalid_label_value(v) {
                    report(format!("value of label {key:?} is invalid: {why}"));
                }
            }
            _ => report(format!(
                "value of label {key:?} must be a string: quote it (e.g. \"1.0\", \"true\")"
            )),
        }
    }
}

fn check_annotations(annotations: Option<&Value>, report: &mut impl FnMut(String)) {
    let annotations = match annotations {
        None | Some(Value::Null) => return,
        Some(Value::Object(annotations)) => annotations,
        Some(_) => return report("metadata.annotations must be a mapping".into()),
    };
    for (key, value) in annotations {
        if let Some(why) = invalid_qualified_name(key) {
            report(format!("annotation key {key:?} is invalid: {why}"));
        }
        if !value.is_string() {
            report(format!(
                "value of annotation {key:?} must be a string: quote it"
            ));
        }
    }
}

/// Objects that would be the same object in the cluster.
fn duplicates(manifests: &[Manifest], default_namespace: &str) -> Vec<Problem> {
    let cluster_scoped_crds = crd_scopes(manifests);
    let mut first_seen: HashMap<ObjectRef, &Manifest> = HashMap::new();
    let mut problems = Vec::new();
    for manifest in manifests {
        if manifest.name().is_none() || manifest.kind().is_none() {
            continue;
        }
        let mut identity = manifest.object_ref();
        let cluster_scoped = kinds::builtin_cluster_scoped(&identity.group, &identity.kind)
            .or_else(|| {
                cluster_scoped_crds
                    .get(&(identity.group.clone(), identity.kind.clone()))
                    .copied()
            })
            .unwrap_or(false);
        identity.namespace = if cluster_scoped {
            None
        } else {
            Some(
                identity
                    .namespace
                    .unwrap_or_else(|| default_namespace.to_owned()),
            )
        };
        if let Some(first) = first_seen.get(&identity) {
            problems.push(Problem {
                origin: manifest.origin.clone(),
                object: manifest.describe(),
                message: format!(
                    "duplicate object {identity}: also defined at {}",
                    first.origin
                ),
            });
        } else {
            first_seen.insert(identity, manifest);
        }
    }
    problems
}

/// (group, kind) → cluster-scoped, for the CRDs of this render.
fn crd_scopes(manifests: &[Manifest]) -> HashMap<(String, String), bool> {
    manifests
        .iter()
        .filter(|m| m.kind() == Some("CustomResourceDefinition"))
        .filter_map(|crd| {
            let spec = crd.object.get("spec")?;
            let group = spec.get("group")?.as_str()?;
            let kind = spec.pointer("/names/kind")?.as_str()?;
            let cluster = spec.get("scope").and_then(Value::as_str) == Some("Cluster");
            Some(((group.to_owned(), kind.to_owned()), cluster))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_masked_secret_is_refused_naming_its_keys() {
        let found = problems("apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData:\n  password: <hidden>\n  user: admin\ndata:\n  token: \"<hidden: changed>\"\n");
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("the values of token, password are gitops' mask <hidden>")
                || found[0].contains("the values of password, token"),
            "{found:?}"
        );
        assert!(found[0].contains("--show-secrets"));
        assert!(problems(
            "apiVersion: v1\nkind: Secret\nmetadata: {name: db}\nstringData: {password: hidden}\n"
        )
        .is_empty());
    }
    use crate::render::manifest::parse_stream;

    fn problems(text: &str) -> Vec<String> {
        let manifests = parse_stream(text, "f.yaml").unwrap();
        validate(&manifests, "default")
            .iter()
            .map(ToString::to_string)
            .collect()
    }

    #[test]
    fn valid_objects_have_no_problems() {
        let text = "apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata:\n  name: system:demo\n  labels: {app.kubernetes.io/name: demo, empty: ''}\n";
        assert_eq!(problems(text), Vec::<String>::new());
    }

    #[test]
    fn reports_every_missing_field_with_its_place() {
        let found = problems("kind: ConfigMap\nmetadata: {}\n---\napiVersion: v1\nkind: Secret\n");
        assert_eq!(
            found,
            [
                "f.yaml:1 (document 1): <no apiVersion> ConfigMap <no name>: apiVersion is missing",
                "f.yaml:1 (document 1): <no apiVersion> ConfigMap <no name>: metadata.name is missing",
                "f.yaml:4 (document 2): v1 Secret <no name>: metadata is missing (metadata.name is required)",
            ]
        );
    }

    #[test]
    fn duplicates_name_both_sources_and_use_the_default_namespace() {
        let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: default}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: other}\n";
        let found = problems(text);
        assert_eq!(found.len(), 1, "{found:?}");
        assert!(
            found[0].contains("f.yaml:5 (document 2)")
                && found[0].contains("also defined at f.yaml:1 (document 1)"),
            "{found:?}"
        );
    }

    #[test]
    fn objects_larger_than_etcd_accepts_are_refused() {
        let object = |bytes: usize| {
            format!(
                "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: big}}\ndata: {{blob: {}}}\n",
                "x".repeat(bytes)
            )
        };
        assert_eq!(
            problems(&object(MAX_OBJECT_BYTES - 200)),
            Vec::<String>::new()
        );
        let found = problems(&object(2 * 1_048_576));
        assert_eq!(
            found,
            ["f.yaml:1 (document 1): v1 ConfigMap big: the object is 2.0 MiB as JSON; Kubernetes stores at most 1.5 MiB per object (etcd's request limit)"]
        );
    }

    #[test]
    fn names_labels_and_waves_are_checked() {
        let text = "apiVersion: v1\nkind: Service\nmetadata:\n  name: Web.App\n  labels: {version: 1.0, 'bad key!': x, ok: 'no spaces allowed'}\n  annotations: {gitops.dev/wave: first}\n";
        let found = problems(text).join("\n");
        for expected in [
            "metadata.name \"Web.App\" is invalid",
            "value of label \"version\" must be a string",
            "label key \"bad key!\" is invalid",
            "value of label \"ok\" is invalid",
            "annotation gitops.dev/wave must be an integer",
        ] {
            assert!(found.contains(expected), "missing {expected:?} in\n{found}");
        }
    }
}
