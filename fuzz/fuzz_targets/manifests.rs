//! The manifest reader and validator, fed arbitrary text: the way gitops reads a file or a
//! renderer's output (`parse_stream`), then validates, orders and masks what it read.
//!
//! Besides "never panics, never hangs, never runs out of memory", it checks properties:
//! - every error names a line and column (1-based);
//! - every object gitops would print survives a round trip through its own YAML emitter
//!   (`gitops render | kubectl apply -f -` must mean the same objects);
//! - a masked Secret holds no value of its data or stringData.
#![no_main]

use gitops::render::manifest::parse_stream;
use gitops::render::order::sort_for_apply;
use gitops::render::validate::validate;
use gitops::yaml::{load_documents, to_string};
use libfuzzer_sys::fuzz_target;
use serde_json::Value;

fuzz_target!(|data: &[u8]| {
    // gitops refuses non-UTF-8 input before parsing (with the line of the first bad byte).
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut manifests = match parse_stream(text, "fuzz.yaml") {
        Ok(manifests) => manifests,
        Err(error) => {
            assert!(error.line >= 1 && error.column >= 1, "{error}");
            assert!(error.to_string().starts_with("fuzz.yaml:"), "{error}");
            return;
        }
    };
    for problem in validate(&manifests, "default") {
        assert!(problem.origin.line >= 1, "{problem}");
    }
    sort_for_apply(&mut manifests);
    for manifest in &manifests {
        round_trip(&manifest.object);
        let mut masked = manifest.object.clone();
        gitops::mask::mask_secret(&mut masked);
        if gitops::mask::is_secret(&masked) {
            for field in ["data", "stringData"] {
                match masked.get(field) {
                    None | Some(Value::Null) => {}
                    Some(Value::Object(entries)) => assert!(
                        entries.values().all(|v| v == gitops::mask::HIDDEN),
                        "{field} not masked: {masked}"
                    ),
                    Some(other) => assert_eq!(other, gitops::mask::HIDDEN, "{field}"),
                }
            }
        }
    }
});

/// What gitops prints for an object reads back as the same object.
fn round_trip(object: &Value) {
    let text = to_string(object);
    let back = load_documents(&text)
        .unwrap_or_else(|e| panic!("emitted YAML does not load ({e}):\n{text}\nfrom {object}"));
    assert_eq!(back.len(), 1, "emitted:\n{text}");
    assert_eq!(&back[0].value, object, "emitted:\n{text}");
}
