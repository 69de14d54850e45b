//! `driftless diff SOURCE --rev A..B`: the rendered difference between two revisions
//! of a source, without any cluster (for pull-request review). Exit code 0: same,
//! 1: they differ.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context;
use driftless::core::{LiveObject, LiveState};
use driftless::diff::{DiffOptions, HumanOptions};
use driftless::{ObjectSet, Revision, SourceRef, SourceSpec};

use crate::args::{Color, DiffArgs, Format, RenderWithArgs, SourceArgs};
use crate::output;

pub(crate) async fn run(args: DiffArgs, range: &str) -> anyhow::Result<ExitCode> {
    let (from, to) = range
        .split_once("..")
        .filter(|(a, b)| !a.is_empty() && !b.is_empty() && !b.starts_with('.'))
        .with_context(|| {
            format!("--rev {range:?}: write two revisions as A..B (commits, tags or branches)")
        })?;
    let (old_revision, old) = render_at(&args.source, &args.render, from).await?;
    let (new_revision, new) = render_at(&args.source, &args.render, to).await?;
    tracing::info!(from = %old_revision, to = %new_revision, "comparing renders");
    // The old render plays the live state, as if it had been applied by us: the plan
    // then shows what applying the new revision would create, change and prune.
    let live = LiveState {
        inventory: old.ids().cloned().collect(),
        objects: old
            .iter()
            .map(|o| {
                let live = LiveObject {
                    object: o.clone(),
                    last_applied: Some(o.clone()),
                    predicted: None,
                };
                (o.id(), live)
            })
            .collect(),
    };
    let plan = driftless::diff::plan(&new, &live, &DiffOptions::default());
    let color = match args.color {
        Color::Always => true,
        Color::Never => false,
        Color::Auto => crate::output::colour(std::io::stdout().is_terminal()),
    };
    match args.output {
        Format::Human => {
            let header = format!("--- {old_revision}\n+++ {new_revision}\n");
            let body = driftless::diff::render_human(&plan, &HumanOptions::default().color(color));
            output::text(&format!("{header}{body}"))?;
        }
        format => output::value(&driftless::diff::render_json(&plan), format)?,
    }
    Ok(if plan.has_changes() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// Resolves `name` (a commit id, a branch or a tag) in the source and renders it.
async fn render_at(
    args: &SourceArgs,
    render: &RenderWithArgs,
    name: &str,
) -> anyhow::Result<(Revision, ObjectSet)> {
    let spec: SourceSpec = args.source.parse()?;
    anyhow::ensure!(
        !matches!(spec, SourceSpec::Local(_)),
        "{} is a local directory: --rev needs a git URL (file:// for a local repository) or oci://",
        args.source
    );
    let is_commit = (7..=64).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_hexdigit());
    let candidates = if is_commit {
        vec![SourceRef::Commit {
            id: name.to_owned(),
            branch: None,
        }]
    } else {
        vec![
            SourceRef::Branch(name.to_owned()),
            SourceRef::Tag(name.to_owned()),
        ]
    };
    let mut last_error = None;
    for reference in candidates {
        let source = super::open_source_at(args, reference)?;
        match source.resolve().await {
            Ok(revision) => {
                let snapshot = source
                    .fetch(&revision)
                    .await
                    .with_context(|| format!("fetching {revision}"))?;
                let renderer = super::renderer(render)?;
                let path = args.path.clone().unwrap_or_default();
                let shown = path.display().to_string();
                let objects = tokio::task::spawn_blocking(move || {
                    Arc::clone(&renderer).render(&snapshot, &path)
                })
                .await?
                .with_context(|| format!("rendering {shown:?} at {revision}"))?;
                return Ok((revision, objects));
            }
            Err(error) => last_error = Some(error),
        }
    }
    Err(anyhow::Error::from(
        last_error.context("no reference to try")?,
    ))
    .with_context(|| format!("{name} is no commit, branch or tag of {}", args.source))
}
