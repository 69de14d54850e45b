//! `driftless-agent`: keeps the apps of a configuration file in sync, continuously.
//!
//! Argument parsing and wiring only: the agent loop, its HTTP API, leader election and
//! sharding are the `driftless-runtime` library.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use driftless_runtime::config::AgentConfig;
use driftless_runtime::history::History;
use driftless_runtime::shard::{Membership, Sharding};
use driftless_runtime::{Agent, AgentBuilder, error_chain, leader, server};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

/// jemalloc instead of the system allocator, built with one arena for every thread and
/// a background thread that gives freed pages back within a second (`.cargo/config.toml`
/// says why). glibc's malloc held about twice the live heap at 50,000 objects.
#[cfg(feature = "jemalloc")]
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// Keeps apps in sync: reconciles each on its interval, on webhooks and on request,
/// corrects drift, and serves health, metrics and a status API.
#[derive(Debug, Parser)]
#[command(name = "driftless-agent", version, about)]
struct Args {
    /// The agent configuration (YAML, kind AgentConfig).
    #[arg(long, short = 'c', env = "DRIFTLESS_CONFIG")]
    config: PathBuf,
    /// Log format on stderr.
    #[arg(long, default_value = "text", env = "DRIFTLESS_LOG_FORMAT")]
    log_format: LogFormat,
    /// Reconcile every app once, in dependency order, then exit (0: all succeeded,
    /// 1: some failed). No HTTP server, no leader election.
    #[arg(long)]
    once: bool,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

fn main() -> ExitCode {
    let args = Args::parse();
    init_logging(args.log_format);
    let config = match AgentConfig::load(&args.config) {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(config = %args.config.display(), "invalid configuration: {}", error_chain(&error));
            return ExitCode::from(2);
        }
    };
    // The async side only waits on I/O and timers (rendering runs on blocking
    // threads): a few workers are enough on any machine, and keep memory small.
    let workers = std::thread::available_parallelism().map_or(2, |n| n.get().min(4));
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            tracing::error!(%error, "cannot start the async runtime");
            return ExitCode::FAILURE;
        }
    };
    let result = if args.once {
        runtime.block_on(once(&config))
    } else {
        runtime.block_on(serve(config, &args.config))
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs on stderr. Text has colour only on a terminal and without `NO_COLOR`
/// (<https://no-color.org>). JSON keeps the event's fields under `fields` and the
/// reconcile's span (with the `app`) under `span`, so that no key appears twice in a
/// line (a field named `target` would otherwise collide with tracing's own).
fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder
            .with_target(false)
            .with_ansi(use_colour(std::env::var_os("NO_COLOR").as_deref()))
            .init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(false)
            .with_current_span(true)
            .with_span_list(false)
            .init(),
    }
}

/// Colour on a terminal, unless `NO_COLOR` is set to anything but the empty string.
fn use_colour(no_color: Option<&std::ffi::OsStr>) -> bool {
    no_color.is_none_or(std::ffi::OsStr::is_empty) && std::io::stderr().is_terminal()
}

fn open_history(config: &AgentConfig) -> anyhow::Result<History> {
    History::open(&config.state_dir)
        .with_context(|| format!("opening the state directory {}", config.state_dir.display()))
}

/// `--once`: every app once, dependencies first.
async fn once(config: &AgentConfig) -> anyhow::Result<ExitCode> {
    let agent = AgentBuilder::from_config(config)
        .await?
        .history(open_history(config)?)
        .build()?;
    let outcomes = agent.reconcile_all(None, "once").await?;
    Ok(
        if outcomes.iter().any(driftless_runtime::Outcome::is_failure) {
            ExitCode::FAILURE
        } else {
            ExitCode::SUCCESS
        },
    )
}

/// The daemon: app loops, HTTP server, leader election or sharding, until SIGTERM or
/// Ctrl-C.
async fn serve(config: AgentConfig, path: &std::path::Path) -> anyhow::Result<ExitCode> {
    let shutdown = CancellationToken::new();
    let (leader_tx, leader_rx) = watch::channel(config.leader_election.is_none());
    let (shard_tx, shard_rx) = watch::channel(Membership::joining(""));
    let mut builder = AgentBuilder::from_config(&config)
        .await?
        .history(open_history(&config)?)
        .leader(leader_rx)
        .shutdown(shutdown.clone());
    if config.sharding.is_some() {
        builder = builder.shard(shard_rx);
    }
    let agent = Arc::new(builder.build()?);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!(listen = %config.listen, apps = agent.app_names().len(), "agent started");

    let election = if let Some(election) = &config.leader_election {
        Some(leader::Election::start(election, leader_tx, Arc::clone(&agent)).await?)
    } else {
        agent.set_leader(config.sharding.is_none());
        drop(leader_tx);
        None
    };
    let sharding = match &config.sharding {
        Some(sharding) => Some(Sharding::start(sharding, shard_tx, Arc::clone(&agent)).await?),
        None => None,
    };
    let server = tokio::spawn(server::serve_on(Arc::clone(&agent), listener));
    let loops = tokio::spawn(Arc::clone(&agent).run());

    serve_until_stopped(&agent, &config, path).await;
    tracing::info!("stopping: cancelling reconciles in flight");
    shutdown.cancel();
    if let Err(error) = loops.await {
        tracing::error!(%error, "the app loops failed");
    }
    if let Some(election) = election {
        election.release().await;
    }
    if let Some(sharding) = sharding {
        sharding.leave().await;
    }
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::error!(error = %error_chain(&error), "the HTTP server failed"),
        Err(error) => tracing::error!(%error, "the HTTP server task failed"),
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

/// Waits for SIGTERM or Ctrl-C; on SIGHUP, reloads the apps of the configuration file.
#[cfg(unix)]
async fn serve_until_stopped(agent: &Agent, running: &AgentConfig, path: &std::path::Path) {
    use tokio::signal::unix::{SignalKind, signal};
    let (Ok(mut term), Ok(mut hangup)) = (
        signal(SignalKind::terminate()),
        signal(SignalKind::hangup()),
    ) else {
        tracing::warn!("cannot watch SIGTERM and SIGHUP; stopping on Ctrl-C only");
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return,
            _ = term.recv() => return,
            _ = hangup.recv() => reload(agent, running, path).await,
        }
    }
}

#[cfg(not(unix))]
async fn serve_until_stopped(_: &Agent, _: &AgentConfig, _: &std::path::Path) {
    let _ = tokio::signal::ctrl_c().await;
}

/// Reloads the apps; a configuration that does not load changes nothing.
async fn reload(agent: &Agent, running: &AgentConfig, path: &std::path::Path) {
    tracing::info!(config = %path.display(), "SIGHUP: reloading the configuration");
    let config = match AgentConfig::load(path) {
        Ok(config) => config,
        Err(error) => {
            tracing::error!(error = %error_chain(&error), "invalid configuration: keeping the running one");
            return;
        }
    };
    if (
        &config.listen,
        &config.state_dir,
        &config.leader_election,
        &config.sharding,
    ) != (
        &running.listen,
        &running.state_dir,
        &running.leader_election,
        &running.sharding,
    ) {
        tracing::warn!("listen, stateDir, leaderElection and sharding change only on restart");
    }
    let result = match AgentBuilder::from_config(&config).await {
        Ok(builder) => agent.reload(builder),
        Err(error) => Err(error),
    };
    if let Err(error) = result {
        tracing::error!(error = %error_chain(&error), "cannot reload: keeping the running apps");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_color_turns_colour_off() {
        assert!(!use_colour(Some(std::ffi::OsStr::new("1"))));
        // Tests do not run on a terminal: no colour either way.
        assert!(!use_colour(None));
    }

    /// The allocator runs as `.cargo/config.toml` builds it, so that losing that setting
    /// fails a test, not only a memory benchmark.
    #[cfg(feature = "jemalloc")]
    #[test]
    #[allow(clippy::unwrap_used)]
    fn jemalloc_runs_with_one_arena_and_a_background_thread() {
        assert_eq!(tikv_jemalloc_ctl::opt::narenas::read().unwrap(), 1);
        assert!(tikv_jemalloc_ctl::opt::background_thread::read().unwrap());
    }
}
