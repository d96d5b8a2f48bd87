//! The webhook body for a drift alert: a `text` people read in the chat, and the same facts as
//! fields for machines. Both are bounded so that a large drift still makes a small message.

use serde_json::{json, Map, Value};

/// Objects listed in `text`; the rest are counted ("… and N more").
const TEXT_OBJECTS: usize = 20;
/// Fields listed per object in `text`; the rest are shown as ", …".
const TEXT_FIELDS: usize = 5;
/// Bytes of `text` (JSON-escaped) spent on object lines before the rest are only counted.
const TEXT_BUDGET: usize = 6_000;
/// Objects in the machine `drift` list at most.
const DRIFT_OBJECTS: usize = 200;
/// Fields per object in the machine `drift` list at most (the object then has `fieldsTotal`).
const DRIFT_FIELDS: usize = 20;
/// Bytes of JSON spent on the machine `drift` list before the rest are only counted.
const DRIFT_BUDGET: usize = 26_000;
/// Longest string copied into the body (target, revision, names, paths, managers), in chars.
const MAX_STRING: usize = 200;
/// Longest string shown in `text`, in chars.
const MAX_TEXT_STRING: usize = 120;

/// Whether the target has drifted from Git or matches it again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Drifted,
    Recovered,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Drifted => "drifted",
            Status::Recovered => "recovered",
        }
    }
}

/// One field changed in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftedField {
    /// JSON pointer, like `/spec/replicas`.
    pub path: String,
    /// The field manager that last wrote it, when known.
    pub manager: Option<String>,
    /// When that manager wrote it, when known.
    pub time: Option<String>,
}

/// One object that differs from Git because of a change in the cluster.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DriftedObject {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
    /// What an apply would do: `create`, `update` or `delete`.
    pub action: String,
    /// `drift` (changed in the cluster only) or `both` (Git changed it too).
    pub cause: String,
    pub fields: Vec<DriftedField>,
}

/// What to tell the chat about one target.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    pub target: String,
    /// The Git revision compared with.
    pub revision: String,
    pub status: Status,
    pub drift: Vec<DriftedObject>,
}

/// The JSON body posted to the webhook:
/// `{"text", "target", "revision", "status", "driftTotal", "drift": [{apiVersion, kind,
/// namespace?, name, action, cause, fields: [{path, manager?, time?}], fieldsTotal?}]}`.
///
/// `text` lists at most 20 objects and 5 fields each; `drift` at most 200 objects and 20
/// fields each, within a byte budget; `driftTotal` counts them all. The whole body stays
/// under 36 KB whatever the alert holds (a few KB in practice).
pub fn message(alert: &Alert) -> Value {
    let mut body = Map::new();
    body.insert("text".into(), Value::String(text(alert)));
    body.insert("target".into(), clip(&alert.target, MAX_STRING).into());
    body.insert("revision".into(), clip(&alert.revision, MAX_STRING).into());
    body.insert("status".into(), alert.status.as_str().into());
    body.insert("driftTotal".into(), alert.drift.len().into());
    let mut drift = Vec::new();
    let mut spent = 0;
    for object in alert.drift.iter().take(DRIFT_OBJECTS) {
        let value = machine_object(object);
        let size = value.to_string().len() + 1;
        if spent + size > DRIFT_BUDGET {
            break;
        }
        spent += size;
        drift.push(value);
    }
    body.insert("drift".into(), Value::Array(drift));
    Value::Object(body)
}

fn machine_object(object: &DriftedObject) -> Value {
    let mut out = Map::new();
    out.insert(
        "apiVersion".into(),
        clip(&object.api_version, MAX_STRING).into(),
    );
    out.insert("kind".into(), clip(&object.kind, MAX_STRING).into());
    if let Some(namespace) = &object.namespace {
        out.insert("namespace".into(), clip(namespace, MAX_STRING).into());
    }
    out.insert("name".into(), clip(&object.name, MAX_STRING).into());
    out.insert("action".into(), clip(&object.action, MAX_STRING).into());
    out.insert("cause".into(), clip(&object.cause, MAX_STRING).into());
    let fields: Vec<Value> = object
        .fields
        .iter()
        .take(DRIFT_FIELDS)
        .map(|field| {
            let mut f = Map::new();
            f.insert("path".into(), clip(&field.path, MAX_STRING).into());
            if let Some(manager) = &field.manager {
                f.insert("manager".into(), clip(manager, MAX_STRING).into());
            }
            if let Some(time) = &field.time {
                f.insert("time".into(), clip(time, MAX_STRING).into());
            }
            Value::Object(f)
        })
        .collect();
    out.insert("fields".into(), Value::Array(fields));
    if object.fields.len() > DRIFT_FIELDS {
        out.insert("fieldsTotal".into(), json!(object.fields.len()));
    }
    Value::Object(out)
}

/// The line the chat shows (Slack mrkdwn; Mattermost and Rocket.Chat read it as Markdown).
fn text(alert: &Alert) -> String {
    let target = code(&alert.target);
    let revision = code(short_revision(&alert.revision));
    match alert.status {
        Status::Recovered => {
            format!(":white_check_mark: *gitops*: target {target} matches Git again at {revision}")
        }
        Status::Drifted => {
            let mut out = format!(
                ":warning: *gitops*: target {target} drifted from Git at {revision}: {} object(s)",
                alert.drift.len()
            );
            let mut shown = 0;
            let mut spent = 0;
            for object in alert.drift.iter().take(TEXT_OBJECTS) {
                let line = text_line(object);
                let size = Value::String(line.clone()).to_string().len();
                if spent + size > TEXT_BUDGET {
                    break;
                }
                spent += size;
                out.push_str(&line);
                shown += 1;
            }
            if alert.drift.len() > shown {
                out.push_str(&format!("\n… and {} more", alert.drift.len() - shown));
            }
            out
        }
    }
}

/// `\n• apps/v1 Deployment shop/api (update): /spec/replicas by kubectl-edit, …`
fn text_line(object: &DriftedObject) -> String {
    let name = match &object.namespace {
        Some(namespace) => format!("{namespace}/{}", object.name),
        None => object.name.clone(),
    };
    let mut line = format!(
        "\n• {} {} {} ({}",
        plain(&object.api_version),
        plain(&object.kind),
        plain(&name),
        plain(&object.action)
    );
    if object.cause == "both" {
        line.push_str("; also changed in Git");
    }
    line.push(')');
    if !object.fields.is_empty() {
        let fields: Vec<String> = object
            .fields
            .iter()
            .take(TEXT_FIELDS)
            .map(|field| match &field.manager {
                Some(manager) => format!("{} by {}", plain(&field.path), plain(manager)),
                None => plain(&field.path),
            })
            .collect();
        line.push_str(": ");
        line.push_str(&fields.join(", "));
        if object.fields.len() > TEXT_FIELDS {
            line.push_str(", …");
        }
    }
    line
}

/// A full commit id shortened to 7 hex digits; anything else as it is.
fn short_revision(revision: &str) -> &str {
    let full = matches!(revision.len(), 40 | 64) && revision.bytes().all(|b| b.is_ascii_hexdigit());
    if full {
        &revision[..7]
    } else {
        revision
    }
}

/// Text safe inside a chat message: clipped, on one line, with the three characters Slack
/// reads as markup (`&`, `<`, `>`) escaped.
fn plain(text: &str) -> String {
    clip(text, MAX_TEXT_STRING)
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect::<String>()
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// `plain` text in a code span (a backtick inside would end it early).
fn code(text: &str) -> String {
    format!("`{}`", plain(text).replace('`', "'"))
}

/// At most `max` chars, the last one `…` when cut.
fn clip(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut out: String = text.chars().take(max - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn object(i: usize, fields: usize) -> DriftedObject {
        DriftedObject {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("shop".into()),
            name: format!("api-{i}"),
            action: "update".into(),
            cause: "drift".into(),
            fields: (0..fields)
                .map(|f| DriftedField {
                    path: format!("/spec/field{f}"),
                    manager: Some("kubectl-edit".into()),
                    time: Some("2024-05-01T10:00:00Z".into()),
                })
                .collect(),
        }
    }

    fn alert(status: Status, drift: Vec<DriftedObject>) -> Alert {
        Alert {
            target: "prod".into(),
            revision: "abc1234def5678abc1234def5678abc1234def56".into(),
            status,
            drift,
        }
    }

    #[test]
    fn drifted_text_names_the_target_revision_and_objects() {
        let mut first = object(0, 1);
        first.fields[0].path = "/spec/replicas".into();
        let cluster_scoped = DriftedObject {
            api_version: "rbac.authorization.k8s.io/v1".into(),
            kind: "ClusterRole".into(),
            namespace: None,
            name: "reader".into(),
            action: "create".into(),
            cause: "both".into(),
            fields: vec![],
        };
        let body = message(&alert(Status::Drifted, vec![first, cluster_scoped]));
        assert_eq!(
            body["text"],
            ":warning: *gitops*: target `prod` drifted from Git at `abc1234`: 2 object(s)\n\
             • apps/v1 Deployment shop/api-0 (update): /spec/replicas by kubectl-edit\n\
             • rbac.authorization.k8s.io/v1 ClusterRole reader (create; also changed in Git)"
        );
    }

    #[test]
    fn text_lists_at_most_20_objects_and_5_fields_each() {
        let body = message(&alert(
            Status::Drifted,
            (0..25).map(|i| object(i, 7)).collect(),
        ));
        let text = body["text"].as_str().unwrap();
        assert_eq!(text.lines().filter(|l| l.starts_with("• ")).count(), 20);
        assert!(text.ends_with("\n… and 5 more"), "{text}");
        assert!(text.contains("api-19 "), "{text}");
        assert!(!text.contains("api-20 "), "{text}");
        let line = text.lines().nth(1).unwrap();
        assert_eq!(line.matches(" by kubectl-edit").count(), 5, "{line}");
        assert!(line.ends_with(", …"), "{line}");
    }

    #[test]
    fn recovered_text_says_the_target_matches_git_again() {
        let body = message(&alert(Status::Recovered, vec![]));
        assert_eq!(
            body["text"],
            ":white_check_mark: *gitops*: target `prod` matches Git again at `abc1234`"
        );
        assert_eq!(body["status"], "recovered");
        assert_eq!(body["driftTotal"], 0);
        assert_eq!(body["drift"], json!([]));
    }

    #[test]
    fn machine_fields_carry_the_whole_alert() {
        let mut cluster_scoped = object(1, 0);
        cluster_scoped.namespace = None;
        let mut no_manager = object(0, 1);
        no_manager.fields[0].manager = None;
        no_manager.fields[0].time = None;
        let body = message(&alert(
            Status::Drifted,
            vec![object(0, 1), cluster_scoped, no_manager],
        ));
        assert_eq!(body["target"], "prod");
        assert_eq!(body["revision"], "abc1234def5678abc1234def5678abc1234def56");
        assert_eq!(body["status"], "drifted");
        assert_eq!(body["driftTotal"], 3);
        assert_eq!(
            body["drift"][0],
            json!({
                "apiVersion": "apps/v1", "kind": "Deployment", "namespace": "shop", "name": "api-0",
                "action": "update", "cause": "drift",
                "fields": [{"path": "/spec/field0", "manager": "kubectl-edit", "time": "2024-05-01T10:00:00Z"}]
            })
        );
        assert!(body["drift"][1].get("namespace").is_none());
        assert_eq!(
            body["drift"][2]["fields"],
            json!([{"path": "/spec/field0"}])
        );
    }

    #[test]
    fn a_huge_drift_makes_a_bounded_body() {
        let long = "x\"".repeat(500);
        let drift: Vec<DriftedObject> = (0..1_000)
            .map(|i| {
                let mut o = object(i, 30);
                o.name = format!("{long}-{i}");
                for f in &mut o.fields {
                    f.path = format!("/data/{long}");
                    f.manager = Some(long.clone());
                }
                o
            })
            .collect();
        let mut big = alert(Status::Drifted, drift);
        big.target = "\u{1}\"`é".repeat(300);
        big.revision = "\u{1}".repeat(300);
        let body = message(&big);
        let size = body.to_string().len();
        assert!(size < 36_000, "{size} bytes");
        assert_eq!(body["driftTotal"], 1_000);
        let listed = body["drift"].as_array().unwrap().len();
        assert!((1..=DRIFT_OBJECTS).contains(&listed), "{listed}");
        let text = body["text"].as_str().unwrap();
        let shown = text.matches("\n• ").count();
        assert!(shown >= 1, "{text}");
        assert!(
            text.ends_with(&format!("\n… and {} more", 1_000 - shown)),
            "{text}"
        );
    }

    #[test]
    fn machine_list_stops_at_200_objects_and_20_fields() {
        let body = message(&alert(
            Status::Drifted,
            (0..300).map(|i| object(i, 0)).collect(),
        ));
        assert_eq!(body["driftTotal"], 300);
        assert_eq!(body["drift"].as_array().unwrap().len(), 200);
        assert!(body.to_string().len() < 36_000);

        let body = message(&alert(Status::Drifted, vec![object(0, 30)]));
        assert_eq!(body["drift"][0]["fields"].as_array().unwrap().len(), 20);
        assert_eq!(body["drift"][0]["fieldsTotal"], 30);
        assert_eq!(body["drift"][0]["fields"][19]["path"], "/spec/field19");
    }

    #[test]
    fn chat_markup_in_names_is_escaped() {
        let mut odd = object(0, 1);
        odd.fields[0].manager = Some("<!channel> & co\nnext".into());
        let mut a = alert(Status::Drifted, vec![odd]);
        a.target = "we`ird".into();
        let text = message(&a)["text"].as_str().unwrap().to_owned();
        assert!(text.contains("by &lt;!channel&gt; &amp; co next"), "{text}");
        assert!(text.contains("target `we'ird`"), "{text}");
    }
}
