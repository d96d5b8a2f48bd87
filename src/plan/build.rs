//! Building a plan: discovery, then for every object its live state and a server-side dry-run
//! apply (field manager `gitops`), compared after normalisation.
//!
//! Requests run concurrently, bounded by a semaphore. Nothing is written: dry-runs persist
//! nothing, and objects that cannot be dry-run yet (their namespace or CRD is created by this
//! same plan) are planned from the rendered object and say so.

use std::collections::{BTreeSet, HashSet};
use std::sync::Arc;

use k8s_openapi::api::core::v1::Namespace;
use kube::core::ApiResource;
use serde_json::{json, Value};
use tokio::sync::Semaphore;
use tokio::task::JoinSet;

use super::defaults::fill_native_defaults;
use super::normalize::{matching_rules, normalize};
use super::textdiff::unified;
use super::{Action, Change, Plan};
use crate::cluster::{objects, Cluster, ClusterError, Discovery, ResourceInfo};
use crate::config::IgnoreRule;
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
    /// Most requests in flight at once.
    pub concurrency: usize,
}

#[derive(Debug, thiserror::Error)]
pub enum PlanError {
    #[error("{} object(s) of kinds the cluster does not serve (and no CRD in this render defines):\n{}", .0.len(), bullets(.0))]
    UnknownKinds(Vec<String>),
    #[error("{} object(s) in namespaces that do not exist and that this render does not create (add the Namespace, or set createNamespace: true on the target):\n{}", .0.len(), bullets(.0))]
    MissingNamespaces(Vec<String>),
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("{} object(s) could not be planned:\n{}", .0.len(), bullets(.0))]
    Objects(Vec<String>),
}

fn bullets(lines: &[String]) -> String {
    lines
        .iter()
        .map(|l| format!("  - {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// One object resolved against discovery, ready to plan.
struct Prepared {
    info: ResourceInfo,
    namespace: Option<String>,
    name: String,
    desired: Value,
    origin: Option<Origin>,
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
    let api_versions: BTreeSet<String> = request
        .manifests
        .iter()
        .filter_map(|m| m.api_version().map(str::to_owned))
        .collect();
    let mut discovery = Discovery::run(cluster, api_versions).await?;
    discovery.add_render_crds(&request.manifests);

    let mut prepared = resolve(&discovery, &request)?;
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
    let created: HashSet<String> = created
        .into_iter()
        .chain(request.create_namespace.clone())
        .collect();
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

    let changes = plan_objects(cluster, prepared, &missing, &request).await?;
    Ok(Plan {
        target: request.target,
        revision: request.revision,
        changes,
    })
}

/// Maps every manifest to its resource; unknown kinds are all reported before any request.
fn resolve(discovery: &Discovery, request: &PlanRequest) -> Result<Vec<Prepared>, PlanError> {
    let mut prepared = Vec::with_capacity(request.manifests.len());
    let mut unknown = Vec::new();
    for manifest in &request.manifests {
        let (api_version, kind) = (
            manifest.api_version().unwrap_or_default(),
            manifest.kind().unwrap_or_default(),
        );
        let Some(info) = discovery.resolve(api_version, kind) else {
            unknown.push(format!(
                "{}: {}: kind {kind} of {api_version}",
                manifest.origin,
                manifest.describe()
            ));
            continue;
        };
        prepared.push(prepare(manifest, info.clone(), &request.default_namespace));
    }
    if unknown.is_empty() {
        Ok(prepared)
    } else {
        Err(PlanError::UnknownKinds(unknown))
    }
}

/// The object to send: namespace decided by scope, native defaults filled in.
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
    Prepared {
        name: manifest.name().unwrap_or_default().to_owned(),
        info,
        namespace,
        desired,
        origin: Some(manifest.origin.clone()),
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
    }
}

/// The namespaces among `names` that do not exist.
async fn missing_namespaces(
    cluster: &Cluster,
    names: BTreeSet<String>,
) -> Result<HashSet<String>, ClusterError> {
    let info = namespace_resource();
    let mut tasks = JoinSet::new();
    for name in names {
        let (cluster, info) = (cluster.clone(), info.clone());
        tasks.spawn(async move {
            let found = objects::get(&cluster, &info, None, &name).await;
            (name, found)
        });
    }
    let mut missing = HashSet::new();
    while let Some(joined) = tasks.join_next().await {
        let (name, found) =
            joined.map_err(|e| ClusterError::Config(format!("planning stopped: {e}")))?;
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
    let permits = Arc::new(Semaphore::new(request.concurrency.max(1)));
    let ignore: Arc<[IgnoreRule]> = request.ignore.clone().into();
    let mut tasks = JoinSet::new();
    let count = prepared.len();
    for (index, item) in prepared.into_iter().enumerate() {
        let skip_reason = if item.info.pending_crd {
            Some(format!(
                "its CRD is created by this plan ({})",
                item.info.resource.plural
            ))
        } else {
            item.namespace
                .as_ref()
                .filter(|ns| missing_namespaces.contains(*ns))
                .map(|ns| format!("its namespace {ns} is created by this plan"))
        };
        let (cluster, permits, ignore) = (cluster.clone(), permits.clone(), ignore.clone());
        tasks.spawn(async move {
            let _permit = permits.acquire_owned().await;
            let label = item.label();
            (
                index,
                plan_one(&cluster, item, &ignore, skip_reason).await,
                label,
            )
        });
    }
    let mut changes: Vec<Option<Change>> = vec![None; count];
    let mut failures = Vec::new();
    while let Some(joined) = tasks.join_next().await {
        let (index, result, label) =
            joined.map_err(|e| ClusterError::Config(format!("planning stopped: {e}")))?;
        match result {
            Ok(change) => changes[index] = Some(change),
            // Without a reachable, authenticated server, per-object lists say nothing more.
            Err(e @ (ClusterError::Unreachable { .. } | ClusterError::Unauthorized { .. })) => {
                return Err(e.into())
            }
            Err(e) => failures.push(format!("{label}: {e}")),
        }
    }
    if !failures.is_empty() {
        failures.sort();
        return Err(PlanError::Objects(failures));
    }
    Ok(changes.into_iter().flatten().collect())
}

async fn plan_one(
    cluster: &Cluster,
    item: Prepared,
    ignore: &[IgnoreRule],
    skip_reason: Option<String>,
) -> Result<Change, ClusterError> {
    let ns = item.namespace.as_deref();
    let (live, predicted) = match &skip_reason {
        Some(_) => (None, item.desired.clone()),
        None => {
            let live = objects::get(cluster, &item.info, ns, &item.name).await?;
            let predicted = objects::apply(
                cluster,
                &item.info,
                ns,
                &item.name,
                &item.desired,
                true,
                true,
            )
            .await?;
            (live, predicted)
        }
    };
    let rules = matching_rules(ignore, &item.desired);
    let owners = live
        .as_ref()
        .and_then(|l| l.pointer("/metadata/managedFields"));
    let (action, mut old, mut new) = match &live {
        None => (Action::Create, None, normalize(&item.desired, &rules, None)),
        Some(live) => {
            let old = normalize(live, &rules, owners);
            let new = normalize(&predicted, &rules, owners);
            let action = if old == new {
                Action::Unchanged
            } else {
                Action::Update
            };
            (action, Some(old), new)
        }
    };
    mask::mask_secret_pair(old.as_mut(), Some(&mut new));
    let diff = match action {
        Action::Unchanged => String::new(),
        _ => unified(old.as_ref(), Some(&new)),
    };
    Ok(Change {
        action,
        resource: item.info,
        namespace: item.namespace,
        name: item.name,
        desired: Some(item.desired),
        origin: item.origin,
        diff,
        note: skip_reason.map(|why| format!("not dry-run on the server: {why}")),
    })
}
