//! `driftless status|history|reconcile|suspend|resume|rollback`: a running agent's
//! status API.

use std::fmt::Write as _;
use std::process::ExitCode;

use anyhow::Context;
use clap::Args;
use serde_json::{Value, json};

use crate::args::Format;
use crate::output;

/// Which agent to talk to, and how to print its answer.
#[derive(Debug, Args)]
pub(crate) struct AgentArgs {
    /// The agent's address.
    #[arg(long, env = "DRIFTLESS_AGENT", default_value = "http://127.0.0.1:9090")]
    pub(crate) agent: String,
    /// Output format.
    #[arg(short, long, default_value = "human")]
    pub(crate) output: Format,
}

/// An app of a running agent.
#[derive(Debug, Args)]
pub(crate) struct AppArgs {
    /// The app's name.
    pub(crate) app: String,
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

async fn call(
    agent: &str,
    method: reqwest::Method,
    path: &str,
    body: Option<Value>,
) -> anyhow::Result<Value> {
    let url = format!("{}{path}", agent.trim_end_matches('/'));
    // The HTTP stack is rustls without a built-in crypto provider: use ring, as the
    // rest of the workspace does (an already installed provider is kept).
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::builder()
        .build()
        .context("cannot set up the HTTP client")?;
    let mut request = client.request(method, &url);
    if let Some(body) = body {
        request = request
            .header("content-type", "application/json")
            .body(serde_json::to_vec(&body)?);
    }
    let response = request.send().await.with_context(|| {
        format!("cannot reach the agent at {agent} (is it running? --agent sets its address)")
    })?;
    let status = response.status();
    let bytes = response
        .bytes()
        .await
        .with_context(|| format!("reading the answer of {url}"))?;
    let value: Value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    if !status.is_success() {
        let message = value["error"].as_str().map_or_else(
            || String::from_utf8_lossy(&bytes).into_owned(),
            str::to_owned,
        );
        anyhow::bail!("{status}: {message}");
    }
    Ok(value)
}

fn text(value: &Value) -> String {
    match value {
        Value::Null => "-".into(),
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// The revision shortened for a table: `main@0123456789ab`.
fn short_revision(value: &Value) -> String {
    value
        .as_str()
        .and_then(|r| r.parse::<driftless::Revision>().ok())
        .map_or_else(|| text(value), |r| r.short())
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

fn status_row(app: &Value) -> Vec<String> {
    let state = if app["suspended"] == true {
        "Suspended".to_owned()
    } else if app["ready"] == true {
        "Ready".to_owned()
    } else {
        text(&app["conditions"][0]["reason"])
    };
    vec![
        text(&app["name"]),
        state,
        short_revision(&app["revision"]),
        app["pinned"].as_str().map_or_else(String::new, |p| {
            format!("pinned {}", short_revision(&json!(p)))
        }),
        text(&app["objects"]),
        text(&app["lastSync"]["finished"]),
        text(&app["conditions"][0]["message"]),
    ]
}

pub(crate) async fn status(args: AgentArgs) -> anyhow::Result<ExitCode> {
    let apps = call(&args.agent, reqwest::Method::GET, "/api/v1/apps", None).await?;
    if args.output != Format::Human {
        output::value(&apps, args.output)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = apps
        .as_array()
        .into_iter()
        .flatten()
        .map(status_row)
        .collect();
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
    let path = format!("/api/v1/apps/{}/history?limit={}", args.app, args.limit);
    let records = call(&args.agent.agent, reqwest::Method::GET, &path, None).await?;
    if args.agent.output != Format::Human {
        output::value(&records, args.agent.output)?;
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<Vec<String>> = records
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| {
            vec![
                text(&r["id"]),
                text(&r["started"]),
                format!("{:.2}s", r["durationSeconds"].as_f64().unwrap_or_default()),
                text(&r["result"]),
                short_revision(&r["revision"]),
                text(&r["trigger"]),
                format!(
                    "{}/{}/{}",
                    text(&r["created"]),
                    text(&r["updated"]),
                    text(&r["pruned"])
                ),
                r["error"].as_str().unwrap_or("").to_owned(),
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

/// `reconcile`, `suspend` and `resume`: a POST and a one-line answer.
pub(crate) async fn act(args: AppArgs, action: &str) -> anyhow::Result<ExitCode> {
    let path = format!("/api/v1/apps/{}/{action}", args.app);
    let answer = call(&args.agent.agent, reqwest::Method::POST, &path, None).await?;
    if args.agent.output != Format::Human {
        output::value(&answer, args.agent.output)?;
        return Ok(ExitCode::SUCCESS);
    }
    let done = match action {
        "reconcile" => "reconcile requested",
        "suspend" => "suspended",
        _ => "resumed",
    };
    output::text(&format!("{}: {done}\n", args.app))?;
    Ok(ExitCode::SUCCESS)
}

pub(crate) async fn rollback(args: RollbackArgs) -> anyhow::Result<ExitCode> {
    let path = format!("/api/v1/apps/{}/rollback", args.app);
    let body = json!({"revision": args.revision});
    let answer = call(&args.agent.agent, reqwest::Method::POST, &path, Some(body)).await?;
    if args.agent.output != Format::Human {
        output::value(&answer, args.agent.output)?;
        return Ok(ExitCode::SUCCESS);
    }
    output::text(&format!(
        "{}: pinned to {} until `driftless resume {}`\n",
        args.app,
        text(&answer["pinned"]),
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
