//! Integration tests against a real registry (Debian's `docker-registry` on
//! 127.0.0.1) and real tools (skopeo, GNU tar, git).
// Helpers outside `#[test]` functions fail loudly too.
#![allow(clippy::unwrap_used)]

mod auth;
mod errors;
mod interop;
mod roundtrip;
mod support;
mod tamper;
