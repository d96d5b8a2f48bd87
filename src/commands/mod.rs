//! Glue from parsed arguments to the stages, one module per command.

mod apply;
mod diff;
mod planning;
mod render;
mod status;
mod targets;
mod version;

use crate::cli::{Cli, Command, GlobalArgs};
use crate::exit::Exit;
use crate::target::{Selection, Target};

/// Runs the command; errors are reported by main, which maps them to exit codes.
pub fn run(cli: &Cli) -> anyhow::Result<Exit> {
    match &cli.command {
        Command::Render(args) => render::run(&cli.global, args),
        Command::Diff(args) => diff::run(&cli.global, args),
        Command::Apply(args) => apply::run(&cli.global, args),
        Command::Status => status::status(&cli.global),
        Command::History => status::history(&cli.global),
        Command::Targets(args) => targets::run(&cli.global, args),
        Command::Version => version::run(&cli.global),
    }
}

fn selection(global: &GlobalArgs, path: Option<&str>) -> Selection {
    Selection {
        path: path.map(str::to_owned),
        targets: global.targets.clone(),
        name: global.name.clone(),
    }
}

/// Namespace for objects that name none: `-n`, else the target's, else the kube context's,
/// else `default` (SPEC.md, Global flags).
fn default_namespace(global: &GlobalArgs, target: &Target) -> String {
    global
        .namespace
        .clone()
        .or_else(|| target.namespace.clone())
        .or_else(|| {
            let context = global.context.as_deref().or(target.context.as_deref());
            crate::cluster::context_namespace(global.kubeconfig.as_deref(), context)
        })
        .unwrap_or_else(|| "default".to_owned())
}
