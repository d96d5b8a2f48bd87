//! `gitops init`: finds what a repository can deploy and writes gitops.yaml (and, with `--ci`,
//! the CI files) proposing one target per deployable directory. Never overwrites a file without
//! `--force`; `--dry-run` prints what it would write.

use std::path::PathBuf;

use crate::cli::{CiSystem, GlobalArgs, InitArgs};
use crate::exit::Exit;
use crate::{init, log, source};

/// The GitHub workflows, with the action referenced at the released version.
const GITHUB_WORKFLOWS: &[(&str, &str)] = &[
    (
        "gitops-pull-request.yml",
        include_str!("../../ci-templates/github/workflows/gitops-pull-request.yml"),
    ),
    (
        "gitops-apply.yml",
        include_str!("../../ci-templates/github/workflows/gitops-apply.yml"),
    ),
    (
        "gitops-drift.yml",
        include_str!("../../ci-templates/github/workflows/gitops-drift.yml"),
    ),
];

pub fn run(_global: &GlobalArgs, args: &InitArgs) -> anyhow::Result<Exit> {
    let cwd = source::base_dir();
    let Some(root) = source::repository_root(&cwd) else {
        anyhow::bail!(
            "{} is not in a Git repository: run gitops init inside the repository that holds your manifests (`git init` first for a new one)",
            cwd.display()
        );
    };
    let repository = root.file_name().map_or_else(
        || "repository".to_owned(),
        |n| n.to_string_lossy().into_owned(),
    );
    let (found, notes) = init::discover(&root);
    for note in &notes {
        // What could not be read is said; what was left out on purpose only with -v.
        if note.contains("cannot be read") {
            log::warn(note);
        } else {
            log::verbose(note);
        }
    }
    if found.is_empty() {
        anyhow::bail!(
            "nothing deployable found in {}: no kustomization, Helm chart or directory of Kubernetes manifests (hidden directories, node_modules, vendor, target and test data are not searched)",
            root.display()
        );
    }
    let proposal = init::propose(&found, &repository);
    for note in &proposal.notes {
        log::warn(note);
    }
    let mut files: Vec<(PathBuf, String)> = vec![(
        root.join(crate::names::CONFIG_FILE_NAME),
        init::gitops_yaml(&proposal),
    )];
    let names: Vec<&str> = proposal.targets.iter().map(|t| t.name.as_str()).collect();
    match args.ci {
        Some(CiSystem::Github) => {
            let action = format!(
                "gitops-dev/gitops/ci-templates/github@v{}",
                env!("CARGO_PKG_VERSION")
            );
            for (file, text) in GITHUB_WORKFLOWS {
                files.push((
                    root.join(".github/workflows").join(file),
                    text.replace("./ci-templates/github", &action),
                ));
            }
        }
        Some(CiSystem::Gitlab) => files.push((root.join(".gitlab-ci.yml"), gitlab_ci(&names))),
        None => {}
    }
    if !args.force && !args.dry_run {
        if let Some((existing, _)) = files.iter().find(|(file, _)| file.exists()) {
            anyhow::bail!(
                "{} exists and was not changed: pass --force to replace it, or --dry-run to see what init would write",
                existing.display()
            );
        }
    }
    if args.dry_run {
        let mut out = String::new();
        for (file, text) in &files {
            out.push_str(&format!("# --- {}\n{text}", relative(&root, file)));
        }
        crate::report::write_stdout(&out)?;
        return Ok(Exit::Success);
    }
    for (file, text) in &files {
        if let Some(parent) = file.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(file, text)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", file.display()))?;
    }
    let listed: Vec<String> = proposal
        .targets
        .iter()
        .map(|t| format!("{} ({})", t.name, t.path))
        .collect();
    let written: Vec<String> = files.iter().map(|(f, _)| relative(&root, f)).collect();
    log::info(&format!(
        "wrote {} with {} target(s):\n{}\nnext: review it, then run `gitops diff` (or `gitops render --target NAME` to see what a target renders)",
        written.join(", "),
        proposal.targets.len(),
        crate::log::bullets(&listed)
    ));
    Ok(Exit::Success)
}

fn relative(root: &std::path::Path, file: &std::path::Path) -> String {
    file.strip_prefix(root)
        .unwrap_or(file)
        .display()
        .to_string()
}

/// A .gitlab-ci.yml that includes the template for the targets.
fn gitlab_ci(targets: &[&str]) -> String {
    let list = targets.join(", ");
    let version = env!("CARGO_PKG_VERSION");
    format!(
        "# gitops: plan on merge requests, apply on the default branch, drift on schedules.\n# See https://github.com/gitops-dev/gitops/blob/v{version}/docs/ci.md\ninclude:\n  - remote: https://raw.githubusercontent.com/gitops-dev/gitops/v{version}/ci-templates/gitlab/gitops.gitlab-ci.yml\n\nstages: [test, deploy]\n\nplan:\n  extends: .gitops-diff\n  parallel:\n    matrix:\n      - GITOPS_TARGET: [{list}]\n\napply:\n  extends: .gitops-apply\n  parallel:\n    matrix:\n      - GITOPS_TARGET: [{list}]\n\napply-destructive:\n  extends: .gitops-apply-destructive\n  needs: [apply]\n  parallel:\n    matrix:\n      - GITOPS_TARGET: [{list}]\n\ndrift:\n  extends: .gitops-drift\n  parallel:\n    matrix:\n      - GITOPS_TARGET: [{list}]\n"
    )
}
