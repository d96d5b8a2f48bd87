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
