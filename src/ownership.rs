//! What marks an object as gitops's, and what its annotations ask of gitops: the field manager
//! gitops applies with, the ApplySet labels of KEP-3659 that tie members to their inventory,
//! and the annotations that keep an object from being pruned. The cluster layer, the inventory
//! and the plan all read them from here.

/// The field manager of every server-side apply gitops sends.
pub const FIELD_MANAGER: &str = "gitops";

/// The field manager of `diff --notify`'s one write: the drift-notified annotation on the
/// inventory, which the apply's own manager then leaves alone.
pub const NOTIFY_MANAGER: &str = "gitops-notify";
/// Annotation on the inventory: the drift state last notified (docs/inventory.md).
pub const DRIFT_NOTIFIED_ANNOTATION: &str = "gitops.dev/drift-notified";

/// Label on the parent and on each of its history records: the ApplySet id (docs/inventory.md).
pub const HISTORY_LABEL: &str = "gitops.dev/history-of";

/// Label on every hook object gitops creates: the ApplySet id of its target (hooks are not
/// members; the label finds them, e.g. old `generateName` hooks, docs/hooks.md).
pub const HOOK_LABEL: &str = "gitops.dev/hook-of";

/// Label on the parent: the ApplySet id.
pub const ID_LABEL: &str = "applyset.kubernetes.io/id";
/// Label on every member: the id of the ApplySet it belongs to.
pub const PART_OF_LABEL: &str = "applyset.kubernetes.io/part-of";
pub const TOOLING_ANNOTATION: &str = "applyset.kubernetes.io/tooling";
pub const GROUP_KINDS_ANNOTATION: &str = "applyset.kubernetes.io/contains-group-kinds";
pub const NAMESPACES_ANNOTATION: &str = "applyset.kubernetes.io/additional-namespaces";

/// Annotation that keeps an object from being pruned (`disabled`).
pub const PRUNE_ANNOTATION: &str = "gitops.dev/prune";
/// Flux's server-side apply policy: `IfNotPresent` (create, never update) and `Ignore` (never
/// apply) keep gitops's hands off an object as Flux's would be.
pub const FLUX_SSA_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/ssa";
/// Flux's kustomize-controller annotation; `disabled` keeps an object, as `gitops.dev/prune` does.
pub const FLUX_PRUNE_ANNOTATION: &str = "kustomize.toolkit.fluxcd.io/prune";
/// Argo CD's sync options; `Prune=false` (and `Delete=false`) keeps an object.
pub const ARGO_SYNC_OPTIONS: &str = "argocd.argoproj.io/sync-options";
/// Argo CD's sync option for a custom resource whose CRD the cluster gets later (an operator
/// installed by an earlier wave registers it): planned without a dry-run, resolved at its wave.
pub const SKIP_DRY_RUN_ON_MISSING: &str = "SkipDryRunOnMissingResource=true";
/// Argo CD's sync option to create or replace (PUT) the object when server-side apply is refused.
pub const REPLACE: &str = "Replace=true";

/// Whether an object (rendered or live) carries one of Argo CD's sync options (`Replace=true`).
pub fn has_sync_option(object: &serde_json::Value, option: &str) -> bool {
    object
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(ARGO_SYNC_OPTIONS))
        .and_then(serde_json::Value::as_str)
        .is_some_and(|options| options.split(',').any(|o| o.trim() == option))
}
