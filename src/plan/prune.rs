//! Deletes of a plan: inventory members that the render no longer has (SPEC.md, Safety).
//!
//! Only objects that the inventory lists AND that carry this target's membership label are
//! deleted; `gitops.dev/prune: disabled`, Flux's `kustomize.toolkit.fluxcd.io/prune: disabled`
//! Argo CD's `Prune=false` or `Delete=false`, and Helm's `helm.sh/resource-policy: keep` keep an
//! object.

use serde_json::Value;

use super::normalize::normalize;
use super::textdiff::unified;
use super::{Action, Change};
use crate::cluster::{objects, Cluster, ClusterError, Discovery, ResourceInfo};
use crate::inventory::{InventoryRef, Member};
use crate::mask;
use crate::ownership::{ARGO_SYNC_OPTIONS, FLUX_PRUNE_ANNOTATION, PART_OF_LABEL, PRUNE_ANNOTATION};

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
    for key in [PRUNE_ANNOTATION, FLUX_PRUNE_ANNOTATION] {
        if annotation(key) == Some("disabled") {
            return Some(format!("it is annotated {key}: disabled"));
        }
    }
    // Argo CD's Delete=false keeps an object when its Application goes: for gitops, when it
    // leaves Git.
    let options = annotation(ARGO_SYNC_OPTIONS).unwrap_or_default();
    let kept = options
        .split(',')
        .map(str::trim)
        .find(|opt| *opt == "Prune=false" || *opt == "Delete=false");
    if let Some(option) = kept {
        return Some(format!("it is annotated {ARGO_SYNC_OPTIONS}: {option}"));
    }
    // Helm keeps such an object when its release no longer renders it; so does gitops.
    if annotation(HELM_RESOURCE_POLICY) == Some("keep") {
        return Some(format!("it is annotated {HELM_RESOURCE_POLICY}: keep"));
    }
    None
}

const HELM_RESOURCE_POLICY: &str = "helm.sh/resource-policy";

/// What planning one stale member found.
enum Planned {
    Delete(Box<Change>),
    Kept(String),
    Gone,
}

/// Deletes for `stale` members (listed, no longer rendered), and the objects kept with why.
/// Each member is read again (bounded concurrency: an app removed from Git may leave hundreds).
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
    let mut kept = Vec::new();
    let mut work = Vec::with_capacity(stale.len());
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
        let twins: Vec<&Change> = rendered
            .iter()
            .filter(|c| {
                c.resource.resource.kind == member.kind
                    && c.resource.resource.group != member.group
                    && c.namespace == member.namespace
                    && c.name == member.name
            })
            .collect();
        work.push((info, member, twins));
    }
    // In the inventory's order, whatever order the answers came in.
    let planned = cluster
        .each(work, |(info, member, twins)| async move {
            plan_delete(cluster, info, inventory, member, &twins).await
        })
        .await;
    let mut deletes = Vec::new();
    for outcome in planned {
        match outcome? {
            Planned::Delete(change) => deletes.push(*change),
            Planned::Kept(why) => kept.push(why),
            Planned::Gone => {}
        }
    }
    Ok((deletes, kept))
}

async fn plan_delete(
    cluster: &Cluster,
    info: &ResourceInfo,
    inventory: &InventoryRef,
    member: Member,
    twins: &[&Change],
) -> Result<Planned, ClusterError> {
    let ns = member.namespace.as_deref();
    let Some(live) = objects::get(cluster, info, ns, &member.name).await? else {
        return Ok(Planned::Gone);
    };
    let object = objects::describe(info, ns, &member.name);
    if let Some(why) = prune_blocker(&live, inventory) {
        return Ok(Planned::Kept(format!("{object}: kept because {why}")));
    }
    if let Some(twin) = same_object(cluster, &live, twins).await? {
        return Ok(Planned::Kept(format!(
            "{object}: kept because it is the same object as {twin}, which the API server also serves under that group"
        )));
    }
    let destructive = super::destructive::assess(cluster, info, &live).await;
    let mut old = normalize(&live, &[], None);
    mask::mask_secret_pair(Some(&mut old), None);
    Ok(Planned::Delete(Box::new(Change {
        adopt: None,
        replace: false,
        action: Action::Delete,
        resource: info.clone(),
        namespace: member.namespace,
        name: member.name,
        desired: None,
        origin: None,
        member: false,
        diff: {
            // The label that made it a member says nothing in a delete.
            let mut shown = old.clone();
            super::compare::drop_own_label(&mut shown);
            unified(Some(&shown), None)
        },
        note: None,
        conflict: None,
        wave: 0,
        rank: crate::kinds::rank(&info.resource.group, &info.resource.kind),
        // Git no longer has it.
        cause: super::Cause::Pending,
        drifted_fields: Vec::new(),
        witness: Default::default(),
        destructive: Some(destructive),
    })))
}

/// The twin that `live` (a stale member) is, read under its own group: same uid.
async fn same_object(
    cluster: &Cluster,
    live: &Value,
    twins: &[&Change],
) -> Result<Option<String>, ClusterError> {
    let uid = |object: &Value| {
        object
            .pointer("/metadata/uid")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    for twin in twins {
        let ns = twin.namespace.as_deref();
        let read = objects::get(cluster, &twin.resource, ns, &twin.name).await?;
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
