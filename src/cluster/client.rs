//! Connecting: kubeconfig (`--kubeconfig`, `KUBECONFIG`, `~/.kube/config`), `--context`, or the
//! in-cluster service account. TLS is rustls.

use std::path::Path;

use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Client, Config};

use super::error::ClusterError;

/// A client and what we know about the cluster it talks to.
#[derive(Clone)]
pub struct Cluster {
    pub client: Client,
    /// The API server URL, for messages.
    pub server: String,
    /// The context's namespace, else `default`.
    pub default_namespace: String,
}

/// Builds a client. Nothing is sent to the server yet.
pub async fn connect(
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Result<Cluster, ClusterError> {
    let options = KubeConfigOptions {
        context: context.map(str::to_owned),
        ..KubeConfigOptions::default()
    };
    let config = match kubeconfig {
        Some(path) => {
            let file = Kubeconfig::read_from(path)
                .map_err(|e| ClusterError::Config(format!("{}: {e}", path.display())))?;
            Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| ClusterError::Config(format!("{}: {e}", path.display())))?
        }
        None if context.is_some() => Config::from_kubeconfig(&options)
            .await
            .map_err(|e| ClusterError::Config(e.to_string()))?,
        None => Config::infer().await.map_err(|e| {
            ClusterError::Config(format!("{e}; pass --kubeconfig or set KUBECONFIG"))
        })?,
    };
    let server = config.cluster_url.to_string();
    let default_namespace = config.default_namespace.clone();
    let client = Client::try_from(config).map_err(|e| ClusterError::Config(e.to_string()))?;
    Ok(Cluster {
        client,
        server: server.trim_end_matches('/').to_owned(),
        default_namespace,
    })
}
