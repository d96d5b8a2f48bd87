//! A Helm target's values files: the key gitops.yaml's `promote.images` maps to an image is
//! set to A's tag, in the last values file that has it (the one that wins).

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::edit::{self, Splice};
use super::{Destination, FileEdit, Move, PromoteError};
use crate::compare::images::ImageRef;
use crate::render::Manifest;
use crate::yaml::locate::{scalar_text, Step, Style};

pub fn edits(
    b: &Destination<'_>,
    found: &[(Move, &Manifest, String)],
) -> Result<Vec<FileEdit>, PromoteError> {
    // Values key → the tag it gets.
    let mut keys: BTreeMap<String, String> = BTreeMap::new();
    for (m, _, _) in found {
        let workload = m.workload.rsplit('/').next().unwrap_or_default();
        let to = ImageRef::parse(&m.to);
        let key = [
            m.container.as_str(),
            workload,
            ImageRef::parse(&m.from).short_name(),
        ]
        .iter()
        .find_map(|name| b.mapping.get(*name))
        .ok_or_else(|| PromoteError::NoMapping {
            b: b.name.to_owned(),
            workload: m.workload.clone(),
            container: m.container.clone(),
        })?;
        let Some(tag) = to.tag.clone() else {
            return Err(PromoteError::Unsupported(format!(
                "{} runs {} by digest only, and a values key takes a tag: promote it by hand",
                m.container, m.to
            )));
        };
        if let Some(other) = keys.get(key).filter(|t| **t != tag) {
            return Err(PromoteError::AmbiguousSource {
                a: "A".into(),
                b: b.name.to_owned(),
                repository: format!("values key {key}"),
                versions: vec![other.clone(), tag],
            });
        }
        keys.insert(key.clone(), tag);
    }
    if keys.is_empty() {
        return Ok(Vec::new());
    }
    if b.values.is_empty() {
        return Err(PromoteError::KeyMissing {
            b: b.name.to_owned(),
            key: keys.keys().next().cloned().unwrap_or_default(),
            files: vec!["(the target has no helm.values files)".into()],
        });
    }
    let mut files: Vec<(PathBuf, String, Vec<Splice>)> = Vec::new();
    for file in b.values {
        let path = b.path.join(file);
        let text = edit::read(&path)?;
        files.push((path, text, Vec::new()));
    }
    for (key, tag) in &keys {
        let steps: Vec<Step> = key.split('.').map(|k| Step::Key(k.to_owned())).collect();
        let mut set = false;
        for (path, text, splices) in files.iter_mut().rev() {
            let located = edit::parse(path, text)?;
            let Some(scalar) = located.scalar(1, &steps) else {
                continue;
            };
            if scalar.style == Style::Block {
                return Err(PromoteError::File {
                    file: path.display().to_string(),
                    message: format!("{key} is a block scalar; write it on one line"),
                });
            }
            if scalar.value != *tag {
                splices.push(Splice {
                    start: scalar.start,
                    end: scalar.end,
                    text: scalar_text(tag, scalar.style),
                });
            }
            set = true;
            break;
        }
        if !set {
            return Err(PromoteError::KeyMissing {
                b: b.name.to_owned(),
                key: key.clone(),
                files: b.values.to_vec(),
            });
        }
    }
    Ok(files
        .into_iter()
        .filter(|(_, _, splices)| !splices.is_empty())
        .map(|(file, before, splices)| FileEdit {
            after: edit::apply(&before, splices),
            file,
            before,
        })
        .collect())
}
