//! Connecting: kubeconfig (`--kubeconfig`, `KUBECONFIG`, `~/.kube/config`), `--context`, or the
//! in-cluster service account. TLS is rustls.

use std::path::Path;
use std::sync::Arc;

use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::{Client, Config};

use super::error::ClusterError;
use super::retry::{Retries, RetryPolicy};

/// A client and what we know about the cluster it talks to.
#[derive(Clone)]
pub struct Cluster {
    pub client: Client,
    /// The API server URL, for messages.
    pub server: String,
    /// The context's namespace, else `default`.
    pub default_namespace: String,
    /// How requests are retried, shared by every request of the run.
    pub retries: Arc<Retries>,
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
    // A credential plugin's failure is described from the kubeconfig, never quoted.
    let plugin_failure = |e: &(dyn std::error::Error + 'static)| {
        super::exec_auth::explain(e, || super::exec_auth::Plugin::of(kubeconfig, context))
    };
    // KUBECONFIG may list files that do not exist: they are skipped, as kubectl does.
    let listed = kubeconfig
        .is_none()
        .then(super::kubeconfig::from_env_list)
        .flatten();
    let config = match (kubeconfig, listed) {
        (None, Some(file)) => {
            let file = file
                .map_err(|e| ClusterError::Config(format!("KUBECONFIG: {}", safe_message(&e))))?;
            Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| {
                    ClusterError::Config(plugin_failure(&e).unwrap_or_else(|| safe_message(&e)))
                })?
        }
        (Some(path), _) => {
            let file = Kubeconfig::read_from(path).map_err(|e| {
                ClusterError::Config(format!("{}: {}", path.display(), safe_message(&e)))
            })?;
            Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| {
                    let message = plugin_failure(&e).unwrap_or_else(|| safe_message(&e));
                    ClusterError::Config(format!("{}: {message}", path.display()))
                })?
        }
        (None, None) if context.is_some() => {
            Config::from_kubeconfig(&options).await.map_err(|e| {
                ClusterError::Config(plugin_failure(&e).unwrap_or_else(|| safe_message(&e)))
            })?
        }
        (None, None) => Config::infer().await.map_err(|e| {
            ClusterError::Config(plugin_failure(&e).unwrap_or_else(|| {
                format!("{}; pass --kubeconfig or set KUBECONFIG", safe_message(&e))
            }))
        })?,
    };
    let policy = RetryPolicy::from_env().map_err(ClusterError::Config)?;
    // kube's own retry layer (429/503/504, up to 15 times, waits of up to 1000 s) would retry
    // underneath ours, unbounded in time and unlogged: retries happen in `retry` only.
    let mut config = config;
    config.default_retry = false;
    let server = without_credentials(&config.cluster_url.to_string());
    let default_namespace = config.default_namespace.clone();
    let client = Client::try_from(config).map_err(|e| {
        ClusterError::Config(plugin_failure(&e).unwrap_or_else(|| safe_message(&e)))
    })?;
    let server = server.trim_end_matches('/').to_owned();
    // For a plugin that fails later, refreshing the token: errors then name it too.
    super::exec_auth::remember(&server, kubeconfig, context);
    Ok(Cluster {
        client,
        server,
        default_namespace,
        retries: Arc::new(Retries::new(policy)),
    })
}

/// An error about the kubeconfig without the kubeconfig's contents: a YAML parser quotes the
/// lines around a syntax error, and those may hold a token.
pub fn safe_message(error: &(dyn std::error::Error + 'static)) -> String {
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = current {
        if let Some(KubeconfigError::Parse(_)) = e.downcast_ref::<KubeconfigError>() {
            return "the kubeconfig is not valid YAML (its contents are not shown: they may hold credentials)".into();
        }
        current = e.source();
    }
    let text = error.to_string();
    if text.contains('\n') {
        // Multi-line messages quote input; keep the first line only.
        text.lines().next().unwrap_or_default().to_owned()
    } else {
        text
    }
}

/// `https://user:token@host:6443` → `https://host:6443`.
fn without_credentials(url: &str) -> String {
    match (url.find("://"), url.find('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            format!("{}{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_in_server_urls_are_dropped() {
        assert_eq!(
            super::without_credentials("https://u:secret@host:6443/"),
            "https://host:6443/"
        );
        assert_eq!(
            super::without_credentials("https://host:6443"),
            "https://host:6443"
        );
    }
}
