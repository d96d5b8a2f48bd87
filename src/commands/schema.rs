//! `gitops schema NAME`: the JSON Schema (draft 2020-12) of a JSON document gitops prints.
//! The schemas are the files published in docs/schema/, embedded at build time, so that the
//! printed schema and the published one are the same bytes (docs/schema/README.md).

use crate::cli::SchemaArgs;
use crate::exit::{Exit, UsageError};

/// Every published schema: the name `gitops schema` takes, and the file's text. A new schema
/// is a file in docs/schema/ and a line here.
const SCHEMAS: &[(&str, &str)] = &[
    ("plan", include_str!("../../docs/schema/plan.json")),
    ("apply", include_str!("../../docs/schema/apply.json")),
    ("status", include_str!("../../docs/schema/status.json")),
    ("history", include_str!("../../docs/schema/history.json")),
    ("stats", include_str!("../../docs/schema/stats.json")),
    ("targets", include_str!("../../docs/schema/targets.json")),
    ("compare", include_str!("../../docs/schema/compare.json")),
];

pub fn run(args: &SchemaArgs) -> anyhow::Result<Exit> {
    let text = schema(&args.name)?;
    crate::report::write_stdout(text)?;
    Ok(Exit::Success)
}

/// The schema named `name`; anything else is a usage error naming the schemas there are.
fn schema(name: &str) -> Result<&'static str, UsageError> {
    if let Some((_, text)) = SCHEMAS.iter().find(|(known, _)| *known == name) {
        return Ok(text);
    }
    let known: Vec<&str> = SCHEMAS.iter().map(|(known, _)| *known).collect();
    Err(UsageError(format!(
        "no schema named {name:?} (schemas: {})",
        known.join(", ")
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_schema_is_json_with_an_id_of_the_current_major_version() {
        let major = crate::report::SCHEMA_VERSION.split('.').next().unwrap();
        for (name, text) in SCHEMAS {
            let schema: serde_json::Value = serde_json::from_str(text)
                .unwrap_or_else(|e| panic!("docs/schema/{name}.json is not JSON: {e}"));
            assert_eq!(
                schema["$id"],
                format!("https://gitops.dev/schema/v{major}/{name}.json"),
                "{name}"
            );
            assert_eq!(
                schema["$schema"], "https://json-schema.org/draft/2020-12/schema",
                "{name}"
            );
        }
    }

    #[test]
    fn unknown_names_list_the_known_ones() {
        let unknown = schema("plans").unwrap_err().0;
        assert!(
            unknown.starts_with("no schema named \"plans\" (schemas: plan, apply, "),
            "{unknown}"
        );
        for (name, _) in SCHEMAS {
            assert!(unknown.contains(name), "{unknown}");
        }
        assert_eq!(schema("plan").unwrap(), SCHEMAS[0].1);
    }
}
