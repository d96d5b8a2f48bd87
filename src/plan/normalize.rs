//! What a diff compares: live and predicted objects without server bookkeeping, and without
//! the fields that ignoreDifferences hands to other controllers (SPEC.md, Diff).

use serde_json::{Map, Value};

use crate::config::IgnoreRule;
use crate::kinds;

/// Metadata the server maintains; never part of a diff.
const SERVER_METADATA: [&str; 6] = [
    "managedFields",
    "resourceVersion",
    "generation",
    "uid",
    "creationTimestamp",
    "selfLink",
];

/// kubectl's client-side apply bookkeeping.
const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// The rules of `ignore` that match this object.
pub fn matching_rules<'a>(ignore: &'a [IgnoreRule], object: &Value) -> Vec<&'a IgnoreRule> {
    let text = |pointer: &str| object.pointer(pointer).and_then(Value::as_str);
    let group = kinds::group_of(text("/apiVersion").unwrap_or(""));
    let kind = text("/kind").unwrap_or("");
    let name = text("/metadata/name");
    let namespace = text("/metadata/namespace");
    ignore
        .iter()
        .filter(|rule| {
            rule.group == group
                && rule.kind == kind
                && rule.name.as_deref().is_none_or(|n| Some(n) == name)
                && rule
                    .namespace
                    .as_deref()
                    .is_none_or(|n| Some(n) == namespace)
        })
        .collect()
}

/// apiVersion and kind first, in that order: the server writes kind first, list items get both
/// added last, and neither order may show as a change.
fn type_first(object: Value) -> Value {
    let Value::Object(mut fields) = object else {
        return object;
    };
    let mut ordered = Map::with_capacity(fields.len());
    for key in ["apiVersion", "kind"] {
        if let Some(value) = fields.shift_remove(key) {
            ordered.insert(key.to_owned(), value);
        }
    }
    ordered.extend(fields);
    Value::Object(ordered)
}

/// Removes server bookkeeping, status, and the ignored fields from a copy of `object`.
///
/// `owners` is the live object's managedFields: fields owned there by a manager named in a rule's
/// `managedFieldsManagers` are removed, on both sides of a diff (the predicted object may have
/// taken them over).
pub fn normalize(object: &Value, rules: &[&IgnoreRule], owners: Option<&Value>) -> Value {
    let mut object = type_first(object.clone());
    strip_server_metadata(&mut object);
    if let Value::Object(map) = &mut object {
        map.remove("status");
        if let Some(Value::Object(metadata)) = map.get_mut("metadata") {
            if let Some(Value::Object(annotations)) = metadata.get_mut("annotations") {
                annotations.remove(LAST_APPLIED);
                if annotations.is_empty() {
                    metadata.remove("annotations");
                }
            }
        }
    }
    for rule in rules {
        for pointer in &rule.json_pointers {
            remove_pointer(&mut object, pointer);
        }
        if let Some(Value::Array(entries)) = owners {
            for entry in entries {
                let manager = entry.get("manager").and_then(Value::as_str).unwrap_or("");
                if rule.managed_fields_managers.iter().any(|m| m == manager) {
                    if let Some(Value::Object(fields)) = entry.get("fieldsV1") {
                        remove_owned(&mut object, fields);
                    }
                }
            }
        }
    }
    object
}

/// What is applied over a live object keeps the live state of ignored fields, so that apply does
/// not fight the controller that owns them (as Argo CD's RespectIgnoreDifferences): a pointer's
/// live value replaces Git's (Git's is dropped where live has none), and fields that a named
/// manager owns are left out, so that manager keeps them. Git's values apply only at creation.
///
/// Dropping a pointed-to field instead would be unsafe: where gitops alone owns it, server-side
/// apply would delete it (replicas back to 1). A field left out because another manager owns it
/// stays, since that manager still owns it. What gitops itself relies on is never taken from
/// live: its membership label, the prune-protection annotations, and no server metadata.
pub fn respect_ignored(desired: &mut Value, live: &Value, rules: &[&IgnoreRule]) {
    let git = desired.clone();
    for rule in rules {
        for pointer in &rule.json_pointers {
            if desired.pointer(pointer).is_none() || !same_items_along(desired, live, pointer) {
                continue;
            }
            match live.pointer(pointer) {
                Some(value) => {
                    if let Some(slot) = desired.pointer_mut(pointer) {
                        *slot = value.clone();
                    }
                }
                // A list item of Git's is never dropped because live's list is shorter.
                None if ends_in_index(desired, pointer) => {}
                None => remove_pointer(desired, pointer),
            }
        }
        let Some(Value::Array(entries)) = live.pointer("/metadata/managedFields") else {
            continue;
        };
        for entry in entries {
            let manager = entry.get("manager").and_then(Value::as_str).unwrap_or("");
            if rule.managed_fields_managers.iter().any(|m| m == manager) {
                if let Some(Value::Object(fields)) = entry.get("fieldsV1") {
                    remove_owned(desired, fields);
                }
            }
        }
    }
    keep_own_metadata(desired, &git);
}

/// Labels and annotations gitops reads on the objects it applies: always Git's.
const OWN_METADATA: [(&str, &str); 4] = [
    ("labels", crate::ownership::PART_OF_LABEL),
    ("annotations", crate::ownership::PRUNE_ANNOTATION),
    ("annotations", crate::ownership::FLUX_PRUNE_ANNOTATION),
    ("annotations", crate::ownership::ARGO_SYNC_OPTIONS),
];

fn keep_own_metadata(desired: &mut Value, git: &Value) {
    for (map, key) in OWN_METADATA {
        let wanted = git
            .pointer(&format!("/metadata/{map}"))
            .and_then(|m| m.get(key));
        let Some(Value::Object(metadata)) = desired.get_mut("metadata") else {
            continue;
        };
        match wanted {
            Some(value) => {
                let entries = metadata
                    .entry(map)
                    .or_insert_with(|| Value::Object(Map::new()));
                if let Value::Object(entries) = entries {
                    entries.insert(key.to_owned(), value.clone());
                }
            }
            None => {
                if let Some(Value::Object(entries)) = metadata.get_mut(map) {
                    entries.remove(key);
                }
            }
        }
    }
    strip_server_metadata(desired);
}

/// Removes what the server sets on one incarnation of an object (resourceVersion, uid, …).
pub fn strip_server_metadata(object: &mut Value) {
    if let Some(Value::Object(metadata)) = object.get_mut("metadata") {
        for key in SERVER_METADATA {
            metadata.remove(key);
        }
    }
}

/// Whether the list items a pointer passes through by index are the same items in both objects
/// (same name, port, path or key): with an injected container first, `/containers/0` is another
/// container in live, and nothing is copied.
fn same_items_along(desired: &Value, live: &Value, pointer: &str) -> bool {
    const ITEM_KEYS: [&str; 5] = ["name", "mountPath", "containerPort", "port", "key"];
    let (mut ours, mut theirs) = (Some(desired), Some(live));
    for token in pointer.split('/').skip(1).map(unescape) {
        if let (Some(Value::Array(a)), Some(Value::Array(b)), Ok(index)) =
            (ours, theirs, token.parse::<usize>())
        {
            if let (Some(x), Some(y)) = (a.get(index), b.get(index)) {
                if ITEM_KEYS.iter().any(|k| x.get(k) != y.get(k)) {
                    return false;
                }
            }
        }
        ours = ours.and_then(|v| child(v, &token));
        theirs = theirs.and_then(|v| child(v, &token));
    }
    true
}

fn child<'a>(value: &'a Value, token: &str) -> Option<&'a Value> {
    match value {
        Value::Object(map) => map.get(token),
        Value::Array(items) => items.get(token.parse::<usize>().ok()?),
        _ => None,
    }
}

/// Whether the pointer names an item of a list in `object`.
fn ends_in_index(object: &Value, pointer: &str) -> bool {
    pointer
        .rsplit_once('/')
        .is_some_and(|(parent, _)| matches!(object.pointer(parent), Some(Value::Array(_))))
}

/// Removes the value at a JSON pointer (RFC 6901), if there is one.
pub fn remove_pointer(object: &mut Value, pointer: &str) {
    let Some((parent, last)) = pointer.rsplit_once('/') else {
        return;
    };
    let last = unescape(last);
    match object.pointer_mut(parent) {
        Some(Value::Object(map)) => {
            map.remove(&last);
        }
        Some(Value::Array(items)) => {
            if let Ok(index) = last.parse::<usize>() {
                if index < items.len() {
                    items.remove(index);
                }
            }
        }
        _ => {}
    }
}

pub(super) fn unescape(token: &str) -> String {
    token.replace("~1", "/").replace("~0", "~")
}

/// Removes from `object` the fields a managedFields `fieldsV1` set names.
///
/// `f:name` is a field, `k:{…}` a list item by its keys, `v:…` a set item, `i:N` an item by
/// index; an empty set is a leaf. A list item whose `.` is owned goes whole; a map's `.`
/// only means the map exists, so other managers' fields in it stay.
fn remove_owned(object: &mut Value, fields: &Map<String, Value>) {
    for (key, children) in fields {
        let children = children.as_object();
        let is_leaf = children.is_none_or(|c| c.is_empty());
        let owns_item = children.is_some_and(|c| c.contains_key("."));
        if let Some(name) = key.strip_prefix("f:") {
            let Value::Object(map) = object else { continue };
            if is_leaf {
                map.remove(name);
            } else if let (Some(child), Some(children)) = (map.get_mut(name), children) {
                remove_owned(child, children);
            }
        } else if let Value::Array(items) = object {
            let Some(index) = find_item(items, key) else {
                continue;
            };
            if is_leaf || owns_item {
                items.remove(index);
            } else if let Some(children) = children {
                remove_owned(&mut items[index], children);
            }
        }
    }
}

pub(super) fn find_item(items: &[Value], key: &str) -> Option<usize> {
    if let Some(keys) = key.strip_prefix("k:") {
        let keys: Map<String, Value> = serde_json::from_str(keys).ok()?;
        items
            .iter()
            .position(|item| keys.iter().all(|(k, v)| item.get(k) == Some(v)))
    } else if let Some(value) = key.strip_prefix("v:") {
        let value: Value = serde_json::from_str(value).ok()?;
        items.iter().position(|item| *item == value)
    } else if let Some(index) = key.strip_prefix("i:") {
        index.parse().ok().filter(|&i| i < items.len())
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rule(pointers: &[&str], managers: &[&str]) -> IgnoreRule {
        IgnoreRule {
            group: "apps".into(),
            kind: "Deployment".into(),
            name: Some("web".into()),
            namespace: None,
            json_pointers: pointers.iter().map(|s| s.to_string()).collect(),
            managed_fields_managers: managers.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn strips_server_bookkeeping() {
        let live = json!({"apiVersion": "v1", "kind": "ConfigMap", "status": {},
            "metadata": {"name": "c", "uid": "u", "resourceVersion": "1", "managedFields": [],
                "annotations": {LAST_APPLIED: "{}"}}, "data": {"a": "b"}});
        assert_eq!(
            normalize(&live, &[], None),
            json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}, "data": {"a": "b"}})
        );
    }

    #[test]
    fn applied_objects_keep_the_live_state_of_ignored_fields() {
        let mut desired = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "annotations": {"a/b": "git", "keep": "y"}},
            "spec": {"replicas": 1, "template": {"spec": {"containers": [
                {"name": "app", "image": "app:2"}, {"name": "sidecar", "image": "proxy:1"}]}}}});
        let live = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "annotations": {"keep": "y"}, "managedFields": [
                {"manager": "injector", "operation": "Update", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                    "k:{\"name\":\"sidecar\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}}}]},
            "spec": {"replicas": 4, "template": {"spec": {"containers": [
                {"name": "app", "image": "app:1"}, {"name": "sidecar", "image": "proxy:2"}]}}}});
        let ignore = [
            rule(
                &[
                    "/spec/replicas",
                    "/metadata/annotations/a~1b",
                    "/spec/paused",
                ],
                &[],
            ),
            rule(&[], &["injector"]),
        ];
        let rules = matching_rules(&ignore, &desired);
        respect_ignored(&mut desired, &live, &rules);
        assert_eq!(
            desired,
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "annotations": {"keep": "y"}},
                "spec": {"replicas": 4, "template": {"spec": {"containers": [
                    {"name": "app", "image": "app:2"}]}}}}),
            "live replicas kept, an annotation live lacks dropped, a field Git lacks not added, the injector's container left to it, Git's image applied"
        );
    }

    #[test]
    fn what_gitops_relies_on_is_never_taken_from_live() {
        let part_of = crate::ownership::PART_OF_LABEL;
        let mut desired = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {part_of: "ours", "app": "web"},
                "annotations": {"gitops.dev/prune": "disabled"}},
            "spec": {"template": {"spec": {"containers": [
                {"name": "app", "image": "app:2", "resources": {"limits": {"cpu": "1"}}}]}}}});
        let live = json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "web", "labels": {part_of: "another-target", "team": "x"},
                "uid": "u-1", "resourceVersion": "42", "managedFields": []},
            "spec": {"template": {"spec": {"containers": [
                {"name": "istio-proxy", "resources": {"limits": {"cpu": "9"}}},
                {"name": "app", "image": "app:1", "resources": {"limits": {"cpu": "2"}}}]}}}});
        let ignore = [rule(
            &[
                "/metadata",
                "/spec/template/spec/containers/0/resources",
                "/spec/template/spec/containers/1",
            ],
            &[],
        )];
        let rules = matching_rules(&ignore, &desired);
        respect_ignored(&mut desired, &live, &rules);
        assert_eq!(
            desired,
            json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "web", "labels": {part_of: "ours", "team": "x"},
                    "annotations": {"gitops.dev/prune": "disabled"}},
                "spec": {"template": {"spec": {"containers": [
                    {"name": "app", "image": "app:2", "resources": {"limits": {"cpu": "1"}}}]}}}}),
            "own label and annotation from Git, no server metadata, another container's resources not copied"
        );

        let mut two = json!({"kind": "Deployment", "spec": {"containers": [{"name": "app"}, {"name": "sidecar"}]}});
        let one = json!({"kind": "Deployment", "spec": {"containers": [{"name": "app"}]}});
        let ignore = [rule(&["/spec/containers/1"], &[])];
        respect_ignored(&mut two, &one, &ignore.iter().collect::<Vec<_>>());
        assert_eq!(
            two["spec"]["containers"][1]["name"], "sidecar",
            "a list item of Git's is not dropped because live's list is shorter"
        );
    }

    #[test]
    fn json_pointers_and_managers_are_ignored() {
        let object = json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web",
            "annotations": {"a/b": "x", "keep": "y"}},
            "spec": {"replicas": 5, "template": {"spec": {"containers": [
                {"name": "app", "image": "app:1"}, {"name": "sidecar", "image": "proxy:1"}]}}}});
        let ignore = [
            rule(&["/metadata/annotations/a~1b"], &["injector"]),
            rule(&[], &["hpa"]),
        ];
        let owners = json!([
            {"manager": "injector", "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                "k:{\"name\":\"sidecar\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}}},
            {"manager": "hpa", "fieldsV1": {"f:spec": {"f:replicas": {}}}},
            {"manager": "gitops", "fieldsV1": {"f:metadata": {"f:annotations": {".": {}, "f:keep": {}}}}},
        ]);
        let rules = matching_rules(&ignore, &object);
        assert_eq!(rules.len(), 2);
        let normalized = normalize(&object, &rules, Some(&owners));
        assert_eq!(
            normalized,
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "web",
                "annotations": {"keep": "y"}},
                "spec": {"template": {"spec": {"containers": [{"name": "app", "image": "app:1"}]}}}})
        );
    }
}
