//! Delivery figures (the DORA measures) from a target's history, over a window of time. How each
//! is computed is documented in docs/audit.md; the tests below pin the definitions.

use std::collections::HashSet;

use jiff::Timestamp;
use serde::Serialize;

use crate::inventory::HistoryEntry;

/// The window: applies that ended in `[since, until]`.
#[derive(Debug, Clone, Copy)]
pub struct Window {
    pub since: Timestamp,
    pub until: Timestamp,
}

impl Window {
    fn contains(&self, time: Timestamp) -> bool {
        self.since <= time && time <= self.until
    }

    fn days(&self) -> f64 {
        ((self.until - self.since).get_seconds() as f64 / 86_400.0).max(1.0 / 24.0)
    }
}

/// A median and a 90th percentile (None: nothing to measure).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Spread {
    pub median: Option<f64>,
    pub p90: Option<f64>,
}

/// A median and a maximum (None: nothing to measure).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Restore {
    pub median: Option<f64>,
    pub max: Option<f64>,
}

/// The figures of one target, or of all of them.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Figures {
    /// Runs that wrote something (a rollback included).
    pub applies: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub unhealthy: usize,
    pub rollbacks: usize,
    pub deployments_per_day: f64,
    pub deployments_per_week: f64,
    pub lead_time_seconds: Spread,
    /// Applies that failed, were unhealthy or were rolled back, over all applies.
    pub change_failure_rate: Option<f64>,
    pub time_to_restore_seconds: Restore,
}

/// What the figures are made of, kept so that totals pool the samples instead of averaging
/// averages.
#[derive(Debug, Clone, Default)]
pub struct Samples {
    pub applies: usize,
    pub succeeded: usize,
    pub failed: usize,
    pub unhealthy: usize,
    pub rollbacks: usize,
    /// Applies that failed, were unhealthy or were rolled back.
    pub failures: usize,
    pub lead_times: Vec<f64>,
    pub restore_times: Vec<f64>,
    /// Records whose end time could not be read (left out).
    pub unreadable_times: usize,
}

impl Samples {
    /// Pools another target's samples into these.
    pub fn add(&mut self, other: &Samples) {
        self.applies += other.applies;
        self.succeeded += other.succeeded;
        self.failed += other.failed;
        self.unhealthy += other.unhealthy;
        self.rollbacks += other.rollbacks;
        self.failures += other.failures;
        self.lead_times.extend(&other.lead_times);
        self.restore_times.extend(&other.restore_times);
        self.unreadable_times += other.unreadable_times;
    }

    pub fn figures(&self, window: &Window) -> Figures {
        let per_day = self.applies as f64 / window.days();
        Figures {
            applies: self.applies,
            succeeded: self.succeeded,
            failed: self.failed,
            unhealthy: self.unhealthy,
            rollbacks: self.rollbacks,
            deployments_per_day: per_day,
            deployments_per_week: per_day * 7.0,
            lead_time_seconds: Spread {
                median: median(&self.lead_times),
                p90: percentile(&self.lead_times, 0.9),
            },
            change_failure_rate: (self.applies > 0)
                .then(|| self.failures as f64 / self.applies as f64),
            time_to_restore_seconds: Restore {
                median: median(&self.restore_times),
                max: self.restore_times.iter().copied().reduce(f64::max),
            },
        }
    }
}

/// The samples of one target's records (oldest first), for applies that ended in `window`.
/// Records before the window still tell which commit was carried first and which apply a
/// rollback undid.
pub fn measure(records: &[HistoryEntry], window: &Window) -> Samples {
    let mut samples = Samples::default();
    let ends: Vec<Option<Timestamp>> = records.iter().map(HistoryEntry::ended).collect();
    samples.unreadable_times = ends.iter().filter(|e| e.is_none()).count();
    let in_window = |i: usize| ends[i].is_some_and(|t| window.contains(t));
    let rolled_back = rolled_back(records);
    for (i, record) in records.iter().enumerate() {
        if !in_window(i) || !record.wrote() {
            continue;
        }
        samples.applies += 1;
        match record.result.as_str() {
            "succeeded" => samples.succeeded += 1,
            "failed" => samples.failed += 1,
            "unhealthy" => samples.unhealthy += 1,
            _ => {}
        }
        if record.is_rollback() {
            samples.rollbacks += 1;
        }
        if record.result != "succeeded" || rolled_back.contains(&i) {
            samples.failures += 1;
        }
    }
    samples.lead_times = lead_times(records, &ends, window);
    samples.restore_times = restore_times(records, &ends, window);
    samples
}

/// Indexes of the applies a later rollback undid: for each rollback, the newest earlier run
/// that deployed the revision it rolled back from.
fn rolled_back(records: &[HistoryEntry]) -> HashSet<usize> {
    let mut undone = HashSet::new();
    for (i, record) in records.iter().enumerate() {
        let Some(from) = record
            .rolled_back_from
            .as_deref()
            .filter(|_| record.is_rollback())
        else {
            continue;
        };
        let deployed = records[..i]
            .iter()
            .rposition(|r| r.revision == from && r.result != "failed");
        undone.extend(deployed);
    }
    undone
}

/// Commit time to the end of the first successful apply that carried the commit, for commits
/// first carried in the window. Rollbacks carry no new commit; a working tree with uncommitted
/// changes (`-dirty`) is not the commit.
fn lead_times(records: &[HistoryEntry], ends: &[Option<Timestamp>], window: &Window) -> Vec<f64> {
    let mut carried: HashSet<&str> = HashSet::new();
    let mut lead_times = Vec::new();
    for (record, end) in records.iter().zip(ends) {
        if record.result != "succeeded"
            || record.is_rollback()
            || record.revision.ends_with("-dirty")
        {
            continue;
        }
        if !carried.insert(record.revision.as_str()) {
            continue;
        }
        let commit = record
            .commit_time
            .as_deref()
            .and_then(|t| t.parse::<Timestamp>().ok());
        if let (Some(commit), Some(end)) = (commit, end) {
            if window.contains(*end) {
                lead_times.push((*end - commit).get_seconds().max(0) as f64);
            }
        }
    }
    lead_times
}

/// From the end of the first failed or unhealthy run after a success to the end of the next
/// successful run, for restores that ended in the window. A failure never followed by a success
/// is still open and not counted.
fn restore_times(
    records: &[HistoryEntry],
    ends: &[Option<Timestamp>],
    window: &Window,
) -> Vec<f64> {
    let mut broken_since: Option<Timestamp> = None;
    let mut times = Vec::new();
    for (record, end) in records.iter().zip(ends) {
        let Some(end) = *end else { continue };
        match (record.result.as_str(), broken_since) {
            ("succeeded", Some(since)) => {
                if window.contains(end) {
                    times.push((end - since).get_seconds().max(0) as f64);
                }
                broken_since = None;
            }
            ("failed" | "unhealthy", None) => broken_since = Some(end),
            _ => {}
        }
    }
    times
}

fn sorted(values: &[f64]) -> Vec<f64> {
    let mut values = values.to_vec();
    values.sort_by(f64::total_cmp);
    values
}

/// The middle value; the mean of the two middle ones for an even count.
fn median(values: &[f64]) -> Option<f64> {
    let values = sorted(values);
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(values[n / 2]),
        _ => Some((values[n / 2 - 1] + values[n / 2]) / 2.0),
    }
}

/// Nearest rank: the smallest value with at least `share` of the values at or below it.
fn percentile(values: &[f64], share: f64) -> Option<f64> {
    let values = sorted(values);
    if values.is_empty() {
        return None;
    }
    let rank = (share * values.len() as f64).ceil() as usize;
    Some(values[rank.clamp(1, values.len()) - 1])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(time: &str) -> Timestamp {
        time.parse().unwrap()
    }

    fn record(
        revision: &str,
        committed: &str,
        ended: &str,
        result: &str,
        operation: &str,
    ) -> HistoryEntry {
        HistoryEntry {
            revision: revision.into(),
            commit_time: Some(committed.into()),
            time: ended.into(),
            result: result.into(),
            operation: operation.into(),
            updated: 1,
            ..HistoryEntry::default()
        }
    }

    fn window() -> Window {
        Window {
            since: at("2026-11-01T00:00:00Z"),
            until: at("2026-12-01T00:00:00Z"),
        }
    }

    /// succeeded, unhealthy, failed, rollback, succeeded: the sequence of the issue.
    fn sequence() -> Vec<HistoryEntry> {
        let mut rollback = record(
            "aaaa",
            "2026-11-10T09:00:00Z",
            "2026-11-12T12:30:00Z",
            "succeeded",
            "rollback",
        );
        rollback.rolled_back_from = Some("bbbb".into());
        vec![
            record(
                "aaaa",
                "2026-11-10T09:00:00Z",
                "2026-11-10T10:00:00Z",
                "succeeded",
                "apply",
            ),
            record(
                "bbbb",
                "2026-11-12T08:00:00Z",
                "2026-11-12T10:00:00Z",
                "unhealthy",
                "apply",
            ),
            record(
                "cccc",
                "2026-11-12T11:00:00Z",
                "2026-11-12T11:30:00Z",
                "failed",
                "apply",
            ),
            rollback,
            record(
                "dddd",
                "2026-11-14T08:00:00Z",
                "2026-11-14T08:20:00Z",
                "succeeded",
                "apply",
            ),
        ]
    }

    #[test]
    fn the_sequence_gives_the_documented_figures() {
        let figures = measure(&sequence(), &window()).figures(&window());
        assert_eq!(
            (
                figures.applies,
                figures.succeeded,
                figures.failed,
                figures.unhealthy,
                figures.rollbacks
            ),
            (5, 3, 1, 1, 1)
        );
        assert!((figures.deployments_per_day - 5.0 / 30.0).abs() < 1e-9);
        // Lead times: aaaa 1 h, dddd 20 min (bbbb never succeeded; the rollback carries no commit).
        assert_eq!(figures.lead_time_seconds.median, Some(2_400.0));
        assert_eq!(figures.lead_time_seconds.p90, Some(3_600.0));
        // bbbb was unhealthy (and rolled back), cccc failed: 2 of 5.
        assert_eq!(figures.change_failure_rate, Some(0.4));
        // Broken from 10:00 (unhealthy) to 12:30 (the rollback succeeded).
        assert_eq!(figures.time_to_restore_seconds.median, Some(9_000.0));
        assert_eq!(figures.time_to_restore_seconds.max, Some(9_000.0));
    }

    #[test]
    fn runs_that_wrote_nothing_and_runs_outside_the_window_are_no_applies() {
        let mut records = sequence();
        let mut idle = record(
            "dddd",
            "2026-11-14T08:00:00Z",
            "2026-11-15T08:00:00Z",
            "succeeded",
            "apply",
        );
        idle.updated = 0;
        idle.unchanged = 4;
        records.push(idle);
        let narrow = Window {
            since: at("2026-11-12T00:00:00Z"),
            until: at("2026-12-01T00:00:00Z"),
        };
        let figures = measure(&records, &narrow).figures(&narrow);
        assert_eq!(figures.applies, 4);
        // aaaa was carried first before the window: only dddd's lead time counts.
        assert_eq!(figures.lead_time_seconds.median, Some(1_200.0));
    }

    #[test]
    fn nothing_recorded_gives_no_rates() {
        let figures = measure(&[], &window()).figures(&window());
        assert_eq!(figures.applies, 0);
        assert_eq!(figures.change_failure_rate, None);
        assert_eq!(figures.lead_time_seconds, Spread::default());
    }

    #[test]
    fn records_of_an_older_gitops_count_without_what_they_lack() {
        let mut old = record("aaaa", "", "2026-11-10T10:00:00Z", "succeeded", "apply");
        old.commit_time = None;
        let mut garbage = old.clone();
        garbage.time = "yesterday".into();
        let samples = measure(&[old, garbage], &window());
        assert_eq!(samples.applies, 1);
        assert_eq!(samples.unreadable_times, 1);
        assert!(samples.lead_times.is_empty());
    }

    #[test]
    fn percentiles_use_the_nearest_rank() {
        let values: Vec<f64> = (1..=10).map(f64::from).collect();
        assert_eq!(median(&values), Some(5.5));
        assert_eq!(percentile(&values, 0.9), Some(9.0));
        assert_eq!(percentile(&[7.0], 0.9), Some(7.0));
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
    }
}
