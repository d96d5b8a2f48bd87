//! Walks a repository for what can be deployed.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::render::{detect, SourceKind};

/// Directories never searched: tooling, dependencies, and test data.
const SKIPPED: &[&str] = &[
    "node_modules",
    "vendor",
    "target",
    "test",
    "tests",
    "testdata",
    "fixtures",
    "__snapshots__",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FoundKind {
    Kustomize {
        /// The kustomization's `namespace:`, if it sets one.
        namespace: Option<String>,
    },
    Helm {
        /// `values-<env>.yaml` files (env, file name), sorted by env.
        environments: Vec<(String, String)>,
    },
    Plain {
        /// The one namespace all its objects name, if they agree.
        namespace: Option<String>,
        /// `exclude` globs for its YAML and JSON files that are not Kubernetes objects (an
        /// application's own configuration beside its manifests).
        exclude: Vec<String>,
    },
}

/// A deployable directory, relative to the repository root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Found {
    pub path: PathBuf,
    pub kind: FoundKind,
}

/// Everything deployable under `root`, and what was left out and why (for the user).
pub fn discover(root: &Path) -> (Vec<Found>, Vec<String>) {
    let mut kustomizations = Vec::new();
    let mut charts = Vec::new();
    let mut plain = Vec::new();
    let mut notes = Vec::new();
    let tree = scan(root, root, &mut notes, 0);
    decide(&tree, true, &mut kustomizations, &mut charts, &mut plain);
    // A kustomization another one reads (a base, a Component) is not a target of its own.
    let mut used: BTreeSet<PathBuf> = BTreeSet::new();
    for dir in &kustomizations {
        for input in crate::render::inputs::kustomization_reads(dir) {
            if &input != dir {
                used.insert(input);
            }
        }
    }
    let mut found = Vec::new();
    for dir in &kustomizations {
        let relative = relative(root, dir);
        if used.contains(dir) {
            notes.push(format!(
                "{}: used by another kustomization (a base or component), not a target",
                relative.display()
            ));
            continue;
        }
        if kustomization_kind(dir).as_deref() == Some("Component") {
            notes.push(format!(
                "{}: a kustomize Component, not a target",
                relative.display()
            ));
            continue;
        }
        found.push(Found {
            path: relative,
            kind: FoundKind::Kustomize {
                namespace: kustomization_field(dir, "namespace"),
            },
        });
    }
    for dir in &charts {
        let relative = relative(root, dir);
        if std::fs::read_to_string(dir.join("Chart.yaml"))
            .ok()
            .and_then(|t| serde_yaml::from_str::<serde_yaml::Value>(&t).ok())
            .and_then(|c| c.get("name").and_then(|n| n.as_str()).map(str::to_owned))
            .is_none()
        {
            notes.push(format!(
                "{}: Chart.yaml cannot be read (no name), left out",
                relative.display()
            ));
            continue;
        }
        found.push(Found {
            path: relative,
            kind: FoundKind::Helm {
                environments: values_per_environment(dir),
            },
        });
    }
    for (dir, namespace, exclude) in plain {
        // Manifests a kustomization reads are its own, not a target.
        let read_by_kustomization = used
            .iter()
            .any(|u| u == &dir || u.starts_with(&dir) || dir.starts_with(u));
        if read_by_kustomization {
            notes.push(format!(
                "{}: read by a kustomization, not a target",
                relative(root, &dir).display()
            ));
            continue;
        }
        found.push(Found {
            path: relative(root, &dir),
            kind: FoundKind::Plain { namespace, exclude },
        });
    }
    found.sort_by(|a, b| a.path.cmp(&b.path));
    (found, notes)
}

fn relative(root: &Path, dir: &Path) -> PathBuf {
    dir.strip_prefix(root).unwrap_or(dir).to_path_buf()
}

/// A directory of the repository, as far as init cares.
struct Node {
    path: PathBuf,
    app: Option<SourceKind>,
    /// Kubernetes objects in its own files, and the namespaces they name.
    direct: usize,
    namespaces: BTreeSet<Option<String>>,
    /// Its own YAML and JSON files that hold no Kubernetes object.
    foreign: Vec<PathBuf>,
    children: Vec<Node>,
}

impl Node {
    fn has_app(&self) -> bool {
        self.app.is_some() || self.children.iter().any(Node::has_app)
    }

    fn has_manifests(&self) -> bool {
        self.direct > 0 || self.children.iter().any(Node::has_manifests)
    }

    /// `exclude` globs, relative to `base`, for every file below that holds no Kubernetes
    /// object: a directory of nothing else as `dir/**`, else each file as `./path`.
    fn foreign_globs(&self, base: &Path, into: &mut Vec<String>) {
        let slash = |p: &Path| {
            p.strip_prefix(base)
                .unwrap_or(p)
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/")
        };
        for file in &self.foreign {
            into.push(format!("./{}", slash(file)));
        }
        for child in &self.children {
            if !child.has_manifests() && child.has_foreign() {
                into.push(format!("{}/**", slash(&child.path)));
            } else {
                child.foreign_globs(base, into);
            }
        }
    }

    fn has_foreign(&self) -> bool {
        !self.foreign.is_empty() || self.children.iter().any(Node::has_foreign)
    }

    fn all_namespaces(&self, into: &mut BTreeSet<Option<String>>) {
        into.extend(self.namespaces.iter().cloned());
        for child in &self.children {
            child.all_namespaces(into);
        }
    }

    fn name(&self) -> String {
        self.path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default()
    }
}

fn scan(root: &Path, dir: &Path, notes: &mut Vec<String>, depth: usize) -> Node {
    let app = match detect(dir) {
        Ok(kind @ (SourceKind::Kustomize | SourceKind::Helm)) => Some(kind),
        _ => None,
    };
    let mut node = Node {
        path: dir.to_path_buf(),
        app,
        direct: 0,
        namespaces: BTreeSet::new(),
        foreign: Vec::new(),
        children: Vec::new(),
    };
    // A chart's templates and vendored charts/ are the chart's own.
    if app == Some(SourceKind::Helm) || depth > 16 {
        return node;
    }
    let Ok(entries) = std::fs::read_dir(dir) else {
        return node;
    };
    let mut entries: Vec<PathBuf> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        if name.starts_with('.') {
            continue;
        }
        if path.is_dir() {
            if SKIPPED.contains(&name.as_str()) {
                notes.push(format!(
                    "{}: skipped ({name}/ is not searched)",
                    relative(root, &path).display()
                ));
            } else {
                node.children.push(scan(root, &path, notes, depth + 1));
            }
        } else if dir != root || name != crate::names::CONFIG_FILE_NAME {
            let objects = kubernetes_objects(&path);
            if objects.is_empty() && is_yaml_or_json(&path) {
                node.foreign.push(path.clone());
            }
            for object in objects {
                node.direct += 1;
                node.namespaces.insert(
                    object
                        .pointer("/metadata/namespace")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                );
            }
        }
    }
    node
}

/// Directory names under which each subdirectory is one environment or cluster.
const ENVIRONMENT_PARENTS: &[&str] = &["overlays", "envs", "environments", "clusters"];

/// Sorts what `scan` found: kustomizations and charts, and plain directories. A plain target
/// is the highest directory with manifests and no kustomization or chart below, except that
/// the repository root and an `overlays/`, `clusters/`… directory split into their children,
/// unless they hold manifests themselves; a directory whose parts are numbered (`00-crds`,
/// `10-app`) stays one target.
fn decide(
    node: &Node,
    is_root: bool,
    kustomizations: &mut Vec<PathBuf>,
    charts: &mut Vec<PathBuf>,
    plain: &mut Vec<(PathBuf, Option<String>, Vec<String>)>,
) {
    match node.app {
        Some(SourceKind::Helm) => return charts.push(node.path.clone()),
        Some(_) => kustomizations.push(node.path.clone()),
        None if !node.has_app() && node.has_manifests() => {
            let parts: Vec<&Node> = node.children.iter().filter(|c| c.has_manifests()).collect();
            let numbered = !parts.is_empty()
                && parts
                    .iter()
                    .all(|c| c.name().starts_with(|ch: char| ch.is_ascii_digit()));
            let one_target = node.direct > 0
                || (!is_root && !ENVIRONMENT_PARENTS.contains(&node.name().as_str()) && numbered);
            if one_target {
                let mut namespaces = BTreeSet::new();
                node.all_namespaces(&mut namespaces);
                let namespace = match namespaces.len() {
                    1 => namespaces.into_iter().next().flatten(),
                    _ => None,
                };
                let mut exclude = Vec::new();
                node.foreign_globs(&node.path, &mut exclude);
                return plain.push((node.path.clone(), namespace, exclude));
            }
        }
        None => {}
    }
    for child in &node.children {
        decide(child, false, kustomizations, charts, plain);
    }
}

/// The Kubernetes objects of a YAML or JSON file (documents with apiVersion, kind and a name);
/// none for anything else.
fn kubernetes_objects(path: &Path) -> Vec<Value> {
    if !is_yaml_or_json(path) {
        return Vec::new();
    }
    let Ok(text) = std::fs::read_to_string(path) else {
        return Vec::new();
    };
    let Ok(documents) = crate::yaml::load_documents(&text) else {
        return Vec::new();
    };
    documents
        .into_iter()
        .map(|d| d.value)
        .filter(|v| {
            v.get("apiVersion").is_some_and(Value::is_string)
                && v.get("kind").is_some_and(Value::is_string)
                && v.pointer("/metadata/name").is_some_and(Value::is_string)
        })
        .collect()
}

/// What a plain directory target reads.
fn is_yaml_or_json(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"))
}

fn kustomization_text(dir: &Path) -> Option<String> {
    ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .iter()
        .find_map(|n| std::fs::read_to_string(dir.join(n)).ok())
}

fn kustomization_field(dir: &Path, key: &str) -> Option<String> {
    let value: serde_yaml::Value = serde_yaml::from_str(&kustomization_text(dir)?).ok()?;
    value.get(key)?.as_str().map(str::to_owned)
}

fn kustomization_kind(dir: &Path) -> Option<String> {
    kustomization_field(dir, "kind")
}

/// `values-staging.yaml`, `values.prod.yaml`, `staging.values.yaml` → (env, file).
fn values_per_environment(chart: &Path) -> Vec<(String, String)> {
    let Ok(entries) = std::fs::read_dir(chart) else {
        return Vec::new();
    };
    let mut found: Vec<(String, String)> = entries
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let stem = name
                .strip_suffix(".yaml")
                .or_else(|| name.strip_suffix(".yml"))?;
            let env = stem
                .strip_prefix("values-")
                .or_else(|| stem.strip_prefix("values."))
                .or_else(|| stem.strip_suffix(".values"))
                .or_else(|| stem.strip_suffix("-values"))?;
            (!env.is_empty()).then(|| (env.to_owned(), name.clone()))
        })
        .collect();
    found.sort();
    found
}
