//! Plain manifests: the container's `image:` in the file and document the workload came from.

use std::collections::BTreeMap;
use std::path::PathBuf;

use super::edit::{self, Splice};
use super::{FileEdit, Move, PromoteError};
use crate::render::Manifest;
use crate::yaml::locate::{scalar_text, Step, Style};

pub fn edits(found: &[(Move, &Manifest, String)]) -> Result<Vec<FileEdit>, PromoteError> {
    let mut by_file: BTreeMap<PathBuf, Vec<(usize, Vec<Step>, String)>> = BTreeMap::new();
    for (m, manifest, pointer) in found {
        let origin = &manifest.origin;
        if origin.via.is_some() {
            return Err(PromoteError::Unsupported(format!(
                "{} was made by {}, not read from a file: promote it by hand",
                m.workload,
                origin.via.unwrap_or("a renderer")
            )));
        }
        let mut steps = Vec::new();
        if let Some(item) = origin.item {
            steps.push(Step::Key("items".into()));
            steps.push(Step::Index(item.saturating_sub(1)));
        }
        steps.extend(pointer.split('/').skip(1).map(|token| {
            let token = token.replace("~1", "/").replace("~0", "~");
            match token.parse::<usize>() {
                Ok(i) => Step::Index(i),
                Err(_) => Step::Key(token),
            }
        }));
        by_file
            .entry(PathBuf::from(&origin.file))
            .or_default()
            .push((origin.document, steps, m.to.clone()));
    }
    let mut edits = Vec::new();
    for (file, wanted) in by_file {
        let text = edit::read(&file)?;
        let located = edit::parse(&file, &text)?;
        let mut splices = Vec::new();
        for (document, steps, to) in wanted {
            let scalar = located
                .scalar(document, &steps)
                .filter(|s| s.style != Style::Block)
                .ok_or_else(|| PromoteError::File {
                    file: file.display().to_string(),
                    message: format!("cannot find the image to edit in document {document}"),
                })?;
            splices.push(Splice {
                start: scalar.start,
                end: scalar.end,
                text: scalar_text(&to, scalar.style),
            });
        }
        edits.push(FileEdit {
            after: edit::apply(&text, splices),
            file,
            before: text,
        });
    }
    Ok(edits)
}
