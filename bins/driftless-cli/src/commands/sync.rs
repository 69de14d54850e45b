//! `driftless sync --config FILE [--app NAME]`: one reconcile of the apps of an agent
//! configuration, without a daemon, through the agent's own reconcile path.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use driftless_runtime::config::AgentConfig;
use driftless_runtime::{AgentBuilder, Outcome, OutcomeKind};

use crate::args::Format;
use crate::output;

/// `driftless sync`.
#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// The agent configuration (YAML, kind AgentConfig).
    #[arg(long, short = 'c')]
    pub(crate) config: PathBuf,
    /// Only this app (its dependencies are neither reconciled nor checked).
    #[arg(long)]
    pub(crate) app: Option<String>,
    /// Output format.
    #[arg(short, long, default_value = "human")]
    pub(crate) output: Format,
}

/// Reconciles the apps in dependency order, as the agent does: suspended apps are left
/// alone, an app whose dependency failed is skipped. Exit code 0: all succeeded (or
/// are suspended), 1: some failed or were skipped, 2: the configuration is invalid.
pub(crate) async fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let config = AgentConfig::load(&args.config)
        .with_context(|| format!("invalid configuration {}", args.config.display()))?;
    if let Some(name) = &args.app
        && config.app(name).is_none()
    {
        anyhow::bail!("{} has no app named {name:?}", args.config.display());
    }
    let agent = AgentBuilder::from_config(&config).await?.build()?;
    let outcomes = agent.reconcile_all(args.app.as_deref(), "cli").await?;
    if args.output == Format::Human {
        output::text(&human(&outcomes))?;
    } else {
        output::value(&serde_json::to_value(&outcomes)?, args.output)?;
    }
    Ok(if outcomes.iter().any(Outcome::is_failure) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// One line per outcome.
pub(crate) fn human(outcomes: &[Outcome]) -> String {
    let mut out = String::new();
    for o in outcomes {
        let _ = match o.result {
            OutcomeKind::Succeeded => writeln!(
                out,
                "{}: {} applied: {} created, {} updated, {} pruned, {} unchanged",
                o.app,
                o.revision.as_deref().unwrap_or_default(),
                o.created,
                o.updated,
                o.pruned,
                o.unchanged
            ),
            OutcomeKind::Suspended => writeln!(out, "{}: suspended, not reconciled", o.app),
            _ => writeln!(
                out,
                "{}: {}: {}",
                o.app,
                if o.result == OutcomeKind::Skipped {
                    "skipped"
                } else {
                    "failed"
                },
                o.error.as_deref().unwrap_or_default()
            ),
        };
    }
    out
}
