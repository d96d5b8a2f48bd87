//! Defaults of native kinds that older API servers need before a server-side apply.
//!
//! Before about v1.26, the API server rejects a server-side apply whose Service ports or
//! container ports omit `protocol` ("associative list with keys has an element that omits key
//! field \"protocol\""), because `protocol` is part of those lists' keys. Real manifests omit it
//! all the time, so gitops fills in the server's own default (TCP) first, as Flux does. Newer
//! servers default it the same way, so the result does not depend on the server version.

use serde_json::{Map, Value};

/// Where a kind keeps its pod spec.
fn pod_spec_pointer(group: &str, kind: &str) -> Option<&'static str> {
    match (group, kind) {
        ("", "Pod") => Some("/spec"),
        ("apps" | "extensions", "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet")
        | ("", "ReplicationController")
        | ("batch", "Job") => Some("/spec/template/spec"),
        ("batch", "CronJob") => Some("/spec/jobTemplate/spec/template/spec"),
        _ => None,
    }
}

/// A Service's `clusterIP: ""` (many charts render `clusterIP: {{ .Values.service.clusterIP }}`)
/// means "allocate one". Applied again over the allocated address, server-side apply would
/// unset it, and the server refuses every apply after the first ("primary clusterIP can not be
/// unset"); client-side kubectl and Helm never send it again. So an empty `clusterIP` or
/// `clusterIPs` in Git takes the live, allocated value: no change, and gitops keeps owning it.
pub fn keep_allocated(group: &str, kind: &str, desired: &mut Value, live: &Value) {
    if (group, kind) != ("", "Service") {
        return;
    }
    let empty = |value: &Value| match value {
        Value::String(text) => text.is_empty(),
        Value::Array(items) => items.iter().all(|i| i.as_str() == Some("")),
        _ => false,
    };
    for field in ["clusterIP", "clusterIPs"] {
        let pointer = format!("/spec/{field}");
        let allocated = live.pointer(&pointer).filter(|v| !empty(v));
        if let (true, Some(allocated)) = (desired.pointer(&pointer).is_some_and(empty), allocated) {
            if let Some(slot) = desired.pointer_mut(&pointer) {
                *slot = allocated.clone();
            }
        }
    }
}

/// Fills in `protocol: TCP` where a list key needs it.
pub fn fill_native_defaults(group: &str, kind: &str, object: &mut Value) {
    if let Some(pointer) = pod_spec_pointer(group, kind) {
        if let Some(spec) = object.pointer_mut(pointer) {
            for containers in ["containers", "initContainers"] {
                for container in items_mut(spec.get_mut(containers)) {
                    for port in items_mut(container.get_mut("ports")) {
                        default_protocol(port);
                    }
                }
            }
        }
    }
    if (group, kind) == ("", "Service") {
        for port in items_mut(object.pointer_mut("/spec/ports")) {
            default_protocol(port);
        }
    }
}

fn items_mut(list: Option<&mut Value>) -> impl Iterator<Item = &mut Value> {
    list.and_then(Value::as_array_mut).into_iter().flatten()
}

fn default_protocol(port: &mut Value) {
    if let Value::Object(port) = port {
        insert_if_missing(port, "protocol", "TCP");
    }
}

fn insert_if_missing(map: &mut Map<String, Value>, key: &str, value: &str) {
    if map.get(key).is_none_or(Value::is_null) {
        map.insert(key.to_owned(), Value::String(value.to_owned()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_cluster_ip_keeps_the_allocated_one() {
        let live =
            serde_json::json!({"spec": {"clusterIP": "10.0.0.7", "clusterIPs": ["10.0.0.7"]}});
        let mut desired = serde_json::json!({"spec": {"clusterIP": "", "clusterIPs": []}});
        keep_allocated("", "Service", &mut desired, &live);
        assert_eq!(desired, live);
        let mut headless = serde_json::json!({"spec": {"clusterIP": "None"}});
        keep_allocated("", "Service", &mut headless, &live);
        assert_eq!(
            headless["spec"]["clusterIP"], "None",
            "a set value stays Git's"
        );
        let mut other = serde_json::json!({"spec": {"clusterIP": ""}});
        keep_allocated("example.com", "Service", &mut other, &live);
        assert_eq!(other["spec"]["clusterIP"], "");
    }
    use serde_json::json;

    #[test]
    fn fills_protocol_in_pod_templates_and_services() {
        let mut deployment = json!({"spec": {"template": {"spec": {
            "containers": [{"name": "a", "ports": [{"containerPort": 80}, {"containerPort": 53, "protocol": "UDP"}]}],
            "initContainers": [{"name": "i", "ports": [{"containerPort": 9}]}]}}}});
        fill_native_defaults("apps", "Deployment", &mut deployment);
        let spec = &deployment["spec"]["template"]["spec"];
        assert_eq!(spec["containers"][0]["ports"][0]["protocol"], "TCP");
        assert_eq!(spec["containers"][0]["ports"][1]["protocol"], "UDP");
        assert_eq!(spec["initContainers"][0]["ports"][0]["protocol"], "TCP");

        let mut cron = json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": [{"ports": [{"containerPort": 1}]}]}}}}}});
        fill_native_defaults("batch", "CronJob", &mut cron);
        assert_eq!(
            cron.pointer("/spec/jobTemplate/spec/template/spec/containers/0/ports/0/protocol"),
            Some(&json!("TCP"))
        );

        let mut service = json!({"spec": {"ports": [{"port": 80}]}});
        fill_native_defaults("", "Service", &mut service);
        assert_eq!(service["spec"]["ports"][0]["protocol"], "TCP");

        let mut custom = json!({"spec": {"ports": [{"port": 80}]}});
        fill_native_defaults("example.com", "Service", &mut custom);
        assert!(custom["spec"]["ports"][0].get("protocol").is_none());
    }
}
