//! Waiting until objects are healthy, with a deadline, reporting each change of state.
//!
//! Polls (a GET per pending object per second, bounded concurrency). Prints one line per state
//! change and, every 10 seconds, a line naming what is still pending — readable in a CI log and
//! on a terminal alike.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::health::{assess_applied, needs_polling, Health};
use crate::cluster::{objects, Cluster, ClusterError};
use crate::plan::Change;
use crate::progress::Progress;

const POLL: Duration = Duration::from_secs(1);
const REMIND_EVERY: Duration = Duration::from_secs(10);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WaitOutcome {
    Healthy,
    /// Timed out or failed: each object with why.
    Unhealthy(Vec<String>),
}

pub async fn until_healthy(
    cluster: &Cluster,
    changes: &[&Change],
    deadline: Instant,
) -> Result<WaitOutcome, ClusterError> {
    // Objects without a status need no GET: one request per ConfigMap would be wasted.
    let mut pending: Vec<&Change> = changes
        .iter()
        .copied()
        .filter(|c| needs_polling(&c.resource.resource.group, &c.resource.resource.kind))
        .collect();
    let total = pending.len();
    let progress = Progress::new(total, "waiting for health");
    let mut last_state: HashMap<String, String> = HashMap::new();
    let mut last_reminder = Instant::now();
    let mut first_poll = true;
    loop {
        let states = poll(cluster, &pending).await?;
        let mut still = Vec::new();
        let mut failed = Vec::new();
        for (change, health) in pending.into_iter().zip(states) {
            let label = change.describe();
            let text = match &health {
                Health::Healthy => "healthy".to_owned(),
                Health::Progressing(why) => format!("waiting: {why}"),
                Health::Failed(why) => format!("failed: {why}"),
            };
            // One line per change of state; objects healthy from the start say nothing.
            if last_state.get(&label) != Some(&text) {
                if !(first_poll && health == Health::Healthy) {
                    progress.line(&format!("{label}: {text}"));
                }
                last_state.insert(label.clone(), text);
            }
            match health {
                Health::Healthy => {}
                Health::Progressing(why) => still.push((change, format!("{label}: {why}"))),
                Health::Failed(why) => failed.push(format!("{label}: {why}")),
            }
        }
        if !failed.is_empty() {
            return Ok(WaitOutcome::Unhealthy(failed));
        }
        if still.is_empty() {
            return Ok(WaitOutcome::Healthy);
        }
        if Instant::now() >= deadline {
            return Ok(WaitOutcome::Unhealthy(
                still.into_iter().map(|(_, why)| why).collect(),
            ));
        }
        let names: Vec<&str> = still.iter().map(|(_, why)| why.as_str()).collect();
        progress.set_done(
            total - still.len(),
            names.first().copied().unwrap_or_default(),
        );
        if last_reminder.elapsed() >= REMIND_EVERY {
            progress.remind(&format!(
                "still waiting for {} object(s): {}",
                names.len(),
                names.join("; ")
            ));
            last_reminder = Instant::now();
        }
        first_poll = false;
        pending = still.into_iter().map(|(change, _)| change).collect();
        tokio::time::sleep(POLL.min(deadline.saturating_duration_since(Instant::now()))).await;
    }
}

async fn poll(cluster: &Cluster, pending: &[&Change]) -> Result<Vec<Health>, ClusterError> {
    cluster
        .each(pending, |change| async move {
            let live = objects::get(
                cluster,
                &change.resource,
                change.namespace.as_deref(),
                &change.name,
            )
            .await?;
            Ok(match live {
                Some(object) => assess_applied(
                    &change.resource.resource.group,
                    &change.resource.resource.kind,
                    &object,
                    change.desired.as_ref(),
                ),
                None => Health::Progressing("not found".into()),
            })
        })
        .await
        .into_iter()
        .collect()
}
