//! Apply stage: execute a plan — server-side apply by waves and kinds, prune, wait for health,
//! record the inventory (SPEC.md, Apply and Safety).
//!
//! The plan was made with a server-side dry-run of every object, so nothing reaches this stage
//! unless the whole target rendered, validated and passed the server. Unchanged objects cost no
//! write at all.

pub mod health;
pub mod hooks;
mod wait;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use crate::cluster::{objects, Cluster, ClusterError, Discovery, ResourceInfo};
use crate::inventory::{
    self, ChangedObject, HistoryEntry, HookRun, Inventory, Member, RunRecord, WaveTiming,
    CHANGES_LISTED,
};
use crate::kinds::KindRank;
use crate::ownership::{has_sync_option, SKIP_DRY_RUN_ON_MISSING};
use crate::plan::conflict::Conflict;
use crate::plan::{Action, Change, Plan};
use crate::progress::Progress;
use crate::render::hooks::Phase;
use crate::{clock, log};

pub use wait::WaitOutcome;

/// How to apply.
#[derive(Debug, Clone)]
pub struct ApplyOptions {
    pub wait: bool,
    pub timeout: Duration,
    pub force_conflicts: bool,
    pub allow_empty: bool,
    /// Refuse a plan that deletes or prunes anything (exit 4).
    pub fail_on_destructive: bool,
    /// Recorded in the history entry: who, from which CI job, and `apply` or `rollback`.
    pub user: Option<String>,
    pub job_url: Option<String>,
    pub operation: &'static str,
    /// Recorded in the inventory: where the target came from.
    pub source: crate::inventory::SourceRecord,
    /// The Git commit being applied (author and subject for the history), if any.
    pub revision: Option<crate::source::Revision>,
    /// History records the target keeps.
    pub history_limit: usize,
}

/// How an apply ended when every write succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Healthy,
    /// Objects that did not become healthy in time (or failed), each with why.
    Unhealthy(Vec<String>),
}

#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error("target {target} rendered no objects, but its inventory lists {members}: refusing to delete everything; pass --allow-empty if that is what you want")]
    EmptyRender { target: String, members: usize },
    #[error("target {target}: {} write(s) failed:\n{}\napplied: {}\nnot applied: {}", failed.len(), crate::log::bullets(failed), summary(applied), summary(not_applied))]
    Write {
        target: String,
        failed: Vec<String>,
        applied: Vec<String>,
        not_applied: Vec<String>,
    },
    #[error("target {target}: nothing was written: {} object(s) have fields that another field manager applied:\n{}\nrun with --force-conflicts to take them, or stop the other manager", conflicts.len(), crate::log::bullets(conflicts))]
    Conflicts {
        target: String,
        conflicts: Vec<String>,
    },
    #[error("target {target}: nothing was written: --fail-on-destructive and the plan removes data:\n{}\nreview the plan, then apply without --fail-on-destructive (or keep the objects with the annotation gitops.dev/prune: disabled)", crate::log::bullets(changes))]
    Destructive {
        target: String,
        changes: Vec<String>,
    },
    #[error("target {target}: hook {hook} failed: {why}\napplied: {}\nnot applied: {}\nfix the hook (kubectl logs and describe on its object say more), then apply again", summary(applied), summary(not_applied))]
    Hook {
        target: String,
        hook: String,
        why: String,
        applied: Vec<String>,
        not_applied: Vec<String>,
    },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
    #[error("target {target}: the run stopped: {cause}\napplied: {}\nnot applied: {}\nrun apply again once the cluster answers: it continues from here", summary(applied), summary(not_applied))]
    Interrupted {
        target: String,
        cause: Box<ClusterError>,
        applied: Vec<String>,
        not_applied: Vec<String>,
    },
    #[error("target {target}: everything was applied, but recording the inventory failed: {source}; the next apply records it again")]
    Inventory {
        target: String,
        source: ClusterError,
    },
}

fn summary(objects: &[String]) -> String {
    match objects.len() {
        0 => "nothing".into(),
        n if n <= 10 => objects.join(", "),
        n => format!("{}, and {} more", objects[..10].join(", "), n - 10),
    }
}

/// Executes `plan`. Writes the inventory at the end, also when a write failed.
pub async fn execute(
    cluster: &Cluster,
    plan: &Plan,
    options: &ApplyOptions,
) -> Result<Outcome, ApplyError> {
    let started = Instant::now();
    let deadline = started + options.timeout;
    let started_at = clock::now_rfc3339();
    let previous = plan.inventory.clone().unwrap_or_default();
    refuse_before_writing(plan, options)?;
    let mut applied = Vec::new();
    let mut waves = Vec::new();
    let mut ran = Vec::new();
    let result = run(
        cluster,
        plan,
        options,
        deadline,
        &mut applied,
        &mut waves,
        &mut ran,
    )
    .await;
    if !matches!(result, Ok(Outcome::Healthy)) {
        run_sync_fail(cluster, plan, options, &mut ran).await;
    }
    let (result_name, error) = match &result {
        Ok(Outcome::Healthy) => ("succeeded", None),
        Ok(Outcome::Unhealthy(why)) => ("unhealthy", Some(why.join("; "))),
        Err(e) => ("failed", Some(e.to_string())),
    };
    let ended = clock::now_rfc3339();
    let inventory = next_inventory(plan, &previous, &applied, result.is_ok(), options, &ended);
    let entry = HistoryEntry {
        started: Some(started_at),
        time: ended,
        result: result_name.to_owned(),
        error: error.map(|e| inventory::bounded(&e, 2000)),
        waves,
        hooks: ran,
        duration_seconds: (started.elapsed().as_millis() as f64) / 1000.0,
        ..history_entry(plan, &previous, options)
    };
    log::verbose(&format!(
        "target {}: applied in {} ms",
        plan.target,
        started.elapsed().as_millis()
    ));
    let recorded = record(cluster, plan, &previous, inventory, entry, options).await;
    if let (Err(_), Err(e)) = (&result, &recorded) {
        log::warn(&format!(
            "the inventory of target {} could not be recorded either: {e}",
            plan.target
        ));
    }
    match (result, recorded) {
        (Err(ApplyError::Cluster(cause)), _) => Err(interrupted(plan, cause, &applied)),
        (Err(e), _) => Err(e),
        (Ok(_), Err(e)) => Err(ApplyError::Inventory {
            target: plan.target.clone(),
            source: e,
        }),
        (Ok(outcome), Ok(())) => Ok(outcome),
    }
}

/// What stops a planned apply before its first write: an empty render over a non-empty
/// inventory (without --allow-empty), or fields that another declarative manager owns (without
/// --force-conflicts). Checked by `execute`, and before `--dry-run` ends or a first apply
/// writes its Namespace.
pub fn refuse_before_writing(plan: &Plan, options: &ApplyOptions) -> Result<(), ApplyError> {
    let members = plan.inventory.as_ref().map_or(0, |i| i.members.len());
    let rendered = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::Delete)
        .count();
    if rendered == 0 && members > 0 && !options.allow_empty {
        return Err(ApplyError::EmptyRender {
            target: plan.target.clone(),
            members,
        });
    }
    if options.fail_on_destructive {
        let changes: Vec<String> = plan
            .changes
            .iter()
            .filter_map(|c| {
                Some(format!(
                    "{}: {}",
                    c.describe(),
                    c.destructive.as_ref()?.reason
                ))
            })
            .collect();
        if !changes.is_empty() {
            return Err(ApplyError::Destructive {
                target: plan.target.clone(),
                changes,
            });
        }
    }
    if options.force_conflicts {
        return Ok(());
    }
    let conflicts: Vec<String> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::Unchanged)
        .filter_map(|c| {
            let conflict = c.conflict.as_ref().filter(|c| !c.imperative_only)?;
            let mut line = match &c.origin {
                Some(origin) => format!("{origin}: {}: {}", c.describe(), conflict.fields()),
                None => format!("{}: {}", c.describe(), conflict.fields()),
            };
            if let Some(from) = &c.adopt {
                line.push_str(&format!(
                    " (adopting it from {from}: --force-conflicts makes gitops the owner of these fields; the other manager keeps the fields only it sets, and its next apply of these fields conflicts in turn, so stop applying the object with it)"
                ));
            }
            Some(line)
        })
        .collect();
    if conflicts.is_empty() {
        return Ok(());
    }
    Err(ApplyError::Conflicts {
        target: plan.target.clone(),
        conflicts,
    })
}

/// Writes the plan's create of `namespace`, if it has one, ahead of everything else: the first
/// apply into a new namespace needs it to hold the target's lease there. Whether it wrote it.
/// Called only after the whole plan passed its checks (`refuse_before_writing`).
pub async fn create_namespace_first(
    cluster: &Cluster,
    plan: &Plan,
    namespace: &str,
) -> Result<bool, ClusterError> {
    let planned = plan
        .changes
        .iter()
        .find(|c| c.action == Action::Create && c.resource.is_namespace() && c.name == namespace);
    let Some((change, desired)) = planned.and_then(|c| Some((c, c.desired.as_ref()?))) else {
        return Ok(false);
    };
    objects::apply(
        cluster,
        &change.resource,
        None,
        &change.name,
        desired,
        false,
        false,
    )
    .await?;
    log::verbose(&format!(
        "namespace {namespace} created first, for the target's lease"
    ));
    Ok(true)
}

/// What a run that lost the cluster had done, and had not.
fn interrupted(plan: &Plan, cause: ClusterError, applied: &[Member]) -> ApplyError {
    let applied_ids = inventory::identities(applied);
    let written = |c: &Change| applied_ids.contains(&c.member().identity());
    let (done, pending): (Vec<&Change>, Vec<&Change>) = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::Unchanged)
        .partition(|c| written(c));
    ApplyError::Interrupted {
        target: plan.target.clone(),
        cause: Box::new(cause),
        applied: done.iter().map(|c| c.describe()).collect(),
        not_applied: pending.iter().map(|c| c.describe()).collect(),
    }
}

/// SyncFail hooks, once a run failed or ended unhealthy, with a time budget of their own (the
/// run's may be spent). Their failure is told, and does not change how the run ended.
async fn run_sync_fail(
    cluster: &Cluster,
    plan: &Plan,
    options: &ApplyOptions,
    ran: &mut Vec<HookRun>,
) {
    let sync_fail = hooks::of_phase(&plan.hooks, Phase::SyncFail, None);
    if sync_fail.is_empty() {
        return;
    }
    let deadline = Instant::now() + options.timeout;
    if let Err(e) = hooks::run(cluster, &sync_fail, deadline, ran).await {
        log::warn(&format!(
            "target {}: a SyncFail hook did not succeed: {}",
            plan.target,
            hook_failure_text(&e)
        ));
    }
}

fn hook_failure_text(failure: &hooks::HookFailure) -> String {
    match failure {
        hooks::HookFailure::Failed { hook, why } => format!("{hook}: {why}"),
        hooks::HookFailure::TimedOut(waiting) => waiting.join("; "),
        hooks::HookFailure::Cluster(e) => e.to_string(),
    }
}

/// Runs hooks of one phase; Some(why) when they did not complete in time (exit 3).
async fn run_hooks(
    cluster: &Cluster,
    plan: &Plan,
    hooks: &[&crate::plan::PlannedHook],
    deadline: Instant,
    applied: &[Member],
    ran: &mut Vec<HookRun>,
) -> Result<Option<Vec<String>>, ApplyError> {
    if hooks.is_empty() {
        return Ok(None);
    }
    match hooks::run(cluster, hooks, deadline, ran).await {
        Ok(()) => Ok(None),
        Err(hooks::HookFailure::TimedOut(waiting)) => Ok(Some(waiting)),
        Err(hooks::HookFailure::Cluster(e)) => Err(ApplyError::Cluster(e)),
        Err(hooks::HookFailure::Failed { hook, why }) => {
            let applied_ids = inventory::identities(applied);
            let (done, pending): (Vec<&Change>, Vec<&Change>) = plan
                .changed()
                .filter(|c| c.action != Action::Delete)
                .partition(|c| applied_ids.contains(&c.member().identity()));
            Err(ApplyError::Hook {
                target: plan.target.clone(),
                hook,
                why,
                applied: done.iter().map(|c| c.describe()).collect(),
                not_applied: pending.iter().map(|c| c.describe()).collect(),
            })
        }
    }
}

/// The hooks, writes, prunes and waits; `applied` collects every object written or confirmed,
/// `ran` every hook started.
async fn run(
    cluster: &Cluster,
    plan: &Plan,
    options: &ApplyOptions,
    deadline: Instant,
    applied: &mut Vec<Member>,
    timings: &mut Vec<WaveTiming>,
    ran: &mut Vec<HookRun>,
) -> Result<Outcome, ApplyError> {
    // PreSync hooks complete before the first object of the sync is written.
    let pre_sync = hooks::of_phase(&plan.hooks, Phase::PreSync, None);
    if let Some(why) = run_hooks(cluster, plan, &pre_sync, deadline, applied, ran).await? {
        return Ok(Outcome::Unhealthy(why));
    }
    // Waves, then kind ranks: each group is written concurrently, groups one after the other.
    let mut groups: BTreeMap<(i64, KindRank), Vec<&Change>> = BTreeMap::new();
    for change in plan.changes.iter().filter(|c| c.action != Action::Delete) {
        groups
            .entry((change.wave, change.rank))
            .or_default()
            .push(change);
    }
    let waves: Vec<i64> = groups
        .keys()
        .map(|(w, _)| *w)
        .chain(
            hooks::of_phase(&plan.hooks, Phase::Sync, None)
                .iter()
                .map(|h| h.wave),
        )
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .collect();
    for wave_number in waves {
        let wave_started = Instant::now();
        let objects = groups
            .range((wave_number, KindRank::Namespace)..=(wave_number, KindRank::CustomResource))
            .map(|(_, changes)| changes.len())
            .sum();
        // Recorded as failed unless the wave gets further.
        timings.push(WaveTiming {
            wave: wave_number,
            objects,
            seconds: 0.0,
            result: "failed".into(),
        });
        let outcome = run_wave(
            cluster,
            plan,
            options,
            deadline,
            applied,
            &groups,
            wave_number,
        )
        .await;
        if let Some(timing) = timings.last_mut() {
            timing.seconds = (wave_started.elapsed().as_millis() as f64) / 1000.0;
            timing.result = match &outcome {
                Ok(None) if options.wait => "healthy",
                Ok(None) => "written",
                Ok(Some(_)) => "unhealthy",
                Err(_) => "failed",
            }
            .into();
        }
        if let Some(why) = outcome? {
            return Ok(Outcome::Unhealthy(why));
        }
        // The wave's Sync hooks, once its objects are written (and healthy, when waiting).
        let sync = hooks::of_phase(&plan.hooks, Phase::Sync, Some(wave_number));
        if let Some(why) = run_hooks(cluster, plan, &sync, deadline, applied, ran).await? {
            return Ok(Outcome::Unhealthy(why));
        }
    }
    prune(cluster, plan).await?;
    for kept in &plan.kept {
        log::warn(&format!("not pruned: {kept}"));
    }
    let post_sync = hooks::of_phase(&plan.hooks, Phase::PostSync, None);
    if !options.wait && !post_sync.is_empty() {
        log::warn(&format!(
            "target {}: {} PostSync hook(s) not run: they run once everything is healthy, and --no-wait does not check health",
            plan.target,
            post_sync.len()
        ));
    } else if let Some(why) = run_hooks(cluster, plan, &post_sync, deadline, applied, ran).await? {
        return Ok(Outcome::Unhealthy(why));
    }
    Ok(Outcome::Healthy)
}

/// One wave: its groups written in order, then (with waiting) its objects awaited. Some(why)
/// when it did not become healthy.
async fn run_wave(
    cluster: &Cluster,
    plan: &Plan,
    options: &ApplyOptions,
    deadline: Instant,
    applied: &mut Vec<Member>,
    groups: &BTreeMap<(i64, KindRank), Vec<&Change>>,
    wave_number: i64,
) -> Result<Option<Vec<String>>, ApplyError> {
    let mut wave_objects = Vec::new();
    for ((w, rank), changes) in
        groups.range((wave_number, KindRank::Namespace)..=(wave_number, KindRank::CustomResource))
    {
        debug_assert_eq!(*w, wave_number);
        let writes: Vec<&Change> = changes
            .iter()
            .copied()
            .filter(|c| c.action != Action::Unchanged)
            .collect();
        applied.extend(
            changes
                .iter()
                .filter(|c| c.action == Action::Unchanged)
                .map(|c| c.member()),
        );
        write_group(cluster, plan, &writes, options, deadline, applied).await?;
        // An object Flux's `ssa: Ignore` keeps gitops away from may not exist: nothing to await.
        wave_objects.extend(
            changes
                .iter()
                .copied()
                .filter(|c| !c.desired.as_ref().is_some_and(crate::plan::ignored_by_flux)),
        );
        if *rank == KindRank::CustomResourceDefinition {
            // Custom resources need their CRD established, waiting or not.
            let crds: Vec<&Change> = changes.to_vec();
            if let WaitOutcome::Unhealthy(why) =
                wait::until_healthy(cluster, &crds, deadline).await?
            {
                return Ok(Some(why));
            }
        }
    }
    if options.wait {
        if let WaitOutcome::Unhealthy(why) =
            wait::until_healthy(cluster, &wave_objects, deadline).await?
        {
            return Ok(Some(why));
        }
    }
    Ok(None)
}

/// Server-side applies one group concurrently; on failure reports what was and was not applied.
async fn write_group(
    cluster: &Cluster,
    plan: &Plan,
    writes: &[&Change],
    options: &ApplyOptions,
    deadline: Instant,
    applied: &mut Vec<Member>,
) -> Result<(), ApplyError> {
    let progress = Progress::new(writes.len(), "applying");
    let written = std::cell::Cell::new(0);
    let force = options.force_conflicts;
    // Progress is told as each write lands, not when the whole group is done.
    let results = cluster
        .each(writes, |change| {
            let (progress, written) = (&progress, &written);
            async move {
                let result = write_one(cluster, change, force, deadline).await;
                if result.is_ok() {
                    written.set(written.get() + 1);
                    let line = format!("{} {}", past_tense(change.action), change.describe());
                    progress.set_done(written.get(), &line);
                    progress.line(&line);
                }
                let kind = &change.resource.resource.kind;
                (change, result.map_err(|e| explain_write_error(kind, e)))
            }
        })
        .await;
    let mut failed = Vec::new();
    for (change, result) in results {
        match result {
            Ok(()) => applied.push(change.member()),
            Err(message) => failed.push(message),
        }
    }
    if failed.is_empty() {
        return Ok(());
    }
    failed.sort();
    let done_labels: Vec<String> = applied.iter().map(member_label).collect();
    let applied_ids = inventory::identities(applied);
    let not_applied = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::Unchanged && c.action != Action::Delete)
        .filter(|c| !applied_ids.contains(&c.member().identity()))
        .map(Change::describe)
        .collect();
    Err(ApplyError::Write {
        target: plan.target.clone(),
        failed,
        applied: done_labels,
        not_applied,
    })
}

/// Server-side apply of one object. A conflict only with plain updates (see [`Conflict`]) is
/// drift, and is healed by taking the fields back. The write goes without force even when the
/// plan found such drift: later waves are written minutes after the plan, and a field another
/// `Apply` manager took in between must still stop the write. The conflict is read again.
async fn write_one(
    cluster: &Cluster,
    change: &Change,
    force: bool,
    deadline: Instant,
) -> Result<(), ClusterError> {
    let desired = change.desired.clone().unwrap_or_default();
    let ns = change.namespace.as_deref();
    let served;
    let info = if change.resource.pending_crd && has_sync_option(&desired, SKIP_DRY_RUN_ON_MISSING)
    {
        served = served_now(cluster, change, deadline).await?;
        &served
    } else {
        &change.resource
    };
    if change.replace {
        // Planned so because the server refused server-side apply: create, or replace the
        // version read now.
        let live = objects::get(cluster, info, ns, &change.name).await?;
        let whole = crate::plan::whole_object(&desired, live.as_ref());
        objects::write_whole(
            cluster,
            info,
            ns,
            &change.name,
            &whole,
            live.is_some(),
            false,
        )
        .await?;
        return Ok(());
    }
    let apply = |force| objects::apply(cluster, info, ns, &change.name, &desired, false, force);
    let result = apply(force).await;
    let message = match &result {
        Err(e) if !force => e.field_conflict(),
        _ => None,
    };
    let Some(message) = message else {
        return result.map(|_| ());
    };
    let live = objects::get(cluster, info, ns, &change.name).await?;
    let conflict = Conflict::from_message(message, live.as_ref());
    if !conflict.imperative_only {
        return result.map(|_| ());
    }
    log::info(&format!(
        "{}: taking back fields that {} changed (drift from Git)",
        change.describe(),
        conflict.managers.join(", ")
    ));
    apply(true).await.map(|_| ())
}

/// The resource of a kind the plan could not resolve, asked of discovery again now, and every
/// 2 s until the run's deadline (an operator of an earlier wave registers its CRD as it starts).
async fn served_now(
    cluster: &Cluster,
    change: &Change,
    until: Instant,
) -> Result<ResourceInfo, ClusterError> {
    let (api_version, kind) = (
        change.resource.resource.api_version.clone(),
        change.resource.resource.kind.clone(),
    );
    let started = Instant::now();
    loop {
        let discovery = Discovery::run(cluster, [api_version.clone()].into()).await?;
        if let Some(info) = discovery.resolve(&api_version, &kind) {
            if info.namespaced != change.namespace.is_some() {
                return Err(deferred_error(
                    change,
                    &format!(
                        "the cluster serves kind {kind} as {}, not as the plan took it: {}",
                        if info.namespaced {
                            "namespaced"
                        } else {
                            "cluster-scoped"
                        },
                        if info.namespaced {
                            "give the object a metadata.namespace"
                        } else {
                            "remove its metadata.namespace"
                        }
                    ),
                ));
            }
            return Ok(info.clone());
        }
        if Instant::now() >= until {
            return Err(deferred_error(change, &format!(
                "the cluster still does not serve kind {kind} of {api_version} ({}s after its wave came, at the run's --timeout): {SKIP_DRY_RUN_ON_MISSING} defers an object to its wave, so its CRD must come from an earlier wave (a CRD object, or an operator that registers it)",
                started.elapsed().as_secs()
            )));
        }
        tokio::time::sleep(Duration::from_secs(2)).await;
    }
}

fn deferred_error(change: &Change, message: &str) -> ClusterError {
    ClusterError::Api {
        operation: crate::cluster::Operation::new("apply", change.describe()),
        code: 404,
        reason: "NotFound".into(),
        message: message.to_owned(),
    }
}

fn member_label(member: &Member) -> String {
    match &member.namespace {
        Some(ns) => format!("{} {}/{}", member.kind, ns, member.name),
        None => format!("{} {}", member.kind, member.name),
    }
}

fn past_tense(action: Action) -> &'static str {
    match action {
        Action::Create => "created",
        Action::Update => "updated",
        Action::Delete => "deleted",
        Action::Unchanged => "unchanged",
    }
}

/// Conflicts and immutable fields, said so that the user knows what to do.
fn explain_write_error(kind: &str, error: ClusterError) -> String {
    match &error {
        ClusterError::Api { code: 409, operation, message, .. } => format!(
            "{}: {message}; another field manager owns these fields: run with --force-conflicts to take them, or stop the other manager",
            operation.object
        ),
        _ => crate::plan::immutable::explain_error(kind, &error)
            .unwrap_or_else(|| error.to_string()),
    }
}

/// Deletes in reverse apply order, each rank concurrently.
async fn prune(cluster: &Cluster, plan: &Plan) -> Result<(), ApplyError> {
    let mut groups: BTreeMap<std::cmp::Reverse<KindRank>, Vec<&Change>> = BTreeMap::new();
    for change in plan.changes.iter().filter(|c| c.action == Action::Delete) {
        groups
            .entry(std::cmp::Reverse(change.rank))
            .or_default()
            .push(change);
    }
    let mut failed = Vec::new();
    for changes in groups.values() {
        let results = cluster
            .each(changes, |change| async move {
                let result = prune_one(cluster, change, &plan.inventory_ref).await;
                (change.describe(), result)
            })
            .await;
        for (label, result) in results {
            match result {
                Ok(Pruned::Deleted) => log::info(&format!("deleted {label}")),
                Ok(Pruned::Gone) => log::verbose(&format!("{label}: already gone")),
                Ok(Pruned::Kept(why)) => {
                    log::warn(&format!("not pruned: {label}: kept because {why}"))
                }
                Err(e) => failed.push(e),
            }
        }
    }
    if failed.is_empty() {
        Ok(())
    } else {
        Err(ApplyError::Write {
            target: plan.target.clone(),
            failed,
            applied: vec!["every object of the render".into()],
            not_applied: vec!["the deletes listed above".into()],
        })
    }
}

/// What pruning one object did.
enum Pruned {
    Deleted,
    Gone,
    Kept(String),
}

/// Deletes one planned delete, checking again right before: the plan may be minutes old (waves
/// were awaited), and the object must still carry this target's label and no prune blocker.
/// The delete is conditional on the object being exactly as just checked (uid and
/// resourceVersion); if it changed in between, it is checked again.
async fn prune_one(
    cluster: &Cluster,
    change: &Change,
    inventory: &inventory::InventoryRef,
) -> Result<Pruned, String> {
    let ns = change.namespace.as_deref();
    for _ in 0..3 {
        let live = objects::get(cluster, &change.resource, ns, &change.name)
            .await
            .map_err(|e| e.to_string())?;
        let Some(live) = live else {
            return Ok(Pruned::Gone);
        };
        if let Some(why) = crate::plan::prune::prune_blocker(&live, inventory) {
            return Ok(Pruned::Kept(why));
        }
        let as_read = objects::AsRead::of(&live);
        let deletion = objects::delete(
            cluster,
            &change.resource,
            ns,
            &change.name,
            as_read.as_ref(),
        )
        .await
        .map_err(|e| e.to_string())?;
        match deletion {
            objects::Deletion::Deleted => return Ok(Pruned::Deleted),
            objects::Deletion::Gone => return Ok(Pruned::Gone),
            objects::Deletion::Changed => continue,
        }
    }
    Err(format!(
        "{}: not deleted: it kept changing while gitops checked it; run apply again",
        change.describe()
    ))
}

/// The inventory after this run (see `Inventory::next`).
fn next_inventory(
    plan: &Plan,
    previous: &Inventory,
    applied: &[Member],
    completed: bool,
    options: &ApplyOptions,
    ended: &str,
) -> Inventory {
    let confirmed = inventory::identities(applied);
    let witnesses = plan
        .changes
        .iter()
        .filter(|c| c.member && c.action != Action::Delete)
        .map(|c| (c.member().identity(), c.witness.clone()))
        .filter(|(id, _)| confirmed.contains(id))
        .collect();
    previous.next(RunRecord {
        rendered: plan
            .changes
            .iter()
            .filter(|c| c.member)
            .map(Change::member)
            .collect(),
        applied,
        completed,
        pruned: plan.prune,
        witnesses,
        revision: plan.revision.clone(),
        source: options.source.clone(),
        time: ended.to_owned(),
    })
}

/// What the history records of this run, apart from how it ended.
fn history_entry(plan: &Plan, previous: &Inventory, options: &ApplyOptions) -> HistoryEntry {
    let summary = plan.summary();
    let changed: Vec<&Change> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::Unchanged)
        .collect();
    let changes = changed
        .iter()
        .take(CHANGES_LISTED)
        .map(|c| ChangedObject {
            action: c.action.as_str().to_owned(),
            api_version: c.resource.resource.api_version.clone(),
            kind: c.resource.resource.kind.clone(),
            namespace: c.namespace.clone(),
            name: c.name.clone(),
        })
        .collect();
    let revision = options.revision.as_ref();
    let rollback = options.operation == "rollback";
    HistoryEntry {
        revision: plan.revision.clone(),
        author: revision.and_then(|r| r.author.clone()),
        subject: revision.and_then(|r| r.subject.clone()),
        commit_time: revision.and_then(|r| r.time.clone()),
        user: options.user.clone(),
        job_url: options.job_url.clone(),
        operation: options.operation.to_owned(),
        rolled_back_from: (rollback && !previous.revision.is_empty())
            .then(|| previous.revision.clone()),
        created: summary.create,
        updated: summary.update,
        deleted: summary.delete,
        unchanged: summary.unchanged,
        changes,
        changes_omitted: changed.len().saturating_sub(CHANGES_LISTED),
        ..HistoryEntry::default()
    }
}

/// Records the run: the entries an older parent kept are made records first (the parent drops
/// them only once that worked), then the parent, then this run's record (which names the parent
/// as its owner), keeping the newest `history_limit`.
async fn record(
    cluster: &Cluster,
    plan: &Plan,
    previous: &Inventory,
    mut next: Inventory,
    entry: HistoryEntry,
    options: &ApplyOptions,
) -> Result<(), ClusterError> {
    let at = &plan.inventory_ref;
    let migrated = match &previous.uid {
        Some(uid) if !previous.legacy_history.is_empty() => {
            inventory::history::migrate(cluster, at, uid, &previous.legacy_history).await
        }
        _ => Ok(()),
    };
    if migrated.is_ok() {
        next.legacy_history.clear();
    }
    let uid = inventory::write(cluster, at, &next).await?;
    migrated?;
    inventory::history::append(cluster, at, &uid, entry, options.history_limit).await?;
    Ok(())
}
