//! The plan as Markdown for a pull-request comment or a job summary, kept under 60,000
//! characters (GitHub refuses comments over 65,536).

use crate::plan::{Action, Plan};

use super::text::summary_line;

/// Largest output; diffs that do not fit are cut with a note.
pub const LIMIT: usize = 60_000;

pub fn render(plans: &[Plan]) -> String {
    let mut head = String::from("### gitops plan\n\n| target | revision | create | update | delete | unchanged |\n|---|---|---:|---:|---:|---:|\n");
    for plan in plans {
        let s = plan.summary();
        head.push_str(&format!(
            "| {} | `{}` | {} | {} | {} | {} |\n",
            plan.target, plan.revision, s.create, s.update, s.delete, s.unchanged
        ));
    }
    head.push('\n');
    let mut sections = Vec::new();
    for plan in plans {
        if !plan.summary().has_changes() {
            continue;
        }
        for change in plan
            .changes
            .iter()
            .filter(|c| c.action != Action::Unchanged)
        {
            let mut section = format!(
                "<details><summary><code>{} {}</code> ({})</summary>\n\n",
                change.action.symbol(),
                change.describe(),
                plan.target
            );
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
    }
    let totals: Vec<String> = plans
        .iter()
        .map(|p| format!("{}: {}", p.target, summary_line(&p.summary())))
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
