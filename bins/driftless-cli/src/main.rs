//! The `driftless` command: render, diff, apply and fetch desired state.
//!
//! Argument parsing and wiring only; the work is done by the `driftless` crate.

use std::io::IsTerminal as _;
use std::process::ExitCode;

use clap::Parser;

/// jemalloc instead of the system allocator, built with one arena for every thread and
/// a background thread that gives freed pages back within a second (`.cargo/config.toml`
/// says why). glibc's malloc held about twice the live heap at 50,000 objects.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

mod args;
mod commands;
mod output;

fn main() -> ExitCode {
    let cli = args::Cli::parse();
    let progress = matches!(
        cli.command,
        args::Command::Fetch(_) | args::Command::Push(_)
    );
    init_logging(cli.verbose, progress);
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => return output::report_error(&error.into()),
    };
    match runtime.block_on(commands::run(cli.command)) {
        Ok(code) => code,
        Err(error) => output::report_error(&error),
    }
}

/// Logs go to stderr, so stdout stays clean for YAML and JSON; colour only on a terminal
/// and without `NO_COLOR`. `RUST_LOG` overrides.
/// Long-running commands show the sources' progress events by default.
fn init_logging(verbose: u8, progress: bool) {
    let default = match verbose {
        0 if progress => "warn,driftless_source_git=info,driftless_source_oci=info,driftless=info",
        0 => "warn",
        1 => "info,driftless=info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(output::colour(std::io::stderr().is_terminal()))
        .with_target(false)
        .init();
}
