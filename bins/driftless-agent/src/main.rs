//! `driftless-agent`: keeps the apps of a configuration file in sync, continuously.
//!
//! Configuration, wiring and the HTTP surface; the reconcile itself is the `driftless`
//! crate's `Pipeline`, the configuration model and history store are its `config` and
//! `history` modules.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use anyhow::Context;
use clap::{Parser, ValueEnum};
use driftless::config::AgentConfig;
use tokio::sync::watch;
use tokio_util::sync::CancellationToken;

mod http;
mod leader;
mod metrics;
mod runtime;
mod webhook;

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
            tracing::error!(config = %args.config.display(), "invalid configuration: {}", runtime::error_chain(&error));
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

/// `--once`: every app once, dependencies first; an app whose dependency failed is
/// not reconciled.
async fn once(config: &AgentConfig) -> anyhow::Result<ExitCode> {
    let (_, leader) = watch::channel(true);
    let agent = runtime::Agent::new(config, leader, CancellationToken::new()).await?;
    let mut failed = false;
    for index in config.order()? {
        let app = &agent.apps[index];
        if let Some(dep) = app
            .config
            .depends_on
            .iter()
            .find(|d| agent.app(d).is_none_or(|d| !d.status.borrow().ready))
        {
            tracing::error!(app = %app.config.name, dependency = %dep, "not reconciled: a dependency failed");
            failed = true;
            continue;
        }
        if app.suspended() {
            tracing::info!(app = %app.config.name, "suspended, not reconciled");
            continue;
        }
        failed |= !agent.reconcile(app, "once").await;
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The daemon: app tasks, HTTP server, leader election, until SIGTERM or Ctrl-C.
async fn serve(config: AgentConfig) -> anyhow::Result<ExitCode> {
    let shutdown = CancellationToken::new();
    let (leader_tx, leader_rx) = watch::channel(config.leader_election.is_none());
    let agent = Arc::new(runtime::Agent::new(&config, leader_rx, shutdown.clone()).await?);
    let listener = tokio::net::TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    tracing::info!(listen = %config.listen, apps = agent.apps.len(), "agent started");

    let election = if let Some(election) = &config.leader_election {
        Some(leader::Election::start(election, leader_tx, Arc::clone(&agent)).await?)
    } else {
        agent.metrics.set_leader(true);
        drop(leader_tx);
        None
    };

    let mut tasks = tokio::task::JoinSet::new();
    for app in &agent.apps {
        tasks.spawn(Arc::clone(&agent).run_app(Arc::clone(app)));
    }
    agent.ready.store(true, Ordering::Relaxed);

    let server_shutdown = shutdown.clone();
    let server = tokio::spawn(
        axum::serve(listener, http::router(Arc::clone(&agent)))
            .with_graceful_shutdown(async move { server_shutdown.cancelled().await })
            .into_future(),
    );

    wait_for_signal().await;
    tracing::info!("stopping: finishing reconciles in flight");
    agent.ready.store(false, Ordering::Relaxed);
    shutdown.cancel();
    while let Some(joined) = tasks.join_next().await {
        if let Err(error) = joined {
            tracing::error!(%error, "an app task failed");
        }
    }
    if let Some(election) = election {
        election.release().await;
    }
    match server.await {
        Ok(Ok(())) => {}
        Ok(Err(error)) => tracing::error!(%error, "the HTTP server failed"),
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
