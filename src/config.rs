//! gitops.yaml: the targets of a repository and the differences to ignore (SPEC.md).

use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The parsed file. Unknown keys are errors (with their line), so typos never pass silently.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ConfigFile {
    #[serde(default)]
    pub targets: Vec<TargetConfig>,
    #[serde(default)]
    pub ignore_differences: Vec<IgnoreRule>,
    /// The history kept for every target that does not say.
    pub history: Option<HistoryConfig>,
}

/// Apply records kept per target unless gitops.yaml says (`history: {limit: N}`).
pub const HISTORY_DEFAULT_LIMIT: usize = 100;
/// The most a target may keep: each record is an object in its namespace.
pub const HISTORY_MAX_LIMIT: usize = 10_000;

/// `history:`, at the top of gitops.yaml or per target.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HistoryConfig {
    pub limit: usize,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct TargetConfig {
    pub name: String,
    pub path: String,
    pub context: Option<String>,
    /// The kubeconfig of the target's cluster, relative to gitops.yaml (`~/` is the home
    /// directory); `--kubeconfig` overrides it.
    pub kubeconfig: Option<String>,
    /// Globs of the files a plain directory target reads (default: every YAML/JSON file).
    #[serde(default)]
    pub include: Vec<String>,
    /// Globs of files and directories a plain directory target leaves out.
    #[serde(default)]
    pub exclude: Vec<String>,
    pub namespace: Option<String>,
    pub prune: Option<bool>,
    pub timeout: Option<String>,
    pub create_namespace: Option<bool>,
    pub helm: Option<HelmConfig>,
    pub history: Option<HistoryConfig>,
    /// Where `gitops promote` writes this target's image tags (Helm values keys).
    pub promote: Option<PromoteConfig>,
    /// Targets applied (and healthy) before this one in the same run.
    #[serde(default)]
    pub depends_on: Vec<String>,
}

/// `promote: {images: {web: image.tag}}`: a container, workload or image name → the dotted
/// key of the target's values files that holds its tag.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct PromoteConfig {
    #[serde(default)]
    pub images: std::collections::BTreeMap<String, String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct HelmConfig {
    pub release_name: Option<String>,
    #[serde(default)]
    pub values: Vec<String>,
    /// Ordered as written; values are scalars (helm infers their types, as with `--set`).
    #[serde(default)]
    pub set: serde_yaml::Mapping,
}

/// Fields another controller owns (SPEC.md, gitops.yaml `ignoreDifferences`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct IgnoreRule {
    #[serde(default)]
    pub group: String,
    pub kind: String,
    pub name: Option<String>,
    pub namespace: Option<String>,
    #[serde(default)]
    pub json_pointers: Vec<String>,
    #[serde(default)]
    pub managed_fields_managers: Vec<String>,
}

/// A loaded gitops.yaml and the directory its paths are relative to.
#[derive(Debug, Clone)]
pub struct Config {
    pub file: PathBuf,
    pub dir: PathBuf,
    pub content: ConfigFile,
}

/// What is wrong with a gitops.yaml; always names the file.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {file}: {message}")]
    Read { file: String, message: String },
    #[error("{file}: {message}")]
    Invalid { file: String, message: String },
}

impl Config {
    /// Reads and checks a gitops.yaml.
    pub fn load(file: &Path) -> Result<Config, ConfigError> {
        let shown = file.display().to_string();
        let text = std::fs::read_to_string(file).map_err(|e| ConfigError::Read {
            file: shown.clone(),
            message: e.to_string(),
        })?;
        let invalid = |message: String| ConfigError::Invalid {
            file: shown.clone(),
            message,
        };
        let content: ConfigFile = if text.trim().is_empty() {
            ConfigFile::default()
        } else {
            serde_yaml::from_str(&text).map_err(|e| invalid(describe_yaml_error(&e)))?
        };
        let dir = file
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .to_path_buf();
        check(&content, &dir).map_err(invalid)?;
        Ok(Config {
            file: file.to_path_buf(),
            dir,
            content,
        })
    }

    pub fn target(&self, name: &str) -> Option<&TargetConfig> {
        self.content.targets.iter().find(|t| t.name == name)
    }

    /// Records kept for `target`: its own `history.limit`, else the file's, else the default.
    pub fn history_limit(&self, target: Option<&TargetConfig>) -> usize {
        target
            .and_then(|t| t.history.as_ref())
            .or(self.content.history.as_ref())
            .map_or(HISTORY_DEFAULT_LIMIT, |h| h.limit)
    }

    pub fn target_names(&self) -> Vec<&str> {
        self.content
            .targets
            .iter()
            .map(|t| t.name.as_str())
            .collect()
    }
}

/// serde_yaml says "unknown field `x`, expected one of …"; we call them keys, with the line.
fn describe_yaml_error(error: &serde_yaml::Error) -> String {
    let text = error.to_string().replace("unknown field", "unknown key");
    match error.location() {
        Some(at) if !text.contains(" at line ") => format!("line {}: {text}", at.line()),
        _ => text,
    }
}

fn check_history(history: Option<&HistoryConfig>, whose: &str) -> Result<(), String> {
    match history {
        Some(h) if h.limit == 0 || h.limit > HISTORY_MAX_LIMIT => Err(format!(
            "{whose}history.limit {} must be between 1 and {HISTORY_MAX_LIMIT}",
            h.limit
        )),
        _ => Ok(()),
    }
}

/// `dependsOn` names targets of the file, not the target itself, and has no cycle.
fn check_dependencies(targets: &[TargetConfig]) -> Result<(), String> {
    let names: Vec<&str> = targets.iter().map(|t| t.name.as_str()).collect();
    for target in targets {
        for needed in &target.depends_on {
            if needed == &target.name {
                return Err(format!(
                    "target {:?}: dependsOn names the target itself",
                    target.name
                ));
            }
            if !names.contains(&needed.as_str()) {
                return Err(format!(
                    "target {:?}: dependsOn names {needed:?}, which is not a target of this file (targets: {})",
                    target.name,
                    names.join(", ")
                ));
            }
        }
    }
    // Depth-first search; a target met again while still on the path closes a cycle.
    fn visit<'a>(
        name: &'a str,
        targets: &'a [TargetConfig],
        path: &mut Vec<&'a str>,
        done: &mut Vec<&'a str>,
    ) -> Result<(), String> {
        if done.contains(&name) {
            return Ok(());
        }
        if let Some(start) = path.iter().position(|n| *n == name) {
            let mut cycle: Vec<&str> = path[start..].to_vec();
            cycle.push(name);
            return Err(format!("dependsOn makes a cycle: {}", cycle.join(" -> ")));
        }
        path.push(name);
        if let Some(target) = targets.iter().find(|t| t.name == name) {
            for needed in &target.depends_on {
                visit(needed, targets, path, done)?;
            }
        }
        path.pop();
        done.push(name);
        Ok(())
    }
    let mut done = Vec::new();
    for target in targets {
        visit(&target.name, targets, &mut Vec::new(), &mut done)?;
    }
    Ok(())
}

fn check(content: &ConfigFile, dir: &Path) -> Result<(), String> {
    check_history(content.history.as_ref(), "")?;
    let mut seen = std::collections::HashSet::new();
    for target in &content.targets {
        let name = &target.name;
        if let Some(why) = crate::names::invalid_dns_label(name) {
            return Err(format!(
                "target name {name:?} is invalid: it names the target's inventory, so it {why}"
            ));
        }
        if !seen.insert(name) {
            return Err(format!("target {name:?} is defined twice"));
        }
        if !dir.join(&target.path).exists() {
            return Err(format!(
                "target {name:?}: path {:?} does not exist (paths are relative to the directory of gitops.yaml)",
                target.path
            ));
        }
        if let Some(timeout) = &target.timeout {
            crate::clock::parse_duration(timeout)
                .map_err(|e| format!("target {name:?}: timeout {e}"))?;
        }
        if let Some(helm) = &target.helm {
            helm_set_values(helm).map_err(|e| format!("target {name:?}: helm.set {e}"))?;
        }
        check_history(target.history.as_ref(), &format!("target {name:?}: "))?;
        if let Some(promote) = &target.promote {
            if let Some((image, key)) = promote
                .images
                .iter()
                .find(|(_, key)| key.is_empty() || key.split('.').any(str::is_empty))
            {
                return Err(format!(
                    "target {name:?}: promote.images.{image} is {key:?}, not a values key such as image.tag"
                ));
            }
        }
    }
    check_dependencies(&content.targets)?;
    for rule in &content.ignore_differences {
        if let Some(bad) = rule.json_pointers.iter().find(|p| !p.starts_with('/')) {
            return Err(format!(
                "ignoreDifferences for kind {}: JSON pointer {bad:?} must start with '/' (e.g. /spec/replicas)",
                rule.kind
            ));
        }
        // gitops's own fields left out of every apply would be deleted by server-side apply.
        if rule
            .managed_fields_managers
            .iter()
            .any(|m| m == crate::ownership::FIELD_MANAGER)
        {
            return Err(format!(
                "ignoreDifferences for kind {}: managedFieldsManagers cannot name {:?}, gitops's own field manager: its fields would be removed from every object on the next apply",
                rule.kind,
                crate::ownership::FIELD_MANAGER
            ));
        }
    }
    Ok(())
}

/// `helm.set` as `key=value` pairs in the order written.
pub fn helm_set_values(helm: &HelmConfig) -> Result<Vec<(String, String)>, String> {
    helm.set
        .iter()
        .map(|(key, value)| {
            let key = scalar_text(key).ok_or("keys must be strings")?;
            let value = scalar_text(value)
                .ok_or_else(|| format!("{key:?} must be a string, number or boolean"))?;
            Ok((key, value))
        })
        .collect()
}

fn scalar_text(value: &serde_yaml::Value) -> Option<String> {
    match value {
        serde_yaml::Value::String(s) => Some(s.clone()),
        serde_yaml::Value::Number(n) => Some(n.to_string()),
        serde_yaml::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn targets(spec: &[(&str, &[&str])]) -> Vec<TargetConfig> {
        spec.iter()
            .map(|(name, deps)| TargetConfig {
                name: (*name).to_owned(),
                path: ".".into(),
                context: None,
                kubeconfig: None,
                include: Vec::new(),
                exclude: Vec::new(),
                namespace: None,
                prune: None,
                timeout: None,
                create_namespace: None,
                helm: None,
                history: None,
                promote: None,
                depends_on: deps.iter().map(|d| (*d).to_owned()).collect(),
            })
            .collect()
    }

    #[test]
    fn depends_on_names_known_targets_without_cycles() {
        assert_eq!(
            check_dependencies(&targets(&[("crds", &[]), ("app", &["crds"])])),
            Ok(())
        );
        assert_eq!(
            check_dependencies(&targets(&[("app", &["platform"])])),
            Err("target \"app\": dependsOn names \"platform\", which is not a target of this file (targets: app)".into())
        );
        assert_eq!(
            check_dependencies(&targets(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])])),
            Err("dependsOn makes a cycle: a -> b -> c -> a".into())
        );
        assert!(check_dependencies(&targets(&[("a", &["a"])]))
            .unwrap_err()
            .contains("itself"));
    }

    #[test]
    fn unknown_keys_are_named_with_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gitops.yaml");
        std::fs::write(
            &file,
            "targets:\n  - name: a\n    path: .\n    prnue: true\n",
        )
        .unwrap();
        let err = Config::load(&file).unwrap_err().to_string();
        assert!(
            err.contains("unknown key `prnue`") && err.contains("line 4"),
            "{err}"
        );
    }

    #[test]
    fn gitops_cannot_ignore_its_own_fields() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("gitops.yaml");
        std::fs::write(
            &file,
            "ignoreDifferences:\n  - {group: apps, kind: Deployment, managedFieldsManagers: [gitops]}\n",
        )
        .unwrap();
        let err = Config::load(&file).unwrap_err().to_string();
        assert!(err.contains("cannot name \"gitops\""), "{err}");
    }
}
