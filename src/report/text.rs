//! The plan as a person reads it: one coloured unified diff per changed object, then a summary.

use super::cause;
use crate::plan::{Action, Plan, Summary};

/// ANSI styles, or nothing when colour is off.
struct Paint(bool);

impl Paint {
    fn wrap(&self, code: &str, text: &str) -> String {
        if self.0 {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

/// `Plan: 1 to create, 2 to update, 1 to delete, 40 unchanged, 1 drifted, 1 destructive, 2 adopted.`
/// (drifted, destructive and adopted only when there are some).
pub fn summary_line(summary: &Summary) -> String {
    let mut line = format!(
        "Plan: {} to create, {} to update, {} to delete, {} unchanged",
        summary.create, summary.update, summary.delete, summary.unchanged
    );
    if summary.drift > 0 {
        line.push_str(&format!(", {} drifted", summary.drift));
    }
    if summary.destructive > 0 {
        line.push_str(&format!(", {} destructive", summary.destructive));
    }
    if summary.adopt > 0 {
        line.push_str(&format!(", {} adopted", summary.adopt));
    }
    line.push('.');
    line
}

/// What `--only` left out, when it left out something.
pub fn hidden_line(plan: &Plan) -> Option<String> {
    let (only, hidden) = plan.hidden.filter(|(_, n)| *n > 0)?;
    let other = match only {
        crate::plan::Only::Drift => "pending",
        crate::plan::Only::Pending => "drift",
    };
    Some(format!(
        "({hidden} {other} change(s) not shown: --only {})",
        only.as_str()
    ))
}

pub fn render(plan: &Plan, color: bool, show_target: bool) -> String {
    let paint = Paint(color);
    let mut out = String::new();
    if show_target {
        out.push_str(&paint.wrap(
            "1",
            &format!("Target {} (revision {})", plan.target, plan.revision),
        ));
        out.push('\n');
    }
    for change in plan
        .changes
        .iter()
        .filter(|c| c.action != Action::Unchanged)
    {
        let style = match change.action {
            Action::Create => "1;32",
            Action::Delete => "1;31",
            _ => "1;33",
        };
        let header = format!(
            "{} {} ({})",
            change.action.symbol(),
            change.describe(),
            cause::header_note(change)
        );
        out.push_str(&paint.wrap(style, &header));
        out.push('\n');
        if let Some(note) = &change.note {
            out.push_str(&paint.wrap("2", &format!("  ({note})")));
            out.push('\n');
        }
        for line in change.diff.lines() {
            let styled = match line.chars().next() {
                Some('+') => paint.wrap("32", line),
                Some('-') => paint.wrap("31", line),
                Some('@') => paint.wrap("36", line),
                _ => line.to_owned(),
            };
            out.push_str(&styled);
            out.push('\n');
        }
        out.push('\n');
    }
    // Hooks run, but change nothing the plan compares: listed, never counted.
    for line in super::hooks::lines(plan) {
        out.push_str(&paint.wrap("36", &line));
        out.push('\n');
    }
    out.push_str(&summary_line(&plan.summary()));
    out.push('\n');
    if let Some(hidden) = hidden_line(plan) {
        out.push_str(&hidden);
        out.push('\n');
    }
    out
}
