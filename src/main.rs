//! gitops: parse the command line once, run, map the outcome to an exit code (SPEC.md).

use std::process::ExitCode;

use clap::Parser;
use gitops::cli::Cli;
use gitops::exit::Exit;
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
    commands::report_error(error)
}
