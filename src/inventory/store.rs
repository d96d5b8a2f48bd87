//! Reading and writing the inventory's parent ConfigMap.

use std::collections::BTreeSet;

use k8s_openapi::api::core::v1::ConfigMap;
use kube::core::ApiResource;
use serde_json::{json, Value};

use super::{Inventory, InventoryRef};
use crate::cluster::{objects, Cluster, ClusterError, ResourceInfo};
use crate::ownership::{
    GROUP_KINDS_ANNOTATION, ID_LABEL, NAMESPACES_ANNOTATION, TOOLING_ANNOTATION,
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

fn config_map_resource() -> ResourceInfo {
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
    let inventory = Inventory {
        members: serde_json::from_value(or_empty_list(field("members")?))
            .map_err(|e| corrupt(format!("data.members: {e}")))?,
        revision: data
            .get("revision")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        // A record this version cannot read (older, or edited by hand) is as good as none:
        // rollback then asks for one apply first.
        source: serde_json::from_value(field("source")?).ok().flatten(),
        history: serde_json::from_value(or_empty_list(field("history")?))
            .map_err(|e| corrupt(format!("data.history: {e}")))?,
    };
    Ok(Some(inventory))
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

/// Writes the inventory (server-side apply, field manager gitops).
pub async fn write(
    cluster: &Cluster,
    at: &InventoryRef,
    inventory: &Inventory,
) -> Result<(), ClusterError> {
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
            "labels": {ID_LABEL: at.id, "app.kubernetes.io/managed-by": "gitops"},
            "annotations": {
                TOOLING_ANNOTATION: format!("gitops/v{}", env!("CARGO_PKG_VERSION")),
                GROUP_KINDS_ANNOTATION: group_kinds.into_iter().collect::<Vec<_>>().join(","),
                NAMESPACES_ANNOTATION: namespaces.into_iter().collect::<Vec<_>>().join(","),
            },
        },
        "data": {
            "members": to_json(&inventory.members),
            "revision": inventory.revision,
            "source": to_json(&inventory.source),
            "history": to_json(&inventory.history),
        },
    });
    objects::apply(
        cluster,
        &config_map_resource(),
        Some(&at.namespace),
        &at.name,
        &parent,
        false,
        true,
    )
    .await?;
    Ok(())
}
