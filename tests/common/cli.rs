//! Runs the real gitops binary the way a user or CI job does, and captures what it says.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// What one run printed and how it exited.
#[derive(Debug)]
pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    /// Panics with both streams when the exit code is not `expected`.
    #[track_caller]
    pub fn expect_code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code, expected,
            "exit code {} (wanted {expected})\n--- stdout\n{}\n--- stderr\n{}",
            self.code, self.stdout, self.stderr
        );
        self
    }
}

/// The repository root (where Cargo.toml is).
pub fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn fixture(relative: &str) -> PathBuf {
    repo_root().join("fixtures").join(relative)
}

/// A gitops invocation: arguments, working directory, stdin and environment.
pub struct Gitops {
    command: Command,
    stdin: Option<Vec<u8>>,
}

impl Gitops {
    pub fn new<I, S>(args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let mut command = Command::new(env!("CARGO_BIN_EXE_gitops"));
        command
            .args(args)
            .current_dir(repo_root())
            .env_remove("NO_COLOR")
            .env_remove("GITOPS_HELM")
            .env_remove("GITOPS_KUSTOMIZE")
            .env_remove("GITOPS_KUBECTL");
        Gitops {
            command,
            stdin: None,
        }
    }

    /// gitops as a pod runs it: no kubeconfig anywhere (`HOME` is `home`, `KUBECONFIG` unset),
    /// the API server named by `KUBERNETES_SERVICE_HOST`/`_PORT`, and `service_account` (token,
    /// ca.crt, namespace) mounted where kube reads a pod's service account. The mount is made
    /// in a mount namespace of its own (`unshare`, which needs root, as these machines and CI
    /// have), so nothing outside the run sees it.
    pub fn in_pod<I, S>(service_account: &Path, server: (&str, u16), home: &Path, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        const MOUNT_POINT: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
        let mut command = Command::new("unshare");
        command
            .args(["--mount", "--propagation", "private", "sh", "-c"])
            .arg(format!(
                "mkdir -p {MOUNT_POINT} && mount --bind \"$0\" {MOUNT_POINT} && exec \"$@\""
            ))
            .arg(service_account)
            .arg(env!("CARGO_BIN_EXE_gitops"))
            .args(args)
            .current_dir(repo_root())
            .env_remove("KUBECONFIG")
            .env_remove("NO_COLOR")
            .env("HOME", home)
            .env("KUBERNETES_SERVICE_HOST", server.0)
            .env("KUBERNETES_SERVICE_PORT", server.1.to_string());
        Gitops {
            command,
            stdin: None,
        }
    }

    pub fn current_dir(mut self, dir: impl AsRef<Path>) -> Self {
        self.command.current_dir(dir);
        self
    }

    pub fn env(mut self, key: &str, value: impl AsRef<std::ffi::OsStr>) -> Self {
        self.command.env(key, value);
        self
    }

    pub fn env_remove(mut self, key: &str) -> Self {
        self.command.env_remove(key);
        self
    }

    /// Talk to the test cluster: its kubeconfig, admin context current.
    pub fn on_cluster(self) -> Self {
        let kubeconfig = &super::cluster::testenv().kubeconfig;
        self.env("KUBECONFIG", kubeconfig)
    }

    pub fn stdin(mut self, bytes: impl Into<Vec<u8>>) -> Self {
        self.stdin = Some(bytes.into());
        self
    }

    pub fn run(mut self) -> Run {
        self.command
            .stdin(if self.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = self.command.spawn().expect("the gitops binary starts");
        if let Some(bytes) = self.stdin.take() {
            let mut pipe = child.stdin.take().expect("stdin is piped");
            std::thread::spawn(move || pipe.write_all(&bytes));
        }
        let output = child.wait_with_output().expect("gitops runs to the end");
        Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

/// Shorthand: run gitops with these arguments from the repository root.
pub fn gitops(args: &[&str]) -> Run {
    Gitops::new(args).run()
}

/// Writes files (path → content) under a new temporary directory.
pub fn temp_tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("a temporary directory");
    for (path, content) in files {
        let path = dir.path().join(path);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }
    dir
}

/// Compares `actual` with a golden file under tests/golden; `GITOPS_UPDATE_GOLDEN=1` rewrites it.
#[track_caller]
pub fn assert_golden(name: &str, actual: &str) {
    let path = repo_root().join("tests/golden").join(name);
    if std::env::var_os("GITOPS_UPDATE_GOLDEN").is_some() {
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "golden file {} is missing ({e}); run with GITOPS_UPDATE_GOLDEN=1 to create it",
            path.display()
        )
    });
    if expected != actual {
        let diff = similar::TextDiff::from_lines(&expected, actual)
            .unified_diff()
            .header("golden", "actual")
            .to_string();
        panic!(
            "output differs from {} (GITOPS_UPDATE_GOLDEN=1 rewrites it):\n{diff}",
            path.display()
        );
    }
}
