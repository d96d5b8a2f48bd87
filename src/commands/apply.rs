//! `gitops apply [PATH]`: plan, apply by waves, prune, wait; exit 0, 1, or 3 when unhealthy.

use super::planning::{
    plan_target, print_plans, render_all, PlanSettings, Rendered, RenderedTarget,
};
use crate::apply::{self, ApplyOptions, Outcome};
use crate::cli::{ApplyArgs, ApplyFlags, GlobalArgs};
use crate::cluster::lease::{self, LeaseError, LeaseGuard};
use crate::cluster::{Cluster, ClusterError};
use crate::exit::Exit;
use crate::log;
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

/// Plans, applies, prunes and waits for every rendered target, one after the other in
/// dependency order (`dependsOn`, else gitops.yaml order); shared by `apply` and `rollback`
/// (`operation` is what the history records). A target whose dependency did not end applied
/// and healthy is skipped; without `--keep-going` a failed or unhealthy target stops the run.
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
    };
    let order = crate::target::dependency_order(
        &rendered
            .targets
            .iter()
            .map(|t| (t.target.name(), t.target.target.depends_on.as_slice()))
            .collect::<Vec<_>>(),
    );
    let mut pending: Vec<Option<RenderedTarget>> = rendered.targets.into_iter().map(Some).collect();
    let runtime = super::runtime()?;
    runtime.block_on(async {
        let mut exit = Exit::Success;
        let mut results: Vec<TargetResult> = Vec::new();
        let mut not_ok: Vec<String> = Vec::new();
        let mut stopped = false;
        for index in order {
            let Some(rendered) = pending[index].take() else { continue };
            let name = rendered.target.name().to_owned();
            let context = context_of(&rendered.target);
            let mut result = TargetResult { name: name.clone(), context, state: State::NotStarted, counts: None, seconds: 0.0 };
            if stopped {
                not_ok.push(name);
                results.push(result);
                continue;
            }
            if let Some(failed) = rendered.target.target.depends_on.iter().find(|d| not_ok.contains(d)) {
                log::error(&format!("target {name}: not applied: it depends on {failed}, which did not end applied and healthy"));
                result.state = State::Skipped(failed.clone());
                not_ok.push(name);
                results.push(result);
                continue;
            }
            let started = std::time::Instant::now();
            let outcome = apply_target(global, flags, rendered, &ignore, &settings, operation).await;
            result.seconds = started.elapsed().as_secs_f64();
            match outcome {
                Ok((outcome, counts)) => {
                    result.counts = Some(counts);
                    match outcome {
                        Outcome::Healthy => result.state = State::Applied,
                        Outcome::Unhealthy(_) => {
                            result.state = State::Unhealthy;
                            exit = worse(exit, Exit::Unhealthy);
                            not_ok.push(name);
                            // Later targets are not written once one is unhealthy, unless asked.
                            stopped = !flags.keep_going;
                        }
                    }
                }
                Err(error) if !flags.keep_going => {
                    result.state = State::Failed;
                    results.push(result);
                    results.extend(pending.iter().flatten().map(|t| TargetResult {
                        name: t.target.name().to_owned(),
                        context: context_of(&t.target),
                        state: State::NotStarted,
                        counts: None,
                        seconds: 0.0,
                    }));
                    print_summary(&results);
                    return Err(error);
                }
                Err(error) => {
                    exit = worse(exit, super::report_error(&error));
                    result.state = State::Failed;
                    not_ok.push(name);
                }
            }
            results.push(result);
        }
        print_summary(&results);
        anyhow::Ok(exit)
    })
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

/// How one target of the run ended.
enum State {
    Applied,
    Unhealthy,
    Failed,
    /// Not applied because this dependency did not end applied and healthy.
    Skipped(String),
    NotStarted,
}

struct TargetResult {
    name: String,
    context: String,
    state: State,
    counts: Option<crate::plan::Summary>,
    seconds: f64,
}

/// The kube context a target uses, as the summary shows it.
fn context_of(target: &Resolved) -> String {
    target
        .connection
        .context
        .clone()
        .unwrap_or_else(|| "(current)".to_owned())
}

/// The run's table, on stderr, when it had several targets.
fn print_summary(results: &[TargetResult]) {
    if results.len() < 2 {
        return;
    }
    let rows: Vec<[String; 6]> = results
        .iter()
        .map(|r| {
            let counts = r.counts.as_ref().map_or_else(
                || "-".to_owned(),
                |c| format!("+{} ~{} -{}", c.create, c.update, c.delete),
            );
            let drift = r
                .counts
                .as_ref()
                .map_or_else(|| "-".to_owned(), |c| c.drift.to_string());
            let state = match &r.state {
                State::Applied => "applied".to_owned(),
                State::Unhealthy => "unhealthy".to_owned(),
                State::Failed => "failed".to_owned(),
                State::Skipped(dependency) => format!("skipped ({dependency} did not succeed)"),
                State::NotStarted => "not started".to_owned(),
            };
            [
                r.name.clone(),
                r.context.clone(),
                counts,
                drift,
                state,
                format!("{:.1}s", r.seconds),
            ]
        })
        .collect();
    let table = crate::report::table::render(
        ["TARGET", "CONTEXT", "CHANGES", "DRIFT", "RESULT", "TIME"],
        &rows,
        2,
    );
    log::info(&format!("Summary:\n{table}"));
}

/// One target: lease, plan, print, refuse or write, wait. Its outcome and plan counts.
async fn apply_target(
    global: &GlobalArgs,
    flags: &ApplyFlags,
    rendered: RenderedTarget,
    ignore: &[crate::config::IgnoreRule],
    settings: &PlanSettings,
    operation: &'static str,
) -> anyhow::Result<(Outcome, crate::plan::Summary)> {
    let revision = rendered.revision_label();
    let RenderedTarget {
        target,
        manifests,
        hooks,
        revision: revision_info,
    } = rendered;
    let cluster = target
        .connection
        .connect()
        .await?
        .with_concurrency(settings.concurrency);
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
        print_plans(global, std::slice::from_ref(&plan))?;
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
    crate::render::scratch::signals_handled_elsewhere(true);
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
    crate::render::scratch::signals_handled_elsewhere(false);
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
