//! Report stage: plans as text (terminal and CI logs), JSON (machines) and Markdown (PR
//! comments, job summaries). Every format prints the same masked diffs.

pub mod json;
pub mod markdown;
pub mod progress;
pub mod table;
pub mod text;

/// One `  - item` line per item, for error messages that list several things.
pub fn bullets<T: std::fmt::Display>(items: &[T]) -> String {
    items
        .iter()
        .map(|item| format!("  - {item}"))
        .collect::<Vec<_>>()
        .join("\n")
}
