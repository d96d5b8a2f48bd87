//! Reads, server-side applies and deletes of objects, with errors that name the object.
//!
//! Requests go through kube's request builder and are decoded straight into JSON values: the
//! plan works on `serde_json::Value`, and a write's response is not decoded at all. At 5,000
//! objects that is a noticeable share of the CPU the API server on the same machine needs.

use kube::api::{DeleteParams, GetParams, ListParams, Patch, PatchParams, Preconditions};
use kube::core::{DynamicObject, Request, Resource};
use serde_json::Value;

use super::client::Cluster;
use super::discovery::ResourceInfo;
use super::error::{ClusterError, Operation};
use super::retry;
use super::send::{copy_request, send_bytes, send_once};
use crate::ownership::FIELD_MANAGER;

/// `apps/v1 Deployment shop/web` style label for messages.
pub fn describe(info: &ResourceInfo, namespace: Option<&str>, name: &str) -> String {
    crate::identity::describe(
        &info.resource.api_version,
        &info.resource.kind,
        namespace,
        name,
    )
}

fn request(info: &ResourceInfo, namespace: Option<&str>) -> Request {
    let namespace = namespace.filter(|_| info.namespaced);
    Request::new(DynamicObject::url_path(&info.resource, namespace))
}

/// Sends a built request and decodes the answer; errors name the verb and the object.
async fn send<T: serde::de::DeserializeOwned>(
    cluster: &Cluster,
    built: Result<http::Request<Vec<u8>>, kube::core::request::Error>,
    verb: &'static str,
    what: impl Fn() -> String,
) -> Result<T, (kube::Error, Operation)> {
    let result = match built {
        Ok(req) => send_bytes(cluster, req, || format!("{verb} {}", what()))
            .await
            .and_then(|body| serde_json::from_slice(&body).map_err(kube::Error::SerdeError)),
        Err(e) => Err(kube::Error::BuildRequest(e)),
    };
    result.map_err(|e| (e, Operation::new(verb, what())))
}

/// Like `send`, for requests whose response body is not needed.
async fn send_discarding(
    cluster: &Cluster,
    built: Result<http::Request<Vec<u8>>, kube::core::request::Error>,
    verb: &'static str,
    what: impl Fn() -> String,
) -> Result<(), (kube::Error, Operation)> {
    let result = match built {
        Ok(req) => send_bytes(cluster, req, || format!("{verb} {}", what()))
            .await
            .map(drop),
        Err(e) => Err(kube::Error::BuildRequest(e)),
    };
    result.map_err(|e| (e, Operation::new(verb, what())))
}

fn classify(cluster: &Cluster, (error, operation): (kube::Error, Operation)) -> ClusterError {
    ClusterError::from_kube(error, &cluster.server, operation)
}

/// A Secret's rejection may quote its values ("expected string, got …{Value:…}"): keep the
/// reason, drop the server's message (SPEC.md, Secrets). A field-ownership conflict is kept:
/// it names managers and field paths (`.data.password`), never values, and the plan needs the
/// managers to tell drift from another owner.
fn classify_for(
    cluster: &Cluster,
    info: &ResourceInfo,
    failure: (kube::Error, Operation),
) -> ClusterError {
    let error = classify(cluster, failure);
    let is_secret = info.resource.group.is_empty() && info.resource.kind == "Secret";
    match error {
        error if error.field_conflict().is_some() => error,
        ClusterError::Api { operation, code, reason, .. } if is_secret => ClusterError::Api {
            operation,
            code,
            message: format!(
                "the API server rejected the Secret ({}); its message is not shown because it may quote the Secret's values: check the Secret's data and stringData (strings, valid base64 in data)",
                if reason.is_empty() { format!("HTTP {code}") } else { reason.clone() }
            ),
            reason,
        },
        other => other,
    }
}

fn is_not_found((error, _): &(kube::Error, Operation)) -> bool {
    matches!(error, kube::Error::Api(status) if status.code == 404)
}

/// The live object, or None when it does not exist.
pub async fn get(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: Option<&str>,
    name: &str,
) -> Result<Option<Value>, ClusterError> {
    let built = request(info, namespace).get(name, &GetParams::default());
    match send::<Value>(cluster, built, "get", || describe(info, namespace, name)).await {
        Ok(object) => Ok(Some(object)),
        Err(e) if is_not_found(&e) => Ok(None),
        Err(e) => Err(classify_for(cluster, info, e)),
    }
}

/// Server-side apply with field manager `gitops`. A dry-run returns the object the server
/// would store; a real apply returns nothing (its response is not needed).
pub async fn apply(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: Option<&str>,
    name: &str,
    object: &Value,
    dry_run: bool,
    force: bool,
) -> Result<Option<Value>, ClusterError> {
    let mut params = strict_apply();
    params.dry_run = dry_run;
    params.force = force;
    let built = request(info, namespace).patch(name, &params, &Patch::Apply(object));
    let what = || describe(info, namespace, name);
    let result = if dry_run {
        send::<Value>(cluster, built, "dry-run apply", what)
            .await
            .map(Some)
    } else {
        send_discarding(cluster, built, "apply", what)
            .await
            .map(|()| None)
    };
    result.map_err(|e| classify_for(cluster, info, e))
}

/// Creates `object` (field manager `gitops`) and returns it as stored: a `generateName` object
/// gets its name from the server. A hook is created, not applied: every run makes it anew.
pub async fn create(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: Option<&str>,
    object: &Value,
) -> Result<Value, ClusterError> {
    let params = kube::api::PostParams {
        dry_run: false,
        field_manager: Some(FIELD_MANAGER.to_owned()),
    };
    let name = object["metadata"]["name"]
        .as_str()
        .or_else(|| object["metadata"]["generateName"].as_str())
        .unwrap_or_default();
    let what = || describe(info, namespace, name);
    let built = serde_json::to_vec(object)
        .map_err(kube::core::request::Error::SerializeBody)
        .and_then(|body| request(info, namespace).create(&params, body));
    send::<Value>(cluster, built, "create", what)
        .await
        .map_err(|e| classify_for(cluster, info, e))
}

/// Writes the whole object (field manager `gitops`): a create when it does not exist, else a
/// replace (PUT; the object carries the live resourceVersion). For objects whose server-side
/// apply the server refuses, and that ask for this (Argo CD's `Replace=true`).
pub async fn write_whole(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: Option<&str>,
    name: &str,
    object: &Value,
    exists: bool,
    dry_run: bool,
) -> Result<Value, ClusterError> {
    let params = kube::api::PostParams {
        dry_run,
        field_manager: Some(FIELD_MANAGER.to_owned()),
    };
    let what = || describe(info, namespace, name);
    let body = serde_json::to_vec(object).map_err(kube::core::request::Error::SerializeBody);
    let (built, verb) = if exists {
        let built = body.and_then(|b| request(info, namespace).replace(name, &params, b));
        (
            built,
            if dry_run {
                "dry-run replace"
            } else {
                "replace"
            },
        )
    } else {
        let built = body.and_then(|b| request(info, namespace).create(&params, b));
        (built, if dry_run { "dry-run create" } else { "create" })
    };
    send::<Value>(cluster, built, verb, what)
        .await
        .map_err(|e| classify_for(cluster, info, e))
}

/// A forced server-side apply (field manager `gitops`) that returns the object as written,
/// for the few writes whose answer is needed (the inventory's uid); every other write discards
/// the body.
pub async fn apply_returning(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: Option<&str>,
    name: &str,
    object: &Value,
) -> Result<Value, ClusterError> {
    let mut params = strict_apply();
    params.force = true;
    let built = request(info, namespace).patch(name, &params, &Patch::Apply(object));
    send::<Value>(cluster, built, "apply", || describe(info, namespace, name))
        .await
        .map_err(|e| classify_for(cluster, info, e))
}

/// A forced server-side apply as another field manager of gitops (`gitops-notify`): it owns
/// only the fields it sends, and the `gitops` manager's applies leave them alone.
pub async fn apply_as(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: Option<&str>,
    name: &str,
    object: &Value,
    manager: &str,
) -> Result<(), ClusterError> {
    let mut params = PatchParams::apply(manager).validation(kube::api::ValidationDirective::Strict);
    params.force = true;
    let built = request(info, namespace).patch(name, &params, &Patch::Apply(object));
    send_discarding(cluster, built, "apply", || describe(info, namespace, name))
        .await
        .map_err(|e| classify_for(cluster, info, e))
}

/// Server-side apply as field manager `gitops`, with unknown or duplicate fields an error
/// (`fieldValidation=Strict`, as kubectl does): servers since v1.25 would otherwise drop them
/// with a warning nobody reads. Older servers ignore the parameter; their server-side apply
/// rejects unknown fields anyway ("field not declared in schema").
fn strict_apply() -> PatchParams {
    PatchParams::apply(FIELD_MANAGER).validation(kube::api::ValidationDirective::Strict)
}

/// `GET /version`, retried like every read; an answer also tells that the server is up,
/// whatever a request before found.
async fn version_answer(cluster: &Cluster) -> Option<Vec<u8>> {
    let request = http::Request::get("/version").body(Vec::new()).ok()?;
    let body = send_bytes(cluster, request, || "get the server version".to_owned())
        .await
        .ok()?;
    cluster.retries.server_is_up();
    Some(body)
}

/// The server's version (`v1.20.2`), None when it does not say.
pub async fn server_version(cluster: &Cluster) -> Option<String> {
    let body = version_answer(cluster).await?;
    let info: k8s_openapi::apimachinery::pkg::version::Info = serde_json::from_slice(&body).ok()?;
    Some(info.git_version)
}

/// Whether the API server answers a trivial request: after it dropped the connection of one
/// request, this tells a server that failed on that request from one that is down.
pub async fn server_answers(cluster: &Cluster) -> bool {
    version_answer(cluster).await.is_some()
}

/// Every object of a resource in a namespace (or cluster-wide), page by page.
pub async fn list(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: Option<&str>,
) -> Result<Vec<Value>, ClusterError> {
    list_labelled(cluster, info, namespace, None).await
}

/// Like [`list`], only the objects matching a label selector (`key=value`).
pub async fn list_labelled(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: Option<&str>,
    selector: Option<&str>,
) -> Result<Vec<Value>, ClusterError> {
    let what = match namespace {
        Some(ns) => format!(
            "{} {} in namespace {ns}",
            info.resource.api_version, info.resource.plural
        ),
        None => format!("{} {}", info.resource.api_version, info.resource.plural),
    };
    let mut objects = Vec::new();
    let mut params = ListParams::default().limit(500);
    if let Some(selector) = selector {
        params = params.labels(selector);
    }
    loop {
        let built = request(info, namespace).list(&params);
        let mut page: Value = send(cluster, built, "list", || what.clone())
            .await
            .map_err(|e| classify(cluster, e))?;
        let next = page
            .pointer("/metadata/continue")
            .and_then(Value::as_str)
            .filter(|c| !c.is_empty())
            .map(str::to_owned);
        if let Some(Value::Array(items)) = page.get_mut("items").map(Value::take) {
            objects.extend(items.into_iter().map(|mut item| {
                // List items carry no apiVersion/kind; give them back for uniform handling.
                item["apiVersion"] = Value::String(info.resource.api_version.clone());
                item["kind"] = Value::String(info.resource.kind.clone());
                item
            }));
        }
        match next {
            Some(token) => params = params.continue_token(&token),
            None => return Ok(objects),
        }
    }
}

/// What a delete did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Deletion {
    /// Deleted (or its deletion started: finalizers may keep it a while).
    Deleted,
    /// It was not there (any more).
    Gone,
    /// It changed since it was read (the precondition failed); nothing was deleted.
    Changed,
}

/// The object as it was read: a delete with it removes exactly that object in exactly that
/// state, or nothing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AsRead {
    pub uid: String,
    pub resource_version: String,
}

impl AsRead {
    /// The uid and resourceVersion of a live object, when it has both.
    pub fn of(live: &Value) -> Option<Self> {
        let field = |key: &str| live["metadata"][key].as_str().map(str::to_owned);
        Some(AsRead {
            uid: field("uid")?,
            resource_version: field("resourceVersion")?,
        })
    }
}

/// Deletes an object (background propagation). With `as_read`, only when it is still that
/// object in that state (preconditions): anything else is `Changed`, and nothing is deleted.
///
/// Deletes are not blindly retried: after a transient failure the object is read again and the
/// delete is repeated only while the object still exists unchanged and is not being deleted.
pub async fn delete(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: Option<&str>,
    name: &str,
    as_read: Option<&AsRead>,
) -> Result<Deletion, ClusterError> {
    let mut params = DeleteParams::background();
    if let Some(read) = as_read {
        params = params.preconditions(Preconditions {
            uid: Some(read.uid.clone()),
            resource_version: Some(read.resource_version.clone()),
        });
    }
    let what = || describe(info, namespace, name);
    let fail = |e: kube::Error| classify(cluster, (e, Operation::new("delete", what())));
    let built = request(info, namespace)
        .delete(name, &params)
        .map_err(|e| fail(kube::Error::BuildRequest(e)))?;
    let (parts, body) = built.into_parts();
    let mut attempts = retry::Attempts::new(&cluster.retries);
    loop {
        let failure = match attempts
            .attempt(send_once(&cluster.client, copy_request(&parts, &body)))
            .await
        {
            Ok(_) => return Ok(Deletion::Deleted),
            Err(f) => f,
        };
        match &failure.error {
            kube::Error::Api(status) if status.code == 404 => return Ok(Deletion::Gone),
            kube::Error::Api(status) if status.code == 409 && as_read.is_some() => {
                return Ok(Deletion::Changed)
            }
            _ => {}
        }
        let Some(delay) = attempts.next_delay(&failure, &format!("delete {}", what())) else {
            return Err(fail(failure.error));
        };
        tokio::time::sleep(delay).await;
        // The failed attempt may have deleted it after all: look before deleting again.
        let Some(live) = get(cluster, info, namespace, name).await? else {
            return Ok(Deletion::Gone);
        };
        if live.pointer("/metadata/deletionTimestamp").is_some() {
            return Ok(Deletion::Deleted);
        }
        if as_read.is_some_and(|read| AsRead::of(&live).as_ref() != Some(read)) {
            return Ok(Deletion::Changed);
        }
        crate::log::verbose(&format!("delete {}: still there; deleting again", what()));
    }
}

/// A server dry-run *create* of `object` in another, existing namespace: the way to validate an
/// object whose own namespace does not exist yet. Validation and admission run before the
/// storage's name check, so "already exists" also means the object passed.
pub async fn dry_run_create_in(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: &str,
    object: &Value,
) -> Result<(), ClusterError> {
    let own_namespace = object["metadata"]["namespace"].as_str();
    let name = object["metadata"]["name"].as_str().unwrap_or_default();
    let mut probe = object.clone();
    probe["metadata"]["namespace"] = Value::String(namespace.to_owned());
    // Messages name the object where it will live, and say where it was tried.
    let what = || {
        format!(
            "{} (tried in namespace {namespace}: its own does not exist yet)",
            describe(info, own_namespace, name)
        )
    };
    check_schema_in(cluster, info, namespace, probe.clone(), what).await?;
    // Then everything that depends on the real name (its format, admission that looks at it).
    let params = kube::api::PostParams {
        dry_run: true,
        field_manager: Some(FIELD_MANAGER.to_owned()),
    };
    let built = serde_json::to_vec(&probe)
        .map_err(kube::core::request::Error::SerializeBody)
        .and_then(|body| request(info, Some(namespace)).create(&params, body))
        .map(with_strict_validation);
    match send_discarding(cluster, built, "dry-run create", what).await {
        // Validation and admission run before the storage's name check.
        Err((kube::Error::Api(status), _)) if status.code == 409 => Ok(()),
        Err(e) => Err(classify_for(cluster, info, e)),
        Ok(()) => Ok(()),
    }
}

/// The schema check, which a create on servers before v1.25 skips (it drops unknown fields
/// without a word; server-side apply rejects them, and names them): a dry-run apply under a
/// name no object has, so a pure create. Only a schema error is the object's fault.
async fn check_schema_in(
    cluster: &Cluster,
    info: &ResourceInfo,
    namespace: &str,
    mut probe: Value,
    what: impl Fn() -> String + Copy,
) -> Result<(), ClusterError> {
    let throwaway = format!(
        "gitops-dry-run-{:08x}",
        std::process::id() ^ (crate::clock::epoch_seconds() as u32)
    );
    probe["metadata"]["name"] = Value::String(throwaway.clone());
    let mut params = strict_apply();
    params.dry_run = true;
    params.force = true;
    let built = request(info, Some(namespace)).patch(&throwaway, &params, &Patch::Apply(&probe));
    let Err(failure) = send_discarding(cluster, built, "dry-run apply", what).await else {
        return Ok(());
    };
    // Decided on the server's own message: a Secret's is masked below.
    let schema = matches!(&failure.0, kube::Error::Api(status) if is_schema_error(&status.message));
    match classify_for(cluster, info, failure) {
        // v1.20 answers a schema error with a 500; newer servers with Strict, a 400 or 422.
        // It is the object's fault, so it counts as invalid (422).
        ClusterError::Api {
            operation,
            reason,
            message,
            ..
        } if schema => Err(ClusterError::Api {
            operation,
            code: 422,
            reason,
            message,
        }),
        // Anything else (a webhook, a policy on the throwaway name) says nothing about the
        // object: the create validates it.
        other => {
            crate::log::verbose(&format!("{}: schema check skipped: {other}", what()));
            Ok(())
        }
    }
}

/// A server's answer to fields its schema lacks: server-side apply on v1.20 ("field not
/// declared in schema"), strict field validation on newer servers.
pub fn is_schema_error(message: &str) -> bool {
    message.contains("field not declared in schema")
        || message.contains("failed to create typed patch object")
        || message.contains("strict decoding error")
}

/// Adds `fieldValidation=Strict` to a built request (kube's PostParams cannot say it).
fn with_strict_validation(mut request: http::Request<Vec<u8>>) -> http::Request<Vec<u8>> {
    let uri = request.uri().to_string();
    let separator = match uri.chars().last() {
        Some('?' | '&') => "",
        _ if uri.contains('?') => "&",
        _ => "?",
    };
    if let Ok(strict) = format!("{uri}{separator}fieldValidation=Strict").parse() {
        *request.uri_mut() = strict;
    }
    request
}

#[cfg(test)]
mod tests {
    use super::*;

    /// v1.20 ignores fieldValidation, so no test against the real server can see it sent:
    /// every request that validates an object asks for Strict.
    #[test]
    fn applies_and_creates_ask_for_strict_field_validation() {
        let resource = kube::core::ApiResource::erase::<k8s_openapi::api::core::v1::ConfigMap>(&());
        let info = ResourceInfo {
            resource,
            namespaced: true,
            pending_crd: false,
        };
        let object = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap"});
        let request = request(&info, Some("ns"));
        let apply = request
            .patch("x", &strict_apply(), &Patch::Apply(&object))
            .unwrap();
        assert!(
            apply.uri().to_string().contains("fieldValidation=Strict"),
            "{}",
            apply.uri()
        );
        let params = kube::api::PostParams::default();
        let create = with_strict_validation(request.create(&params, Vec::new()).unwrap());
        assert!(
            create
                .uri()
                .to_string()
                .ends_with("?fieldValidation=Strict"),
            "{}",
            create.uri()
        );
    }
}
