//! A rendered Kubernetes object and where it came from.

use std::fmt;

use serde_json::Value;

use crate::kinds;
use crate::yaml::{load_documents, Document};

/// Where an object was written: the file (or renderer output), document and line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Origin {
    /// Path relative to where gitops runs, or a renderer's name for generated output.
    pub file: String,
    /// 1-based document index within the file or stream.
    pub document: usize,
    /// 1-based line where the object starts.
    pub line: usize,
    /// 1-based position inside a `kind: List`.
    pub item: Option<usize>,
    /// The renderer whose output this is (`helm`, `kustomize`); then `line` counts in that
    /// output, which the user never sees, so it is not shown, unless `in_source`.
    pub via: Option<&'static str>,
    /// `file`, `document` and `line` are the object's own source, which the renderer then
    /// transformed (kustomize's origin annotations); document 0: the file only.
    pub in_source: bool,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.via, self.in_source) {
            (Some(tool), true) if self.document == 0 => {
                return write!(f, "{} (via {tool})", self.file)
            }
            (Some(tool), false) => {
                write!(f, "{} (via {tool}, document {}", self.file, self.document)?
            }
            _ => write!(f, "{}:{} (document {}", self.file, self.line, self.document)?,
        }
        if let Some(item) = self.item {
            write!(f, ", list item {item}")?;
        }
        match (self.via, self.in_source) {
            (Some(tool), true) => write!(f, ", via {tool})"),
            _ => f.write_str(")"),
        }
    }
}

/// One object of a render, as written, with its origin.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest {
    pub object: Value,
    pub origin: Origin,
}

pub use crate::identity::ObjectRef;

impl Manifest {
    fn str_field(&self, pointer: &str) -> Option<&str> {
        self.object
            .pointer(pointer)
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
    }

    pub fn api_version(&self) -> Option<&str> {
        self.str_field("/apiVersion")
    }

    pub fn kind(&self) -> Option<&str> {
        self.str_field("/kind")
    }

    pub fn name(&self) -> Option<&str> {
        self.str_field("/metadata/name")
    }

    pub fn namespace(&self) -> Option<&str> {
        self.str_field("/metadata/namespace")
    }

    pub fn group(&self) -> &str {
        kinds::group_of(self.api_version().unwrap_or(""))
    }

    pub fn annotation(&self, key: &str) -> Option<&str> {
        self.object
            .get("metadata")?
            .get("annotations")?
            .get(key)?
            .as_str()
    }

    /// Identity with the namespace as written (None when the object names none).
    pub fn object_ref(&self) -> ObjectRef {
        ObjectRef {
            group: self.group().to_owned(),
            kind: self.kind().unwrap_or_default().to_owned(),
            namespace: self.namespace().map(str::to_owned),
            name: self.name().unwrap_or_default().to_owned(),
        }
    }

    /// A short label for messages: `apps/v1 Deployment shop/web`.
    pub fn describe(&self) -> String {
        let api = self.api_version().unwrap_or("<no apiVersion>");
        let kind = self.kind().unwrap_or("<no kind>");
        let name = self.name().unwrap_or("<no name>");
        crate::identity::describe(api, kind, self.namespace(), name)
    }
}

/// A document that could not be read as a Kubernetes object.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{file}:{line}:{column}: {message}")]
pub struct ParseError {
    pub file: String,
    pub line: usize,
    pub column: usize,
    pub message: String,
}

/// Reads a YAML (or JSON) stream into manifests, expanding `kind: List` documents.
pub fn parse_stream(text: &str, file: &str) -> Result<Vec<Manifest>, ParseError> {
    let documents = load_documents(text).map_err(|e| ParseError {
        file: file.to_owned(),
        line: e.line,
        column: e.column,
        message: e.message,
    })?;
    let mut manifests = Vec::with_capacity(documents.len());
    for document in documents {
        expand_document(document, file, &mut manifests)?;
    }
    Ok(manifests)
}

/// Adds the object (or the items of a List) of one document to `out`.
pub(crate) fn expand_document(
    document: Document,
    file: &str,
    out: &mut Vec<Manifest>,
) -> Result<(), ParseError> {
    let origin = Origin {
        file: file.to_owned(),
        document: document.index,
        line: document.line,
        item: None,
        via: None,
        in_source: false,
    };
    let not_an_object = |what: &str| {
        ParseError {
        file: file.to_owned(),
        line: document.line,
        column: 1,
        message: format!(
            "document {} is {what}, not a Kubernetes object (a mapping with apiVersion, kind and metadata)",
            document.index
        ),
    }
    };
    match document.value {
        Value::Object(map) if is_list(&map) => {
            let Some(Value::Array(items)) = map.get("items") else {
                unreachable!("is_list checked items");
            };
            for (i, item) in items.iter().enumerate() {
                if !item.is_object() {
                    return Err(not_an_object(&format!(
                        "a List whose item {} is not a mapping",
                        i + 1
                    )));
                }
                out.push(Manifest {
                    object: item.clone(),
                    origin: Origin {
                        item: Some(i + 1),
                        ..origin.clone()
                    },
                });
            }
            Ok(())
        }
        object @ Value::Object(_) => {
            out.push(Manifest { object, origin });
            Ok(())
        }
        Value::Array(_) => Err(not_an_object("a list")),
        _ => Err(not_an_object("a plain value")),
    }
}

/// `kind: List` and typed lists such as `ConfigMapList`, as kubectl expands them.
fn is_list(map: &serde_json::Map<String, Value>) -> bool {
    let kind = map.get("kind").and_then(Value::as_str).unwrap_or("");
    kind.ends_with("List") && matches!(map.get("items"), Some(Value::Array(_)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expands_lists_and_keeps_origins() {
        let text = "apiVersion: v1\nkind: List\nitems:\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: a}}\n- {apiVersion: v1, kind: ConfigMap, metadata: {name: b}}\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: s}\n";
        let manifests = parse_stream(text, "x.yaml").unwrap();
        let names: Vec<_> = manifests.iter().map(|m| m.name().unwrap()).collect();
        assert_eq!(names, ["a", "b", "s"]);
        assert_eq!(
            manifests[1].origin.to_string(),
            "x.yaml:1 (document 1, list item 2)"
        );
        assert_eq!(manifests[2].origin.to_string(), "x.yaml:7 (document 2)");
    }

    #[test]
    fn rejects_documents_that_are_not_objects() {
        let err = parse_stream("a: 1\n---\n- x\n", "y.yaml").unwrap_err();
        assert_eq!(
            (err.line, err.message.contains("document 2 is a list")),
            (3, true)
        );
    }
}
