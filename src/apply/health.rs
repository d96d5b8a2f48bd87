//! Health per kind (SPEC.md, Apply): is a live object ready, still progressing, or failed?

use serde_json::Value;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Health {
    Healthy,
    /// Still converging; the text says what is missing ("1/3 replicas available").
    Progressing(String),
    /// Will not converge by waiting (ProgressDeadlineExceeded, a failed Job).
    Failed(String),
}

impl Health {
    /// The state as `status` shows it (`Healthy`, `Progressing`, `Degraded`) and why.
    pub fn parts(&self) -> (&'static str, &str) {
        match self {
            Health::Healthy => ("Healthy", ""),
            Health::Progressing(why) => ("Progressing", why),
            Health::Failed(why) => ("Degraded", why),
        }
    }
}

fn int(object: &Value, pointer: &str) -> i64 {
    object.pointer(pointer).and_then(Value::as_i64).unwrap_or(0)
}

/// The condition of `kind`: (status, reason, message).
fn condition<'a>(object: &'a Value, kind: &str) -> Option<(&'a str, &'a str, &'a str)> {
    object
        .pointer("/status/conditions")?
        .as_array()?
        .iter()
        .find(|c| c.get("type").and_then(Value::as_str) == Some(kind))
        .map(|c| {
            let text = |key: &str| c.get(key).and_then(Value::as_str).unwrap_or("");
            (text("status"), text("reason"), text("message"))
        })
}

/// `spec.replicas`, which the API server defaults to 1.
fn desired_replicas(object: &Value) -> i64 {
    object
        .pointer("/spec/replicas")
        .and_then(Value::as_i64)
        .unwrap_or(1)
}

/// The controller has seen the latest spec.
fn observed(object: &Value) -> bool {
    let generation = int(object, "/metadata/generation");
    object
        .pointer("/status/observedGeneration")
        .and_then(Value::as_i64)
        .unwrap_or(-1)
        >= generation
}

/// Kinds that are healthy as soon as they are applied: they have no status a controller
/// reports progress in. Waiting does not fetch them again.
const HEALTHY_WHEN_APPLIED: &[(&str, &str)] = &[
    ("", "ConfigMap"),
    ("", "Secret"),
    ("", "ServiceAccount"),
    ("", "Service"),
    ("", "Endpoints"),
    ("", "LimitRange"),
    ("rbac.authorization.k8s.io", "Role"),
    ("rbac.authorization.k8s.io", "RoleBinding"),
    ("rbac.authorization.k8s.io", "ClusterRole"),
    ("rbac.authorization.k8s.io", "ClusterRoleBinding"),
    ("networking.k8s.io", "NetworkPolicy"),
    ("networking.k8s.io", "IngressClass"),
    ("scheduling.k8s.io", "PriorityClass"),
    ("storage.k8s.io", "StorageClass"),
    (
        "admissionregistration.k8s.io",
        "MutatingWebhookConfiguration",
    ),
    (
        "admissionregistration.k8s.io",
        "ValidatingWebhookConfiguration",
    ),
];

/// Whether waiting must look at the live object (false: healthy once applied).
pub fn needs_polling(group: &str, kind: &str) -> bool {
    !HEALTHY_WHEN_APPLIED.contains(&(group, kind))
}

/// Health of an object just applied from `desired`: a Deployment that Git itself pauses will
/// not roll out until someone resumes it, so there is nothing to wait for (Argo CD calls it
/// Suspended). One paused by hand (`kubectl rollout pause`) is waited for, and says why.
pub fn assess_applied(group: &str, kind: &str, live: &Value, desired: Option<&Value>) -> Health {
    let deployment = matches!((group, kind), ("apps" | "extensions", "Deployment"));
    if deployment && desired.is_some_and(paused) {
        return Health::Healthy;
    }
    assess(group, kind, live)
}

fn paused(deployment: &Value) -> bool {
    deployment.pointer("/spec/paused").and_then(Value::as_bool) == Some(true)
}

pub fn assess(group: &str, kind: &str, object: &Value) -> Health {
    match (group, kind) {
        ("apps" | "extensions", "Deployment") => deployment(object),
        ("apps", "StatefulSet") => stateful_set(object),
        ("apps" | "extensions", "DaemonSet") => daemon_set(object),
        ("batch", "Job") => job(object),
        ("", "PersistentVolumeClaim") => {
            match object.pointer("/status/phase").and_then(Value::as_str) {
                Some("Bound") => Health::Healthy,
                phase => Health::Progressing(format!("phase {}", phase.unwrap_or("unknown"))),
            }
        }
        ("", "ResourceQuota") => resource_quota(object),
        ("apiextensions.k8s.io", "CustomResourceDefinition") => {
            match condition(object, "Established") {
                Some(("True", _, _)) => Health::Healthy,
                _ => Health::Progressing("not established yet".into()),
            }
        }
        _ => match condition(object, "Ready") {
            None | Some(("True", _, _)) => Health::Healthy,
            Some((_, reason, message)) => Health::Progressing(
                format!("Ready is not True: {reason} {message}")
                    .trim_end()
                    .to_owned(),
            ),
        },
    }
}

/// A quota is in force once the quota controller has recorded its hard limits: before that,
/// the objects of a later wave may be admitted as if it did not exist.
fn resource_quota(object: &Value) -> Health {
    let wanted = object.pointer("/spec/hard").and_then(Value::as_object);
    let recorded = object.pointer("/status/hard").and_then(Value::as_object);
    let in_force = wanted.is_none_or(|wanted| {
        wanted
            .keys()
            .all(|key| recorded.is_some_and(|r| r.contains_key(key)))
    });
    if in_force {
        Health::Healthy
    } else {
        Health::Progressing("the quota controller has not recorded its limits yet".into())
    }
}

fn deployment(object: &Value) -> Health {
    if let Some((_, "ProgressDeadlineExceeded", message)) = condition(object, "Progressing") {
        return Health::Failed(format!("ProgressDeadlineExceeded: {message}"));
    }
    if paused(object) {
        return Health::Progressing(
            "paused: it rolls out after `kubectl rollout resume` (or paused: false in Git)".into(),
        );
    }
    if !observed(object) {
        return Health::Progressing("the controller has not seen the new spec yet".into());
    }
    let desired = desired_replicas(object);
    let updated = int(object, "/status/updatedReplicas");
    let available = int(object, "/status/availableReplicas");
    let total = int(object, "/status/replicas");
    if updated < desired {
        Health::Progressing(format!("{updated}/{desired} replicas updated"))
    } else if total > updated {
        Health::Progressing(format!(
            "{} old replicas pending termination",
            total - updated
        ))
    } else if available < desired {
        Health::Progressing(format!("{available}/{desired} replicas available"))
    } else {
        Health::Healthy
    }
}

fn stateful_set(object: &Value) -> Health {
    if !observed(object) {
        return Health::Progressing("the controller has not seen the new spec yet".into());
    }
    let desired = desired_replicas(object);
    let ready = int(object, "/status/readyReplicas");
    let updated = int(object, "/status/updatedReplicas");
    let rolling = object
        .pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        != Some("OnDelete");
    // A partitioned rollout updates only the pods at or above the partition.
    let partition =
        int(object, "/spec/updateStrategy/rollingUpdate/partition").clamp(0, desired.max(0));
    let to_update = desired - partition;
    if ready < desired {
        Health::Progressing(format!("{ready}/{desired} replicas ready"))
    } else if rolling && updated < to_update {
        Health::Progressing(format!("{updated}/{to_update} replicas updated"))
    } else {
        Health::Healthy
    }
}

fn daemon_set(object: &Value) -> Health {
    if !observed(object) {
        return Health::Progressing("the controller has not seen the new spec yet".into());
    }
    let desired = int(object, "/status/desiredNumberScheduled");
    let available = int(object, "/status/numberAvailable");
    let updated = int(object, "/status/updatedNumberScheduled");
    // OnDelete: pods are replaced only when someone deletes them.
    let rolling = object
        .pointer("/spec/updateStrategy/type")
        .and_then(Value::as_str)
        != Some("OnDelete");
    if rolling && updated < desired {
        Health::Progressing(format!("{updated}/{desired} pods updated"))
    } else if available < desired {
        Health::Progressing(format!("{available}/{desired} pods available"))
    } else {
        Health::Healthy
    }
}

fn job(object: &Value) -> Health {
    if let Some(("True", reason, message)) = condition(object, "Failed") {
        return Health::Failed(
            format!("Job failed: {reason} {message}")
                .trim_end()
                .to_owned(),
        );
    }
    match condition(object, "Complete") {
        Some(("True", _, _)) => Health::Healthy,
        _ => {
            let succeeded = int(object, "/status/succeeded");
            let completions = object
                .pointer("/spec/completions")
                .and_then(Value::as_i64)
                .unwrap_or(1);
            Health::Progressing(format!("{succeeded}/{completions} completions"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn deployments() {
        let ready = json!({"metadata": {"generation": 2}, "spec": {"replicas": 3},
            "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3}});
        assert_eq!(assess("apps", "Deployment", &ready), Health::Healthy);
        let mut partial = ready.clone();
        partial["status"]["availableReplicas"] = json!(1);
        assert_eq!(
            assess("apps", "Deployment", &partial),
            Health::Progressing("1/3 replicas available".into())
        );
        let mut stale = ready.clone();
        stale["status"]["observedGeneration"] = json!(1);
        assert!(matches!(
            assess("apps", "Deployment", &stale),
            Health::Progressing(_)
        ));
        let mut stuck = partial.clone();
        stuck["status"]["conditions"] = json!([{"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded", "message": "took too long"}]);
        assert!(
            matches!(assess("apps", "Deployment", &stuck), Health::Failed(m) if m.contains("ProgressDeadlineExceeded"))
        );
    }

    #[test]
    fn a_quota_is_in_force_once_its_limits_are_recorded() {
        let fresh = json!({"spec": {"hard": {"services": "0", "pods": "10"}}});
        assert!(matches!(
            assess("", "ResourceQuota", &fresh),
            Health::Progressing(_)
        ));
        let mut partly = fresh.clone();
        partly["status"] = json!({"hard": {"services": "0"}});
        assert!(matches!(
            assess("", "ResourceQuota", &partly),
            Health::Progressing(_)
        ));
        let mut recorded = fresh.clone();
        recorded["status"] = json!({"hard": {"services": "0", "pods": "10"}, "used": {"services": "0", "pods": "0"}});
        assert_eq!(assess("", "ResourceQuota", &recorded), Health::Healthy);
        // Scoped quotas with nothing hard (or a spec gitops does not know) are not waited on.
        assert_eq!(
            assess("", "ResourceQuota", &json!({"spec": {}})),
            Health::Healthy
        );
    }

    #[test]
    fn rollouts_that_wait_for_someone_else_do_not_hold_the_gate() {
        let paused = json!({"metadata": {"generation": 3}, "spec": {"replicas": 3, "paused": true},
            "status": {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 0, "availableReplicas": 3}});
        let git_pauses = json!({"spec": {"paused": true}});
        assert_eq!(
            assess_applied("apps", "Deployment", &paused, Some(&git_pauses)),
            Health::Healthy
        );
        assert!(
            matches!(assess_applied("apps", "Deployment", &paused, Some(&json!({"spec": {}}))),
                Health::Progressing(m) if m.contains("kubectl rollout resume")),
            "paused by hand, not in Git: waited for, and said why"
        );

        let partitioned = json!({"metadata": {"generation": 2},
            "spec": {"replicas": 4, "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"partition": 3}}},
            "status": {"observedGeneration": 2, "readyReplicas": 4, "updatedReplicas": 1}});
        assert_eq!(assess("apps", "StatefulSet", &partitioned), Health::Healthy);
        let mut behind = partitioned.clone();
        behind["status"]["updatedReplicas"] = json!(0);
        assert_eq!(
            assess("apps", "StatefulSet", &behind),
            Health::Progressing("0/1 replicas updated".into())
        );

        let on_delete = json!({"metadata": {"generation": 2}, "spec": {"updateStrategy": {"type": "OnDelete"}},
            "status": {"observedGeneration": 2, "desiredNumberScheduled": 2, "numberAvailable": 2, "updatedNumberScheduled": 0}});
        assert_eq!(assess("apps", "DaemonSet", &on_delete), Health::Healthy);
        let mut rolling = on_delete.clone();
        rolling["spec"]["updateStrategy"]["type"] = json!("RollingUpdate");
        assert_eq!(
            assess("apps", "DaemonSet", &rolling),
            Health::Progressing("0/2 pods updated".into())
        );
    }

    #[test]
    fn jobs_crds_and_ready_conditions() {
        let failed = json!({"status": {"conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded"}]}});
        assert!(matches!(assess("batch", "Job", &failed), Health::Failed(_)));
        let done = json!({"status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(assess("batch", "Job", &done), Health::Healthy);
        let crd = json!({"status": {"conditions": [{"type": "Established", "status": "True"}]}});
        assert_eq!(
            assess("apiextensions.k8s.io", "CustomResourceDefinition", &crd),
            Health::Healthy
        );
        let widget = json!({"status": {"conditions": [{"type": "Ready", "status": "False", "reason": "Waiting"}]}});
        assert!(matches!(
            assess("example.com", "Widget", &widget),
            Health::Progressing(_)
        ));
        assert_eq!(assess("", "ConfigMap", &json!({})), Health::Healthy);
        assert!(!needs_polling("", "ConfigMap") && needs_polling("apps", "Deployment"));
        assert!(
            needs_polling("example.com", "Widget"),
            "custom resources may report Ready"
        );
    }
}
