//! Which file each object of a kustomize build came from.
//!
//! kustomize prints one stream with no sources. Built through a wrapper kustomization that only
//! lists the target's directory and asks for `buildMetadata: [originAnnotations]`, each object
//! carries `config.kubernetes.io/origin` (its file, or the kustomization whose generator made
//! it); gitops reads that into the object's origin and removes the annotation, so the objects
//! are exactly those of a plain build.

use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use serde_json::Value;

use super::display_path;
use super::manifest::{parse_stream, Manifest, Origin};

const ORIGIN: &str = "config.kubernetes.io/origin";

/// A temporary kustomization around the target's directory.
pub struct Wrapper {
    /// Held for its lifetime: removed on drop.
    _dir: tempfile::TempDir,
    /// Its canonical path (TMPDIR may be a link), for the build and for resolving origins.
    path: PathBuf,
}

impl Wrapper {
    /// None when the target asks for origin annotations itself (then they are its output), or
    /// the wrapper cannot be written: the build goes without.
    pub fn around(target: &Path) -> Option<Self> {
        let kustomization = ["kustomization.yaml", "kustomization.yml", "Kustomization"]
            .iter()
            .map(|name| target.join(name))
            .find(|path| path.is_file())?;
        let text = std::fs::read_to_string(kustomization).ok()?;
        // Its own origin annotations are its output; `sortOptions` counts only in the
        // top-level kustomization, which the wrapper would become.
        if text.contains("originAnnotations") || text.contains("sortOptions") {
            return None;
        }
        let target = target.canonicalize().ok()?;
        let dir = tempfile::Builder::new()
            .prefix("gitops-kustomize-")
            .tempdir()
            .ok()?;
        let path = dir.path().canonicalize().ok()?;
        // kustomize refuses absolute resource paths: reach the target from the wrapper.
        let up = path.components().count() - 1;
        let relative: PathBuf = std::iter::repeat_n(Component::ParentDir.as_os_str(), up)
            .chain(
                target
                    .components()
                    .filter(|c| matches!(c, Component::Normal(_)))
                    .map(|c| c.as_os_str()),
            )
            .collect();
        let wrapper = format!(
            "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\nbuildMetadata: [originAnnotations]\nresources:\n- {}\n",
            serde_json::to_string(&relative.to_string_lossy()).ok()?
        );
        std::fs::write(path.join("kustomization.yaml"), wrapper).ok()?;
        Some(Wrapper { _dir: dir, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Moves each object's origin annotation into its origin. An object found in its source
    /// file (same kind, and its name there is the built name or part of it, as with a
    /// `namePrefix`) gets that file's line and document, like plain YAML; otherwise the file
    /// is named as kustomize's.
    pub fn take_origins(&self, manifests: &mut [Manifest]) {
        let mut sources: HashMap<PathBuf, Vec<Manifest>> = HashMap::new();
        for manifest in manifests {
            let Some(text) = take_annotation(&mut manifest.object) else {
                continue;
            };
            let Some(origin) = origin_of(self.path(), &text) else {
                continue;
            };
            let (file, path) = match origin {
                Source::Local(path) => (display_path(&path), Some(path)),
                Source::Remote(url) => (url, None),
                // Not a file after all (an HTTP resource kustomize records as a path): keep
                // the output's own origin.
                Source::Missing => continue,
            };
            let found = path.and_then(|path| {
                let documents = sources.entry(path.clone()).or_insert_with(|| {
                    std::fs::read_to_string(&path)
                        .ok()
                        .and_then(|text| parse_stream(&text, &file).ok())
                        .unwrap_or_default()
                });
                // The longest name inside the built one: `web-config` over `web` in
                // `prod-web-config`; an exact name is the longest there is.
                documents
                    .iter()
                    .filter(|source| same_object(source, manifest))
                    .max_by_key(|source| source.name().map_or(0, str::len))
                    .map(|source| source.origin.clone())
            });
            manifest.origin = match found {
                Some(source) => Origin {
                    via: manifest.origin.via,
                    in_source: true,
                    ..source
                },
                // Generated, remote, or not found in its file: the file alone.
                None => Origin {
                    file,
                    document: 0,
                    line: 0,
                    item: None,
                    via: manifest.origin.via,
                    in_source: true,
                },
            };
        }
    }
}

/// Whether `source`, as written, is what kustomize built into `built`.
fn same_object(source: &Manifest, built: &Manifest) -> bool {
    let (Some(name), Some(built_name)) = (source.name(), built.name()) else {
        return false;
    };
    source.kind() == built.kind() && !name.is_empty() && built_name.contains(name)
}

/// Where an object came from.
enum Source {
    Local(PathBuf),
    /// A remote base: `repo//path?ref=…`.
    Remote(String),
    /// A path that names no file.
    Missing,
}

/// Removes the origin annotation (and an annotations map it leaves empty).
fn take_annotation(object: &mut Value) -> Option<String> {
    let metadata = object.get_mut("metadata")?.as_object_mut()?;
    let annotations = metadata.get_mut("annotations")?.as_object_mut()?;
    let text = annotations.shift_remove(ORIGIN)?;
    if annotations.is_empty() {
        metadata.shift_remove("annotations");
    }
    text.as_str().map(str::to_owned)
}

/// The file named by an origin annotation: `path` (relative to the wrapper), else the
/// kustomization that `configuredIn` names for generated objects; remote ones keep their URL.
fn origin_of(wrapper: &Path, text: &str) -> Option<Source> {
    let origin: serde_yaml::Value = serde_yaml::from_str(text).ok()?;
    let field = |key: &str| origin.get(key).and_then(serde_yaml::Value::as_str);
    let local = field("path").or_else(|| field("configuredIn"))?;
    if let Some(repo) = field("repo") {
        let reference = field("ref")
            .map(|r| format!("?ref={r}"))
            .unwrap_or_default();
        return Some(Source::Remote(format!("{repo}//{local}{reference}")));
    }
    let path = normalize(&wrapper.join(local));
    Some(if path.is_file() {
        Source::Local(path)
    } else {
        Source::Missing
    })
}

/// `a/b/../c` → `a/c`, without touching the file system.
fn normalize(path: &Path) -> PathBuf {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other.as_os_str()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shown(source: Option<Source>) -> Option<String> {
        source.map(|s| match s {
            Source::Local(path) => path.display().to_string(),
            Source::Remote(url) => url,
            Source::Missing => "missing".to_owned(),
        })
    }

    #[test]
    fn origins_name_local_files_generators_and_remote_bases() {
        let root = tempfile::tempdir().unwrap();
        let wrapper = root.path().join("w");
        std::fs::create_dir_all(root.path().join("app/base")).unwrap();
        std::fs::write(root.path().join("app/base/web.yaml"), "").unwrap();
        std::fs::write(root.path().join("app/kustomization.yaml"), "").unwrap();
        let inside = |p: &str| Some(root.path().join(p).display().to_string());
        assert_eq!(
            shown(origin_of(&wrapper, "path: ../app/base/web.yaml\n")),
            inside("app/base/web.yaml")
        );
        assert_eq!(
            shown(origin_of(
                &wrapper,
                "configuredIn: ../app/kustomization.yaml\nconfiguredBy:\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n"
            )),
            inside("app/kustomization.yaml")
        );
        assert_eq!(
            shown(origin_of(
                &wrapper,
                "path: deploy/web.yaml\nrepo: https://github.com/example/app\nref: v1.2.0\n"
            ))
            .as_deref(),
            Some("https://github.com/example/app//deploy/web.yaml?ref=v1.2.0")
        );
        // An HTTP resource is recorded as a "path" that is no file.
        assert_eq!(
            shown(origin_of(&wrapper, "path: https:/example.com/web.yaml\n")).as_deref(),
            Some("missing")
        );
        assert!(origin_of(&wrapper, "not: an origin\n").is_none());
    }

    #[test]
    fn kustomizations_whose_output_the_wrapper_would_change_are_built_as_they_are() {
        let dir = tempfile::tempdir().unwrap();
        let kustomization = dir.path().join("kustomization.yaml");
        std::fs::write(&kustomization, "resources: [a.yaml]\n").unwrap();
        assert!(Wrapper::around(dir.path()).is_some());
        for own in [
            "sortOptions: {order: fifo}\n",
            "buildMetadata: [originAnnotations]\n",
        ] {
            std::fs::write(&kustomization, format!("resources: [a.yaml]\n{own}")).unwrap();
            assert!(Wrapper::around(dir.path()).is_none(), "{own}");
        }
    }

    #[test]
    fn the_annotation_leaves_no_trace() {
        let mut object = serde_json::json!({"metadata": {"name": "x", "annotations": {ORIGIN: "path: a.yaml\n"}}});
        assert_eq!(
            take_annotation(&mut object).as_deref(),
            Some("path: a.yaml\n")
        );
        assert_eq!(object, serde_json::json!({"metadata": {"name": "x"}}));
        let mut kept = serde_json::json!({"metadata": {"annotations": {ORIGIN: "path: a.yaml\n", "team": "web"}}});
        take_annotation(&mut kept);
        assert_eq!(
            kept,
            serde_json::json!({"metadata": {"annotations": {"team": "web"}}})
        );
    }
}
