//! The one identity of an object: group, kind, namespace and name, whatever version it is
//! served or listed under (kapp's UniqueResourceKey). Two manifests with the same identity are
//! duplicates; an inventory member and a rendered object with the same identity are the same
//! object.

use std::fmt;

/// Identity of an object: its group, kind, namespace and name (SPEC.md, Rendering). Prints as
/// `Kind.group ns/name`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ObjectRef {
    pub group: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl fmt::Display for ObjectRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = if self.group.is_empty() {
            self.kind.clone()
        } else {
            format!("{}.{}", self.kind, self.group)
        };
        match &self.namespace {
            Some(ns) => write!(f, "{kind} {ns}/{}", self.name),
            None => write!(f, "{kind} {}", self.name),
        }
    }
}

/// How messages name an object: `apps/v1 Deployment shop/web`, `v1 Namespace shop`.
pub fn describe(api_version: &str, kind: &str, namespace: Option<&str>, name: &str) -> String {
    match namespace {
        Some(ns) => format!("{api_version} {kind} {ns}/{name}"),
        None => format!("{api_version} {kind} {name}"),
    }
}
