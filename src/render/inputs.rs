//! The files and directories a target's render reads: its path, the local bases and
//! components a kustomization pulls in, and a chart's values files. `compare --live` lists
//! the commits that touch them.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde_yaml::Value;

use super::{detect, SourceKind};

/// Keys of a kustomization that name other local directories or files it reads.
const KUSTOMIZE_LISTS: [&str; 5] = [
    "resources",
    "bases",
    "components",
    "patchesStrategicMerge",
    "crds",
];

/// Every input of the target at `path`, canonical; `values` are a chart's values files
/// (relative to `path`). Remote bases are left out.
pub fn inputs(path: &Path, values: &[String]) -> Vec<PathBuf> {
    let mut found = BTreeSet::new();
    let Ok(root) = path.canonicalize() else {
        return Vec::new();
    };
    match detect(&root) {
        Ok(SourceKind::Kustomize) => kustomization_inputs(&root, &mut found),
        Ok(SourceKind::Helm) => {
            found.insert(root.clone());
            for file in values {
                if let Ok(file) = root.join(file).canonicalize() {
                    found.insert(file);
                }
            }
        }
        _ => {
            found.insert(root);
        }
    }
    // A path under another one already listed adds nothing.
    let all: Vec<PathBuf> = found.into_iter().collect();
    all.iter()
        .filter(|p| !all.iter().any(|other| other != *p && p.starts_with(other)))
        .cloned()
        .collect()
}

/// Every directory and file a kustomization reads (itself included), canonical, nested ones
/// too: what makes a kustomization a base or a component of another.
pub fn kustomization_reads(dir: &Path) -> Vec<PathBuf> {
    let mut found = BTreeSet::new();
    if let Ok(dir) = dir.canonicalize() {
        kustomization_inputs(&dir, &mut found);
    }
    found.into_iter().collect()
}

fn kustomization_inputs(dir: &Path, found: &mut BTreeSet<PathBuf>) {
    if !found.insert(dir.to_path_buf()) {
        return;
    }
    let Some(kustomization) = ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .iter()
        .map(|name| dir.join(name))
        .find(|f| f.is_file())
    else {
        return;
    };
    let Ok(text) = std::fs::read_to_string(&kustomization) else {
        return;
    };
    let Ok(document) = serde_yaml::from_str::<Value>(&text) else {
        return;
    };
    let mut references: Vec<&str> = Vec::new();
    for key in KUSTOMIZE_LISTS {
        if let Some(Value::Sequence(items)) = document.get(key) {
            references.extend(items.iter().filter_map(Value::as_str));
        }
    }
    if let Some(Value::Sequence(patches)) = document.get("patches") {
        references.extend(patches.iter().filter_map(|p| p.get("path")?.as_str()));
    }
    for generator in ["configMapGenerator", "secretGenerator"] {
        if let Some(Value::Sequence(items)) = document.get(generator) {
            for item in items {
                for list in ["files", "envs"] {
                    if let Some(Value::Sequence(files)) = item.get(list) {
                        // `key=path` names the key it becomes.
                        references.extend(
                            files
                                .iter()
                                .filter_map(Value::as_str)
                                .map(|f| f.split_once('=').map_or(f, |(_, path)| path)),
                        );
                    }
                }
            }
        }
    }
    for reference in references {
        if reference.contains("://")
            || reference.contains("?ref=")
            || reference.starts_with("github.com/")
        {
            continue;
        }
        let Ok(target) = dir.join(reference).canonicalize() else {
            continue;
        };
        if target.is_dir() {
            kustomization_inputs(&target, found);
        } else {
            found.insert(target);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_overlay_reads_its_bases_and_files_outside_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let write = |p: &str, text: &str| {
            std::fs::create_dir_all(root.join(p).parent().unwrap()).unwrap();
            std::fs::write(root.join(p), text).unwrap();
        };
        write("base/kustomization.yaml", "resources: [deploy.yaml]\n");
        write("base/deploy.yaml", "");
        write("components/tls/kustomization.yaml", "kind: Component\n");
        write("shared/common.env", "A=1\n");
        write("overlays/prod/kustomization.yaml", "resources: [../../base, https://github.com/x/y//z?ref=v1]\ncomponents: [../../components/tls]\nconfigMapGenerator:\n- name: c\n  envs: [../../shared/common.env]\n");
        let root = root.canonicalize().unwrap();
        let found = inputs(&root.join("overlays/prod"), &[]);
        let shown: Vec<String> = found
            .iter()
            .map(|p| p.strip_prefix(&root).unwrap().display().to_string())
            .collect();
        assert_eq!(
            shown,
            [
                "base",
                "components/tls",
                "overlays/prod",
                "shared/common.env"
            ]
        );
    }
}
