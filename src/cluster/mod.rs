//! Cluster layer: the only module that talks to an API server.
//!
//! Connection (kubeconfig, context, in-cluster), errors people can act on, discovery once per
//! run, and the reads and server-side applies that planning and applying need.

pub mod alternatives;
mod client;
pub mod discovery;
mod error;
mod exec_auth;
mod kubeconfig;
pub mod lease;
pub mod objects;
pub mod retry;
mod send;

pub use client::{Cluster, Connection, Pool, DEFAULT_CONCURRENCY};
pub use discovery::{Discovery, ResourceInfo};
pub use error::{ClusterError, Operation};
