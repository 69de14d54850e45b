//! [`AutoRenderer`], which picks a renderer for a directory, and [`RenderMode`].

use std::fmt;
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use driftless_core::{ObjectSet, RenderError, Renderer, Snapshot};
use serde::{Deserialize, Serialize};

use crate::kustomize::KustomizeRenderer;
use crate::root::Rooted;
use crate::{Decoder, Error, PlainOptions, PlainRenderer};

/// The file names that make a directory a Kustomize overlay, in the order Kustomize
/// looks for them.
pub const KUSTOMIZATION_FILES: [&str; 3] =
    ["kustomization.yaml", "kustomization.yml", "Kustomization"];

/// The kustomization file of `dir`, if it holds one.
pub fn kustomization_file(dir: &Path) -> Option<&'static str> {
    KUSTOMIZATION_FILES
        .into_iter()
        .find(|name| dir.join(name).is_file())
}

/// The default renderer: a directory holding a kustomization file
/// ([`KUSTOMIZATION_FILES`]) is a Kustomize overlay, built by the
/// [`KustomizeRenderer`](crate::kustomize::KustomizeRenderer); anything else is rendered
/// by the [`PlainRenderer`].
#[derive(Debug, Clone, Default)]
pub struct AutoRenderer {
    plain: PlainRenderer,
}

impl AutoRenderer {
    /// An auto renderer whose plain renderer has these limits.
    pub fn new(options: PlainOptions) -> Self {
        Self {
            plain: PlainRenderer::new(options),
        }
    }

    /// Decodes every file read as a resource, a patch or a generator input with
    /// `decoder` before parsing it, in both renderers.
    #[must_use]
    pub fn with_decoder(mut self, decoder: Arc<dyn Decoder>) -> Self {
        self.plain = self.plain.with_decoder(decoder);
        self
    }

    /// Renders `path` (relative to `root`) into objects, with this crate's [`Error`].
    pub fn render_path(&self, root: &Path, path: &Path) -> Result<ObjectSet, Error> {
        let rooted = Rooted::new(root, path)?;
        if kustomization_file(&rooted.abs).is_some() {
            let mut kustomize = KustomizeRenderer::new();
            if let Some(decoder) = self.plain.decoder() {
                kustomize = kustomize.with_decoder(decoder.clone());
            }
            return Ok(kustomize.build_set(&rooted.root, &rooted.rel)?);
        }
        self.plain.render_rooted(&rooted)
    }
}

impl Renderer for AutoRenderer {
    fn render(&self, snapshot: &Snapshot, path: &Path) -> Result<ObjectSet, RenderError> {
        Ok(self.render_path(snapshot.root(), path)?)
    }
}

/// How to render a directory, as set in configuration (`render: auto`) or on the
/// command line.
///
/// ```
/// use driftless_render::RenderMode;
///
/// let mode: RenderMode = "plain".parse()?;
/// assert_eq!(mode, RenderMode::Plain);
/// assert_eq!(RenderMode::default().to_string(), "auto");
/// assert!("helm".parse::<RenderMode>().is_err());
/// # Ok::<(), driftless_render::Error>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RenderMode {
    /// Kustomize if the directory holds a kustomization file, else plain.
    #[default]
    Auto,
    /// Every YAML and JSON file below the directory.
    Plain,
    /// A Kustomize overlay.
    Kustomize,
}

impl RenderMode {
    /// The name used in configuration and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Plain => "plain",
            Self::Kustomize => "kustomize",
        }
    }
}

impl RenderMode {
    /// The renderer of this mode; with a `decoder`, every file it reads as a resource,
    /// a patch or a generator input is decoded before parsing.
    pub fn renderer(self, decoder: Option<Arc<dyn Decoder>>) -> Arc<dyn Renderer> {
        match (self, decoder) {
            (Self::Auto, None) => Arc::new(AutoRenderer::default()),
            (Self::Auto, Some(d)) => Arc::new(AutoRenderer::default().with_decoder(d)),
            (Self::Plain, None) => Arc::new(PlainRenderer::default()),
            (Self::Plain, Some(d)) => Arc::new(PlainRenderer::default().with_decoder(d)),
            (Self::Kustomize, None) => Arc::new(KustomizeRenderer::new()),
            (Self::Kustomize, Some(d)) => Arc::new(KustomizeRenderer::new().with_decoder(d)),
        }
    }
}

impl fmt::Display for RenderMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for RenderMode {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "auto" => Ok(Self::Auto),
            "plain" => Ok(Self::Plain),
            "kustomize" => Ok(Self::Kustomize),
            _ => Err(Error::UnknownRenderMode {
                value: s.to_owned(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modes_round_trip() {
        for mode in [RenderMode::Auto, RenderMode::Plain, RenderMode::Kustomize] {
            assert_eq!(mode.to_string().parse::<RenderMode>().unwrap(), mode);
            let json = serde_json::to_value(mode).unwrap();
            assert_eq!(json, serde_json::Value::String(mode.to_string()));
            assert_eq!(serde_json::from_value::<RenderMode>(json).unwrap(), mode);
        }
        let err = "Plain".parse::<RenderMode>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown render mode \"Plain\": expected auto, plain or kustomize"
        );
    }
}
