//! One writer per target (SPEC.md, Safety): a coordination.k8s.io Lease held from preflight
//! until the inventory is written, renewed while waiting, and expiring after a crash.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::api::{Api, DeleteParams, PostParams};
use kube::core::{ApiResource, DynamicObject};
use serde_json::{json, Value};
use tokio::task::JoinHandle;

use super::client::Cluster;
use super::error::{ClusterError, Operation};
use super::retry::{self, Failure, Retries};
use crate::clock;

/// A run that stops renewing (crashed, killed) loses the lease after this long.
pub const LEASE_SECONDS: u64 = 60;
const RENEW_EVERY: Duration = Duration::from_secs(15);

#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("target {target} is being applied by {holder} since {since} (lease {namespace}/{name}); wait for that run to finish, or, if it crashed, retry after the lease expires ({LEASE_SECONDS}s after its last renewal)")]
    Held {
        target: String,
        holder: String,
        since: String,
        namespace: String,
        name: String,
    },
    #[error(transparent)]
    Cluster(#[from] ClusterError),
}

/// A held lease; renewed in the background until released.
pub struct LeaseGuard {
    api: Api<DynamicObject>,
    name: String,
    renewer: JoinHandle<()>,
    retries: Arc<Retries>,
}

impl LeaseGuard {
    /// Gives the lease up (a dropped guard stops renewing and lets it expire).
    pub async fn release(self) {
        self.renewer.abort();
        let what = || format!("delete coordination.k8s.io/v1 Lease {}", self.name);
        let params = DeleteParams::default();
        let _ = retried(&self.retries, what, || self.api.delete(&self.name, &params)).await;
    }
}

/// A lease request, retried like every other request of the cluster layer (see `retry`).
async fn retried<T, Fut>(
    retries: &Retries,
    what: impl Fn() -> String,
    mut call: impl FnMut() -> Fut,
) -> Result<T, kube::Error>
where
    Fut: Future<Output = Result<T, kube::Error>>,
{
    retry::run(retries, what, || {
        let attempt = call();
        async move { attempt.await.map_err(Failure::from) }
    })
    .await
}

impl Drop for LeaseGuard {
    fn drop(&mut self) {
        self.renewer.abort();
    }
}

fn api(cluster: &Cluster, namespace: &str) -> Api<DynamicObject> {
    Api::namespaced_with(
        cluster.client.clone(),
        namespace,
        &ApiResource::erase::<Lease>(&()),
    )
}

/// Takes the lease of `target` in `namespace`, or says who holds it.
pub async fn acquire(
    cluster: &Cluster,
    namespace: &str,
    target: &str,
    holder: &str,
) -> Result<LeaseGuard, LeaseError> {
    let api = api(cluster, namespace);
    let name = format!("gitops-{target}");
    let fail = |e: kube::Error, verb: &'static str| {
        ClusterError::from_kube(
            e,
            &cluster.server,
            Operation::new(
                verb,
                format!("coordination.k8s.io/v1 Lease {namespace}/{name}"),
            ),
        )
    };
    let (stamp, epoch) = (clock::now_micro(), clock::epoch_seconds());
    let body = |resource_version: Option<String>| -> DynamicObject {
        let mut value = json!({
            "apiVersion": "coordination.k8s.io/v1",
            "kind": "Lease",
            "metadata": {"name": name, "namespace": namespace, "labels": {"app.kubernetes.io/managed-by": "gitops"},
                         "annotations": {"gitops.dev/renewed-epoch": epoch.to_string(), HOST_ANNOTATION: host(), PID_ANNOTATION: std::process::id().to_string()}},
            "spec": {"holderIdentity": holder, "leaseDurationSeconds": LEASE_SECONDS, "acquireTime": stamp, "renewTime": stamp},
        });
        if let Some(version) = resource_version {
            value["metadata"]["resourceVersion"] = Value::String(version);
        }
        serde_json::from_value(value).expect("a Lease is a valid object")
    };
    let held_by = |existing: &DynamicObject| -> LeaseError {
        let spec = &existing.data["spec"];
        LeaseError::Held {
            target: target.to_owned(),
            holder: spec["holderIdentity"]
                .as_str()
                .unwrap_or("another run")
                .to_owned(),
            since: spec["acquireTime"]
                .as_str()
                .unwrap_or("an unknown time")
                .to_owned(),
            namespace: namespace.to_owned(),
            name: name.clone(),
        }
    };
    let what = |verb: &str| format!("{verb} coordination.k8s.io/v1 Lease {namespace}/{name}");
    let retries = &cluster.retries;
    // A write retried after a dropped connection may meet itself: a 409 from a lease that this
    // very attempt wrote (same acquireTime, same process) means the lease is ours.
    let ours = |lease: &DynamicObject| {
        lease.data["spec"]["acquireTime"].as_str() == Some(stamp.as_str())
            && lease.data["spec"]["holderIdentity"].as_str() == Some(holder)
            && lease
                .metadata
                .annotations
                .as_ref()
                .and_then(|a| a.get(PID_ANNOTATION))
                .is_some_and(|pid| *pid == std::process::id().to_string())
    };
    let post = PostParams::default();
    let get = || retried(retries, || what("get"), || api.get(&name));
    let existing = retried(retries, || what("get"), || api.get_opt(&name))
        .await
        .map_err(|e| fail(e, "get"))?;
    let created = body(None);
    match existing {
        None => match retried(retries, || what("create"), || api.create(&post, &created)).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 409 => {
                let existing = get().await.map_err(|e| fail(e, "get"))?;
                if !ours(&existing) {
                    return Err(held_by(&existing));
                }
            }
            Err(e) => return Err(fail(e, "create").into()),
        },
        Some(existing) => {
            if !expired(&existing, epoch) && !holder_died_here(&existing) {
                return Err(held_by(&existing));
            }
            // Optimistic concurrency: if another run replaced it first, the server says 409.
            let replacement = body(existing.metadata.resource_version.clone());
            match retried(
                retries,
                || what("update"),
                || api.replace(&name, &post, &replacement),
            )
            .await
            {
                Ok(_) => {}
                Err(kube::Error::Api(status)) if status.code == 409 => {
                    let current = get().await.map_err(|e| fail(e, "get"))?;
                    if !ours(&current) {
                        return Err(held_by(&current));
                    }
                }
                Err(e) => return Err(fail(e, "update").into()),
            }
        }
    }
    let renewer = tokio::spawn(renew(api.clone(), name.clone()));
    Ok(LeaseGuard {
        api,
        name,
        renewer,
        retries: cluster.retries.clone(),
    })
}

const HOST_ANNOTATION: &str = "gitops.dev/holder-host";
const PID_ANNOTATION: &str = "gitops.dev/holder-pid";

/// This machine's name, to recognise leases held by processes of this machine.
pub fn host() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown-host".into())
}

/// A lease held by a process of this machine that no longer runs (it lost the cluster, or was
/// killed) need not be waited for.
fn holder_died_here(lease: &DynamicObject) -> bool {
    let annotation = |key: &str| {
        lease
            .metadata
            .annotations
            .as_ref()
            .and_then(|a| a.get(key))
            .cloned()
    };
    match (annotation(HOST_ANNOTATION), annotation(PID_ANNOTATION)) {
        (Some(holder_host), Some(pid))
            if holder_host == host() && holder_host != "unknown-host" =>
        {
            !Path::new("/proc").join(pid.trim()).exists()
        }
        _ => false,
    }
}

/// A lease whose last renewal is older than its duration. The renewal time is also kept as
/// epoch seconds in an annotation, so that no date parsing is needed.
fn expired(lease: &DynamicObject, now_epoch: u64) -> bool {
    let renewed = lease
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get("gitops.dev/renewed-epoch"))
        .and_then(|v| v.parse::<u64>().ok());
    let duration = lease.data["spec"]["leaseDurationSeconds"]
        .as_u64()
        .unwrap_or(LEASE_SECONDS);
    match renewed {
        Some(renewed) => now_epoch > renewed + duration,
        // Not written by gitops: we cannot tell its age without parsing dates; treat it as held.
        None => false,
    }
}

async fn renew(api: Api<DynamicObject>, name: String) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let (stamp, epoch) = (clock::now_micro(), clock::epoch_seconds());
        let patch = json!({"metadata": {"annotations": {"gitops.dev/renewed-epoch": epoch.to_string()}}, "spec": {"renewTime": stamp}});
        let _ = api
            .patch(
                &name,
                &kube::api::PatchParams::default(),
                &kube::api::Patch::Merge(&patch),
            )
            .await;
    }
}
