//! `gitops man [--dir DIR]`: man pages generated from the command-line definitions: gitops(1)
//! on stdout, or one page per command (gitops.1, gitops-diff.1, …) written into DIR.

use clap::CommandFactory;

use crate::cli::{Cli, ManArgs};
use crate::exit::Exit;

pub fn run(args: &ManArgs) -> anyhow::Result<Exit> {
    let command = Cli::command();
    match &args.dir {
        Some(dir) => {
            std::fs::create_dir_all(dir)?;
            clap_mangen::generate_to(command, dir)
                .map_err(|e| anyhow::anyhow!("writing man pages to {}: {e}", dir.display()))?;
            crate::log::info(&format!("man pages written to {}", dir.display()));
        }
        None => {
            let mut page = Vec::new();
            clap_mangen::Man::new(command).render(&mut page)?;
            crate::report::write_stdout(&String::from_utf8_lossy(&page))?;
        }
    }
    Ok(Exit::Success)
}
