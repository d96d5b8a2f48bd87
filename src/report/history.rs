//! `gitops history`: each target's applies as a table (newest first), and one apply in full
//! (`--show N`). Text, Markdown and JSON over the records as read.

use serde_json::json;

use super::status::{markdown_heading, short, truncate, Applied, Rendered};
use super::{table, SCHEMA_VERSION};
use crate::inventory::HistoryEntry;

/// Past applies of each target, newest first in the tables, oldest first in JSON (a log).
pub fn list(targets: &[Applied<'_>]) -> Rendered {
    let mut documents = Vec::new();
    let mut text = String::new();
    let mut markdown = String::new();
    for applied in targets {
        let records = &applied.history.records;
        documents.push(json!({
            "schemaVersion": SCHEMA_VERSION,
            "target": applied.target,
            "inventory": {"namespace": applied.at.namespace, "name": applied.at.name},
            "applied": applied.inventory.is_some(),
            "history": records,
            "unreadable": applied.history.unreadable,
        }));
        text.push_str(&format!(
            "Target {} (inventory {}/{})\n",
            applied.target, applied.at.namespace, applied.at.name
        ));
        markdown.push_str(&markdown_heading(applied));
        markdown.push('\n');
        for what in &applied.history.unreadable {
            text.push_str(&format!("  skipped {what}\n"));
        }
        if records.is_empty() {
            text.push_str("  never applied\n");
            markdown.push_str("Never applied.\n\n");
            continue;
        }
        let rows: Vec<[String; 9]> = records.iter().rev().map(row).collect();
        let header = [
            "#", "TIME", "REVISION", "AUTHOR", "SUBJECT", "RESULT", "CHANGES", "DURATION", "USER",
        ];
        text.push_str(&table::render(header, &rows, 2));
        markdown.push_str(&table::markdown(header, &rows));
        markdown.push('\n');
    }
    Rendered {
        documents,
        text,
        markdown,
    }
}

fn row(e: &HistoryEntry) -> [String; 9] {
    [
        number(e),
        e.time.clone(),
        short(&e.revision),
        e.author.clone().unwrap_or_else(|| "-".into()),
        e.subject
            .as_deref()
            .map_or_else(|| "-".into(), |s| truncate(s, 50)),
        result(e),
        counts(e),
        format!("{:.1}s", e.duration_seconds),
        e.user.clone().unwrap_or_else(|| "-".into()),
    ]
}

fn number(e: &HistoryEntry) -> String {
    e.number.to_string()
}

fn result(e: &HistoryEntry) -> String {
    if e.is_rollback() {
        format!("{} (rollback)", e.result)
    } else {
        e.result.clone()
    }
}

fn counts(e: &HistoryEntry) -> String {
    format!(
        "+{} ~{} -{} ={}",
        e.created, e.updated, e.deleted, e.unchanged
    )
}

const UNKNOWN: &str = "unknown";

/// One apply in full: what it changed object by object, who ran it, each wave and its time.
pub fn show(applied: &Applied<'_>, entry: &HistoryEntry) -> Rendered {
    let document = json!({
        "schemaVersion": SCHEMA_VERSION,
        "target": applied.target,
        "inventory": {"namespace": applied.at.namespace, "name": applied.at.name},
        "record": entry,
    });
    let or_unknown = |value: &Option<String>| value.clone().unwrap_or_else(|| UNKNOWN.into());
    let mut facts: Vec<(&str, String)> = vec![
        (
            "Operation",
            match &entry.rolled_back_from {
                Some(from) => format!("{} (from {})", entry.operation, short(from)),
                None => entry.operation.clone(),
            },
        ),
        ("Revision", entry.revision.clone()),
        ("Subject", or_unknown(&entry.subject)),
        ("Author", or_unknown(&entry.author)),
        ("Committed", or_unknown(&entry.commit_time)),
        ("Result", entry.result.clone()),
        ("Started", or_unknown(&entry.started)),
        (
            "Ended",
            format!("{} ({:.1}s)", entry.time, entry.duration_seconds),
        ),
        ("Ran by", or_unknown(&entry.user)),
        (
            "CI job",
            entry.job_url.clone().unwrap_or_else(|| "-".into()),
        ),
        ("Changes", counts(entry)),
    ];
    if let Some(error) = &entry.error {
        facts.push(("Error", error.clone()));
    }
    let heading = format!(
        "Target {} (inventory {}/{}), apply #{}",
        applied.target, applied.at.namespace, applied.at.name, entry.number
    );
    let width = facts.iter().map(|(k, _)| k.len()).max().unwrap_or(0) + 1;
    let mut text = format!("{heading}\n");
    let mut markdown = format!("### {heading}\n\n");
    for (key, value) in &facts {
        text.push_str(&format!("  {:width$} {value}\n", format!("{key}:")));
        markdown.push_str(&format!("- **{key}:** {}\n", value.replace('\n', " ")));
    }
    markdown.push('\n');
    let waves: Vec<[String; 4]> = entry
        .waves
        .iter()
        .map(|w| {
            [
                w.wave.to_string(),
                w.objects.to_string(),
                format!("{:.1}s", w.seconds),
                w.result.clone(),
            ]
        })
        .collect();
    text.push_str("Waves:\n");
    markdown.push_str("#### Waves\n\n");
    if waves.is_empty() {
        text.push_str(&format!("  {UNKNOWN} (recorded by an older gitops)\n"));
        markdown.push_str(&format!("{UNKNOWN} (recorded by an older gitops)\n\n"));
    } else {
        let header = ["WAVE", "OBJECTS", "TIME", "RESULT"];
        text.push_str(&table::render(header, &waves, 2));
        markdown.push_str(&table::markdown(header, &waves));
        markdown.push('\n');
    }
    if !entry.hooks.is_empty() {
        let hooks: Vec<[String; 5]> = entry
            .hooks
            .iter()
            .map(|h| {
                let result = match &h.message {
                    Some(why) => format!("{}: {why}", h.result),
                    None => h.result.clone(),
                };
                [
                    h.phase.clone(),
                    h.wave.to_string(),
                    h.object.clone(),
                    format!("{:.1}s", h.seconds),
                    result,
                ]
            })
            .collect();
        let header = ["PHASE", "WAVE", "HOOK", "TIME", "RESULT"];
        text.push_str("Hooks:\n");
        text.push_str(&table::render(header, &hooks, 2));
        markdown.push_str("#### Hooks\n\n");
        markdown.push_str(&table::markdown(header, &hooks));
        markdown.push('\n');
    }
    let objects: Vec<[String; 4]> = entry
        .changes
        .iter()
        .map(|c| {
            [
                c.action.clone(),
                format!("{} {}", c.api_version, c.kind),
                c.namespace.clone().unwrap_or_else(|| "-".into()),
                c.name.clone(),
            ]
        })
        .collect();
    text.push_str("Objects changed:\n");
    markdown.push_str("#### Objects changed\n\n");
    if objects.is_empty() {
        let none = if entry.wrote() {
            format!("{UNKNOWN} (recorded by an older gitops)")
        } else {
            "none".to_owned()
        };
        text.push_str(&format!("  {none}\n"));
        markdown.push_str(&format!("{none}\n"));
    } else {
        let header = ["ACTION", "KIND", "NAMESPACE", "NAME"];
        text.push_str(&table::render(header, &objects, 2));
        markdown.push_str(&table::markdown(header, &objects));
        if entry.changes_omitted > 0 {
            let more = format!("and {} more, not listed\n", entry.changes_omitted);
            text.push_str(&format!("  {more}"));
            markdown.push_str(&format!("\n{more}"));
        }
    }
    Rendered {
        documents: vec![document],
        text,
        markdown,
    }
}
