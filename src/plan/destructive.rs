//! Changes that remove data, with their reach (SPEC.md, "Why a plan differs"): every delete
//! and prune, and for a Namespace the live objects in it, for a CRD its custom resources, for a
//! PersistentVolumeClaim what its volume's reclaim policy does with the data.
//!
//! Asked only for the objects a plan deletes, so a plan without deletes costs nothing more.

use std::collections::{BTreeSet, HashSet};

use kube::core::ApiResource;
use serde_json::Value;

use crate::cluster::{discovery, objects, Cluster, ClusterError, ResourceInfo};

/// Why a change loses data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destructive {
    /// In words: what goes, and with it what.
    pub reason: String,
    /// For a Namespace its live objects, for a CRD its custom resources.
    pub contains: Option<usize>,
}

/// The reach of deleting `live`.
pub async fn assess(cluster: &Cluster, info: &ResourceInfo, live: &Value) -> Destructive {
    let name = live
        .pointer("/metadata/name")
        .and_then(Value::as_str)
        .unwrap_or_default();
    let group = info.resource.group.as_str();
    let kind = info.resource.kind.as_str();
    match (group, kind) {
        ("", "Namespace") => {
            let (count, complete) = namespace_contents(cluster, name).await;
            let at_least = if complete { "" } else { "at least " };
            Destructive {
                reason: format!(
                    "deletes namespace {name} and everything in it: {at_least}{count} live object(s)"
                ),
                contains: Some(count),
            }
        }
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            match custom_resources(cluster, live).await {
                Some(count) => Destructive {
                    reason: format!(
                        "deletes CRD {name} and all its custom resources: {count} in the cluster"
                    ),
                    contains: Some(count),
                },
                None => Destructive {
                    reason: format!(
                        "deletes CRD {name} and all its custom resources (they could not be counted)"
                    ),
                    contains: None,
                },
            }
        }
        ("", "PersistentVolumeClaim") => Destructive {
            reason: claim_reach(cluster, live).await,
            contains: None,
        },
        _ => Destructive {
            reason: "deletes it from the cluster: it is no longer in Git".into(),
            contains: None,
        },
    }
}

/// Live objects in a namespace, counted once each (by uid, as some kinds are served under two
/// groups), Events left out; false when some kinds could not be listed.
async fn namespace_contents(cluster: &Cluster, namespace: &str) -> (usize, bool) {
    let Ok(served) = discovery::served_apis(cluster, None).await else {
        return (0, false);
    };
    let mut seen_kinds = HashSet::new();
    let mut resources = Vec::new();
    for (group_version, list) in &served.group_versions {
        let (group, version) = match group_version.split_once('/') {
            Some((group, version)) => (group, version),
            None => ("", group_version.as_str()),
        };
        for resource in list.iter().flat_map(|l| &l.resources) {
            let listable = resource.namespaced
                && !resource.name.contains('/')
                && resource.verbs.iter().any(|v| v == "list")
                && resource.kind != "Event";
            if listable && seen_kinds.insert((group.to_owned(), resource.kind.clone())) {
                resources.push(ResourceInfo {
                    resource: ApiResource {
                        group: group.to_owned(),
                        version: version.to_owned(),
                        api_version: group_version.clone(),
                        kind: resource.kind.clone(),
                        plural: resource.name.clone(),
                    },
                    namespaced: true,
                    pending_crd: false,
                });
            }
        }
    }
    let lists = cluster
        .each(resources, |info| async move {
            objects::list(cluster, &info, Some(namespace)).await
        })
        .await;
    let mut uids = BTreeSet::new();
    let mut complete = true;
    for list in lists {
        match list {
            Ok(items) => uids.extend(items.iter().filter_map(|o| {
                o.pointer("/metadata/uid")
                    .and_then(Value::as_str)
                    .map(str::to_owned)
            })),
            Err(_) => complete = false,
        }
    }
    (uids.len(), complete)
}

/// The custom resources of a live CRD, in every namespace (None: they could not be listed).
async fn custom_resources(cluster: &Cluster, crd: &Value) -> Option<usize> {
    let spec = crd.get("spec")?;
    let text = |pointer: &str| spec.pointer(pointer).and_then(Value::as_str);
    let group = text("/group")?;
    let version = spec
        .get("versions")
        .and_then(Value::as_array)
        .and_then(|versions| {
            versions
                .iter()
                .find(|v| v.get("storage").and_then(Value::as_bool) == Some(true))
                .or(versions.first())
        })
        .and_then(|v| v.get("name"))
        .and_then(Value::as_str)
        .or(text("/version"))?;
    let info = ResourceInfo {
        resource: ApiResource {
            group: group.to_owned(),
            version: version.to_owned(),
            api_version: format!("{group}/{version}"),
            kind: text("/names/kind")?.to_owned(),
            plural: text("/names/plural")?.to_owned(),
        },
        namespaced: text("/scope") == Some("Namespaced"),
        pending_crd: false,
    };
    match objects::list(cluster, &info, None).await {
        Ok(items) => Some(items.len()),
        // Not served (the CRD is not established): nothing stored under it.
        Err(ClusterError::Api { code: 404, .. }) => Some(0),
        Err(_) => None,
    }
}

/// What deleting a claim does to its data: its volume's reclaim policy decides.
async fn claim_reach(cluster: &Cluster, claim: &Value) -> String {
    let Some(volume) = claim.pointer("/spec/volumeName").and_then(Value::as_str) else {
        return "deletes the PersistentVolumeClaim; it is not bound to a volume".into();
    };
    let info = ResourceInfo {
        resource: ApiResource {
            group: String::new(),
            version: "v1".into(),
            api_version: "v1".into(),
            kind: "PersistentVolume".into(),
            plural: "persistentvolumes".into(),
        },
        namespaced: false,
        pending_crd: false,
    };
    let policy = match objects::get(cluster, &info, None, volume).await {
        Ok(Some(pv)) => pv
            .pointer("/spec/persistentVolumeReclaimPolicy")
            .and_then(Value::as_str)
            .map(str::to_owned),
        _ => None,
    };
    match policy.as_deref() {
        Some("Delete") => format!(
            "deletes the PersistentVolumeClaim and its data: volume {volume} has reclaim policy Delete"
        ),
        Some(policy) => format!(
            "deletes the PersistentVolumeClaim; volume {volume} has reclaim policy {policy}, so it and its data stay until deleted by hand"
        ),
        None => format!(
            "deletes the PersistentVolumeClaim of volume {volume} (its reclaim policy could not be read: the data may be deleted)"
        ),
    }
}
