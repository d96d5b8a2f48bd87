//! `diff --notify URL`: the drift alert of a scheduled job. One message when a target's drift
//! appears or its set of drifted objects changes, one "recovered" when it is gone, nothing
//! while it stays the same; the state last notified is kept on the target's inventory.

use serde_json::json;

use crate::cluster::Cluster;
use crate::inventory::{self, Notified};
use crate::notify::{self, Alert, DriftedField, DriftedObject, Status, Webhook};
use crate::plan::{witness, Plan};
use crate::{clock, log};

/// The drift of one plan, taken before `--only` filters it.
pub struct Drift {
    pub objects: Vec<DriftedObject>,
}

impl Drift {
    pub fn of(plan: &Plan) -> Drift {
        let objects = plan
            .changed()
            .filter(|c| c.cause.drifted())
            .map(|c| DriftedObject {
                api_version: c.resource.resource.api_version.clone(),
                kind: c.resource.resource.kind.clone(),
                namespace: c.namespace.clone(),
                name: c.name.clone(),
                action: c.action.as_str().to_owned(),
                cause: c.cause.as_str().to_owned(),
                fields: c
                    .drifted_fields
                    .iter()
                    .map(|f| DriftedField {
                        path: f.path.clone(),
                        manager: f.manager.clone(),
                        time: f.time.clone(),
                    })
                    .collect(),
            })
            .collect();
        Drift { objects }
    }

    /// Digest of which objects drifted: a new message when this set changes.
    fn digest(&self) -> String {
        let mut names: Vec<String> = self
            .objects
            .iter()
            .map(|o| {
                format!(
                    "{} {} {}/{}",
                    o.api_version,
                    o.kind,
                    o.namespace.as_deref().unwrap_or(""),
                    o.name
                )
            })
            .collect();
        names.sort();
        witness::digest(&json!(names))
    }
}

/// What to post, given the state last notified and the drift now.
pub fn decide(previous: Option<&Notified>, drift_digest: Option<&str>) -> Option<Status> {
    let was_drifted = previous.filter(|n| n.state == Status::Drifted.as_str());
    match (was_drifted, drift_digest) {
        (None, Some(_)) => Some(Status::Drifted),
        (Some(before), Some(now)) if before.digest != now => Some(Status::Drifted),
        (Some(_), None) => Some(Status::Recovered),
        _ => None,
    }
}

/// Posts the target's alert when its drift state changed, then records the new state.
/// A target never applied has no drift and no inventory to keep a state on.
pub async fn notify(cluster: &Cluster, plan: &Plan, drift: Drift, url: &str) -> anyhow::Result<()> {
    let Some(inventory) = &plan.inventory else {
        return Ok(());
    };
    let digest = (!drift.objects.is_empty()).then(|| drift.digest());
    let Some(status) = decide(inventory.notified.as_ref(), digest.as_deref()) else {
        log::verbose(&format!(
            "target {}: drift state unchanged since the last notification; nothing posted",
            plan.target
        ));
        return Ok(());
    };
    let alert = Alert {
        target: plan.target.clone(),
        revision: plan.revision.clone(),
        status,
        drift: drift.objects,
    };
    Webhook::default()
        .post(url, &notify::message(&alert))
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "target {}: the drift alert could not be posted: {e}",
                plan.target
            )
        })?;
    log::info(&format!(
        "target {}: posted the drift alert ({})",
        plan.target,
        status.as_str()
    ));
    let notified = Notified {
        state: status.as_str().to_owned(),
        digest: digest.unwrap_or_default(),
        time: clock::now_rfc3339(),
    };
    inventory::record_notified(cluster, &plan.inventory_ref, &notified)
        .await
        .map_err(|e| {
            anyhow::anyhow!(
                "target {}: the drift alert was posted, but recording that on the inventory failed ({e}); the next run posts it again. gitops diff --notify needs to patch ConfigMap {}/{}",
                plan.target,
                plan.inventory_ref.namespace,
                plan.inventory_ref.name
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state(state: &str, digest: &str) -> Notified {
        Notified {
            state: state.into(),
            digest: digest.into(),
            time: String::new(),
        }
    }

    #[test]
    fn one_message_per_change_of_state() {
        assert_eq!(decide(None, Some("a")), Some(Status::Drifted));
        assert_eq!(decide(None, None), None);
        let drifted = state("drifted", "a");
        assert_eq!(decide(Some(&drifted), Some("a")), None);
        assert_eq!(decide(Some(&drifted), Some("b")), Some(Status::Drifted));
        assert_eq!(decide(Some(&drifted), None), Some(Status::Recovered));
        let recovered = state("recovered", "");
        assert_eq!(decide(Some(&recovered), None), None);
        assert_eq!(decide(Some(&recovered), Some("a")), Some(Status::Drifted));
    }
}
