//! One writer per target (SPEC.md, Safety): a coordination.k8s.io Lease held from preflight
//! until the inventory is written, renewed while waiting, and expiring after a crash.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{MicroTime, ObjectMeta};
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::json;
use tokio::task::JoinHandle;

use super::client::Cluster;
use super::error::{ClusterError, Operation};
use super::retry::{self, Failure, Retries};

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
    api: Api<Lease>,
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

fn api(cluster: &Cluster, namespace: &str) -> Api<Lease> {
    Api::namespaced(cluster.client.clone(), namespace)
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
    let now = Timestamp::now();
    let body = |resource_version: Option<String>| Lease {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(namespace.to_owned()),
            resource_version,
            labels: Some([("app.kubernetes.io/managed-by".into(), "gitops".into())].into()),
            annotations: Some(
                [
                    // Read by gitops before 0.2 to tell the lease's age; renewTime says it now.
                    (RENEWED_EPOCH_ANNOTATION.into(), now.as_second().to_string()),
                    (HOST_ANNOTATION.into(), host()),
                    (PID_ANNOTATION.into(), std::process::id().to_string()),
                ]
                .into(),
            ),
            ..ObjectMeta::default()
        },
        spec: Some(LeaseSpec {
            holder_identity: Some(holder.to_owned()),
            lease_duration_seconds: Some(LEASE_SECONDS as i32),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            ..LeaseSpec::default()
        }),
    };
    let held_by = |existing: &Lease| -> LeaseError {
        let spec = existing.spec.clone().unwrap_or_default();
        LeaseError::Held {
            target: target.to_owned(),
            holder: spec
                .holder_identity
                .unwrap_or_else(|| "another run".to_owned()),
            since: spec.acquire_time.map_or_else(
                || "an unknown time".to_owned(),
                |t| t.0.strftime("%Y-%m-%dT%H:%M:%SZ").to_string(),
            ),
            namespace: namespace.to_owned(),
            name: name.clone(),
        }
    };
    let what = |verb: &str| format!("{verb} coordination.k8s.io/v1 Lease {namespace}/{name}");
    let retries = &cluster.retries;
    // A write retried after a dropped connection may meet itself: a 409 from a lease that this
    // very attempt wrote (same acquireTime, same process) means the lease is ours.
    let ours = |lease: &Lease| {
        let spec = lease.spec.as_ref();
        spec.and_then(|s| s.acquire_time.as_ref()) == Some(&MicroTime(now))
            && spec.and_then(|s| s.holder_identity.as_deref()) == Some(holder)
            && annotation(lease, PID_ANNOTATION) == Some(std::process::id().to_string())
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
            if !expired(&existing, now) && !holder_died_here(&existing) {
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
    let renewer = tokio::spawn(renew(api.clone(), name.clone(), cluster.retries.clone()));
    Ok(LeaseGuard {
        api,
        name,
        renewer,
        retries: cluster.retries.clone(),
    })
}

const HOST_ANNOTATION: &str = "gitops.dev/holder-host";
const PID_ANNOTATION: &str = "gitops.dev/holder-pid";
const RENEWED_EPOCH_ANNOTATION: &str = "gitops.dev/renewed-epoch";

fn annotation(lease: &Lease, key: &str) -> Option<String> {
    lease.metadata.annotations.as_ref()?.get(key).cloned()
}

/// This machine's name, to recognise leases held by processes of this machine.
pub fn host() -> String {
    std::fs::read_to_string("/etc/hostname")
        .map(|h| h.trim().to_owned())
        .or_else(|_| std::env::var("HOSTNAME"))
        .unwrap_or_else(|_| "unknown-host".into())
}

/// A lease held by a process of this machine that no longer runs (it lost the cluster, or was
/// killed) need not be waited for.
fn holder_died_here(lease: &Lease) -> bool {
    match (
        annotation(lease, HOST_ANNOTATION),
        annotation(lease, PID_ANNOTATION),
    ) {
        (Some(holder_host), Some(pid))
            if holder_host == host() && holder_host != "unknown-host" =>
        {
            !Path::new("/proc").join(pid.trim()).exists()
        }
        _ => false,
    }
}

/// A lease whose last renewal (`renewTime`, else `acquireTime`) is older than its duration. A
/// lease that says neither is taken as held.
fn expired(lease: &Lease, now: Timestamp) -> bool {
    let Some(spec) = &lease.spec else {
        return false;
    };
    let Some(renewed) = spec.renew_time.as_ref().or(spec.acquire_time.as_ref()) else {
        return false;
    };
    let duration = spec
        .lease_duration_seconds
        .and_then(|s| u64::try_from(s).ok())
        .unwrap_or(LEASE_SECONDS);
    now.as_second() > renewed.0.as_second().saturating_add(duration as i64)
}

/// Renews the lease every [`RENEW_EVERY`]; a failed renewal is retried like any request and
/// otherwise left to the next round.
async fn renew(api: Api<Lease>, name: String, retries: Arc<Retries>) {
    loop {
        tokio::time::sleep(RENEW_EVERY).await;
        let now = Timestamp::now();
        let patch = json!({
            "metadata": {"annotations": {RENEWED_EPOCH_ANNOTATION: now.as_second().to_string()}},
            "spec": {"renewTime": MicroTime(now)},
        });
        let (params, patch) = (
            kube::api::PatchParams::default(),
            kube::api::Patch::Merge(&patch),
        );
        let what = || format!("renew coordination.k8s.io/v1 Lease {name}");
        let _ = retried(&retries, what, || api.patch(&name, &params, &patch)).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lease(renewed: Option<i64>, duration: i32) -> Lease {
        Lease {
            spec: Some(LeaseSpec {
                renew_time: renewed.map(|s| MicroTime(Timestamp::from_second(s).unwrap())),
                lease_duration_seconds: Some(duration),
                ..LeaseSpec::default()
            }),
            ..Lease::default()
        }
    }

    #[test]
    fn a_lease_expires_after_its_duration_from_the_last_renewal() {
        let now = Timestamp::from_second(1_000).unwrap();
        assert!(!expired(&lease(Some(950), 60), now));
        assert!(expired(&lease(Some(900), 60), now));
        // Written by another tool without times: never taken over by age.
        assert!(!expired(&lease(None, 60), now));
    }
}
