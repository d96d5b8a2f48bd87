//! The plan as one JSON document, with the stable schema of SPEC.md (docs/diff.md,
//! docs/schema/plan.json).

use serde_json::{json, Value};

use crate::plan::{Action, Plan};

pub fn plan_value(plan: &Plan) -> Value {
    let summary = plan.summary();
    let changes: Vec<Value> = plan
        .changes
        .iter()
        .filter(|c| c.action != Action::Unchanged)
        .map(|c| {
            let drifted: Vec<Value> = c
                .drifted_fields
                .iter()
                .map(|f| json!({"path": f.path, "manager": f.manager, "time": f.time}))
                .collect();
            let mut change = json!({
                "action": c.action.as_str(),
                "apiVersion": c.resource.resource.api_version,
                "kind": c.resource.resource.kind,
                "namespace": c.namespace,
                "name": c.name,
                "cause": c.cause.as_str(),
                "driftedFields": drifted,
                "destructive": c.destructive.is_some(),
                "diff": c.diff,
            });
            if let Some(from) = &c.adopt {
                change["adopt"] = json!(true);
                change["adoptFrom"] = json!(from);
            }
            if let Some(destructive) = &c.destructive {
                change["reason"] = json!(destructive.reason);
                if let Some(contains) = destructive.contains {
                    change["contains"] = json!(contains);
                }
            }
            change
        })
        .collect();
    let mut value = json!({
        "schemaVersion": super::SCHEMA_VERSION,
        "target": plan.target,
        "revision": plan.revision,
        "summary": {
            "create": summary.create,
            "update": summary.update,
            "delete": summary.delete,
            "unchanged": summary.unchanged,
            "drift": summary.drift,
            "destructive": summary.destructive,
            "adopt": summary.adopt,
        },
        "changes": changes,
        "hooks": super::hooks::json(plan),
    });
    if let Some((only, hidden)) = plan.hidden {
        value["only"] = json!({"cause": only.as_str(), "hidden": hidden});
    }
    value
}

/// One plan: its object. Several (one per target): an array of them.
pub fn render(plans: &[Plan]) -> String {
    let value = match plans {
        [plan] => plan_value(plan),
        _ => Value::Array(plans.iter().map(plan_value).collect()),
    };
    format!("{value:#}\n")
}
