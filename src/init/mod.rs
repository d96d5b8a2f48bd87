//! `gitops init`: the deployable directories of a repository, proposed as targets (issue 21).
//! Kustomizations that no other kustomization uses (bases and Components are not targets),
//! Helm charts (one target per `values-<env>.yaml`; charts vendored under another chart's
//! `charts/` are not targets), and directories of plain manifests outside both.

mod discover;
mod propose;

pub use discover::{discover, Found, FoundKind};
pub use propose::{gitops_yaml, propose, Proposal, Proposed};
