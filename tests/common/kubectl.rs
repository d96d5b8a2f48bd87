//! kubectl against the test cluster, for setting the scene (what another tool or a person
//! did) and as the reference that gitops' plans are compared with.

use std::io::Write;
use std::process::{Command, Stdio};

use super::cli::Run;
use super::cluster::{testenv, unique_name};

/// Runs kubectl with the test kubeconfig (admin context), feeding `stdin` when given.
pub fn kubectl(args: &[&str], stdin: Option<&str>) -> Run {
    let env = testenv();
    let mut child = Command::new("kubectl")
        .args(["--context", &env.admin_context])
        .args(args)
        .env("KUBECONFIG", &env.kubeconfig)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("kubectl is installed (it ships with the machine image)");
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().expect("stdin is piped");
        let text = text.to_owned();
        std::thread::spawn(move || pipe.write_all(text.as_bytes()));
    }
    let output = child.wait_with_output().expect("kubectl runs");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

/// kubectl that must succeed.
#[track_caller]
pub fn kubectl_ok(args: &[&str], stdin: Option<&str>) -> String {
    let run = kubectl(args, stdin);
    run.expect_code(0);
    run.stdout
}

/// A namespace for one test, deleted (in the background) when dropped.
pub struct TestNamespace {
    pub name: String,
}

impl TestNamespace {
    pub fn new(prefix: &str) -> Self {
        let name = unique_name(prefix);
        kubectl_ok(&["create", "namespace", &name], None);
        TestNamespace { name }
    }

    /// A unique name for a namespace the test's gitops run creates; deleted all the same.
    pub fn not_created(prefix: &str) -> Self {
        TestNamespace {
            name: unique_name(prefix),
        }
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let _ = kubectl(&["delete", "namespace", &self.name, "--wait=false"], None);
    }
}
