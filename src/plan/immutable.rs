//! Immutable-field errors (HTTP 422 "field is immutable"), said for people.
//!
//! The server's message quotes the whole old value as a Go struct (a Job's template runs to
//! thousands of characters); what a user needs is the field and what to do.

/// The fields the server calls immutable in a 422 message, in order, without repeats.
pub fn immutable_fields(message: &str) -> Vec<String> {
    const INVALID: &str = ": Invalid value: ";
    let starts: Vec<usize> = message.match_indices(INVALID).map(|(at, _)| at).collect();
    let mut fields: Vec<String> = Vec::new();
    for (index, &at) in starts.iter().enumerate() {
        let end = starts.get(index + 1).copied().unwrap_or(message.len());
        if !message[at..end].contains("field is immutable") {
            continue;
        }
        let field = message[..at]
            .rsplit(|c: char| c.is_whitespace() || c == '[')
            .next()
            .unwrap_or("")
            .trim_start_matches(',');
        if !field.is_empty() && !fields.iter().any(|f| f == field) {
            fields.push(field.to_owned());
        }
    }
    fields
}

/// A dry-run's or write's error said for people when it is about immutable fields:
/// `apps/v1 Deployment shop/api: spec.selector cannot change in place …`.
pub fn explain_error(kind: &str, error: &crate::cluster::ClusterError) -> Option<String> {
    match error {
        crate::cluster::ClusterError::Api {
            code: 422,
            message,
            operation,
            ..
        } => explain(kind, message).map(|said| format!("{}: {said}", operation.object)),
        _ => None,
    }
}

/// What to say instead of the server's message, when it is about immutable fields.
pub fn explain(kind: &str, message: &str) -> Option<String> {
    // A StatefulSet lets only some of its spec change (volumeClaimTemplates, selector and
    // serviceName do not); the usual way out keeps the pods and their volumes.
    if message.contains("updates to statefulset spec for fields other than") {
        return Some(format!(
            "{}; to change the others, delete the StatefulSet but not its pods (kubectl delete statefulset NAME --cascade=orphan) and apply again: the new one adopts the pods, and the volumes stay",
            message
                .split("is invalid: ")
                .nth(1)
                .unwrap_or(message)
                .trim()
        ));
    }
    let fields = immutable_fields(message);
    if fields.is_empty() {
        return None;
    }
    let what_to_do = if kind == "Job" {
        "a Job's template never changes once created: give the changed Job a new name (for example with the image tag in it), or delete the old Job so that the next apply creates it again"
    } else {
        "revert the change in Git, or delete the object so that the next apply creates it again (its pods or data go with it)"
    };
    Some(format!(
        "{} cannot change in place (immutable field{}): {what_to_do}",
        fields.join(", "),
        if fields.len() > 1 { "s" } else { "" }
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_read_from_the_servers_message() {
        let job = r#"Job.batch "migrate" is invalid: spec.template: Invalid value: core.PodTemplateSpec{ObjectMeta:v1.ObjectMeta{Name:"", Labels:map[string]string{"a":"b"}}, Spec:core.PodSpec{Containers:[]core.Container{core.Container{Name:"m", Command:[]string{"true"}}}}}: field is immutable"#;
        assert_eq!(immutable_fields(job), ["spec.template"]);
        let deployment = r#"Deployment.apps "web" is invalid: [spec.selector: Invalid value: v1.LabelSelector{MatchLabels:map[string]string{"app":"web2"}, MatchExpressions:[]v1.LabelSelectorRequirement(nil)}: field is immutable, spec.template.metadata.labels: Invalid value: map[string]string{"app":"web"}: `selector` does not match template `labels`]"#;
        assert_eq!(immutable_fields(deployment), ["spec.selector"]);
        assert!(
            immutable_fields("Service \"a\" is invalid: spec.ports: Required value").is_empty()
        );
        let said = explain("Deployment", deployment).unwrap();
        assert!(
            said.starts_with("spec.selector cannot change in place"),
            "{said}"
        );
        assert!(explain("Job", job).unwrap().contains("new name"));
        let sts = r#"StatefulSet.apps "db" is invalid: spec: Forbidden: updates to statefulset spec for fields other than 'replicas', 'template', and 'updateStrategy' are forbidden"#;
        let said = explain("StatefulSet", sts).unwrap();
        assert!(
            said.starts_with("spec: Forbidden: updates to statefulset spec")
                && said.contains("--cascade=orphan"),
            "{said}"
        );
    }
}
