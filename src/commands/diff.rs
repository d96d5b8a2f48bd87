//! `gitops diff [PATH]`: what applying would change, against the live cluster.
//! Exit 0 in sync, 2 with changes (0 with `--exit-zero`), 1 on errors.

use super::planning::{plan_target, print_plans, render_all, PlanSettings};
use crate::cli::{DiffArgs, GlobalArgs};
use crate::exit::Exit;
use crate::resolved::RunFlags;

pub fn run(global: &GlobalArgs, args: &DiffArgs) -> anyhow::Result<Exit> {
    let flags = RunFlags {
        prune: crate::cli::prune_choice(args.prune, args.no_prune),
        create_namespace: args.create_namespace,
        ..super::run_flags(global)
    };
    let rendered = render_all(global, args.path.as_deref(), &flags)?;
    let ignore = rendered.ignore;
    let settings = PlanSettings {
        concurrency: usize::from(args.concurrency),
        shortcut: !args.full_dry_run,
    };
    let runtime = super::runtime()?;
    let plans = runtime.block_on(async {
        let mut plans = Vec::with_capacity(rendered.targets.len());
        for rendered in rendered.targets {
            let revision = rendered.revision_label();
            let target = rendered.target;
            let cluster = target
                .connection
                .connect()
                .await?
                .with_concurrency(settings.concurrency);
            plans.push(
                plan_target(
                    &cluster,
                    &target,
                    rendered.manifests,
                    revision,
                    ignore.clone(),
                    &settings,
                )
                .await?,
            );
        }
        anyhow::Ok(plans)
    })?;
    print_plans(global, &plans)?;
    for plan in &plans {
        let conflicts = plan
            .changes
            .iter()
            .filter(|c| c.action != crate::plan::Action::Unchanged)
            .filter(|c| c.conflict.as_ref().is_some_and(|c| !c.imperative_only))
            .count();
        if conflicts > 0 {
            crate::log::warn(&format!(
                "target {}: {conflicts} object(s) have fields that another field manager applied; apply stops before writing anything unless --force-conflicts",
                plan.target
            ));
        }
    }
    let changes = plans.iter().any(|p| p.summary().has_changes());
    Ok(if changes && !args.exit_zero {
        Exit::Changes
    } else {
        Exit::Success
    })
}
