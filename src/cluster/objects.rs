//! Reads and server-side applies of single objects, with errors that name the object.

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use serde_json::Value;

use super::client::Cluster;
use super::discovery::ResourceInfo;
use super::error::{ClusterError, Operation};

/// The field manager gitops applies with.
pub const FIELD_MANAGER: &str = "gitops";

/// `apps/v1 Deployment shop/web` style label for messages.
pub fn describe(info: &ResourceInfo, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!(
            "{} {} {ns}/{name}",
            info.resource.api_version, info.resource.kind
        ),
        None => format!(
            "{} {} {name}",
            info.resource.api_version, info.resource.kind
        ),
    }
}

fn api(cluster: &Cluster, info: &ResourceInfo, namespace: Option<&str>) -> Api<DynamicObject> {
    match namespace.filter(|_| info.namespaced) {
        Some(ns) => Api::namespaced_with(cluster.client.clone(), ns, &info.resource),
        None => Api::all_with(cluster.client.clone(), &info.resource),
    }
}

fn to_value(object: DynamicObject) -> Value {
    // A DynamicObject is plain JSON underneath; serialising it cannot fail.
    serde_json::to_value(object).unwrap_or(Value::Null)
}

/// The live object, or None when it does not exist.
pub async fn get(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: Option<&str>,
    name: &str,
) -> Result<Option<Value>, ClusterError> {
    api(cluster, info, namespace)
        .get_opt(name)
        .await
        .map(|found| found.map(to_value))
        .map_err(|e| {
            let operation = Operation::new("get", describe(info, namespace, name));
            ClusterError::from_kube(e, &cluster.server, operation)
        })
}

/// Server-side apply with field manager `gitops`; `dry_run` persists nothing.
pub async fn apply(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: Option<&str>,
    name: &str,
    object: &Value,
    dry_run: bool,
    force: bool,
) -> Result<Value, ClusterError> {
    let mut params = PatchParams::apply(FIELD_MANAGER);
    params.dry_run = dry_run;
    params.force = force;
    api(cluster, info, namespace)
        .patch(name, &params, &Patch::Apply(object))
        .await
        .map(to_value)
        .map_err(|e| {
            let verb = if dry_run { "dry-run apply" } else { "apply" };
            let operation = Operation::new(verb, describe(info, namespace, name));
            ClusterError::from_kube(e, &cluster.server, operation)
        })
}

/// Every object of a resource in a namespace (or cluster-wide), page by page.
pub async fn list(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: Option<&str>,
) -> Result<Vec<Value>, ClusterError> {
    let api = api(cluster, info, namespace);
    let mut objects = Vec::new();
    let mut params = kube::api::ListParams::default().limit(500);
    loop {
        let page = api.list(&params).await.map_err(|e| {
            let what = match namespace {
                Some(ns) => format!(
                    "{} {} in namespace {ns}",
                    info.resource.api_version, info.resource.plural
                ),
                None => format!("{} {}", info.resource.api_version, info.resource.plural),
            };
            ClusterError::from_kube(e, &cluster.server, Operation::new("list", what))
        })?;
        let next = page.metadata.continue_.clone().filter(|c| !c.is_empty());
        objects.extend(page.items.into_iter().map(|item| {
            let mut value = to_value(item);
            // List items carry no apiVersion/kind; give them back for uniform handling.
            value["apiVersion"] = Value::String(info.resource.api_version.clone());
            value["kind"] = Value::String(info.resource.kind.clone());
            value
        }));
        match next {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(objects),
        }
    }
}

/// Deletes an object (background propagation); an object already gone is fine.
pub async fn delete(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: Option<&str>,
    name: &str,
) -> Result<(), ClusterError> {
    let params = kube::api::DeleteParams::background();
    match api(cluster, info, namespace).delete(name, &params).await {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(e) => {
            let operation = Operation::new("delete", describe(info, namespace, name));
            Err(ClusterError::from_kube(e, &cluster.server, operation))
        }
    }
}
