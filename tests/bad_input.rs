//! Bad input: every case exits 1 with a message naming the file and line (or the object),
//! never panics, and writes nothing to the cluster. The corpus is `fixtures/bad/` (one
//! directory per case, see its README) plus cases generated here (a 50 MB document, symbolic
//! links, stdin).

mod common;

use common::cli::{fixture, Gitops};

#[test]
fn a_kustomize_failure_names_the_command_that_ran() {
    // No kustomize binary: gitops falls back to `kubectl kustomize` and must say so.
    let bin = tempfile::tempdir().unwrap();
    let kubectl = which("kubectl");
    std::os::unix::fs::symlink(&kubectl, bin.path().join("kubectl")).unwrap();
    let run = Gitops::new(["render", "."])
        .current_dir(fixture("bad/kustomize-missing-resource"))
        .env("PATH", bin.path())
        .run();
    run.expect_code(1);
    assert!(
        run.stderr.contains("kubectl kustomize . failed (exit code 1)"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("kustomize kustomize"), "{}", run.stderr);
}

/// The first `name` on PATH.
fn which(name: &str) -> std::path::PathBuf {
    std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("{name} is not on PATH"))
}
