//! What diff and apply share: render every target first, connect, plan, print plans.

use std::io::IsTerminal;

use super::render::render_target;
use super::{resolve_all, selection};
use crate::cli::{GlobalArgs, OutputFormat};
use crate::cluster::{self, Cluster};
use crate::config::IgnoreRule;
use crate::plan::{self, Plan, PlanRequest};
use crate::render::hooks::Hook;
use crate::render::{Capabilities, Manifest, Source};
use crate::resolved::{Resolved, RunFlags};
use crate::source::{self, Revision};
use crate::{log, report, target};

/// Per-command planning choices.
pub struct PlanSettings {
    /// Most requests in flight at once (`--concurrency`), set on the cluster client.
    pub concurrency: usize,
    pub shortcut: bool,
    /// The run has several targets: each plan printed shows its target's name.
    pub several_targets: bool,
}

/// One target, rendered and validated, with the revision it was rendered from.
pub struct RenderedTarget {
    pub target: Resolved,
    pub manifests: Vec<Manifest>,
    /// Its Argo CD and Helm hooks, run by apply at their phases.
    pub hooks: Vec<Hook>,
    /// None outside Git.
    pub revision: Option<Revision>,
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

/// Every selected target, resolved, rendered and validated (before any request to a cluster
/// but a chart's capabilities).
pub fn render_all(
    global: &GlobalArgs,
    path: Option<&str>,
    flags: &RunFlags,
) -> anyhow::Result<Rendered> {
    let config = target::load_config(global.config.as_deref())?;
    let targets = target::select(&selection(global, path), config.as_ref())?;
    let ignore = target::ignore_rules(config.as_ref());
    let mut rendered = Vec::with_capacity(targets.len());
    for target in resolve_all(targets, flags)? {
        let capabilities = chart_capabilities(&target)?;
        let (manifests, hooks) = render_target(&target, capabilities.as_ref())?;
        let revision = source::revision_of(&target.revision_path());
        if let Some(r) = revision.as_ref().filter(|r| r.dirty) {
            log::warn(&format!(
                "target {}: the working tree has uncommitted changes (or untracked files in the target's path); the revision is {}",
                target.name(),
                r.label()
            ));
        }
        rendered.push(RenderedTarget {
            target,
            manifests,
            hooks,
            revision,
        });
    }
    let shared = super::overlap::shared_objects(
        &rendered
            .iter()
            .map(|r| (&r.target, r.manifests.as_slice()))
            .collect::<Vec<_>>(),
    );
    if !shared.is_empty() {
        anyhow::bail!(
            "{} object(s) would be written by two targets of this run, which would take them from each other on every apply; keep each object in one target (a shared Namespace, say, in the target that owns it), or run the targets separately:\n{}",
            shared.len(),
            log::bullets(&shared)
        );
    }
    Ok(Rendered {
        targets: rendered,
        ignore,
    })
}

/// For a Helm chart target: what its cluster serves, so that the chart renders for that cluster
/// (`helm template --kube-version --api-versions`, as Argo CD does). None for other targets.
pub fn chart_capabilities(target: &Resolved) -> anyhow::Result<Option<Capabilities>> {
    let Source::Path(path) = &target.target.source else {
        return Ok(None);
    };
    if !matches!(
        crate::render::detect(path),
        Ok(crate::render::SourceKind::Helm)
    ) {
        return Ok(None);
    }
    let capabilities = super::runtime()?.block_on(async {
        let cluster = target.connection.connect().await?;
        let served = cluster::discovery::served_apis(&cluster, None).await?;
        anyhow::Ok(Capabilities::new(served.version.clone(), served.kinds()))
    })?;
    log::verbose(&format!(
        "target {}: rendering the chart for Kubernetes {} ({} API versions)",
        target.name(),
        capabilities.kube_version,
        capabilities.api_versions.len()
    ));
    Ok(Some(capabilities))
}

pub async fn plan_target(
    cluster: &Cluster,
    target: &Resolved,
    manifests: Vec<Manifest>,
    hooks: Vec<Hook>,
    revision: String,
    ignore: Vec<IgnoreRule>,
    settings: &PlanSettings,
) -> anyhow::Result<Plan> {
    log::verbose(&format!(
        "planning target {} against {} (default namespace {})",
        target.name(),
        cluster.server,
        target.namespace
    ));
    let request = PlanRequest {
        inventory: target.inventory.clone(),
        target: target.name().to_owned(),
        revision,
        manifests,
        hooks,
        default_namespace: target.namespace.clone(),
        create_namespace: target.create_namespace.clone(),
        ignore,
        shortcut: settings.shortcut,
        prune: target.prune,
        expected_source: target.target.derived_name.then(|| target.source.clone()),
    };
    plan::build(cluster, request)
        .await
        .map_err(|e| anyhow::Error::new(e).context(format!("planning target {}", target.name())))
}

/// Plans to stdout in the chosen format.
pub fn print_plans(global: &GlobalArgs, plans: &[Plan]) -> anyhow::Result<()> {
    print_plans_titled(global, plans, plans.len() > 1)
}

/// Plans to stdout; `titled`: each text plan under its target's name (a run of several
/// targets that prints their plans one at a time).
pub fn print_plans_titled(global: &GlobalArgs, plans: &[Plan], titled: bool) -> anyhow::Result<()> {
    let text = match global.output {
        OutputFormat::Json => report::json::render(plans),
        OutputFormat::Markdown => report::markdown::render(plans),
        OutputFormat::Text | OutputFormat::Csv => {
            let color = log::use_color(global.color, std::io::stdout().is_terminal());
            plans
                .iter()
                .map(|p| report::text::render(p, color, titled))
                .collect::<Vec<_>>()
                .join("\n")
        }
    };
    log::to_stdout(&text)?;
    Ok(())
}

/// The run's summary when it had several targets: a table on stderr, and with `-o markdown`
/// the same table at the end of the document.
pub fn print_summary(global: &GlobalArgs, rows: &[report::summary::Row]) -> anyhow::Result<()> {
    if rows.len() < 2 {
        return Ok(());
    }
    log::info(report::summary::text(rows).trim_end());
    if global.output == OutputFormat::Markdown {
        log::to_stdout(&report::summary::markdown(rows))?;
    }
    Ok(())
}

/// The summary's rows for a run's targets, each not started yet.
pub fn summary_rows(targets: &[RenderedTarget]) -> Vec<report::summary::Row> {
    targets
        .iter()
        .map(|t| report::summary::Row {
            target: t.target.name().to_owned(),
            cluster: t.target.connection.context_name.clone(),
            counts: None,
            ending: report::summary::Ending::NotStarted,
            seconds: 0.0,
        })
        .collect()
}
