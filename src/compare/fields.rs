//! The fields two paired objects disagree on, as JSON pointers with both values. A Secret's
//! values never appear: only which of its keys differ.

use serde::Serialize;
use serde_json::Value;

use crate::mask::{is_secret, HIDDEN};

/// One field that differs (None: absent on that side).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FieldDifference {
    pub object: String,
    pub path: String,
    pub a: Option<Value>,
    pub b: Option<Value>,
}

/// Differences of `a` and `b`, leaving out the pointers in `skip` (reported elsewhere: the
/// namespace, container images) and what says nothing about the environment (status).
pub fn differences(
    object: &str,
    a: &Value,
    b: &Value,
    skip: &[String],
    renames: &[(String, String)],
) -> Vec<FieldDifference> {
    let mut found = Vec::new();
    let secret = is_secret(a) || is_secret(b);
    walk(Some(a), Some(b), String::new(), &mut |path, va, vb| {
        if skip.iter().any(|s| s == &path) || path == "/status" || path.starts_with("/status/") {
            return;
        }
        // The same reference under each environment's name (`shop-web-env-<hash>`).
        if let (Some(Value::String(sa)), Some(Value::String(sb))) = (va, vb) {
            if renames.iter().any(|(ra, rb)| ra == sa && rb == sb) {
                return;
            }
        }
        let hidden = secret
            && (path.starts_with("/data/")
                || path.starts_with("/stringData/")
                || path == "/data"
                || path == "/stringData");
        let shown = |v: Option<&Value>| {
            v.map(|v| {
                if hidden {
                    Value::String(HIDDEN.to_owned())
                } else {
                    v.clone()
                }
            })
        };
        found.push(FieldDifference {
            object: object.to_owned(),
            path,
            a: shown(va),
            b: shown(vb),
        });
    });
    found
}

/// Told of a differing field: its pointer and the value on each side.
type Report<'r> = dyn FnMut(String, Option<&Value>, Option<&Value>) + 'r;

/// Items of two lists paired by name: A's index (B's for an item only B has) and each side's item.
type NamedPairs<'v> = Vec<(usize, Option<&'v Value>, Option<&'v Value>)>;

/// Calls `report` for every leaf (or whole subtree present on one side only) that differs.
fn walk(a: Option<&Value>, b: Option<&Value>, path: String, report: &mut Report<'_>) {
    match (a, b) {
        (Some(Value::Object(ma)), Some(Value::Object(mb))) => {
            for (key, va) in ma {
                walk(Some(va), mb.get(key), child(&path, key), report);
            }
            for (key, vb) in mb.iter().filter(|(k, _)| !ma.contains_key(*k)) {
                walk(None, Some(vb), child(&path, key), report);
            }
        }
        (Some(Value::Array(la)), Some(Value::Array(lb))) => match by_name(la, lb) {
            Some(pairs) => {
                for (index, va, vb) in pairs {
                    walk(va, vb, child(&path, &index.to_string()), report);
                }
            }
            None if la.len() == lb.len() => {
                for (index, (va, vb)) in la.iter().zip(lb).enumerate() {
                    walk(Some(va), Some(vb), child(&path, &index.to_string()), report);
                }
            }
            None => report(path, a, b),
        },
        (a, b) if a != b => report(path, a, b),
        _ => {}
    }
}

/// Lists whose items all have distinct `name`s (containers, ports, env, volumes) pair by name,
/// so an item added in the middle is one difference, not a shift of every later one. The
/// index is A's (B's for an item only B has).
fn by_name<'v>(la: &'v [Value], lb: &'v [Value]) -> Option<NamedPairs<'v>> {
    let names = |list: &'v [Value]| -> Option<Vec<&'v str>> {
        let names: Vec<&str> = list
            .iter()
            .map(|v| v.get("name").and_then(Value::as_str))
            .collect::<Option<_>>()?;
        let unique: std::collections::BTreeSet<&&str> = names.iter().collect();
        (unique.len() == names.len()).then_some(names)
    };
    let (na, nb) = (names(la)?, names(lb)?);
    if na == nb {
        return None;
    }
    let mut pairs: Vec<_> = na
        .iter()
        .enumerate()
        .map(|(i, name)| {
            (
                i,
                Some(&la[i]),
                nb.iter().position(|n| n == name).map(|j| &lb[j]),
            )
        })
        .collect();
    pairs.extend(
        nb.iter()
            .enumerate()
            .filter(|(_, n)| !na.contains(n))
            .map(|(j, _)| (j, None, Some(&lb[j]))),
    );
    Some(pairs)
}

/// `path` with one more JSON pointer token (RFC 6901: `~` → `~0`, `/` → `~1`).
fn child(path: &str, key: &str) -> String {
    format!("{path}/{}", key.replace('~', "~0").replace('/', "~1"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(found: &[FieldDifference]) -> Vec<&str> {
        found.iter().map(|f| f.path.as_str()).collect()
    }

    #[test]
    fn leaves_are_reported_as_pointers_with_both_values() {
        let a = json!({"metadata": {"name": "web", "labels": {"app.kubernetes.io/version": "2"}}, "spec": {"replicas": 3}});
        let b = json!({"metadata": {"name": "web", "labels": {"app.kubernetes.io/version": "1"}}, "spec": {"replicas": 1, "paused": true}});
        let found = differences("Deployment/web", &a, &b, &[], &[]);
        assert_eq!(
            paths(&found),
            [
                "/metadata/labels/app.kubernetes.io~1version",
                "/spec/replicas",
                "/spec/paused"
            ]
        );
        assert_eq!(
            (found[1].a.clone(), found[1].b.clone()),
            (Some(json!(3)), Some(json!(1)))
        );
        assert_eq!(found[2].a, None);
    }

    #[test]
    fn named_items_pair_by_name_and_skipped_pointers_are_left_out() {
        let a = json!({"metadata": {"name": "w"}, "spec": {"containers": [{"name": "app", "image": "web:2"}, {"name": "proxy", "image": "envoy"}]}});
        let b = json!({"metadata": {"name": "w"}, "spec": {"containers": [{"name": "debug", "image": "busybox"}, {"name": "app", "image": "web:1", "args": ["-v"]}]}});
        let found = differences(
            "Pod/w",
            &a,
            &b,
            &["/spec/containers/0/image".to_owned()],
            &[],
        );
        assert_eq!(
            paths(&found),
            [
                "/spec/containers/0/args",
                "/spec/containers/1",
                "/spec/containers/0"
            ]
        );
    }

    #[test]
    fn secret_values_are_hidden_and_only_differing_keys_named() {
        let a = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"password": "c2VjcmV0", "user": "YQ=="}});
        let b = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "data": {"password": "b3RoZXI=", "user": "YQ=="}});
        let found = differences("Secret/s", &a, &b, &[], &[]);
        assert_eq!(paths(&found), ["/data/password"]);
        assert_eq!(found[0].a, Some(json!(HIDDEN)));
        assert!(!format!("{found:?}").contains("c2VjcmV0"));
    }
}
