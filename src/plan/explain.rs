//! The server's refusals said for people: what a misspelt or too-new field, a duplicate list key
//! or an unquoted number means, and what to do. Applied to the failures of a plan.

use crate::cluster::{objects, Cluster};

/// The server names fields its schema lacks ("field not declared in schema"); say what
/// that usually means, with the server's version, so that a field newer than the cluster is not
/// hunted for as a typo.
pub async fn unknown_fields(cluster: &Cluster, failures: &mut [String]) {
    // v1.20's server-side apply, and newer servers' strict field validation.
    let unknown = |f: &String| {
        f.contains("field not declared in schema")
            || f.contains("strict decoding error: unknown field")
    };
    if !failures.iter().any(unknown) {
        return;
    }
    let version = objects::server_version(cluster)
        .await
        .map(|v| format!("this cluster's Kubernetes {v}"))
        .unwrap_or_else(|| "this cluster's Kubernetes version".to_owned());
    for failure in failures.iter_mut().filter(|f| unknown(f)) {
        failure.push_str(&format!(
            "\n    (these fields are not in the schema of {version}: a misspelt field, or one added in a later Kubernetes version or a newer CRD)"
        ));
    }
}

/// Lists with the same key twice (two `env` entries named A) are common in manifests written for
/// client-side `kubectl apply`, which kept the last one; server-side apply refuses them.
pub fn duplicate_keys(failures: &mut [String]) {
    for failure in failures
        .iter_mut()
        .filter(|f| f.contains("duplicate entries for key"))
    {
        failure.push_str(
            "\n    (server-side apply needs every item of such a list to have its own key: remove or rename the duplicate (client-side kubectl apply accepted it))",
        );
    }
}

/// `port: 8080` or `enabled: yes` under a ConfigMap's `data` (or an annotation, a label, an env
/// value) is a number or a boolean in YAML; server-side apply says so in Go's words
/// (`got &value.valueUnstructured{Value:8080}`). Say it plainly, and what to do.
pub fn unquoted_strings(failures: &mut [String]) {
    const GO_VALUE: &str = "&value.valueUnstructured{Value:";
    for failure in failures
        .iter_mut()
        .filter(|f| f.contains("expected string, got"))
    {
        let mut plain = String::with_capacity(failure.len());
        let mut rest = failure.as_str();
        let mut scalars = 0;
        while let Some(at) = rest.find(GO_VALUE) {
            plain.push_str(&rest[..at]);
            let value = &rest[at + GO_VALUE.len()..];
            let end = value.find('}').unwrap_or(value.len());
            // A map or a list (`map[string]interface {}{…}`) is left in the server's words.
            if value[..end].contains('{') {
                plain.push_str(GO_VALUE);
                rest = value;
                continue;
            }
            plain.push_str(&value[..end]);
            scalars += 1;
            rest = value.get(end + 1..).unwrap_or("");
        }
        plain.push_str(rest);
        if scalars > 0 {
            plain.push_str(
                "\n    (YAML reads unquoted 8080, 1.0, true, yes and on as numbers and booleans: quote the value, e.g. \"8080\")",
            );
        }
        *failure = plain;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_values_become_plain_and_maps_stay_as_the_server_said() {
        let mut failures = vec![
            "x: errors:\n  .data.port: expected string, got &value.valueUnstructured{Value:8080}".to_owned(),
            "y: .data.nested: expected string, got &value.valueUnstructured{Value:map[string]interface {}{\"a\":\"b\"}}".to_owned(),
        ];
        unquoted_strings(&mut failures);
        assert!(failures[0].contains(".data.port: expected string, got 8080\n"));
        assert!(failures[0].contains("quote the value"));
        assert!(failures[1].contains("valueUnstructured{Value:map[string]"));
        assert!(!failures[1].contains("quote the value"));
    }
}
