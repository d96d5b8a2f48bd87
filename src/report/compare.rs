//! `gitops compare` as text, JSON (docs/schema/compare.json) and Markdown.

use serde_json::{json, Value};

use crate::compare::{Chart, Comparison, Summary};
use crate::source::Revision;

/// What each side runs (`compare --live`), from its inventory.
#[derive(Debug, Clone, Default)]
pub struct Live {
    /// The deployed revision as recorded (None: never applied).
    pub a: Option<String>,
    pub b: Option<String>,
    /// Commits A runs that B does not, oldest first; and the other way round.
    pub only_in_a: Vec<Revision>,
    pub only_in_b: Vec<Revision>,
}

impl Live {
    /// The sides run the same sources: no commit touching them separates the revisions.
    pub fn same(&self) -> bool {
        self.only_in_a.is_empty()
            && self.only_in_b.is_empty()
            && self.a.is_some() == self.b.is_some()
    }

    pub fn json(&self) -> Value {
        let commit = |r: &Revision, side: &str| {
            json!({
                "sha": r.commit,
                "subject": r.subject.clone().unwrap_or_default(),
                "author": r.author.clone().unwrap_or_default(),
                "time": r.time.clone().unwrap_or_default(),
                "runsIn": side,
            })
        };
        let commits: Vec<Value> = self
            .only_in_a
            .iter()
            .map(|r| commit(r, "a"))
            .chain(self.only_in_b.iter().map(|r| commit(r, "b")))
            .collect();
        json!({"a": self.a, "b": self.b, "commits": commits})
    }
}

/// The live section of the text output.
pub fn live_text(comparison: &Comparison, live: &Live) -> String {
    let (a, b) = (&comparison.a, &comparison.b);
    let width = a.len().max(b.len()) + 1;
    let mut out = String::from("\nDeployed:\n");
    for (side, revision) in [(a, &live.a), (b, &live.b)] {
        let shown = match revision {
            Some(r) => short(r),
            None => "never applied (no inventory)".to_owned(),
        };
        out.push_str(&format!("  {:width$} {shown}\n", format!("{side}:")));
    }
    for (side, other, commits) in [(a, b, &live.only_in_a), (b, a, &live.only_in_b)] {
        if commits.is_empty() {
            continue;
        }
        out.push_str(&format!(
            "\n{side} runs {} that {other} does not:\n",
            count(commits.len(), "commit", "commits")
        ));
        for r in commits {
            out.push_str(&format!(
                "  {} {} {} ({})\n",
                short(&r.commit),
                r.time.as_deref().unwrap_or("-"),
                r.subject.as_deref().unwrap_or(""),
                r.author.as_deref().unwrap_or("unknown author"),
            ));
        }
    }
    out.push('\n');
    out.push_str(&live_line(comparison, live));
    out.push('\n');
    out
}

/// `staging runs 7 commits that production does not.`
pub fn live_line(comparison: &Comparison, live: &Live) -> String {
    let (a, b) = (&comparison.a, &comparison.b);
    match (&live.a, &live.b) {
        (None, None) => return format!("Neither {a} nor {b} was applied."),
        (None, Some(_)) => return format!("{a} was never applied; {b} was."),
        (Some(_), None) => return format!("{b} was never applied; {a} was."),
        _ => {}
    }
    let mut parts = Vec::new();
    for (side, other, commits) in [(a, b, &live.only_in_a), (b, a, &live.only_in_b)] {
        if !commits.is_empty() {
            parts.push(format!(
                "{side} runs {} that {other} does not",
                count(commits.len(), "commit", "commits")
            ));
        }
    }
    if parts.is_empty() {
        if live.a == live.b {
            format!("{a} and {b} run the same revision.")
        } else {
            format!("{a} and {b} run different revisions, but no commit between them touches either target's sources.")
        }
    } else {
        format!("{}.", parts.join("; "))
    }
}

fn short(revision: &str) -> String {
    match revision.split_once('-') {
        Some((id, rest)) if id.len() > 12 => format!("{}-{rest}", &id[..12]),
        _ if revision.len() > 12 && !revision.contains('-') => revision[..12].to_owned(),
        _ => revision.to_owned(),
    }
}

/// Values longer than this are cut in text and Markdown (JSON has them whole).
const SHOWN_VALUE: usize = 100;

pub fn json(comparison: &Comparison, live: Option<Value>) -> String {
    let mut value = json!({"schemaVersion": super::SCHEMA_VERSION});
    if let (Value::Object(out), Ok(Value::Object(fields))) =
        (&mut value, serde_json::to_value(comparison))
    {
        out.extend(fields);
    }
    value["summary"] = serde_json::to_value(comparison.summary()).unwrap_or(Value::Null);
    if let Some(live) = live {
        value["live"] = live;
    }
    format!("{value:#}\n")
}

/// `3 images differ, 1 object only in staging, 12 fields differ`
pub fn summary_line(comparison: &Comparison) -> String {
    let Summary {
        images,
        only_in_a,
        only_in_b,
        fields,
    } = comparison.summary();
    let mut parts = vec![count(images, "image differs", "images differ")];
    for (n, side) in [(only_in_a, &comparison.a), (only_in_b, &comparison.b)] {
        if n > 0 {
            parts.push(format!("{} only in {side}", count(n, "object", "objects")));
        }
    }
    parts.push(count(fields, "field differs", "fields differ"));
    parts.join(", ")
}

fn count(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub fn text(comparison: &Comparison) -> String {
    let (a, b) = (&comparison.a, &comparison.b);
    let width = a.len().max(b.len()) + 1;
    let mut out = format!("Compare {a} with {b}");
    if let Some(ns) = &comparison.namespaces {
        out.push_str(&format!(
            " (objects paired across namespaces {} and {})",
            ns.a, ns.b
        ));
    }
    out.push('\n');
    if let Some(charts) = &comparison.charts {
        out.push_str("\nChart:\n");
        for (side, chart) in [(a, &charts.a), (b, &charts.b)] {
            out.push_str(&format!(
                "  {:width$} {}\n",
                format!("{side}:"),
                describe_chart(chart.as_ref())
            ));
        }
    }
    if !comparison.images.is_empty() {
        out.push_str("\nImages:\n");
        for image in &comparison.images {
            out.push_str(&format!(
                "  {} container {}\n",
                image.workload, image.container
            ));
            for (side, reference) in [(a, &image.a), (b, &image.b)] {
                out.push_str(&format!(
                    "    {:width$} {}\n",
                    format!("{side}:"),
                    reference.as_deref().unwrap_or("(no such container)")
                ));
            }
        }
    }
    for (side, objects, sign) in [
        (a, &comparison.only_in_a, '+'),
        (b, &comparison.only_in_b, '-'),
    ] {
        if !objects.is_empty() {
            out.push_str(&format!("\nOnly in {side}:\n"));
            for object in objects {
                out.push_str(&format!("  {sign} {object}\n"));
            }
        }
    }
    if !comparison.fields.is_empty() {
        out.push_str(&format!("\nFields ({a} | {b}):\n"));
        let mut last = "";
        for field in &comparison.fields {
            if field.object != last {
                out.push_str(&format!("  {}\n", field.object));
                last = &field.object;
            }
            out.push_str(&format!(
                "    {}: {} | {}\n",
                field.path,
                shown(field.a.as_ref()),
                shown(field.b.as_ref()),
            ));
        }
    }
    out.push_str(&format!("\n{}.\n", summary_line(comparison)));
    out
}

pub fn markdown(comparison: &Comparison, live: Option<&Live>) -> String {
    let (a, b) = (&comparison.a, &comparison.b);
    let mut out = format!("### Compare `{a}` with `{b}`\n\n");
    out.push_str(&format!("**{}.**\n", summary_line(comparison)));
    if let Some(live) = live {
        out.push_str(&format!("\n**{}**\n", live_line(comparison, live)));
        for (side, commits) in [(a, &live.only_in_a), (b, &live.only_in_b)] {
            if commits.is_empty() {
                continue;
            }
            out.push_str(&format!("\nOnly in `{side}`'s deployed revision:\n"));
            for r in commits {
                out.push_str(&format!(
                    "- `{}` {} ({}, {})\n",
                    short(&r.commit),
                    cell(r.subject.as_deref().unwrap_or("")),
                    r.author.as_deref().unwrap_or("unknown author"),
                    r.time.as_deref().unwrap_or("-"),
                ));
            }
        }
    }
    if let Some(charts) = &comparison.charts {
        out.push_str(&format!(
            "\nChart: `{a}` {} · `{b}` {}\n",
            describe_chart(charts.a.as_ref()),
            describe_chart(charts.b.as_ref())
        ));
    }
    if !comparison.images.is_empty() {
        out.push_str(&format!(
            "\n| Workload | Container | {a} | {b} |\n|---|---|---|---|\n"
        ));
        for image in &comparison.images {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                cell(&image.workload),
                cell(&image.container),
                code(image.a.as_deref().unwrap_or("—")),
                code(image.b.as_deref().unwrap_or("—")),
            ));
        }
    }
    for (side, objects) in [(a, &comparison.only_in_a), (b, &comparison.only_in_b)] {
        if !objects.is_empty() {
            out.push_str(&format!("\nOnly in `{side}`:\n"));
            for object in objects {
                out.push_str(&format!("- `{object}`\n"));
            }
        }
    }
    if !comparison.fields.is_empty() {
        out.push_str(&format!(
            "\n<details><summary>{}</summary>\n\n| Object | Field | {a} | {b} |\n|---|---|---|---|\n",
            count(comparison.fields.len(), "field differs", "fields differ")
        ));
        for field in &comparison.fields {
            out.push_str(&format!(
                "| {} | {} | {} | {} |\n",
                cell(&field.object),
                code(&field.path),
                code(&shown(field.a.as_ref())),
                code(&shown(field.b.as_ref())),
            ));
        }
        out.push_str("\n</details>\n");
    }
    out
}

fn describe_chart(chart: Option<&Chart>) -> String {
    match chart {
        Some(c) => match &c.app_version {
            Some(app) => format!("{} {} (app {app})", c.name, c.version),
            None => format!("{} {}", c.name, c.version),
        },
        None => "(not a chart)".to_owned(),
    }
}

/// A value as compact JSON, cut when long; `(absent)` when the side lacks the field.
fn shown(value: Option<&Value>) -> String {
    let Some(value) = value else {
        return "(absent)".to_owned();
    };
    let text = value.to_string();
    if text.chars().count() <= SHOWN_VALUE {
        return text;
    }
    let cut: String = text.chars().take(SHOWN_VALUE).collect();
    format!("{cut}…")
}

fn cell(text: &str) -> String {
    text.replace('|', "\\|")
}

fn code(text: &str) -> String {
    format!("`{}`", text.replace('`', "'").replace('|', "\\|"))
}
