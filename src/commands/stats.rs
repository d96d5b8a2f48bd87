//! `gitops stats [--since 90d]`: delivery figures per target from the recorded applies. Reads
//! only: one LIST of each target's history.

use super::{resolve_all, run_flags, selection};
use crate::audit::stats::{measure, Window};
use crate::cli::{GlobalArgs, OutputFormat, StatsArgs};
use crate::exit::Exit;
use crate::inventory;
use crate::report::stats::{render, TargetFigures};
use crate::target;

pub fn run(global: &GlobalArgs, args: &StatsArgs) -> anyhow::Result<Exit> {
    let until = jiff::Timestamp::now();
    let window = Window {
        since: args.since.start(until),
        until,
    };
    let config = target::load_config(global.config.as_deref())?;
    let targets = target::select_applied(&selection(global, None), config.as_ref())?;
    let targets = resolve_all(targets, &run_flags(global))?;
    let runtime = super::runtime()?;
    let histories = runtime.block_on(async {
        let reads = targets.iter().map(|resolved| async move {
            let cluster = resolved.connection.connect().await?;
            anyhow::Ok(inventory::history::read(&cluster, &resolved.inventory).await?)
        });
        futures::future::try_join_all(reads).await
    })?;
    let figures: Vec<TargetFigures<'_>> = targets
        .iter()
        .zip(&histories)
        .map(|(resolved, history)| TargetFigures {
            target: resolved.name(),
            applied: history.applied,
            samples: measure(&history.records, &window),
            unreadable: history.unreadable.len(),
        })
        .collect();
    let rendered = render(&figures, &window);
    crate::report::write_stdout(match global.output {
        OutputFormat::Json => &rendered.json,
        OutputFormat::Markdown => &rendered.markdown,
        OutputFormat::Csv => &rendered.csv,
        OutputFormat::Text => &rendered.text,
    })?;
    Ok(Exit::Success)
}
