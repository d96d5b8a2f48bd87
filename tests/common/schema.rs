//! The JSON Schemas of docs/schema/ (what `gitops schema NAME` prints), and a real validator
//! (the `jsonschema` crate, draft 2020-12, formats asserted) to check outputs against them.

use std::path::PathBuf;

use serde_json::Value;

use super::cli::repo_root;

/// docs/schema/NAME.json.
pub fn schema_path(name: &str) -> PathBuf {
    repo_root().join("docs/schema").join(format!("{name}.json"))
}

/// The text of docs/schema/NAME.json.
pub fn schema_text(name: &str) -> String {
    let path = schema_path(name);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// docs/schema/NAME.json, parsed.
pub fn schema(name: &str) -> Value {
    serde_json::from_str(&schema_text(name))
        .unwrap_or_else(|e| panic!("docs/schema/{name}.json is not JSON: {e}"))
}

/// The names of every schema in docs/schema/ (file names without `.json`), sorted.
pub fn schema_names() -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(repo_root().join("docs/schema"))
        .expect("docs/schema exists")
        .filter_map(|entry| {
            let name = entry.unwrap().file_name().to_string_lossy().into_owned();
            name.strip_suffix(".json").map(str::to_owned)
        })
        .collect();
    names.sort();
    names
}

/// Where `document` breaks schema NAME: one line per error (instance path, schema path, why);
/// empty when it is valid. Panics when the schema itself does not compile.
pub fn violations(name: &str, document: &Value) -> Vec<String> {
    let validator = jsonschema::draft202012::options()
        .should_validate_formats(true)
        .build(&schema(name))
        .unwrap_or_else(|e| panic!("docs/schema/{name}.json does not compile: {e}"));
    if validator.is_valid(document) {
        return Vec::new();
    }
    // The evaluation names the failing keywords inside `oneOf` branches too, where the first
    // error alone would only say that no branch matched.
    let evaluation = validator.evaluate(document);
    let mut found: Vec<String> = evaluation
        .iter_errors()
        .map(|e| {
            format!(
                "at '{}' (schema {}): {}",
                e.instance_location.as_str(),
                e.schema_location,
                e.error
            )
        })
        .collect();
    if found.is_empty() {
        found = validator
            .iter_errors(document)
            .map(|e| format!("at '{}': {e}", e.instance_path().as_str()))
            .collect();
    }
    found
}

/// Panics, naming each violation and showing the document, unless `document` is valid against
/// docs/schema/NAME.json.
#[track_caller]
pub fn assert_valid(name: &str, document: &Value) {
    let errors = violations(name, document);
    assert!(
        errors.is_empty(),
        "not valid against docs/schema/{name}.json:\n{}\n--- document\n{document:#}",
        errors.join("\n")
    );
}

/// Panics unless `document` breaks docs/schema/NAME.json; returns the violations.
#[track_caller]
pub fn assert_invalid(name: &str, document: &Value) -> Vec<String> {
    let errors = violations(name, document);
    assert!(
        !errors.is_empty(),
        "valid against docs/schema/{name}.json, but should not be:\n{document:#}"
    );
    errors
}

/// Every JSON document in `text`, one after the other (what `apply -o json` prints for
/// several targets); panics when the text is anything else.
pub fn documents(text: &str) -> Vec<Value> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .unwrap_or_else(|e| panic!("not a stream of JSON documents ({e}):\n{text}"))
}
