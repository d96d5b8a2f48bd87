//! Why a change is in the plan: Git changed since the last successful apply (`pending`), the
//! cluster changed since (`drift`), or both. Two witnesses decide (docs/diff.md): the digests
//! the inventory kept of what that apply sent and left, and server-side apply's managedFields,
//! which name the manager that took a field over and when. Plain functions.

use serde_json::Value;

use super::fields::{latest_other_update, other_owners};
use super::Action;
use crate::inventory::Witness;
use crate::ownership::FIELD_MANAGER;

/// The cause of one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    Pending,
    Drift,
    Both,
}

impl Cause {
    pub fn as_str(self) -> &'static str {
        match self {
            Cause::Pending => "pending",
            Cause::Drift => "drift",
            Cause::Both => "both",
        }
    }

    /// `drift` or `both`: the cluster changed.
    pub fn drifted(self) -> bool {
        self != Cause::Pending
    }

    /// `pending` or `both`: Git changed.
    pub fn pending(self) -> bool {
        self != Cause::Drift
    }

    fn of(drift: bool, pending: bool) -> Cause {
        match (drift, pending) {
            (true, true) => Cause::Both,
            (true, false) => Cause::Drift,
            _ => Cause::Pending,
        }
    }
}

/// A field the cluster changed since the last apply, and who changed it where the server
/// recorded it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftedField {
    /// JSON pointer (RFC 6901) into the object: `/spec/replicas`.
    pub path: String,
    pub manager: Option<String>,
    pub time: Option<String>,
}

/// What the plan knows about one changed object.
pub struct Evidence<'a> {
    pub action: Action,
    /// The target has an inventory (it was applied before).
    pub applied_before: bool,
    /// The inventory lists this object.
    pub member: bool,
    /// The witnesses the inventory kept for it (None: an older inventory, or never recorded).
    pub recorded: Option<&'a Witness>,
    /// The witnesses now: of the render, and of the live object.
    pub sent_now: &'a str,
    pub left_now: Option<&'a str>,
    pub live: Option<&'a Value>,
    /// Where the normalised live and predicted objects differ.
    pub paths: &'a [String],
    /// When the target was last applied successfully (RFC 3339).
    pub last_apply: Option<&'a str>,
    pub secret: bool,
}

/// The cause of a change, and the fields that drifted.
pub fn judge(evidence: &Evidence) -> (Cause, Vec<DriftedField>) {
    if !evidence.applied_before {
        return (Cause::Pending, Vec::new());
    }
    let recorded = evidence.recorded.filter(|w| !w.sent.is_empty());
    let sent_changed = recorded.map(|w| w.sent != evidence.sent_now);
    match evidence.action {
        Action::Unchanged | Action::Delete => (Cause::Pending, Vec::new()),
        // Listed, so an apply created it: someone deleted it since.
        Action::Create if evidence.member => {
            (Cause::of(true, sent_changed == Some(true)), Vec::new())
        }
        Action::Create => (Cause::Pending, Vec::new()),
        Action::Update => judge_update(evidence, sent_changed),
    }
}

fn judge_update(evidence: &Evidence, sent_changed: Option<bool>) -> (Cause, Vec<DriftedField>) {
    let Some(live) = evidence.live else {
        return (Cause::Pending, Vec::new());
    };
    let left_changed = match (
        evidence.recorded.map(|w| w.left.as_str()),
        evidence.left_now,
    ) {
        (Some(recorded), Some(now)) if !recorded.is_empty() => Some(recorded != now),
        _ => None,
    };
    let mut drifted = Vec::new();
    let mut pending = sent_changed == Some(true);
    for path in evidence.paths {
        if let Some(owner) = other_owners(live, path, FIELD_MANAGER).into_iter().next() {
            drifted.push(DriftedField {
                path: path.clone(),
                manager: Some(owner.name),
                time: owner.time,
            });
            continue;
        }
        // Nobody else owns it: Git moved it, unless the render is what the last apply sent
        // (then only the cluster can have changed it: a field removed by hand). Secret values
        // have no digest, so Git is assumed.
        let secret_value =
            evidence.secret && (path.starts_with("/data/") || path.starts_with("/stringData/"));
        if sent_changed == Some(false) && !secret_value {
            let author = latest_other_update(live, FIELD_MANAGER, evidence.last_apply);
            drifted.push(DriftedField {
                path: path.clone(),
                manager: author.as_ref().map(|a| a.name.clone()),
                time: author.and_then(|a| a.time),
            });
        } else {
            pending = true;
        }
    }
    let drift = !drifted.is_empty() || left_changed == Some(true);
    (Cause::of(drift, pending || !drift), drifted)
}

/// Where two normalised objects differ, as JSON pointers: maps key by key, lists of one
/// length item by item, anything else whole. At most `limit` paths.
pub fn differing_paths(old: &Value, new: &Value, limit: usize) -> Vec<String> {
    let mut paths = Vec::new();
    walk(old, new, &mut String::new(), &mut paths, limit);
    paths
}

fn walk(old: &Value, new: &Value, at: &mut String, paths: &mut Vec<String>, limit: usize) {
    if paths.len() >= limit || old == new {
        return;
    }
    let mut descend = |token: &str, a: &Value, b: &Value, paths: &mut Vec<String>| {
        let length = at.len();
        at.push('/');
        at.push_str(&token.replace('~', "~0").replace('/', "~1"));
        walk(a, b, at, paths, limit);
        at.truncate(length);
    };
    match (old, new) {
        (Value::Object(a), Value::Object(b)) => {
            for (key, value) in a {
                descend(key, value, b.get(key).unwrap_or(&Value::Null), paths);
            }
            for (key, value) in b.iter().filter(|(key, _)| !a.contains_key(*key)) {
                descend(key, &Value::Null, value, paths);
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (index, (x, y)) in a.iter().zip(b).enumerate() {
                descend(&index.to_string(), x, y, paths);
            }
        }
        _ => paths.push(at.clone()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    /// A Deployment gitops applied, whose replicas `kubectl-edit` then took over.
    fn edited() -> Value {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
            "metadata": {"name": "api", "managedFields": [
                {"manager": "gitops", "operation": "Apply", "time": "2026-12-05T10:00:00Z",
                 "fieldsV1": {"f:spec": {"f:template": {"f:spec": {"f:containers": {
                     "k:{\"name\":\"api\"}": {".": {}, "f:image": {}, "f:name": {}}}}}}}},
                {"manager": "kubectl-edit", "operation": "Update", "time": "2026-12-05T11:00:00Z",
                 "fieldsV1": {"f:spec": {"f:replicas": {}}}},
                {"manager": "kube-controller-manager", "operation": "Update",
                 "time": "2026-12-05T11:00:05Z",
                 "fieldsV1": {"f:metadata": {"f:annotations": {}}, "f:status": {}}}]},
            "spec": {"replicas": 5, "template": {"spec": {"containers": [
                {"name": "api", "image": "api:1"}]}}}})
    }

    fn evidence<'a>(
        live: &'a Value,
        paths: &'a [String],
        recorded: Option<&'a Witness>,
        sent_now: &'a str,
    ) -> Evidence<'a> {
        Evidence {
            action: Action::Update,
            applied_before: true,
            member: true,
            recorded,
            sent_now,
            left_now: Some("left-now"),
            live: Some(live),
            paths,
            last_apply: Some("2026-12-05T10:00:00Z"),
            secret: false,
        }
    }

    fn witness(sent: &str, left: &str) -> Witness {
        Witness {
            sent: sent.into(),
            left: left.into(),
        }
    }

    #[test]
    fn a_field_another_manager_took_is_drift_named_with_manager_and_time() {
        let live = edited();
        let paths = ["/spec/replicas".to_owned()];
        let recorded = witness("sent", "left-now");
        let (cause, fields) = judge(&evidence(&live, &paths, Some(&recorded), "sent"));
        assert_eq!(cause, Cause::Drift);
        assert_eq!(
            fields,
            [DriftedField {
                path: "/spec/replicas".into(),
                manager: Some("kubectl-edit".into()),
                time: Some("2026-12-05T11:00:00Z".into()),
            }]
        );
        // Without digests (an older inventory) managedFields alone say the same.
        let (cause, _) = judge(&evidence(&live, &paths, None, "sent"));
        assert_eq!(cause, Cause::Drift);
    }

    #[test]
    fn git_and_cluster_changing_one_object_is_both_with_each_field_attributed() {
        let live = edited();
        let paths = [
            "/spec/replicas".to_owned(),
            "/spec/template/spec/containers/0/image".to_owned(),
        ];
        let recorded = witness("sent-before", "left-now");
        let (cause, fields) = judge(&evidence(&live, &paths, Some(&recorded), "sent-now"));
        assert_eq!(cause, Cause::Both);
        assert_eq!(fields.len(), 1);
        assert_eq!(fields[0].path, "/spec/replicas");
    }

    #[test]
    fn a_field_only_gitops_owns_is_pending_when_git_changed_and_drift_when_it_did_not() {
        let live = edited();
        let paths = ["/spec/template/spec/containers/0/image".to_owned()];
        let before = witness("sent-before", "left-now");
        let (cause, fields) = judge(&evidence(&live, &paths, Some(&before), "sent-now"));
        assert_eq!((cause, fields.len()), (Cause::Pending, 0));
        // The render is what the last apply sent: only the cluster can have changed it. The
        // newest hand-like writer after the apply is named; the controller (owns status) is not.
        let same = witness("sent", "left-before");
        let (cause, fields) = judge(&evidence(&live, &paths, Some(&same), "sent"));
        assert_eq!(cause, Cause::Drift);
        assert_eq!(fields[0].manager.as_deref(), Some("kubectl-edit"));
        // Secret values have no digest: Git is assumed.
        let secret_paths = ["/data/password".to_owned()];
        let unchanged = witness("sent", "left-now");
        let mut secret = evidence(&live, &secret_paths, Some(&unchanged), "sent");
        secret.secret = true;
        assert_eq!(judge(&secret).0, Cause::Pending);
    }

    #[test]
    fn creates_and_deletes_take_their_cause_from_the_inventory() {
        let live = edited();
        let mut create = evidence(&live, &[], None, "sent");
        create.action = Action::Create;
        create.live = None;
        assert_eq!(judge(&create).0, Cause::Drift, "listed: deleted by hand");
        create.member = false;
        assert_eq!(judge(&create).0, Cause::Pending, "new in Git");
        let mut first = evidence(&live, &[], None, "sent");
        first.applied_before = false;
        first.paths = &[];
        let paths = ["/spec/replicas".to_owned()];
        first.paths = &paths;
        assert_eq!(
            judge(&first).0,
            Cause::Pending,
            "never applied: all pending"
        );
        let mut delete = evidence(&live, &[], None, "sent");
        delete.action = Action::Delete;
        assert_eq!(judge(&delete).0, Cause::Pending);
    }

    #[test]
    fn differing_paths_are_json_pointers_bounded() {
        let old = json!({"metadata": {"labels": {"app.kubernetes.io/name": "a", "x": "1"}},
                         "spec": {"ports": [{"port": 80}], "list": [1, 2]}});
        let new = json!({"metadata": {"labels": {"app.kubernetes.io/name": "b"}},
                         "spec": {"ports": [{"port": 81}], "list": [1, 2, 3]}, "extra": true});
        assert_eq!(
            differing_paths(&old, &new, 10),
            [
                "/metadata/labels/app.kubernetes.io~1name",
                "/metadata/labels/x",
                "/spec/ports/0/port",
                "/spec/list",
                "/extra"
            ]
        );
        assert_eq!(differing_paths(&old, &new, 2).len(), 2);
    }
}
