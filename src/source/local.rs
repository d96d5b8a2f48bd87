//! The local Git repository: which one holds a path, its HEAD commit, and whether the working
//! tree has changes that are not committed.

use std::path::{Path, PathBuf};

use super::Revision;

/// The Git repository holding `path` (a directory, or a file's directory), if any.
pub fn discover(path: &Path) -> Option<gix::Repository> {
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

/// HEAD's commit, author, subject and time, and whether tracked files changed since.
pub fn head_revision(path: &Path) -> Option<Revision> {
    let repo = discover(path)?;
    let commit = repo.head_commit().ok()?;
    let mut revision = super::describe(&commit);
    // Untracked files do not count (as `git describe --dirty`): a stray file in a plain
    // directory is rendered, though, so the render itself still shows it.
    revision.dirty = repo.workdir().is_some() && repo.is_dirty().unwrap_or(false);
    Some(revision)
}

/// How HEAD relates to a deployed commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Relation {
    Same,
    /// HEAD descends from the deployed commit by this many commits.
    Ahead(usize),
    /// The deployed commit is not an ancestor of HEAD (another branch, or history rewritten).
    Diverged,
    /// The deployed commit is not in this repository (or not a commit id at all).
    Unknown,
}

/// Commits whose ancestry is walked at most, so a huge history cannot stall `status`.
const WALK_LIMIT: usize = 10_000;

/// Where HEAD of the repository holding `path` stands relative to `deployed` (a commit id,
/// possibly with a `-dirty` suffix).
pub fn relation_to_head(path: &Path, deployed: &str) -> Option<(String, Relation)> {
    let repo = discover(path)?;
    let head = repo.head_id().ok()?.detach();
    let deployed = deployed.trim_end_matches("-dirty");
    let Ok(deployed) = gix::ObjectId::from_hex(deployed.as_bytes()) else {
        return Some((head.to_string(), Relation::Unknown));
    };
    if deployed == head {
        return Some((head.to_string(), Relation::Same));
    }
    if repo.find_commit(deployed).is_err() {
        return Some((head.to_string(), Relation::Unknown));
    }
    let walk = repo.rev_walk([head]).all().ok()?;
    for (ahead, info) in walk.take(WALK_LIMIT).enumerate() {
        match info {
            Ok(info) if info.id == deployed => {
                return Some((head.to_string(), Relation::Ahead(ahead)))
            }
            Ok(_) => {}
            Err(_) => break,
        }
    }
    Some((head.to_string(), Relation::Diverged))
}
