//! `gitops diff [PATH]`: what applying would change, against the live cluster.
//! Exit 0 in sync, 2 with changes (0 with `--exit-zero`), 4 with a destructive change under
//! `--fail-on-destructive`, 1 on errors.

use super::alert::Drift;
use super::planning::{plan_target, print_plans, render_all, PlanSettings};
use crate::cli::{DiffArgs, GlobalArgs, OnlyCause};
use crate::exit::Exit;
use crate::plan::{Only, Plan};
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
    // With --keep-going a target that cannot be planned is said and the others are planned.
    let mut failed = Exit::Success;
    let planned = runtime.block_on(async {
        let mut plans = Vec::with_capacity(rendered.targets.len());
        for rendered in rendered.targets {
            let revision = rendered.revision_label();
            let target = rendered.target;
            let planned = async {
                let cluster = target
                    .connection
                    .connect()
                    .await?
                    .with_concurrency(settings.concurrency);
                let plan = plan_target(
                    &cluster,
                    &target,
                    rendered.manifests,
                    rendered.hooks,
                    revision,
                    ignore.clone(),
                    &settings,
                )
                .await?;
                anyhow::Ok((plan, cluster))
            }
            .await;
            match planned {
                Ok(planned) => plans.push(planned),
                Err(error) if args.keep_going => {
                    failed = super::apply::worse(failed, super::report_error(&error));
                }
                Err(error) => return Err(error),
            }
        }
        anyhow::Ok(plans)
    })?;
    // The alert judges the whole drift, whatever --only shows.
    let drifts: Vec<Drift> = planned.iter().map(|(plan, _)| Drift::of(plan)).collect();
    let (mut plans, clusters): (Vec<Plan>, Vec<_>) = planned.into_iter().unzip();
    if let Some(only) = args.only {
        let only = match only {
            OnlyCause::Drift => Only::Drift,
            OnlyCause::Pending => Only::Pending,
        };
        for plan in &mut plans {
            plan.keep_only(only);
        }
    }
    print_plans(global, &plans)?;
    if let Some(url) = args.notify.as_deref().filter(|u| !u.is_empty()) {
        // After the plan is printed: a failed post is exit 1, with the plan shown.
        runtime.block_on(async {
            for ((plan, cluster), drift) in plans.iter().zip(&clusters).zip(drifts) {
                super::alert::notify(cluster, plan, drift, url).await?;
            }
            anyhow::Ok(())
        })?;
    }
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
    // The exit code follows what is shown (after --only); 4 wins over 2.
    let changes = plans.iter().any(|p| p.summary().has_changes());
    let destructive = plans.iter().any(|p| p.summary().destructive > 0);
    let shown = if destructive && args.fail_on_destructive {
        Exit::Destructive
    } else if changes && !args.exit_zero {
        Exit::Changes
    } else {
        Exit::Success
    };
    Ok(super::apply::worse(failed, shown))
}
