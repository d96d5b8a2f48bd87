//! `gitops promote A B`: the edits that make B's source run A's images, for the workloads both
//! have, written where B's source sets them (a kustomize `images:` entry, a Helm values key, a
//! plain manifest's `image:`), keeping every other byte of the files (issue 18).

mod edit;
mod helm;
mod kustomize;
mod plain;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::compare::images::{container_images, ImageRef};
use crate::compare::pair;
use crate::render::{Manifest, SourceKind};

/// One container of B that gets A's image.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Move {
    /// B's workload, `Kind/namespace/name`.
    pub workload: String,
    pub container: String,
    /// B's image now, and what it becomes: B's repository with A's tag and digest.
    pub from: String,
    pub to: String,
}

impl Move {
    /// `web: 1.4.2 -> 1.5.0`
    pub fn line(&self) -> String {
        format!(
            "{}: {} -> {}",
            self.container,
            ImageRef::parse(&self.from).version(),
            ImageRef::parse(&self.to).version()
        )
    }
}

/// One file's text before and after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEdit {
    pub file: PathBuf,
    pub before: String,
    pub after: String,
}

/// What promote would do.
#[derive(Debug, Default)]
pub struct Promotion {
    pub moves: Vec<Move>,
    pub edits: Vec<FileEdit>,
}

/// Why nothing can be promoted as asked; nothing is written.
#[derive(Debug, thiserror::Error)]
pub enum PromoteError {
    #[error("not promotable: {b} has no workload {name}{}", if *.in_a { format!(" (only {} has it)", .a) } else { String::new() })]
    NoWorkload {
        a: String,
        b: String,
        name: String,
        in_a: bool,
    },
    #[error("{b} runs {repository} in two versions ({}): one edit cannot set both; promote them by hand or make them one", .versions.join(", "))]
    TwoVersions {
        b: String,
        repository: String,
        versions: Vec<String>,
    },
    #[error("{a} runs {repository} in two versions ({}), so which one {b} should get is not clear; promote with --image NAME", .versions.join(", "))]
    AmbiguousSource {
        a: String,
        b: String,
        repository: String,
        versions: Vec<String>,
    },
    #[error("target {b} is a Helm chart, and gitops.yaml does not say which values key holds the tag of {container} ({workload}): add `promote: {{images: {{{container}: image.tag}}}}` to the target (the key names a container, a workload or an image)")]
    NoMapping {
        b: String,
        workload: String,
        container: String,
    },
    #[error("the values key {key} (gitops.yaml promote.images of target {b}) is in none of its values files ({}): add it to one, or correct the mapping", .files.join(", "))]
    KeyMissing {
        b: String,
        key: String,
        files: Vec<String>,
    },
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("{0}")]
    Unsupported(String),
    #[error("{a} and {b} have no workload in common (their objects' names differ: a kustomize namePrefix or nameSuffix, or another Helm release name): nothing can be promoted; give both the same names (e.g. the same helm.releaseName), then see `gitops compare {a} {b}`")]
    NothingInCommon { a: String, b: String },
}

/// Where B's images are set.
pub struct Destination<'a> {
    pub name: &'a str,
    pub kind: SourceKind,
    /// The target's directory or file.
    pub path: &'a Path,
    /// Helm values files, relative to `path`.
    pub values: &'a [String],
    /// gitops.yaml `promote.images`: container, workload or image name → values key.
    pub mapping: &'a BTreeMap<String, String>,
    pub manifests: &'a [Manifest],
    pub default_namespace: &'a str,
}

/// A side's render.
pub struct Origin<'a> {
    pub name: &'a str,
    pub manifests: &'a [Manifest],
    pub default_namespace: &'a str,
}

/// The moves and the file edits that make them; `only` limits them to these containers,
/// workloads or images.
pub fn plan(
    a: &Origin<'_>,
    b: &Destination<'_>,
    only: &[String],
) -> Result<Promotion, PromoteError> {
    let pairing = pair::pair(
        pair::entries(a.manifests, a.default_namespace),
        pair::entries(b.manifests, b.default_namespace),
    );
    let matches = |name: &str, workload: &str, container: &str, images: &[&str]| {
        name == workload
            || name == container
            || images.iter().any(|i| {
                let r = ImageRef::parse(i);
                r.short_name() == name || r.repository == name
            })
    };
    for name in only {
        let in_pairs = pairing.pairs.iter().any(|(ea, eb)| {
            container_images(&eb.kind, eb.object)
                .iter()
                .chain(&container_images(&ea.kind, ea.object))
                .any(|c| matches(name, &eb.name, &c.container, &[&c.image]))
        });
        if !in_pairs {
            let in_a = pairing.only_in_a.iter().any(|e| {
                container_images(&e.kind, e.object)
                    .iter()
                    .any(|c| matches(name, &e.name, &c.container, &[&c.image]))
            });
            return Err(PromoteError::NoWorkload {
                a: a.name.to_owned(),
                b: b.name.to_owned(),
                name: name.clone(),
                in_a,
            });
        }
    }
    // Every container whose image differs, with where B keeps it.
    let mut found: Vec<(Move, &Manifest, String)> = Vec::new();
    for (ea, eb) in &pairing.pairs {
        let ia = container_images(&ea.kind, ea.object);
        for cb in container_images(&eb.kind, eb.object) {
            let Some(ca) = ia.iter().find(|c| c.container == cb.container) else {
                continue;
            };
            if ca.image == cb.image {
                continue;
            }
            if !only.is_empty()
                && !only
                    .iter()
                    .any(|n| matches(n, &eb.name, &cb.container, &[&ca.image, &cb.image]))
            {
                continue;
            }
            let (from, want) = (ImageRef::parse(&cb.image), ImageRef::parse(&ca.image));
            let to = ImageRef {
                repository: from.repository.clone(),
                tag: want.tag,
                digest: want.digest,
            };
            if to == from {
                // Only the repository differs: that is the environment's, not promoted.
                continue;
            }
            found.push((
                Move {
                    workload: eb.label(),
                    container: cb.container.clone(),
                    from: cb.image.clone(),
                    to: to.reference(),
                },
                eb.manifest,
                cb.pointer.clone(),
            ));
        }
    }
    // Workloads on both sides that pair with none: their names differ (a namePrefix, another
    // Helm release name), so nothing can be promoted, and saying "nothing to promote" would lie.
    let workloads = |entries: &[pair::Entry<'_>]| {
        entries
            .iter()
            .filter(|e| !container_images(&e.kind, e.object).is_empty())
            .count()
    };
    let paired_workloads = pairing
        .pairs
        .iter()
        .filter(|(_, eb)| !container_images(&eb.kind, eb.object).is_empty())
        .count();
    if paired_workloads == 0
        && workloads(&pairing.only_in_a) > 0
        && workloads(&pairing.only_in_b) > 0
    {
        return Err(PromoteError::NothingInCommon {
            a: a.name.to_owned(),
            b: b.name.to_owned(),
        });
    }
    check_one_version_per_repository(a.name, b.name, &found, b.manifests, b.default_namespace)?;
    let edits = match b.kind {
        SourceKind::Kustomize => kustomize::edits(b, &found)?,
        SourceKind::Helm => helm::edits(b, &found)?,
        SourceKind::Plain | SourceKind::File => plain::edits(&found)?,
        SourceKind::Stdin => {
            return Err(PromoteError::Unsupported(
                "B is read from stdin: promote edits files; name a target or a PATH".into(),
            ))
        }
    };
    for edit in &edits {
        // An encrypted file's MAC covers its plain fields too: an edit would break it.
        if crate::render::sops::is_encrypted(&edit.before) {
            return Err(PromoteError::File {
                file: edit.file.display().to_string(),
                message: "it is encrypted with SOPS, whose MAC covers this field too: edit it with `sops` (or move the image out of the encrypted file)".into(),
            });
        }
        // What is written must still read as YAML.
        if crate::yaml::locate::locate(&edit.after).is_err()
            || crate::yaml::load_documents(&edit.after).is_err()
        {
            return Err(PromoteError::File {
                file: edit.file.display().to_string(),
                message:
                    "the edit would not leave valid YAML; nothing written: make this change by hand"
                        .into(),
            });
        }
    }
    Ok(Promotion {
        moves: found.into_iter().map(|(m, _, _)| m).collect(),
        edits,
    })
}

/// A repository that B runs in two versions cannot take one edit, and A naming two versions of
/// one repository leaves B's choice unclear.
fn check_one_version_per_repository(
    a: &str,
    b: &str,
    found: &[(Move, &Manifest, String)],
    b_manifests: &[Manifest],
    b_namespace: &str,
) -> Result<(), PromoteError> {
    let mut in_b: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for entry in pair::entries(b_manifests, b_namespace) {
        for c in container_images(&entry.kind, entry.object) {
            let r = ImageRef::parse(&c.image);
            let versions = in_b.entry(r.repository.clone()).or_default();
            if !versions.contains(&r.version()) {
                versions.push(r.version());
            }
        }
    }
    let mut wanted: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (m, _, _) in found {
        let to = ImageRef::parse(&m.to);
        if let Some(versions) = in_b.get(&to.repository).filter(|v| v.len() > 1) {
            return Err(PromoteError::TwoVersions {
                b: b.to_owned(),
                repository: to.repository.clone(),
                versions: versions.clone(),
            });
        }
        let versions = wanted.entry(to.repository.clone()).or_default();
        if !versions.contains(&to.version()) {
            versions.push(to.version());
        }
    }
    if let Some((repository, versions)) = wanted.into_iter().find(|(_, v)| v.len() > 1) {
        return Err(PromoteError::AmbiguousSource {
            a: a.to_owned(),
            b: b.to_owned(),
            repository,
            versions,
        });
    }
    Ok(())
}
