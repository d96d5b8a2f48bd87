//! One apply as the history records it (docs/inventory.md, docs/audit.md). Every field added
//! after the first release has a default, so that records written by an older gitops still read:
//! what they lack shows as unknown.

use serde::{Deserialize, Serialize};

/// How many objects a record lists by name; the rest are counted in `changes_omitted`.
pub const CHANGES_LISTED: usize = 500;

/// One apply (or rollback) of a target.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HistoryEntry {
    /// 1 for a target's first recorded apply, one more for each after; stable while older
    /// records are dropped (`history --show N`). 0: not numbered yet (read from an old parent).
    #[serde(default)]
    pub number: u64,
    pub revision: String,
    /// Author and subject of the revision's commit, when it came from Git.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub author: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The commit's committer time (RFC 3339), for lead time.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub commit_time: Option<String>,
    /// When the run started writing (RFC 3339).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started: Option<String>,
    /// When the run ended (RFC 3339, UTC).
    pub time: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// The CI pipeline or job that ran it, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub job_url: Option<String>,
    /// `apply` or `rollback`.
    #[serde(default = "default_operation")]
    pub operation: String,
    /// For a rollback: the revision that was deployed before it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rolled_back_from: Option<String>,
    /// `succeeded`, `unhealthy` or `failed`.
    pub result: String,
    pub created: usize,
    pub updated: usize,
    pub deleted: usize,
    pub unchanged: usize,
    pub duration_seconds: f64,
    /// What the run planned to change, object by object (at most [`CHANGES_LISTED`]).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<ChangedObject>,
    #[serde(default, skip_serializing_if = "is_zero")]
    pub changes_omitted: usize,
    /// Each wave the run reached: its objects and how long writing and waiting took.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub waves: Vec<WaveTiming>,
    /// Each hook the run started, in the order it ran, and how it ended.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hooks: Vec<HookRun>,
    /// Why a failed or unhealthy run ended so (bounded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

fn default_operation() -> String {
    "apply".to_owned()
}

fn is_zero(n: &usize) -> bool {
    *n == 0
}

/// One object a run created, updated or deleted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangedObject {
    pub action: String,
    pub api_version: String,
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
}

/// One wave of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WaveTiming {
    pub wave: i64,
    /// Objects in the wave, unchanged ones included.
    pub objects: usize,
    /// Writing the wave and waiting for it to become healthy.
    pub seconds: f64,
    /// `healthy`, `unhealthy`, `failed`, or `written` (not waited for).
    pub result: String,
}

/// One hook a run created and awaited.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HookRun {
    /// `PreSync`, `Sync`, `PostSync` or `SyncFail`.
    pub phase: String,
    pub wave: i64,
    /// `batch/v1 Job shop/db-migrate-x7k2p`: the object as the server named it.
    pub object: String,
    /// `succeeded`, `failed` or `timed out`.
    pub result: String,
    pub seconds: f64,
    /// Why it failed (bounded).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl HistoryEntry {
    /// Whether the run wrote anything (a run that found everything unchanged is no deployment).
    pub fn wrote(&self) -> bool {
        self.created + self.updated + self.deleted > 0
    }

    pub fn is_rollback(&self) -> bool {
        self.operation == "rollback"
    }

    /// The run's end, parsed (None: unreadable).
    pub fn ended(&self) -> Option<jiff::Timestamp> {
        self.time.parse().ok()
    }
}

/// Bounds a message kept in a record: the first `max` characters, marked when cut.
pub fn bounded(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max).collect();
    cut.push_str(" …");
    cut
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_written_before_the_audit_fields_reads_with_them_unknown() {
        let old = r#"{"revision":"abc","time":"2026-11-01T10:00:00Z","result":"succeeded","created":1,"updated":0,"deleted":0,"unchanged":3,"durationSeconds":1.5}"#;
        let entry: HistoryEntry = serde_json::from_str(old).unwrap();
        assert_eq!(entry.number, 0);
        assert_eq!(entry.operation, "apply");
        assert!(entry.commit_time.is_none() && entry.started.is_none());
        assert!(entry.changes.is_empty() && entry.waves.is_empty());
        assert!(entry.wrote());
        // And what is unknown is not written back as nulls.
        let text = serde_json::to_string(&entry).unwrap();
        assert!(!text.contains("null"), "{text}");
    }

    #[test]
    fn messages_are_bounded() {
        assert_eq!(bounded("short", 10), "short");
        assert_eq!(
            bounded(&"x".repeat(20), 10),
            format!("{} …", "x".repeat(10))
        );
    }
}
