//! [`Decoder`]: a hook between reading a file and parsing it.

use std::path::Path;

/// Turns the bytes of a file the renderer reads into the bytes it parses (SOPS
/// decryption is one).
///
/// The renderers call it for every file they read as a resource, a strategic merge or
/// JSON 6902 patch, and a generator input (`files`, `envs`); not for kustomization
/// files themselves. A decoder that fails makes the render fail with an error naming the
/// file.
///
/// ```
/// use std::path::Path;
/// use std::sync::Arc;
/// use driftless_render::{Decoder, PlainRenderer};
///
/// /// Reverses files ending in `.rev.yaml`.
/// #[derive(Debug)]
/// struct Reverse;
///
/// impl Decoder for Reverse {
///     fn decode(
///         &self,
///         path: &Path,
///         mut bytes: Vec<u8>,
///     ) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>> {
///         if path.to_string_lossy().ends_with(".rev.yaml") {
///             bytes.reverse();
///         }
///         Ok(bytes)
///     }
/// }
///
/// let renderer = PlainRenderer::default().with_decoder(Arc::new(Reverse));
/// # let _ = renderer;
/// ```
pub trait Decoder: Send + Sync + std::fmt::Debug {
    /// The bytes to parse; `bytes` unchanged when the file is not encoded.
    fn decode(
        &self,
        path: &Path,
        bytes: Vec<u8>,
    ) -> Result<Vec<u8>, Box<dyn std::error::Error + Send + Sync>>;
}
