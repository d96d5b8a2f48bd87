//! Render stage: turn a target's source (plain YAML, Kustomize, Helm, stdin) into manifests.
//!
//! No cluster access here. The result is a flat list of objects, each with its origin, that
//! `validate` checks and `order` sorts into apply order.

mod chart_dependencies;
mod external;
pub mod glob;
pub mod hooks;
pub mod inputs;
mod kustomize_origin;
pub mod manifest;
pub mod order;
mod plain;
mod runner;
pub mod scratch;
pub mod sops;
pub mod tools;
pub mod validate;

use std::path::{Path, PathBuf};

pub use manifest::{Manifest, ObjectRef, Origin, ParseError};

/// Where a target's manifests are read from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    Path(PathBuf),
    Stdin,
}

/// A chart target's Helm settings (also recorded in the inventory, for `rollback`).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HelmSettings {
    #[serde(default)]
    pub release_name: Option<String>,
    /// Values files, relative to the chart directory (as in Argo CD).
    #[serde(default)]
    pub values: Vec<String>,
    #[serde(default)]
    pub set: Vec<(String, String)>,
}

/// How a path is rendered (SPEC.md, Rendering).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SourceKind {
    Stdin,
    File,
    Plain,
    Kustomize,
    Helm,
}

impl SourceKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SourceKind::Stdin => "stdin",
            SourceKind::File => "file",
            SourceKind::Plain => "plain",
            SourceKind::Kustomize => "kustomize",
            SourceKind::Helm => "helm",
        }
    }
}

const KUSTOMIZATION_FILES: [&str; 3] = ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// Why a render failed; every variant names the file or renderer involved.
#[derive(Debug, thiserror::Error)]
pub enum RenderError {
    #[error("cannot read {path}: {message}")]
    Io { path: String, message: String },
    /// Transparent: with `{0}` and `#[from]`, the parse error would also be the source and
    /// every message would be printed twice by an error chain.
    #[error(transparent)]
    Parse(#[from] ParseError),
    #[error("{file}:{line}: the file is not valid UTF-8 (first bad byte at offset {offset}); save it as UTF-8")]
    NotUtf8 {
        file: String,
        line: usize,
        offset: usize,
    },
    #[error("{path}: symbolic link loop (it leads back to {target}); remove the link or point it elsewhere")]
    SymlinkLoop { path: String, target: String },
    #[error("{path} is a {kind} inside the plain directory {root}: give it its own target, or reference it from a kustomization")]
    NestedApp {
        path: String,
        kind: &'static str,
        root: String,
    },
    #[error("{path}: include and exclude select the files of a plain directory, and this is a {kind}; remove them from the target (a {kind} says itself which files it reads)")]
    FilterNotPlain { path: String, kind: &'static str },
    #[error("{path}: no such file or directory")]
    NotFound { path: String },
    #[error("{path} holds no *.yaml, *.yml or *.json manifests but {found}: gitops renders plain YAML/JSON, kustomizations and Helm charts (not jsonnet, CUE or templates); render them to YAML first, or point the target at the manifests")]
    NoManifests { path: String, found: String },
    #[error(transparent)]
    Sops(#[from] sops::SopsError),
    #[error("{0}")]
    RendererMissing(String),
    #[error("{command} failed{status}:\n{stderr}")]
    RendererFailed {
        command: String,
        status: String,
        stderr: String,
    },
}

/// Detects how `path` is rendered.
pub fn detect(path: &Path) -> Result<SourceKind, RenderError> {
    let meta = std::fs::metadata(path).map_err(|e| match e.kind() {
        std::io::ErrorKind::NotFound => RenderError::NotFound {
            path: display_path(path),
        },
        _ => io_error(path, &e),
    })?;
    if !meta.is_dir() {
        return Ok(SourceKind::File);
    }
    if kustomization_file(path).is_some() {
        Ok(SourceKind::Kustomize)
    } else if path.join("Chart.yaml").is_file() {
        Ok(SourceKind::Helm)
    } else {
        Ok(SourceKind::Plain)
    }
}

fn kustomization_file(dir: &Path) -> Option<PathBuf> {
    KUSTOMIZATION_FILES
        .iter()
        .map(|name| dir.join(name))
        .find(|p| p.is_file())
}

/// What a chart may ask about its cluster (`.Capabilities`): the server's version and the API
/// versions it serves, as `group/version` and `group/version/Kind`. Known only when rendering
/// for a cluster (diff, apply, rollback); `render` alone uses helm's defaults.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Capabilities {
    pub kube_version: String,
    pub api_versions: Vec<String>,
}

impl Capabilities {
    /// From the server's version and each group-version it serves with its kinds: every
    /// `group/version` and `group/version/Kind`, sorted.
    pub fn new<'a>(
        kube_version: String,
        served: impl IntoIterator<Item = (&'a str, Vec<&'a str>)>,
    ) -> Self {
        let mut api_versions = std::collections::BTreeSet::new();
        for (group_version, kinds) in served {
            api_versions.insert(group_version.to_owned());
            api_versions.extend(kinds.iter().map(|kind| format!("{group_version}/{kind}")));
        }
        Capabilities {
            kube_version,
            api_versions: api_versions.into_iter().collect(),
        }
    }
}

/// What rendering one target needs.
pub struct RenderRequest<'a> {
    pub source: &'a Source,
    pub helm: &'a HelmSettings,
    /// The target's name: the Helm release name unless the settings name one.
    pub name: &'a str,
    /// The release namespace handed to Helm.
    pub namespace: &'a str,
    /// The cluster's capabilities, when rendering for one.
    pub capabilities: Option<&'a Capabilities>,
    /// The files a plain directory target reads (`include` / `exclude`).
    pub files: &'a glob::FileFilter,
}

/// Renders one target.
pub fn render(request: &RenderRequest<'_>) -> Result<(SourceKind, Vec<Manifest>), RenderError> {
    match request.source {
        Source::Stdin => {
            let mut bytes = Vec::new();
            std::io::Read::read_to_end(&mut std::io::stdin(), &mut bytes)
                .map_err(|e| io_error(Path::new("<stdin>"), &e))?;
            let text = utf8(bytes, "<stdin>")?;
            Ok((SourceKind::Stdin, manifest::parse_stream(&text, "<stdin>")?))
        }
        Source::Path(path) => {
            let kind = detect(path)?;
            if !request.files.is_empty() && kind != SourceKind::Plain {
                return Err(RenderError::FilterNotPlain {
                    path: display_path(path),
                    kind: match kind {
                        SourceKind::Kustomize => "kustomization",
                        SourceKind::Helm => "Helm chart",
                        _ => "single file",
                    },
                });
            }
            let manifests = match kind {
                SourceKind::File => plain::read_file(path)?,
                SourceKind::Plain => plain::read_dir(path, request.files)?,
                SourceKind::Kustomize => external::kustomize(path)?,
                SourceKind::Helm => external::helm(
                    path,
                    request.helm,
                    request.name,
                    request.namespace,
                    request.capabilities,
                )?,
                SourceKind::Stdin => unreachable!("detect never answers stdin"),
            };
            Ok((kind, manifests))
        }
    }
}

/// A path as the user should see it: relative to the root of the revision it was read from
/// (`--repo`, `--ref`, rollback), else to the current directory when below it.
pub fn display_path(path: &Path) -> String {
    let shown = crate::source::within_snapshot(path)
        .or_else(|| {
            std::env::current_dir()
                .ok()
                .and_then(|cwd| path.strip_prefix(&cwd).ok().map(Path::to_path_buf))
        })
        .unwrap_or_else(|| path.to_path_buf());
    let shown: PathBuf = shown
        .components()
        .filter(|c| !matches!(c, std::path::Component::CurDir))
        .collect();
    let text = shown.to_string_lossy();
    if text.is_empty() {
        ".".to_owned()
    } else {
        text.into_owned()
    }
}

fn io_error(path: &Path, error: &std::io::Error) -> RenderError {
    RenderError::Io {
        path: display_path(path),
        message: error.to_string(),
    }
}

/// Decodes UTF-8, or says on which line the first invalid byte sits.
fn utf8(bytes: Vec<u8>, file: &str) -> Result<String, RenderError> {
    String::from_utf8(bytes).map_err(|e| {
        let offset = e.utf8_error().valid_up_to();
        let line = 1 + e.as_bytes()[..offset]
            .iter()
            .filter(|&&b| b == b'\n')
            .count();
        RenderError::NotUtf8 {
            file: file.to_owned(),
            line,
            offset,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_parse_error_is_printed_once_in_an_error_chain() {
        let parse = manifest::parse_stream("a: [\n", "x.yaml").unwrap_err();
        let error = anyhow::Error::from(RenderError::from(parse)).context("rendering target t");
        let text = format!("{error:#}");
        assert_eq!(text.matches("x.yaml:").count(), 1, "{text}");
    }
}
