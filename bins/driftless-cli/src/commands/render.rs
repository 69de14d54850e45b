//! `driftless render`.

use std::process::ExitCode;

use anyhow::Context;

use crate::args::RenderArgs;
use crate::output;

pub(crate) async fn run(args: RenderArgs) -> anyhow::Result<ExitCode> {
    let source = super::open_source(&args.source)?;
    let renderer = super::renderer(&args.render)?;
    let revision = source.resolve().await.context("resolving the source")?;
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
