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

/// HEAD's commit, author, subject and time, and whether what `path` holds differs from it:
/// tracked files changed anywhere (as `git describe --dirty`), or untracked files in `path`.
pub fn head_revision(path: &Path) -> Option<Revision> {
    let repo = discover(path)?;
    let commit = repo.head_commit().ok()?;
    let mut revision = super::describe(&commit);
    revision.dirty = repo.workdir().is_some()
        && (repo.is_dirty().unwrap_or(false) || untracked_under(&repo, path));
    Some(revision)
}

/// Whether an untracked file (not ignored, not hidden) lies in the target's `path`: it is
/// rendered, so the commit alone does not describe what is applied. Untracked files elsewhere
/// in the repository (build output, notes) do not count.
fn untracked_under(repo: &gix::Repository, path: &Path) -> bool {
    let (Some(Ok(root)), Ok(path)) = (repo.workdir().map(Path::canonicalize), path.canonicalize())
    else {
        return false;
    };
    let Ok(relative) = path.strip_prefix(&root) else {
        return false;
    };
    let spec = relative.to_string_lossy();
    // `top`: relative to the repository root whatever the current directory.
    let pattern = if spec.is_empty() {
        ":(top)".to_owned()
    } else {
        format!(":(top,literal){spec}")
    };
    let status = repo
        .status(gix::progress::Discard)
        .map(|s| s.untracked_files(gix::status::UntrackedFiles::Files))
        .and_then(|s| s.into_index_worktree_iter([gix::bstr::BString::from(pattern)]));
    let Ok(items) = status else {
        return false;
    };
    // Hidden entries *below* the target's path are skipped by the renderer; the target's own
    // path may well be hidden (`.deploy/prod`).
    let depth = relative.components().count();
    items.filter_map(Result::ok).any(|item| match item {
        gix::status::index_worktree::Item::DirectoryContents { entry, .. } => {
            entry.status == gix::dir::entry::Status::Untracked
                && !entry
                    .rela_path
                    .split(|b| *b == b'/')
                    .skip(depth)
                    .any(|part| part.starts_with(b"."))
        }
        _ => false,
    })
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

/// Whether the file at `path` differs from HEAD's version of it (a file HEAD does not have
/// counts as changed). None outside Git.
pub fn differs_from_head(path: &Path) -> Option<bool> {
    let repo = discover(path)?;
    let root = repo.workdir()?.canonicalize().ok()?;
    let absolute = path.canonicalize().ok()?;
    let relative = absolute.strip_prefix(&root).ok()?;
    let tree = repo.head_commit().ok()?.tree().ok()?;
    let Some(entry) = tree.lookup_entry_by_path(relative).ok()? else {
        return Some(true);
    };
    let committed = entry.object().ok()?.detach().data;
    let now = std::fs::read(&absolute).ok()?;
    Some(committed != now)
}
