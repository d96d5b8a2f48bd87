//! Writes the tree of one commit into a directory, without touching any working tree: how
//! `rollback` and `--ref` read a past revision.

use std::path::Path;

use gix::bstr::ByteSlice;
use gix::objs::tree::EntryKind;

use super::SourceError;

/// Writes every file of `commit`'s tree under `dest` (symbolic links as links; submodules,
/// which have no content here, are skipped).
pub fn write_tree(
    repo: &gix::Repository,
    commit: gix::ObjectId,
    dest: &Path,
) -> Result<(), SourceError> {
    let failed = |what: String| SourceError::Checkout {
        revision: commit.to_string(),
        reason: what,
    };
    let tree = repo
        .find_commit(commit)
        .and_then(|c| c.tree())
        .map_err(|e| failed(e.to_string()))?;
    let mut recorder = gix::traverse::tree::Recorder::default();
    tree.traverse()
        .breadthfirst(&mut recorder)
        .map_err(|e| failed(e.to_string()))?;
    for entry in recorder.records {
        let relative = entry
            .filepath
            .to_path()
            .map_err(|_| failed(format!("path {:?} is not valid UTF-8", entry.filepath)))?;
        // Git never stores `..` or absolute paths, but a crafted repository could.
        if relative
            .components()
            .any(|c| !matches!(c, std::path::Component::Normal(_)))
        {
            return Err(failed(format!("refusing path {}", relative.display())));
        }
        let path = dest.join(relative);
        let io = |e: std::io::Error| failed(format!("{}: {e}", path.display()));
        match entry.mode.kind() {
            EntryKind::Tree => std::fs::create_dir_all(&path).map_err(io)?,
            EntryKind::Blob | EntryKind::BlobExecutable => {
                let blob = repo
                    .find_blob(entry.oid)
                    .map_err(|e| failed(e.to_string()))?;
                std::fs::write(&path, &blob.data).map_err(io)?;
            }
            EntryKind::Link => {
                let blob = repo
                    .find_blob(entry.oid)
                    .map_err(|e| failed(e.to_string()))?;
                let target = blob
                    .data
                    .to_path()
                    .map_err(|_| failed(format!("link {} is not valid UTF-8", path.display())))?
                    .to_path_buf();
                std::os::unix::fs::symlink(target, &path).map_err(io)?;
            }
            EntryKind::Commit => {}
        }
    }
    Ok(())
}
