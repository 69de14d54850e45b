//! Tests of the agent loop as a library: local sources into directory targets, the
//! loops, the HTTP API and its typed client.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod api;
mod auth;
#[cfg(feature = "kube")]
mod drift;
mod health;
mod history;
mod parity;
mod postbuild;
mod source_down;
mod support;
mod suspend;
