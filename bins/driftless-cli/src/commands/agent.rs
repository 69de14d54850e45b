//! `driftless status|history|reconcile|suspend|resume|rollback`: a running agent's
//! status API, through the typed client of `driftless-runtime`.

use std::fmt::Write as _;
use std::process::ExitCode;

use std::path::PathBuf;

use anyhow::Context as _;
use clap::Args;
use driftless_runtime::AppStatus;
use driftless_runtime::auth;
use driftless_runtime::client::{Client, ClientError};
use driftless_runtime::config::AgentConfig;
use serde::Serialize;

use crate::args::Format;
use crate::output;

/// Which agent to talk to, with which token, and how to print its answer.
#[derive(Debug, Args)]
pub(crate) struct AgentArgs {
    /// The agent's address (default: the --config file's listen address, else
    /// http://127.0.0.1:9090).
    #[arg(long, env = "DRIFTLESS_AGENT")]
    pub(crate) agent: Option<String>,
    /// The agent's configuration: its address, and its API token (the configured
    /// api.tokenFile, else the one the agent made in its stateDir).
    #[arg(long, short = 'c', env = "DRIFTLESS_CONFIG")]
    pub(crate) config: Option<PathBuf>,
    /// The agent's state directory, to use the API token the agent made there.
    #[arg(long)]
    pub(crate) state_dir: Option<PathBuf>,
    /// A file holding the agent's API token (or the token itself in
    /// DRIFTLESS_API_TOKEN).
    #[arg(long, env = "DRIFTLESS_API_TOKEN_FILE")]
    pub(crate) token_file: Option<PathBuf>,
    /// Output format.
    #[arg(short, long, default_value = "human")]
    pub(crate) output: Format,
}

/// The default address of an agent.
const DEFAULT_AGENT: &str = "http://127.0.0.1:9090";

/// The default state directory of an agent (`stateDir: .driftless`).
const DEFAULT_STATE_DIR: &str = ".driftless";

/// An app of a running agent.
#[derive(Debug, Args)]
pub(crate) struct AppArgs {
    /// The app's name.
    pub(crate) app: String,
    #[command(flatten)]
    pub(crate) agent: AgentArgs,
}

/// `driftless reconcile`.
#[derive(Debug, Args)]
pub(crate) struct ReconcileArgs {
    /// The app's name.
    pub(crate) app: String,
    /// Wait for the reconcile asked for and report its result (exit 1 if it failed or
    /// did not end in time).
    #[arg(long)]
    pub(crate) wait: bool,
    /// How long `--wait` waits, e.g. 30s or 5m.
    #[arg(long, default_value = "5m", value_parser = humantime::parse_duration, requires = "wait")]
    pub(crate) timeout: std::time::Duration,
    #[command(flatten)]
    pub(crate) agent: AgentArgs,
}

/// `driftless history`.
#[derive(Debug, Args)]
pub(crate) struct HistoryArgs {
    /// The app's name.
    pub(crate) app: String,
    /// How many syncs to show, newest first.
    #[arg(long, default_value_t = 20)]
    pub(crate) limit: usize,
    #[command(flatten)]
    pub(crate) agent: AgentArgs,
}

/// `driftless rollback`.
#[derive(Debug, Args)]
pub(crate) struct RollbackArgs {
    /// The app's name.
    pub(crate) app: String,
    /// A revision the app applied before (see `driftless history`), or a unique prefix
    /// of its commit id (7 characters or more).
    #[arg(long = "to", value_name = "REVISION")]
    pub(crate) revision: String,
    #[command(flatten)]
    pub(crate) agent: AgentArgs,
}

fn client(args: &AgentArgs) -> anyhow::Result<Client> {
    // The HTTP stack is rustls without a built-in crypto provider: use ring, as the
    // rest of the workspace does (an already installed provider is kept).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let config = args
        .config
        .as_deref()
        .map(AgentConfig::load)
        .transpose()
        .context("reading the agent's configuration")?;
    let address = match (&args.agent, &config) {
        (Some(address), _) => address.clone(),
        (None, Some(config)) => format!("http://{}", config.listen),
        (None, None) => DEFAULT_AGENT.to_owned(),
    };
    let mut client = Client::new(&address)?;
    if let Some(token) = token(args, config.as_ref())? {
        client = client.token(token);
    }
    Ok(client)
}

/// The API token, from the first of: `--token-file`, `DRIFTLESS_API_TOKEN`, the
/// `--config` file's agent, `--state-dir`, `./.driftless` (the default state dir).
fn token(args: &AgentArgs, config: Option<&AgentConfig>) -> anyhow::Result<Option<String>> {
    if let Some(path) = &args.token_file {
        return Ok(Some(auth::read_token(path)?));
    }
    if let Ok(token) = std::env::var(auth::TOKEN_ENV)
        && !token.trim().is_empty()
    {
        return Ok(Some(token.trim().to_owned()));
    }
    if let Some(config) = config {
        return Ok(Some(config.client_token()?));
    }
    if let Some(dir) = &args.state_dir {
        return Ok(Some(auth::read_token(&auth::state_token_path(dir))?));
    }
    let default = auth::state_token_path(std::path::Path::new(DEFAULT_STATE_DIR));
    Ok(default
        .is_file()
        .then(|| auth::read_token(&default))
        .transpose()?)
}

/// Prints `value` as JSON or YAML; false when the format is human.
fn structured(value: &impl Serialize, format: Format) -> anyhow::Result<bool> {
    if format == Format::Human {
        return Ok(false);
    }
    output::value(&serde_json::to_value(value)?, format)?;
    Ok(true)
}

/// The revision shortened for a table: `main@0123456789ab`.
fn short_revision(revision: Option<&str>) -> String {
    revision.map_or_else(
        || "-".into(),
        |r| {
            r.parse::<driftless::Revision>()
                .map_or_else(|_| r.to_owned(), |r| r.short())
        },
    )
}

/// Left-aligned columns, two spaces apart.
fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.len()).collect();
    for row in rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    let line = |cells: Vec<String>, out: &mut String| {
        let mut line = String::new();
        for (cell, width) in cells.iter().zip(&widths) {
            let _ = write!(line, "{cell:<width$}  ");
        }
        out.push_str(line.trim_end());
        out.push('\n');
    };
    line(header.iter().map(|h| (*h).to_owned()).collect(), &mut out);
    for row in rows {
        line(row.clone(), &mut out);
    }
    out
}

fn status_row(app: &AppStatus) -> Vec<String> {
    let ready = app.ready_condition();
    vec![
        app.name.clone(),
        app.state().to_owned(),
        short_revision(app.revision.as_deref()),
        app.pinned.as_deref().map_or_else(String::new, |p| {
            format!("pinned {}", short_revision(Some(p)))
        }),
        app.objects.to_string(),
        app.last_sync
            .as_ref()
            .map_or_else(|| "-".into(), |s| s.finished.clone()),
        ready.map_or_else(|| "-".into(), |c| c.message.clone()),
    ]
}

pub(crate) async fn status(args: AgentArgs) -> anyhow::Result<ExitCode> {
    let apps = client(&args)?.apps().await?;
    if structured(&apps, args.output)? {
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = apps.iter().map(status_row).collect();
    output::text(&table(
        &[
            "APP",
            "STATUS",
            "REVISION",
            "PIN",
            "OBJECTS",
            "LAST SYNC",
            "MESSAGE",
        ],
        &rows,
    ))?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn history(args: HistoryArgs) -> anyhow::Result<ExitCode> {
    let records = client(&args.agent)?.history(&args.app, args.limit).await?;
    if structured(&records, args.agent.output)? {
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = records
        .iter()
        .map(|r| {
            vec![
                r.id.to_string(),
                r.started.clone(),
                format!("{:.2}s", r.duration_seconds),
                format!("{:?}", r.result),
                short_revision(r.revision.as_deref()),
                r.trigger.clone(),
                format!("{}/{}/{}", r.created, r.updated, r.pruned),
                r.error.clone().unwrap_or_default(),
            ]
        })
        .collect();
    output::text(&table(
        &[
            "ID", "STARTED", "TOOK", "RESULT", "REVISION", "TRIGGER", "C/U/P", "ERROR",
        ],
        &rows,
    ))?;
    Ok(ExitCode::SUCCESS)
}

/// What `suspend` and `resume` ask of the agent.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Action {
    Suspend,
    Resume,
}

/// `reconcile`: asks for a reconcile; with `--wait`, reports its outcome.
pub(crate) async fn reconcile(args: ReconcileArgs) -> anyhow::Result<ExitCode> {
    let client = client(&args.agent)?;
    if !args.wait {
        let answer = client.reconcile(&args.app).await?;
        if !structured(&answer, args.agent.output)? {
            output::text(&format!("{}: reconcile requested\n", args.app))?;
        }
        return Ok(ExitCode::SUCCESS);
    }
    let outcome = match client.reconcile_and_wait(&args.app, args.timeout).await {
        Ok(outcome) => outcome,
        Err(ClientError::Refused {
            status: 504,
            message,
        }) => {
            anyhow::bail!("{message} (--timeout sets how long to wait)")
        }
        Err(error) => return Err(error.into()),
    };
    if !structured(&outcome, args.agent.output)? {
        output::text(&super::sync::human(std::slice::from_ref(&outcome)))?;
    }
    Ok(if outcome.is_failure() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `reconcile`, `suspend` and `resume`: a POST and a one-line answer.
pub(crate) async fn act(args: AppArgs, action: Action) -> anyhow::Result<ExitCode> {
    let client = client(&args.agent)?;
    let (answer, done) = match action {
        Action::Suspend => (
            serde_json::to_value(client.suspend(&args.app).await?)?,
            "suspended",
        ),
        Action::Resume => (
            serde_json::to_value(client.resume(&args.app).await?)?,
            "resumed",
        ),
    };
    if structured(&answer, args.agent.output)? {
        return Ok(ExitCode::SUCCESS);
    }
    output::text(&format!("{}: {done}\n", args.app))?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn rollback(args: RollbackArgs) -> anyhow::Result<ExitCode> {
    let status = client(&args.agent)?
        .rollback(&args.app, &args.revision)
        .await?;
    if structured(&status, args.agent.output)? {
        return Ok(ExitCode::SUCCESS);
    }
    output::text(&format!(
        "{}: pinned to {} until `driftless resume {}`\n",
        args.app,
        status.pinned.as_deref().unwrap_or("-"),
        args.app
    ))?;
    Ok(ExitCode::SUCCESS)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_align_columns() {
        let out = table(&["A", "LONGER"], &[vec!["wide cell".into(), "x".into()]]);
        assert_eq!(out, "A          LONGER\nwide cell  x\n");
    }
}
