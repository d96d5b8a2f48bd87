//! Connecting: kubeconfig (`--kubeconfig`, `KUBECONFIG`, `~/.kube/config`), `--context`, or the
//! in-cluster service account. TLS is rustls.

use std::path::{Path, PathBuf};
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
    /// How requests are retried, shared by every request of the run.
    pub retries: Arc<Retries>,
    /// Most requests one batch ([`Cluster::each`]) keeps in flight (`--concurrency`).
    pub concurrency: usize,
}

/// Requests in flight at once unless `--concurrency` says otherwise.
pub const DEFAULT_CONCURRENCY: usize = 32;

impl Cluster {
    /// The same cluster, with at most `limit` requests in flight per batch and to the server
    /// (shared by every user of this client).
    pub fn with_concurrency(self, limit: usize) -> Self {
        self.retries.set_limit(limit);
        Cluster {
            concurrency: limit.max(1),
            ..self
        }
    }

    /// Runs `work` on every item, at most `concurrency` at once, and gives the results in the
    /// items' order. The one way the tool talks to the server concurrently: the futures may
    /// borrow (nothing is cloned into tasks), and the limit lives here, not in every caller.
    pub async fn each<I, T, F, Fut>(&self, items: I, mut work: F) -> Vec<T>
    where
        I: IntoIterator,
        F: FnMut(I::Item) -> Fut,
        Fut: std::future::Future<Output = T>,
    {
        use futures::StreamExt;
        let mut done: Vec<(usize, T)> = futures::stream::iter(items.into_iter().enumerate())
            .map(|(index, item)| {
                let answer = work(item);
                async move { (index, answer.await) }
            })
            .buffer_unordered(self.concurrency.max(1))
            .collect()
            .await;
        done.sort_unstable_by_key(|(index, _)| *index);
        done.into_iter().map(|(_, answer)| answer).collect()
    }
}

/// One client per cluster of a run: targets on the same kubeconfig and context share its
/// connections, retry state and bound on requests in flight.
#[derive(Default)]
pub struct Pool {
    clusters: std::sync::Mutex<Vec<(PoolKey, Cluster)>>,
}

type PoolKey = (Option<PathBuf>, Option<String>);

impl Pool {
    /// The run's client for `connection`, made on first use with at most `concurrency`
    /// requests in flight.
    pub async fn connect(
        &self,
        connection: &Connection,
        concurrency: usize,
    ) -> Result<Cluster, ClusterError> {
        let key = (connection.kubeconfig.clone(), connection.context.clone());
        if let Some(cluster) = self.find(&key) {
            return Ok(cluster);
        }
        let cluster = connection.connect().await?.with_concurrency(concurrency);
        let mut clusters = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
        // Two targets may have connected at the same time: the first one made is kept.
        if let Some((_, kept)) = clusters.iter().find(|(k, _)| *k == key) {
            return Ok(kept.clone());
        }
        clusters.push((key, cluster.clone()));
        Ok(cluster)
    }

    fn find(&self, key: &PoolKey) -> Option<Cluster> {
        let clusters = self.clusters.lock().unwrap_or_else(|e| e.into_inner());
        clusters
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, c)| c.clone())
    }
}

/// How to reach one target's cluster: the kubeconfig and context it names (or the in-cluster
/// service account), loaded once per target without contacting the server. The client and the
/// default namespace both come from this one value, so rendering, planning and the inventory
/// agree on the namespace (in a pod, kube takes the service account's).
pub struct Connection {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    /// The context as people name it: `--context` or the target's, else the kubeconfig's
    /// current one, else `in-cluster` (summaries show it).
    pub context_name: String,
    /// The loaded configuration, or why it could not be loaded (said when connecting: a
    /// render needs no cluster).
    config: Result<Config, String>,
}

impl Connection {
    /// Loads the configuration as kubectl finds it: `--kubeconfig`, else the files `KUBECONFIG`
    /// lists, else `~/.kube/config`, else the in-cluster service account.
    pub async fn load(kubeconfig: Option<&Path>, context: Option<&str>) -> Self {
        Connection {
            kubeconfig: kubeconfig.map(Path::to_path_buf),
            context: context.map(str::to_owned),
            context_name: context_name(kubeconfig, context),
            config: load_config(kubeconfig, context).await,
        }
    }

    /// What tells two clusters apart: the API server's URL, else (no configuration could be
    /// loaded) the kubeconfig and context as given.
    pub fn server_identity(&self) -> String {
        match &self.config {
            Ok(config) => config.cluster_url.to_string(),
            Err(_) => format!("{:?} {:?}", self.kubeconfig, self.context),
        }
    }

    /// The namespace the configuration gives to objects that name none: the context's, the
    /// service account's in a pod, else `default`. None when no configuration could be loaded.
    pub fn namespace(&self) -> Option<&str> {
        match &self.config {
            Ok(config) => Some(&config.default_namespace),
            Err(why) => {
                crate::log::verbose(&format!(
                    "no cluster configuration read for the default namespace: {why}"
                ));
                None
            }
        }
    }

    /// Builds a client. Nothing is sent to the server yet.
    pub async fn connect(&self) -> Result<Cluster, ClusterError> {
        let (kubeconfig, context) = (self.kubeconfig.as_deref(), self.context.as_deref());
        let mut config = self.config.clone().map_err(ClusterError::Config)?;
        let policy = RetryPolicy::from_env().map_err(ClusterError::Config)?;
        // kube's own retry layer (429/503/504, up to 15 times, waits of up to 1000 s) would
        // retry underneath ours, unbounded in time and unlogged: retries happen in `retry` only.
        config.default_retry = false;
        let server = without_credentials(&config.cluster_url.to_string());
        let client = Client::try_from(config).map_err(|e| {
            ClusterError::Config(
                plugin_failure(&e, kubeconfig, context).unwrap_or_else(|| safe_message(&e)),
            )
        })?;
        let server = server.trim_end_matches('/').to_owned();
        // For a plugin that fails later, refreshing the token: errors then name it too.
        super::exec_auth::remember(&server, kubeconfig, context);
        Ok(Cluster {
            client,
            server,
            retries: Arc::new(Retries::new(policy, DEFAULT_CONCURRENCY)),
            concurrency: DEFAULT_CONCURRENCY,
        })
    }
}

/// The context a connection uses, by name, found as [`load_config`] finds the kubeconfig.
fn context_name(kubeconfig: Option<&Path>, context: Option<&str>) -> String {
    if let Some(context) = context {
        return context.to_owned();
    }
    let file = match kubeconfig {
        Some(path) => Kubeconfig::read_from(path).ok(),
        None => super::kubeconfig::from_env_list()
            .and_then(Result::ok)
            .or_else(|| Kubeconfig::read().ok()),
    };
    file.and_then(|f| f.current_context)
        .unwrap_or_else(|| "in-cluster".to_owned())
}

/// A credential plugin's failure, described from the kubeconfig, never quoted.
fn plugin_failure(
    error: &(dyn std::error::Error + 'static),
    kubeconfig: Option<&Path>,
    context: Option<&str>,
) -> Option<String> {
    super::exec_auth::explain(error, || super::exec_auth::Plugin::of(kubeconfig, context))
}

/// The kube configuration, or a message that says what is wrong without quoting credentials.
async fn load_config(kubeconfig: Option<&Path>, context: Option<&str>) -> Result<Config, String> {
    let options = KubeConfigOptions {
        context: context.map(str::to_owned),
        ..KubeConfigOptions::default()
    };
    let said = |e: &(dyn std::error::Error + 'static)| {
        plugin_failure(e, kubeconfig, context).unwrap_or_else(|| safe_message(e))
    };
    // KUBECONFIG may list files that do not exist: they are skipped, as kubectl does.
    let listed = kubeconfig
        .is_none()
        .then(super::kubeconfig::from_env_list)
        .flatten();
    match (kubeconfig, listed) {
        (None, Some(file)) => {
            let file = file.map_err(|e| format!("KUBECONFIG: {}", safe_message(&e)))?;
            Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| said(&e))
        }
        (Some(path), _) => {
            let file = Kubeconfig::read_from(path)
                .map_err(|e| format!("{}: {}", path.display(), safe_message(&e)))?;
            Config::from_custom_kubeconfig(file, &options)
                .await
                .map_err(|e| format!("{}: {}", path.display(), said(&e)))
        }
        (None, None) if context.is_some() => Config::from_kubeconfig(&options)
            .await
            .map_err(|e| said(&e)),
        (None, None) => Config::infer().await.map_err(|e| {
            plugin_failure(&e, kubeconfig, context).unwrap_or_else(|| {
                format!("{}; pass --kubeconfig or set KUBECONFIG", safe_message(&e))
            })
        }),
    }
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
