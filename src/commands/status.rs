//! `gitops status` and `gitops history`: what the inventory says, and how the members are.

use std::collections::BTreeSet;

use super::{resolve_all, run_flags, selection};
use crate::apply::health::{assess, Health};
use crate::cli::{GlobalArgs, HistoryArgs, OutputFormat, StatusArgs};
use crate::cluster::{objects, Cluster, Discovery, Pool};
use crate::exit::{Exit, UsageError};
use crate::inventory::{self, History, HistoryEntry, Inventory, Member};
use crate::report::history as history_report;
use crate::report::status::{self as report, Applied as Shown, Live, Rendered};
use crate::resolved::{Resolved, RunFlags};
use crate::source;
use crate::target;

pub(super) struct Applied {
    /// The target as selected and resolved (its cluster, namespace and inventory ref).
    pub resolved: Resolved,
    /// Its inventory as read (None: never applied).
    pub inventory: Option<Inventory>,
    /// Its history of applies.
    pub history: History,
}

/// Reads the inventory of every selected target, a few targets at once (reads only), with
/// one client per cluster. The clients are bound to `runtime`: use them on it only.
pub(super) fn read_inventories(
    runtime: &tokio::runtime::Runtime,
    global: &GlobalArgs,
    flags: &RunFlags,
) -> anyhow::Result<Vec<(Applied, Cluster)>> {
    read_inventories_at_once(runtime, global, flags, DEFAULT_PARALLEL)
}

/// Targets read at once unless `--parallel` says.
const DEFAULT_PARALLEL: usize = 4;

fn read_inventories_at_once(
    runtime: &tokio::runtime::Runtime,
    global: &GlobalArgs,
    flags: &RunFlags,
    parallel: usize,
) -> anyhow::Result<Vec<(Applied, Cluster)>> {
    use futures::stream::{StreamExt, TryStreamExt};
    let config = target::load_config(global.config.as_deref())?;
    let targets = target::select_applied(&selection(global, None), config.as_ref())?;
    let targets = resolve_all(targets, flags)?;
    let pool = Pool::default();
    let pool = &pool;
    runtime.block_on(
        futures::stream::iter(targets)
            .map(|resolved| async move {
                let cluster = pool
                    .connect(&resolved.connection, crate::cluster::DEFAULT_CONCURRENCY)
                    .await?;
                let inventory = inventory::read(&cluster, &resolved.inventory).await?;
                let history = match &inventory {
                    Some(_) => inventory::history::read(&cluster, &resolved.inventory).await?,
                    None => History::default(),
                };
                anyhow::Ok((
                    Applied {
                        resolved,
                        inventory,
                        history,
                    },
                    cluster,
                ))
            })
            .buffered(parallel.max(1))
            .try_collect(),
    )
}

pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(super::runtime()?)
}

pub fn history(global: &GlobalArgs, args: &HistoryArgs) -> anyhow::Result<Exit> {
    let found = read_inventories(&runtime()?, global, &run_flags(global))?;
    let shown: Vec<Shown<'_>> = found.iter().map(|(applied, _)| shown(applied)).collect();
    if args.show.is_none() && args.revision.is_none() {
        print(global, &history_report::list(&shown))?;
        return Ok(Exit::Success);
    }
    let [one] = shown.as_slice() else {
        return Err(UsageError(format!(
            "--show and --revision show one apply of one target, and {} targets are selected: pass --target NAME (or --name NAME)",
            shown.len()
        ))
        .into());
    };
    let records = &one.history.records;
    let entry = match (args.show, &args.revision) {
        (Some(number), _) => one.history.numbered(number).ok_or_else(|| {
            anyhow::anyhow!(
                "target {}: no apply #{number} in its history ({})",
                one.target,
                kept(records)
            )
        })?,
        (None, Some(revision)) => newest_of_revision(records, revision).ok_or_else(|| {
            anyhow::anyhow!(
                "target {}: no apply of revision {revision:?} in its history ({})",
                one.target,
                kept(records)
            )
        })?,
        (None, None) => unreachable!("handled above"),
    };
    print(global, &history_report::show(one, entry))?;
    Ok(Exit::Success)
}

/// The records kept, said for a message.
fn kept(records: &[HistoryEntry]) -> String {
    match (records.first(), records.last()) {
        (Some(first), Some(last)) => {
            format!("it keeps #{} to #{}", first.number, last.number)
        }
        _ => "it is empty: the target was never applied".to_owned(),
    }
}

/// The newest record of a revision given in full or by a prefix of 4 or more characters.
fn newest_of_revision<'a>(records: &'a [HistoryEntry], wanted: &str) -> Option<&'a HistoryEntry> {
    let wanted = wanted.trim().to_ascii_lowercase();
    if wanted.len() < 4 {
        return None;
    }
    records
        .iter()
        .rev()
        .find(|r| r.revision == wanted || r.revision.starts_with(&wanted))
}

pub fn status(global: &GlobalArgs, args: &StatusArgs) -> anyhow::Result<Exit> {
    use futures::stream::{StreamExt, TryStreamExt};
    let runtime = runtime()?;
    let parallel = usize::from(args.parallel);
    let found = read_inventories_at_once(&runtime, global, &run_flags(global), parallel)?;
    let health: Vec<Option<Vec<Health>>> = runtime.block_on(
        futures::stream::iter(&found)
            .map(|(applied, cluster)| async move {
                match &applied.inventory {
                    Some(inventory) => member_health(cluster, &inventory.members).await.map(Some),
                    None => Ok(None),
                }
            })
            .buffered(parallel.max(1))
            .try_collect(),
    )?;
    let base = source::base_dir();
    let targets: Vec<(Shown<'_>, Option<Live<'_>>)> = found
        .iter()
        .zip(&health)
        .map(|((applied, _), health)| {
            let live = health.as_ref().map(|health| Live {
                health: health.iter().map(Health::parts).collect(),
                head: applied
                    .inventory
                    .as_ref()
                    .and_then(|i| source::relation_to_head(&base, &i.revision)),
            });
            (shown(applied), live)
        })
        .collect();
    print(global, &report::status(&targets))?;
    Ok(Exit::Success)
}

fn shown(applied: &Applied) -> Shown<'_> {
    Shown {
        target: applied.resolved.name(),
        at: &applied.resolved.inventory,
        inventory: applied.inventory.as_ref(),
        history: &applied.history,
    }
}

async fn member_health(cluster: &Cluster, members: &[Member]) -> anyhow::Result<Vec<Health>> {
    let api_versions: BTreeSet<String> = members.iter().map(Member::api_version).collect();
    let discovery = Discovery::run(cluster, api_versions).await?;
    let discovery = &discovery;
    let health = cluster
        .each(members, |member| async move {
            let Some(info) = discovery.resolve(&member.api_version(), &member.kind) else {
                return Ok(Health::Failed("kind no longer served".into()));
            };
            let live =
                objects::get(cluster, info, member.namespace.as_deref(), &member.name).await?;
            Ok(match live {
                Some(object) => assess(&member.group, &member.kind, &object),
                None => Health::Failed("missing".into()),
            })
        })
        .await;
    health.into_iter().collect()
}

fn print(global: &GlobalArgs, rendered: &Rendered) -> std::io::Result<()> {
    crate::report::write_stdout(&match global.output {
        OutputFormat::Json => rendered.json(),
        OutputFormat::Markdown => rendered.markdown.clone(),
        OutputFormat::Text | OutputFormat::Csv => rendered.text.clone(),
    })
}
