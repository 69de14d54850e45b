//! Integration tests of driftless-sops against the real `sops` and `age-keygen`.

#![allow(clippy::unwrap_used)]

mod oracle;
mod render;
