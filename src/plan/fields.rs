//! Reading server-side apply's bookkeeping (`metadata.managedFields`): who owns a field, and
//! the part of an object one manager applied. Plain functions over the live object.
//!
//! A `fieldsV1` set names fields as `f:<name>`, list items as `k:{…}` (by keys), `v:…` (by
//! value) or `i:N` (by index); an empty set is a leaf (an atomic value owned whole).

use serde_json::{Map, Value};

use super::normalize::{find_item, unescape};

/// One entry of managedFields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manager {
    pub name: String,
    /// `Apply` or `Update`.
    pub operation: String,
    /// When it last wrote (RFC 3339), where the server recorded it.
    pub time: Option<String>,
}

fn entries(live: &Value) -> impl Iterator<Item = &Map<String, Value>> {
    live.pointer("/metadata/managedFields")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_object)
}

fn text<'a>(entry: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    entry.get(key).and_then(Value::as_str)
}

fn manager_of(entry: &Map<String, Value>) -> Manager {
    Manager {
        name: text(entry, "manager").unwrap_or("").to_owned(),
        operation: text(entry, "operation").unwrap_or("").to_owned(),
        time: text(entry, "time").map(str::to_owned),
    }
}

/// The managers other than `ours` whose fields cover `pointer` (a JSON pointer into `live`):
/// the field itself, or an atomic value that holds it. Newest first.
pub fn other_owners(live: &Value, pointer: &str, ours: &str) -> Vec<Manager> {
    let tokens: Vec<String> = pointer.split('/').skip(1).map(unescape).collect();
    let mut owners: Vec<Manager> = entries(live)
        .filter(|entry| text(entry, "manager").is_some_and(|name| name != ours))
        .filter(|entry| {
            entry
                .get("fieldsV1")
                .and_then(Value::as_object)
                .is_some_and(|fields| covers(fields, live, &tokens))
        })
        .map(manager_of)
        .collect();
    owners.sort_by(|a, b| b.time.cmp(&a.time));
    owners
}

/// Whether a fields set reaches the value at `tokens` inside `object`.
fn covers(fields: &Map<String, Value>, object: &Value, tokens: &[String]) -> bool {
    let Some((token, rest)) = tokens.split_first() else {
        return true;
    };
    let (children, value) = match object {
        Value::Object(map) => (fields.get(&format!("f:{token}")), map.get(token)),
        Value::Array(items) => {
            let Some(item) = token.parse::<usize>().ok().and_then(|i| items.get(i)) else {
                return false;
            };
            let key = fields
                .keys()
                .find(|key| find_item(std::slice::from_ref(item), key) == Some(0));
            (key.and_then(|key| fields.get(key)), Some(item))
        }
        _ => return false,
    };
    let (Some(Value::Object(children)), Some(value)) = (children, value) else {
        return false;
    };
    let atomic = children.keys().all(|k| k == ".");
    atomic || covers(children, value, rest)
}

/// The newest `Update` after `since` (RFC 3339, the last apply) by a manager other than
/// `ours` that owns no status (controllers write status; a hand edit does not): the likeliest
/// author of a change that no field records (a field removed by hand). None when nobody fits:
/// v1.20, for one, records no manager for writes through the scale subresource.
pub fn latest_other_update(live: &Value, ours: &str, since: Option<&str>) -> Option<Manager> {
    entries(live)
        .filter(|entry| text(entry, "operation") == Some("Update"))
        .filter(|entry| text(entry, "manager").is_some_and(|name| name != ours))
        .filter(|entry| {
            entry
                .get("fieldsV1")
                .and_then(Value::as_object)
                .is_some_and(|fields| !fields.contains_key("f:status"))
        })
        .map(manager_of)
        .filter(|m| match (since, &m.time) {
            (Some(since), Some(time)) => later(time, since),
            _ => since.is_none(),
        })
        .max_by(|a, b| a.time.cmp(&b.time))
}

/// Strictly later: managedFields times are to the second, and a controller's write in the
/// apply's own second is no hand edit.
fn later(time: &str, since: &str) -> bool {
    match (
        time.parse::<jiff::Timestamp>(),
        since.parse::<jiff::Timestamp>(),
    ) {
        (Ok(time), Ok(since)) => time > since,
        _ => false,
    }
}

/// The part of `object` that `manager`'s `Apply` entry owns (None: it applied nothing here).
pub fn applied_part(object: &Value, manager: &str) -> Option<Value> {
    let fields = entries(object)
        .find(|e| text(e, "manager") == Some(manager) && text(e, "operation") == Some("Apply"))?
        .get("fieldsV1")?
        .as_object()?;
    Some(project(object, fields))
}

fn project(object: &Value, fields: &Map<String, Value>) -> Value {
    match object {
        Value::Object(map) => {
            let mut kept = Map::new();
            for (key, children) in fields {
                let Some(name) = key.strip_prefix("f:") else {
                    continue;
                };
                if let Some(value) = map.get(name) {
                    let value = match children.as_object() {
                        Some(children) if !leaf_set(children) => project(value, children),
                        _ => value.clone(),
                    };
                    kept.insert(name.to_owned(), value);
                }
            }
            Value::Object(kept)
        }
        Value::Array(items) => Value::Array(
            fields
                .iter()
                .filter_map(|(key, children)| {
                    let item = &items[find_item(items, key)?];
                    Some(match children.as_object() {
                        Some(children) if !leaf_set(children) => project(item, children),
                        _ => item.clone(),
                    })
                })
                .collect(),
        ),
        other => other.clone(),
    }
}

/// A set with nothing below it but `.`: the value is owned whole.
fn leaf_set(children: &Map<String, Value>) -> bool {
    children.keys().all(|k| k == ".")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn live() -> Value {
        json!({"metadata": {"managedFields": [
                {"manager": "gitops", "operation": "Apply", "time": "2026-12-05T10:00:00Z",
                 "fieldsV1": {"f:spec": {"f:containers": {"k:{\"name\":\"web\"}": {
                     ".": {}, "f:name": {}, "f:image": {}}}, "f:selector": {}}}},
                {"manager": "istio", "operation": "Update", "time": "2026-12-05T11:00:00Z",
                 "fieldsV1": {"f:spec": {"f:containers": {"k:{\"name\":\"proxy\"}": {
                     ".": {}, "f:name": {}, "f:image": {}}}}}}]},
            "spec": {"selector": {"matchLabels": {"app": "web"}},
                     "containers": [{"name": "web", "image": "web:1"},
                                    {"name": "proxy", "image": "proxy:1"}]}})
    }

    #[test]
    fn owners_are_found_through_list_items_and_atomic_values() {
        let live = live();
        let owners = |pointer: &str| {
            other_owners(&live, pointer, "gitops")
                .into_iter()
                .map(|m| m.name)
                .collect::<Vec<_>>()
        };
        assert_eq!(owners("/spec/containers/1/image"), ["istio"]);
        assert!(owners("/spec/containers/0/image").is_empty());
        // An atomic map is owned whole: a key below it belongs to its owner.
        assert_eq!(
            other_owners(&live, "/spec/selector/matchLabels/app", "istio")[0].name,
            "gitops"
        );
        assert!(owners("/spec/containers/7/image").is_empty());
    }

    #[test]
    fn the_applied_part_keeps_only_the_managers_fields() {
        let part = applied_part(&live(), "gitops").unwrap();
        assert_eq!(
            part,
            json!({"spec": {"containers": [{"name": "web", "image": "web:1"}],
                            "selector": {"matchLabels": {"app": "web"}}}})
        );
        assert_eq!(applied_part(&live(), "nobody"), None);
    }
}
