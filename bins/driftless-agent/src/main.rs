//! `driftless-agent`: keeps the apps of a configuration file in sync, continuously.
//!
//! Argument parsing and wiring only: the agent loop, its HTTP API and leader election
//! are the `driftless-runtime` library.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use driftless_runtime::config::AgentConfig;
use driftless_runtime::history::History;
use driftless_runtime::{AgentBuilder, error_chain, leader, server};
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

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
        runtime.block_on(serve(config))
    };
    match result {
        Ok(code) => code,
        Err(error) => {
            tracing::error!("{error:#}");
            ExitCode::FAILURE
        }
    }
}

fn init_logging(format: LogFormat) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    match format {
        LogFormat::Text => builder.with_target(false).init(),
        LogFormat::Json => builder.json().flatten_event(true).init(),
    }
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

/// The daemon: app loops, HTTP server, leader election, until SIGTERM or Ctrl-C.
async fn serve(config: AgentConfig) -> anyhow::Result<ExitCode> {
    let shutdown = CancellationToken::new();
    let (leader_tx, leader_rx) = watch::channel(config.leader_election.is_none());
    let agent = Arc::new(
        AgentBuilder::from_config(&config)
            .await?
            .history(open_history(&config)?)
            .leader(leader_rx)
            .shutdown(shutdown.clone())
            .build()?,
    );
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!(listen = %config.listen, apps = agent.app_names().len(), "agent started");

    let election = if let Some(election) = &config.leader_election {
        Some(leader::Election::start(election, leader_tx, Arc::clone(&agent)).await?)
    } else {
        agent.set_leader(true);
        drop(leader_tx);
        None
    };
    let server = tokio::spawn(server::serve_on(Arc::clone(&agent), listener));
    let loops = tokio::spawn(Arc::clone(&agent).run());

    wait_for_signal().await;
    tracing::info!("stopping: finishing reconciles in flight");
    shutdown.cancel();
    if let Err(error) = loops.await {
        tracing::error!(%error, "the app loops failed");
    }
    if let Some(election) = election {
        election.release().await;
    }
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::error!(error = %error_chain(&error), "the HTTP server failed"),
        Err(error) => tracing::error!(%error, "the HTTP server task failed"),
    }
    tracing::info!("stopped");
    Ok(ExitCode::SUCCESS)
}

async fn wait_for_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = ctrl_c => {},
                    _ = term.recv() => {},
                }
            }
            Err(error) => {
                tracing::warn!(%error, "cannot watch SIGTERM; stopping on Ctrl-C only");
                let _ = ctrl_c.await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = ctrl_c.await;
    }
}
