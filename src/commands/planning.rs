//! What diff and apply share: render every target first, connect, plan, print plans.

use serde_json::json;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use super::render::render_target;
use super::selection;
use crate::cli::{GlobalArgs, OutputFormat};
use crate::cluster::{self, Cluster};
use crate::config::IgnoreRule;
use crate::inventory::InventoryRef;
use crate::plan::{self, Plan, PlanRequest};
use crate::render::{Capabilities, Manifest};
use crate::source::{self, Revision};
use crate::target::{self, Source, Target};
use crate::{log, report};

/// Per-command planning choices.
pub struct PlanSettings {
    pub concurrency: usize,
    pub shortcut: bool,
    /// None: the target's `prune`.
    pub prune: Option<bool>,
    pub create_namespace: bool,
}

/// One target, rendered and validated, with the revision it was rendered from.
pub struct RenderedTarget {
    pub target: Target,
    pub manifests: Vec<Manifest>,
    /// None outside Git.
    pub revision: Option<Revision>,
    /// Where the inventory says the target comes from, when already known (rollback keeps the
    /// recorded one); None: worked out from the target's path.
    pub recorded_source: Option<serde_json::Value>,
}

impl RenderedTarget {
    /// The revision as plans and the inventory show it.
    pub fn revision_label(&self) -> String {
        self.revision
            .as_ref()
            .map_or_else(|| "unknown".to_owned(), Revision::label)
    }
}

/// The targets of a run with their validated manifests, and the run's ignore rules.
pub struct Rendered {
    pub targets: Vec<RenderedTarget>,
    pub ignore: Vec<IgnoreRule>,
}

/// Every selected target, rendered and validated (before any request to a cluster).
pub fn render_all(global: &GlobalArgs, path: Option<&str>) -> anyhow::Result<Rendered> {
    let config = target::load_config(global.config.as_deref())?;
    let targets = target::select(&selection(global, path), config.as_ref())?;
    let ignore = target::ignore_rules(config.as_ref());
    let mut rendered = Vec::with_capacity(targets.len());
    for target in targets {
        let capabilities = chart_capabilities(global, &target)?;
        let manifests = render_target(global, &target, capabilities.as_ref())?;
        let revision = source::revision_of(&source_path(&target));
        if let Some(r) = revision.as_ref().filter(|r| r.dirty) {
            log::warn(&format!(
                "target {}: the working tree has uncommitted changes (or untracked files in the target's path); the revision is {}",
                target.name,
                r.label()
            ));
        }
        rendered.push(RenderedTarget {
            target,
            manifests,
            revision,
            recorded_source: None,
        });
    }
    Ok(Rendered {
        targets: rendered,
        ignore,
    })
}

/// For a Helm chart target: what its cluster serves, so that the chart renders for that cluster
/// (`helm template --kube-version --api-versions`, as Argo CD does). None for other targets.
pub fn chart_capabilities(
    global: &GlobalArgs,
    target: &Target,
) -> anyhow::Result<Option<Capabilities>> {
    let Source::Path(path) = &target.source else {
        return Ok(None);
    };
    if !matches!(
        crate::render::detect(path),
        Ok(crate::render::SourceKind::Helm)
    ) {
        return Ok(None);
    }
    let capabilities = super::runtime()?.block_on(async {
        let cluster = connect(global, target).await?;
        anyhow::Ok(cluster::capabilities::read(&cluster).await?)
    })?;
    log::verbose(&format!(
        "target {}: rendering the chart for Kubernetes {} ({} API versions)",
        target.name,
        capabilities.kube_version,
        capabilities.api_versions.len()
    ));
    Ok(Some(capabilities))
}

/// A client for the target's cluster: `--context`, else the target's context.
pub async fn connect(global: &GlobalArgs, target: &Target) -> anyhow::Result<Cluster> {
    let context = global.context.as_deref().or(target.context.as_deref());
    Ok(cluster::connect(global.kubeconfig.as_deref(), context).await?)
}

/// The namespace for objects that name none, now that the cluster's context is known.
pub fn default_namespace(global: &GlobalArgs, target: &Target, cluster: &Cluster) -> String {
    global
        .namespace
        .clone()
        .or_else(|| target.namespace.clone())
        .unwrap_or_else(|| cluster.default_namespace.clone())
}

/// The repository path a target is rendered from (for its revision).
pub fn source_path(target: &Target) -> PathBuf {
    match &target.source {
        Source::Path(path) => path.clone(),
        Source::Stdin => PathBuf::from("."),
    }
}

pub async fn plan_target(
    global: &GlobalArgs,
    cluster: &Cluster,
    target: &Target,
    manifests: Vec<Manifest>,
    revision: String,
    ignore: Vec<IgnoreRule>,
    settings: &PlanSettings,
) -> anyhow::Result<Plan> {
    let default_namespace = default_namespace(global, target, cluster);
    let create_namespace = (target.create_namespace || settings.create_namespace)
        .then(|| {
            target
                .namespace
                .clone()
                .or_else(|| global.namespace.clone())
        })
        .flatten();
    log::verbose(&format!(
        "planning target {} against {} (default namespace {default_namespace})",
        target.name, cluster.server
    ));
    let request = PlanRequest {
        inventory: InventoryRef::for_target(&target.name, &default_namespace),
        target: target.name.clone(),
        revision,
        manifests,
        default_namespace,
        create_namespace,
        ignore,
        concurrency: settings.concurrency,
        shortcut: settings.shortcut,
        prune: settings.prune.unwrap_or(target.prune),
        expected_source: target.derived_name.then(|| target_source(global, target)),
    };
    plan::build(cluster, request)
        .await
        .map_err(|e| anyhow::Error::new(e).context(format!("planning target {}", target.name)))
}

/// Plans to stdout in the chosen format.
pub fn print_plans(global: &GlobalArgs, plans: &[Plan]) -> anyhow::Result<()> {
    let text = match global.output {
        OutputFormat::Json => report::json::render(plans),
        OutputFormat::Markdown => report::markdown::render(plans),
        OutputFormat::Text => {
            let color = log::use_color(global.color, std::io::stdout().is_terminal());
            plans
                .iter()
                .map(|p| report::text::render(p, color, plans.len() > 1))
                .collect::<Vec<_>>()
                .join("\n")
        }
    };
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// Where the target came from, as the inventory records it for `rollback`: its path relative
/// to the repository root and the settings its renderer needs.
pub(super) fn target_source(global: &GlobalArgs, target: &Target) -> serde_json::Value {
    let path = source_path(target);
    let absolute = path.canonicalize().unwrap_or(path.clone());
    let root = source::repository_root(&absolute);
    let relative_to_root = |path: &std::path::Path| {
        let absolute = path.canonicalize().ok()?;
        absolute
            .strip_prefix(root.as_ref()?)
            .ok()
            .map(|p| p.to_path_buf())
    };
    let relative = relative_to_root(&path);
    let mut value = json!({
        "name": target.name,
        "path": relative.as_deref().unwrap_or(&path).display().to_string(),
        "inRepository": relative.is_some(),
    });
    if let Some(namespace) = global.namespace.as_ref().or(target.namespace.as_ref()) {
        value["namespace"] = json!(namespace);
    }
    if target.create_namespace {
        value["createNamespace"] = json!(true);
    }
    // The gitops.yaml that defined the target: rollback prefers that file as it was at the
    // revision, so that renderer settings kept there roll back too.
    if let Some(config) = target.config_file.as_deref().and_then(relative_to_root) {
        value["config"] = json!(config.display().to_string());
    }
    let helm = &target.helm;
    if helm.release_name.is_some() || !helm.values.is_empty() || !helm.set.is_empty() {
        value["helm"] = json!({
            "releaseName": helm.release_name,
            "values": helm.values,
            "set": helm.set.iter().map(|(k, v)| json!([k, v])).collect::<Vec<_>>(),
        });
    }
    if let Some(repo) = &global.repo {
        value["repo"] = json!(source::redact_url(repo));
    }
    value
}
