//! Shared helpers for the benchmarks in `benches/benches/`.
//!
//! Every benchmark measures driftless and the reference tool (git, kubectl, …) on the
//! same input in the same run, so the ratio is what matters, not the machine.

use std::process::Command;
use std::time::{Duration, Instant};

/// Runs a command to completion and returns how long it took; panics if it fails,
/// so a broken reference run never looks fast.
#[allow(clippy::missing_panics_doc)] // benchmarks fail loudly by design
pub fn time_command(command: &mut Command) -> Duration {
    let start = Instant::now();
    let output = command.output().expect("start the reference command");
    assert!(
        output.status.success(),
        "{command:?} failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    start.elapsed()
}
