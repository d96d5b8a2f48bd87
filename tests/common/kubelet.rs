//! A stand-in for the kubelet.
//!
//! The test control plane has no scheduler and no kubelet: Pods that the
//! controller-manager creates from ReplicaSets stay Pending forever. Tests
//! that need a workload to become available play the kubelet's part by
//! reporting every Pod Running and Ready through the status subresource; the
//! controller-manager then counts them as available replicas.

use std::time::Duration;

use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, Patch, PatchParams};
use kube::{Api, Client};
use tokio::task::JoinHandle;

/// Marks every Pod of `namespace` whose Ready condition is not True as
/// Running and Ready. Returns how many Pods it patched.
pub async fn mark_pods_ready(client: &Client, namespace: &str) -> kube::Result<usize> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    let status = serde_json::json!({
        "status": {
            "phase": "Running",
            "conditions": [{ "type": "Ready", "status": "True" }],
        }
    });
    let mut patched = 0;
    for pod in pods.list(&ListParams::default()).await? {
        if is_ready(&pod) || pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(name) = pod.metadata.name.as_deref() else {
            continue;
        };
        match pods
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await
        {
            Ok(_) => patched += 1,
            // Deleted or replaced since the list: nothing to do.
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(patched)
}

fn is_ready(pod: &Pod) -> bool {
    pod.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|conditions| {
            conditions
                .iter()
                .any(|c| c.type_ == "Ready" && c.status == "True")
        })
}

/// Runs [`mark_pods_ready`] on a namespace every 200 ms in a background
/// task, until dropped.
pub struct KubeletStandIn {
    task: JoinHandle<()>,
}

impl KubeletStandIn {
    /// Starts the loop on the current tokio runtime.
    pub fn start(client: &Client, namespace: &str) -> Self {
        let client = client.clone();
        let namespace = namespace.to_string();
        let task = tokio::spawn(async move {
            let mut last_error = String::new();
            loop {
                if let Err(e) = mark_pods_ready(&client, &namespace).await {
                    // Report each distinct error once, keep going.
                    let error = e.to_string();
                    if error != last_error {
                        eprintln!("kubelet stand-in ({namespace}): {error}");
                        last_error = error;
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Self { task }
    }
}

impl Drop for KubeletStandIn {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// What the stand-in does with the Pods of Jobs and bare Pods (hooks): finish them, as a
/// kubelet would once their container exited.
#[derive(Debug, Clone, Default)]
pub struct PodEndings {
    /// Jobs (by `job-name`) or bare Pods whose name starts with one of these fail; every
    /// other one succeeds.
    pub failing: Vec<String>,
    /// Also report the Pods of ReplicaSets Running and Ready (workloads become available).
    pub workloads_ready: bool,
}

/// Ends every Pod of `namespace` not ended yet: a Job's or a bare Pod's as Succeeded or Failed
/// (per `endings`), a ReplicaSet's as Running and Ready when `endings.workloads_ready`.
pub async fn end_pods(client: &Client, namespace: &str, endings: &PodEndings) -> kube::Result<()> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), namespace);
    for pod in pods.list(&ListParams::default()).await? {
        if pod.metadata.deletion_timestamp.is_some() {
            continue;
        }
        let Some(name) = pod.metadata.name.as_deref() else {
            continue;
        };
        let phase = pod.status.as_ref().and_then(|s| s.phase.as_deref());
        let of_replica_set = pod
            .metadata
            .owner_references
            .iter()
            .flatten()
            .any(|o| o.kind == "ReplicaSet");
        let status = if of_replica_set {
            if !endings.workloads_ready || is_ready(&pod) {
                continue;
            }
            serde_json::json!({"status": {"phase": "Running",
                "conditions": [{ "type": "Ready", "status": "True" }]}})
        } else {
            if matches!(phase, Some("Succeeded" | "Failed")) {
                continue;
            }
            let job = pod
                .metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("job-name"))
                .map_or(name, String::as_str);
            let fails = endings.failing.iter().any(|prefix| job.starts_with(prefix));
            let (phase, reason, code) = if fails {
                ("Failed", "Error", 1)
            } else {
                ("Succeeded", "Completed", 0)
            };
            let container = pod
                .spec
                .as_ref()
                .and_then(|s| s.containers.first())
                .map_or("main", |c| c.name.as_str());
            serde_json::json!({"status": {"phase": phase, "containerStatuses": [{
                "name": container, "image": "stand-in", "imageID": "", "ready": false,
                "restartCount": 0,
                "state": {"terminated": {"exitCode": code, "reason": reason}}}]}})
        };
        match pods
            .patch_status(name, &PatchParams::default(), &Patch::Merge(&status))
            .await
        {
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 409 => {}
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

/// Runs [`end_pods`] on a namespace every 200 ms in a background task, until dropped. What it
/// does can be changed while it runs (`set`).
pub struct PodFinisher {
    task: JoinHandle<()>,
    endings: std::sync::Arc<std::sync::Mutex<PodEndings>>,
}

impl PodFinisher {
    pub fn start(client: &Client, namespace: &str, endings: PodEndings) -> Self {
        let client = client.clone();
        let namespace = namespace.to_string();
        let shared = std::sync::Arc::new(std::sync::Mutex::new(endings));
        let endings = shared.clone();
        let task = tokio::spawn(async move {
            let mut last_error = String::new();
            loop {
                let now = endings.lock().map(|e| e.clone()).unwrap_or_default();
                if let Err(e) = end_pods(&client, &namespace, &now).await {
                    let error = e.to_string();
                    if error != last_error {
                        eprintln!("pod finisher ({namespace}): {error}");
                        last_error = error;
                    }
                }
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        });
        Self {
            task,
            endings: shared,
        }
    }

    /// Changes what is done from the next round on.
    pub fn set(&self, endings: PodEndings) {
        if let Ok(mut now) = self.endings.lock() {
            *now = endings;
        }
    }
}

impl Drop for PodFinisher {
    fn drop(&mut self) {
        self.task.abort();
    }
}
