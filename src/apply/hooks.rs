//! Running hooks: the hooks of one phase, wave by wave (and by kind within a wave), each wave
//! created and then awaited until every hook in it completed (a Job Complete, a Pod Succeeded,
//! anything else healthy), as Argo CD runs them. Delete policies are applied around each hook:
//! BeforeHookCreation removes the previous object of a named hook first, HookSucceeded and
//! HookFailed remove the object once it ended so.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::health::{self, Health};
use crate::cluster::{objects, Cluster, ClusterError, ResourceInfo};
use crate::inventory::{bounded, HookRun};
use crate::kinds::KindRank;
use crate::log;
use crate::plan::PlannedHook;
use crate::render::hooks::{DeletePolicy, HookName, Phase};

const POLL: Duration = Duration::from_millis(500);

/// Why a phase stopped.
#[derive(Debug)]
pub enum HookFailure {
    /// A hook failed: which, and why.
    Failed {
        hook: String,
        why: String,
    },
    /// Hooks that had not completed by the deadline, each with its last state.
    TimedOut(Vec<String>),
    Cluster(ClusterError),
}

impl From<ClusterError> for HookFailure {
    fn from(e: ClusterError) -> Self {
        HookFailure::Cluster(e)
    }
}

/// How a hook ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Ending {
    Succeeded,
    Failed(String),
    Running(String),
}

/// A hook once created: the object's real name.
struct Started<'a> {
    hook: &'a PlannedHook,
    info: &'a ResourceInfo,
    name: String,
    began: Instant,
}

impl Started<'_> {
    fn describe(&self) -> String {
        objects::describe(self.info, self.hook.namespace.as_deref(), &self.name)
    }
}

/// The hooks of `phase` (of one wave, when given), in the plan's order.
pub fn of_phase(hooks: &[PlannedHook], phase: Phase, wave: Option<i64>) -> Vec<&PlannedHook> {
    hooks
        .iter()
        .filter(|h| h.phase == Some(phase) && h.resource.is_some())
        .filter(|h| wave.is_none_or(|w| h.wave == w))
        .collect()
}

/// Runs `hooks` (all of one phase): each wave and kind group created, then awaited; the first
/// group with a failed or unfinished hook stops the phase. Every hook started is recorded in
/// `ran`.
pub async fn run(
    cluster: &Cluster,
    hooks: &[&PlannedHook],
    deadline: Instant,
    ran: &mut Vec<HookRun>,
) -> Result<(), HookFailure> {
    let mut groups: BTreeMap<(i64, KindRank), Vec<&PlannedHook>> = BTreeMap::new();
    for hook in hooks {
        groups.entry((hook.wave, hook.rank)).or_default().push(hook);
    }
    for group in groups.into_values() {
        let created = cluster
            .each(group, |hook| async move {
                (hook, start(cluster, hook, deadline).await)
            })
            .await;
        let mut started = Vec::new();
        let mut failure = None;
        for (hook, result) in created {
            match result {
                Ok(s) => started.push(s),
                Err(e) => {
                    ran.push(record(
                        hook,
                        &hook.describe(),
                        "failed",
                        0.0,
                        Some(e.to_string()),
                    ));
                    failure.get_or_insert(HookFailure::Failed {
                        hook: format!("{} {}", phase_of(hook), hook.describe()),
                        why: e.to_string(),
                    });
                }
            }
        }
        let awaited = await_all(cluster, &started, deadline, ran).await;
        if let Some(failure) = failure {
            return Err(failure);
        }
        awaited?;
    }
    Ok(())
}

fn phase_of(hook: &PlannedHook) -> &'static str {
    hook.phase.map_or("hook", Phase::as_str)
}

fn record(
    hook: &PlannedHook,
    object: &str,
    result: &str,
    seconds: f64,
    message: Option<String>,
) -> HookRun {
    HookRun {
        phase: phase_of(hook).to_owned(),
        wave: hook.wave,
        object: object.to_owned(),
        result: result.to_owned(),
        seconds,
        message: message.map(|m| bounded(&m, 500)),
    }
}

/// Creates one hook: a named one replaces its previous object under BeforeHookCreation, or is
/// applied over it otherwise; a generated name is a new object every time.
async fn start<'a>(
    cluster: &Cluster,
    hook: &'a PlannedHook,
    deadline: Instant,
) -> Result<Started<'a>, ClusterError> {
    // Planned hooks that run are always resolved (`of_phase` keeps only those).
    let info = hook
        .resource
        .as_ref()
        .expect("a hook that runs is resolved");
    let ns = hook.namespace.as_deref();
    let began = Instant::now();
    let name = match &hook.name {
        HookName::Generated(_) => {
            created_name(&objects::create(cluster, info, ns, &hook.desired).await?)
        }
        HookName::Named(name) if hook.deletes_on(DeletePolicy::BeforeHookCreation) => {
            delete_and_wait(cluster, info, ns, name, deadline).await?;
            match objects::create(cluster, info, ns, &hook.desired).await {
                Ok(_) => {}
                // A retried create whose first attempt landed.
                Err(ClusterError::Api { code: 409, .. }) => {}
                Err(e) => return Err(e),
            }
            name.clone()
        }
        HookName::Named(name) => {
            objects::apply(cluster, info, ns, name, &hook.desired, false, true).await?;
            name.clone()
        }
    };
    let started = Started {
        hook,
        info,
        name,
        began,
    };
    log::info(&format!(
        "hook {} {}: created",
        phase_of(hook),
        started.describe()
    ));
    Ok(started)
}

fn created_name(object: &Value) -> String {
    object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Deletes a named hook's previous object and waits until it is gone (a name can only be
/// created again then).
async fn delete_and_wait(
    cluster: &Cluster,
    info: &ResourceInfo,
    ns: Option<&str>,
    name: &str,
    deadline: Instant,
) -> Result<(), ClusterError> {
    if objects::get(cluster, info, ns, name).await?.is_none() {
        return Ok(());
    }
    objects::delete(cluster, info, ns, name, None).await?;
    log::verbose(&format!(
        "{}: previous hook object deleted (BeforeHookCreation)",
        objects::describe(info, ns, name)
    ));
    while objects::get(cluster, info, ns, name).await?.is_some() {
        if Instant::now() >= deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}

/// Waits until every started hook ended; applies HookSucceeded/HookFailed; records each.
async fn await_all(
    cluster: &Cluster,
    started: &[Started<'_>],
    deadline: Instant,
    ran: &mut Vec<HookRun>,
) -> Result<(), HookFailure> {
    let mut pending: Vec<&Started> = started.iter().collect();
    let mut said: BTreeMap<String, String> = BTreeMap::new();
    let mut failed = None;
    while !pending.is_empty() {
        let states = cluster
            .each(pending.clone(), |s| async move {
                let live =
                    objects::get(cluster, s.info, s.hook.namespace.as_deref(), &s.name).await;
                (s, live)
            })
            .await;
        let mut still = Vec::new();
        for (s, live) in states {
            let ending = match live? {
                Some(live) => ending(s.info, &live),
                None => Ending::Failed("deleted before it completed".into()),
            };
            let label = format!("hook {} {}", phase_of(s.hook), s.describe());
            let seconds = (s.began.elapsed().as_millis() as f64) / 1000.0;
            match ending {
                Ending::Running(state) => {
                    if said.get(&label) != Some(&state) {
                        log::verbose(&format!("{label}: {state}"));
                        said.insert(label, state);
                    }
                    still.push(s);
                }
                Ending::Succeeded => {
                    log::info(&format!("{label}: succeeded"));
                    ran.push(record(s.hook, &s.describe(), "succeeded", seconds, None));
                    clean_up(cluster, s, DeletePolicy::HookSucceeded).await;
                }
                Ending::Failed(why) => {
                    log::error(&format!("{label}: failed: {why}"));
                    ran.push(record(
                        s.hook,
                        &s.describe(),
                        "failed",
                        seconds,
                        Some(why.clone()),
                    ));
                    clean_up(cluster, s, DeletePolicy::HookFailed).await;
                    failed.get_or_insert(HookFailure::Failed {
                        hook: format!("{} {}", phase_of(s.hook), s.describe()),
                        why,
                    });
                }
            }
        }
        pending = still;
        if pending.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            let mut waiting = Vec::new();
            for s in &pending {
                let label = format!("hook {} {}", phase_of(s.hook), s.describe());
                let state = said
                    .get(&label)
                    .cloned()
                    .unwrap_or_else(|| "not started".into());
                let seconds = (s.began.elapsed().as_millis() as f64) / 1000.0;
                ran.push(record(
                    s.hook,
                    &s.describe(),
                    "timed out",
                    seconds,
                    Some(state.clone()),
                ));
                waiting.push(format!("{label}: did not complete in time ({state})"));
            }
            return Err(failed.unwrap_or(HookFailure::TimedOut(waiting)));
        }
        tokio::time::sleep(POLL).await;
    }
    failed.map_or(Ok(()), Err)
}

async fn clean_up(cluster: &Cluster, started: &Started<'_>, policy: DeletePolicy) {
    if !started.hook.deletes_on(policy) {
        return;
    }
    let ns = started.hook.namespace.as_deref();
    match objects::delete(cluster, started.info, ns, &started.name, None).await {
        Ok(_) => log::verbose(&format!(
            "{}: deleted ({})",
            started.describe(),
            policy.as_str()
        )),
        Err(e) => log::warn(&format!(
            "{}: could not be deleted as its {} policy asks: {e}",
            started.describe(),
            policy.as_str()
        )),
    }
}

/// Whether a hook object completed: a Pod by its phase, anything else by its health (a Job is
/// healthy once Complete).
fn ending(info: &ResourceInfo, live: &Value) -> Ending {
    let (group, kind) = (&info.resource.group, &info.resource.kind);
    if group.is_empty() && kind == "Pod" {
        return match live.pointer("/status/phase").and_then(Value::as_str) {
            Some("Succeeded") => Ending::Succeeded,
            Some("Failed") => Ending::Failed(pod_failure(live)),
            phase => Ending::Running(format!("phase {}", phase.unwrap_or("Pending"))),
        };
    }
    match health::assess(group, kind, live) {
        Health::Healthy => Ending::Succeeded,
        Health::Failed(why) => Ending::Failed(why),
        Health::Progressing(why) => Ending::Running(why),
    }
}

/// A failed Pod's reason: its own, or its first terminated container's.
fn pod_failure(pod: &Value) -> String {
    let terminated = pod
        .pointer("/status/containerStatuses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .find_map(|c| c.pointer("/state/terminated"));
    if let Some(t) = terminated {
        let reason = t["reason"].as_str().unwrap_or("terminated");
        let code = t["exitCode"].as_i64().unwrap_or_default();
        let message = t["message"].as_str().unwrap_or_default();
        return format!("container {reason} (exit code {code}) {message}")
            .trim_end()
            .to_owned();
    }
    let reason = pod
        .pointer("/status/reason")
        .and_then(Value::as_str)
        .unwrap_or("Failed");
    let message = pod
        .pointer("/status/message")
        .and_then(Value::as_str)
        .unwrap_or_default();
    format!("Pod {reason} {message}").trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn info(group: &str, kind: &str) -> ResourceInfo {
        let gvk = kube::core::GroupVersionKind::gvk(group, "v1", kind);
        ResourceInfo {
            resource: kube::core::ApiResource::from_gvk(&gvk),
            namespaced: true,
            pending_crd: false,
        }
    }

    #[test]
    fn pods_end_by_phase_and_jobs_by_their_conditions() {
        let pod = info("", "Pod");
        assert_eq!(
            ending(&pod, &json!({"status": {"phase": "Succeeded"}})),
            Ending::Succeeded
        );
        let failed = json!({"status": {"phase": "Failed", "containerStatuses": [
            {"state": {"terminated": {"reason": "Error", "exitCode": 2}}}]}});
        assert_eq!(
            ending(&pod, &failed),
            Ending::Failed("container Error (exit code 2)".into())
        );
        let job = info("batch", "Job");
        let done = json!({"status": {"conditions": [{"type": "Complete", "status": "True"}]}});
        assert_eq!(ending(&job, &done), Ending::Succeeded);
        let failed = json!({"status": {"conditions": [{"type": "Failed", "status": "True",
            "reason": "BackoffLimitExceeded", "message": "Job has reached the specified backoff limit"}]}});
        assert!(
            matches!(ending(&job, &failed), Ending::Failed(why) if why.contains("BackoffLimitExceeded"))
        );
        assert!(matches!(ending(&job, &json!({})), Ending::Running(_)));
    }
}
