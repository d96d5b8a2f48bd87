//! Audit: figures computed from the recorded applies (docs/audit.md). Plain functions over the
//! history as read; nothing here talks to a cluster.

pub mod stats;
