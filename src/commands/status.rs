//! `gitops status` and `gitops history`: what the inventory says, and how the members are.

use std::collections::BTreeSet;

use serde_json::{json, Value};

use super::{resolve_all, run_flags, selection};
use crate::apply::health::{assess, Health};
use crate::cli::{GlobalArgs, OutputFormat};
use crate::cluster::{objects, Cluster, Discovery};
use crate::exit::Exit;
use crate::inventory::{self, Inventory, InventoryRef, Member};
use crate::report::table;
use crate::resolved::{Resolved, RunFlags};
use crate::source::{self, Relation};
use crate::target;

pub(super) struct Applied {
    pub target: String,
    /// The target as selected and resolved (its cluster and namespace).
    pub resolved: Resolved,
    pub at: InventoryRef,
    pub inventory: Option<Inventory>,
}

/// Reads the inventory of every selected target.
/// The clients are bound to `runtime`: use them on it only.
pub(super) fn read_inventories(
    runtime: &tokio::runtime::Runtime,
    global: &GlobalArgs,
    flags: &RunFlags,
) -> anyhow::Result<Vec<(Applied, Cluster)>> {
    let config = target::load_config(global.config.as_deref())?;
    let targets = target::select_applied(&selection(global, None), config.as_ref())?;
    let targets = resolve_all(targets, flags)?;
    runtime.block_on(async {
        let mut found = Vec::with_capacity(targets.len());
        for resolved in targets {
            let cluster = resolved.connection.connect().await?;
            let at = resolved.inventory.clone();
            let inventory = inventory::read(&cluster, &at).await?;
            found.push((
                Applied {
                    target: resolved.name().to_owned(),
                    resolved,
                    at,
                    inventory,
                },
                cluster,
            ));
        }
        Ok(found)
    })
}

pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(super::runtime()?)
}

pub fn history(global: &GlobalArgs) -> anyhow::Result<Exit> {
    let found = read_inventories(&runtime()?, global, &run_flags(global))?;
    let mut documents = Vec::new();
    let mut text = String::new();
    let mut markdown = String::new();
    for (applied, _) in &found {
        let entries = applied
            .inventory
            .as_ref()
            .map(|i| i.history.clone())
            .unwrap_or_default();
        documents.push(json!({"target": applied.target, "history": entries}));
        text.push_str(&format!(
            "Target {} (inventory {}/{})\n",
            applied.target, applied.at.namespace, applied.at.name
        ));
        markdown.push_str(&markdown_heading(applied));
        markdown.push('\n');
        if entries.is_empty() {
            text.push_str("  never applied\n");
            markdown.push_str("Never applied.\n\n");
            continue;
        }
        let rows: Vec<[String; 8]> = entries
            .iter()
            .rev()
            .map(|e| {
                [
                    e.time.clone(),
                    short(&e.revision),
                    e.author.clone().unwrap_or_else(|| "-".into()),
                    e.subject
                        .as_deref()
                        .map_or_else(|| "-".into(), |s| truncate(s, 50)),
                    if e.operation == "apply" {
                        e.result.clone()
                    } else {
                        format!("{} ({})", e.result, e.operation)
                    },
                    format!(
                        "+{} ~{} -{} ={}",
                        e.created, e.updated, e.deleted, e.unchanged
                    ),
                    format!("{:.1}s", e.duration_seconds),
                    e.user.clone().unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        let header = [
            "TIME", "REVISION", "AUTHOR", "SUBJECT", "RESULT", "CHANGES", "DURATION", "USER",
        ];
        text.push_str(&table::render(header, &rows, 2));
        markdown.push_str(&table::markdown(header, &rows));
        markdown.push('\n');
    }
    print(global, &documents, &text, &markdown)?;
    Ok(Exit::Success)
}

pub fn status(global: &GlobalArgs) -> anyhow::Result<Exit> {
    let runtime = runtime()?;
    let found = read_inventories(&runtime, global, &run_flags(global))?;
    let mut documents = Vec::new();
    let mut text = String::new();
    let mut markdown = String::new();
    for (applied, cluster) in &found {
        text.push_str(&format!(
            "Target {} (inventory {}/{})\n",
            applied.target, applied.at.namespace, applied.at.name
        ));
        markdown.push_str(&markdown_heading(applied));
        let Some(inventory) = &applied.inventory else {
            text.push_str("  never applied\n");
            markdown.push_str("Never applied.\n\n");
            documents.push(json!({"target": applied.target, "applied": false}));
            continue;
        };
        let health = runtime.block_on(member_health(cluster, &inventory.members))?;
        let last = inventory.history.last();
        if let Some(last) = last {
            let line = format!(
                "Revision {}, {} {} ({}, by {})",
                short(&inventory.revision),
                if last.operation == "rollback" {
                    "rolled back"
                } else {
                    "applied"
                },
                last.time,
                last.result,
                last.user.as_deref().unwrap_or("unknown")
            );
            text.push_str(&format!("{line}\n"));
            markdown.push_str(&format!("{line}  \n"));
        }
        let head = head_relation(&inventory.revision);
        if let Some((_, line)) = &head {
            text.push_str(&format!("{line}\n"));
            markdown.push_str(&format!("{line}\n"));
        }
        markdown.push('\n');
        let rows: Vec<[String; 4]> = inventory
            .members
            .iter()
            .zip(&health)
            .map(|(m, h)| {
                [
                    m.kind.clone(),
                    m.namespace.clone().unwrap_or_else(|| "-".into()),
                    m.name.clone(),
                    health_text(h),
                ]
            })
            .collect();
        let header = ["KIND", "NAMESPACE", "NAME", "HEALTH"];
        text.push_str(&table::render(header, &rows, 2));
        markdown.push_str(&table::markdown(header, &rows));
        markdown.push('\n');
        let members: Vec<Value> = inventory
            .members
            .iter()
            .zip(&health)
            .map(|(m, h)| {
                let (state, message) = health_parts(h);
                json!({"apiVersion": m.api_version(), "kind": m.kind, "namespace": m.namespace, "name": m.name, "health": state, "message": message})
            })
            .collect();
        documents.push(json!({
            "target": applied.target,
            "applied": true,
            "inventory": {"namespace": applied.at.namespace, "name": applied.at.name},
            "revision": inventory.revision,
            "head": head.map(|(value, _)| value),
            "lastApply": last,
            "members": members,
        }));
    }
    print(global, &documents, &text, &markdown)?;
    Ok(Exit::Success)
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

fn health_parts(health: &Health) -> (&'static str, &str) {
    match health {
        Health::Healthy => ("Healthy", ""),
        Health::Progressing(why) => ("Progressing", why),
        Health::Failed(why) => ("Degraded", why),
    }
}

fn health_text(health: &Health) -> String {
    match health_parts(health) {
        (state, "") => state.to_owned(),
        (state, why) => format!("{state}: {why}"),
    }
}

/// How the local repository's HEAD relates to the deployed revision, as JSON and as a line;
/// None outside Git.
fn head_relation(deployed: &str) -> Option<(Value, String)> {
    let cwd = source::base_dir();
    let (head, relation) = source::relation_to_head(&cwd, deployed)?;
    let (state, line) = match relation {
        Relation::Same => ("same", "HEAD is the deployed revision".to_owned()),
        Relation::Ahead(n) => (
            "ahead",
            format!(
                "HEAD {} is {n} commit(s) ahead of the deployed revision: `gitops diff` shows what applying it would change",
                short(&head)
            ),
        ),
        Relation::Diverged => (
            "diverged",
            format!(
                "HEAD {} does not contain the deployed revision (another branch, or history rewritten)",
                short(&head)
            ),
        ),
        Relation::Unknown if deployed == "unknown" => (
            "unknown",
            format!(
                "HEAD {}: the deployed objects were applied from outside Git, so there is no revision to compare",
                short(&head)
            ),
        ),
        Relation::Unknown => (
            "unknown",
            format!(
                "HEAD {}: the deployed revision is not a commit of this repository",
                short(&head)
            ),
        ),
    };
    let ahead = match relation {
        Relation::Ahead(n) => Some(n),
        Relation::Same => Some(0),
        _ => None,
    };
    Some((
        json!({"commit": head, "state": state, "ahead": ahead}),
        line,
    ))
}

/// At most `max` characters, with `…` when cut (the text table stays readable; JSON keeps all).
fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// Commit ids shortened to 12 characters, like `git log --oneline` in large repositories.
fn short(revision: &str) -> String {
    let (id, suffix) = revision
        .split_once('-')
        .map_or((revision, ""), |(a, b)| (a, b));
    let id = if id.len() == 40 && id.chars().all(|c| c.is_ascii_hexdigit()) {
        &id[..12]
    } else {
        id
    };
    if suffix.is_empty() {
        id.to_owned()
    } else {
        format!("{id}-{suffix}")
    }
}

/// `### shop` and where its inventory is, for `-o markdown`.
fn markdown_heading(applied: &Applied) -> String {
    format!(
        "### {}\n\nInventory `{}/{}`  \n",
        applied.target, applied.at.namespace, applied.at.name
    )
}

fn print(
    global: &GlobalArgs,
    documents: &[Value],
    text: &str,
    markdown: &str,
) -> std::io::Result<()> {
    match global.output {
        OutputFormat::Json => {
            let value = match documents {
                [one] => one.clone(),
                _ => Value::Array(documents.to_vec()),
            };
            crate::report::write_stdout(&format!("{value:#}\n"))
        }
        OutputFormat::Markdown => crate::report::write_stdout(markdown),
        OutputFormat::Text => crate::report::write_stdout(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_subjects_are_cut_in_the_table() {
        assert_eq!(truncate("short", 50), "short");
        let cut = truncate(&"x".repeat(80), 50);
        assert_eq!(cut.chars().count(), 50);
        assert!(cut.ends_with('…'));
    }
}
