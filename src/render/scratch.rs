//! A memory-backed copy of what a kustomization reads, with its SOPS files decrypted, so that
//! kustomize builds (and its secretGenerators hash) the plaintext. The copy lives in /dev/shm
//! (never on a disk), only this user can read it, and it is removed when the build is done, on
//! errors, and on SIGINT/SIGTERM (docs/secrets.md).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, Once};

use super::sops::{self, SopsError};
use super::{display_path, RenderError};

/// Where memory-backed temporary files go.
const MEMORY: &str = "/dev/shm";

/// Copies alive now, removed by the signal guard if the process is stopped.
static LIVE: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
static GUARD: Once = Once::new();
/// Set while a command handles SIGINT/SIGTERM itself (apply hands its lease back first).
static HANDLED_ELSEWHERE: AtomicBool = AtomicBool::new(false);

/// Says that the caller handles SIGINT/SIGTERM from now on (true) or no longer (false).
pub fn signals_handled_elsewhere(yes: bool) {
    HANDLED_ELSEWHERE.store(yes, Ordering::SeqCst);
}

pub struct Scratch {
    dir: Option<tempfile::TempDir>,
    /// The copy's root, and the directory it stands for.
    root: PathBuf,
    source_root: PathBuf,
}

impl Scratch {
    /// Copies `inputs` (canonical files and directories) under their common directory and
    /// decrypts `encrypted` in the copy.
    pub fn build(inputs: &[PathBuf], encrypted: &[PathBuf]) -> Result<Scratch, RenderError> {
        let unsupported = |message: String| {
            RenderError::Sops(SopsError::Unsupported {
                file: display_path(&encrypted[0]),
                message,
            })
        };
        if !Path::new(MEMORY).is_dir() {
            return Err(unsupported(format!(
                "encrypted and read by a kustomization: gitops decrypts such files into memory-backed storage ({MEMORY}), which this system does not have"
            )));
        }
        let source_root = common_directory(inputs);
        // Listening before the copy exists: a signal from now on removes it.
        guard();
        let dir = tempfile::Builder::new()
            .prefix("gitops-sops-")
            .tempdir_in(MEMORY)
            .map_err(|e| {
                unsupported(format!(
                    "cannot make a memory-backed directory in {MEMORY}: {e}"
                ))
            })?;
        guard();
        let root = dir.path().to_path_buf();
        if let Ok(mut live) = LIVE.lock() {
            live.push(root.clone());
        }
        let scratch = Scratch {
            dir: Some(dir),
            root,
            source_root,
        };
        for input in inputs {
            let copy = scratch.path_of(input);
            copy_tree(input, &copy).map_err(|e| super::io_error(input, &e))?;
        }
        for file in encrypted {
            let text = std::fs::read_to_string(file).map_err(|e| super::io_error(file, &e))?;
            let plaintext = sops::decrypt(file, &text)?;
            std::fs::write(scratch.path_of(file), plaintext)
                .map_err(|e| super::io_error(file, &e))?;
        }
        Ok(scratch)
    }

    /// Where `path` (under the source root) is in the copy.
    pub fn path_of(&self, path: &Path) -> PathBuf {
        match path.strip_prefix(&self.source_root) {
            Ok(relative) => self.root.join(relative),
            Err(_) => path.to_path_buf(),
        }
    }

    /// `text` with the copy's location replaced by the real one: messages never show it.
    pub fn real_text(&self, text: &str) -> String {
        text.replace(
            &self.root.display().to_string(),
            &self.source_root.display().to_string(),
        )
    }

    /// The real path of a path in the copy.
    pub fn real_path(&self, path: &Path) -> PathBuf {
        match path.strip_prefix(&self.root) {
            Ok(relative) => self.source_root.join(relative),
            Err(_) => path.to_path_buf(),
        }
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        if let Ok(mut live) = LIVE.lock() {
            live.retain(|p| p != &self.root);
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }
}

/// The deepest directory holding every input.
fn common_directory(inputs: &[PathBuf]) -> PathBuf {
    let dir_of = |p: &PathBuf| {
        if p.is_dir() {
            p.clone()
        } else {
            p.parent().map(Path::to_path_buf).unwrap_or_default()
        }
    };
    let mut common = inputs.first().map(dir_of).unwrap_or_default();
    for input in inputs.iter().skip(1) {
        while !input.starts_with(&common) {
            match common.parent() {
                Some(parent) => common = parent.to_path_buf(),
                None => break,
            }
        }
    }
    common
}

/// Copies a file, or a directory with everything in it (links followed).
fn copy_tree(from: &Path, to: &Path) -> std::io::Result<()> {
    if from.is_dir() {
        std::fs::create_dir_all(to)?;
        for entry in std::fs::read_dir(from)? {
            let entry = entry?;
            copy_tree(&entry.path(), &to.join(entry.file_name()))?;
        }
        Ok(())
    } else {
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::copy(from, to).map(|_| ())
    }
}

/// Once: a thread that, on SIGINT or SIGTERM, removes the live copies and ends the process as
/// the signal would have (unless a command handles the signal itself; then it only removes
/// them, and the command's own handling goes on).
fn guard() {
    GUARD.call_once(|| {
        let (listening, ready) = std::sync::mpsc::channel::<()>();
        let spawned = std::thread::Builder::new()
            .name("scratch-guard".into())
            .spawn(move || {
                let Ok(runtime) = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                else {
                    return;
                };
                runtime.block_on(async {
                    use tokio::signal::unix::{signal, SignalKind};
                    let (Ok(mut interrupt), Ok(mut terminate)) = (
                        signal(SignalKind::interrupt()),
                        signal(SignalKind::terminate()),
                    ) else {
                        return;
                    };
                    let _ = listening.send(());
                    loop {
                        let code = tokio::select! {
                            _ = interrupt.recv() => 130,
                            _ = terminate.recv() => 143,
                        };
                        if let Ok(mut live) = LIVE.lock() {
                            for dir in live.drain(..) {
                                let _ = std::fs::remove_dir_all(dir);
                            }
                        }
                        if !HANDLED_ELSEWHERE.load(Ordering::SeqCst) {
                            std::process::exit(code);
                        }
                    }
                });
            });
        // Wait until the handlers are in place (or the thread gave up: then `ready` closes).
        if spawned.is_ok() {
            let _ = ready.recv();
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_directory_holds_every_input() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        for d in ["a/base", "a/overlays/prod", "shared"] {
            std::fs::create_dir_all(root.join(d)).unwrap();
        }
        std::fs::write(root.join("shared/x.env"), "A=1\n").unwrap();
        let inputs = vec![root.join("a/overlays/prod"), root.join("a/base")];
        assert_eq!(common_directory(&inputs), root.join("a"));
        let inputs = vec![root.join("a/overlays/prod"), root.join("shared/x.env")];
        assert_eq!(common_directory(&inputs), root);
    }
}
