//! Shared test harness for gitops' integration tests.
//!
//! Every integration test file uses it with `mod common;`. The control plane
//! is a real kube-apiserver (see `scripts/testenv`), found through
//! [`cluster::testenv`]; [`kubelet`] stands in for the kubelet that this
//! control plane does not have; [`cli`] runs the gitops binary.
//!
//! Each test binary uses only part of this module, hence the `dead_code`
//! allowance.
#![allow(dead_code, unused_imports)]

pub mod apiserver;
pub mod app;
pub mod cli;
pub mod cluster;
pub mod git;
pub mod http_proxy;
pub mod inventory;
pub mod kubectl;
pub mod kubelet;
pub mod proxy;
pub mod schema;
pub mod webhook;

pub use cluster::{delete_namespace, testenv, unique_name, unique_namespace, wait_for, TestEnv};
pub use kubelet::{mark_pods_ready, KubeletStandIn, PodEndings, PodFinisher};
