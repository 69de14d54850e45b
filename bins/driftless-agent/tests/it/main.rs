//! End-to-end tests of `driftless-agent`: the real binary with local and git-over-HTTP
//! sources, the directory target, and (for leader election) the real API server of the
//! test run.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc)]

mod config_errors;
mod deploy;
mod git;
mod leader;
mod logs;
mod reload;
mod secrets;
mod shard;
mod support;
mod sync;
mod webhooks;
