//! Plain manifests: a single file, or a directory read recursively in lexical order.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde_json::Value;

use super::glob::FileFilter;
use super::manifest::{expand_document, parse_stream, Manifest, ParseError};
use super::{display_path, io_error, kustomization_file, utf8, RenderError};
use crate::yaml::Document;

/// Reads one file as it is: JSON when it ends in `.json`, else a YAML stream.
pub fn read_file(path: &Path) -> Result<Vec<Manifest>, RenderError> {
    let bytes = std::fs::read(path).map_err(|e| io_error(path, &e))?;
    let file = display_path(path);
    let mut text = utf8(bytes, &file)?;
    // A SOPS-encrypted file is read as its plaintext, which stays in memory.
    if super::sops::is_encrypted(&text) {
        text = super::sops::decrypt(path, &text)?;
    }
    if has_extension(path, &["json"]) {
        Ok(parse_json(&text, &file)?)
    } else {
        Ok(parse_stream(&text, &file)?)
    }
}

/// Reads every `*.yaml`, `*.yml` and `*.json` below `root` that `filter` selects, skipping
/// hidden entries.
pub fn read_dir(root: &Path, filter: &FileFilter) -> Result<Vec<Manifest>, RenderError> {
    let mut files = Vec::new();
    let mut others = Vec::new();
    let mut visited = HashSet::new();
    let walk = Walk { root, filter };
    walk.collect_files(root, &mut visited, &mut files, &mut others)?;
    // Sources of a tool gitops does not run (jsonnet, CUE, templates) but no manifest: say so
    // rather than render nothing. Other files (a README left when every manifest was removed)
    // keep it an empty render, which apply refuses without --allow-empty.
    if files.is_empty() && !others.is_empty() {
        let found: Vec<String> = others.iter().take(3).map(|p| display_path(p)).collect();
        return Err(RenderError::NoManifests {
            path: display_path(root),
            found: found.join(", "),
        });
    }
    // Files are read in parallel chunks (each SOPS file costs a sops process), then joined in
    // order; the first error in file order is the one reported.
    let workers = std::thread::available_parallelism()
        .map_or(2, |n| n.get() * 2)
        .clamp(1, 8);
    let chunk = files.len().div_ceil(workers).max(1);
    let results: Vec<Result<Vec<Manifest>, RenderError>> = std::thread::scope(|scope| {
        let handles: Vec<_> = files
            .chunks(chunk)
            .map(|part| scope.spawn(move || part.iter().map(|f| read_file(f)).collect::<Vec<_>>()))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| {
                h.join().unwrap_or_else(|_| {
                    vec![Err(RenderError::Io {
                        path: display_path(root),
                        message: "a reader thread stopped unexpectedly".into(),
                    })]
                })
            })
            .collect()
    });
    let mut manifests = Vec::new();
    for result in results {
        manifests.extend(result?);
    }
    Ok(manifests)
}

/// A directory target's walk: its root and the files it selects.
struct Walk<'a> {
    root: &'a Path,
    filter: &'a FileFilter,
}

impl Walk<'_> {
    /// The path relative to the root, `/`-separated, for the globs.
    fn relative(&self, path: &Path) -> String {
        let relative = path.strip_prefix(self.root).unwrap_or(path);
        relative
            .components()
            .map(|c| c.as_os_str().to_string_lossy())
            .collect::<Vec<_>>()
            .join("/")
    }

    fn collect_files(
        &self,
        dir: &Path,
        visited: &mut HashSet<PathBuf>,
        files: &mut Vec<PathBuf>,
        others: &mut Vec<PathBuf>,
    ) -> Result<(), RenderError> {
        let root = self.root;
        let canonical = dir.canonicalize().map_err(|e| io_error(dir, &e))?;
        if !visited.insert(canonical.clone()) {
            return Err(RenderError::SymlinkLoop {
                path: display_path(dir),
                target: display_path(&canonical),
            });
        }
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| io_error(dir, &e))?
            .map(|entry| entry.map(|e| e.path()))
            .collect::<Result<_, _>>()
            .map_err(|e| io_error(dir, &e))?;
        entries.sort();
        for path in entries {
            let hidden = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if hidden {
                continue;
            }
            // metadata() follows symbolic links, so linked directories are read too.
            let meta = std::fs::metadata(&path).map_err(|e| io_error(&path, &e))?;
            if meta.is_dir() {
                if !self.filter.enters_dir(&self.relative(&path)) {
                    continue;
                }
                reject_nested_app(root, &path)?;
                self.collect_files(&path, visited, files, others)?;
            } else if !self.filter.selects_file(&self.relative(&path)) {
                continue;
            } else if has_extension(&path, &["yaml", "yml", "json"]) && !is_config_file(&path) {
                files.push(path);
            } else if has_extension(&path, UNSUPPORTED_SOURCES) {
                others.push(path);
            }
        }
        visited.remove(&canonical);
        Ok(())
    }
}

/// Extensions of config sources gitops does not render.
const UNSUPPORTED_SOURCES: &[&str] = &[
    "jsonnet",
    "libsonnet",
    "cue",
    "tpl",
    "tmpl",
    "j2",
    "jinja",
    "jinja2",
];

/// A kustomization or chart below a plain directory would be read as raw templates.
fn reject_nested_app(root: &Path, dir: &Path) -> Result<(), RenderError> {
    let kind = if kustomization_file(dir).is_some() {
        "kustomization"
    } else if dir.join("Chart.yaml").is_file() {
        "Helm chart"
    } else {
        return Ok(());
    };
    Err(RenderError::NestedApp {
        path: display_path(dir),
        kind,
        root: display_path(root),
    })
}

/// gitops.yaml configures gitops; it is not a manifest, also when it sits in a target's directory.
fn is_config_file(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n == crate::names::CONFIG_FILE_NAME)
}

fn has_extension(path: &Path, extensions: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| extensions.iter().any(|x| e.eq_ignore_ascii_case(x)))
}

/// A JSON file holds one object (or a List); several concatenated values are accepted too.
fn parse_json(text: &str, file: &str) -> Result<Vec<Manifest>, ParseError> {
    let mut manifests = Vec::new();
    let mut stream = serde_json::Deserializer::from_str(text).into_iter::<Value>();
    let mut index = 0;
    loop {
        let start = stream.byte_offset();
        let Some(value) = stream.next() else {
            return Ok(manifests);
        };
        let value = value.map_err(|e| ParseError {
            file: file.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        index += 1;
        let skipped = &text[start..stream.byte_offset()];
        let leading_newlines = skipped.len() - skipped.trim_start().len();
        let line = 1
            + text[..start].matches('\n').count()
            + skipped[..leading_newlines].matches('\n').count();
        let document = Document { value, index, line };
        expand_document(document, file, &mut manifests)?;
    }
}
