//! Planning hooks: each hook resolved against discovery, its namespace decided, validated by a
//! server dry-run create (nothing is written before the whole target passed the server), and
//! listed once per phase it runs in. Hooks are never changes: they do not count in the summary,
//! are not members and are never pruned.

use std::collections::HashSet;

use serde_json::Value;

use super::prepare::prepare;
use crate::cluster::{objects, Cluster, ClusterError, Discovery, ResourceInfo};
use crate::identity::ObjectRef;
use crate::kinds::KindRank;
use crate::ownership::{HOOK_LABEL, PART_OF_LABEL};
use crate::render::hooks::{DeletePolicy, Hook, HookName, Phase};
use crate::render::Origin;

/// A hook as the plan shows it and apply runs it: one per phase it runs in.
#[derive(Debug, Clone)]
pub struct PlannedHook {
    /// None: apply does not run it (`not_run` says why).
    pub phase: Option<Phase>,
    pub not_run: Option<String>,
    pub api_version: String,
    pub kind: String,
    /// Resolved against discovery (None for a hook apply does not run).
    pub resource: Option<ResourceInfo>,
    pub namespace: Option<String>,
    pub name: HookName,
    pub delete_policies: Vec<DeletePolicy>,
    pub wave: i64,
    pub rank: KindRank,
    /// What is created: as rendered, namespace filled in, labelled as a hook of the target.
    pub desired: Value,
    pub origin: Origin,
    /// The annotation that made it a hook, for messages.
    pub annotation: String,
}

impl PlannedHook {
    /// `batch/v1 Job shop/db-migrate` (`db-migrate-*` for a generated name).
    pub fn describe(&self) -> String {
        crate::identity::describe(
            &self.api_version,
            &self.kind,
            self.namespace.as_deref(),
            &self.name.label(),
        )
    }

    pub fn delete_policy_label(&self) -> String {
        let names: Vec<&str> = self.delete_policies.iter().map(|p| p.as_str()).collect();
        names.join(",")
    }

    pub fn deletes_on(&self, policy: DeletePolicy) -> bool {
        self.delete_policies.contains(&policy)
    }

    /// `("name", "db-migrate")` or `("generateName", "db-migrate-")`.
    pub fn name_field(&self) -> (&'static str, &str) {
        match &self.name {
            HookName::Named(name) => ("name", name),
            HookName::Generated(prefix) => ("generateName", prefix),
        }
    }

    /// The identity of a named hook (None for a generated name).
    pub fn identity(&self) -> Option<ObjectRef> {
        let HookName::Named(name) = &self.name else {
            return None;
        };
        Some(ObjectRef {
            group: crate::kinds::group_of(&self.api_version).to_owned(),
            kind: self.kind.clone(),
            namespace: self.namespace.clone(),
            name: name.clone(),
        })
    }
}

/// The API versions hooks that run need discovered.
pub(super) fn api_versions(hooks: &[Hook]) -> impl Iterator<Item = String> + '_ {
    hooks
        .iter()
        .filter(|h| !h.phases.is_empty())
        .filter_map(|h| h.manifest.api_version().map(str::to_owned))
}

/// What goes wrong planning hooks: each entry names the hook.
pub(super) enum HookProblem {
    UnknownKind(String),
    MissingNamespace(String),
    Invalid(String),
}

/// Plans every hook; problems are collected, not stopped at.
pub(super) async fn plan_hooks(
    cluster: &Cluster,
    discovery: &Discovery,
    hooks: Vec<Hook>,
    default_namespace: &str,
    missing_namespaces: &HashSet<String>,
    created_namespaces: &HashSet<String>,
    inventory_id: &str,
) -> Result<(Vec<PlannedHook>, Vec<HookProblem>), ClusterError> {
    let mut planned = Vec::new();
    let mut problems = Vec::new();
    for hook in hooks {
        let api_version = hook.manifest.api_version().unwrap_or_default().to_owned();
        let kind = hook.manifest.kind().unwrap_or_default().to_owned();
        let label = format!("{}: {}", hook.manifest.origin, describe_hook(&hook));
        let base = |phase, resource: Option<ResourceInfo>, namespace, desired| PlannedHook {
            phase,
            not_run: hook.not_run.clone(),
            api_version: api_version.clone(),
            kind: kind.clone(),
            resource,
            namespace,
            name: hook.name.clone(),
            delete_policies: hook.delete_policies.clone(),
            wave: hook.wave,
            rank: crate::kinds::rank(hook.manifest.group(), &kind),
            desired,
            origin: hook.manifest.origin.clone(),
            annotation: hook.annotation.clone(),
        };
        if hook.phases.is_empty() {
            let namespace = hook.manifest.namespace().map(str::to_owned);
            planned.push(base(None, None, namespace, hook.manifest.object.clone()));
            continue;
        }
        let Some(info) = discovery.resolve(&api_version, &kind) else {
            problems.push(HookProblem::UnknownKind(format!(
                "{label}: kind {kind} of {api_version}"
            )));
            continue;
        };
        let mut desired = prepare(&hook.manifest, info.clone(), default_namespace).desired;
        desired["metadata"]["labels"][HOOK_LABEL] = Value::String(inventory_id.to_owned());
        let namespace = desired["metadata"]["namespace"].as_str().map(str::to_owned);
        let missing = namespace
            .as_ref()
            .is_some_and(|ns| missing_namespaces.contains(ns));
        if missing
            && !namespace
                .as_ref()
                .is_some_and(|ns| created_namespaces.contains(ns))
        {
            problems.push(HookProblem::MissingNamespace(label));
            continue;
        }
        if let Some(problem) = check(cluster, info, &hook, &desired, missing, inventory_id).await? {
            problems.push(HookProblem::Invalid(format!("{label}: {problem}")));
            continue;
        }
        for phase in &hook.phases {
            planned.push(base(
                Some(*phase),
                Some(info.clone()),
                namespace.clone(),
                desired.clone(),
            ));
        }
    }
    // Phases in order, then waves and kinds, as apply runs them; hooks not run last.
    planned.sort_by_key(|h| (h.phase.is_none(), h.phase, h.wave, h.rank));
    Ok((planned, problems))
}

/// A server dry-run create of the hook, and for a named hook, that no other target owns an
/// object of its name. Some(why) when the hook cannot run.
async fn check(
    cluster: &Cluster,
    info: &ResourceInfo,
    hook: &Hook,
    desired: &Value,
    namespace_missing: bool,
    inventory_id: &str,
) -> Result<Option<String>, ClusterError> {
    if info.pending_crd || !info.namespaced {
        return Ok(None);
    }
    let namespace = if namespace_missing {
        "default"
    } else {
        desired["metadata"]["namespace"]
            .as_str()
            .unwrap_or("default")
    };
    if let HookName::Named(name) = &hook.name {
        if !namespace_missing {
            if let Some(live) = objects::get(cluster, info, Some(namespace), name).await? {
                let owner = live
                    .pointer(&format!(
                        "/metadata/labels/{}",
                        PART_OF_LABEL.replace('/', "~1")
                    ))
                    .and_then(Value::as_str);
                if let Some(owner) = owner.filter(|o| *o != inventory_id) {
                    return Ok(Some(format!(
                        "an object of this name already exists and belongs to another target (ApplySet {owner}): a hook cannot take it; rename the hook or use generateName"
                    )));
                }
            }
        }
    }
    match objects::dry_run_create_in(cluster, info, namespace, desired).await {
        Ok(()) => Ok(None),
        Err(ClusterError::Api {
            code: 400 | 422,
            message,
            ..
        }) => Ok(Some(message)),
        Err(e) => Err(e),
    }
}

fn describe_hook(hook: &Hook) -> String {
    format!(
        "{} ({})",
        crate::render::hooks::describe(&hook.manifest),
        hook.annotation
    )
}
