//! Report stage: plans as text (terminal and CI logs), JSON (machines) and Markdown (PR
//! comments, job summaries). Every format prints the same masked diffs.

pub mod cause;
pub mod compare;
pub mod history;
pub mod hooks;
pub mod json;
pub mod markdown;
pub mod stats;
pub mod status;
pub mod summary;
pub mod table;
pub mod text;

/// The version of every JSON document gitops prints (docs/schema/): major.minor; within a
/// major version, fields are only added.
pub const SCHEMA_VERSION: &str = "1.0";

/// Writes a result to stdout. A reader that left (`gitops history | head`) gives a BrokenPipe
/// error, which main treats as success, instead of the panic `println!` would give.
pub fn write_stdout(text: &str) -> std::io::Result<()> {
    crate::log::to_stdout(text)
}
