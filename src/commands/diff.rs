//! `gitops diff [PATH]`: what applying would change, against the live cluster.
//! Exit 0 in sync, 2 with changes (0 with `--exit-zero`), 1 on errors.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use super::render::render_target;
use super::selection;
use crate::cli::{DiffArgs, GlobalArgs, OutputFormat};
use crate::cluster::{self, Cluster};
use crate::exit::Exit;
use crate::plan::{self, Plan, PlanRequest};
use crate::target::{self, Source, Target};
use crate::{log, report, source};

pub fn run(global: &GlobalArgs, args: &DiffArgs) -> anyhow::Result<Exit> {
    let config = target::load_config(global.config.as_deref())?;
    let targets = target::select(&selection(global, args.path.as_deref()), config.as_ref())?;
    let ignore = target::ignore_rules(config.as_ref());
    // Every target renders and validates before the first request to a cluster.
    let mut rendered = Vec::with_capacity(targets.len());
    for target in targets {
        let manifests = render_target(global, &target)?;
        rendered.push((target, manifests));
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let plans = runtime.block_on(async {
        let mut plans = Vec::with_capacity(rendered.len());
        for (target, manifests) in rendered {
            let context = global.context.as_deref().or(target.context.as_deref());
            let cluster = cluster::connect(global.kubeconfig.as_deref(), context).await?;
            let request = plan_request(global, args, &cluster, &target, manifests, ignore.clone());
            let plan = plan::build(&cluster, request).await.map_err(|e| {
                anyhow::Error::new(e).context(format!("planning target {}", target.name))
            })?;
            plans.push(plan);
        }
        anyhow::Ok(plans)
    })?;
    print(global, &plans)?;
    let changes = plans.iter().any(|p| p.summary().has_changes());
    Ok(if changes && !args.exit_zero {
        Exit::Changes
    } else {
        Exit::Success
    })
}

fn plan_request(
    global: &GlobalArgs,
    args: &DiffArgs,
    cluster: &Cluster,
    target: &Target,
    manifests: Vec<crate::render::Manifest>,
    ignore: Vec<crate::config::IgnoreRule>,
) -> PlanRequest {
    let default_namespace = global
        .namespace
        .clone()
        .or_else(|| target.namespace.clone())
        .unwrap_or_else(|| cluster.default_namespace.clone());
    let revision_path = match &target.source {
        Source::Path(path) => path.clone(),
        Source::Stdin => PathBuf::from("."),
    };
    let create_namespace = target
        .create_namespace
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
    PlanRequest {
        target: target.name.clone(),
        revision: source::revision(&revision_path),
        manifests,
        default_namespace,
        create_namespace,
        ignore,
        concurrency: usize::from(args.concurrency),
        shortcut: !args.full_dry_run,
    }
}

fn print(global: &GlobalArgs, plans: &[Plan]) -> anyhow::Result<()> {
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
