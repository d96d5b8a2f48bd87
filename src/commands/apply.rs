//! `gitops apply [PATH]`: plan, apply by waves, prune, wait; exit 0, 1, or 3 when unhealthy.

use serde_json::json;

use super::planning::{connect, plan_target, print_plans, render_all, source_path, PlanSettings};
use crate::apply::{self, ApplyOptions, Outcome};
use crate::cli::{ApplyArgs, GlobalArgs};
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
            let plan = plan_target(
                global,
                &cluster,
                &target,
                manifests,
                ignore.clone(),
                &settings,
            )
            .await?;
            print_plans(global, std::slice::from_ref(&plan))?;
            if args.dry_run {
                log::info(&format!("target {}: dry run, nothing written", target.name));
                continue;
            }
            let options = options(args, &target);
            match apply::execute(&cluster, &plan, &options).await {
                Ok(Outcome::Healthy) => {
                    log::info(&format!("target {}: applied and healthy", target.name))
                }
                Ok(Outcome::Unhealthy(why)) => {
                    log::error(&format!(
                        "target {}: not healthy within {}s:\n{}",
                        target.name,
                        options.timeout.as_secs(),
                        why.iter()
                            .map(|w| format!("  - {w}"))
                            .collect::<Vec<_>>()
                            .join("\n")
                    ));
                    exit = Exit::Unhealthy;
                    // Later targets are not written once one is unhealthy.
                    break;
                }
                Err(e) => return Err(anyhow::Error::new(e)),
            }
        }
        anyhow::Ok(exit)
    })
}

fn options(args: &ApplyArgs, target: &Target) -> ApplyOptions {
    ApplyOptions {
        wait: !args.no_wait,
        timeout: args.timeout.or(target.timeout).unwrap_or(DEFAULT_TIMEOUT),
        force_conflicts: args.force_conflicts,
        allow_empty: args.allow_empty,
        concurrency: usize::from(args.concurrency),
        user: ["GITHUB_ACTOR", "GITLAB_USER_LOGIN", "USER"]
            .iter()
            .find_map(|key| std::env::var(key).ok().filter(|v| !v.is_empty())),
        source: json!({"path": source_path(target).display().to_string(), "name": target.name}),
    }
}
