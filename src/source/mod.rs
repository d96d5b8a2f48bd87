//! Source stage: where a target's config comes from and which revision it is. The working tree
//! of the Git repository holding the current directory by default; `--repo URL --ref REF` (or
//! `--ref REF` alone, of the local repository) pins another revision, written to a temporary
//! directory that stands in for the repository root for the rest of the run.

mod between;
mod ci;
mod clone;
mod commit;
mod credentials;
mod local;
mod tree;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub use between::{commits_between, Between, BetweenError};
pub use ci::{run_context, RunContext};
pub use clone::{resolve, snapshot, Snapshot};
pub use commit::{branch_exists, commit_on_new_branch, CommitError};
pub use credentials::redact_url;
pub use local::{differs_from_head, relation_to_head, Relation};

/// The snapshot `--repo URL` / `--ref REF` ask for, pinned for the run (None: the working
/// tree). `--ref` alone reads the repository holding the current directory.
pub fn pin_from_flags(
    repo: Option<&str>,
    reference: Option<&str>,
) -> anyhow::Result<Option<Snapshot>> {
    let cwd = std::env::current_dir()?;
    let (snapshot, subdirectory) = match (repo, reference) {
        (None, None) => return Ok(None),
        (Some(url), reference) => (snapshot(url, reference)?, PathBuf::new()),
        (None, Some(reference)) => {
            let Some(root) = local::repository_root(&cwd) else {
                anyhow::bail!(
                    "--ref {reference} reads a revision of the Git repository holding the current directory, but {} is not in one; pass --repo URL too",
                    cwd.display()
                );
            };
            let cwd = cwd.canonicalize().unwrap_or(cwd);
            let subdirectory = cwd
                .strip_prefix(&root)
                .unwrap_or(Path::new(""))
                .to_path_buf();
            (
                snapshot(&root.display().to_string(), Some(reference))?,
                subdirectory,
            )
        }
    };
    pin(&snapshot, &subdirectory);
    Ok(Some(snapshot))
}

/// What can go wrong reading a source; every message says what to do.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    #[error("cannot open the Git repository {url}: {reason}")]
    Open { url: String, reason: String },
    #[error("revision {reference:?} does not exist in the repository: check the branch, tag or commit id (a commit id must be complete, 40 hex digits, for a remote)")]
    UnknownRef { reference: String },
    #[error(
        "cannot fetch {url}: {reason}; check the URL and that the host is reachable from here"
    )]
    Unreachable { url: String, reason: String },
    #[error("{url} refused the credentials{}: check that the token is valid and may read the repository", match token { Some(var) => format!(" (token from {var})"), None => " (no token: set GITOPS_GIT_TOKEN, GITHUB_TOKEN or CI_JOB_TOKEN)".to_owned() })]
    Rejected {
        url: String,
        token: Option<&'static str>,
    },
    #[error("cannot write revision {revision} to a temporary directory: {reason}")]
    Checkout { revision: String, reason: String },
    #[error("{0}")]
    Io(String),
}

/// The commit a target is rendered from, as the inventory's history records it.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Revision {
    pub commit: String,
    /// Tracked files differ from the commit (`<commit>-dirty`).
    #[serde(default)]
    pub dirty: bool,
    pub author: Option<String>,
    pub subject: Option<String>,
    /// Committer time, RFC 3339 UTC.
    pub time: Option<String>,
}

impl Revision {
    /// `<commit>`, or `<commit>-dirty` when the working tree had uncommitted changes.
    pub fn label(&self) -> String {
        if self.dirty {
            format!("{}-dirty", self.commit)
        } else {
            self.commit.clone()
        }
    }
}

/// Commit id, author, subject and committer time of a commit.
fn describe(commit: &gix::Commit<'_>) -> Revision {
    Revision {
        commit: commit.id.to_string(),
        dirty: false,
        author: commit.author().ok().map(|a| a.name.to_string()),
        subject: commit.message().ok().map(|m| m.summary().to_string()),
        time: commit.time().ok().map(|t| crate::clock::rfc3339(t.seconds)),
    }
}

/// A pinned revision in use for this run (`--repo`/`--ref`): its directory plays the
/// repository root.
struct Pinned {
    root: PathBuf,
    /// Where relative paths start: the root, or the subdirectory the user is in.
    base: PathBuf,
    revision: Revision,
}

static PINNED: OnceLock<Pinned> = OnceLock::new();

/// Roots of the revisions written to temporary directories in this run, so that messages show
/// paths relative to them rather than the temporary directory.
static SNAPSHOT_ROOTS: std::sync::Mutex<Vec<PathBuf>> = std::sync::Mutex::new(Vec::new());

fn remember_snapshot(root: &Path) {
    if let Ok(mut roots) = SNAPSHOT_ROOTS.lock() {
        roots.push(root.to_path_buf());
    }
}

/// `path` relative to the root of the snapshot holding it, if one does.
pub fn within_snapshot(path: &Path) -> Option<PathBuf> {
    let roots = SNAPSHOT_ROOTS.lock().ok()?;
    roots
        .iter()
        .find_map(|root| path.strip_prefix(root).ok().map(Path::to_path_buf))
}

/// Makes `snapshot` the source of every target of this run, relative paths starting in its
/// `subdirectory`. Keep the snapshot alive until the run ends (dropping it removes the
/// directory).
pub fn pin(snapshot: &Snapshot, subdirectory: &Path) {
    let _ = PINNED.set(Pinned {
        root: snapshot.root.clone(),
        base: snapshot.root.join(subdirectory),
        revision: snapshot.revision.clone(),
    });
}

/// The directory relative PATH arguments and gitops.yaml are read from: the pinned revision's
/// root, else the current directory.
pub fn base_dir() -> PathBuf {
    match PINNED.get() {
        Some(pinned) => pinned.base.clone(),
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from(".")),
    }
}

/// Whether a source is pinned (then there is no working tree to compare with).
pub fn is_pinned() -> bool {
    PINNED.get().is_some()
}

/// The working-tree root of the Git repository containing `path`, if any (the pinned
/// revision's root for paths inside it).
pub fn repository_root(path: &Path) -> Option<PathBuf> {
    if let Some(pinned) = PINNED.get() {
        if path.starts_with(&pinned.root) {
            return Some(pinned.root.clone());
        }
    }
    local::repository_root(path)
}

/// The revision `path` is rendered from: the pinned one, else HEAD of its repository (with
/// the dirty flag); None outside Git.
pub fn revision_of(path: &Path) -> Option<Revision> {
    if let Some(pinned) = PINNED.get() {
        if path.starts_with(&pinned.root) || !path.is_absolute() {
            return Some(pinned.revision.clone());
        }
    }
    local::head_revision(path)
}

/// The commit checked out in the repository holding `path`, or "unknown" outside Git.
pub fn revision(path: &Path) -> String {
    revision_of(path).map_or_else(|| "unknown".to_owned(), |r| r.label())
}
