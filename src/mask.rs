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
        match object.get_mut(field) {
            Some(Value::Object(entries)) => {
                for value in entries.values_mut() {
                    *value = Value::String(HIDDEN.to_owned());
                }
            }
            // Not a mapping (a mistake the server will reject): hide it whole.
            Some(other) if !other.is_null() => *other = Value::String(HIDDEN.to_owned()),
            _ => {}
        }
    }
    mask_copies(object);
}

/// Hides annotations that may carry a copy of the Secret's data.
fn mask_copies(object: &mut Value) {
    if let Some(Value::Object(annotations)) = object.pointer_mut("/metadata/annotations") {
        for key in COPIES_OF_DATA {
            if let Some(value) = annotations.get_mut(key) {
                *value = Value::String(HIDDEN.to_owned());
            }
        }
    }
}

/// Shown for a key whose value differs from the live one.
pub const HIDDEN_CHANGED: &str = "<hidden: changed>";
/// Shown for a key the live Secret does not have.
pub const HIDDEN_NEW: &str = "<hidden: new>";

/// Masks the two sides of a Secret diff (SPEC.md, Secrets): `<hidden>` for a key whose value is
/// unchanged (and on the live side of every key), `<hidden: changed>` and `<hidden: new>` on the
/// desired side. `stringData` is first folded into `data`, as the API server does, so that a
/// value written as plain text compares equal to the same value stored in base64.
pub fn mask_secret_pair(live: Option<&mut Value>, desired: Option<&mut Value>) {
    let live_data = live.as_ref().map(|l| data_of(l)).unwrap_or_default();
    if let Some(desired) = desired {
        if is_secret(desired) {
            fold_string_data(desired);
            if let Some(Value::Object(entries)) = desired.get_mut("data") {
                for (key, value) in entries.iter_mut() {
                    let marker = match live_data.get(key) {
                        None => HIDDEN_NEW,
                        Some(old) if old == value => HIDDEN,
                        Some(_) => HIDDEN_CHANGED,
                    };
                    *value = Value::String(marker.to_owned());
                }
            }
            mask_copies(desired);
        }
    }
    if let Some(live) = live {
        mask_secret(live);
    }
}

fn data_of(object: &Value) -> serde_json::Map<String, Value> {
    let mut object = object.clone();
    fold_string_data(&mut object);
    match object.get("data") {
        Some(Value::Object(data)) => data.clone(),
        _ => serde_json::Map::new(),
    }
}

/// Moves `stringData` into `data` as base64, the way the API server stores it.
fn fold_string_data(object: &mut Value) {
    let Some(Value::Object(plain)) = object.as_object_mut().and_then(|o| o.remove("stringData"))
    else {
        return;
    };
    let map = object.as_object_mut().expect("a Secret is a mapping");
    let data = map
        .entry("data")
        .or_insert_with(|| Value::Object(serde_json::Map::new()));
    if let Value::Object(data) = data {
        for (key, value) in plain {
            let text = value.as_str().unwrap_or_default();
            data.insert(key, Value::String(base64(text.as_bytes())));
        }
    }
}

/// Standard base64 with padding (what Secret `data` holds).
pub fn base64(bytes: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(bytes)
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
        let mut broken =
            json!({"apiVersion": "v1", "kind": "Secret", "data": "LEAKY", "stringData": ["LEAKY"]});
        mask_secret(&mut broken);
        assert!(!broken.to_string().contains("LEAKY"), "{broken}");
        let mut config = json!({"apiVersion": "v1", "kind": "ConfigMap", "data": {"p": "visible"}});
        mask_secret(&mut config);
        assert_eq!(config["data"]["p"], "visible");
    }

    #[test]
    fn pairs_show_changed_and_new_keys_only() {
        let mut live = json!({"apiVersion": "v1", "kind": "Secret", "data": {"same": "c2FtZQ==", "old": "b2xk", "gone": "eA=="}});
        let mut desired = json!({"apiVersion": "v1", "kind": "Secret", "data": {"old": "bmV3"}, "stringData": {"same": "same", "added": "x"}});
        mask_secret_pair(Some(&mut live), Some(&mut desired));
        assert_eq!(
            desired["data"],
            json!({"old": HIDDEN_CHANGED, "same": HIDDEN, "added": HIDDEN_NEW})
        );
        assert_eq!(
            live["data"],
            json!({"same": HIDDEN, "old": HIDDEN, "gone": HIDDEN})
        );
        assert!(desired.get("stringData").is_none());
    }

    #[test]
    fn base64_matches_the_standard() {
        for (plain, encoded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64(plain.as_bytes()), encoded);
        }
    }
}
