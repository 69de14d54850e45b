//! Integration tests of the directory target, on real temporary directories.
#![allow(clippy::unwrap_used, clippy::missing_panics_doc, unreachable_pub)]

mod atomic;
mod common;
mod crash;
mod drift;
mod dry_run;
mod layout;
mod lock;
mod names;
mod props;
mod prune;
mod reapply;
mod shared;
mod with_differ;
