//! A second kube-apiserver on the test control plane's etcd, for tests that restart an API
//! server for real (SIGKILL, then start it again) without disturbing the shared one.
//!
//! Two API servers on one etcd is how every highly available cluster runs. The second one
//! takes the same flags as the running one (read from its process, whose pid file
//! `scripts/testenv` keeps next to the kubeconfig) on a port of its own. Without that local
//! control plane (a kind cluster through `GITOPS_TEST_KUBECONFIG`), tests using this fail
//! loudly, like tests that need a controller-manager.

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use super::cluster::TestEnv;

pub struct SecondApiServer {
    program: String,
    args: Vec<String>,
    port: u16,
    log: PathBuf,
    kubeconfig: PathBuf,
    context: String,
    child: Option<Child>,
}

impl SecondApiServer {
    /// Starts it and waits until it is ready; its log and kubeconfig go into `dir`.
    pub fn start(env: &TestEnv, dir: &Path) -> Self {
        Self::start_with(env, dir, None)
    }

    /// A second cluster: an API server of its own on the same etcd, under its own key prefix,
    /// so that it shares no object with the test control plane (its own namespaces, RBAC
    /// bootstrap, everything). Its kubeconfig names the context `context`.
    pub fn start_separate(env: &TestEnv, dir: &Path, context: &str) -> Self {
        Self::start_with(env, dir, Some(context))
    }

    fn start_with(env: &TestEnv, dir: &Path, separate: Option<&str>) -> Self {
        let testenv_dir = env.kubeconfig.parent().expect("the kubeconfig's directory");
        let pid_file = testenv_dir.join("kube-apiserver.pid");
        let pid = std::fs::read_to_string(&pid_file).unwrap_or_else(|e| {
            panic!(
                "this test restarts an API server and needs the local control plane of scripts/testenv: cannot read {} ({e})",
                pid_file.display()
            )
        });
        let cmdline = std::fs::read(format!("/proc/{}/cmdline", pid.trim()))
            .expect("the test control plane's kube-apiserver is running");
        let mut argv: Vec<String> = cmdline
            .split(|b| *b == 0)
            .filter(|a| !a.is_empty())
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let program = argv.remove(0);
        let port = {
            let probe = TcpListener::bind("127.0.0.1:0").expect("a free loopback port");
            probe.local_addr().unwrap().port()
        };
        let mut args: Vec<String> = argv
            .into_iter()
            .filter(|a| separate.is_none() || !a.starts_with("--etcd-prefix="))
            .map(|a| {
                if a.starts_with("--secure-port=") {
                    format!("--secure-port={port}")
                } else {
                    a
                }
            })
            .collect();
        if separate.is_some() {
            args.push(format!(
                "--etcd-prefix=/gitops-test-cluster-{}",
                super::cluster::unique_name("p")
            ));
        }
        let kubeconfig = dir.join(match separate {
            Some(context) => format!("{context}.kubeconfig"),
            None => "second-apiserver.kubeconfig".to_owned(),
        });
        let text = std::fs::read_to_string(&env.kubeconfig).expect("the test kubeconfig");
        let cluster_name = text
            .lines()
            .find_map(|l| l.trim().strip_prefix("cluster: "))
            .unwrap_or("gitops-test")
            .to_owned();
        let text = super::cluster::with_server(&text, &format!("https://127.0.0.1:{port}"));
        let rewritten: Vec<String> = text
            .lines()
            .map(str::to_owned)
            .map(|line| match separate {
                // Its own context, user and cluster names, so that one KUBECONFIG can list
                // both clusters.
                Some(context) => rename_entry(&line, &env.admin_context, context)
                    .or_else(|| rename_entry(&line, &cluster_name, &format!("{context}-cluster")))
                    .unwrap_or(line),
                None => line,
            })
            .collect();
        std::fs::write(&kubeconfig, rewritten.join("\n")).unwrap();
        let mut server = SecondApiServer {
            program,
            args,
            port,
            log: dir.join("second-apiserver.log"),
            kubeconfig,
            context: separate.map_or_else(|| env.admin_context.clone(), str::to_owned),
            child: None,
        };
        server.spawn_and_wait();
        server
    }

    /// A kubeconfig (the test one) whose server is this API server.
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    pub fn context(&self) -> &str {
        &self.context
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// SIGKILL: the process is gone at once, its connections reset.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// Starts it again (after [`Self::kill`]) and waits until it is ready; how long that took.
    pub fn restart(&mut self) -> Duration {
        let started = Instant::now();
        self.spawn_and_wait();
        started.elapsed()
    }

    fn spawn_and_wait(&mut self) {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&self.log)
            .unwrap();
        let child = Command::new(&self.program)
            .args(&self.args)
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("kube-apiserver starts");
        self.child = Some(child);
        let deadline = Instant::now() + Duration::from_secs(90);
        loop {
            let ready = Command::new("kubectl")
                .args(["--kubeconfig"])
                .arg(&self.kubeconfig)
                .args(["--context", &self.context])
                .args(["get", "--raw", "/readyz", "--request-timeout=2s"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status()
                .is_ok_and(|s| s.success());
            if ready {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!(
                    "the second kube-apiserver exited ({status}); see {}",
                    self.log.display()
                );
            }
            assert!(
                Instant::now() < deadline,
                "the second kube-apiserver was not ready within 90 s; see {}",
                self.log.display()
            );
            std::thread::sleep(Duration::from_millis(250));
        }
    }
}

impl Drop for SecondApiServer {
    fn drop(&mut self) {
        self.kill();
    }
}

/// `key: old` (a name or a reference to one) as `key: new`; None for other lines.
fn rename_entry(line: &str, old: &str, new: &str) -> Option<String> {
    let start = line.strip_suffix(old)?;
    start.ends_with(": ").then(|| format!("{start}{new}"))
}
