//! `driftless sync --config FILE [--app NAME]`: one reconcile of the apps of an agent
//! configuration, without a daemon.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::SystemTime;

use anyhow::Context;
use clap::Args;
use driftless::config::AgentConfig;
use serde_json::json;

use crate::args::Format;
use crate::output;

/// `driftless sync`.
#[derive(Debug, Args)]
pub(crate) struct SyncArgs {
    /// The agent configuration (YAML, kind AgentConfig).
    #[arg(long, short = 'c')]
    pub(crate) config: PathBuf,
    /// Only this app (its dependencies are not reconciled).
    #[arg(long)]
    pub(crate) app: Option<String>,
    /// Output format.
    #[arg(short, long, default_value = "human")]
    pub(crate) output: Format,
}

/// Reconciles the apps in dependency order; an app whose dependency failed is skipped.
/// Exit code 0: all succeeded, 1: some failed, 2: the configuration is invalid.
pub(crate) async fn run(args: SyncArgs) -> anyhow::Result<ExitCode> {
    let config = AgentConfig::load(&args.config)
        .with_context(|| format!("invalid configuration {}", args.config.display()))?;
    let order = config.order()?;
    let selected: Vec<usize> = match &args.app {
        Some(name) => vec![
            config
                .apps
                .iter()
                .position(|a| &a.name == name)
                .with_context(|| format!("{} has no app named {name:?}", args.config.display()))?,
        ],
        None => order,
    };
    let mut results = Vec::new();
    let mut failed: Vec<&str> = Vec::new();
    for index in selected {
        let app = &config.apps[index];
        let started = SystemTime::now();
        if let Some(dep) = app.depends_on.iter().find(|d| failed.contains(&d.as_str())) {
            failed.push(&app.name);
            results.push(json!({"app": app.name, "result": "Skipped", "error": format!("dependency {dep} failed")}));
            continue;
        }
        let outcome = match app.pipeline(&config.cache_dir()).await {
            Ok(pipeline) => pipeline.reconcile().await,
            Err(e) => Err(e),
        };
        let seconds = started.elapsed().unwrap_or_default().as_secs_f64();
        match outcome {
            Ok(report) => results.push(json!({
                "app": app.name,
                "result": "Succeeded",
                "revision": report.revision.to_string(),
                "created": report.applied.created.len(),
                "updated": report.applied.updated.len(),
                "pruned": report.applied.pruned.len(),
                "unchanged": report.applied.unchanged.len(),
                "durationSeconds": seconds,
            })),
            Err(error) => {
                failed.push(&app.name);
                results.push(json!({
                    "app": app.name,
                    "result": "Failed",
                    "error": format!("{:#}", anyhow::Error::from(error)),
                    "durationSeconds": seconds,
                }));
            }
        }
    }
    let results = serde_json::Value::Array(results);
    if args.output == Format::Human {
        let mut out = String::new();
        for r in results.as_array().into_iter().flatten() {
            match r["result"].as_str() {
                Some("Succeeded") => writeln!(
                    out,
                    "{}: {} applied: {} created, {} updated, {} pruned, {} unchanged",
                    r["app"].as_str().unwrap_or_default(),
                    r["revision"].as_str().unwrap_or_default(),
                    r["created"],
                    r["updated"],
                    r["pruned"],
                    r["unchanged"]
                ),
                _ => writeln!(
                    out,
                    "{}: {}: {}",
                    r["app"].as_str().unwrap_or_default(),
                    r["result"].as_str().unwrap_or_default().to_lowercase(),
                    r["error"].as_str().unwrap_or_default()
                ),
            }?;
        }
        output::text(&out)?;
    } else {
        output::value(&results, args.output)?;
    }
    Ok(if failed.is_empty() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}
