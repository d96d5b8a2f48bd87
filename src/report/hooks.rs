//! The hooks a plan would run, in every format: listed per phase, never counted as changes.

use serde_json::{json, Value};

use crate::plan::{Plan, PlannedHook};

/// `hook PreSync batch/v1 Job shop/db-migrate (wave -1, delete: BeforeHookCreation)`, or for
/// a hook apply does not run, why.
pub fn line(hook: &PlannedHook) -> String {
    match hook.phase {
        Some(phase) => format!(
            "hook {phase} {} (wave {}, delete: {})",
            hook.describe(),
            hook.wave,
            hook.delete_policy_label()
        ),
        None => format!(
            "hook not run {}: {}",
            hook.describe(),
            not_run_reason(hook.not_run.as_deref().unwrap_or_default())
        ),
    }
}

/// Why apply leaves a hook out, by the annotation's word.
fn not_run_reason(word: &str) -> String {
    match word.to_ascii_lowercase().as_str() {
        "skip" => "argocd.argoproj.io/hook: Skip".into(),
        "test" | "test-success" | "test-failure" => {
            format!("Helm {word} hook: apply does not run tests (run helm test, or make it a PostSync hook)")
        }
        other => format!("{other} hook: runs on delete or rollback, which apply does not do"),
    }
}

/// Every hook line of a plan (empty when it has none).
pub fn lines(plan: &Plan) -> Vec<String> {
    plan.hooks.iter().map(line).collect()
}

/// The plan's `hooks` array (docs/schema/plan.json).
pub fn json(plan: &Plan) -> Vec<Value> {
    plan.hooks
        .iter()
        .map(|hook| {
            let mut value = json!({
                "phase": hook.phase.map_or_else(|| hook.not_run.clone().unwrap_or_default(), |p| p.as_str().to_owned()),
                "runs": hook.phase.is_some(),
                "apiVersion": hook.api_version,
                "kind": hook.kind,
                "namespace": hook.namespace,
                "wave": hook.wave,
                "deletePolicy": hook.delete_policy_label(),
            });
            let (field, name) = hook.name_field();
            value[field] = json!(name);
            if hook.phase.is_none() {
                value["reason"] = json!(not_run_reason(hook.not_run.as_deref().unwrap_or_default()));
            }
            value
        })
        .collect()
}
