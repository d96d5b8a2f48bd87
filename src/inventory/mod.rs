//! The inventory of a target: what gitops applied, kept in the cluster as an ApplySet parent.
//!
//! Follows KEP-3659 (ApplySet): a parent object — a ConfigMap `gitops-<target>` in the target's
//! namespace — labelled `applyset.kubernetes.io/id`, and every member labelled
//! `applyset.kubernetes.io/part-of` with that id. kubectl understands the same labels. The
//! ConfigMap's data holds what gitops needs besides: the member list, the applied revision and
//! where the target came from. The history of applies lives in objects of its own (`history`).

pub mod history;
mod record;
mod store;

use std::collections::HashMap;

use base64::Engine;
use serde::{Deserialize, Serialize};

use crate::identity::ObjectRef;
use crate::render::HelmSettings;

pub use history::History;
pub use record::{bounded, ChangedObject, HistoryEntry, HookRun, WaveTiming, CHANGES_LISTED};
pub use store::{read, record_notified, write, InventoryError};

/// Where a target's inventory lives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InventoryRef {
    pub name: String,
    pub namespace: String,
    /// The ApplySet id, the value of every member's part-of label.
    pub id: String,
}

impl InventoryRef {
    pub fn for_target(target: &str, namespace: &str) -> Self {
        let name = format!("gitops-{target}");
        let id = applyset_id(&name, namespace, "ConfigMap", "");
        InventoryRef {
            name,
            namespace: namespace.to_owned(),
            id,
        }
    }
}

/// KEP-3659: `applyset-<base64url(sha256(<name>.<namespace>.<kind>.<group>))>-v1`.
pub fn applyset_id(name: &str, namespace: &str, kind: &str, group: &str) -> String {
    let digest = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{name}.{namespace}.{kind}.{group}").as_bytes(),
    );
    let encoded = base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(digest.as_ref());
    format!("applyset-{encoded}-v1")
}

/// One applied object, as the inventory lists it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Member {
    pub group: String,
    pub version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

impl Member {
    pub fn api_version(&self) -> String {
        if self.group.is_empty() {
            self.version.clone()
        } else {
            format!("{}/{}", self.group, self.version)
        }
    }

    /// The object's identity, whatever version it was listed under.
    pub fn identity(&self) -> ObjectRef {
        ObjectRef {
            group: self.group.clone(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: self.name.clone(),
        }
    }
}

/// Where a target came from, as its last apply recorded it: enough for `rollback` to render
/// the target as it was at another revision without gitops.yaml.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SourceRecord {
    #[serde(default)]
    pub name: String,
    /// Relative to the repository root (to the working directory outside Git).
    pub path: String,
    /// False when applied from outside a Git repository: there is no revision to go back to.
    #[serde(default = "in_repository_unless_said")]
    pub in_repository: bool,
    /// The namespace given by `-n` or the target.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub create_namespace: bool,
    /// The gitops.yaml that defined the target, relative to the repository root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub helm: Option<HelmSettings>,
    /// `--repo`, without credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub repo: Option<String>,
}

fn in_repository_unless_said() -> bool {
    true
}

/// What the last successful apply of a member sent and left (docs/inventory.md): digests of
/// 12 hex characters; empty where not known (written by an older gitops, or not dry-run).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Witness {
    pub sent: String,
    pub left: String,
}

/// The drift state `diff --notify` last posted, kept on the parent so that a scheduled job
/// posts once per change of state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Notified {
    /// `drifted` or `recovered`.
    pub state: String,
    /// Digest of the drifted objects' list (empty when recovered).
    pub digest: String,
    /// RFC 3339.
    pub time: String,
}

/// What the parent's data holds.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Inventory {
    pub members: Vec<Member>,
    /// Per member, where recorded (format 2).
    pub witnesses: HashMap<ObjectRef, Witness>,
    pub revision: String,
    /// Where the target came from (None: written by a gitops that did not record it).
    pub source: Option<SourceRecord>,
    /// When the last run that completed its writes ended (RFC 3339; None: written by an older
    /// gitops, see `last_success`).
    pub applied_at: Option<String>,
    /// History entries an older gitops kept in the parent, until they are records of their own.
    pub legacy_history: Vec<HistoryEntry>,
    /// The parent's uid, which its history records name as their owner (None: not read).
    pub uid: Option<String>,
    /// The drift state last notified (None: never, or unreadable).
    pub notified: Option<Notified>,
}

/// What one run did, as the inventory records it.
pub struct RunRecord<'a> {
    /// Every object the plan renders that belongs to the inventory.
    pub rendered: Vec<Member>,
    /// What the run wrote or found unchanged.
    pub applied: &'a [Member],
    /// Every write succeeded (the objects may still be unhealthy).
    pub completed: bool,
    /// Stale members were pruned; else they stay listed, so that a later prune removes them.
    pub pruned: bool,
    /// The witnesses of what the run applied or confirmed.
    pub witnesses: HashMap<ObjectRef, Witness>,
    pub revision: String,
    pub source: SourceRecord,
    /// When the run ended (RFC 3339).
    pub time: String,
}

impl Inventory {
    /// The inventory after `run`. A completed run lists what it rendered (and, when it did not
    /// prune, the members it left); a failed one keeps every earlier member and adds what it
    /// wrote, so that nothing it created is forgotten by the next prune. The revision moves
    /// only with a completed run.
    pub fn next(&self, run: RunRecord<'_>) -> Inventory {
        let rendered_ids = identities(&run.rendered);
        let mut members = if run.completed {
            let kept = self
                .members
                .iter()
                .filter(|m| !run.pruned && !rendered_ids.contains(&m.identity()));
            kept.cloned().chain(run.rendered.iter().cloned()).collect()
        } else {
            let previous_ids = identities(&self.members);
            let written = run.applied.iter().filter(|a| {
                rendered_ids.contains(&a.identity()) && !previous_ids.contains(&a.identity())
            });
            self.members
                .iter()
                .chain(written)
                .cloned()
                .collect::<Vec<_>>()
        };
        members.sort();
        members.dedup();
        let mut witnesses = self.witnesses.clone();
        witnesses.extend(run.witnesses);
        let listed = identities(&members);
        witnesses.retain(|id, _| listed.contains(id));
        let mut next = Inventory {
            members,
            witnesses,
            revision: if run.completed {
                run.revision
            } else {
                self.revision.clone()
            },
            source: Some(run.source),
            applied_at: if run.completed {
                Some(run.time)
            } else {
                self.applied_at.clone()
            },
            legacy_history: self.legacy_history.clone(),
            uid: self.uid.clone(),
            notified: self.notified.clone(),
        };
        if next.applied_at.is_none() {
            next.applied_at = self.last_success().map(str::to_owned);
        }
        next
    }

    /// When the last run that completed its writes (succeeded or unhealthy) ended (RFC 3339).
    pub fn last_success(&self) -> Option<&str> {
        self.applied_at.as_deref().or_else(|| {
            self.legacy_history
                .iter()
                .rev()
                .find(|e| e.result != "failed")
                .map(|e| e.time.as_str())
        })
    }
}

/// A set of member identities, for lookups that would otherwise scan lists (5,000 × 5,000).
pub fn identities(members: &[Member]) -> std::collections::HashSet<ObjectRef> {
    members.iter().map(Member::identity).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn applyset_ids_follow_kep_3659() {
        // What kubectl 1.32 labelled the parent of
        // `KUBECTL_APPLYSET=true kubectl apply --server-side --prune --applyset=configmaps/gitops-demo -n aps`.
        assert_eq!(
            InventoryRef::for_target("demo", "aps").id,
            "applyset-tDYN5EDorcsjxH57O4mdpIO4YOBtNul3dY6YHWZ6Ik0-v1"
        );
        assert_ne!(
            applyset_id("gitops-demo", "other", "ConfigMap", ""),
            InventoryRef::for_target("demo", "aps").id
        );
    }

    fn member(name: &str) -> Member {
        Member {
            group: String::new(),
            version: "v1".into(),
            kind: "ConfigMap".into(),
            namespace: Some("shop".into()),
            name: name.into(),
        }
    }

    fn run<'a>(
        rendered: &[&str],
        applied: &'a [Member],
        completed: bool,
        pruned: bool,
    ) -> RunRecord<'a> {
        RunRecord {
            rendered: rendered.iter().map(|n| member(n)).collect(),
            applied,
            completed,
            pruned,
            witnesses: HashMap::new(),
            revision: "r2".into(),
            source: SourceRecord::default(),
            time: "2026-12-05T10:00:00Z".into(),
        }
    }

    #[test]
    fn a_run_moves_members_and_revision_as_it_went() {
        let before = Inventory {
            members: vec![member("a"), member("old")],
            revision: "r1".into(),
            ..Inventory::default()
        };
        let names = |i: &Inventory| i.members.iter().map(|m| m.name.clone()).collect::<Vec<_>>();
        // Completed with prune: what it rendered, nothing else.
        let after = before.next(run(&["a", "b"], &[], true, true));
        assert_eq!(names(&after), ["a", "b"]);
        assert_eq!(after.revision, "r2");
        // Completed without prune: the stale member stays listed for a later prune.
        let after = before.next(run(&["a", "b"], &[], true, false));
        assert_eq!(names(&after), ["a", "b", "old"]);
        // Failed after writing b: every earlier member stays, b is added, the revision stays.
        let written = [member("b")];
        let after = before.next(run(&["a", "b", "c"], &written, false, true));
        assert_eq!(names(&after), ["a", "b", "old"]);
        assert_eq!(after.revision, "r1");
        assert_eq!(after.last_success(), None);
    }
}
