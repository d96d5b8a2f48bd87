//! When a server-side dry-run cannot change anything, and can be skipped.
//!
//! Under server-side apply, applying `desired` as manager `gitops` leaves `live` as it is when:
//! 1. every field of `desired` is owned by `gitops` in live's managedFields (so no other manager
//!    holds it, and forcing takes nothing from anyone),
//! 2. `gitops` owns nothing that `desired` lacks (so nothing would be removed), and
//! 3. every value of `desired` equals the live value.
//!
//! Fields nobody asked for (defaults, other managers' fields) are untouched by the apply.
//! Where a list or map is atomic (owned as one leaf), its desired and live values must be equal
//! as a whole, since the apply would replace it. Anything this check cannot prove goes to the
//! server: it only ever answers "unchanged" or "ask the server".

use serde_json::{Map, Value};

/// Identity, not fields: never in managedFields.
const IDENTITY_FIELDS: [&str; 2] = ["apiVersion", "kind"];

/// True when applying `desired` over `live` as manager `manager` is provably a no-op.
pub fn apply_is_noop(desired: &Value, live: &Value, manager: &str) -> bool {
    let Some(fields) = owned_fields(live, manager) else {
        return false;
    };
    let (Value::Object(desired), Value::Object(live)) = (desired, live) else {
        return false;
    };
    let mut desired = desired.clone();
    for key in IDENTITY_FIELDS {
        desired.remove(key);
    }
    if let Some(Value::Object(metadata)) = desired.get_mut("metadata") {
        metadata.remove("name");
        metadata.remove("namespace");
        if metadata.is_empty() {
            desired.remove("metadata");
        }
    }
    match string_data_view(&desired, live) {
        Some(view) => map_matches(&desired, &view, fields),
        None => map_matches(&desired, live, fields),
    }
}

/// A Secret's `stringData` is stored as base64 `data`, while managedFields name the
/// `stringData` keys that were applied. This view of the live Secret shows the desired plain
/// value under `stringData` wherever the stored `data` value equals it, so that an unchanged
/// Secret written with `stringData` can be proven unchanged too.
fn string_data_view(
    desired: &Map<String, Value>,
    live: &Map<String, Value>,
) -> Option<Map<String, Value>> {
    let Some(Value::Object(plain)) = desired.get("stringData") else {
        return None;
    };
    let is_secret = live.get("kind").and_then(Value::as_str) == Some("Secret")
        && live.get("apiVersion").and_then(Value::as_str) == Some("v1");
    if !is_secret {
        return None;
    }
    let stored = live.get("data").and_then(Value::as_object);
    let matching: Map<String, Value> = plain
        .iter()
        .filter(|(key, value)| {
            let encoded = value
                .as_str()
                .map(|text| crate::mask::base64(text.as_bytes()));
            stored
                .and_then(|data| data.get(*key))
                .and_then(Value::as_str)
                == encoded.as_deref()
        })
        .map(|(key, value)| (key.clone(), value.clone()))
        .collect();
    let mut view = live.clone();
    view.insert("stringData".into(), Value::Object(matching));
    Some(view)
}

/// The `fieldsV1` of the manager's Apply entry.
fn owned_fields<'a>(live: &'a Value, manager: &str) -> Option<&'a Map<String, Value>> {
    live.pointer("/metadata/managedFields")?
        .as_array()?
        .iter()
        .find(|entry| {
            entry.get("manager").and_then(Value::as_str) == Some(manager)
                && entry.get("operation").and_then(Value::as_str) == Some("Apply")
        })?
        .get("fieldsV1")?
        .as_object()
}

/// A granular map: desired ⊆ live, and desired's keys are exactly the owned `f:` keys.
fn map_matches(
    desired: &Map<String, Value>,
    live: &Map<String, Value>,
    fields: &Map<String, Value>,
) -> bool {
    let owned = fields.keys().filter(|k| k.as_str() != ".").count();
    if owned != desired.len() {
        return false;
    }
    desired.iter().all(
        |(key, value)| match (fields.get(&format!("f:{key}")), live.get(key)) {
            (Some(Value::Object(children)), Some(live_value)) => {
                node_matches(value, live_value, children)
            }
            _ => false,
        },
    )
}

/// One node: a leaf (scalar or atomic value) must equal; a granular map or list recurses.
fn node_matches(desired: &Value, live: &Value, fields: &Map<String, Value>) -> bool {
    if desired.is_null() {
        return false; // null asks the server to remove a field
    }
    let granular = fields.keys().any(|k| k.as_str() != ".");
    match (desired, live) {
        (Value::Object(d), Value::Object(l)) if granular => map_matches(d, l, fields),
        (Value::Array(d), Value::Array(l)) if granular => list_matches(d, l, fields),
        _ if granular => false,
        _ => desired == live,
    }
}

/// An associative or set list: each desired item has its owned entry and equals its live item;
/// every owned entry is a desired item.
fn list_matches(desired: &[Value], live: &[Value], fields: &Map<String, Value>) -> bool {
    let entries: Vec<(&String, &Value)> =
        fields.iter().filter(|(k, _)| k.as_str() != ".").collect();
    if entries.len() != desired.len() {
        return false;
    }
    entries.iter().all(|(key, children)| {
        let Some(children) = children.as_object() else {
            return false;
        };
        let found = |items: &[Value]| items.iter().position(|item| item_has_key(item, key));
        match (found(desired), found(live)) {
            (Some(d), Some(l)) => {
                if key.starts_with("v:") {
                    desired[d] == live[l]
                } else {
                    node_matches(&desired[d], &live[l], children)
                }
            }
            _ => false,
        }
    })
}

/// Whether a list item is the one a `k:{…}` or `v:…` entry names (`i:N` is never trusted).
fn item_has_key(item: &Value, key: &str) -> bool {
    if let Some(keys) = key.strip_prefix("k:") {
        let Ok(Value::Object(keys)) = serde_json::from_str::<Value>(keys) else {
            return false;
        };
        keys.iter().all(|(k, v)| item.get(k) == Some(v))
    } else if let Some(value) = key.strip_prefix("v:") {
        serde_json::from_str::<Value>(value).is_ok_and(|v| *item == v)
    } else {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live(fields: Value, body: Value) -> Value {
        let mut live = body;
        live["metadata"]["managedFields"] =
            json!([{"manager": "gitops", "operation": "Apply", "fieldsV1": fields}]);
        live
    }

    fn deployment() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web", "namespace": "ns", "labels": {"app": "web"}},
            "spec": {"replicas": 2, "selector": {"matchLabels": {"app": "web"}},
                "template": {"spec": {"containers": [{"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80, "protocol": "TCP"}]}]}}}})
    }

    fn fields() -> Value {
        json!({"f:metadata": {"f:labels": {".": {}, "f:app": {}}},
            "f:spec": {"f:replicas": {}, "f:selector": {}, "f:template": {"f:spec": {"f:containers": {
                "k:{\"name\":\"web\"}": {".": {}, "f:name": {}, "f:image": {}, "f:ports": {
                    "k:{\"containerPort\":80,\"protocol\":\"TCP\"}": {".": {}, "f:containerPort": {}, "f:protocol": {}}}}}}}}})
    }

    fn with_defaults(mut object: Value) -> Value {
        object["spec"]["template"]["spec"]["containers"][0]["terminationMessagePath"] =
            json!("/dev/termination-log");
        object["spec"]["strategy"] = json!({"type": "RollingUpdate"});
        object["metadata"]["uid"] = json!("123");
        object
    }

    #[test]
    fn unchanged_objects_skip_the_dry_run() {
        assert!(apply_is_noop(
            &deployment(),
            &live(fields(), with_defaults(deployment())),
            "gitops"
        ));
    }

    #[test]
    fn anything_unproven_goes_to_the_server() {
        let live_object = live(fields(), with_defaults(deployment()));
        let mut changed = deployment();
        changed["spec"]["template"]["spec"]["containers"][0]["image"] = json!("nginx:2");
        assert!(
            !apply_is_noop(&changed, &live_object, "gitops"),
            "changed value"
        );
        let mut added = deployment();
        added["metadata"]["labels"]["tier"] = json!("web");
        assert!(
            !apply_is_noop(&added, &live_object, "gitops"),
            "field not owned yet"
        );
        let mut dropped = deployment();
        dropped["spec"].as_object_mut().unwrap().remove("replicas");
        assert!(
            !apply_is_noop(&dropped, &live_object, "gitops"),
            "owned field dropped"
        );
        let mut atomic = with_defaults(deployment());
        atomic["spec"]["selector"]["matchLabels"]["extra"] = json!("x");
        assert!(
            !apply_is_noop(&deployment(), &live(fields(), atomic), "gitops"),
            "atomic value differs"
        );
        assert!(
            !apply_is_noop(
                &deployment(),
                &live(fields(), with_defaults(deployment())),
                "kubectl"
            ),
            "other manager"
        );
        let mut null = deployment();
        null["spec"]["replicas"] = Value::Null;
        assert!(
            !apply_is_noop(&null, &live_object, "gitops"),
            "null removes"
        );
        let no_fields = with_defaults(deployment());
        assert!(
            !apply_is_noop(&deployment(), &no_fields, "gitops"),
            "no managedFields"
        );
    }

    #[test]
    fn secrets_written_with_string_data_are_compared_as_stored() {
        let desired = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s", "namespace": "ns"},
            "stringData": {"password": "abc"}});
        let fields = json!({"f:stringData": {"f:password": {}}});
        let stored = |value: &str| {
            live(
                fields.clone(),
                json!({"apiVersion": "v1", "kind": "Secret",
            "metadata": {"name": "s", "namespace": "ns"}, "type": "Opaque", "data": {"password": value}}),
            )
        };
        assert!(
            apply_is_noop(&desired, &stored("YWJj"), "gitops"),
            "same value"
        );
        assert!(
            !apply_is_noop(&desired, &stored("eHl6"), "gitops"),
            "changed value"
        );
    }
}
