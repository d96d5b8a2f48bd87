//! `gitops apply [PATH]`: plan, apply by waves, prune, wait; exit 0, 1, or 3 when unhealthy.

use serde_json::json;

use super::planning::{
    connect, default_namespace, plan_target, print_plans, render_all, source_path, PlanSettings,
};
use crate::apply::{self, ApplyOptions, Outcome};
use crate::cli::{ApplyArgs, GlobalArgs};
use crate::cluster::lease::{self, LeaseError, LeaseGuard};
use crate::cluster::{Cluster, ClusterError};
use crate::exit::Exit;
use crate::log;
use crate::target::Target;

/// Default wait for health (SPEC.md).
const DEFAULT_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(300);

pub fn run(global: &GlobalArgs, args: &ApplyArgs) -> anyhow::Result<Exit> {
    let rendered = render_all(global, args.path.as_deref())?;
    let ignore = rendered.ignore;
    let settings = PlanSettings {
        concurrency: usize::from(args.concurrency),
        shortcut: true,
        prune: if args.no_prune {
            Some(false)
        } else {
            args.prune.then_some(true)
        },
        create_namespace: args.create_namespace,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let mut exit = Exit::Success;
        for (target, manifests) in rendered.targets {
            let cluster = connect(global, &target).await?;
            let held = if args.dry_run {
                None
            } else {
                take_lease(global, &cluster, &target).await?
            };
            let result = async {
                let started = std::time::Instant::now();
                let plan = plan_target(
                    global,
                    &cluster,
                    &target,
                    manifests,
                    ignore.clone(),
                    &settings,
                )
                .await?;
                log::verbose(&format!(
                    "target {}: planned in {} ms",
                    target.name,
                    started.elapsed().as_millis()
                ));
                print_plans(global, std::slice::from_ref(&plan))?;
                if args.dry_run {
                    log::info(&format!("target {}: dry run, nothing written", target.name));
                    return anyhow::Ok(Outcome::Healthy);
                }
                let options = options(args, &target);
                Ok(apply::execute(&cluster, &plan, &options).await?)
            };
            // A cancelled CI job (SIGINT, SIGTERM) gives the lease back instead of leaving it
            // to expire; what was written stays, and the next run continues from there.
            let result = tokio::select! {
                result = result => result,
                signal = interrupted() => Err(anyhow::anyhow!(
                    "target {}: stopped by {signal} before the run finished; objects already written stay, the inventory was not updated, and the next apply continues from there",
                    target.name
                )),
            };
            // Released on every path: a failed preflight must not block the next run.
            if let Some(guard) = held {
                guard.release().await;
            }
            match result? {
                Outcome::Healthy if args.dry_run => {}
                Outcome::Healthy => {
                    log::info(&format!("target {}: applied and healthy", target.name))
                }
                Outcome::Unhealthy(why) => {
                    log::error(&format!(
                        "target {}: not healthy within {}s:\n{}",
                        target.name,
                        timeout(args, &target).as_secs(),
                        crate::report::bullets(&why)
                    ));
                    exit = Exit::Unhealthy;
                    // Later targets are not written once one is unhealthy.
                    break;
                }
            }
        }
        anyhow::Ok(exit)
    })
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
async fn take_lease(
    global: &GlobalArgs,
    cluster: &Cluster,
    target: &Target,
) -> anyhow::Result<Option<LeaseGuard>> {
    let namespace = default_namespace(global, target, cluster);
    match lease::acquire(cluster, &namespace, &target.name, &holder()).await {
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

/// Who holds a lease: user, host and process, and the CI job when there is one.
fn holder() -> String {
    let user = user().unwrap_or_else(|| "someone".into());
    let host = lease::host();
    let job = ["GITHUB_RUN_ID", "CI_JOB_ID"]
        .iter()
        .find_map(|k| std::env::var(k).ok());
    match job {
        Some(job) => format!("{user}@{host} (pid {}, CI job {job})", std::process::id()),
        None => format!("{user}@{host} (pid {})", std::process::id()),
    }
}

fn user() -> Option<String> {
    ["GITHUB_ACTOR", "GITLAB_USER_LOGIN", "USER"]
        .iter()
        .find_map(|key| std::env::var(key).ok().filter(|v| !v.is_empty()))
}

/// `--timeout`, else the target's, else 5m.
fn timeout(args: &ApplyArgs, target: &Target) -> std::time::Duration {
    args.timeout.or(target.timeout).unwrap_or(DEFAULT_TIMEOUT)
}

fn options(args: &ApplyArgs, target: &Target) -> ApplyOptions {
    ApplyOptions {
        wait: !args.no_wait,
        timeout: timeout(args, target),
        force_conflicts: args.force_conflicts,
        allow_empty: args.allow_empty,
        concurrency: usize::from(args.concurrency),
        user: user(),
        source: json!({"path": source_path(target).display().to_string(), "name": target.name}),
        revision: crate::source::revision_info(&source_path(target)),
    }
}
