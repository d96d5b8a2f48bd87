//! `gitops diff [PATH]`: what applying would change, against the live cluster.
//! Exit 0 in sync, 2 with changes (0 with `--exit-zero`), 4 with a destructive change under
//! `--fail-on-destructive`, 1 on errors.

use super::alert::Drift;
use super::planning::{plan_target, print_plans, render_all, PlanSettings};
use crate::cli::{DiffArgs, GlobalArgs, OnlyCause};
use crate::cluster::Pool;
use crate::exit::Exit;
use crate::log::{self, Captured};
use crate::plan::{Only, Plan};
use crate::report::summary::Ending;
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
        several_targets: rendered.targets.len() > 1,
    };
    let runtime = super::runtime()?;
    let pool = Pool::default();
    let parallel = usize::from(args.parallel).max(1);
    let held_back = parallel > 1 && rendered.targets.len() > 1;
    let mut rows = super::planning::summary_rows(&rendered.targets);
    // Targets are planned `--parallel` at once; results come back in gitops.yaml order. With
    // --keep-going a target that cannot be planned is said and the others are planned;
    // without it, no target starts after one failed.
    let mut failed = Exit::Success;
    let stop = std::cell::Cell::new(false);
    let planned = runtime.block_on(async {
        use futures::stream::StreamExt;
        let (ignore, settings, pool, stop) = (&ignore, &settings, &pool, &stop);
        let mut results = futures::stream::iter(rendered.targets.into_iter().enumerate())
            .map(|(index, rendered)| async move {
                if stop.get() {
                    return (index, None, Captured::default(), 0.0);
                }
                let started = std::time::Instant::now();
                let work = async {
                    let revision = rendered.revision_label();
                    let target = rendered.target;
                    let cluster = pool
                        .connect(&target.connection, settings.concurrency)
                        .await?;
                    let plan = plan_target(
                        &cluster,
                        &target,
                        rendered.manifests,
                        rendered.hooks,
                        revision,
                        ignore.clone(),
                        settings,
                    )
                    .await?;
                    anyhow::Ok((plan, cluster))
                };
                let work = async {
                    let planned = work.await;
                    if planned.is_err() && !args.keep_going {
                        stop.set(true);
                    }
                    planned.map_err(|error| super::report_error(&error))
                };
                let (planned, said) = log::capture_when(held_back, work).await;
                (index, Some(planned), said, started.elapsed().as_secs_f64())
            })
            .buffered(parallel);
        let mut plans = Vec::new();
        while let Some((index, planned, said, seconds)) = results.next().await {
            said.flush()?;
            let row = &mut rows[index];
            row.seconds = seconds;
            match planned {
                None => {}
                Some(Ok((plan, cluster))) => {
                    let summary = plan.summary();
                    row.ending = if summary.has_changes() {
                        Ending::Changes
                    } else {
                        Ending::InSync
                    };
                    row.counts = Some(summary);
                    plans.push((plan, cluster));
                }
                Some(Err(code)) => {
                    row.ending = Ending::Failed;
                    failed = super::apply::worse(failed, code);
                }
            }
        }
        anyhow::Ok(plans)
    })?;
    if failed != Exit::Success && !args.keep_going {
        // Said already, with its target's output; the plans made are not shown.
        super::planning::print_summary(global, &rows)?;
        return Ok(failed);
    }
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
    super::planning::print_summary(global, &rows)?;
    Ok(super::apply::worse(failed, shown))
}
