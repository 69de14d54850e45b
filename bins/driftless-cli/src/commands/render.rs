//! `driftless render`.

use std::process::ExitCode;

use anyhow::Context;
use driftless::{Revision, SourceSpec};

use crate::args::RenderArgs;
use crate::output;

pub(crate) async fn run(args: RenderArgs) -> anyhow::Result<ExitCode> {
    let source = super::open_source(&args.source)?;
    let renderer = super::renderer(&args.render)?;
    let revision = if matches!(args.source.source.parse()?, SourceSpec::Local(_)) {
        // `render` prints objects, never a revision, and a local directory is rendered
        // as it is: resolving it would walk and digest every file of its tree, which
        // the render does not need. The snapshot carries a stand-in revision.
        Revision::new(Some("local"), "sha256", &"0".repeat(64))?
    } else {
        source.resolve().await.context("resolving the source")?
    };
    let snapshot = source
        .fetch(&revision)
        .await
        .with_context(|| format!("fetching {}", source.describe()))?;
    let path = args.source.path.clone().unwrap_or_default();
    let objects = tokio::task::spawn_blocking(move || renderer.render(&snapshot, &path))
        .await?
        .with_context(|| format!("rendering {}", args.source.source))?;
    output::objects(&objects, args.output)?;
    Ok(ExitCode::SUCCESS)
}
