//! A target's inventory as the tests read and hand-edit it (docs/inventory.md, format 2:
//! members grouped by `<apiVersion> <kind>[ <namespace>]`, each `[name, sent, left]`).

use serde_json::{json, Map, Value};

use super::kubectl::kubectl_ok;

fn parent(ns: &str, target: &str) -> Value {
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
    serde_json::from_str(&text).expect("the inventory is JSON")
}

/// The members, one `{group, version, kind, namespace?, name}` object each.
pub fn members(ns: &str, target: &str) -> Vec<Value> {
    let inventory = parent(ns, target);
    let text = inventory["data"]["members"]
        .as_str()
        .unwrap_or_else(|| panic!("no data.members in {inventory:#}"));
    let groups: Map<String, Value> = serde_json::from_str(text)
        .unwrap_or_else(|e| panic!("data.members is not format 2 ({e}): {text}"));
    let mut members = Vec::new();
    for (key, entries) in groups {
        let parts: Vec<&str> = key.split(' ').collect();
        let (group, version) = match parts[0].split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", parts[0]),
        };
        for entry in entries.as_array().unwrap() {
            let mut member = json!({"group": group, "version": version, "kind": parts[1],
                                    "name": entry[0]});
            if let Some(namespace) = parts.get(2) {
                member["namespace"] = json!(namespace);
            }
            members.push(member);
        }
    }
    members
}

/// Replaces the member list (what a person with `kubectl edit` could do); digests are dropped.
pub fn set_members(ns: &str, target: &str, members: &[Value]) {
    let mut groups: Map<String, Value> = Map::new();
    for member in members {
        let text = |key: &str| member[key].as_str().unwrap_or_default().to_owned();
        let api_version = match text("group").as_str() {
            "" => text("version"),
            group => format!("{group}/{}", text("version")),
        };
        let mut key = format!("{api_version} {}", text("kind"));
        if let Some(namespace) = member["namespace"].as_str() {
            key = format!("{key} {namespace}");
        }
        groups
            .entry(key)
            .or_insert_with(|| json!([]))
            .as_array_mut()
            .unwrap()
            .push(json!([text("name"), "", ""]));
    }
    let patch = json!({"data": {"members": Value::Object(groups).to_string()}}).to_string();
    kubectl_ok(
        &[
            "-n",
            ns,
            "patch",
            "configmap",
            &format!("gitops-{target}"),
            "--type=merge",
            "-p",
            &patch,
        ],
        None,
    );
}
