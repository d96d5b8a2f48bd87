//! Why a change is in the plan, in words every format shares: `pending`, `drift:
//! /spec/replicas by kubectl-edit`, `both: …`, and what a destructive change takes with it.

use crate::plan::{Action, Cause, Change, DriftedField};

/// Most drifted fields a header names; the JSON has them all.
const FIELDS_SHOWN: usize = 3;

/// `pending`, `drift: /spec/replicas by kubectl-edit`, `drift: deleted from the cluster`,
/// `both: drift /spec/replicas by kubectl; the rest is from Git`; for an object made by
/// another tool, `adopt from Helm release shop; pending`.
pub fn label(change: &Change) -> String {
    match &change.adopt {
        Some(from) => format!("adopt from {from}; {}", cause_label(change)),
        None => cause_label(change),
    }
}

fn cause_label(change: &Change) -> String {
    let fields = fields(&change.drifted_fields);
    match (change.cause, change.action) {
        (Cause::Pending, _) => "pending".into(),
        (Cause::Drift, Action::Create) => "drift: deleted from the cluster".into(),
        (Cause::Both, Action::Create) => {
            "both: deleted from the cluster, and changed in Git".into()
        }
        (Cause::Drift, _) if fields.is_empty() => "drift".into(),
        (Cause::Drift, _) => format!("drift: {fields}"),
        (Cause::Both, _) if fields.is_empty() => "both: changed in the cluster and in Git".into(),
        (Cause::Both, _) => format!("both: drift {fields}; the rest is from Git"),
    }
}

/// `/spec/replicas by kubectl-edit, /metadata/labels/tier by kubectl, +2 more`.
pub fn fields(drifted: &[DriftedField]) -> String {
    let mut parts: Vec<String> = drifted
        .iter()
        .take(FIELDS_SHOWN)
        .map(|f| match &f.manager {
            Some(manager) => format!("{} by {manager}", f.path),
            None => f.path.clone(),
        })
        .collect();
    if drifted.len() > FIELDS_SHOWN {
        parts.push(format!("+{} more", drifted.len() - FIELDS_SHOWN));
    }
    parts.join(", ")
}

/// The header's parenthesis: the cause, and for a destructive change its reason.
pub fn header_note(change: &Change) -> String {
    match &change.destructive {
        Some(destructive) => format!("{}; destructive: {}", label(change), destructive.reason),
        None => label(change),
    }
}
