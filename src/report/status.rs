//! `gitops status` for people and machines: a text table, Markdown for a job summary, JSON
//! documents. Plain functions over what the commands read (`history` renders the history).

use serde_json::{json, Value};

use super::table;
use crate::inventory::{History, Inventory, InventoryRef};
use crate::source::Relation;

/// One target's inventory, as read.
pub struct Applied<'a> {
    pub target: &'a str,
    pub at: &'a InventoryRef,
    /// None: never applied.
    pub inventory: Option<&'a Inventory>,
    pub history: &'a History,
}

/// A member's health: its state (`Healthy`, `Progressing`, `Degraded`) and why.
pub type MemberHealth<'a> = (&'static str, &'a str);

/// What `status` shows of an applied target besides its inventory: each member's health (in
/// the inventory's order), and how the local HEAD relates to the deployed revision (None
/// outside Git).
pub struct Live<'a> {
    pub health: Vec<MemberHealth<'a>>,
    pub head: Option<(String, Relation)>,
}

/// The three renderings of a result; the command prints the one asked for.
#[derive(Debug, Default)]
pub struct Rendered {
    pub documents: Vec<Value>,
    pub text: String,
    pub markdown: String,
}

impl Rendered {
    /// One document for one target, a list for several.
    pub fn json(&self) -> String {
        let value = match self.documents.as_slice() {
            [one] => one.clone(),
            all => Value::Array(all.to_vec()),
        };
        format!("{value:#}\n")
    }
}

/// What each target's inventory says is deployed, with its members' health.
pub fn status(targets: &[(Applied<'_>, Option<Live<'_>>)]) -> Rendered {
    let mut documents = Vec::new();
    let mut text = String::new();
    let mut markdown = String::new();
    for (applied, live) in targets {
        text.push_str(&format!(
            "Target {} (inventory {}/{})\n",
            applied.target, applied.at.namespace, applied.at.name
        ));
        markdown.push_str(&markdown_heading(applied));
        let (Some(inventory), Some(live)) = (applied.inventory, live) else {
            text.push_str("  never applied\n");
            markdown.push_str("Never applied.\n\n");
            documents.push(json!({
                "schemaVersion": super::SCHEMA_VERSION,
                "target": applied.target,
                "applied": false,
            }));
            continue;
        };
        let last = applied.history.last();
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
        let head = live
            .head
            .clone()
            .map(|(head, relation)| head_relation(&head, relation, &inventory.revision));
        if let Some((_, line)) = &head {
            text.push_str(&format!("{line}\n"));
            markdown.push_str(&format!("{line}\n"));
        }
        markdown.push('\n');
        let rows: Vec<[String; 4]> = inventory
            .members
            .iter()
            .zip(&live.health)
            .map(|(m, h)| {
                [
                    m.kind.clone(),
                    m.namespace.clone().unwrap_or_else(|| "-".into()),
                    m.name.clone(),
                    health_text(*h),
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
            .zip(&live.health)
            .map(|(m, h)| {
                let (state, message) = *h;
                json!({"apiVersion": m.api_version(), "kind": m.kind, "namespace": m.namespace, "name": m.name, "health": state, "message": message})
            })
            .collect();
        documents.push(json!({
            "schemaVersion": super::SCHEMA_VERSION,
            "target": applied.target,
            "applied": true,
            "inventory": {"namespace": applied.at.namespace, "name": applied.at.name},
            "revision": inventory.revision,
            "head": head.map(|(value, _)| value),
            "lastApply": last,
            "members": members,
        }));
    }
    Rendered {
        documents,
        text,
        markdown,
    }
}

fn health_text((state, why): MemberHealth<'_>) -> String {
    match why {
        "" => state.to_owned(),
        why => format!("{state}: {why}"),
    }
}

/// How the local repository's HEAD relates to the deployed revision, as JSON and as a line.
fn head_relation(head: &str, relation: Relation, deployed: &str) -> (Value, String) {
    let (state, line) = match relation {
        Relation::Same => ("same", "HEAD is the deployed revision".to_owned()),
        Relation::Ahead(n) => (
            "ahead",
            format!(
                "HEAD {} is {n} commit(s) ahead of the deployed revision: `gitops diff` shows what applying it would change",
                short(head)
            ),
        ),
        Relation::Diverged => (
            "diverged",
            format!(
                "HEAD {} does not contain the deployed revision (another branch, or history rewritten)",
                short(head)
            ),
        ),
        Relation::Unknown if deployed == "unknown" => (
            "unknown",
            format!(
                "HEAD {}: the deployed objects were applied from outside Git, so there is no revision to compare",
                short(head)
            ),
        ),
        Relation::Unknown => (
            "unknown",
            format!(
                "HEAD {}: the deployed revision is not a commit of this repository",
                short(head)
            ),
        ),
    };
    let ahead = match relation {
        Relation::Ahead(n) => Some(n),
        Relation::Same => Some(0),
        _ => None,
    };
    (
        json!({"commit": head, "state": state, "ahead": ahead}),
        line,
    )
}

/// At most `max` characters, with `…` when cut (the text table stays readable; JSON keeps all).
pub(super) fn truncate(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(max - 1).collect();
    cut.push('…');
    cut
}

/// Commit ids shortened to 12 characters, like `git log --oneline` in large repositories.
pub(super) fn short(revision: &str) -> String {
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
pub(super) fn markdown_heading(applied: &Applied<'_>) -> String {
    format!(
        "### {}\n\nInventory `{}/{}`  \n",
        applied.target, applied.at.namespace, applied.at.name
    )
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
