//! Adoption: an object that exists in the cluster but is not a member of the target yet (kubectl,
//! Helm, Argo CD or another tool made it). The plan marks it so, and names who made it, from
//! the marks those tools leave: Helm's release annotations, Argo CD's tracking, kubectl's
//! last-applied annotation, another ApplySet's label, else the field managers.

use serde_json::Value;

use crate::ownership::PART_OF_LABEL;

/// The first declarative tool whose marks the object carries, else its managers.
pub fn previous_owner(live: &Value, inventory_id: &str) -> Option<String> {
    let labels = &live["metadata"]["labels"];
    let annotations = &live["metadata"]["annotations"];
    let text = |map: &Value, key: &str| map.get(key).and_then(Value::as_str).map(str::to_owned);
    if let Some(owner) = text(labels, PART_OF_LABEL) {
        // Already this target's (an apply that could not record its inventory): not adopted.
        return (owner != inventory_id)
            .then(|| format!("another gitops target (ApplySet {owner})"));
    }
    if let Some(release) = text(annotations, "meta.helm.sh/release-name") {
        return Some(format!("Helm release {release}"));
    }
    if text(labels, "app.kubernetes.io/managed-by").as_deref() == Some("Helm") {
        return Some("Helm".into());
    }
    if let Some(tracking) = text(annotations, "argocd.argoproj.io/tracking-id") {
        let app = tracking.split(':').next().unwrap_or(&tracking).to_owned();
        return Some(format!("Argo CD application {app}"));
    }
    if let Some(app) = text(labels, "argocd.argoproj.io/instance") {
        return Some(format!("Argo CD application {app}"));
    }
    if annotations
        .get("kubectl.kubernetes.io/last-applied-configuration")
        .is_some()
    {
        return Some("kubectl apply".into());
    }
    let managers: Vec<&str> = live["metadata"]["managedFields"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|m| m["manager"].as_str())
        .collect();
    Some(match managers.as_slice() {
        [] => "an unknown tool".into(),
        _ => {
            let mut unique = managers.clone();
            unique.dedup();
            format!("field manager {}", unique.join(", "))
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_previous_owner_is_named_from_the_marks_tools_leave() {
        let of = |metadata: Value| previous_owner(&json!({ "metadata": metadata }), "mine");
        assert_eq!(
            of(json!({"labels": {"app.kubernetes.io/managed-by": "Helm"},
                "annotations": {"meta.helm.sh/release-name": "shop"}})),
            Some("Helm release shop".into())
        );
        assert_eq!(
            of(
                json!({"annotations": {"argocd.argoproj.io/tracking-id": "guestbook:apps/Deployment:default/web"}})
            ),
            Some("Argo CD application guestbook".into())
        );
        assert_eq!(
            of(json!({"annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{}"}})),
            Some("kubectl apply".into())
        );
        assert_eq!(
            of(json!({"managedFields": [{"manager": "kubectl-create"}]})),
            Some("field manager kubectl-create".into())
        );
        assert_eq!(
            of(json!({"labels": {"applyset.kubernetes.io/part-of": "other"}})),
            Some("another gitops target (ApplySet other)".into())
        );
        assert_eq!(
            of(json!({"labels": {"applyset.kubernetes.io/part-of": "mine"}})),
            None
        );
    }
}
