//! Source stage: where the config comes from. Today: finding the Git repository that holds a
//! path, so that target names and gitops.yaml are resolved from its root.

use std::path::{Path, PathBuf};

/// The working-tree root of the Git repository containing `path`, if any.
pub fn repository_root(path: &Path) -> Option<PathBuf> {
    let start = if path.is_dir() { path } else { path.parent()? };
    let start = if start.as_os_str().is_empty() {
        Path::new(".")
    } else {
        start
    };
    let repo = gix::discover(start).ok()?;
    let root = repo.workdir()?;
    root.canonicalize().ok()
}

/// The commit checked out in the repository holding `path`, or "unknown" outside Git.
pub fn revision(path: &Path) -> String {
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
    gix::discover(start)
        .ok()
        .and_then(|repo| repo.head_id().ok().map(|id| id.to_string()))
        .unwrap_or_else(|| "unknown".to_owned())
}
