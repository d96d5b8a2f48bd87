//! One target of a run, resolved once from the flags, the target and the kube configuration.
//!
//! Commands build a `Resolved` per target before anything else happens and hand it on; no stage
//! works the namespace, context, inventory, prune, timeout or source record out again (as
//! ripgrep turns its low-level arguments into one high-level value). The namespace comes from
//! the same kube configuration the client is built from, so that Helm, validation, the plan, the
//! lease and the inventory all use one namespace, in a pod as on a laptop.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::cluster::Connection;
use crate::inventory::{InventoryRef, SourceRecord};
use crate::render::Source;
use crate::source;
use crate::target::Target;

/// Wait for health when neither `--timeout` nor the target says (SPEC.md).
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// The flags of one run that shape every target (parsed by `cli`, gathered by `commands`).
#[derive(Debug, Clone, Default)]
pub struct RunFlags {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// `-n`: wins over the target's namespace.
    pub namespace: Option<String>,
    /// `--repo`: recorded (without credentials) as where the target came from.
    pub repo: Option<String>,
    /// `--prune`/`--no-prune`; None: the target's `prune`.
    pub prune: Option<bool>,
    /// `--create-namespace`, added to the target's `createNamespace`.
    pub create_namespace: bool,
    /// `--timeout`; None: the target's, else [`DEFAULT_TIMEOUT`].
    pub timeout: Option<Duration>,
}

/// Everything a run needs to know about one target, worked out once.
pub struct Resolved {
    /// The target as selected: name, source, renderer settings. Its `namespace` and `context`
    /// are inputs to this resolution; read `namespace` and `connection` instead.
    pub target: Target,
    /// The kube configuration of the target's cluster (`--context`, else the target's).
    pub connection: Connection,
    /// Namespace for objects that name none: `-n`, else the target's, else the kube
    /// configuration's (context, or the service account's in a pod), else `default`.
    pub namespace: String,
    /// The namespace to create when missing (`createNamespace`); only a namespace given by `-n`
    /// or the target, never one that merely defaulted.
    pub create_namespace: Option<String>,
    /// Where the target's inventory (and lease) live.
    pub inventory: InventoryRef,
    pub prune: bool,
    pub timeout: Duration,
    /// Where the target came from, as its inventory records it for `rollback`.
    pub source: SourceRecord,
}

impl Resolved {
    /// Resolves `target` under `flags`. Reads the kube configuration (no request to a server).
    pub async fn new(target: Target, flags: &RunFlags) -> Self {
        let context = flags.context.clone().or_else(|| target.context.clone());
        let kubeconfig = flags.kubeconfig.as_deref().or(target.kubeconfig.as_deref());
        let connection = Connection::load(kubeconfig, context.as_deref()).await;
        let explicit = flags.namespace.clone().or_else(|| target.namespace.clone());
        let namespace = explicit
            .clone()
            .or_else(|| connection.namespace().map(str::to_owned))
            .unwrap_or_else(|| "default".to_owned());
        let create_namespace = (target.create_namespace || flags.create_namespace)
            .then_some(explicit.clone())
            .flatten();
        let source = source_record(&target, explicit, create_namespace.is_some(), flags);
        Resolved {
            inventory: InventoryRef::for_target(&target.name, &namespace),
            prune: flags.prune.unwrap_or(target.prune),
            timeout: flags.timeout.or(target.timeout).unwrap_or(DEFAULT_TIMEOUT),
            connection,
            namespace,
            create_namespace,
            source,
            target,
        }
    }

    /// The same target as another revision defines it (rollback): the cluster, namespace and
    /// inventory stay those of the inventory being rolled back; the revision's rendering,
    /// pruning and timeout apply, under the run's flags. `source` stays as recorded.
    pub fn at_revision(self, target: Target, source: SourceRecord, flags: &RunFlags) -> Resolved {
        Resolved {
            prune: flags.prune.unwrap_or(target.prune),
            timeout: flags.timeout.or(target.timeout).unwrap_or(DEFAULT_TIMEOUT),
            source,
            target,
            ..self
        }
    }

    pub fn name(&self) -> &str {
        &self.target.name
    }

    /// The path whose Git revision the target is rendered from.
    pub fn revision_path(&self) -> PathBuf {
        source_path(&self.target)
    }
}

/// The repository path a target is rendered from (stdin: the current directory).
fn source_path(target: &Target) -> PathBuf {
    match &target.source {
        Source::Path(path) => path.clone(),
        Source::Stdin => PathBuf::from("."),
    }
}

/// Where the target came from: its path relative to the repository root and the settings its
/// renderer needs, so that `rollback` can render it as it was at another revision.
fn source_record(
    target: &Target,
    namespace: Option<String>,
    create_namespace: bool,
    flags: &RunFlags,
) -> SourceRecord {
    let path = source_path(target);
    let absolute = path.canonicalize().unwrap_or(path.clone());
    let root = source::repository_root(&absolute);
    let relative_to_root = |path: &Path| {
        let absolute = path.canonicalize().ok()?;
        absolute
            .strip_prefix(root.as_ref()?)
            .ok()
            .map(Path::to_path_buf)
    };
    let relative = relative_to_root(&path);
    let helm = &target.helm;
    let helm_used = helm.release_name.is_some() || !helm.values.is_empty() || !helm.set.is_empty();
    SourceRecord {
        name: target.name.clone(),
        path: relative.as_deref().unwrap_or(&path).display().to_string(),
        in_repository: relative.is_some(),
        namespace,
        create_namespace,
        // The gitops.yaml that defined the target: rollback prefers that file as it was at
        // the revision, so that renderer settings kept there roll back too.
        config: target
            .config_file
            .as_deref()
            .and_then(relative_to_root)
            .map(|p| p.display().to_string()),
        helm: helm_used.then(|| helm.clone()),
        repo: flags.repo.as_deref().map(source::redact_url),
    }
}
