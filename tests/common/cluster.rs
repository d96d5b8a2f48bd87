//! Finding (or starting) the Kubernetes control plane the tests run against.
//!
//! Resolution, done once per test binary:
//! 1. `GITOPS_TEST_KUBECONFIG` set: use that kubeconfig (the one
//!    `scripts/test` started, or a developer's own cluster). The admin context
//!    is `admin` when present, else the current context; the unprivileged one
//!    is `unprivileged` when present, else the admin identity impersonating the
//!    user `gitops-test-unprivileged` (no groups).
//! 2. Otherwise run `scripts/testenv start`, which reuses the control plane
//!    running under `target/testenv` or starts one, and use its kubeconfig.
//!
//! A missing cluster is a loud failure, never a skip: a green run that tested
//! nothing is worse than a red one.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{DeleteParams, PostParams};
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};

/// The user the unprivileged identity is (also the name in
/// `scripts/testenv`'s tokens.csv). It belongs to no group and has no RBAC
/// bindings, so every request but discovery is Forbidden.
pub const UNPRIVILEGED_USER: &str = "gitops-test-unprivileged";

/// A cluster to test against, with an admin and an unprivileged identity.
#[derive(Debug, Clone)]
pub struct TestEnv {
    /// Path of the kubeconfig file.
    pub kubeconfig: PathBuf,
    /// Context with cluster-admin rights.
    pub admin_context: String,
    /// Context of a user without any rights; `None` when the kubeconfig has
    /// none, then [`TestEnv::unprivileged_client`] impersonates
    /// [`UNPRIVILEGED_USER`] from the admin context.
    pub unprivileged_context: Option<String>,
}

static TESTENV: OnceLock<Result<TestEnv, String>> = OnceLock::new();

/// The cluster of this test run (resolved once per test binary).
///
/// Panics with an explanation when there is none and none can be started
/// (every test of the binary then fails with that same explanation, without
/// trying again).
pub fn testenv() -> &'static TestEnv {
    let resolved = TESTENV.get_or_init(|| {
        std::panic::catch_unwind(resolve).map_err(|payload| {
            payload
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| payload.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_else(|| "cannot find a test cluster".to_string())
        })
    });
    match resolved {
        Ok(env) => env,
        Err(message) => panic!("{message}"),
    }
}

fn resolve() -> TestEnv {
    let kubeconfig = match std::env::var_os("GITOPS_TEST_KUBECONFIG").filter(|v| !v.is_empty()) {
        // Absolute, because tests run gitops from other directories.
        Some(path) => std::path::absolute(PathBuf::from(path)).unwrap_or_default(),
        None => start_testenv().join("kubeconfig"),
    };
    let config = Kubeconfig::read_from(&kubeconfig).unwrap_or_else(|e| {
        panic!(
            "\n\n*** cannot read the test kubeconfig {}: {e}\n\
             *** (set GITOPS_TEST_KUBECONFIG to a kubeconfig, or unset it to let\n\
             *** scripts/testenv start a control plane)\n",
            kubeconfig.display()
        )
    });
    let has_context = |name: &str| config.contexts.iter().any(|c| c.name == name);
    let admin_context = if has_context("admin") {
        "admin".to_string()
    } else {
        config.current_context.clone().unwrap_or_else(|| {
            panic!(
                "\n\n*** the test kubeconfig {} has neither a context 'admin' nor a current context\n",
                kubeconfig.display()
            )
        })
    };
    let unprivileged_context = has_context("unprivileged").then(|| "unprivileged".to_string());
    TestEnv {
        kubeconfig,
        admin_context,
        unprivileged_context,
    }
}

/// Runs `scripts/testenv start` and returns the directory it printed.
fn start_testenv() -> PathBuf {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let script = root.join("scripts/testenv");
    let output = Command::new(&script)
        .arg("start")
        .current_dir(root)
        .output()
        .unwrap_or_else(|e| {
            panic!(
                "\n\n*** cannot run {}: {e}\n*** The integration tests need a Kubernetes control plane.\n",
                script.display()
            )
        });
    let stderr = String::from_utf8_lossy(&output.stderr);
    if !output.status.success() {
        let tail: Vec<&str> = stderr.lines().rev().take(60).collect();
        let tail: Vec<&str> = tail.into_iter().rev().collect();
        panic!(
            "\n\n*** `scripts/testenv start` failed ({}): the integration tests need a\n\
             *** Kubernetes control plane (etcd + kube-apiserver + kube-controller-manager).\n\
             *** Build and install it once with:   scripts/testenv provision\n\
             *** or point GITOPS_TEST_KUBECONFIG at a cluster of your own.\n\
             *** The whole suite, control plane included:   scripts/test\n\
             *** --- last lines of its output ---\n{}\n",
            output.status,
            tail.join("\n")
        );
    }
    eprint!("{stderr}");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let dir = stdout
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or_else(|| {
            panic!(
                "\n\n*** `scripts/testenv start` printed no directory\n*** its output:\n{stderr}\n"
            )
        });
    PathBuf::from(dir.trim())
}

impl TestEnv {
    /// A client with cluster-admin rights. Build one per test: a `Client`
    /// is bound to the tokio runtime it was first used on, and every
    /// `#[tokio::test]` has its own runtime.
    pub async fn client(&self) -> Client {
        self.client_for(&self.admin_context, None).await
    }

    /// A client of a user without any rights (for Forbidden paths).
    pub async fn unprivileged_client(&self) -> Client {
        match &self.unprivileged_context {
            Some(context) => self.client_for(context, None).await,
            None => {
                self.client_for(&self.admin_context, Some(UNPRIVILEGED_USER))
                    .await
            }
        }
    }

    /// The kube `Config` of a context of this kubeconfig.
    pub async fn config_for(&self, context: &str) -> kube::Config {
        let kubeconfig = Kubeconfig::read_from(&self.kubeconfig).unwrap_or_else(|e| {
            panic!(
                "cannot read the test kubeconfig {}: {e}",
                self.kubeconfig.display()
            )
        });
        let options = KubeConfigOptions {
            context: Some(context.to_string()),
            ..Default::default()
        };
        kube::Config::from_custom_kubeconfig(kubeconfig, &options)
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "cannot load context {context} of the test kubeconfig {}: {e}",
                    self.kubeconfig.display()
                )
            })
    }

    async fn client_for(&self, context: &str, impersonate: Option<&str>) -> Client {
        let mut config = self.config_for(context).await;
        if let Some(user) = impersonate {
            config.auth_info.impersonate = Some(user.to_string());
        }
        Client::try_from(config)
            .unwrap_or_else(|e| panic!("cannot build a client for context {context}: {e}"))
    }
}

/// Directory of the binaries `scripts/testenv provision` installs (helm,
/// kubectl-1.33, kube-apiserver, ...). `scripts/test` puts it first on PATH.
pub fn cache_bin_dir() -> PathBuf {
    let cache = match std::env::var_os("GITOPS_TESTENV_CACHE").filter(|v| !v.is_empty()) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
            .join(".cache/gitops-testenv"),
    };
    cache.join("bin")
}

/// A name unique across test threads, test binaries and runs:
/// `<prefix>-<suffix>`, a valid DNS-1123 label (at most 63 characters).
pub fn unique_name(prefix: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let count = COUNTER.fetch_add(1, Ordering::Relaxed);
    let pid = std::process::id();
    // Mix the three into a short base-36 suffix (FNV-1a over their bytes).
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in nanos
        .to_le_bytes()
        .iter()
        .chain(&count.to_le_bytes())
        .chain(&pid.to_le_bytes())
    {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0100_0000_01b3);
    }
    let mut suffix = String::new();
    for _ in 0..8 {
        suffix.push(char::from_digit((hash % 36) as u32, 36).unwrap());
        hash /= 36;
    }
    let mut prefix: String = prefix
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .take(50)
        .collect();
    while prefix.ends_with('-') {
        prefix.pop();
    }
    let prefix = prefix.trim_start_matches('-');
    if prefix.is_empty() {
        format!("t-{suffix}")
    } else {
        format!("{prefix}-{suffix}")
    }
}

/// Creates a namespace named `<prefix>-<unique suffix>` and returns its name.
pub async fn unique_namespace(client: &Client, prefix: &str) -> String {
    let name = unique_name(prefix);
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let namespace: Namespace = serde_json::from_value(serde_json::json!({
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": { "name": name, "labels": { "gitops-test": "true" } },
    }))
    .expect("a valid Namespace");
    namespaces
        .create(&PostParams::default(), &namespace)
        .await
        .unwrap_or_else(|e| panic!("cannot create the test namespace {name}: {e}"));
    name
}

/// Deletes a namespace (in the background: the controller-manager empties
/// it). A namespace already gone is fine.
pub async fn delete_namespace(client: &Client, name: &str) {
    let namespaces: Api<Namespace> = Api::all(client.clone());
    match namespaces.delete(name, &DeleteParams::background()).await {
        Ok(_) => {}
        Err(kube::Error::Api(status)) if status.code == 404 => {}
        Err(e) => panic!("cannot delete the test namespace {name}: {e}"),
    }
}

/// Polls `check` every 200 ms until it returns `Some`, for at most
/// `timeout`; panics with `what` on timeout.
pub async fn wait_for<T, F, Fut>(what: &str, timeout: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = Option<T>>,
{
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        if tokio::time::Instant::now() >= deadline {
            panic!("timed out after {timeout:?} waiting for {what}");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// A kubeconfig's text with every cluster's `server:` replaced by `server`.
pub fn with_server(kubeconfig: &str, server: &str) -> String {
    kubeconfig
        .lines()
        .map(|line| match line.split_once("server:") {
            Some((indent, _)) => format!("{indent}server: {server}"),
            None => line.to_owned(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}
