//! The comparison at the heart of a plan: the live object against what the server predicts an
//! apply would leave, both normalised the same way. A plain function: no cluster, no runtime.

use serde_json::Value;

use super::cause::differing_paths;
use super::normalize::normalize;
use super::textdiff::unified;
use super::Action;
use crate::config::IgnoreRule;
use crate::mask;

/// What applying would do to one object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Comparison {
    pub action: Action,
    /// Masked unified diff.
    pub diff: String,
    /// Where the normalised objects differ (JSON pointers), for an update.
    pub paths: Vec<String>,
}

/// Most paths one update names: beyond, the diff says the rest.
const PATH_LIMIT: usize = 50;

/// What applying would do to one object, and the masked unified diff that shows it.
/// `predicted` is the dry-run's answer for an existing object; None where the plan proved the
/// apply changes nothing. A missing `live` object is created as `desired`.
pub fn compare(
    live: Option<&Value>,
    predicted: Option<&Value>,
    desired: &Value,
    rules: &[&IgnoreRule],
) -> Comparison {
    let unchanged = Comparison {
        action: Action::Unchanged,
        diff: String::new(),
        paths: Vec::new(),
    };
    let owners = live.and_then(|l| l.pointer("/metadata/managedFields"));
    let (action, mut old, mut new) = match (live, predicted) {
        (Some(_), None) => return unchanged,
        (None, _) => (Action::Create, None, normalize(desired, rules, None)),
        (Some(live), Some(predicted)) => {
            let old = normalize(live, rules, owners);
            let new = normalize(predicted, rules, owners);
            if old == new {
                return unchanged;
            }
            (Action::Update, Some(old), new)
        }
    };
    let paths = old
        .as_ref()
        .map(|old| differing_paths(old, &new, PATH_LIMIT))
        .unwrap_or_default();
    mask::mask_secret_pair(old.as_mut(), Some(&mut new));
    let (shown_old, shown_new) = without_own_label(old.as_ref(), &new);
    Comparison {
        action,
        diff: unified(shown_old.as_ref(), Some(&shown_new)),
        paths,
    }
}

/// The pair as the diff shows it: gitops' own ApplySet label (a long hash on every object it
/// manages) left out where it says nothing — on a create, and where the live object carries
/// the same one. An object taken over from another owner keeps it: that change is news.
fn without_own_label(old: Option<&Value>, new: &Value) -> (Option<Value>, Value) {
    let label = |v: &Value| {
        v.pointer("/metadata/labels")
            .and_then(|l| l.get(crate::ownership::PART_OF_LABEL))
            .cloned()
    };
    let quiet = match old {
        None => true,
        Some(old) => label(old) == label(new),
    };
    let (mut old, mut new) = (old.cloned(), new.clone());
    if quiet {
        for value in old.iter_mut().chain(std::iter::once(&mut new)) {
            drop_own_label(value);
        }
    }
    (old, new)
}

/// Removes gitops' ApplySet label (and a `labels` map it leaves empty), for display.
pub(super) fn drop_own_label(value: &mut Value) {
    let Some(metadata) = value.get_mut("metadata").and_then(Value::as_object_mut) else {
        return;
    };
    if let Some(labels) = metadata.get_mut("labels").and_then(Value::as_object_mut) {
        labels.remove(crate::ownership::PART_OF_LABEL);
        if labels.is_empty() {
            metadata.remove("labels");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live() -> Value {
        json!({
            "apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "a", "namespace": "n", "uid": "u1", "resourceVersion": "7",
                         "managedFields": [{"manager": "gitops", "operation": "Apply"}]},
            "data": {"k": "v"}
        })
    }

    #[test]
    fn server_metadata_alone_is_no_change() {
        let mut predicted = live();
        predicted["metadata"]["resourceVersion"] = json!("8");
        let found = compare(Some(&live()), Some(&predicted), &live(), &[]);
        assert_eq!(found.action, Action::Unchanged);
        assert!(found.diff.is_empty() && found.paths.is_empty());
        assert_eq!(
            compare(Some(&live()), None, &live(), &[]).action,
            Action::Unchanged
        );
    }

    #[test]
    fn a_changed_value_is_an_update_with_its_lines() {
        let mut predicted = live();
        predicted["data"]["k"] = json!("w");
        let Comparison {
            action,
            diff,
            paths,
        } = compare(Some(&live()), Some(&predicted), &predicted, &[]);
        assert_eq!(action, Action::Update);
        assert_eq!(paths, ["/data/k"]);
        assert!(
            diff.contains("-  k: v") && diff.contains("+  k: w"),
            "{diff}"
        );
        assert!(!diff.contains("resourceVersion"), "{diff}");
    }

    #[test]
    fn a_new_secret_is_created_without_showing_its_values() {
        let secret = json!({"apiVersion": "v1", "kind": "Secret",
                            "metadata": {"name": "s", "namespace": "n"},
                            "stringData": {"password": "hunter2"}});
        let Comparison { action, diff, .. } = compare(None, None, &secret, &[]);
        assert_eq!(action, Action::Create);
        assert!(
            !diff.contains("hunter2") && diff.contains("<hidden: new>"),
            "{diff}"
        );
    }
}
