//! Reading and writing the inventory's parent ConfigMap.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use k8s_openapi::api::core::v1::ConfigMap;
use kube::core::ApiResource;
use serde_json::{json, Value};

use super::{HistoryEntry, Inventory, InventoryRef, Member, Notified, Witness};
use crate::cluster::{objects, Cluster, ClusterError, ResourceInfo};
use crate::identity::ObjectRef;
use crate::ownership::{
    DRIFT_NOTIFIED_ANNOTATION, GROUP_KINDS_ANNOTATION, HISTORY_LABEL, ID_LABEL,
    NAMESPACES_ANNOTATION, NOTIFY_MANAGER, TOOLING_ANNOTATION,
};

#[derive(Debug, thiserror::Error)]
pub enum InventoryError {
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("the inventory ConfigMap {namespace}/{name} cannot be read ({why}); nothing was written. Fix or delete it by hand (deleting it makes gitops forget what to prune)")]
    Corrupt {
        namespace: String,
        name: String,
        why: String,
    },
}

pub(super) fn config_map_resource() -> ResourceInfo {
    ResourceInfo {
        resource: ApiResource::erase::<ConfigMap>(&()),
        namespaced: true,
        pending_crd: false,
    }
}

/// The inventory, or None when the target was never applied.
pub async fn read(
    cluster: &Cluster,
    at: &InventoryRef,
) -> Result<Option<Inventory>, InventoryError> {
    let Some(parent) = objects::get(
        cluster,
        &config_map_resource(),
        Some(&at.namespace),
        &at.name,
    )
    .await?
    else {
        return Ok(None);
    };
    let corrupt = |why: String| InventoryError::Corrupt {
        namespace: at.namespace.clone(),
        name: at.name.clone(),
        why,
    };
    let id = parent.pointer(&format!("/metadata/labels/{}", ID_LABEL.replace('/', "~1")));
    if id.and_then(Value::as_str) != Some(at.id.as_str()) {
        return Err(corrupt(format!("its {ID_LABEL} label is not {}", at.id)));
    }
    let data = parent.get("data").cloned().unwrap_or(json!({}));
    let field = |key: &str| -> Result<Value, InventoryError> {
        match data.get(key).and_then(Value::as_str) {
            None => Ok(Value::Null),
            Some(text) => {
                serde_json::from_str(text).map_err(|e| corrupt(format!("data.{key}: {e}")))
            }
        }
    };
    let format = data.get("format").and_then(Value::as_str).unwrap_or("1");
    let (members, witnesses) = match format {
        "1" => (
            serde_json::from_value(or_empty_list(field("members")?))
                .map_err(|e| corrupt(format!("data.members: {e}")))?,
            HashMap::new(),
        ),
        "2" => {
            let groups: BTreeMap<String, Vec<Vec<String>>> =
                serde_json::from_value(field("members")?)
                    .map_err(|e| corrupt(format!("data.members: {e}")))?;
            ungroup(groups).map_err(|e| corrupt(format!("data.members: {e}")))?
        }
        other => {
            return Err(corrupt(format!(
                "it is in format {other}, written by a newer gitops; upgrade gitops"
            )))
        }
    };
    let notified = parent
        .pointer(&format!(
            "/metadata/annotations/{}",
            DRIFT_NOTIFIED_ANNOTATION.replace('/', "~1")
        ))
        .and_then(Value::as_str)
        .and_then(|text| serde_json::from_str(text).ok());
    let inventory = Inventory {
        members,
        witnesses,
        notified,
        revision: data
            .get("revision")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        // A record this version cannot read (older, or edited by hand) is as good as none:
        // rollback then asks for one apply first.
        source: serde_json::from_value(field("source")?).ok().flatten(),
        legacy_history: legacy_history(&parent, &at.namespace, &at.name),
        applied_at: data
            .get("appliedAt")
            .and_then(Value::as_str)
            .map(str::to_owned),
        uid: parent["metadata"]["uid"].as_str().map(str::to_owned),
    };
    Ok(Some(inventory))
}

/// The history entries a parent written before records had objects of their own keeps in
/// `data.history`; an entry that cannot be read is skipped with a warning naming it.
pub(super) fn legacy_history(parent: &Value, namespace: &str, name: &str) -> Vec<HistoryEntry> {
    let Some(text) = parent["data"]["history"].as_str() else {
        return Vec::new();
    };
    let warn = |why: String| {
        crate::log::warn(&format!(
            "the inventory ConfigMap {namespace}/{name}: data.history {why}; skipped"
        ))
    };
    let entries: Vec<Value> = match serde_json::from_str(text) {
        Ok(entries) => entries,
        Err(e) => {
            warn(format!("is not a list of records ({e})"));
            return Vec::new();
        }
    };
    entries
        .into_iter()
        .enumerate()
        .filter_map(|(i, entry)| match serde_json::from_value(entry) {
            Ok(entry) => Some(entry),
            Err(e) => {
                warn(format!("entry {}: {e}", i + 1));
                None
            }
        })
        .collect()
}

/// Format 2 members: grouped by `<apiVersion> <kind>[ <namespace>]`, each `[name, sent, left]`.
fn group(inventory: &Inventory) -> BTreeMap<String, Vec<[String; 3]>> {
    let mut groups: BTreeMap<String, Vec<[String; 3]>> = BTreeMap::new();
    for member in &inventory.members {
        let mut key = format!("{} {}", member.api_version(), member.kind);
        if let Some(ns) = &member.namespace {
            key.push(' ');
            key.push_str(ns);
        }
        let witness = inventory
            .witnesses
            .get(&member.identity())
            .cloned()
            .unwrap_or_default();
        groups
            .entry(key)
            .or_default()
            .push([member.name.clone(), witness.sent, witness.left]);
    }
    groups
}

type Members = (Vec<Member>, HashMap<ObjectRef, Witness>);

fn ungroup(groups: BTreeMap<String, Vec<Vec<String>>>) -> Result<Members, String> {
    let mut members = Vec::new();
    let mut witnesses = HashMap::new();
    for (key, entries) in groups {
        let mut parts = key.split(' ');
        let (Some(api_version), Some(kind)) = (parts.next(), parts.next()) else {
            return Err(format!(
                "group {key:?} is not \"<apiVersion> <kind> [namespace]\""
            ));
        };
        let namespace = parts.next().map(str::to_owned);
        let (group, version) = match api_version.split_once('/') {
            Some((group, version)) => (group.to_owned(), version.to_owned()),
            None => (String::new(), api_version.to_owned()),
        };
        for entry in entries {
            let mut entry = entry.into_iter();
            let Some(name) = entry.next() else {
                return Err(format!("an entry of group {key:?} has no name"));
            };
            let member = Member {
                group: group.clone(),
                version: version.clone(),
                kind: kind.to_owned(),
                namespace: namespace.clone(),
                name,
            };
            let witness = Witness {
                sent: entry.next().unwrap_or_default(),
                left: entry.next().unwrap_or_default(),
            };
            if witness != Witness::default() {
                witnesses.insert(member.identity(), witness);
            }
            members.push(member);
        }
    }
    members.sort();
    Ok((members, witnesses))
}

/// An absent list reads as an empty one.
fn or_empty_list(value: Value) -> Value {
    if value.is_null() {
        json!([])
    } else {
        value
    }
}

/// Compact JSON of plain data (strings, numbers, lists of structs), which always serialises.
fn to_json<T: serde::Serialize>(value: &T) -> String {
    serde_json::to_string(value).unwrap_or_default()
}

/// Writes the inventory (server-side apply, field manager gitops); the parent's uid, which its
/// history records name as their owner.
pub async fn write(
    cluster: &Cluster,
    at: &InventoryRef,
    inventory: &Inventory,
) -> Result<String, ClusterError> {
    let group_kinds: BTreeSet<String> = inventory
        .members
        .iter()
        .map(|m| {
            if m.group.is_empty() {
                m.kind.clone()
            } else {
                format!("{}.{}", m.kind, m.group)
            }
        })
        .collect();
    let namespaces: BTreeSet<&str> = inventory
        .members
        .iter()
        .filter_map(|m| m.namespace.as_deref())
        .filter(|ns| *ns != at.namespace)
        .collect();
    let parent = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": at.name,
            "namespace": at.namespace,
            // The history label too: one LIST reads the parent with its records.
            "labels": {ID_LABEL: at.id, HISTORY_LABEL: at.id, "app.kubernetes.io/managed-by": "gitops"},
            "annotations": {
                TOOLING_ANNOTATION: format!("gitops/v{}", env!("CARGO_PKG_VERSION")),
                GROUP_KINDS_ANNOTATION: group_kinds.into_iter().collect::<Vec<_>>().join(","),
                NAMESPACES_ANNOTATION: namespaces.into_iter().collect::<Vec<_>>().join(","),
            },
        },
        "data": {
            "format": "2",
            "members": to_json(&group(inventory)),
            "revision": inventory.revision,
            "source": to_json(&inventory.source),
        },
    });
    let mut parent = parent;
    if let Some(time) = &inventory.applied_at {
        parent["data"]["appliedAt"] = json!(time);
    }
    // Kept only while its entries are not yet records of their own (migration).
    if !inventory.legacy_history.is_empty() {
        parent["data"]["history"] = json!(to_json(&inventory.legacy_history));
    }
    let written = objects::apply_returning(
        cluster,
        &config_map_resource(),
        Some(&at.namespace),
        &at.name,
        &parent,
    )
    .await?;
    match written["metadata"]["uid"].as_str() {
        Some(uid) if !uid.is_empty() => Ok(uid.to_owned()),
        _ => Err(ClusterError::Api {
            operation: crate::cluster::Operation::new(
                "apply",
                format!("v1 ConfigMap {}/{}", at.namespace, at.name),
            ),
            code: 500,
            reason: "NoUid".into(),
            message: "the server's answer has no metadata.uid".into(),
        }),
    }
}

/// Records the drift state last notified: one annotation on the parent, server-side applied by
/// its own field manager, so that the apply's manager (which does not send it) leaves it.
pub async fn record_notified(
    cluster: &Cluster,
    at: &InventoryRef,
    notified: &Notified,
) -> Result<(), ClusterError> {
    let patch = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": at.name,
            "namespace": at.namespace,
            "annotations": {DRIFT_NOTIFIED_ANNOTATION: to_json(notified)},
        },
    });
    objects::apply_as(
        cluster,
        &config_map_resource(),
        Some(&at.namespace),
        &at.name,
        &patch,
        NOTIFY_MANAGER,
    )
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn member(group: &str, kind: &str, namespace: Option<&str>, name: String) -> Member {
        Member {
            group: group.into(),
            version: "v1".into(),
            kind: kind.into(),
            namespace: namespace.map(str::to_owned),
            name,
        }
    }

    /// Names as generators write them (kustomize hash suffixes, chart prefixes), several kinds
    /// and namespaces.
    fn inventory(count: usize) -> Inventory {
        let kinds = [
            ("", "ConfigMap"),
            ("apps", "Deployment"),
            ("", "Service"),
            ("networking.k8s.io", "Ingress"),
        ];
        let mut inventory = Inventory::default();
        for i in 0..count {
            let (group, kind) = kinds[i % kinds.len()];
            let namespace = format!("team-{:02}-production", i % 20);
            let name = format!("shop-frontend-settings-{i:05}-7f9c8d6b5c");
            let m = member(group, kind, Some(&namespace), name);
            inventory.witnesses.insert(
                m.identity(),
                Witness {
                    sent: "0123456789ab".into(),
                    left: "ba9876543210".into(),
                },
            );
            inventory.members.push(m);
        }
        inventory.members.sort();
        inventory
    }

    #[test]
    fn ten_thousand_members_with_digests_fit_a_config_map() {
        let inventory = inventory(10_000);
        let text = to_json(&group(&inventory));
        // A ConfigMap holds 1 MiB, history, source and metadata included.
        assert!(text.len() < 900_000, "{} bytes", text.len());
        let groups: BTreeMap<String, Vec<Vec<String>>> = serde_json::from_str(&text).unwrap();
        let (members, witnesses) = ungroup(groups).unwrap();
        assert_eq!(members, inventory.members);
        assert_eq!(witnesses, inventory.witnesses);
    }

    #[test]
    fn cluster_scoped_members_and_missing_digests_read_back() {
        let mut inventory = Inventory::default();
        inventory
            .members
            .push(member("", "Namespace", None, "shop".into()));
        inventory.members.push(member(
            "rbac.authorization.k8s.io",
            "ClusterRole",
            None,
            "reader".into(),
        ));
        inventory.members.sort();
        let text = to_json(&group(&inventory));
        assert!(
            text.contains(r#""v1 Namespace":[["shop","",""]]"#),
            "{text}"
        );
        let (members, witnesses) = ungroup(serde_json::from_str(&text).unwrap()).unwrap();
        assert_eq!(members, inventory.members);
        assert!(witnesses.is_empty());
        assert!(ungroup(serde_json::from_str(r#"{"v1": [["a"]]}"#).unwrap()).is_err());
    }
}
