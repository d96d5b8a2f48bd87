//! Two targets of one run that write the same object into the same cluster would take it from
//! each other on every apply (each one's ApplySet label and field manager replacing the other's).
//! Found after rendering, before any target is planned or written.

use std::collections::BTreeMap;

use crate::kinds;
use crate::render::Manifest;
use crate::resolved::Resolved;

/// (cluster, group, kind, namespace, name) of an object.
type ObjectKey = (String, String, String, String, String);

/// One line per object rendered by more than one target on the same cluster, naming the object,
/// the targets and where each one renders it. Empty when there is none.
pub fn shared_objects(targets: &[(&Resolved, &[Manifest])]) -> Vec<String> {
    let mut writers: BTreeMap<ObjectKey, Vec<(String, String)>> = BTreeMap::new();
    for (target, manifests) in targets {
        let cluster = target.connection.server_identity();
        for manifest in manifests.iter() {
            let (group, kind) = (manifest.group(), manifest.kind().unwrap_or_default());
            let namespace = match manifest.namespace() {
                Some(namespace) => namespace.to_owned(),
                None if kinds::builtin_cluster_scoped(group, kind) == Some(true) => String::new(),
                // A kind this table does not know is taken to be namespaced, as most are.
                None => target.namespace.clone(),
            };
            let key = (
                cluster.clone(),
                group.to_owned(),
                kind.to_owned(),
                namespace,
                manifest.name().unwrap_or_default().to_owned(),
            );
            let writers = writers.entry(key).or_default();
            if !writers.iter().any(|(name, _)| name == target.name()) {
                // (target, where it renders the object)
                writers.push((target.name().to_owned(), manifest.origin.to_string()));
            }
        }
    }
    writers
        .into_iter()
        .filter(|(_, writers)| writers.len() > 1)
        .map(|((_, group, kind, namespace, name), writers)| {
            let kind = if group.is_empty() {
                kind
            } else {
                format!("{kind}.{group}")
            };
            let object = if namespace.is_empty() {
                format!("{kind} {name}")
            } else {
                format!("{kind} {namespace}/{name}")
            };
            let by: Vec<String> = writers
                .iter()
                .map(|(target, origin)| format!("target {target} ({origin})"))
                .collect();
            format!("{object} is rendered by {}", by.join(" and "))
        })
        .collect()
}
