//! gitops: parse the command line once, run, map the outcome to an exit code (SPEC.md).

use std::process::ExitCode;

use clap::Parser;
use gitops::cli::Cli;
use gitops::exit::{Exit, UsageError};
use gitops::{commands, log};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => return ExitCode::from(usage_exit(&error)),
    };
    log::init(cli.global.quiet, cli.global.verbose, cli.global.color);
    match commands::run(&cli) {
        Ok(exit) => ExitCode::from(exit.code()),
        Err(error) => ExitCode::from(report(&error).code()),
    }
}

/// clap's own exit code for bad usage is 2, which means "changes" here: use 64.
fn usage_exit(error: &clap::Error) -> u8 {
    use clap::error::ErrorKind;
    let _ = error.print();
    match error.kind() {
        ErrorKind::DisplayHelp
        | ErrorKind::DisplayVersion
        | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
            if error.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
                Exit::Usage.code()
            } else {
                Exit::Success.code()
            }
        }
        _ => Exit::Usage.code(),
    }
}

fn report(error: &anyhow::Error) -> Exit {
    if let Some(io) = error.downcast_ref::<std::io::Error>() {
        // `gitops render | head`: the reader left; that is not a failure of ours.
        if io.kind() == std::io::ErrorKind::BrokenPipe {
            return Exit::Success;
        }
    }
    let message = error
        .chain()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(": ");
    log::error(&message);
    if error.downcast_ref::<UsageError>().is_some() {
        Exit::Usage
    } else if matches!(
        error.downcast_ref::<gitops::apply::ApplyError>(),
        Some(gitops::apply::ApplyError::Destructive { .. })
    ) {
        Exit::Destructive
    } else {
        Exit::Error
    }
}
