//! Source stage: where the config comes from. Today: finding the Git repository that holds a
//! path, so that target names and gitops.yaml are resolved from its root.

use std::path::{Path, PathBuf};

/// The Git repository holding `path` (a directory, or a file's directory), if any.
fn discover(path: &Path) -> Option<gix::Repository> {
    let start = if path.is_dir() {
        path
    } else {
        path.parent().unwrap_or(Path::new("."))
    };
    let start = if start.as_os_str().is_empty() {
        Path::new(".")
    } else {
        start
    };
    gix::discover(start).ok()
}

/// The working-tree root of the Git repository containing `path`, if any.
pub fn repository_root(path: &Path) -> Option<PathBuf> {
    discover(path)?.workdir()?.canonicalize().ok()
}

/// The commit checked out in the repository holding `path`, or "unknown" outside Git.
pub fn revision(path: &Path) -> String {
    revision_info(path).map_or_else(|| "unknown".to_owned(), |r| r.commit)
}

/// The commit a target is rendered from, as the inventory's history records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Revision {
    pub commit: String,
    pub author: Option<String>,
    pub subject: Option<String>,
    /// Committer time, RFC 3339 UTC.
    pub time: Option<String>,
}

/// HEAD's commit, author, subject and time for the repository holding `path`.
pub fn revision_info(path: &Path) -> Option<Revision> {
    let repo = discover(path)?;
    let commit = repo.head_commit().ok()?;
    let author = commit.author().ok().map(|a| a.name.to_string());
    let subject = commit.message().ok().map(|m| m.summary().to_string());
    let time = commit.time().ok().map(|t| crate::clock::rfc3339(t.seconds));
    Some(Revision {
        commit: commit.id.to_string(),
        author,
        subject,
        time,
    })
}
