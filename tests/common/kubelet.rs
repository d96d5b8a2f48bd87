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
