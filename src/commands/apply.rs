//! `gitops apply [PATH]`: plan, apply by waves, prune, wait; exit 0, 1, or 3 when unhealthy.

use super::planning::{
    plan_target, print_plans_titled, render_all, PlanSettings, Rendered, RenderedTarget,
};
use crate::apply::{self, ApplyOptions, Outcome};
use crate::cli::{ApplyArgs, ApplyFlags, GlobalArgs};
use crate::cluster::lease::{self, LeaseError, LeaseGuard};
use crate::cluster::{Cluster, ClusterError, Pool};
use crate::exit::Exit;
use crate::log::{self, Captured};
use crate::report::summary::Ending;
use crate::resolved::{Resolved, RunFlags};
use crate::source::{self, Revision};

pub fn run(global: &GlobalArgs, args: &ApplyArgs) -> anyhow::Result<Exit> {
    let rendered = render_all(
        global,
        args.path.as_deref(),
        &run_flags(global, &args.flags),
    )?;
    execute(global, &args.flags, rendered, "apply")
}

/// The run's flags with those of `apply` and `rollback`.
pub(super) fn run_flags(global: &GlobalArgs, flags: &ApplyFlags) -> RunFlags {
    RunFlags {
        prune: crate::cli::prune_choice(flags.prune, flags.no_prune),
        create_namespace: flags.create_namespace,
        timeout: flags.timeout,
        ..super::run_flags(global)
    }
}

/// Plans, applies, prunes and waits for every rendered target; shared by `apply` and
/// `rollback` (`operation` is what the history records). Targets start in dependency order
/// (`dependsOn`, else gitops.yaml order), at most `--parallel` at once, each once every target
/// it depends on ended applied and healthy; a target whose dependency did not is skipped.
/// Without `--keep-going` a failed or unhealthy target stops the run: no new target starts.
/// With several at once, each target's output is held back and printed whole, in gitops.yaml
/// order.
pub(super) fn execute(
    global: &GlobalArgs,
    flags: &ApplyFlags,
    rendered: Rendered,
    operation: &'static str,
) -> anyhow::Result<Exit> {
    let ignore = rendered.ignore;
    let settings = PlanSettings {
        concurrency: usize::from(flags.concurrency),
        shortcut: true,
        several_targets: rendered.targets.len() > 1,
    };
    let names: Vec<String> = rendered
        .targets
        .iter()
        .map(|t| t.target.name().to_owned())
        .collect();
    let dependencies: Vec<Vec<usize>> = rendered
        .targets
        .iter()
        .map(|t| {
            t.target
                .target
                .depends_on
                .iter()
                .filter_map(|d| names.iter().position(|n| n == d))
                .collect()
        })
        .collect();
    let order = crate::target::dependency_order(
        &rendered
            .targets
            .iter()
            .map(|t| (t.target.name(), t.target.target.depends_on.as_slice()))
            .collect::<Vec<_>>(),
    );
    let mut rows = super::planning::summary_rows(&rendered.targets);
    let mut pending: Vec<Option<RenderedTarget>> = rendered.targets.into_iter().map(Some).collect();
    let parallel = usize::from(flags.parallel).max(1);
    let held_back = parallel > 1 && pending.len() > 1;
    let pool = Pool::default();
    let runtime = super::runtime()?;
    // A cancelled CI job (SIGINT, SIGTERM) gives the leases back (apply_target); the render
    // scratch guard must not exit the process first.
    crate::render::scratch::signals_handled_elsewhere(true);
    let exit = runtime.block_on(async {
        use futures::stream::{FuturesUnordered, StreamExt};
        let mut exit = Exit::Success;
        let mut finished: Vec<bool> = vec![false; rows.len()];
        let mut output: Vec<Option<Captured>> = (0..rows.len()).map(|_| None).collect();
        let mut printed = 0;
        let mut stopped = false;
        let mut running = FuturesUnordered::new();
        loop {
            // Start what is ready, in dependency order.
            for &index in &order {
                if stopped || running.len() >= parallel {
                    break;
                }
                if pending[index].is_none() {
                    continue;
                }
                let needs = &dependencies[index];
                if let Some(&failed) = needs
                    .iter()
                    .find(|&&d| finished[d] && !matches!(rows[d].ending, Ending::Applied))
                {
                    pending[index] = None;
                    let (dependency, name) = (rows[failed].target.clone(), rows[index].target.clone());
                    let ((), said) = log::capture(async {
                        log::error(&format!("target {name}: not applied: it depends on {dependency}, which did not end applied and healthy"));
                    })
                    .await;
                    rows[index].ending = Ending::Skipped(dependency);
                    finished[index] = true;
                    output[index] = Some(said);
                    continue;
                }
                if !needs.iter().all(|&d| finished[d]) {
                    continue;
                }
                let Some(target) = pending[index].take() else { continue };
                let (ignore, settings, pool) = (&ignore, &settings, &pool);
                running.push(async move {
                    let started = std::time::Instant::now();
                    let work = async {
                        let outcome = apply_target(global, flags, target, ignore, settings, pool, operation).await;
                        match outcome {
                            Ok((outcome, counts)) => (Ok(outcome), Some(counts)),
                            Err(error) => (Err(super::report_error(&error)), None),
                        }
                    };
                    let (result, said) = log::capture_when(held_back, work).await;
                    (index, result, said, started.elapsed().as_secs_f64())
                });
            }
            let Some((index, result, said, seconds)) = running.next().await else { break };
            finished[index] = true;
            output[index] = Some(said);
            let row = &mut rows[index];
            row.seconds = seconds;
            let (result, counts) = result;
            row.counts = counts;
            row.ending = match result {
                Ok(Outcome::Healthy) => Ending::Applied,
                Ok(Outcome::Unhealthy(_)) => {
                    exit = worse(exit, Exit::Unhealthy);
                    Ending::Unhealthy
                }
                Err(code) => {
                    exit = worse(exit, code);
                    if code == Exit::Destructive { Ending::Refused } else { Ending::Failed }
                }
            };
            if row.ending != Ending::Applied && !flags.keep_going {
                stopped = true;
            }
            // Whole groups, in gitops.yaml order, as soon as every earlier one is out.
            while printed < output.len() && finished[printed] {
                if let Some(said) = output[printed].take() {
                    said.flush()?;
                }
                printed += 1;
            }
        }
        for said in output.iter().flatten() {
            said.flush()?;
        }
        anyhow::Ok(exit)
    });
    crate::render::scratch::signals_handled_elsewhere(false);
    let exit = exit?;
    super::planning::print_summary(global, &rows)?;
    Ok(exit)
}

/// 1 over 4 over 3 over 2 over 0: an error says most about the run, a refused destructive plan
/// wrote nothing of that target, unhealthy is written but not well, changes are news only.
pub(super) fn worse(a: Exit, b: Exit) -> Exit {
    let rank = |e: Exit| match e {
        Exit::Usage => 5,
        Exit::Error => 4,
        Exit::Destructive => 3,
        Exit::Unhealthy => 2,
        Exit::Changes => 1,
        Exit::Success => 0,
    };
    if rank(b) > rank(a) {
        b
    } else {
        a
    }
}

/// One target: lease, plan, print, refuse or write, wait. Its outcome and plan counts.
async fn apply_target(
    global: &GlobalArgs,
    flags: &ApplyFlags,
    rendered: RenderedTarget,
    ignore: &[crate::config::IgnoreRule],
    settings: &PlanSettings,
    pool: &Pool,
    operation: &'static str,
) -> anyhow::Result<(Outcome, crate::plan::Summary)> {
    let revision = rendered.revision_label();
    let RenderedTarget {
        target,
        manifests,
        hooks,
        revision: revision_info,
    } = rendered;
    let cluster = pool
        .connect(&target.connection, settings.concurrency)
        .await?;
    let held = std::cell::RefCell::new(if flags.dry_run {
        None
    } else {
        take_lease(&cluster, &target).await?
    });
    let counts = std::cell::Cell::new(None);
    let result = async {
        let started = std::time::Instant::now();
        let plan = plan_target(
            &cluster,
            &target,
            manifests,
            hooks,
            revision,
            ignore.to_vec(),
            settings,
        )
        .await?;
        log::verbose(&format!(
            "target {}: planned in {} ms",
            target.name(),
            started.elapsed().as_millis()
        ));
        counts.set(Some(plan.summary()));
        print_plans_titled(
            global,
            std::slice::from_ref(&plan),
            settings.several_targets,
        )?;
        let options = options(flags, &target, revision_info, operation);
        // A dry run ends as the apply would: refused, or after the last check.
        apply::refuse_before_writing(&plan, &options)?;
        if flags.dry_run {
            log::info(&format!(
                "target {}: dry run, nothing written",
                target.name()
            ));
            return anyhow::Ok(Outcome::Healthy);
        }
        if held.borrow().is_none() {
            let guard = first_apply_lease(&cluster, &target, &plan).await?;
            *held.borrow_mut() = guard;
        }
        Ok(apply::execute(&cluster, &plan, &options).await?)
    };
    // A cancelled CI job (SIGINT, SIGTERM) gives the lease back instead of leaving it
    // to expire; what was written stays, and the next run continues from there.
    let result = tokio::select! {
        result = result => result,
        signal = interrupted() => Err(anyhow::anyhow!(
            "target {}: stopped by {signal} before the run finished; objects already written stay, the inventory was not updated, and the next apply continues from there",
            target.name()
        )),
    };
    // Released on every path: a failed preflight must not block the next run.
    if let Some(guard) = held.into_inner() {
        guard.release().await;
    }
    let outcome = result?;
    match &outcome {
        Outcome::Healthy if flags.dry_run => {}
        Outcome::Healthy if flags.no_wait => log::info(&format!(
            "target {}: applied; health not checked (--no-wait)",
            target.name()
        )),
        Outcome::Healthy => log::info(&format!("target {}: applied and healthy", target.name())),
        Outcome::Unhealthy(why) => log::error(&format!(
            "target {}: not healthy within {}s:\n{}",
            target.name(),
            target.timeout.as_secs(),
            crate::log::bullets(why)
        )),
    }
    Ok((outcome, counts.take().unwrap_or_default()))
}

/// Resolves when the process is asked to stop.
async fn interrupted() -> &'static str {
    use tokio::signal::unix::{signal, SignalKind};
    match signal(SignalKind::terminate()) {
        Ok(mut terminate) => tokio::select! {
            _ = tokio::signal::ctrl_c() => "SIGINT",
            _ = terminate.recv() => "SIGTERM",
        },
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            "SIGINT"
        }
    }
}

/// The target's lease, held until its inventory is written. A namespace that does not exist
/// yet (the first apply creates it) cannot hold one; that first run goes without.
async fn take_lease(cluster: &Cluster, target: &Resolved) -> anyhow::Result<Option<LeaseGuard>> {
    let namespace = &target.namespace;
    match lease::acquire(cluster, namespace, target.name(), &holder()).await {
        Ok(guard) => Ok(Some(guard)),
        Err(LeaseError::Cluster(ClusterError::Api { code: 404, .. })) => {
            log::verbose(&format!(
                "namespace {namespace} does not exist yet: no lease for this first apply"
            ));
            Ok(None)
        }
        Err(e) => Err(e.into()),
    }
}

/// The first apply into a namespace that does not exist yet could not take the lease before
/// planning. Now that everything passed the dry-run, the target's Namespace (planned as a create)
/// is written first and the lease taken in it before any other write: of two first applies,
/// one gets the lease and the other stops, having written only the same Namespace.
async fn first_apply_lease(
    cluster: &Cluster,
    target: &Resolved,
    plan: &crate::plan::Plan,
) -> anyhow::Result<Option<LeaseGuard>> {
    if !apply::create_namespace_first(cluster, plan, &target.namespace).await? {
        return Ok(None);
    }
    take_lease(cluster, target).await
}

/// Who holds a lease: user, host and process, and the CI job when there is one.
fn holder() -> String {
    let user = source::run_context()
        .user
        .unwrap_or_else(|| "someone".into());
    let host = lease::host();
    let job = ["GITHUB_RUN_ID", "CI_JOB_ID"]
        .iter()
        .find_map(|k| std::env::var(k).ok());
    match job {
        Some(job) => format!("{user}@{host} (pid {}, CI job {job})", std::process::id()),
        None => format!("{user}@{host} (pid {})", std::process::id()),
    }
}

fn options(
    flags: &ApplyFlags,
    target: &Resolved,
    revision: Option<Revision>,
    operation: &'static str,
) -> ApplyOptions {
    let run = source::run_context();
    ApplyOptions {
        wait: !flags.no_wait,
        timeout: target.timeout,
        force_conflicts: flags.force_conflicts,
        allow_empty: flags.allow_empty,
        fail_on_destructive: flags.fail_on_destructive,
        user: run.user,
        job_url: run.job_url,
        operation,
        source: target.source.clone(),
        revision,
        history_limit: target.target.history_limit,
    }
}
