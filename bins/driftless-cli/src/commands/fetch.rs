//! `driftless fetch`.

use std::process::ExitCode;

use anyhow::Context;

use crate::args::FetchArgs;
use crate::output;

pub(crate) async fn run(args: FetchArgs) -> anyhow::Result<ExitCode> {
    let source = super::open_source(&args.source)?;
    tracing::info!(source = %source.describe(), "resolving");
    let revision = source
        .resolve()
        .await
        .with_context(|| format!("resolving {}", source.describe()))?;
    tracing::info!(%revision, "fetching");
    let snapshot = source
        .fetch(&revision)
        .await
        .with_context(|| format!("fetching {}", source.describe()))?;
    if let Some(out) = &args.out {
        let path = args.source.path.clone().unwrap_or_default();
        let files = driftless::export_snapshot(&snapshot, &path, out)?;
        tracing::info!(files, out = %out.display(), "copied");
    }
    output::text(&format!("{}\n", snapshot.revision()))?;
    Ok(ExitCode::SUCCESS)
}
