//! Report stage: plans as text (terminal and CI logs), JSON (machines) and Markdown (PR
//! comments, job summaries). Every format prints the same masked diffs.

pub mod json;
pub mod markdown;
pub mod progress;
pub mod table;
pub mod text;
