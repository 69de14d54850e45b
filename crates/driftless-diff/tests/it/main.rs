//! Integration tests of driftless-diff: plans of realistic objects, their output, and
//! the invariants every plan keeps.

// Test helpers unwrap freely: a failure is a failed test. `json!` values read best
// passed by value.
#![allow(clippy::unwrap_used, clippy::needless_pass_by_value)]

mod output;
mod properties;
mod realistic;
