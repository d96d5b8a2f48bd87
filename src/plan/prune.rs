//! Deletes of a plan: inventory members that the render no longer has (SPEC.md, Safety).
//!
//! Only objects that the inventory lists AND that carry this target's membership label are
//! deleted; `gitops.dev/prune: disabled` and Argo CD's `Prune=false` keep an object.

use serde_json::Value;

use super::normalize::normalize;
use super::textdiff::unified;
use super::{Action, Change};
use crate::cluster::{objects, Cluster, ClusterError, Discovery};
use crate::inventory::{InventoryRef, Member, PART_OF_LABEL};
use crate::mask;

/// Annotation that keeps an object from being pruned (`disabled`).
pub const PRUNE_ANNOTATION: &str = "gitops.dev/prune";
/// Argo CD's sync options; `Prune=false` keeps an object.
pub const ARGO_SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";

/// Why a live object must not be pruned, if it must not.
pub fn prune_blocker(live: &Value, inventory: &InventoryRef) -> Option<String> {
    let labels = live.pointer("/metadata/labels");
    let part_of = labels
        .and_then(|l| l.get(PART_OF_LABEL))
        .and_then(Value::as_str);
    if part_of != Some(inventory.id.as_str()) {
        return Some(format!(
            "it does not carry this target's label {PART_OF_LABEL}={}",
            inventory.id
        ));
    }
    let annotations = live.pointer("/metadata/annotations");
    let annotation = |key: &str| annotations.and_then(|a| a.get(key)).and_then(Value::as_str);
    if annotation(PRUNE_ANNOTATION) == Some("disabled") {
        return Some(format!("it is annotated {PRUNE_ANNOTATION}: disabled"));
    }
    if annotation(ARGO_SYNC_OPTIONS)
        .is_some_and(|o| o.split(',').any(|opt| opt.trim() == "Prune=false"))
    {
        return Some(format!("it is annotated {ARGO_SYNC_OPTIONS}: Prune=false"));
    }
    None
}

/// The rendered object that `live` (a stale member) is, read under another group, if any.
async fn same_object_rendered(
    cluster: &Cluster,
    member: &Member,
    live: &Value,
    rendered: &[Change],
) -> Result<Option<String>, ClusterError> {
    let uid = |object: &Value| {
        object
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    let twins = rendered.iter().filter(|c| {
        c.resource.resource.kind == member.kind
            && c.resource.resource.group != member.group
            && c.namespace == member.namespace
            && c.name == member.name
    });
    for twin in twins {
        let read = objects::get(
            cluster,
            &twin.resource,
            twin.namespace.as_deref(),
            &twin.name,
        )
        .await?;
        if read
            .as_ref()
            .and_then(uid)
            .is_some_and(|u| Some(u) == uid(live))
        {
            return Ok(Some(twin.describe()));
        }
    }
    Ok(None)
}

/// Deletes for `stale` members (listed, no longer rendered), and the objects kept with why.
/// `rendered` is the rest of the plan: a member whose kind, namespace and name a rendered object
/// has under another API group may be that very object, served under both groups (an Ingress
/// moved from `extensions` to `networking.k8s.io` on a server before v1.22); deleting it would
/// delete what was just applied, so the uids are compared first.
pub async fn plan_deletes(
    cluster: &Cluster,
    discovery: &Discovery,
    inventory: &InventoryRef,
    stale: Vec<Member>,
    rendered: &[Change],
) -> Result<(Vec<Change>, Vec<String>), ClusterError> {
    let mut deletes = Vec::new();
    let mut kept = Vec::new();
    for member in stale {
        let Some(info) = discovery.resolve(&member.api_version(), &member.kind) else {
            kept.push(format!(
                "{} {} {}: its kind is no longer served; not pruned",
                member.api_version(),
                member.kind,
                member.name
            ));
            continue;
        };
        let ns = member.namespace.as_deref();
        let Some(live) = objects::get(cluster, info, ns, &member.name).await? else {
            continue; // already gone
        };
        let object = objects::describe(info, ns, &member.name);
        if let Some(why) = prune_blocker(&live, inventory) {
            kept.push(format!("{object}: kept because {why}"));
            continue;
        }
        if let Some(twin) = same_object_rendered(cluster, &member, &live, rendered).await? {
            kept.push(format!(
                "{object}: kept because it is the same object as {twin}, which the API server also serves under that group"
            ));
            continue;
        }
        let mut old = normalize(&live, &[], None);
        mask::mask_secret_pair(Some(&mut old), None);
        deletes.push(Change {
            action: Action::Delete,
            resource: info.clone(),
            namespace: member.namespace.clone(),
            name: member.name.clone(),
            desired: None,
            origin: None,
            member: false,
            diff: unified(Some(&old), None),
            note: None,
            conflict: None,
        });
    }
    Ok((deletes, kept))
}
