//! The JSON Schemas of docs/schema/ (issue 16, "Schemas"): `gitops schema NAME` prints the
//! published file, every schema is valid draft 2020-12, and real outputs of the binary against
//! the real control plane — plans with every kind of change, several targets, apply, status of
//! applied and never-applied targets, targets — are valid against them, while broken documents
//! are not.

mod common;

use std::collections::BTreeSet;

use common::app::web_app;
use common::cli::{gitops, Gitops, Run};
use common::git::Repo;
use common::kubectl::{kubectl_ok, TestNamespace};
use common::schema::{assert_invalid, assert_valid, documents, schema, schema_names, schema_text};
use serde_json::{json, Value};

fn parse(run: &Run) -> Value {
    serde_json::from_str(&run.stdout)
        .unwrap_or_else(|e| panic!("stdout is not one JSON document ({e}):\n{}", run.stdout))
}

/// The values `key` takes over a plan's changes.
fn values<'a>(plan: &'a Value, key: &str) -> BTreeSet<&'a str> {
    plan["changes"]
        .as_array()
        .unwrap_or_else(|| panic!("no changes in {plan:#}"))
        .iter()
        .filter_map(|c| c[key].as_str())
        .collect()
}

/// Where a plan lists the change of `kind` `name`.
fn position(plan: &Value, kind: &str, name: &str) -> usize {
    plan["changes"]
        .as_array()
        .and_then(|changes| {
            changes
                .iter()
                .position(|c| c["kind"] == kind && c["name"] == name)
        })
        .unwrap_or_else(|| panic!("no change of {kind} {name} in {plan:#}"))
}

/// `document` breaks schema NAME, and one of the reasons given contains `why`.
#[track_caller]
fn assert_breaks(name: &str, document: &Value, why: &str) {
    let errors = assert_invalid(name, document);
    assert!(
        errors.iter().any(|e| e.contains(why)),
        "invalid against docs/schema/{name}.json, but not for {why:?}:\n{}",
        errors.join("\n")
    );
}

/// `document` with `edit` applied: a broken copy of a real output.
fn broken(document: &Value, edit: impl FnOnce(&mut Value)) -> Value {
    let mut copy = document.clone();
    edit(&mut copy);
    copy
}

#[test]
fn gitops_schema_prints_the_published_file() {
    let names = schema_names();
    for expected in ["apply", "compare", "plan", "status", "targets"] {
        assert!(
            names.iter().any(|n| n == expected),
            "docs/schema/{expected}.json"
        );
    }
    for name in &names {
        let run = gitops(&["schema", name]);
        run.expect_code(0);
        assert_eq!(
            run.stdout,
            schema_text(name),
            "gitops schema {name} is not docs/schema/{name}.json"
        );
        assert_eq!(run.stderr, "");
    }

    let unknown = gitops(&["schema", "plans"]);
    unknown.expect_code(64);
    assert_eq!(unknown.stdout, "");
    for name in &names {
        assert!(unknown.stderr.contains(name.as_str()), "{}", unknown.stderr);
    }
    gitops(&["schema"]).expect_code(64);
}

/// Every `additionalProperties` or `unevaluatedProperties` that is `false` under `value`.
fn closed_objects(value: &Value, at: &str, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, child) in map {
                let here = format!("{at}/{key}");
                if (key == "additionalProperties" || key == "unevaluatedProperties")
                    && child == &Value::Bool(false)
                {
                    found.push(here.clone());
                }
                closed_objects(child, &here, found);
            }
        }
        Value::Array(items) => {
            for (index, child) in items.iter().enumerate() {
                closed_objects(child, &format!("{at}/{index}"), found);
            }
        }
        _ => {}
    }
}

#[test]
fn every_schema_is_draft_2020_12_versioned_and_open_to_additions() {
    let major = gitops::report::SCHEMA_VERSION.split('.').next().unwrap();
    for name in schema_names() {
        let schema = schema(&name);
        if let Err(error) = jsonschema::draft202012::meta::validate(&schema) {
            panic!("docs/schema/{name}.json is not a valid draft 2020-12 schema: {error}");
        }
        assert_eq!(
            schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
            "{name}"
        );
        assert_eq!(
            schema["$id"],
            format!("https://gitops.dev/schema/v{major}/{name}.json"),
            "{name}"
        );
        assert!(
            schema["description"]
                .as_str()
                .is_some_and(|d| !d.is_empty()),
            "{name} describes what it covers"
        );
        // Within a major version fields are only added: a reader of version 1 must accept
        // documents with fields it does not know.
        let mut closed = Vec::new();
        closed_objects(&schema, "", &mut closed);
        assert!(closed.is_empty(), "{name} refuses additions at {closed:?}");
    }
    // apply restates the plan document: the same definitions, one document per target.
    assert_eq!(schema("apply")["$defs"], schema("plan")["$defs"]);
    assert_eq!(schema("apply")["$ref"], "#/$defs/plan");
    // The metaschema check can fail.
    assert!(!jsonschema::draft202012::meta::is_valid(
        &json!({"type": "object", "required": "target"})
    ));
}

/// A web app, a ConfigMap that Git will drop, and a namespace with data that Git will drop.
fn first_version(ns: &str, data_ns: &str) -> String {
    format!(
        "{}---
apiVersion: v1
kind: ConfigMap
metadata: {{name: old, namespace: {ns}}}
data: {{mode: blue}}
---
apiVersion: v1
kind: Namespace
metadata:
  name: {data_ns}
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: settings, namespace: {data_ns}}}
data: {{mode: blue}}
",
        web_app(ns, "nginx:1.25", 2)
    )
}

/// The web app with a new image, and a new ConfigMap; `old` and the namespace are gone.
fn second_version(ns: &str) -> String {
    format!(
        "{}---
apiVersion: v1
kind: ConfigMap
metadata: {{name: new, namespace: {ns}}}
data: {{mode: green}}
",
        web_app(ns, "nginx:1.26", 2)
    )
}

fn run_in(dir: &std::path::Path, args: &[&str]) -> Run {
    Gitops::new(args).current_dir(dir).on_cluster().run()
}

#[test]
fn plans_with_every_kind_of_change_and_their_apply_are_valid() {
    let ns = TestNamespace::new("schema-plan");
    let data = TestNamespace::not_created("schema-plan-data");
    let target = ["--name", "app", "-n", ns.name.as_str()];
    let first = common::cli::temp_tree(&[("app.yaml", &first_version(&ns.name, &data.name))]);

    // Never applied: creates only, namespaced and cluster-scoped.
    let mut args = vec!["diff", ".", "-o", "json"];
    args.extend(target);
    let run = run_in(first.path(), &args);
    run.expect_code(2);
    let plan = parse(&run);
    assert_valid("plan", &plan);
    assert_eq!(values(&plan, "action"), BTreeSet::from(["create"]));
    assert_eq!(plan["schemaVersion"], gitops::report::SCHEMA_VERSION);

    // The first apply prints the plan it executes.
    let mut args = vec!["apply", ".", "--no-wait", "-o", "json"];
    args.extend(target);
    let applied = run_in(first.path(), &args);
    applied.expect_code(0);
    let executed = parse(&applied);
    assert_valid("apply", &executed);
    assert_valid("plan", &executed);
    assert_eq!(executed["summary"]["create"], 6, "{executed:#}");

    // The cluster changes: replicas scaled by hand, a value edited by another manager, the
    // Service deleted. Git changes: a new image, a new ConfigMap, `old` and the namespace gone.
    kubectl_ok(
        &["-n", &ns.name, "scale", "deployment/web", "--replicas=4"],
        None,
    );
    kubectl_ok(
        &[
            "-n",
            &ns.name,
            "patch",
            "configmap/web-config",
            "--type=merge",
            "--field-manager=hand-edit",
            "-p",
            r#"{"data":{"LOG_LEVEL":"debug"}}"#,
        ],
        None,
    );
    kubectl_ok(&["-n", &ns.name, "delete", "service/web"], None);
    let second = common::cli::temp_tree(&[("app.yaml", &second_version(&ns.name))]);

    let mut args = vec!["diff", ".", "-o", "json"];
    args.extend(target);
    let run = run_in(second.path(), &args);
    run.expect_code(2);
    let plan = parse(&run);
    assert_valid("plan", &plan);
    // What this document exercises: every action, every cause, drifted fields with and
    // without a recorded manager, destructive deletes with and without `contains`, and
    // cluster-scoped objects (namespace null).
    assert_eq!(
        values(&plan, "action"),
        BTreeSet::from(["create", "delete", "update"]),
        "{plan:#}"
    );
    assert_eq!(
        values(&plan, "cause"),
        BTreeSet::from(["both", "drift", "pending"]),
        "{plan:#}"
    );
    let changes = plan["changes"].as_array().unwrap();
    let namespace = changes
        .iter()
        .find(|c| c["kind"] == "Namespace")
        .unwrap_or_else(|| panic!("the namespace is deleted: {plan:#}"));
    assert_eq!(namespace["namespace"], Value::Null);
    assert_eq!(namespace["destructive"], true);
    assert!(namespace["contains"].as_u64() >= Some(1), "{namespace:#}");
    assert!(
        changes
            .iter()
            .any(|c| c["destructive"] == true && c.get("contains").is_none()),
        "a deleted ConfigMap: {plan:#}"
    );
    let edited = changes.iter().find(|c| c["name"] == "web-config").unwrap();
    assert_eq!(
        edited["driftedFields"][0]["manager"], "hand-edit",
        "{edited:#}"
    );
    assert!(plan["summary"]["drift"].as_u64() >= Some(3), "{plan:#}");

    // --only adds what it left out.
    let mut args = vec!["diff", ".", "-o", "json", "--only", "drift"];
    args.extend(target);
    let run = run_in(second.path(), &args);
    run.expect_code(2);
    let only = parse(&run);
    assert_valid("plan", &only);
    assert_eq!(only["only"]["cause"], "drift", "{only:#}");

    // A reader of version 1 accepts additions, at the top and in a change.
    assert_valid(
        "plan",
        &broken(&plan, |p| {
            p["schemaVersion"] = json!("1.7");
            p["future"] = json!({"anything": [1, 2]});
            p["changes"][0]["future"] = json!(true);
        }),
    );
    // Broken copies of the real document fail, for the reason broken: the test can fail.
    let old = position(&plan, "ConfigMap", "old");
    let edited = position(&plan, "ConfigMap", "web-config");
    let invalid = [
        (
            format!("at '/changes/{edited}/action'"),
            broken(&plan, |p| p["changes"][edited]["action"] = json!("explode")),
        ),
        (
            "\"summary\" is a required property".to_owned(),
            broken(&plan, |p| {
                p.as_object_mut().unwrap().remove("summary");
            }),
        ),
        (
            "\"drift\" is a required property".to_owned(),
            broken(&plan, |p| {
                p["summary"].as_object_mut().unwrap().remove("drift");
            }),
        ),
        (
            "at '/summary/create'".to_owned(),
            broken(&plan, |p| p["summary"]["create"] = json!(-1)),
        ),
        (
            format!("at '/changes/{edited}/cause'"),
            broken(&plan, |p| p["changes"][edited]["cause"] = json!("maybe")),
        ),
        (
            format!("at '/changes/{edited}/namespace'"),
            broken(&plan, |p| p["changes"][edited]["namespace"] = json!(7)),
        ),
        (
            "\"namespace\" is a required property".to_owned(),
            broken(&plan, |p| {
                p["changes"][edited]
                    .as_object_mut()
                    .unwrap()
                    .remove("namespace");
            }),
        ),
        (
            "at '/schemaVersion'".to_owned(),
            broken(&plan, |p| p["schemaVersion"] = json!("2.0")),
        ),
        (
            "at '/schemaVersion'".to_owned(),
            broken(&plan, |p| p["schemaVersion"] = json!(1.0)),
        ),
        (
            "\"schemaVersion\" is a required property".to_owned(),
            broken(&plan, |p| {
                p.as_object_mut().unwrap().remove("schemaVersion");
            }),
        ),
        (
            format!("at '/changes/{old}/destructive'"),
            broken(&plan, |p| p["changes"][old]["destructive"] = json!(false)),
        ),
        (
            "\"reason\" is a required property".to_owned(),
            broken(&plan, |p| {
                p["changes"][old].as_object_mut().unwrap().remove("reason");
            }),
        ),
        (
            format!("at '/changes/{edited}/driftedFields/0/time'"),
            broken(&plan, |p| {
                p["changes"][edited]["driftedFields"][0]["time"] = json!("yesterday");
            }),
        ),
        (
            "at '/only/cause'".to_owned(),
            broken(&only, |p| p["only"]["cause"] = json!("both")),
        ),
        (
            "at '/1'".to_owned(),
            json!([plan.clone(), {"target": "half a plan"}]),
        ),
    ];
    for (why, document) in &invalid {
        assert_breaks("plan", document, why);
    }
    assert_breaks("apply", &json!([plan.clone()]), "is not of type \"object\"");

    // The apply of that plan prints it, deletes included.
    let mut args = vec!["apply", ".", "--no-wait", "-o", "json"];
    args.extend(target);
    let applied = run_in(second.path(), &args);
    applied.expect_code(0);
    let executed = parse(&applied);
    assert_valid("apply", &executed);
    assert_eq!(
        values(&executed, "action"),
        BTreeSet::from(["create", "delete", "update"])
    );

    // Its status: applied from outside Git (no HEAD to compare), with a last apply.
    let mut args = vec!["status", "-o", "json"];
    args.extend(target);
    let run = run_in(second.path(), &args);
    run.expect_code(0);
    let status = parse(&run);
    assert_valid("status", &status);
    assert_eq!(status["applied"], true);
    assert_eq!(status["head"], Value::Null, "{status:#}");
    assert_eq!(status["lastApply"]["result"], "succeeded", "{status:#}");
    assert_eq!(status["schemaVersion"], gitops::report::SCHEMA_VERSION);
    let invalid = [
        (
            "\"members\" is a required property",
            broken(&status, |s| {
                s.as_object_mut().unwrap().remove("members");
            }),
        ),
        (
            "at '/members/0/health'",
            broken(&status, |s| s["members"][0]["health"] = json!("Sick")),
        ),
        (
            "at '/lastApply/result'",
            broken(&status, |s| s["lastApply"]["result"] = json!("maybe")),
        ),
        (
            "\"revision\" is a required property",
            broken(&status, |s| {
                s["lastApply"].as_object_mut().unwrap().remove("revision");
            }),
        ),
        (
            "at '/applied'",
            broken(&status, |s| s["applied"] = json!("yes")),
        ),
        (
            "at '/inventory'",
            broken(&status, |s| s["inventory"] = json!("gitops-app")),
        ),
    ];
    for (why, document) in &invalid {
        assert_breaks("status", document, why);
    }
}

/// A repository with two targets, each in a namespace of its own.
fn two_targets(one: &str, two: &str) -> Repo {
    let repo = Repo::init();
    let config_map = |ns: &str, name: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: {name}, namespace: {ns}}}\ndata: {{k: v}}\n"
        )
    };
    repo.commit(
        &[
            (
                "gitops.yaml",
                &format!(
                    "targets:\n  - name: one\n    path: apps/one\n    namespace: {one}\n  - name: two\n    path: apps/two\n    namespace: {two}\n    prune: false\n    timeout: 90s\n    createNamespace: true\n"
                ),
            ),
            ("apps/one/config.yaml", &config_map(one, "first")),
            ("apps/two/config.yaml", &config_map(two, "second")),
        ],
        "Test Author",
        "Two targets",
    );
    repo
}

#[test]
fn several_targets_give_valid_arrays_and_streams() {
    let one = TestNamespace::new("schema-one");
    let two = TestNamespace::new("schema-two");
    let repo = two_targets(&one.name, &two.name);
    let at = repo.path();

    // targets: always an array, each element versioned.
    for args in [&["targets", "--json"][..], &["targets", "-o", "json"]] {
        let run = run_in(at, args);
        run.expect_code(0);
        let targets = parse(&run);
        assert_valid("targets", &targets);
        assert_eq!(targets.as_array().map(Vec::len), Some(2), "{targets:#}");
        assert_eq!(targets[1]["timeout"], "90s");
        assert_eq!(targets[0]["timeout"], Value::Null);
        let invalid = [
            ("is not of type \"array\"", targets[0].clone()),
            (
                "\"schemaVersion\" is a required property",
                broken(&targets, |t| {
                    t[0].as_object_mut().unwrap().remove("schemaVersion");
                }),
            ),
            (
                "at '/1/prune'",
                broken(&targets, |t| t[1]["prune"] = json!("no")),
            ),
            (
                "at '/0/namespace'",
                broken(&targets, |t| t[0]["namespace"] = json!(["a"])),
            ),
        ];
        for (why, document) in &invalid {
            assert_breaks("targets", document, why);
        }
    }
    let single = run_in(at, &["targets", "--json", "--target", "two"]);
    single.expect_code(0);
    assert_valid("targets", &parse(&single));

    // Never applied: an array of two short documents.
    let run = run_in(at, &["status", "-o", "json"]);
    run.expect_code(0);
    let status = parse(&run);
    assert_valid("status", &status);
    assert_eq!(
        status,
        json!([
            {"schemaVersion": gitops::report::SCHEMA_VERSION, "target": "one", "applied": false},
            {"schemaVersion": gitops::report::SCHEMA_VERSION, "target": "two", "applied": false},
        ])
    );
    assert_breaks(
        "status",
        &broken(&status, |s| {
            s[0].as_object_mut().unwrap().remove("applied");
        }),
        "\"applied\" is a required property",
    );
    // `applied` is a boolean, not a word.
    assert_breaks(
        "status",
        &json!({"schemaVersion": "1.0", "target": "one", "applied": "false"}),
        "at '/applied'",
    );

    // diff over both targets: an array of plans.
    let run = run_in(at, &["diff", "-o", "json"]);
    run.expect_code(2);
    let plans = parse(&run);
    assert_valid("plan", &plans);
    assert_eq!(plans.as_array().map(Vec::len), Some(2), "{plans:#}");
    assert_breaks("apply", &plans, "is not of type \"object\"");

    // One target applied: its status beside the other's.
    let run = run_in(at, &["apply", "--no-wait", "-o", "json", "--target", "one"]);
    run.expect_code(0);
    assert_valid("apply", &parse(&run));
    let run = run_in(at, &["status", "-o", "json"]);
    run.expect_code(0);
    let status = parse(&run);
    assert_valid("status", &status);
    assert_eq!(status[0]["applied"], true, "{status:#}");
    assert_eq!(status[1]["applied"], false, "{status:#}");
    assert_eq!(status[0]["head"]["state"], "same", "{status:#}");

    // apply over both targets prints one plan per target, one after the other.
    let run = run_in(at, &["apply", "--no-wait", "-o", "json"]);
    run.expect_code(0);
    let executed = documents(&run.stdout);
    assert_eq!(executed.len(), 2, "{}", run.stdout);
    for plan in &executed {
        assert_valid("apply", plan);
        assert_valid("plan", plan);
    }
    assert_eq!(executed[0]["target"], "one");
    assert_eq!(executed[1]["target"], "two");

    // Both applied, HEAD moved on: an array of applied documents.
    repo.commit(
        &[("README.md", "two targets\n")],
        "Test Author",
        "Docs only",
    );
    let run = run_in(at, &["status", "-o", "json"]);
    run.expect_code(0);
    let status = parse(&run);
    assert_valid("status", &status);
    for target in status.as_array().unwrap() {
        assert_eq!(target["applied"], true, "{status:#}");
        assert_eq!(target["head"]["state"], "ahead", "{status:#}");
        assert_eq!(target["head"]["ahead"], 1, "{status:#}");
    }
    let run = run_in(at, &["status", "-o", "json", "--target", "two"]);
    run.expect_code(0);
    let two_status = parse(&run);
    assert_valid("status", &two_status);
    assert_eq!(two_status["target"], "two");
    assert_breaks(
        "status",
        &broken(&two_status, |s| s["head"]["state"] = json!("behind")),
        "at '/head/state'",
    );
}
