//! `gitops promote A B`: make B's source run A's images. Default: print the edits as a unified
//! diff, change nothing (exit 2 when there is something to promote, 0 when B already matches);
//! `--write` writes them; `--commit` also commits them on a new branch.

use std::path::{Path, PathBuf};

use similar::TextDiff;

use super::compare::render_sides;
use crate::cli::{GlobalArgs, OutputFormat, PromoteArgs};
use crate::exit::{Exit, UsageError};
use crate::promote::{self, Destination, FileEdit, Origin, Promotion};
use crate::render::Source;
use crate::{log, source, target};

pub fn run(global: &GlobalArgs, args: &PromoteArgs) -> anyhow::Result<Exit> {
    if global.output != OutputFormat::Text {
        return Err(UsageError(
            "promote prints a unified diff of the files it edits; it has no -o json or markdown"
                .into(),
        )
        .into());
    }
    if args.b.contains('@') {
        return Err(UsageError(format!(
            "B is edited, so it cannot be a past revision ({}): name a target or a PATH",
            args.b
        ))
        .into());
    }
    let sides = render_sides(global, &args.a, &args.b)?;
    let b_target = &sides.resolved[1].target;
    let Source::Path(b_path) = &b_target.source else {
        return Err(UsageError(
            "B is read from stdin: promote edits files; name a target or a PATH".into(),
        )
        .into());
    };
    let config = target::load_config(global.config.as_deref())?;
    let mapping = config
        .as_ref()
        .and_then(|c| c.target(&args.b))
        .and_then(|t| t.promote.clone())
        .map(|p| p.images)
        .unwrap_or_default();
    let kind = crate::render::detect(b_path)?;
    let promotion = promote::plan(
        &Origin {
            name: &args.a,
            manifests: &sides.manifests[0],
            default_namespace: &sides.resolved[0].namespace,
        },
        &Destination {
            name: &args.b,
            kind,
            path: b_path,
            values: &b_target.helm.values,
            mapping: &mapping,
            manifests: &sides.manifests[1],
            default_namespace: &sides.resolved[1].namespace,
        },
        &args.images,
    )?;
    let root = source::repository_root(b_path).unwrap_or_else(source::base_dir);
    let root = root.canonicalize().unwrap_or(root);
    inside(&root, &promotion.edits)?;
    if promotion.moves.is_empty() {
        log::info(&format!(
            "{} already runs {}'s images: nothing to promote",
            args.b, args.a
        ));
        return Ok(Exit::Success);
    }
    log::info(&format!(
        "promote {} to {}:\n{}",
        args.a,
        args.b,
        log::bullets(
            &promotion
                .moves
                .iter()
                .map(|m| format!("{} ({})", m.line(), m.workload))
                .collect::<Vec<_>>()
        )
    ));
    let patch: String = promotion.edits.iter().map(|e| unified(&root, e)).collect();
    crate::report::write_stdout(&patch)?;
    if !args.write && !args.commit {
        return Ok(Exit::Changes);
    }
    // The branch is checked before anything is written: a refusal leaves the tree as it was.
    let branch = match args.commit {
        true => {
            let revision = sides.revisions[0]
                .clone()
                .or_else(|| source::revision_of(&root).map(|r| r.commit))
                .unwrap_or_default();
            let branch = branch_name(&args.a, &args.b, &revision);
            if source::branch_exists(&root, &branch)? {
                anyhow::bail!(
                    "not written: branch {branch} exists already (an earlier promotion of this revision); delete it (`git branch -D {branch}`) or merge it first"
                );
            }
            Some(branch)
        }
        false => None,
    };
    if !args.force {
        let dirty: Vec<String> = promotion
            .edits
            .iter()
            .filter(|e| source::differs_from_head(&e.file).unwrap_or(false))
            .map(|e| relative(&root, &e.file))
            .collect();
        if !dirty.is_empty() {
            anyhow::bail!(
                "not written: {} ha{} uncommitted changes; commit or stash them, or pass --force to edit {} anyway",
                dirty.join(", "),
                if dirty.len() == 1 { "s" } else { "ve" },
                if dirty.len() == 1 { "it" } else { "them" }
            );
        }
    }
    for edit in &promotion.edits {
        std::fs::write(&edit.file, &edit.after)
            .map_err(|e| anyhow::anyhow!("writing {}: {e}", edit.file.display()))?;
    }
    log::info(&format!("wrote {} file(s)", promotion.edits.len()));
    if let Some(branch) = branch {
        let files: Vec<PathBuf> = promotion.edits.iter().map(|e| e.file.clone()).collect();
        let commit = source::commit_on_new_branch(
            &root,
            &branch,
            &files,
            &message(&args.a, &args.b, &promotion),
        )?;
        log::info(&format!(
            "committed {} on branch {branch}: push it and open a pull request",
            &commit[..commit.len().min(12)]
        ));
    }
    Ok(Exit::Success)
}

/// Every edited file is inside the repository (or, outside Git, the current directory).
fn inside(root: &Path, edits: &[FileEdit]) -> anyhow::Result<()> {
    for edit in edits {
        let file = edit
            .file
            .canonicalize()
            .unwrap_or_else(|_| edit.file.clone());
        if !file.starts_with(root) {
            anyhow::bail!(
                "{} is outside the repository {}: promote never writes there",
                edit.file.display(),
                root.display()
            );
        }
    }
    Ok(())
}

fn relative(root: &Path, file: &Path) -> String {
    let file = file.canonicalize().unwrap_or_else(|_| file.to_path_buf());
    file.strip_prefix(root)
        .unwrap_or(&file)
        .display()
        .to_string()
}

/// `git apply`-able unified diff of one file.
fn unified(root: &Path, edit: &FileEdit) -> String {
    let name = relative(root, &edit.file);
    TextDiff::from_lines(&edit.before, &edit.after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{name}"), &format!("b/{name}"))
        .to_string()
}

/// `promote/staging-to-production-1a2b3c4`
fn branch_name(a: &str, b: &str, revision: &str) -> String {
    let clean = |s: &str| -> String {
        s.chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '.' || c == '_' || c == '-' {
                    c
                } else {
                    '-'
                }
            })
            .collect()
    };
    let short = &revision[..revision.len().min(7)];
    format!("promote/{}-to-{}-{}", clean(a), clean(b), clean(short))
}

/// Subject, then one line per move: `web: 1.4.2 -> 1.5.0`.
fn message(a: &str, b: &str, promotion: &Promotion) -> String {
    let mut lines: Vec<String> = Vec::new();
    for m in &promotion.moves {
        let line = m.line();
        if !lines.contains(&line) {
            lines.push(line);
        }
    }
    format!("Promote {a} to {b}\n\n{}\n", lines.join("\n"))
}
