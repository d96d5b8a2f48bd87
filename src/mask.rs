//! Secret values never leave the cluster (SPEC.md, Secrets): the one place that hides them.

use serde_json::Value;

/// Shown in place of every value of a Secret's `data` and `stringData`.
pub const HIDDEN: &str = "<hidden>";

/// Annotations that may carry a copy of a Secret's data.
const COPIES_OF_DATA: [&str; 1] = ["kubectl.kubernetes.io/last-applied-configuration"];

/// True for a core/v1 Secret (the only kind whose values gitops hides).
pub fn is_secret(object: &Value) -> bool {
    object.get("kind").and_then(Value::as_str) == Some("Secret")
        && object.get("apiVersion").and_then(Value::as_str) == Some("v1")
}

/// Replaces every value of a Secret's `data` and `stringData` (and copies of them kept in
/// annotations) with `<hidden>`. Other objects are left untouched.
pub fn mask_secret(object: &mut Value) {
    if !is_secret(object) {
        return;
    }
    for field in ["data", "stringData"] {
        if let Some(Value::Object(entries)) = object.get_mut(field) {
            for value in entries.values_mut() {
                *value = Value::String(HIDDEN.to_owned());
            }
        }
    }
    if let Some(Value::Object(annotations)) = object.pointer_mut("/metadata/annotations") {
        for key in COPIES_OF_DATA {
            if let Some(value) = annotations.get_mut(key) {
                *value = Value::String(HIDDEN.to_owned());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn hides_every_value_and_copy() {
        let mut secret = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s",
            "annotations": {"kubectl.kubernetes.io/last-applied-configuration": "{\"data\":{\"p\":\"c2VjcmV0\"}}"}},
            "data": {"p": "c2VjcmV0"}, "stringData": {"q": "secret"}});
        mask_secret(&mut secret);
        let text = secret.to_string();
        assert!(
            !text.contains("c2VjcmV0") && !text.contains("\"secret\""),
            "{text}"
        );
        assert_eq!(secret["data"]["p"], HIDDEN);
        let mut config = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"p": "visible"}});
        mask_secret(&mut config);
        assert_eq!(config["data"]["p"], "visible");
    }
}
