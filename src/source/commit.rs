//! A commit of given files on a new branch, made with the git CLI so that the user's identity,
//! signing and hooks apply as for any of their commits (`gitops promote --commit`).

use std::path::{Path, PathBuf};
use std::process::Command;

/// Why the commit was not made.
#[derive(Debug, thiserror::Error)]
pub enum CommitError {
    #[error("`git {args}` failed in {dir}: {message}")]
    Git {
        args: String,
        dir: String,
        message: String,
    },
    #[error("git was not found on PATH: --commit commits with the git CLI; install git, or use --write and commit yourself")]
    NoGit,
}

/// Creates `branch` at HEAD, switches to it and commits `files` (already written) with
/// `message`, and nothing else that may be staged. Returns the new commit id.
pub fn commit_on_new_branch(
    root: &Path,
    branch: &str,
    files: &[PathBuf],
    message: &str,
) -> Result<String, CommitError> {
    git(root, &["switch", "-q", "-c", branch])?;
    let mut args: Vec<String> = ["commit", "-q", "-m", message, "--"]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    args.extend(files.iter().map(|f| f.display().to_string()));
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    git(root, &args)?;
    git(root, &["rev-parse", "HEAD"])
}

/// Whether the repository at `root` has a local branch `branch`.
pub fn branch_exists(root: &Path, branch: &str) -> Result<bool, CommitError> {
    let output = Command::new("git")
        .args([
            "rev-parse",
            "--verify",
            "--quiet",
            &format!("refs/heads/{branch}"),
        ])
        .current_dir(root)
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => CommitError::NoGit,
            _ => CommitError::Git {
                args: "rev-parse".into(),
                dir: root.display().to_string(),
                message: e.to_string(),
            },
        })?;
    Ok(output.status.success())
}

fn git(dir: &Path, args: &[&str]) -> Result<String, CommitError> {
    let output = Command::new("git")
        .args(args)
        .current_dir(dir)
        .output()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => CommitError::NoGit,
            _ => CommitError::Git {
                args: args.join(" "),
                dir: dir.display().to_string(),
                message: e.to_string(),
            },
        })?;
    if !output.status.success() {
        return Err(CommitError::Git {
            args: args.first().copied().unwrap_or_default().to_owned(),
            dir: dir.display().to_string(),
            message: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
        });
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_owned())
}
