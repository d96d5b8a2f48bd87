//! The history of a target's applies: one ConfigMap per record, `<parent>.<number>`, in the
//! inventory's namespace, labelled `gitops.dev/history-of: <ApplySet id>` and owned by the parent
//! (docs/inventory.md). The parent carries the label too, so that one LIST reads the parent and
//! every record; the parent itself never grows with the history.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::record::HistoryEntry;
use super::store::{config_map_resource, legacy_history};
use super::InventoryRef;
use crate::cluster::{objects, Cluster, ClusterError};
use crate::log;
use crate::ownership::HISTORY_LABEL;

/// A target's history as read.
#[derive(Debug, Clone, Default)]
pub struct History {
    /// Oldest first, by number.
    pub records: Vec<HistoryEntry>,
    /// Records that could not be read (edited by hand into garbage): which, and why.
    pub unreadable: Vec<String>,
    /// The inventory exists (the target was applied at least once).
    pub applied: bool,
}

impl History {
    /// The record numbered `number`.
    pub fn numbered(&self, number: u64) -> Option<&HistoryEntry> {
        self.records.iter().find(|r| r.number == number)
    }

    pub fn last(&self) -> Option<&HistoryEntry> {
        self.records.last()
    }
}

/// The name of record `number`: a dot cannot occur in a target's name, so a record can never
/// take the name of another target's inventory.
pub fn record_name(at: &InventoryRef, number: u64) -> String {
    format!("{}.{number}", at.name)
}

fn number_of(at: &InventoryRef, name: &str) -> Option<u64> {
    name.strip_prefix(&at.name)?.strip_prefix('.')?.parse().ok()
}

fn selector(at: &InventoryRef) -> String {
    format!("{HISTORY_LABEL}={}", at.id)
}

/// Reads the history: one LIST (and a GET of the parent when it was written by a gitops that
/// did not label it). Entries still kept in an older parent's `data.history` are numbered 1…k
/// in their order, as the migration numbers them, and shown with the records.
pub async fn read(cluster: &Cluster, at: &InventoryRef) -> Result<History, ClusterError> {
    let resource = config_map_resource();
    let listed =
        objects::list_labelled(cluster, &resource, Some(&at.namespace), Some(&selector(at)))
            .await?;
    let mut history = History::default();
    let mut parent = None;
    for object in listed {
        let name = object["metadata"]["name"].as_str().unwrap_or_default();
        if name == at.name {
            parent = Some(object);
            continue;
        }
        let Some(number) = number_of(at, name) else {
            continue;
        };
        match parse_record(&object) {
            Ok(mut entry) => {
                entry.number = number;
                history.records.push(entry);
            }
            Err(why) => {
                let what = format!("history record ConfigMap {}/{name}: {why}", at.namespace);
                log::warn(&format!("{what}; skipped"));
                history.unreadable.push(what);
            }
        }
    }
    if parent.is_none() {
        parent = objects::get(cluster, &resource, Some(&at.namespace), &at.name).await?;
    }
    if let Some(parent) = &parent {
        history.applied = true;
        let kept: BTreeSet<u64> = history.records.iter().map(|r| r.number).collect();
        let legacy = legacy_history(parent, &at.namespace, &at.name);
        for (number, entry) in numbered(legacy) {
            if !kept.contains(&number) {
                history.records.push(entry);
            }
        }
    }
    history.records.sort_by_key(|r| r.number);
    history.applied |= !history.records.is_empty();
    Ok(history)
}

fn parse_record(object: &Value) -> Result<HistoryEntry, String> {
    let text = object["data"]["record"]
        .as_str()
        .ok_or("it has no data.record")?;
    serde_json::from_str(text).map_err(|e| format!("data.record: {e}"))
}

/// Entries of an older parent's `data.history`, numbered from 1 in order.
fn numbered(entries: Vec<HistoryEntry>) -> impl Iterator<Item = (u64, HistoryEntry)> {
    entries.into_iter().zip(1u64..).map(|(mut entry, number)| {
        entry.number = number;
        (number, entry)
    })
}

/// Writes the entries an older parent kept in `data.history` as records, those not written yet
/// (a run stopped halfway leaves some): called before the parent is written without them.
pub async fn migrate(
    cluster: &Cluster,
    at: &InventoryRef,
    parent_uid: &str,
    legacy: &[HistoryEntry],
) -> Result<(), ClusterError> {
    let existing = record_numbers(cluster, at).await?;
    for (number, entry) in numbered(legacy.to_vec()) {
        if !existing.contains(&number) {
            write_record(cluster, at, parent_uid, &entry).await?;
        }
    }
    Ok(())
}

/// Writes the record of this run as the next number, then removes the oldest records beyond
/// `limit`. The caller holds the target's lease: no other run numbers records meanwhile.
pub async fn append(
    cluster: &Cluster,
    at: &InventoryRef,
    parent_uid: &str,
    mut entry: HistoryEntry,
    limit: usize,
) -> Result<u64, ClusterError> {
    let mut numbers = record_numbers(cluster, at).await?;
    entry.number = numbers.last().map_or(1, |n| n + 1);
    write_record(cluster, at, parent_uid, &entry).await?;
    numbers.insert(entry.number);
    let excess = numbers.len().saturating_sub(limit.max(1));
    let resource = config_map_resource();
    for number in numbers.into_iter().take(excess) {
        let name = record_name(at, number);
        objects::delete(cluster, &resource, Some(&at.namespace), &name, None).await?;
    }
    Ok(entry.number)
}

/// The numbers of the records in the cluster, readable or not.
async fn record_numbers(
    cluster: &Cluster,
    at: &InventoryRef,
) -> Result<BTreeSet<u64>, ClusterError> {
    let listed = objects::list_labelled(
        cluster,
        &config_map_resource(),
        Some(&at.namespace),
        Some(&selector(at)),
    )
    .await?;
    Ok(listed
        .iter()
        .filter_map(|o| number_of(at, o["metadata"]["name"].as_str()?))
        .collect())
}

async fn write_record(
    cluster: &Cluster,
    at: &InventoryRef,
    parent_uid: &str,
    entry: &HistoryEntry,
) -> Result<(), ClusterError> {
    let name = record_name(at, entry.number);
    let record = json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": at.namespace,
            "labels": {HISTORY_LABEL: at.id, "app.kubernetes.io/managed-by": "gitops"},
            // Deleting the inventory deletes its history with it.
            "ownerReferences": [{
                "apiVersion": "v1",
                "kind": "ConfigMap",
                "name": at.name,
                "uid": parent_uid,
            }],
        },
        "data": {"record": serde_json::to_string(entry).unwrap_or_default()},
    });
    objects::apply(
        cluster,
        &config_map_resource(),
        Some(&at.namespace),
        &name,
        &record,
        false,
        true,
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_names_never_collide_with_an_inventory() {
        let shop = InventoryRef::for_target("shop", "apps");
        assert_eq!(record_name(&shop, 7), "gitops-shop.7");
        assert_eq!(number_of(&shop, "gitops-shop.7"), Some(7));
        // Another target's inventory, and another target's records, are not this one's.
        assert_eq!(number_of(&shop, "gitops-shop-7"), None);
        assert_eq!(number_of(&shop, "gitops-shop-2.7"), None);
        assert_eq!(number_of(&shop, "gitops-shop.x"), None);
        assert!(crate::names::invalid_dns_subdomain(&record_name(&shop, u64::MAX)).is_none());
    }
}
