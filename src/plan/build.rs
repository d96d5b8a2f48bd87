//! Building a plan: discovery, then for every object its live state and a server-side dry-run
//! apply (field manager `gitops`), compared after normalisation.
//!
//! Requests run concurrently, bounded by the cluster's limit (`Cluster::each`). Nothing is
//! written: dry-runs persist nothing, and objects that cannot be dry-run yet (their namespace or
//! CRD is created by this same plan) are planned from the rendered object and say so. Preparing
//! the render is in `prepare`, the comparison in `compare`, the explainers in `explain`.

use std::collections::{BTreeSet, HashMap, HashSet};

use serde_json::Value;

use super::cause::{judge, Evidence};
use super::compare::compare;
use super::conflict::Conflict;
use super::defaults::keep_allocated;
use super::hooks::{self, HookProblem};
use super::normalize::{matching_rules, respect_ignored};
use super::prepare::{namespace_object, namespace_resource, resolve, Prepared, UnknownKind};
use super::prune::plan_deletes;
use super::shortcut::apply_is_noop;
use super::{explain, immutable, witness};
use super::{Action, Change, Plan};
use crate::cluster::{alternatives, objects, Cluster, ClusterError, Discovery, ResourceInfo};
use crate::config::IgnoreRule;
use crate::identity::ObjectRef;
use crate::inventory::{
    self, Inventory, InventoryError, InventoryRef, Member, SourceRecord, Witness,
};
use crate::log;
use crate::ownership::{
    has_sync_option, ARGO_SYNC_OPTIONS, FIELD_MANAGER, FLUX_SSA_ANNOTATION, PART_OF_LABEL, REPLACE,
    SKIP_DRY_RUN_ON_MISSING,
};
use crate::render::hooks::Hook;
use crate::render::Manifest;

/// Everything a plan needs besides the cluster.
pub struct PlanRequest {
    pub target: String,
    pub revision: String,
    /// Validated manifests in apply order.
    pub manifests: Vec<Manifest>,
    /// The render's hooks (not desired state: run by apply at their phases).
    pub hooks: Vec<Hook>,
    pub default_namespace: String,
    /// A namespace to create when it does not exist (`createNamespace`).
    pub create_namespace: Option<String>,
    pub ignore: Vec<IgnoreRule>,
    /// Skip the dry-run where it provably changes nothing (see `shortcut`); off only to
    /// compare the shortcut with full dry-runs.
    pub shortcut: bool,
    /// The target's inventory: members get its label; members no longer rendered are deleted.
    pub inventory: InventoryRef,
    /// Plan deletes (prune); off leaves stale members alone and lists them as kept.
    pub prune: bool,
    /// For a name worked out from PATH: the source (`path`, `inRepository`) the inventory must
    /// have recorded, so that two directories whose names come out the same never share one.
    pub expected_source: Option<SourceRecord>,
}

/// An existing namespace in which objects of not-yet-created namespaces are validated.
const PROBE_NAMESPACE: &str = "default";

/// From this many objects of one kind in one namespace on, one LIST replaces their GETs.
const LIST_THRESHOLD: usize = 4;

/// Objects of one resource in one namespace.
type GroupKey = (String, String, Option<String>);

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{} object(s) of kinds the cluster does not serve (and no CRD in this render defines):\n{}", .0.len(), crate::log::bullets(.0))]
    UnknownKinds(Vec<String>),
    #[error("{} object(s) in namespaces that do not exist and that this render does not create (add the Namespace, or set createNamespace: true on the target):\n{}", .0.len(), crate::log::bullets(.0))]
    MissingNamespaces(Vec<String>),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error(transparent)]
    Inventory(#[from] InventoryError),
    #[error("{} object(s) could not be planned:\n{}", .0.len(), crate::log::bullets(.0))]
    Objects(Vec<String>),
    #[error("the inventory {inventory} was written for directory {recorded}, not {here}: both names come out as {name:?}, and sharing one inventory would prune each other's objects; give this directory its own name with --name NAME (or a target in gitops.yaml)")]
    InventoryOfAnotherDirectory {
        inventory: String,
        name: String,
        recorded: String,
        here: String,
    },
}

/// Plans one target against the cluster.
pub async fn build(cluster: &Cluster, mut request: PlanRequest) -> Result<Plan, PlanError> {
    let inventory = inventory::read(cluster, &request.inventory).await?;
    let recorded = inventory.as_ref().and_then(|i| i.source.as_ref());
    if let (Some(expected), Some(recorded)) = (&request.expected_source, recorded) {
        check_same_directory(&request, expected, recorded)?;
    }
    let members = inventory
        .as_ref()
        .map(|i| i.members.clone())
        .unwrap_or_default();
    let api_versions: BTreeSet<String> = request
        .manifests
        .iter()
        .filter_map(|m| m.api_version().map(str::to_owned))
        .chain(members.iter().map(Member::api_version))
        .chain(hooks::api_versions(&request.hooks))
        .collect();
    let mut discovery = Discovery::run(cluster, api_versions).await?;
    discovery.add_crds(request.manifests.iter().map(|m| &m.object));

    let mut prepared = match resolve(&discovery, &request.manifests, &request.default_namespace) {
        Ok(prepared) => prepared,
        Err(unknown) => return Err(explain_unknown(cluster, unknown).await),
    };
    let namespaces: BTreeSet<String> = prepared
        .iter()
        .filter_map(|p| p.namespace.clone())
        .chain(
            request
                .hooks
                .iter()
                .filter(|h| !h.phases.is_empty())
                .map(|h| {
                    h.manifest
                        .namespace()
                        .unwrap_or(&request.default_namespace)
                        .to_owned()
                }),
        )
        .collect();
    let missing = missing_namespaces(cluster, namespaces).await?;
    let created: HashSet<String> = prepared
        .iter()
        .filter(|p| p.info.is_namespace())
        .map(|p| p.name.clone())
        .collect();
    if let Some(ns) = &request.create_namespace {
        if missing.contains(ns) && !created.contains(ns) {
            prepared.insert(0, namespace_object(ns));
        }
    }
    for item in prepared.iter_mut().filter(|item| item.member) {
        item.desired["metadata"]["labels"][PART_OF_LABEL] =
            Value::String(request.inventory.id.clone());
    }
    let created: HashSet<String> = created
        .into_iter()
        .chain(request.create_namespace.clone())
        .collect();
    check_namespace_waves(&prepared)?;
    let mut orphans: Vec<String> = prepared
        .iter()
        .filter(|p| {
            p.namespace
                .as_ref()
                .is_some_and(|ns| missing.contains(ns) && !created.contains(ns))
        })
        .map(|p| {
            let object = objects::describe(&p.info, p.namespace.as_deref(), &p.name);
            format!("{}: {object}", p.label())
        })
        .collect();
    let (hooks, hook_problems) = hooks::plan_hooks(
        cluster,
        &discovery,
        std::mem::take(&mut request.hooks),
        &request.default_namespace,
        &missing,
        &created,
        &request.inventory.id,
    )
    .await?;
    let mut invalid_hooks = Vec::new();
    for problem in hook_problems {
        match problem {
            HookProblem::UnknownKind(what) => {
                return Err(PlanError::UnknownKinds(vec![what]));
            }
            HookProblem::MissingNamespace(what) => orphans.push(what),
            HookProblem::Invalid(what) => invalid_hooks.push(what),
        }
    }
    if !orphans.is_empty() {
        return Err(PlanError::MissingNamespaces(orphans));
    }
    if !invalid_hooks.is_empty() {
        return Err(PlanError::Objects(invalid_hooks));
    }

    let recorded = Recorded {
        inventory: inventory.as_ref(),
        members: inventory::identities(&members),
        inventory_id: &request.inventory.id,
    };
    let mut changes = plan_objects(cluster, prepared, &missing, &request, &recorded).await?;
    let rendered: Vec<Member> = changes.iter().map(Change::member).collect();
    let rendered_ids = inventory::identities(&rendered);
    // A member that became a hook is the hook's now: never pruned, dropped from the inventory.
    let hook_ids: HashSet<ObjectRef> = hooks.iter().filter_map(|h| h.identity()).collect();
    let stale: Vec<Member> = members
        .into_iter()
        .filter(|m| !rendered_ids.contains(&m.identity()))
        .filter(|m| {
            let became_hook = hook_ids.contains(&m.identity());
            if became_hook {
                log::verbose(&format!(
                    "{} {} {}: now a hook, no longer a member (not pruned)",
                    m.api_version(),
                    m.kind,
                    m.name
                ));
            }
            !became_hook
        })
        .collect();
    let mut kept = Vec::new();
    if request.prune {
        let (deletes, blocked) =
            plan_deletes(cluster, &discovery, &request.inventory, stale, &changes).await?;
        changes.extend(deletes);
        kept = blocked;
    } else {
        kept.extend(stale.iter().map(|m| {
            format!(
                "{} {} {}: no longer in Git, kept because pruning is off",
                m.api_version(),
                m.kind,
                m.name
            )
        }));
    }
    Ok(Plan {
        target: request.target,
        revision: request.revision,
        changes,
        hooks,
        inventory_ref: request.inventory,
        inventory,
        kept,
        prune: request.prune,
        hidden: None,
    })
}

/// The inventory of a PATH-named target must have been written for the same directory
/// (inventories of older versions, which recorded no source, are taken as they are).
fn check_same_directory(
    request: &PlanRequest,
    expected: &SourceRecord,
    recorded: &SourceRecord,
) -> Result<(), PlanError> {
    // Paths relative to a repository and to a working directory do not compare.
    if expected.path == recorded.path || expected.in_repository != recorded.in_repository {
        return Ok(());
    }
    Err(PlanError::InventoryOfAnotherDirectory {
        inventory: format!(
            "ConfigMap {}/{}",
            request.inventory.namespace, request.inventory.name
        ),
        name: request.target.clone(),
        recorded: recorded.path.clone(),
        here: expected.path.clone(),
    })
}

/// An object cannot be applied before the wave that creates its namespace.
fn check_namespace_waves(prepared: &[Prepared]) -> Result<(), PlanError> {
    let namespace_waves: HashMap<&str, i64> = prepared
        .iter()
        .filter(|p| p.info.is_namespace())
        .map(|p| (p.name.as_str(), p.wave))
        .collect();
    let early: Vec<String> = prepared
        .iter()
        .filter_map(|p| {
            let ns = p.namespace.as_deref()?;
            let ns_wave = *namespace_waves.get(ns)?;
            let wave = p.wave;
            (wave < ns_wave).then(|| {
                format!("{}: {} is in wave {wave}, but its namespace {ns} is created in wave {ns_wave}; give the Namespace a wave of {wave} or less", p.label(), objects::describe(&p.info, Some(ns), &p.name))
            })
        })
        .collect();
    if early.is_empty() {
        Ok(())
    } else {
        Err(PlanError::Objects(early))
    }
}

/// Every unknown kind, with which versions the cluster serves it under instead.
async fn explain_unknown(cluster: &Cluster, unknown: Vec<UnknownKind>) -> PlanError {
    let wanted = unknown
        .iter()
        .map(|u| (u.group.clone(), u.kind.clone()))
        .collect();
    let (served, version) = alternatives::served_elsewhere(cluster, &wanted).await;
    PlanError::UnknownKinds(
        unknown
            .iter()
            .map(|u| {
                format!(
                    "{} ({})",
                    u.label,
                    alternatives::hint(&served, version.as_deref(), &u.group, &u.kind)
                )
            })
            .collect(),
    )
}

/// The namespaces among `names` that do not exist.
async fn missing_namespaces(
    cluster: &Cluster,
    names: BTreeSet<String>,
) -> Result<HashSet<String>, ClusterError> {
    let info = namespace_resource();
    let found = cluster
        .each(names, |name| {
            let info = &info;
            async move {
                let found = objects::get(cluster, info, None, &name).await;
                (name, found)
            }
        })
        .await;
    let mut missing = HashSet::new();
    for (name, found) in found {
        if found?.is_none() {
            missing.insert(name);
        }
    }
    Ok(missing)
}

/// What the inventory says of the objects, for the causes of their changes.
struct Recorded<'a> {
    inventory: Option<&'a Inventory>,
    members: HashSet<ObjectRef>,
    /// The target's ApplySet id: a live object labelled with it is the target's already.
    inventory_id: &'a str,
}

/// Objects from which planning shows a progress bar.
const PROGRESS_FROM: usize = 200;

async fn plan_objects(
    cluster: &Cluster,
    prepared: Vec<Prepared>,
    missing_namespaces: &HashSet<String>,
    request: &PlanRequest,
    recorded: &Recorded<'_>,
) -> Result<Vec<Change>, PlanError> {
    let skip_reasons: Vec<Option<String>> = prepared
        .iter()
        .map(|item| skip_reason(item, missing_namespaces))
        .collect();
    let mut listed = list_crowded_groups(cluster, &prepared, &skip_reasons).await?;
    let proven = std::sync::atomic::AtomicUsize::new(0);
    let shortcut = request.shortcut.then_some(&proven);
    let count = prepared.len();
    let work: Vec<_> = prepared
        .into_iter()
        .zip(skip_reasons)
        .map(|(item, skip)| {
            let known_live = listed
                .get_mut(&group_key(&item))
                .map(|objects| objects.remove(&item.name));
            (item, skip, known_live)
        })
        .collect();
    // A long plan shows its progress on a terminal (a short one would only flicker).
    let bar = (count >= PROGRESS_FROM)
        .then(|| crate::progress::Progress::new(count, &format!("planning {}", request.target)));
    let planned = std::cell::Cell::new(0);
    let (progress, planned) = (&bar, &planned);
    let results = cluster
        .each(work, |(item, skip, known_live)| async move {
            let label = item.label();
            let kind = item.info.resource.kind.clone();
            let result = plan_one(
                cluster,
                item,
                &request.ignore,
                skip,
                known_live,
                shortcut,
                recorded,
            )
            .await;
            if let Some(progress) = progress {
                planned.set(planned.get() + 1);
                progress.set_done(planned.get(), &label);
            }
            (result, label, kind)
        })
        .await;
    // Cleared before any message about the results.
    drop(bar);
    let mut changes = Vec::with_capacity(count);
    let mut failures = Vec::new();
    for (result, label, kind) in results {
        match result {
            Ok(change) => changes.push(change),
            // A server that drops the connection of one request but answers others failed on
            // that object (v1.20 does so on a server-side apply of an APIService).
            Err(ClusterError::Unreachable {
                server,
                operation,
                reason,
            }) if objects::server_answers(cluster).await => failures.push(format!(
                "{label}: no answer to {operation} from the API server at {server} ({reason}), which does answer other requests: the server, or a proxy or load balancer in between, failed on this object (the API server's log says why; v1.20, for one, crashes on a server-side apply of an APIService)"
            )),
            // Without a reachable, authenticated server, per-object lists say nothing more.
            Err(e @ (ClusterError::Unreachable { .. } | ClusterError::Unauthorized { .. })) => {
                return Err(e.into())
            }
            // The server quotes the whole old value of an immutable field; say the field and
            // what to do instead.
            Err(e) => failures.push(match immutable::explain_error(&kind, &e) {
                Some(said) => format!("{label}: {said}"),
                None => format!("{label}: {e}"),
            }),
        }
    }
    if !failures.is_empty() {
        failures.sort();
        explain::duplicate_keys(&mut failures);
        explain::unquoted_strings(&mut failures);
        explain::unknown_fields(cluster, &mut failures).await;
        return Err(PlanError::Objects(failures));
    }
    log::verbose(&format!(
        "target {}: {count} objects planned, {} of them proven unchanged without a dry-run, {} kinds listed instead of fetched one by one",
        request.target,
        proven.load(std::sync::atomic::Ordering::Relaxed),
        listed.len()
    ));
    Ok(changes)
}

/// Why an object cannot be dry-run yet: its namespace or its CRD is created by this plan.
fn skip_reason(item: &Prepared, missing_namespaces: &HashSet<String>) -> Option<String> {
    if item.info.pending_crd && has_sync_option(&item.desired, SKIP_DRY_RUN_ON_MISSING) {
        return Some(format!(
            "{ARGO_SYNC_OPTIONS}: {SKIP_DRY_RUN_ON_MISSING}, and the cluster does not serve its kind yet; it is looked up again when its wave is written"
        ));
    }
    if item.info.pending_crd {
        return Some(format!(
            "its CRD is created by this plan ({})",
            item.info.resource.plural
        ));
    }
    item.namespace
        .as_ref()
        .filter(|ns| missing_namespaces.contains(*ns))
        .map(|ns| format!("its namespace {ns} is created by this plan"))
}

fn group_key(item: &Prepared) -> GroupKey {
    (
        item.info.resource.api_version.clone(),
        item.info.resource.kind.clone(),
        item.namespace.clone(),
    )
}

/// Lists the live objects of every resource/namespace that holds many planned objects.
async fn list_crowded_groups(
    cluster: &Cluster,
    prepared: &[Prepared],
    skip_reasons: &[Option<String>],
) -> Result<HashMap<GroupKey, HashMap<String, Value>>, ClusterError> {
    let mut sizes: HashMap<GroupKey, (usize, &ResourceInfo)> = HashMap::new();
    for (item, skip) in prepared.iter().zip(skip_reasons) {
        if skip.is_none() {
            sizes.entry(group_key(item)).or_insert((0, &item.info)).0 += 1;
        }
    }
    let crowded = sizes
        .into_iter()
        .filter(|(_, (size, _))| *size >= LIST_THRESHOLD);
    let lists = cluster
        .each(crowded, |(key, (_, info))| async move {
            let objects = objects::list(cluster, info, key.2.as_deref()).await;
            (key, objects)
        })
        .await;
    let mut listed = HashMap::new();
    for (key, objects) in lists {
        let by_name = objects?
            .into_iter()
            .filter_map(|o| Some((o.pointer("/metadata/name")?.as_str()?.to_owned(), o)))
            .collect();
        listed.insert(key, by_name);
    }
    Ok(listed)
}

/// `known_live`: the live object from a LIST (Some(None) when the list did not have it).
/// Whether Flux's ssa policy `Ignore` keeps gitops's hands off the object (no write, no wait,
/// not a member).
pub fn ignored_by_flux(desired: &Value) -> bool {
    hands_off(desired, true) == Some("Ignore")
}

/// Flux's ssa policy, when it keeps gitops from writing the object: `Ignore` always,
/// `IfNotPresent` once the object exists (it stays a member).
fn hands_off(desired: &Value, exists: bool) -> Option<&'static str> {
    let key = FLUX_SSA_ANNOTATION.replace('/', "~1");
    match desired
        .pointer(&format!("/metadata/annotations/{key}"))
        .and_then(Value::as_str)
    {
        Some("Ignore") => Some("Ignore"),
        Some("IfNotPresent") if exists => Some("IfNotPresent"),
        _ => None,
    }
}

async fn plan_one(
    cluster: &Cluster,
    mut item: Prepared,
    ignore: &[IgnoreRule],
    skip_reason: Option<String>,
    known_live: Option<Option<Value>>,
    shortcut: Option<&std::sync::atomic::AtomicUsize>,
    recorded: &Recorded<'_>,
) -> Result<Change, ClusterError> {
    let ns = item.namespace.as_deref();
    let live = match (&skip_reason, known_live) {
        (Some(_), _) => None,
        (None, Some(known)) => known,
        (None, None) => objects::get(cluster, &item.info, ns, &item.name).await?,
    };
    let rules = matching_rules(ignore, &item.desired);
    let sent = witness::sent(&item.desired, &rules);
    if let Some(policy) = hands_off(&item.desired, live.is_some()) {
        log::verbose(&format!(
            "{}: not applied ({FLUX_SSA_ANNOTATION}: {policy})",
            item.label()
        ));
        let left = live.as_ref().and_then(|l| witness::left(l, &rules));
        let rank = crate::kinds::rank(&item.info.resource.group, &item.info.resource.kind);
        return Ok(Change {
            action: Action::Unchanged,
            resource: item.info,
            namespace: item.namespace,
            name: item.name,
            desired: Some(item.desired),
            origin: item.origin,
            // Ignore: not gitops's at all (not listed, so never pruned for it either).
            member: item.member && policy != "Ignore",
            diff: String::new(),
            note: Some(format!("not applied: {FLUX_SSA_ANNOTATION}: {policy}")),
            conflict: None,
            wave: item.wave,
            rank,
            cause: super::cause::Cause::Pending,
            drifted_fields: Vec::new(),
            witness: Witness {
                sent,
                left: left.unwrap_or_default(),
            },
            destructive: None,
            adopt: None,
            replace: false,
        });
    }
    if let Some(live) = &live {
        let resource = &item.info.resource;
        keep_allocated(&resource.group, &resource.kind, &mut item.desired, live);
        if !rules.is_empty() {
            respect_ignored(&mut item.desired, live, &rules);
        }
    }
    let noop = shortcut.is_some()
        && live
            .as_ref()
            .is_some_and(|l| apply_is_noop(&item.desired, l, FIELD_MANAGER));
    if let (true, Some(proven)) = (noop, shortcut) {
        proven.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    }
    // An object whose namespace this plan creates is validated by the server as a create in
    // the `default` namespace (SPEC.md, Safety: nothing is written before a dry-run).
    let mut note = skip_reason
        .as_ref()
        .map(|why| format!("not dry-run on the server: {why}"));
    if let (Some(_), false) = (&skip_reason, item.info.pending_crd) {
        match objects::dry_run_create_in(cluster, &item.info, PROBE_NAMESPACE, &item.desired).await {
            Ok(()) => {
                note = Some(format!(
                    "validated by a server dry-run in namespace {PROBE_NAMESPACE}: its own namespace is created by this plan"
                ))
            }
            Err(e @ ClusterError::Api { code: 400 | 422, .. }) => return Err(e),
            Err(e) => log::verbose(&format!("{}: could not be validated in {PROBE_NAMESPACE}: {e}", item.label())),
        }
    }
    let mut conflict = None;
    let mut replace = false;
    let predicted = if noop {
        None
    } else if skip_reason.is_some() {
        Some(item.desired.clone())
    } else {
        // Without force, as the write goes: a conflict is found here, before any write. The
        // plan then shows what forcing would store, and says who owned the fields.
        let dry_run = |force| {
            objects::apply(
                cluster,
                &item.info,
                ns,
                &item.name,
                &item.desired,
                true,
                force,
            )
        };
        match dry_run(false).await {
            Ok(predicted) => predicted,
            Err(e) => match e.field_conflict() {
                Some(message) => {
                    let found = Conflict::from_message(message, live.as_ref());
                    note = Some(found.note());
                    conflict = Some(found);
                    dry_run(true).await?
                }
                None if has_sync_option(&item.desired, REPLACE) => {
                    let whole = whole_object(&item.desired, live.as_ref());
                    let predicted = objects::write_whole(
                        cluster,
                        &item.info,
                        ns,
                        &item.name,
                        &whole,
                        live.is_some(),
                        true,
                    )
                    .await?;
                    note = Some(format!(
                        "written with a {} ({ARGO_SYNC_OPTIONS}: {REPLACE}): the server refused server-side apply: {e}",
                        if live.is_some() { "replace" } else { "create" }
                    ));
                    replace = true;
                    Some(predicted)
                }
                None => return Err(e),
            },
        }
    };
    let comparison = compare(live.as_ref(), predicted.as_ref(), &item.desired, &rules);
    let action = comparison.action;
    let rank = crate::kinds::rank(&item.info.resource.group, &item.info.resource.kind);
    let identity = ObjectRef {
        group: item.info.resource.group.clone(),
        kind: item.info.resource.kind.clone(),
        namespace: item.namespace.clone(),
        name: item.name.clone(),
    };
    let left_now = match action {
        Action::Unchanged => None,
        _ => live.as_ref().and_then(|l| witness::left(l, &rules)),
    };
    let (cause, drifted_fields) = judge(&Evidence {
        action,
        applied_before: recorded.inventory.is_some(),
        member: recorded.members.contains(&identity),
        recorded: recorded.inventory.and_then(|i| i.witnesses.get(&identity)),
        sent_now: &sent,
        left_now: left_now.as_deref(),
        live: live.as_ref(),
        paths: &comparison.paths,
        last_apply: recorded.inventory.and_then(Inventory::last_success),
        secret: item.info.resource.group.is_empty() && item.info.resource.kind == "Secret",
    });
    // An object that exists but is not the target's yet is adopted by this apply.
    let adopt = live
        .as_ref()
        .filter(|_| item.member && !recorded.members.contains(&identity))
        .and_then(|l| super::adopt::previous_owner(l, recorded.inventory_id));
    // What the apply leaves: the dry-run's prediction, or the live object it leaves alone.
    let left = match (action, &predicted) {
        (Action::Unchanged, _) | (_, None) => live.as_ref().and_then(|l| witness::left(l, &rules)),
        (_, Some(predicted)) => witness::left(predicted, &rules),
    };
    Ok(Change {
        action,
        resource: item.info,
        namespace: item.namespace,
        name: item.name,
        desired: Some(item.desired),
        origin: item.origin,
        member: item.member,
        diff: comparison.diff,
        note,
        conflict,
        wave: item.wave,
        rank,
        cause,
        drifted_fields,
        witness: Witness {
            sent,
            left: left.unwrap_or_default(),
        },
        destructive: None,
        adopt,
        replace,
    })
}

/// The object as a create or replace sends it: whole, with the live resourceVersion (a
/// replace of another version is refused, as it should be).
pub fn whole_object(desired: &Value, live: Option<&Value>) -> Value {
    let mut whole = desired.clone();
    let Some(live) = live else { return whole };
    if let Some(version) = live.pointer("/metadata/resourceVersion") {
        whole["metadata"]["resourceVersion"] = version.clone();
    }
    // Labels and annotations that controllers added (a Deployment's revision, say) are kept:
    // dropping them would make every replace a change, and the controller writes them back.
    for map in ["labels", "annotations"] {
        let Some(Value::Object(kept)) = live.pointer(&format!("/metadata/{map}")) else {
            continue;
        };
        let entry = &mut whole["metadata"][map];
        if !entry.is_object() {
            *entry = Value::Object(Default::default());
        }
        if let Value::Object(target) = entry {
            for (key, value) in kept {
                target.entry(key.clone()).or_insert_with(|| value.clone());
            }
        }
    }
    whole
}
