//! Field-ownership conflicts that the server-side dry-run reports (HTTP 409).
//!
//! The dry-run is sent without force, as the write will be, so that a conflict stops the run
//! in preflight, before anything is written, rather than halfway through the writes.

use serde_json::Value;

/// Fields of one object that other managers own with other values.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The server's words: which managers, which fields.
    pub message: String,
    /// The managers the server named.
    pub managers: Vec<String>,
    /// Every manager named wrote only with plain updates (operation `Update`: `kubectl edit`,
    /// `scale`, `patch`, client-side apply, Helm, controllers). That is drift from Git, and the
    /// apply takes the fields back. A declarative owner (an `Apply` manager) needs
    /// `--force-conflicts`.
    pub imperative_only: bool,
}

impl Conflict {
    /// Reads a 409 message against the live object's managedFields.
    pub fn from_message(message: &str, live: Option<&Value>) -> Self {
        let managers = managers_named(message);
        let imperative_only = only_imperative(&managers, live);
        Conflict {
            message: message.to_owned(),
            managers,
            imperative_only,
        }
    }

    /// One line for the plan, under the object's header.
    pub fn note(&self) -> String {
        if self.imperative_only {
            format!(
                "takes back fields changed with plain updates (kubectl edit/patch/scale, client-side apply, Helm, controllers): {}",
                self.fields()
            )
        } else {
            format!(
                "conflict: {}; apply stops before writing anything unless --force-conflicts",
                self.fields()
            )
        }
    }

    /// The message on one line, without the "Apply failed with N conflicts:" lead:
    /// `conflicts with "helm" using apps/v1: .spec.replicas, .spec.template…image`.
    pub fn fields(&self) -> String {
        let text = self.message.trim();
        let text = match (text.starts_with("Apply failed with"), text.find(": ")) {
            (true, Some(at)) => &text[at + 2..],
            _ => text,
        };
        text.lines()
            .map(|line| line.trim().trim_start_matches("- "))
            .filter(|line| !line.is_empty())
            .enumerate()
            .fold(String::new(), |mut out, (index, line)| {
                if index > 0 {
                    out.push_str(if out.ends_with(':') { " " } else { ", " });
                }
                out.push_str(line);
                out
            })
    }
}

/// The managers a conflict message names: `conflict with "kubectl-edit" using apps/v1: …`.
fn managers_named(message: &str) -> Vec<String> {
    let mut managers: Vec<String> = message
        .split("with \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .map(str::to_owned)
        .collect();
    managers.dedup();
    managers
}

/// True when every manager has only `Update` entries in live's managedFields.
fn only_imperative(managers: &[String], live: Option<&Value>) -> bool {
    let entries = live
        .and_then(|l| l.pointer("/metadata/managedFields"))
        .and_then(Value::as_array);
    let (false, Some(entries)) = (managers.is_empty(), entries) else {
        return false;
    };
    // Each manager needs entries, all of them Update: a manager absent from a live object read
    // earlier is no evidence of a hand edit.
    managers.iter().all(|manager| {
        let mut entries = entries
            .iter()
            .filter(|e| e.get("manager").and_then(Value::as_str) == Some(manager.as_str()))
            .peekable();
        entries.peek().is_some()
            && entries.all(|e| e.get("operation").and_then(Value::as_str) == Some("Update"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live(entries: Value) -> Value {
        json!({"metadata": {"managedFields": entries}})
    }

    #[test]
    fn hand_edits_are_drift_and_apply_managers_are_owners() {
        let message = r#"Apply failed with 2 conflicts: conflict with "kubectl-edit" using v1: .data.a, conflict with "helm" using v1: .data.b"#;
        let edited = live(json!([
            {"manager": "kubectl-edit", "operation": "Update"},
            {"manager": "helm", "operation": "Update"},
            {"manager": "gitops", "operation": "Apply"},
        ]));
        let conflict = Conflict::from_message(message, Some(&edited));
        assert_eq!(conflict.managers, ["kubectl-edit", "helm"]);
        assert!(conflict.imperative_only);

        let owned = live(json!([
            {"manager": "kubectl-edit", "operation": "Update"},
            {"manager": "helm", "operation": "Apply"},
        ]));
        let conflict = Conflict::from_message(message, Some(&owned));
        assert!(!conflict.imperative_only);
        assert!(conflict.note().contains("--force-conflicts"));
    }

    #[test]
    fn the_note_is_one_line_naming_manager_and_fields() {
        let message = "Apply failed with 2 conflicts: conflicts with \"kubectl-client-side-apply\" using apps/v1:\n- .spec.replicas\n- .spec.template.spec.containers[name=\"web\"].image";
        let conflict = Conflict::from_message(message, None);
        assert_eq!(
            conflict.fields(),
            "conflicts with \"kubectl-client-side-apply\" using apps/v1: .spec.replicas, .spec.template.spec.containers[name=\"web\"].image"
        );
        let single =
            r#"Apply failed with 1 conflict: conflict with "other-tool" using v1: .data.LOG_LEVEL"#;
        assert_eq!(
            Conflict::from_message(single, None).fields(),
            r#"conflict with "other-tool" using v1: .data.LOG_LEVEL"#
        );
    }

    #[test]
    fn an_unreadable_message_is_never_taken_for_drift() {
        let edited = live(json!([{"manager": "x", "operation": "Update"}]));
        assert!(!Conflict::from_message("Apply failed", Some(&edited)).imperative_only);
        assert!(!Conflict::from_message(r#"conflict with "x""#, None).imperative_only);
        // A manager the live object does not list (read before it wrote) is no evidence.
        let message = r#"Apply failed with 1 conflict: conflict with "newcomer" using v1: .data.a"#;
        assert!(!Conflict::from_message(message, Some(&edited)).imperative_only);
    }
}
