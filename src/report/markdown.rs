//! The plan as Markdown for a pull-request comment or a job summary, kept under 60,000
//! characters (GitHub refuses comments over 65,536).

use crate::plan::{Change, Plan};

use super::cause;
use super::text::{hidden_line, summary_line};

/// Largest output; diffs that do not fit are cut with a note.
pub const LIMIT: usize = 60_000;

/// Most rows of the changes table; the sections below name every change that fits.
const TABLE_ROWS: usize = 100;

pub fn render(plans: &[Plan]) -> String {
    let mut head = String::from("### gitops plan\n\n| target | revision | create | update | delete | unchanged | drifted | destructive |\n|---|---|---:|---:|---:|---:|---:|---:|\n");
    for plan in plans {
        let s = plan.summary();
        head.push_str(&format!(
            "| {} | `{}` | {} | {} | {} | {} | {} | {} |\n",
            plan.target,
            plan.revision,
            s.create,
            s.update,
            s.delete,
            s.unchanged,
            s.drift,
            s.destructive
        ));
    }
    head.push('\n');
    // Drift first: it is what someone must look at; then destructive changes, then the rest.
    let mut changes: Vec<(&Plan, &Change)> = plans
        .iter()
        .flat_map(|plan| plan.changed().map(move |change| (plan, change)))
        .collect();
    changes.sort_by_key(|(_, c)| (!c.cause.drifted(), c.destructive.is_none()));
    if !changes.is_empty() {
        head.push_str("| | object | target | cause |\n|---|---|---|---|\n");
        for (plan, change) in changes.iter().take(TABLE_ROWS) {
            let mut cause = cause::label(change);
            if let Some(destructive) = &change.destructive {
                cause.push_str(&format!("; **destructive**: {}", destructive.reason));
            }
            head.push_str(&format!(
                "| `{}` | `{}` | {} | {} |\n",
                change.action.symbol(),
                change.describe(),
                plan.target,
                cause.replace('|', "\\|")
            ));
        }
        if changes.len() > TABLE_ROWS {
            head.push_str(&format!(
                "\n_… and {} more changes._\n",
                changes.len() - TABLE_ROWS
            ));
        }
        head.push('\n');
    }
    let hooks: Vec<String> = plans
        .iter()
        .flat_map(|plan| {
            super::hooks::lines(plan)
                .into_iter()
                .map(move |line| format!("- `{line}` ({})\n", plan.target))
        })
        .collect();
    if !hooks.is_empty() {
        head.push_str("Hooks (run by apply, not counted as changes):\n\n");
        head.push_str(&hooks.concat());
        head.push('\n');
    }
    let mut sections = Vec::new();
    for (plan, change) in changes {
        let mut section = format!(
            "<details><summary><code>{} {}</code> ({})</summary>\n\n",
            change.action.symbol(),
            change.describe(),
            plan.target
        );
        section.push_str(&format!("_{}_\n\n", cause::header_note(change)));
        if let Some(note) = &change.note {
            section.push_str(&format!("_{note}_\n\n"));
        }
        section.push_str("```diff\n");
        section.push_str(&change.diff.replace("```", "` ` `"));
        if !change.diff.ends_with('\n') {
            section.push('\n');
        }
        section.push_str("```\n</details>\n\n");
        sections.push(section);
    }
    let totals: Vec<String> = plans
        .iter()
        .map(|p| {
            let mut line = format!("{}: {}", p.target, summary_line(&p.summary()));
            if let Some(hidden) = hidden_line(p) {
                line.push(' ');
                line.push_str(&hidden);
            }
            line
        })
        .collect();
    let footer = format!("{}\n", totals.join("  \n"));
    assemble(head, sections, footer)
}

/// Adds sections while they fit, then a note naming how many were left out.
fn assemble(head: String, sections: Vec<String>, footer: String) -> String {
    let mut out = head;
    let reserve = footer.len() + 200;
    let total = sections.len();
    for (shown, section) in sections.into_iter().enumerate() {
        if out.len() + section.len() + reserve > LIMIT {
            out.push_str(&format!(
                "> **Output cut:** {} of {total} changed objects are not shown to stay under {LIMIT} characters; run `gitops diff` for the full plan.\n\n",
                total - shown
            ));
            break;
        }
        out.push_str(&section);
    }
    out.push_str(&footer);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_plans_are_cut_with_a_note() {
        let sections: Vec<String> = (0..100)
            .map(|i| format!("{i}{}\n", "x".repeat(1_000)))
            .collect();
        let out = assemble("head\n".into(), sections, "footer\n".into());
        assert!(out.len() <= LIMIT, "{}", out.len());
        assert!(out.contains("**Output cut:**") && out.ends_with("footer\n"));
    }
}
