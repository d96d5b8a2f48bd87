//! Targets: what a run renders, from a PATH argument or from gitops.yaml, and their names.
//!
//! The name of a target names its inventory (SPEC.md, Commands): `--name` for a PATH, else the
//! target's name in gitops.yaml, else the PATH relative to the repository root with `/` → `-`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::config::{self, Config, IgnoreRule};
use crate::exit::UsageError;
use crate::names::{invalid_dns_label, inventory_name};
use crate::render::glob::FileFilter;
use crate::render::{HelmSettings, Source};
use crate::source;

/// One unit of rendering, planning and inventory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Target {
    pub name: String,
    pub source: Source,
    pub namespace: Option<String>,
    pub context: Option<String>,
    /// The target's own kubeconfig (gitops.yaml `kubeconfig`).
    pub kubeconfig: Option<PathBuf>,
    /// The files a plain directory target reads (gitops.yaml `include` / `exclude`).
    pub files: FileFilter,
    pub prune: bool,
    pub timeout: Option<Duration>,
    pub create_namespace: bool,
    pub helm: HelmSettings,
    /// The gitops.yaml that defines the target (None for a PATH).
    pub config_file: Option<PathBuf>,
    /// The name was worked out from PATH (no `--name`): two directories can come to the same
    /// name (`apps/shop`, `apps-shop`), so the inventory must have been written for this one.
    pub derived_name: bool,
    /// History records kept (gitops.yaml `history.limit`).
    pub history_limit: usize,
    /// Targets of the same gitops.yaml applied (and healthy) before this one (`dependsOn`).
    pub depends_on: Vec<String>,
}

/// The target-selecting flags of one run.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    pub path: Option<String>,
    pub targets: Vec<String>,
    pub name: Option<String>,
}

/// Where gitops.yaml is: `--config`; else the nearest gitops.yaml from the current directory up
/// to the root of its Git repository (so the root's file serves the whole repository, and a
/// subdirectory may hold its own); outside Git, the current directory's.
pub fn config_file(explicit: Option<&Path>) -> PathBuf {
    if let Some(file) = explicit {
        // With --repo/--ref, a relative --config names a file of that revision.
        return if source::is_pinned() && file.is_relative() {
            source::base_dir().join(file)
        } else {
            file.to_path_buf()
        };
    }
    let cwd = source::base_dir();
    let Some(root) = source::repository_root(&cwd) else {
        return cwd.join(crate::names::CONFIG_FILE_NAME);
    };
    let cwd = cwd.canonicalize().unwrap_or(cwd);
    cwd.ancestors()
        .take_while(|dir| dir.starts_with(&root))
        .map(|dir| dir.join(crate::names::CONFIG_FILE_NAME))
        .find(|file| file.is_file())
        .unwrap_or_else(|| root.join(crate::names::CONFIG_FILE_NAME))
}

/// Loads gitops.yaml when it exists (or fails when `--config` names a missing file).
pub fn load_config(explicit: Option<&Path>) -> anyhow::Result<Option<Config>> {
    let file = config_file(explicit);
    if explicit.is_none() && !file.exists() {
        return Ok(None);
    }
    Ok(Some(Config::load(&file)?))
}

/// The targets a run works on.
pub fn select(selection: &Selection, config: Option<&Config>) -> anyhow::Result<Vec<Target>> {
    if let Some(path) = &selection.path {
        if !selection.targets.is_empty() {
            return Err(UsageError(
                "--target selects targets of gitops.yaml and cannot be combined with a PATH; use --name to name a PATH's target".into(),
            )
            .into());
        }
        let mut target = path_target(path, selection.name.as_deref())?;
        if let Some(config) = config {
            target.history_limit = config.history_limit(None);
        }
        return Ok(vec![target]);
    }
    if selection.name.is_some() {
        return Err(UsageError(
            "--name names the target of a PATH; without PATH, select targets of gitops.yaml with --target".into(),
        )
        .into());
    }
    let Some(config) = config else {
        anyhow::bail!(
            "no PATH given and no gitops.yaml found (looked for {}): pass a PATH, or create gitops.yaml with your targets",
            config_file(None).display()
        );
    };
    if config.content.targets.is_empty() {
        anyhow::bail!(
            "{} defines no targets: add one under `targets:`, or pass a PATH",
            config.file.display()
        );
    }
    for wanted in &selection.targets {
        if config.target(wanted).is_none() {
            anyhow::bail!(
                "{}: no target named {wanted:?} (targets: {})",
                config.file.display(),
                config.target_names().join(", ")
            );
        }
    }
    let chosen = config
        .content
        .targets
        .iter()
        .filter(|t| selection.targets.is_empty() || selection.targets.contains(&t.name));
    chosen.map(|t| config_target(config, t)).collect()
}

/// The targets whose inventories `status`, `history` and `rollback` read: `--name NAME`, else
/// the targets of gitops.yaml (`--target` selects some).
pub fn select_applied(
    selection: &Selection,
    config: Option<&Config>,
) -> anyhow::Result<Vec<Target>> {
    match &selection.name {
        Some(name) => {
            if let Some(why) = invalid_dns_label(name) {
                return Err(UsageError(format!("--name {name:?} is invalid: it {why}")).into());
            }
            if let Some((config, spec)) = config.and_then(|c| Some((c, c.target(name)?))) {
                return Ok(vec![config_target(config, spec)?]);
            }
            let mut target = path_target(".", Some(name))?;
            if let Some(config) = config {
                target.history_limit = config.history_limit(None);
            }
            Ok(vec![target])
        }
        None => select(
            &Selection {
                path: None,
                ..selection.clone()
            },
            config,
        ),
    }
}

pub fn config_target(config: &Config, spec: &config::TargetConfig) -> anyhow::Result<Target> {
    let helm = spec.helm.clone().unwrap_or_default();
    let set = config::helm_set_values(&helm)
        .map_err(|e| anyhow::anyhow!("target {:?}: helm.set {e}", spec.name))?;
    let timeout = spec
        .timeout
        .as_deref()
        .map(crate::clock::parse_duration)
        .transpose()
        .map_err(|e| anyhow::anyhow!("target {:?}: timeout {e}", spec.name))?;
    Ok(Target {
        name: spec.name.clone(),
        source: Source::Path(config.dir.join(&spec.path)),
        namespace: spec.namespace.clone(),
        context: spec.context.clone(),
        kubeconfig: spec
            .kubeconfig
            .as_deref()
            .map(|k| config_relative(config, k)),
        files: FileFilter {
            include: spec.include.clone(),
            exclude: spec.exclude.clone(),
        },
        prune: spec.prune.unwrap_or(true),
        timeout,
        create_namespace: spec.create_namespace.unwrap_or(false),
        helm: HelmSettings {
            release_name: helm.release_name,
            values: helm.values,
            set,
        },
        config_file: Some(config.file.clone()),
        derived_name: false,
        history_limit: config.history_limit(Some(spec)),
        depends_on: spec.depends_on.clone(),
    })
}

/// A path gitops.yaml names: `~/` from the home directory, else relative to the file.
fn config_relative(config: &Config, path: &str) -> PathBuf {
    match (path.strip_prefix("~/"), std::env::var_os("HOME")) {
        (Some(rest), Some(home)) => PathBuf::from(home).join(rest),
        _ => config.dir.join(path),
    }
}

fn path_target(path: &str, name: Option<&str>) -> anyhow::Result<Target> {
    let derived_name = name.is_none() && path != "-";
    let (source, name) = if path == "-" {
        (Source::Stdin, name.unwrap_or("stdin").to_owned())
    } else {
        let path = if source::is_pinned() {
            source::base_dir().join(path)
        } else {
            PathBuf::from(path)
        };
        let name = match name {
            Some(name) => name.to_owned(),
            None => name_for_path(&path),
        };
        (Source::Path(path), name)
    };
    if let Some(why) = invalid_dns_label(&name) {
        return Err(UsageError(format!(
            "--name {name:?} is invalid: it names the target's inventory, so it {why}"
        ))
        .into());
    }
    Ok(Target {
        name,
        source,
        namespace: None,
        context: None,
        kubeconfig: None,
        files: FileFilter::default(),
        prune: true,
        timeout: None,
        create_namespace: false,
        helm: HelmSettings::default(),
        config_file: None,
        derived_name,
        history_limit: config::HISTORY_DEFAULT_LIMIT,
        depends_on: Vec::new(),
    })
}

/// PATH relative to its repository root (outside Git: to the current directory), `/` → `-`.
pub fn name_for_path(path: &Path) -> String {
    let absolute = path
        .canonicalize()
        .unwrap_or_else(|_| source::base_dir().join(path));
    let base =
        source::repository_root(&absolute).or_else(|| source::base_dir().canonicalize().ok());
    let relative = base
        .as_deref()
        .and_then(|b| absolute.strip_prefix(b).ok())
        .unwrap_or(&absolute);
    let mut text = relative.to_string_lossy().trim_matches('/').to_owned();
    if text.is_empty() {
        // The root itself: use its directory name.
        text = absolute
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "root".to_owned());
    }
    inventory_name(&text)
}

/// The ignoreDifferences rules that apply to every target of the run.
pub fn ignore_rules(config: Option<&Config>) -> Vec<IgnoreRule> {
    config
        .map(|c| c.content.ignore_differences.clone())
        .unwrap_or_default()
}

/// The order to apply targets in: every target after those of its `dependsOn` that are in the
/// list, otherwise as listed (gitops.yaml order). Dependencies outside the list are not waited
/// for. gitops.yaml has no cycles (checked when it is loaded); should one reach here, the rest
/// follow in list order.
pub fn dependency_order(targets: &[(&str, &[String])]) -> Vec<usize> {
    let mut placed: Vec<usize> = Vec::with_capacity(targets.len());
    while placed.len() < targets.len() {
        let ready = (0..targets.len()).find(|&i| {
            !placed.contains(&i)
                && targets[i].1.iter().all(|needed| {
                    targets
                        .iter()
                        .position(|(name, _)| name == needed)
                        .is_none_or(|j| placed.contains(&j))
                })
        });
        match ready {
            Some(i) => placed.push(i),
            None => {
                let rest: Vec<usize> = (0..targets.len()).filter(|i| !placed.contains(i)).collect();
                placed.extend(rest);
            }
        }
    }
    placed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dependencies_come_first_and_the_rest_keeps_its_order() {
        let (none, crds, app, platform): (Vec<String>, Vec<String>, Vec<String>, Vec<String>) = (
            vec![],
            vec![],
            vec!["platform".into(), "crds".into()],
            vec!["crds".into()],
        );
        let order = dependency_order(&[
            ("app", &app),
            ("docs", &none),
            ("platform", &platform),
            ("crds", &crds),
            ("outside", &["elsewhere".to_owned()]),
        ]);
        assert_eq!(order, [1, 3, 2, 0, 4]);
    }
}
