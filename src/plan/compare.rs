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
    Comparison {
        action,
        diff: unified(old.as_ref(), Some(&new)),
        paths,
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
