//! Preparing a render for planning: every manifest resolved against discovery (unknown kinds
//! all reported at once), its namespace decided by scope, native defaults filled in and the
//! server's own metadata left out. Plain functions: no request.

use k8s_openapi::api::core::v1::Namespace;
use kube::core::ApiResource;
use serde_json::{json, Value};

use super::defaults::fill_native_defaults;
use super::normalize::strip_server_metadata;
use crate::cluster::{objects, Discovery, ResourceInfo};
use crate::log;
use crate::ownership::{has_sync_option, SKIP_DRY_RUN_ON_MISSING};
use crate::render::{order, Manifest, Origin};

/// One object resolved against discovery, ready to plan.
pub(super) struct Prepared {
    pub(super) info: ResourceInfo,
    pub(super) namespace: Option<String>,
    pub(super) name: String,
    pub(super) desired: Value,
    pub(super) origin: Option<Origin>,
    /// Rendered (a member of the inventory), or made by gitops (`createNamespace`).
    pub(super) member: bool,
    /// The manifest's wave (validated before planning; 0 for a made namespace).
    pub(super) wave: i64,
}

impl Prepared {
    /// Where the object was written, or what it is when gitops made it (errors name the object).
    pub(super) fn label(&self) -> String {
        match &self.origin {
            Some(origin) => origin.to_string(),
            None => objects::describe(&self.info, self.namespace.as_deref(), &self.name),
        }
    }
}

/// An object whose apiVersion/kind the cluster does not serve.
pub(super) struct UnknownKind {
    pub(super) group: String,
    pub(super) kind: String,
    pub(super) label: String,
}

/// Maps every manifest to its resource; unknown kinds are all reported before any request.
pub(super) fn resolve(
    discovery: &Discovery,
    manifests: &[Manifest],
    default_namespace: &str,
) -> Result<Vec<Prepared>, Vec<UnknownKind>> {
    let mut prepared = Vec::with_capacity(manifests.len());
    let mut unknown = Vec::new();
    for manifest in manifests {
        let (api_version, kind) = (
            manifest.api_version().unwrap_or_default(),
            manifest.kind().unwrap_or_default(),
        );
        let Some(info) = discovery.resolve(api_version, kind) else {
            if has_sync_option(&manifest.object, SKIP_DRY_RUN_ON_MISSING) {
                prepared.push(prepare(
                    manifest,
                    deferred_kind(manifest),
                    default_namespace,
                ));
                continue;
            }
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
        prepared.push(prepare(manifest, info.clone(), default_namespace));
    }
    warn_about_pinned_incarnations(manifests.iter().filter(|m| {
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
pub(super) fn prepare(
    manifest: &Manifest,
    info: ResourceInfo,
    default_namespace: &str,
) -> Prepared {
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
    // A manifest's status (kube-prometheus' CRDs carry one) is the server's to write: sent, it
    // would make gitops a co-owner of fields the API server and other appliers own.
    if let Value::Object(map) = &mut desired {
        if map.remove("status").is_some() {
            log::verbose(&format!(
                "{}: its status stanza is not sent (the server writes status)",
                manifest.describe()
            ));
        }
    }
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

/// A kind the cluster does not serve yet, for an object that asks to be planned without a
/// dry-run (Argo CD's `SkipDryRunOnMissingResource=true`): its resource name guessed as kubectl
/// guesses it, its scope from its namespace (a kind named `Cluster…` without one is taken as
/// cluster-scoped). Apply asks discovery again when its wave comes (apply/mod.rs).
fn deferred_kind(manifest: &Manifest) -> ResourceInfo {
    let api_version = manifest.api_version().unwrap_or_default();
    let kind = manifest.kind().unwrap_or_default();
    let (group, version) = match api_version.rsplit_once('/') {
        Some((group, version)) => (group, version),
        None => ("", api_version),
    };
    ResourceInfo {
        resource: ApiResource {
            group: group.to_owned(),
            version: version.to_owned(),
            api_version: api_version.to_owned(),
            kind: kind.to_owned(),
            plural: guess_plural(kind),
        },
        namespaced: manifest.namespace().is_some() || !kind.starts_with("Cluster"),
        pending_crd: true,
    }
}

/// `Policy` → `policies`, `Ingress` → `ingresses`, `ServiceMonitor` → `servicemonitors`.
fn guess_plural(kind: &str) -> String {
    let lower = kind.to_ascii_lowercase();
    if let Some(stem) = lower.strip_suffix('y') {
        if !stem.ends_with(['a', 'e', 'i', 'o', 'u']) {
            return format!("{stem}ies");
        }
    }
    if ["s", "x", "z", "ch", "sh"]
        .iter()
        .any(|end| lower.ends_with(end))
    {
        return format!("{lower}es");
    }
    format!("{lower}s")
}

pub(super) fn namespace_resource() -> ResourceInfo {
    ResourceInfo {
        resource: ApiResource::erase::<Namespace>(&()),
        namespaced: false,
        pending_crd: false,
    }
}

pub(super) fn namespace_object(name: &str) -> Prepared {
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
