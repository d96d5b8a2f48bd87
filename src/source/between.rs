//! The commits one deployed revision has that another lacks, limited to those that touch
//! given paths (`gitops compare --live`).

use std::path::{Path, PathBuf};

use super::{describe, local, Revision};

/// Why the commits between two revisions cannot be listed.
#[derive(Debug, thiserror::Error)]
pub enum BetweenError {
    #[error("{} is not in a Git repository: run compare --live inside the repository the targets were applied from", .0.display())]
    NoRepository(PathBuf),
    #[error("commit {commit} (deployed to {side}) is not in this clone{}", if *.shallow { ": it is shallow, so fetch more history (`git fetch --unshallow`, or `fetch-depth: 0` in actions/checkout, `GIT_DEPTH: 0` in GitLab CI)" } else { ": fetch it (`git fetch origin`), or run from a clone that has it" })]
    Missing {
        commit: String,
        side: String,
        shallow: bool,
    },
    #[error("reading the history between {a} and {b}: {message}")]
    Walk {
        a: String,
        b: String,
        message: String,
    },
}

/// The commits each side runs that the other does not, oldest first.
#[derive(Debug, Default)]
pub struct Between {
    pub only_in_a: Vec<Revision>,
    pub only_in_b: Vec<Revision>,
}

/// Commits reachable from `a` and not from `b` (and the other way round) that change a file
/// under one of `paths` (relative to the repository root) compared with their first parent.
/// `a` and `b` are commit ids; `names` are the sides' names for messages.
pub fn commits_between(
    repository: &Path,
    (a, b): (&str, &str),
    names: (&str, &str),
    paths: &[PathBuf],
) -> Result<Between, BetweenError> {
    let repo = local::discover(repository)
        .ok_or_else(|| BetweenError::NoRepository(repository.to_path_buf()))?;
    let shallow = repo.is_shallow().unwrap_or(false);
    let id = |commit: &str, side: &str| {
        gix::ObjectId::from_hex(commit.as_bytes())
            .ok()
            .filter(|id| repo.find_commit(*id).is_ok())
            .ok_or_else(|| BetweenError::Missing {
                commit: commit.to_owned(),
                side: side.to_owned(),
                shallow,
            })
    };
    let (id_a, id_b) = (id(a, names.0)?, id(b, names.1)?);
    let walk_error = |e: &dyn std::fmt::Display| BetweenError::Walk {
        a: a.to_owned(),
        b: b.to_owned(),
        message: e.to_string(),
    };
    let only =
        |from: gix::ObjectId, hidden: gix::ObjectId| -> Result<Vec<Revision>, BetweenError> {
            let walk = repo
                .rev_walk([from])
                .with_hidden([hidden])
                .all()
                .map_err(|e| walk_error(&e))?;
            let mut found = Vec::new();
            for info in walk {
                let info = info.map_err(|e| walk_error(&e))?;
                let commit = repo.find_commit(info.id).map_err(|e| walk_error(&e))?;
                if touches(&repo, &commit, paths).map_err(|e| walk_error(&e))? {
                    found.push(describe(&commit));
                }
            }
            found.reverse();
            Ok(found)
        };
    Ok(Between {
        only_in_a: only(id_a, id_b)?,
        only_in_b: only(id_b, id_a)?,
    })
}

/// Whether the commit changes what any of `paths` holds, compared with its first parent.
fn touches(
    repo: &gix::Repository,
    commit: &gix::Commit<'_>,
    paths: &[PathBuf],
) -> anyhow::Result<bool> {
    let tree = commit.tree()?;
    let parent = match commit.parent_ids().next() {
        Some(id) => Some(repo.find_commit(id)?.tree()?),
        None => None,
    };
    for path in paths {
        if path.as_os_str().is_empty() {
            // The whole repository.
            if parent.as_ref().map(|t| t.id) != Some(tree.id) {
                return Ok(true);
            }
            continue;
        }
        let here = tree.lookup_entry_by_path(path)?.map(|e| e.object_id());
        let before = match &parent {
            Some(tree) => tree.lookup_entry_by_path(path)?.map(|e| e.object_id()),
            None => None,
        };
        if here != before {
            return Ok(true);
        }
    }
    Ok(false)
}
