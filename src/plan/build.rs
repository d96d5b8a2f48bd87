//! Building a plan: discovery, then for every object its live state and a server-side dry-run
//! apply (field manager `gitops`), compared after normalisation.
//!
//! Requests run concurrently, bounded by the cluster's limit (`Cluster::each`). Nothing is written: dry-runs persist
//! nothing, and objects that cannot be dry-run yet (their namespace or CRD is created by this
//! same plan) are planned from the rendered object and say so.

use std::collections::{BTreeSet, HashMap, HashSet};

use k8s_openapi::api::core::v1::Namespace;
use kube::core::ApiResource;
use serde_json::{json, Value};

use super::conflict::Conflict;
use super::defaults::{fill_native_defaults, keep_allocated};
use super::immutable;
use super::normalize::{matching_rules, normalize, respect_ignored, strip_server_metadata};
use super::prune::plan_deletes;
use super::shortcut::apply_is_noop;
use super::textdiff::unified;
use super::{Action, Change, Plan};
use crate::cluster::{alternatives, objects, Cluster, ClusterError, Discovery, ResourceInfo};
use crate::config::IgnoreRule;
use crate::inventory::{self, InventoryError, InventoryRef, Member, SourceRecord};
use crate::ownership::{FIELD_MANAGER, PART_OF_LABEL};
use crate::render::order;
use crate::render::{Manifest, Origin};
use crate::{log, mask};

/// Everything a plan needs besides the cluster.
pub struct PlanRequest {
    pub target: String,
    pub revision: String,
    /// Validated manifests in apply order.
    pub manifests: Vec<Manifest>,
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

/// One object resolved against discovery, ready to plan.
struct Prepared {
    info: ResourceInfo,
    namespace: Option<String>,
    name: String,
    desired: Value,
    origin: Option<Origin>,
    /// Rendered (a member of the inventory), or made by gitops (`createNamespace`).
    member: bool,
    /// The manifest's wave (validated before planning; 0 for a made namespace).
    wave: i64,
}

impl Prepared {
    /// Where the object was written, or what it is when gitops made it (errors name the object).
    fn label(&self) -> String {
        match &self.origin {
            Some(origin) => origin.to_string(),
            None => objects::describe(&self.info, self.namespace.as_deref(), &self.name),
        }
    }
}

/// Plans one target against the cluster.
pub async fn build(cluster: &Cluster, request: PlanRequest) -> Result<Plan, PlanError> {
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
        .collect();
    let mut discovery = Discovery::run(cluster, api_versions).await?;
    discovery.add_crds(request.manifests.iter().map(|m| &m.object));

    let mut prepared = match resolve(&discovery, &request) {
        Ok(prepared) => prepared,
        Err(unknown) => return Err(explain_unknown(cluster, unknown).await),
    };
    let namespaces: BTreeSet<String> = prepared
        .iter()
        .filter_map(|p| p.namespace.clone())
        .collect();
    let missing = missing_namespaces(cluster, namespaces).await?;
    let created: HashSet<String> = prepared
        .iter()
        .filter(|p| p.info.resource.kind == "Namespace" && p.info.resource.group.is_empty())
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
    let orphans: Vec<String> = prepared
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
    if !orphans.is_empty() {
        return Err(PlanError::MissingNamespaces(orphans));
    }

    let mut changes = plan_objects(cluster, prepared, &missing, &request).await?;
    let rendered: Vec<Member> = changes.iter().map(Change::member).collect();
    let rendered_ids = inventory::identities(&rendered);
    let stale: Vec<Member> = members
        .into_iter()
        .filter(|m| !rendered_ids.contains(&m.identity()))
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
        inventory_ref: request.inventory,
        inventory,
        kept,
        prune: request.prune,
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
        .filter(|p| p.info.resource.kind == "Namespace" && p.info.resource.group.is_empty())
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

/// An object whose apiVersion/kind the cluster does not serve.
struct UnknownKind {
    group: String,
    kind: String,
    label: String,
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

/// Maps every manifest to its resource; unknown kinds are all reported before any request.
fn resolve(
    discovery: &Discovery,
    request: &PlanRequest,
) -> Result<Vec<Prepared>, Vec<UnknownKind>> {
    let mut prepared = Vec::with_capacity(request.manifests.len());
    let mut unknown = Vec::new();
    for manifest in &request.manifests {
        let (api_version, kind) = (
            manifest.api_version().unwrap_or_default(),
            manifest.kind().unwrap_or_default(),
        );
        let Some(info) = discovery.resolve(api_version, kind) else {
            unknown.push(UnknownKind {
                group: manifest.group().to_owned(),
                kind: kind.to_owned(),
                label: format!(
                    "{}: {}: kind {kind} of {api_version}",
                    manifest.origin,
                    manifest.describe()
                ),
            });
            continue;
        };
        prepared.push(prepare(manifest, info.clone(), &request.default_namespace));
    }
    warn_about_pinned_incarnations(request.manifests.iter().filter(|m| {
        ["resourceVersion", "uid"]
            .iter()
            .any(|key| m.object["metadata"].get(*key).is_some())
    }));
    if unknown.is_empty() {
        Ok(prepared)
    } else {
        Err(unknown)
    }
}

/// One warning for all manifests that pin a resourceVersion or uid (creationTimestamp: null,
/// which `kubectl create --dry-run -o yaml` writes, is common and not worth one).
fn warn_about_pinned_incarnations<'a>(pinned: impl Iterator<Item = &'a Manifest>) {
    let labels: Vec<String> = pinned.map(|m| m.origin.to_string()).collect();
    if let Some(first) = labels.first() {
        log::warn(&format!(
            "{} object(s) carry metadata.resourceVersion or uid, e.g. {first}: exported from a cluster (kubectl get -o yaml)? They are not sent; remove them from Git",
            labels.len()
        ));
    }
}

/// The object to send: namespace decided by scope, native defaults filled in, the server's
/// own metadata left out (manifests exported with `kubectl get -o yaml` carry it; a stale
/// resourceVersion sent back fails every apply after the first).
fn prepare(manifest: &Manifest, info: ResourceInfo, default_namespace: &str) -> Prepared {
    let mut desired = manifest.object.clone();
    let namespace = if info.namespaced {
        let ns = manifest.namespace().unwrap_or(default_namespace).to_owned();
        desired["metadata"]["namespace"] = Value::String(ns.clone());
        Some(ns)
    } else {
        if let Some(Value::Object(metadata)) = desired.get_mut("metadata") {
            if metadata.remove("namespace").is_some() {
                log::verbose(&format!(
                    "{}: cluster-scoped, its metadata.namespace is ignored",
                    manifest.describe()
                ));
            }
        }
        None
    };
    fill_native_defaults(&info.resource.group, &info.resource.kind, &mut desired);
    strip_server_metadata(&mut desired);
    Prepared {
        name: manifest.name().unwrap_or_default().to_owned(),
        info,
        namespace,
        desired,
        origin: Some(manifest.origin.clone()),
        member: true,
        wave: order::wave(manifest).unwrap_or(0),
    }
}

fn namespace_resource() -> ResourceInfo {
    ResourceInfo {
        resource: ApiResource::erase::<Namespace>(&()),
        namespaced: false,
        pending_crd: false,
    }
}

fn namespace_object(name: &str) -> Prepared {
    Prepared {
        info: namespace_resource(),
        namespace: None,
        name: name.to_owned(),
        desired: json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}),
        origin: None,
        // Like Argo CD's CreateNamespace: created when missing, never owned, so never pruned.
        member: false,
        wave: 0,
    }
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

async fn plan_objects(
    cluster: &Cluster,
    prepared: Vec<Prepared>,
    missing_namespaces: &HashSet<String>,
    request: &PlanRequest,
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
    let results = cluster
        .each(work, |(item, skip, known_live)| async move {
            let label = item.label();
            let kind = item.info.resource.kind.clone();
            let result = plan_one(cluster, item, &request.ignore, skip, known_live, shortcut).await;
            (result, label, kind)
        })
        .await;
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
        explain_duplicate_keys(&mut failures);
        explain_unquoted_strings(&mut failures);
        explain_unknown_fields(cluster, &mut failures).await;
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

/// The server names fields its schema lacks ("field not declared in schema"); say what
/// that usually means, with the server's version, so that a field newer than the cluster is not
/// hunted for as a typo.
async fn explain_unknown_fields(cluster: &Cluster, failures: &mut [String]) {
    // v1.20's server-side apply, and newer servers' strict field validation.
    let unknown = |f: &String| {
        f.contains("field not declared in schema")
            || f.contains("strict decoding error: unknown field")
    };
    if !failures.iter().any(unknown) {
        return;
    }
    let version = objects::server_version(cluster)
        .await
        .map(|v| format!("this cluster's Kubernetes {v}"))
        .unwrap_or_else(|| "this cluster's Kubernetes version".to_owned());
    for failure in failures.iter_mut().filter(|f| unknown(f)) {
        failure.push_str(&format!(
            "\n    (these fields are not in the schema of {version}: a misspelt field, or one added in a later Kubernetes version or a newer CRD)"
        ));
    }
}

/// Lists with the same key twice (two `env` entries named A) are common in manifests written for
/// client-side `kubectl apply`, which kept the last one; server-side apply refuses them.
fn explain_duplicate_keys(failures: &mut [String]) {
    for failure in failures
        .iter_mut()
        .filter(|f| f.contains("duplicate entries for key"))
    {
        failure.push_str(
            "\n    (server-side apply needs every item of such a list to have its own key: remove or rename the duplicate (client-side kubectl apply accepted it))",
        );
    }
}

/// `port: 8080` or `enabled: yes` under a ConfigMap's `data` (or an annotation, a label, an env
/// value) is a number or a boolean in YAML; server-side apply says so in Go's words
/// (`got &value.valueUnstructured{Value:8080}`). Say it plainly, and what to do.
fn explain_unquoted_strings(failures: &mut [String]) {
    const GO_VALUE: &str = "&value.valueUnstructured{Value:";
    for failure in failures
        .iter_mut()
        .filter(|f| f.contains("expected string, got"))
    {
        let mut plain = String::with_capacity(failure.len());
        let mut rest = failure.as_str();
        let mut scalars = 0;
        while let Some(at) = rest.find(GO_VALUE) {
            plain.push_str(&rest[..at]);
            let value = &rest[at + GO_VALUE.len()..];
            let end = value.find('}').unwrap_or(value.len());
            // A map or a list (`map[string]interface {}{…}`) is left in the server's words.
            if value[..end].contains('{') {
                plain.push_str(GO_VALUE);
                rest = value;
                continue;
            }
            plain.push_str(&value[..end]);
            scalars += 1;
            rest = value.get(end + 1..).unwrap_or("");
        }
        plain.push_str(rest);
        if scalars > 0 {
            plain.push_str(
                "\n    (YAML reads unquoted 8080, 1.0, true, yes and on as numbers and booleans: quote the value, e.g. \"8080\")",
            );
        }
        *failure = plain;
    }
}

/// Why an object cannot be dry-run yet: its namespace or its CRD is created by this plan.
fn skip_reason(item: &Prepared, missing_namespaces: &HashSet<String>) -> Option<String> {
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
async fn plan_one(
    cluster: &Cluster,
    mut item: Prepared,
    ignore: &[IgnoreRule],
    skip_reason: Option<String>,
    known_live: Option<Option<Value>>,
    shortcut: Option<&std::sync::atomic::AtomicUsize>,
) -> Result<Change, ClusterError> {
    let ns = item.namespace.as_deref();
    let live = match (&skip_reason, known_live) {
        (Some(_), _) => None,
        (None, Some(known)) => known,
        (None, None) => objects::get(cluster, &item.info, ns, &item.name).await?,
    };
    let rules = matching_rules(ignore, &item.desired);
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
            Err(e) => {
                let Some(message) = e.field_conflict() else {
                    return Err(e);
                };
                let found = Conflict::from_message(message, live.as_ref());
                note = Some(found.note());
                conflict = Some(found);
                dry_run(true).await?
            }
        }
    };
    let owners = live
        .as_ref()
        .and_then(|l| l.pointer("/metadata/managedFields"));
    let (action, mut old, mut new) = match (&live, &predicted) {
        (Some(_), None) => (Action::Unchanged, None, Value::Null),
        (None, _) => (Action::Create, None, normalize(&item.desired, &rules, None)),
        (Some(live), Some(predicted)) => {
            let old = normalize(live, &rules, owners);
            let new = normalize(predicted, &rules, owners);
            let action = if old == new {
                Action::Unchanged
            } else {
                Action::Update
            };
            (action, Some(old), new)
        }
    };
    let diff = match action {
        Action::Unchanged => String::new(),
        _ => {
            mask::mask_secret_pair(old.as_mut(), Some(&mut new));
            unified(old.as_ref(), Some(&new))
        }
    };
    let rank = crate::kinds::rank(&item.info.resource.group, &item.info.resource.kind);
    Ok(Change {
        action,
        resource: item.info,
        namespace: item.namespace,
        name: item.name,
        desired: Some(item.desired),
        origin: item.origin,
        member: item.member,
        diff,
        note,
        conflict,
        wave: item.wave,
        rank,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_values_become_plain_and_maps_stay_as_the_server_said() {
        let mut failures = vec![
            "x: errors:\n  .data.port: expected string, got &value.valueUnstructured{Value:8080}".to_owned(),
            "y: .data.nested: expected string, got &value.valueUnstructured{Value:map[string]interface {}{\"a\":\"b\"}}".to_owned(),
        ];
        explain_unquoted_strings(&mut failures);
        assert!(failures[0].contains(".data.port: expected string, got 8080\n"));
        assert!(failures[0].contains("quote the value"));
        assert!(failures[1].contains("valueUnstructured{Value:map[string]"));
        assert!(!failures[1].contains("quote the value"));
    }
}
