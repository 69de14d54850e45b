//! `driftless push`.

use std::process::ExitCode;

use anyhow::Context;
use driftless::source_oci::{PushOptions, push};

use crate::args::{Format, PushArgs};
use crate::output;

pub(crate) async fn run(args: PushArgs) -> anyhow::Result<ExitCode> {
    let auth = super::source_auth(&args.credentials, None, &args.registry);
    let mut options = PushOptions::default()
        .auth(driftless::spec::oci_auth(&auth)?)
        .insecure(args.registry.insecure);
    if let Some(source) = &args.source {
        options = options.source(source);
    }
    if let Some(revision) = &args.revision {
        options = options.revision(revision);
    }
    let pushed = push(&args.dir, &args.reference, &options)
        .await
        .with_context(|| format!("pushing {} to {}", args.dir.display(), args.reference))?;
    match args.output {
        Format::Human => output::text(&format!("{}\n", pushed.revision))?,
        format => output::value(
            &serde_json::json!({
                "revision": pushed.revision.to_string(),
                "reference": pushed.reference.to_string(),
                "layerDigest": pushed.layer_digest,
                "layerSize": pushed.layer_size,
                "annotations": pushed.annotations,
            }),
            format,
        )?,
    }
    Ok(ExitCode::SUCCESS)
}
