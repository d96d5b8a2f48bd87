//! `gitops rollback [--to REV]`: the target as it was at a past revision, read from Git without
//! touching the working tree, applied like `gitops apply` and recorded as a rollback.

use std::path::Path;

use anyhow::Context;

use super::apply;
use super::planning::{chart_capabilities, Rendered, RenderedTarget};
use super::render::render_target;
use super::status::{read_inventories, runtime};
use crate::cli::{GlobalArgs, RollbackArgs};
use crate::exit::{Exit, UsageError};
use crate::inventory::{History, Inventory, SourceRecord};
use crate::render::Source;
use crate::source::{self, Snapshot};
use crate::target::{self, Target};

pub fn run(global: &GlobalArgs, args: &RollbackArgs) -> anyhow::Result<Exit> {
    if global.reference.is_some() {
        return Err(
            UsageError("rollback takes the revision with --to REV, not --ref".into()).into(),
        );
    }
    let flags = apply::run_flags(global, &args.flags);
    let found = read_inventories(&runtime()?, global, &flags)?;
    // Every target is read from Git and rendered before anything is written; the snapshots
    // live until the run ends.
    let mut snapshots: Vec<Snapshot> = Vec::with_capacity(found.len());
    let mut targets = Vec::with_capacity(found.len());
    for (applied, _) in found {
        let name = applied.resolved.name().to_owned();
        let Some(inventory) = applied.inventory else {
            let at = &applied.resolved.inventory;
            anyhow::bail!(
                "target {name}: no inventory {}/{} in the cluster, so nothing to roll back (was it ever applied with this namespace and context?)",
                at.namespace,
                at.name
            );
        };
        let revision = match &args.to {
            Some(rev) => rev.clone(),
            None => previous_success(&name, &inventory, &applied.history)?,
        };
        let recorded = recorded_source(&name, inventory.source)?;
        let location = repository_location(global, &recorded)?;
        let snapshot = source::snapshot(&location, Some(&revision))
            .with_context(|| format!("target {name}: reading revision {revision}"))?;
        let current = &applied.resolved.target;
        let target = match target_at_revision(&snapshot, &recorded, &name)? {
            Some(target) => target,
            None => {
                let path = snapshot.root.join(&recorded.path);
                if !path.exists() {
                    anyhow::bail!(
                        "target {}: {} does not exist at revision {revision} ({}); choose another revision with --to",
                        name,
                        recorded.path,
                        snapshot.revision.commit
                    );
                }
                Target {
                    name: name.clone(),
                    source: Source::Path(path),
                    namespace: recorded.namespace.clone(),
                    context: None,
                    kubeconfig: None,
                    files: current.files.clone(),
                    prune: current.prune,
                    timeout: current.timeout,
                    create_namespace: recorded.create_namespace,
                    helm: recorded.helm.clone().unwrap_or_default(),
                    config_file: None,
                    derived_name: false,
                    history_limit: current.history_limit,
                    depends_on: current.depends_on.clone(),
                }
            }
        };
        let target = Target {
            // Records are kept as the target says now, not as the revision said.
            history_limit: current.history_limit,
            ..target
        };
        let target = applied.resolved.at_revision(target, recorded, &flags);
        crate::log::info(&format!(
            "target {}: rolling back to {} ({})",
            target.name(),
            snapshot.revision.commit,
            snapshot.revision.subject.as_deref().unwrap_or("no subject")
        ));
        let capabilities = chart_capabilities(&target)?;
        let (manifests, hooks) = render_target(&target, capabilities.as_ref())?;
        targets.push(RenderedTarget {
            target,
            manifests,
            hooks,
            revision: Some(snapshot.revision.clone()),
        });
        snapshots.push(snapshot);
    }
    let config = target::load_config(global.config.as_deref())?;
    let rendered = Rendered {
        targets,
        ignore: target::ignore_rules(config.as_ref()),
    };
    apply::execute(global, &args.flags, rendered, "rollback")
}

/// The target as gitops.yaml defined it at the revision, when the inventory recorded which
/// gitops.yaml defined it and that file still defines a target of that name there.
fn target_at_revision(
    snapshot: &Snapshot,
    recorded: &SourceRecord,
    name: &str,
) -> anyhow::Result<Option<Target>> {
    let Some(config) = &recorded.config else {
        return Ok(None);
    };
    let file = snapshot.root.join(config);
    if !file.is_file() {
        return Ok(None);
    }
    let config = crate::config::Config::load(&file)
        .with_context(|| format!("target {name}: reading {} at the revision", config))?;
    match config.target(name) {
        Some(spec) => Ok(Some(target::config_target(&config, spec)?)),
        None => Ok(None),
    }
}

/// The newest successful apply whose revision differs from the deployed one.
fn previous_success(
    target: &str,
    inventory: &Inventory,
    history: &History,
) -> anyhow::Result<String> {
    let current = inventory.revision.as_str();
    history
        .records
        .iter()
        .rev()
        .filter(|e| e.result == "succeeded" && e.revision != current)
        // A dirty or unknown revision cannot be read back from Git.
        .find(|e| is_commit(&e.revision))
        .map(|e| e.revision.clone())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "target {target}: the history has no successful apply of a committed revision other than the deployed one ({current}); name one with --to REV"
            )
        })
}

fn is_commit(revision: &str) -> bool {
    revision.len() == 40 && revision.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Where the target came from, as the inventory recorded it, if it can be rolled back.
fn recorded_source(target: &str, recorded: Option<SourceRecord>) -> anyhow::Result<SourceRecord> {
    let Some(recorded) = recorded.filter(|r| !r.path.is_empty()) else {
        anyhow::bail!(
            "target {target}: the inventory does not record where the target came from (applied by an older gitops?); apply it once, then roll back"
        );
    };
    if !recorded.in_repository {
        anyhow::bail!(
            "target {target} was applied from {}, outside a Git repository: there is no revision to roll back to",
            recorded.path
        );
    }
    Ok(recorded)
}

/// The repository to read past revisions from: `--repo`, else the one holding the current
/// directory, else the URL the target was applied from.
fn repository_location(global: &GlobalArgs, recorded: &SourceRecord) -> anyhow::Result<String> {
    if let Some(url) = &global.repo {
        return Ok(url.clone());
    }
    let cwd = std::env::current_dir()?;
    if let Some(root) = source::repository_root(&cwd) {
        return Ok(root.display().to_string());
    }
    match &recorded.repo {
        Some(url) => Ok(url.clone()),
        None => anyhow::bail!(
            "rollback reads past revisions from Git, but {} is not in a Git repository: run it inside the repository, or pass --repo URL",
            display(&cwd)
        ),
    }
}

fn display(path: &Path) -> String {
    path.display().to_string()
}
