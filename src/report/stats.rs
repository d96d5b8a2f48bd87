//! `gitops stats`: the delivery figures per target and in total, as a text table, Markdown,
//! JSON (docs/schema/stats.json) or CSV.

use serde_json::{json, Value};

use super::{table, SCHEMA_VERSION};
use crate::audit::stats::{Figures, Samples, Window};

/// One target's figures as the command measured them.
pub struct TargetFigures<'a> {
    pub target: &'a str,
    /// The target has an inventory (else: never applied).
    pub applied: bool,
    pub samples: Samples,
    /// Records that could not be read (skipped).
    pub unreadable: usize,
}

/// The four renderings; the command prints the one asked for.
pub struct Rendered {
    pub json: String,
    pub text: String,
    pub markdown: String,
    pub csv: String,
}

const COLUMNS: [&str; 10] = [
    "TARGET",
    "APPLIES",
    "SUCCEEDED",
    "FAILED",
    "UNHEALTHY",
    "ROLLBACKS",
    "PER WEEK",
    "LEAD TIME (MEDIAN / P90)",
    "FAILURE RATE",
    "TIME TO RESTORE (MEDIAN / MAX)",
];

pub fn render(targets: &[TargetFigures<'_>], window: &Window) -> Rendered {
    let mut total = Samples::default();
    for t in targets {
        total.add(&t.samples);
    }
    let total_figures = total.figures(window);
    let documents: Vec<Value> = targets
        .iter()
        .map(|t| {
            let mut value = figures_json(&t.samples.figures(window));
            value["target"] = json!(t.target);
            value["applied"] = json!(t.applied);
            value["unreadableRecords"] = json!(t.unreadable + t.samples.unreadable_times);
            value
        })
        .collect();
    let json = json!({
        "schemaVersion": SCHEMA_VERSION,
        "since": seconds(window.since),
        "until": seconds(window.until),
        "targets": documents,
        "total": figures_json(&total_figures),
    });
    let mut rows: Vec<[String; 10]> = targets
        .iter()
        .map(|t| match t.applied {
            true => row(t.target, &t.samples.figures(window)),
            false => never_applied(t.target),
        })
        .collect();
    if targets.len() > 1 {
        rows.push(row("total", &total_figures));
    }
    let heading = format!(
        "Applies from {} to {}",
        window.since.strftime("%Y-%m-%d %H:%M UTC"),
        window.until.strftime("%Y-%m-%d %H:%M UTC")
    );
    let skipped: usize = targets
        .iter()
        .map(|t| t.unreadable + t.samples.unreadable_times)
        .sum();
    let note =
        (skipped > 0).then(|| format!("{skipped} record(s) could not be read and were left out"));
    let mut text = format!("{heading}\n{}", table::render(COLUMNS, &rows, 0));
    let mut markdown = format!("### {heading}\n\n{}", table::markdown(COLUMNS, &rows));
    if let Some(note) = &note {
        text.push_str(&format!("{note}\n"));
        markdown.push_str(&format!("\n{note}\n"));
    }
    Rendered {
        json: format!("{json:#}\n"),
        text,
        markdown,
        csv: csv(targets, window, &total_figures),
    }
}

/// RFC 3339 to the second, as every other time gitops prints.
fn seconds(time: jiff::Timestamp) -> String {
    time.strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
}

fn figures_json(figures: &Figures) -> Value {
    serde_json::to_value(figures).unwrap_or(Value::Null)
}

fn row(target: &str, f: &Figures) -> [String; 10] {
    [
        target.to_owned(),
        f.applies.to_string(),
        f.succeeded.to_string(),
        f.failed.to_string(),
        f.unhealthy.to_string(),
        f.rollbacks.to_string(),
        format!("{:.1}", f.deployments_per_week),
        format!(
            "{} / {}",
            duration(f.lead_time_seconds.median),
            duration(f.lead_time_seconds.p90)
        ),
        f.change_failure_rate
            .map_or_else(|| "-".into(), |r| format!("{:.0}%", r * 100.0)),
        format!(
            "{} / {}",
            duration(f.time_to_restore_seconds.median),
            duration(f.time_to_restore_seconds.max)
        ),
    ]
}

fn never_applied(target: &str) -> [String; 10] {
    let mut row: [String; 10] = Default::default();
    row[0] = target.to_owned();
    row[1] = "never applied".into();
    row
}

/// `3d 4h`, `2h 05m`, `12m`, `40s`: the two largest units.
fn duration(seconds: Option<f64>) -> String {
    let Some(seconds) = seconds else {
        return "-".into();
    };
    let s = seconds.round() as u64;
    let (d, h, m) = (s / 86_400, s % 86_400 / 3_600, s % 3_600 / 60);
    match (d, h, m) {
        (0, 0, 0) => format!("{s}s"),
        (0, 0, m) => format!("{m}m"),
        (0, h, m) => format!("{h}h {m:02}m"),
        (d, h, _) => format!("{d}d {h}h"),
    }
}

/// One line per target and one for the total; times in seconds, rates as fractions, empty
/// cells where there is nothing to measure.
fn csv(targets: &[TargetFigures<'_>], window: &Window, total: &Figures) -> String {
    let header = "target,applied,since,until,applies,succeeded,failed,unhealthy,rollbacks,deploymentsPerDay,deploymentsPerWeek,leadTimeMedianSeconds,leadTimeP90Seconds,changeFailureRate,timeToRestoreMedianSeconds,timeToRestoreMaxSeconds\n";
    let number = |v: Option<f64>| v.map_or_else(String::new, |v| format!("{v}"));
    let line = |target: &str, applied: bool, f: &Figures| {
        format!(
            "{},{applied},{},{},{},{},{},{},{},{},{},{},{},{},{},{}\n",
            csv_cell(target),
            seconds(window.since),
            seconds(window.until),
            f.applies,
            f.succeeded,
            f.failed,
            f.unhealthy,
            f.rollbacks,
            f.deployments_per_day,
            f.deployments_per_week,
            number(f.lead_time_seconds.median),
            number(f.lead_time_seconds.p90),
            number(f.change_failure_rate),
            number(f.time_to_restore_seconds.median),
            number(f.time_to_restore_seconds.max),
        )
    };
    let mut out = header.to_owned();
    for t in targets {
        out.push_str(&line(t.target, t.applied, &t.samples.figures(window)));
    }
    out.push_str(&line("total", targets.iter().any(|t| t.applied), total));
    out
}

/// RFC 4180: quoted when it holds a comma, quote or line break.
fn csv_cell(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_at_a_glance() {
        assert_eq!(duration(None), "-");
        assert_eq!(duration(Some(40.0)), "40s");
        assert_eq!(duration(Some(720.0)), "12m");
        assert_eq!(duration(Some(9_000.0)), "2h 30m");
        assert_eq!(duration(Some(3.0 * 86_400.0 + 4.0 * 3_600.0)), "3d 4h");
    }

    #[test]
    fn csv_cells_are_quoted_when_needed() {
        assert_eq!(csv_cell("shop"), "shop");
        assert_eq!(csv_cell("a,b"), "\"a,b\"");
        assert_eq!(csv_cell("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
