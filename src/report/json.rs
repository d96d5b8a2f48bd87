//! The plan as one JSON document, with the stable schema of SPEC.md (docs/diff.md).

use serde_json::{json, Value};

use crate::plan::{Action, Plan};

pub fn plan_value(plan: &Plan) -> Value {
    let summary = plan.summary();
    let changes: Vec<Value> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::Unchanged)
        .map(|c| {
            json!({
                "action": c.action.as_str(),
                "apiVersion": c.resource.resource.api_version,
                "kind": c.resource.resource.kind,
                "namespace": c.namespace,
                "name": c.name,
                "diff": c.diff,
            })
        })
        .collect();
    json!({
        "target": plan.target,
        "revision": plan.revision,
        "summary": {
            "create": summary.create,
            "update": summary.update,
            "delete": summary.delete,
            "unchanged": summary.unchanged,
        },
        "changes": changes,
    })
}

/// One plan: its object. Several (one per target): an array of them.
pub fn render(plans: &[Plan]) -> String {
    let value = match plans {
        [plan] => plan_value(plan),
        _ => Value::Array(plans.iter().map(plan_value).collect()),
    };
    format!("{value:#}\n")
}
