//! Everything the command writes: objects, values, summaries and errors.

use std::fmt::Write as _;
use std::io::Write;
use std::process::ExitCode;

use driftless::core::ApplyReport;
use driftless::{ObjectSet, SyncReport};
use serde_json::Value;

use crate::args::{Format, ObjectFormat};

/// Whether to colour what goes to a stream: only a terminal, and never when `NO_COLOR`
/// is set to anything but the empty string (no-color.org).
pub(crate) fn colour(stream_is_terminal: bool) -> bool {
    stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|value| value.is_empty())
}

/// Writes text to stdout as is.
pub(crate) fn text(text: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(())
}

/// Writes bytes to stdout as they are.
pub(crate) fn bytes(bytes: &[u8]) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(bytes)?;
    stdout.flush()?;
    Ok(())
}

/// Writes a value as JSON or YAML.
pub(crate) fn value(value: &Value, format: Format) -> anyhow::Result<()> {
    match format {
        Format::Yaml => text(&driftless::core::yaml::to_string(value)?),
        Format::Json | Format::Human => {
            text(&format!("{}\n", serde_json::to_string_pretty(value)?))
        }
    }
}

/// Writes objects as multi-document YAML (`---` between documents) or a JSON list.
pub(crate) fn objects(objects: &ObjectSet, format: ObjectFormat) -> anyhow::Result<()> {
    if format == ObjectFormat::Json {
        let list: Vec<&Value> = objects.iter().map(driftless::Object::as_value).collect();
        return text(&format!("{}\n", serde_json::to_string_pretty(&list)?));
    }
    let mut out = String::new();
    for (index, object) in objects.iter().enumerate() {
        if index > 0 {
            out.push_str("---\n");
        }
        out.push_str(&driftless::core::yaml::to_string(object.as_value())?);
    }
    text(&out)
}

/// A few lines saying what an apply did.
pub(crate) fn sync_summary(report: &SyncReport, target: &str, name: &str) -> String {
    let applied = &report.applied;
    let mut out = String::new();
    let verb = if applied.dry_run { "would be " } else { "" };
    for (ids, action) in [
        (&applied.created, "created"),
        (&applied.updated, "updated"),
        (&applied.pruned, "pruned"),
    ] {
        for id in ids {
            let _ = writeln!(out, "{id} {verb}{action}");
        }
    }
    for id in &applied.prune_skipped {
        let _ = writeln!(out, "{id} kept (prune disabled)");
    }
    let _ = writeln!(
        out,
        "{} to {target} as {name}{}: {} created, {} updated, {} pruned, {} unchanged",
        report.revision,
        if applied.dry_run { " (dry run)" } else { "" },
        applied.created.len(),
        applied.updated.len(),
        applied.pruned.len(),
        applied.unchanged.len(),
    );
    out
}

/// A few lines saying what a delete did.
pub(crate) fn delete_summary(report: &ApplyReport, target: &str, name: &str) -> String {
    let mut out = String::new();
    let verb = if report.dry_run { "would be " } else { "" };
    for id in &report.pruned {
        let _ = writeln!(out, "{id} {verb}deleted");
    }
    for id in &report.prune_skipped {
        let _ = writeln!(out, "{id} kept (prune disabled)");
    }
    let _ = writeln!(
        out,
        "{name} on {target}{}: {} {verb}deleted, {} kept",
        if report.dry_run { " (dry run)" } else { "" },
        report.pruned.len(),
        report.prune_skipped.len(),
    );
    out
}

/// Prints an error and its causes on stderr; exit code 2.
pub(crate) fn report_error(error: &anyhow::Error) -> ExitCode {
    let mut message = format!("error: {error}\n");
    for cause in error.chain().skip(1) {
        let _ = writeln!(message, "  caused by: {cause}");
    }
    let _ = std::io::stderr().write_all(message.as_bytes());
    ExitCode::from(2)
}
