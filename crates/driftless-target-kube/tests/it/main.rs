//! Tests of the Kubernetes target against the real kube-apiserver of the test run
//! (`KUBECONFIG`, see `driftless_testkit::kube`), and an HTTP-level mock for what a
//! real server cannot be made to do.
#![allow(clippy::unwrap_used)] // tests fail loudly

mod apply;
mod apps;
mod client;
mod crd;
mod dry_run;
mod errors;
mod health;
mod immutable;
mod inventory;
mod ownership;
mod prune;
mod support;
