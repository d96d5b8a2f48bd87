//! A kustomize overlay's `images:` entries: `newTag` and `digest` set on the entry for the
//! image (by `name` or `newName`), or a new entry added. Only the overlay's own file is edited,
//! never a base another environment shares.

use std::path::{Path, PathBuf};

use super::edit::{self, Splice};
use super::{Destination, FileEdit, Move, PromoteError};
use crate::compare::images::ImageRef;
use crate::render::Manifest;
use crate::yaml::locate::{scalar_text, Located, Step, Style};

pub fn edits(
    b: &Destination<'_>,
    found: &[(Move, &Manifest, String)],
) -> Result<Vec<FileEdit>, PromoteError> {
    if found.is_empty() {
        return Ok(Vec::new());
    }
    let file = kustomization_file(b.path)?;
    let text = edit::read(&file)?;
    let located = edit::parse(&file, &text)?;
    let mut splices = Vec::new();
    let mut added = Vec::new();
    let mut done: Vec<String> = Vec::new();
    for (m, _, _) in found {
        let to = ImageRef::parse(&m.to);
        if done.contains(&to.repository) {
            continue;
        }
        done.push(to.repository.clone());
        match entry_for(&located, &to.repository) {
            Some(index) => {
                for (key, value) in [
                    ("newTag", to.tag.as_deref()),
                    ("digest", to.digest.as_deref()),
                ] {
                    splices.extend(set_key(&file, &text, &located, index, key, value)?);
                }
            }
            None => added.push(to),
        }
    }
    if !added.is_empty() {
        splices.push(add_entries(&file, &text, &located, &added)?);
    }
    let after = edit::apply(&text, splices);
    Ok(vec![FileEdit {
        file,
        before: text,
        after,
    }])
}

fn kustomization_file(dir: &Path) -> Result<PathBuf, PromoteError> {
    ["kustomization.yaml", "kustomization.yml", "Kustomization"]
        .iter()
        .map(|n| dir.join(n))
        .find(|f| f.is_file())
        .ok_or_else(|| PromoteError::File {
            file: dir.display().to_string(),
            message: "no kustomization.yaml here".into(),
        })
}

fn path(parts: &[&str], index: Option<usize>) -> Vec<Step> {
    let mut steps = vec![Step::Key("images".into())];
    if let Some(i) = index {
        steps.push(Step::Index(i));
    }
    steps.extend(parts.iter().map(|p| Step::Key((*p).into())));
    steps
}

/// The `images:` entry that sets this repository: by `newName`, else by `name`.
fn entry_for(located: &Located, repository: &str) -> Option<usize> {
    let count = located
        .scalars
        .iter()
        .filter_map(|s| match s.path.as_slice() {
            [Step::Key(images), Step::Index(i), ..] if images == "images" && s.document == 1 => {
                Some(*i + 1)
            }
            _ => None,
        })
        .max()
        .unwrap_or(0);
    let named = |key: &str, i: usize| {
        located
            .scalar(1, &path(&[key], Some(i)))
            .map(|s| s.value.as_str())
    };
    (0..count)
        .find(|i| named("newName", *i) == Some(repository))
        .or_else(|| {
            (0..count)
                .find(|i| named("newName", *i).is_none() && named("name", *i) == Some(repository))
        })
}

/// Sets (or drops, for None) `key` of entry `index`.
fn set_key(
    file: &Path,
    text: &str,
    located: &Located,
    index: usize,
    key: &str,
    value: Option<&str>,
) -> Result<Option<Splice>, PromoteError> {
    let existing = located.scalar(1, &path(&[key], Some(index)));
    let item = located.collection(1, &path(&[], Some(index)));
    let flow = item.is_some_and(|c| c.flow);
    let unsupported = |what: &str| {
        PromoteError::File {
        file: file.display().to_string(),
        message: format!("images entry {} is written in a way promote does not edit ({what}); write it as a block mapping", index + 1),
    }
    };
    match (existing, value) {
        (Some(s), Some(v)) if s.value == v => Ok(None),
        (Some(s), Some(v)) if s.style != Style::Block => Ok(Some(Splice {
            start: s.start,
            end: s.end,
            text: scalar_text(v, s.style),
        })),
        (Some(_), Some(_)) => Err(unsupported("a block scalar")),
        (Some(s), None) if !flow => {
            let (start, end) = edit::whole_line(text, s.start);
            Ok(Some(Splice {
                start,
                end,
                text: String::new(),
            }))
        }
        (Some(_), None) => Err(unsupported(&format!("a {key} to remove inside {{…}}"))),
        (None, None) => Ok(None),
        (None, Some(v)) => {
            let name = located
                .scalar(1, &path(&["name"], Some(index)))
                .ok_or_else(|| unsupported("no name"))?;
            if flow {
                let item = item.ok_or_else(|| unsupported("no entry"))?;
                let close = item.end - 1;
                return Ok(Some(Splice {
                    start: close,
                    end: close,
                    text: format!(", {key}: {}", scalar_text(v, Style::Plain)),
                }));
            }
            let column = edit::key_column(text, name.start, "name")
                .ok_or_else(|| unsupported("name not on its key's line"))?;
            let at = edit::line_end(text, name.end);
            Ok(Some(Splice {
                start: at,
                end: at,
                text: format!(
                    "\n{}{key}: {}",
                    " ".repeat(column),
                    scalar_text(v, Style::Plain)
                ),
            }))
        }
    }
}

/// New `images:` entries: appended to the list, or a new list at the end of the file.
fn add_entries(
    file: &Path,
    text: &str,
    located: &Located,
    added: &[ImageRef],
) -> Result<Splice, PromoteError> {
    let entry = |indent: &str, image: &ImageRef| {
        let mut out = format!(
            "{indent}- name: {}\n",
            scalar_text(&image.repository, Style::Plain)
        );
        if let Some(tag) = &image.tag {
            out.push_str(&format!(
                "{indent}  newTag: {}\n",
                scalar_text(tag, Style::Plain)
            ));
        }
        if let Some(digest) = &image.digest {
            out.push_str(&format!(
                "{indent}  digest: {}\n",
                scalar_text(digest, Style::Plain)
            ));
        }
        out
    };
    match located.collection(1, &path(&[], None)) {
        Some(list) if list.flow || !list.sequence => Err(PromoteError::File {
            file: file.display().to_string(),
            message:
                "`images:` is not a block list; write it as one (`images:` then `- name: …` lines)"
                    .into(),
        }),
        Some(list) => {
            // The items' own indentation: the leading spaces of the first item's line (`- `
            // may sit at column 0 under `images:`).
            let first = edit::line_start(text, list.start);
            let leading = text[first..].len() - text[first..].trim_start_matches(' ').len();
            let indent = " ".repeat(leading);
            let at = edit::line_end(text, list.end);
            let new: String = added.iter().map(|i| entry(&indent, i)).collect();
            // After the list's last line.
            let (at, lead) = if at < text.len() {
                (at + 1, "")
            } else {
                (at, "\n")
            };
            Ok(Splice {
                start: at,
                end: at,
                text: format!("{lead}{new}"),
            })
        }
        None => {
            let lead = if text.is_empty() || text.ends_with('\n') {
                ""
            } else {
                "\n"
            };
            let new: String = added.iter().map(|i| entry("  ", i)).collect();
            Ok(Splice {
                start: text.len(),
                end: text.len(),
                text: format!("{lead}images:\n{new}"),
            })
        }
    }
}
