//! The two witnesses the inventory keeps per member (docs/inventory.md): a digest of what the
//! last successful apply sent, and of the part of the object it left that gitops owns.
//!
//! Digests are 48 bits of SHA-256 over canonical JSON (keys sorted), 12 hex characters: a
//! collision can only hide a cause, never a change (the plan still compares the objects).
//! Secret values are never hashed (SPEC.md: no hash of one): a Secret's `data` and
//! `stringData` enter with their keys only, so its values are judged by managedFields alone.

use serde_json::Value;

use super::fields::applied_part;
use super::normalize::normalize;
use crate::config::IgnoreRule;
use crate::ownership::FIELD_MANAGER;

/// Digest of the normalised object as sent: before live values are merged in (allocated
/// fields, ignored fields), so that it changes only when Git does.
pub fn sent(desired: &Value, rules: &[&IgnoreRule]) -> String {
    digest(&without_identity(
        normalize(desired, rules, None),
        is_secret(desired),
    ))
}

/// Digest of what gitops's own apply owns in `object` (live, or the dry-run's prediction):
/// other managers' and controllers' fields do not count. None when gitops applied nothing
/// here (an object created with a plain create, or planned without a dry-run).
pub fn left(object: &Value, rules: &[&IgnoreRule]) -> Option<String> {
    let owners = object.pointer("/metadata/managedFields");
    let normalized = normalize(object, rules, owners);
    // normalize drops managedFields; the projection needs them.
    let mut with_fields = normalized;
    if let (Some(fields), Value::Object(map)) = (owners, &mut with_fields) {
        if let Some(Value::Object(metadata)) = map.get_mut("metadata") {
            metadata.insert("managedFields".into(), fields.clone());
        }
    }
    let part = applied_part(&with_fields, FIELD_MANAGER)?;
    Some(digest(&without_identity(part, is_secret(object))))
}

fn is_secret(object: &Value) -> bool {
    object.get("kind").and_then(Value::as_str) == Some("Secret")
        && object.get("apiVersion").and_then(Value::as_str) == Some("v1")
}

/// Name and namespace never change for one object, and managedFields never list them.
/// A Secret keeps its keys, never its values.
fn without_identity(mut object: Value, is_secret: bool) -> Value {
    if let Value::Object(map) = &mut object {
        map.remove("apiVersion");
        map.remove("kind");
        if let Some(Value::Object(metadata)) = map.get_mut("metadata") {
            metadata.remove("name");
            metadata.remove("namespace");
            metadata.remove("managedFields");
            if metadata.is_empty() {
                map.remove("metadata");
            }
        }
        if is_secret {
            for key in ["data", "stringData"] {
                if let Some(Value::Object(values)) = map.get_mut(key) {
                    for value in values.values_mut() {
                        *value = Value::Null;
                    }
                }
            }
        }
    }
    object
}

/// 48 bits of SHA-256 of the canonical JSON, in hex.
pub fn digest(value: &Value) -> String {
    let mut text = String::new();
    canonical(value, &mut text);
    let hash = ring::digest::digest(&ring::digest::SHA256, text.as_bytes());
    hash.as_ref()[..6]
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

fn canonical(value: &Value, out: &mut String) {
    match value {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (index, key) in keys.into_iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(key.clone()).to_string());
                out.push(':');
                canonical(&map[key], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (index, item) in items.iter().enumerate() {
                if index > 0 {
                    out.push(',');
                }
                canonical(item, out);
            }
            out.push(']');
        }
        other => out.push_str(&other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn digests_ignore_key_order_and_identity() {
        let a = json!({"apiVersion": "v1", "kind": "ConfigMap",
                       "metadata": {"name": "a", "namespace": "x", "labels": {"k": "v"}},
                       "data": {"one": "1", "two": "2"}});
        let b = json!({"data": {"two": "2", "one": "1"}, "kind": "ConfigMap", "apiVersion": "v1",
                       "metadata": {"labels": {"k": "v"}, "namespace": "y", "name": "b"}});
        assert_eq!(sent(&a, &[]), sent(&b, &[]));
        assert_eq!(sent(&a, &[]).len(), 12);
        let mut c = a.clone();
        c["data"]["one"] = json!("changed");
        assert_ne!(sent(&a, &[]), sent(&c, &[]));
    }

    #[test]
    fn secret_values_are_never_hashed() {
        let secret = |value: &str| {
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"},
                   "stringData": {"password": value}})
        };
        assert_eq!(sent(&secret("a"), &[]), sent(&secret("b"), &[]));
        let mut renamed = secret("a");
        renamed["stringData"] = json!({"token": "a"});
        assert_ne!(sent(&secret("a"), &[]), sent(&renamed, &[]));
    }

    #[test]
    fn left_counts_only_what_gitops_applied() {
        let live = |annotation: &str, replicas: u32| {
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "api", "annotations": {"deployment.kubernetes.io/revision": annotation},
                    "managedFields": [{"manager": "gitops", "operation": "Apply",
                        "fieldsV1": {"f:spec": {"f:replicas": {}}}}]},
                "spec": {"replicas": replicas, "paused": false}})
        };
        assert_eq!(left(&live("1", 2), &[]), left(&live("7", 2), &[]));
        assert_ne!(left(&live("1", 2), &[]), left(&live("1", 3), &[]));
        let mut not_applied = live("1", 2);
        not_applied["metadata"]["managedFields"] = json!([]);
        assert_eq!(left(&not_applied, &[]), None);
    }
}
