//! The external renderers gitops runs (helm, kustomize, kubectl) and how to find them.

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// An external program, with the variable that can point at it and how to install it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Tool {
    pub name: &'static str,
    pub env: &'static str,
    pub install: &'static str,
}

pub const HELM: Tool = Tool {
    name: "helm",
    env: "GITOPS_HELM",
    install: "install Helm 3 or newer (https://helm.sh/docs/intro/install/)",
};

pub const KUSTOMIZE: Tool = Tool {
    name: "kustomize",
    env: "GITOPS_KUSTOMIZE",
    install: "install kustomize (https://kubectl.docs.kubernetes.io/installation/kustomize/) or kubectl, which embeds it",
};

pub const KUBECTL: Tool = Tool {
    name: "kubectl",
    env: "GITOPS_KUBECTL",
    install: "install kubectl (https://kubernetes.io/docs/tasks/tools/)",
};

impl Tool {
    /// The program to run: `$GITOPS_<TOOL>` when set, else the first match on PATH.
    pub fn locate(&self) -> Option<PathBuf> {
        if let Some(explicit) = std::env::var_os(self.env).filter(|v| !v.is_empty()) {
            return Some(PathBuf::from(explicit));
        }
        find_on_path(self.name)
    }

    pub fn missing_hint(&self) -> String {
        format!(
            "{} was not found on PATH: {} (or set {} to its path)",
            self.name, self.install, self.env
        )
    }
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    path.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Runs a program to completion, capturing stdout and stderr, never reading our stdin.
pub fn run<I, S>(program: &Path, args: I, cwd: Option<&Path>) -> std::io::Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    let mut command = Command::new(program);
    command.args(args).stdin(Stdio::null());
    if let Some(dir) = cwd {
        command.current_dir(dir);
    }
    command.output()
}

/// Like `run`, writing `input` to the program's stdin (from a thread, so that a program that
/// writes much before reading all of it cannot deadlock).
pub fn run_with_stdin<I, S>(program: &Path, args: I, input: &str) -> std::io::Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    use std::io::Write;
    let mut child = Command::new(program)
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let mut stdin = child
        .stdin
        .take()
        .ok_or_else(|| std::io::Error::other("no stdin"))?;
    let input = input.to_owned();
    let writer = std::thread::spawn(move || stdin.write_all(input.as_bytes()));
    let output = child.wait_with_output()?;
    // A program that exits without reading it all is not an error of ours.
    let _ = writer.join();
    Ok(output)
}

/// Like `run`, with extra environment variables.
pub fn run_with_env<I, S>(program: &Path, args: I, env: &[(&str, &str)]) -> std::io::Result<Output>
where
    I: IntoIterator<Item = S>,
    S: AsRef<OsStr>,
{
    Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
}

/// One line of version text for `gitops version`, or None when the tool is absent or fails.
pub fn version(tool: Tool) -> Option<(PathBuf, String)> {
    let path = tool.locate()?;
    let args: &[&str] = match tool.name {
        "helm" => &["version", "--short"],
        "kustomize" => &["version"],
        "sops" => &["--version"],
        _ => &["version", "--client", "-o", "json"],
    };
    let output = run_with_env(&path, args, &[("SOPS_DISABLE_VERSION_CHECK", "1")])
        .ok()
        .filter(|o| o.status.success())?;
    let text = String::from_utf8_lossy(&output.stdout);
    let version = if tool.name == "kubectl" {
        kubectl_versions(&text)?
    } else {
        text.lines().next()?.trim().to_owned()
    };
    Some((path, version))
}

fn kubectl_versions(json: &str) -> Option<String> {
    let value: serde_json::Value = serde_json::from_str(json).ok()?;
    let client = value.pointer("/clientVersion/gitVersion")?.as_str()?;
    Some(
        match value.get("kustomizeVersion").and_then(|v| v.as_str()) {
            Some(kustomize) => format!("{client} (kustomize {kustomize})"),
            None => client.to_owned(),
        },
    )
}
