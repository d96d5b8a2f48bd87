//! gitops: render Kubernetes config kept in Git, plan it against the live cluster, apply it.
//!
//! Stages, each a module handing the next a plain value:
//! cli → config/target → source → render (manifests with their origin) → validate + order →
//! report. See docs/architecture.md.

pub mod apply;
pub mod cli;
pub mod clock;
pub mod cluster;
pub mod commands;
pub mod config;
pub mod exit;
pub mod inventory;
pub mod kinds;
pub mod log;
pub mod mask;
pub mod plan;
pub mod render;
pub mod report;
pub mod source;
pub mod target;
pub mod yaml;
