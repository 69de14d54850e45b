//! Integration tests against real servers on 127.0.0.1: local paths, `git daemon`,
//! `git http-backend` and `sshd`.
#![allow(clippy::unwrap_used)] // tests unwrap

mod cache;
mod common;
mod errors;
mod progress;
mod refs;
mod tree;
