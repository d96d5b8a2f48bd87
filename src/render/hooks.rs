//! Lifecycle hooks of Argo CD (`argocd.argoproj.io/hook`) and Helm (`helm.sh/hook`), read as
//! Argo CD reads them: each hook gets the phases it runs in, its wave and its delete policies.
//! Hooks are not desired state: apply creates them at their phase and awaits their completion
//! (docs/hooks.md). Plain functions over manifests: no request.

use std::fmt;

use super::manifest::Manifest;
use super::order::WAVE_ANNOTATIONS;
use super::validate::Problem;

pub const ARGO_HOOK: &str = "argocd.argoproj.io/hook";
pub const ARGO_DELETE_POLICY: &str = "argocd.argoproj.io/hook-delete-policy";
pub const HELM_HOOK: &str = "helm.sh/hook";
pub const HELM_WEIGHT: &str = "helm.sh/hook-weight";
pub const HELM_DELETE_POLICY: &str = "helm.sh/hook-delete-policy";

/// When apply runs a hook.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Phase {
    PreSync,
    Sync,
    PostSync,
    SyncFail,
}

impl Phase {
    pub fn as_str(self) -> &'static str {
        match self {
            Phase::PreSync => "PreSync",
            Phase::Sync => "Sync",
            Phase::PostSync => "PostSync",
            Phase::SyncFail => "SyncFail",
        }
    }
}

impl fmt::Display for Phase {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// When a hook object is deleted (Argo CD's names; Helm's map onto them).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DeletePolicy {
    BeforeHookCreation,
    HookSucceeded,
    HookFailed,
}

impl DeletePolicy {
    pub fn as_str(self) -> &'static str {
        match self {
            DeletePolicy::BeforeHookCreation => "BeforeHookCreation",
            DeletePolicy::HookSucceeded => "HookSucceeded",
            DeletePolicy::HookFailed => "HookFailed",
        }
    }
}

/// How the hook object is named: as written, or by the server on every run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HookName {
    Named(String),
    Generated(String),
}

impl HookName {
    /// `db-migrate`, or `db-migrate-*` for a generated name.
    pub fn label(&self) -> String {
        match self {
            HookName::Named(name) => name.clone(),
            HookName::Generated(prefix) => format!("{prefix}*"),
        }
    }
}

/// A hook of the render.
#[derive(Debug, Clone)]
pub struct Hook {
    pub manifest: Manifest,
    pub name: HookName,
    /// The phases it runs in, in order; empty when apply never runs it (see `not_run`).
    pub phases: Vec<Phase>,
    /// The annotation's own word for a hook apply does not run (`Skip`, `test`, `pre-delete`…).
    pub not_run: Option<String>,
    /// Sorted; BeforeHookCreation alone when the object names none.
    pub delete_policies: Vec<DeletePolicy>,
    pub wave: i64,
    /// `argocd.argoproj.io/hook: PreSync`, for messages.
    pub annotation: String,
}

impl Hook {
    pub fn delete_policy_label(&self) -> String {
        let names: Vec<&str> = self.delete_policies.iter().map(|p| p.as_str()).collect();
        names.join(",")
    }

    pub fn deletes_on(&self, policy: DeletePolicy) -> bool {
        self.delete_policies.contains(&policy)
    }
}

const ARGO_PHASES: &str = "PreSync, Sync, PostSync, SyncFail, Skip, PreDelete, PostDelete";
const ARGO_POLICIES: &str = "BeforeHookCreation, HookSucceeded, HookFailed";
const HELM_EVENTS: &str = "pre-install, post-install, pre-upgrade, post-upgrade, pre-delete, post-delete, pre-rollback, post-rollback, test, test-success, test-failure, crd-install";
const HELM_POLICIES: &str = "before-hook-creation, hook-succeeded, hook-failed";

/// The hook annotation that makes an object a hook, with its value. Argo CD's wins over
/// Helm's; Helm's `crd-install` alone makes no hook (Argo CD applies such CRDs as ordinary
/// objects; Helm 3 no longer has the event).
fn hook_annotation(manifest: &Manifest) -> Option<(&'static str, &str)> {
    if let Some(value) = manifest.annotation(ARGO_HOOK) {
        return Some((ARGO_HOOK, value));
    }
    let value = manifest.annotation(HELM_HOOK)?;
    let events = words(value);
    (!events.is_empty()
        && events
            .iter()
            .any(|e| !e.eq_ignore_ascii_case("crd-install")))
    .then_some((HELM_HOOK, value))
}

fn words(value: &str) -> Vec<&str> {
    value
        .split(',')
        .map(str::trim)
        .filter(|w| !w.is_empty())
        .collect()
}

/// Splits the hooks off a render: (desired state, hooks), or every problem the hooks have
/// (an unknown phase or delete policy, no name, a bad weight).
pub fn split_hooks(manifests: Vec<Manifest>) -> Result<(Vec<Manifest>, Vec<Hook>), Vec<Problem>> {
    let mut kept = Vec::with_capacity(manifests.len());
    let mut hooks = Vec::new();
    let mut problems = Vec::new();
    for manifest in manifests {
        let Some((key, value)) = hook_annotation(&manifest) else {
            kept.push(manifest);
            continue;
        };
        let annotation = format!("{key}: {value}");
        match read_hook(&manifest, key, value) {
            Ok((name, phases, not_run, delete_policies, wave)) => hooks.push(Hook {
                manifest,
                name,
                phases,
                not_run,
                delete_policies,
                wave,
                annotation,
            }),
            Err(messages) => problems.extend(messages.into_iter().map(|message| Problem {
                origin: manifest.origin.clone(),
                object: describe(&manifest),
                message,
            })),
        }
    }
    if problems.is_empty() {
        Ok((kept, hooks))
    } else {
        Err(problems)
    }
}

type HookParts = (HookName, Vec<Phase>, Option<String>, Vec<DeletePolicy>, i64);

fn read_hook(manifest: &Manifest, key: &str, value: &str) -> Result<HookParts, Vec<String>> {
    let mut problems = Vec::new();
    let argo = key == ARGO_HOOK;
    let (mut phases, mut not_run) = (Vec::new(), None);
    for word in words(value) {
        let phase = if argo {
            argo_phase(word)
        } else {
            helm_phase(word)
        };
        match phase {
            Ok(Some(phase)) if !phases.contains(&phase) => phases.push(phase),
            Ok(Some(_)) => {}
            Ok(None) => not_run = not_run.or(Some(word.to_owned())),
            Err(()) => problems.push(format!(
                "unknown hook {key}: {word}; allowed: {}",
                if argo { ARGO_PHASES } else { HELM_EVENTS }
            )),
        }
    }
    // Argo CD's Skip wins over every other phase.
    if argo && words(value).contains(&"Skip") {
        phases.clear();
        not_run = Some("Skip".into());
    }
    if words(value).is_empty() {
        problems.push(format!(
            "{key} is empty; allowed: {}",
            if argo { ARGO_PHASES } else { HELM_EVENTS }
        ));
    }
    phases.sort();
    let policies = delete_policies(manifest).unwrap_or_else(|p| {
        problems.push(p);
        Vec::new()
    });
    let wave = hook_wave(manifest, argo).unwrap_or_else(|p| {
        problems.push(p);
        0
    });
    let name = match hook_name(manifest) {
        Ok(name) => name,
        Err(p) => {
            problems.push(p);
            HookName::Named(String::new())
        }
    };
    for field in ["apiVersion", "kind"] {
        if manifest
            .object
            .get(field)
            .and_then(|v| v.as_str())
            .is_none()
        {
            problems.push(format!("{field} is missing"));
        }
    }
    if problems.is_empty() {
        Ok((name, phases, not_run, policies, wave))
    } else {
        Err(problems)
    }
}

/// Ok(None): a phase apply does not run.
fn argo_phase(word: &str) -> Result<Option<Phase>, ()> {
    match word {
        "PreSync" => Ok(Some(Phase::PreSync)),
        "Sync" => Ok(Some(Phase::Sync)),
        "PostSync" => Ok(Some(Phase::PostSync)),
        "SyncFail" => Ok(Some(Phase::SyncFail)),
        "Skip" | "PreDelete" | "PostDelete" => Ok(None),
        _ => Err(()),
    }
}

/// Helm's events as Argo CD maps them. gitops runs the same hooks on a target's first apply
/// and on every later one (install and upgrade alike; docs/hooks.md).
fn helm_phase(word: &str) -> Result<Option<Phase>, ()> {
    match word.to_ascii_lowercase().as_str() {
        "pre-install" | "pre-upgrade" => Ok(Some(Phase::PreSync)),
        "post-install" | "post-upgrade" => Ok(Some(Phase::PostSync)),
        "pre-delete" | "post-delete" | "pre-rollback" | "post-rollback" | "test"
        | "test-success" | "test-failure" => Ok(None),
        // Not a hook on its own (see `hook_annotation`); beside other events, no phase.
        "crd-install" => Ok(None),
        _ => Err(()),
    }
}

fn delete_policies(manifest: &Manifest) -> Result<Vec<DeletePolicy>, String> {
    // An Argo CD hook may still carry Helm's policy (charts rendered for Argo CD do).
    let (key, value, helm) = match (
        manifest.annotation(ARGO_DELETE_POLICY),
        manifest.annotation(HELM_DELETE_POLICY),
    ) {
        (Some(v), _) => (ARGO_DELETE_POLICY, v, false),
        (None, Some(v)) => (HELM_DELETE_POLICY, v, true),
        (None, None) => return Ok(vec![DeletePolicy::BeforeHookCreation]),
    };
    let mut policies = Vec::new();
    for word in words(value) {
        let policy = match word {
            "BeforeHookCreation" | "before-hook-creation" => DeletePolicy::BeforeHookCreation,
            "HookSucceeded" | "hook-succeeded" => DeletePolicy::HookSucceeded,
            "HookFailed" | "hook-failed" => DeletePolicy::HookFailed,
            _ => {
                return Err(format!(
                    "unknown delete policy {key}: {word}; allowed: {}",
                    if helm { HELM_POLICIES } else { ARGO_POLICIES }
                ))
            }
        };
        if !policies.contains(&policy) {
            policies.push(policy);
        }
    }
    if policies.is_empty() {
        policies.push(DeletePolicy::BeforeHookCreation);
    }
    policies.sort();
    Ok(policies)
}

/// The wave: gitops' or Argo CD's wave annotation, else (for Helm hooks) the hook weight.
fn hook_wave(manifest: &Manifest, argo: bool) -> Result<i64, String> {
    let mut keys: Vec<&str> = WAVE_ANNOTATIONS.to_vec();
    if !argo || manifest.annotation(HELM_WEIGHT).is_some() {
        keys.push(HELM_WEIGHT);
    }
    for key in keys {
        if let Some(value) = manifest.annotation(key) {
            return value
                .trim()
                .parse()
                .map_err(|_| format!("annotation {key} must be an integer, not {value:?}"));
        }
    }
    Ok(0)
}

fn hook_name(manifest: &Manifest) -> Result<HookName, String> {
    let metadata = manifest.object.get("metadata");
    let field = |key: &str| {
        metadata
            .and_then(|m| m.get(key))
            .and_then(|v| v.as_str())
            .filter(|s| !s.trim().is_empty())
    };
    match (field("name"), field("generateName")) {
        (Some(name), _) => Ok(HookName::Named(name.to_owned())),
        (None, Some(prefix)) => Ok(HookName::Generated(prefix.to_owned())),
        (None, None) => Err("a hook needs metadata.name or metadata.generateName".into()),
    }
}

/// A named hook that is also an object of the render: one object cannot be both.
pub fn beside_objects(
    hooks: &[Hook],
    manifests: &[Manifest],
    default_namespace: &str,
) -> Vec<Problem> {
    let key = |m: &Manifest| {
        let r = m.object_ref();
        let namespace = r.namespace.unwrap_or_else(|| default_namespace.to_owned());
        (r.group, r.kind, namespace, r.name)
    };
    let objects: std::collections::HashMap<_, &Manifest> =
        manifests.iter().map(|m| (key(m), m)).collect();
    hooks
        .iter()
        .filter(|h| matches!(h.name, HookName::Named(_)))
        .filter_map(|h| {
            let object = objects.get(&key(&h.manifest))?;
            Some(Problem {
                origin: h.manifest.origin.clone(),
                object: describe(&h.manifest),
                message: format!(
                    "a hook ({}) is also an ordinary object of this target, at {}: an object is one or the other",
                    h.annotation, object.origin
                ),
            })
        })
        .collect()
}

/// `batch/v1 Job db-migrate (argocd.argoproj.io/hook: PreSync)`
pub fn describe(manifest: &Manifest) -> String {
    let api = manifest.api_version().unwrap_or("<no apiVersion>");
    let kind = manifest.kind().unwrap_or("<no kind>");
    let name = hook_name(manifest).map_or_else(|_| "<no name>".to_owned(), |n| n.label());
    crate::identity::describe(api, kind, manifest.namespace(), &name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::manifest::parse_stream;

    fn hooks_of(text: &str) -> Result<(Vec<Manifest>, Vec<Hook>), Vec<Problem>> {
        split_hooks(parse_stream(text, "x.yaml").unwrap())
    }

    #[test]
    fn argo_and_helm_hooks_are_split_off_with_their_phases() {
        let text = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: migrate-\n  annotations:\n    argocd.argoproj.io/hook: PreSync\n    argocd.argoproj.io/sync-wave: \"-2\"\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: smoke\n  annotations:\n    helm.sh/hook: post-install,post-upgrade\n    helm.sh/hook-weight: \"5\"\n    helm.sh/hook-delete-policy: hook-succeeded,before-hook-creation\n";
        let (kept, hooks) = hooks_of(text).unwrap();
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].object["metadata"]["name"], "kept");
        assert_eq!(hooks.len(), 2);
        assert_eq!(hooks[0].name, HookName::Generated("migrate-".into()));
        assert_eq!(hooks[0].phases, vec![Phase::PreSync]);
        assert_eq!(hooks[0].wave, -2);
        assert_eq!(hooks[0].delete_policy_label(), "BeforeHookCreation");
        assert_eq!(hooks[1].phases, vec![Phase::PostSync]);
        assert_eq!(hooks[1].wave, 5);
        assert_eq!(
            hooks[1].delete_policy_label(),
            "BeforeHookCreation,HookSucceeded"
        );
    }

    #[test]
    fn hooks_apply_does_not_run_are_kept_with_their_word() {
        let text = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: t\n  annotations:\n    helm.sh/hook: test\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: s\n  annotations:\n    argocd.argoproj.io/hook: Skip\n---\napiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: crd\n  annotations:\n    helm.sh/hook: crd-install\n";
        let (kept, hooks) = hooks_of(text).unwrap();
        assert_eq!(kept.len(), 1, "crd-install is an ordinary object");
        assert!(hooks.iter().all(|h| h.phases.is_empty()));
        assert_eq!(hooks[0].not_run.as_deref(), Some("test"));
        assert_eq!(hooks[1].not_run.as_deref(), Some("Skip"));
    }

    #[test]
    fn unknown_phases_policies_and_nameless_hooks_are_problems() {
        let text = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  name: a\n  annotations:\n    argocd.argoproj.io/hook: PreSynk\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  name: b\n  annotations:\n    helm.sh/hook: pre-install\n    helm.sh/hook-delete-policy: always\n---\napiVersion: batch/v1\nkind: Job\nmetadata:\n  annotations:\n    argocd.argoproj.io/hook: PostSync\n";
        let problems = hooks_of(text).unwrap_err();
        let text: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
        assert_eq!(text.len(), 3, "{text:?}");
        assert!(text[0]
            .contains("unknown hook argocd.argoproj.io/hook: PreSynk; allowed: PreSync, Sync"));
        assert!(text[1].contains("unknown delete policy helm.sh/hook-delete-policy: always; allowed: before-hook-creation"));
        assert!(text[2].contains("x.yaml:16"), "{}", text[2]);
        assert!(text[2].contains("needs metadata.name or metadata.generateName"));
    }
}
