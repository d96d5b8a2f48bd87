//! Byte-exact edits of a file's text: replace a span, insert after a line, drop a line.

use std::path::Path;

use super::PromoteError;
use crate::yaml::locate::{locate, Located};

/// Replace `start..end` with `text`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Splice {
    pub start: usize,
    pub end: usize,
    pub text: String,
}

/// `text` with every splice made (they must not overlap).
pub fn apply(text: &str, mut splices: Vec<Splice>) -> String {
    splices.sort_by_key(|s| std::cmp::Reverse((s.start, s.end)));
    let mut out = text.to_owned();
    for splice in splices {
        out.replace_range(splice.start..splice.end, &splice.text);
    }
    out
}

pub fn read(file: &Path) -> Result<String, PromoteError> {
    std::fs::read_to_string(file).map_err(|e| PromoteError::File {
        file: file.display().to_string(),
        message: format!("cannot read it: {e}"),
    })
}

pub fn parse(file: &Path, text: &str) -> Result<Located, PromoteError> {
    locate(text).map_err(|e| PromoteError::File {
        file: file.display().to_string(),
        message: e.to_string(),
    })
}

/// Where the line holding `at` ends (its newline, or the end of the text).
pub fn line_end(text: &str, at: usize) -> usize {
    text[at..].find('\n').map_or(text.len(), |i| at + i)
}

pub fn line_start(text: &str, at: usize) -> usize {
    text[..at].rfind('\n').map_or(0, |i| i + 1)
}

/// The column of `key:` on the line holding the value at `value_start` (block mappings write
/// key and value on one line).
pub fn key_column(text: &str, value_start: usize, key: &str) -> Option<usize> {
    let start = line_start(text, value_start);
    let prefix = &text[start..value_start];
    [
        format!("{key}:"),
        format!("\"{key}\":"),
        format!("'{key}':"),
    ]
    .iter()
    .filter_map(|k| prefix.rfind(k.as_str()))
    .max()
}

/// The whole line holding `at`, newline included: for dropping a `key: value` line.
pub fn whole_line(text: &str, at: usize) -> (usize, usize) {
    let end = line_end(text, at);
    (line_start(text, at), (end + 1).min(text.len()))
}
