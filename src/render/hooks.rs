//! Lifecycle hooks of Argo CD (`argocd.argoproj.io/hook`) and Helm (`helm.sh/hook`): Jobs and
//! other objects meant to run around a sync, often with `generateName`. gitops does not run
//! hooks (yet), and applying them as ordinary desired state would be wrong (a migration Job
//! would be created once and then never again), so they are left out of the plan, each named
//! in a warning.

use super::manifest::Manifest;

const HOOK_ANNOTATIONS: [&str; 2] = ["argocd.argoproj.io/hook", "helm.sh/hook"];

/// The hook annotation and its value, when the object is a hook.
pub fn hook_of(manifest: &Manifest) -> Option<(&'static str, String)> {
    let annotations = manifest.object.get("metadata")?.get("annotations")?;
    HOOK_ANNOTATIONS.iter().find_map(|key| {
        let value = annotations.get(*key)?.as_str()?;
        Some((*key, value.to_owned()))
    })
}

/// Splits hooks off the render: (desired state, hooks).
pub fn split_hooks(manifests: Vec<Manifest>) -> (Vec<Manifest>, Vec<Manifest>) {
    manifests.into_iter().partition(|m| hook_of(m).is_none())
}

/// `Job upgrade-sql-schema (sync-waves/manifests.yaml:2 (document 1), argocd.argoproj.io/hook: PreSync)`
pub fn describe(manifest: &Manifest) -> String {
    let kind = manifest
        .object
        .get("kind")
        .and_then(|k| k.as_str())
        .unwrap_or("?");
    let metadata = manifest.object.get("metadata");
    let name = metadata
        .and_then(|m| m.get("name").or_else(|| m.get("generateName")))
        .and_then(|n| n.as_str())
        .unwrap_or("<no name>");
    let (key, value) = hook_of(manifest).unwrap_or(("hook", String::new()));
    format!("{kind} {name} ({}, {key}: {value})", manifest.origin)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::manifest::parse_stream;

    #[test]
    fn argo_and_helm_hooks_are_split_off() {
        let text = "apiVersion: batch/v1\nkind: Job\nmetadata:\n  generateName: migrate-\n  annotations:\n    argocd.argoproj.io/hook: PreSync\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: kept\n---\napiVersion: v1\nkind: Pod\nmetadata:\n  name: smoke\n  annotations:\n    helm.sh/hook: post-install\n";
        let manifests = parse_stream(text, "x.yaml").unwrap();
        let (kept, hooks) = split_hooks(manifests);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].object["metadata"]["name"], "kept");
        assert_eq!(hooks.len(), 2);
        assert!(describe(&hooks[0]).starts_with("Job migrate- (x.yaml:1"));
        assert!(describe(&hooks[1]).ends_with("helm.sh/hook: post-install)"));
    }
}
