//! YAML as Kubernetes tools read and write it: YAML 1.1 scalars, line numbers, safe limits.

pub mod emit;
pub mod load;
pub mod locate;
pub mod resolve;

pub use emit::{to_string, write_document};
pub use load::{load_documents, Document, YamlError};
