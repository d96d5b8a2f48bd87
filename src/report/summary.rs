//! The table that ends a run over several targets: one row per target, in gitops.yaml order.

use crate::plan::Summary;

/// How one target of the run ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ending {
    /// diff: the cluster matches.
    InSync,
    /// diff: there are changes.
    Changes,
    /// apply: written and healthy (or not awaited).
    Applied,
    Unhealthy,
    /// A destructive plan refused under `--fail-on-destructive`.
    Refused,
    Failed,
    /// Not applied because this dependency did not end applied and healthy.
    Skipped(String),
    /// The run stopped before this target began.
    NotStarted,
}

/// One row of the table.
#[derive(Debug, Clone)]
pub struct Row {
    pub target: String,
    /// The kube context, or `(current)`.
    pub cluster: String,
    pub counts: Option<Summary>,
    pub ending: Ending,
    pub seconds: f64,
}

const HEADER: [&str; 6] = ["TARGET", "CLUSTER", "CHANGES", "DRIFT", "RESULT", "TIME"];

fn cells(row: &Row) -> [String; 6] {
    let counts = row.counts.as_ref().map_or_else(
        || "-".to_owned(),
        |c| format!("+{} ~{} -{}", c.create, c.update, c.delete),
    );
    let drift = row
        .counts
        .as_ref()
        .map_or_else(|| "-".to_owned(), |c| c.drift.to_string());
    let ending = match &row.ending {
        Ending::InSync => "in sync".to_owned(),
        Ending::Changes => "changes".to_owned(),
        Ending::Applied => "applied".to_owned(),
        Ending::Unhealthy => "unhealthy".to_owned(),
        Ending::Refused => "refused (destructive)".to_owned(),
        Ending::Failed => "failed".to_owned(),
        Ending::Skipped(dependency) => format!("skipped ({dependency} did not succeed)"),
        Ending::NotStarted => "not started".to_owned(),
    };
    let time = if row.ending == Ending::NotStarted || matches!(row.ending, Ending::Skipped(_)) {
        "-".to_owned()
    } else {
        format!("{:.1}s", row.seconds)
    };
    [
        row.target.clone(),
        row.cluster.clone(),
        counts,
        drift,
        ending,
        time,
    ]
}

/// The table as text, under a `Summary:` line.
pub fn text(rows: &[Row]) -> String {
    let rows: Vec<[String; 6]> = rows.iter().map(cells).collect();
    format!(
        "Summary:\n{}",
        crate::report::table::render(HEADER, &rows, 2)
    )
}

/// The table in Markdown, under a heading (for a job summary or a pull-request comment).
pub fn markdown(rows: &[Row]) -> String {
    let rows: Vec<[String; 6]> = rows.iter().map(cells).collect();
    format!(
        "\n### Summary\n\n{}",
        crate::report::table::markdown(HEADER, &rows)
    )
}
