//! A custom [`Source`]: a `tar.gz` bundle of manifests served over HTTP, as many build
//! systems publish them. It plugs into a driftless [`Pipeline`] like the built-in git
//! and OCI sources.
//!
//! ```text
//! cargo run -p example-custom-source -- http://127.0.0.1:8000/bundle.tar.gz out/live
//! ```
//!
//! The revision is the bundle's SHA-256, so an unchanged bundle is not extracted or
//! rendered again; each revision is extracted once into its own folder.
#![allow(clippy::print_stdout, clippy::print_stderr)] // a command-line program

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use driftless::core::{ApplyOptions, Revision, Snapshot, Source, SourceError, async_trait};
use driftless::render::AutoRenderer;
use driftless::target_dir::DirTarget;
use driftless::{Pipeline, PipelineOptions};
use sha2::{Digest, Sha256};

/// What can go wrong fetching a bundle.
#[derive(Debug, thiserror::Error)]
enum BundleError {
    #[error("downloading {url} failed")]
    Download {
        url: String,
        #[source]
        source: reqwest::Error,
    },
    #[error("unpacking the bundle into {} failed", dir.display())]
    Unpack {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the bundle changed while it was fetched (expected {expected})")]
    Changed { expected: String },
}

/// A `tar.gz` of manifests at an HTTP URL.
struct HttpTarball {
    url: String,
    client: reqwest::Client,
    cache: PathBuf,
}

impl HttpTarball {
    fn new(url: impl Into<String>, cache: impl Into<PathBuf>) -> Self {
        Self {
            url: url.into(),
            client: reqwest::Client::new(),
            cache: cache.into(),
        }
    }

    async fn download(&self) -> Result<(Vec<u8>, Revision), BundleError> {
        let download = |source| BundleError::Download {
            url: self.url.clone(),
            source,
        };
        let response = self.client.get(&self.url).send().await.map_err(download)?;
        let bytes = response
            .error_for_status()
            .map_err(download)?
            .bytes()
            .await
            .map_err(download)?;
        let hex = hex::encode(Sha256::digest(&bytes));
        let revision = Revision::new(None, "sha256", &hex).expect("a SHA-256 in hex is a revision");
        Ok((bytes.to_vec(), revision))
    }
}

#[async_trait]
impl Source for HttpTarball {
    fn describe(&self) -> String {
        self.url.clone()
    }

    async fn resolve(&self) -> Result<Revision, SourceError> {
        let (_, revision) = self.download().await.map_err(SourceError::other)?;
        Ok(revision)
    }

    async fn fetch(&self, revision: &Revision) -> Result<Snapshot, SourceError> {
        let dir = self.cache.join(revision.hex());
        if dir.is_dir() {
            return Ok(Snapshot::new(dir, revision.clone()));
        }
        let (bytes, fetched) = self.download().await.map_err(SourceError::other)?;
        if &fetched != revision {
            return Err(SourceError::other(BundleError::Changed {
                expected: revision.to_string(),
            }));
        }
        unpack(&bytes, &dir).map_err(SourceError::other)?;
        Ok(Snapshot::new(dir, fetched))
    }
}

/// Unpacks into a temporary folder, then renames it: a failed unpack leaves nothing.
/// `tar` refuses entries that would land outside the folder.
fn unpack(bytes: &[u8], dir: &Path) -> Result<(), BundleError> {
    let unpack_error = |source| BundleError::Unpack {
        dir: dir.to_owned(),
        source,
    };
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent).map_err(unpack_error)?;
    let staging = tempfile::Builder::new()
        .prefix(".unpacking-")
        .tempdir_in(parent)
        .map_err(unpack_error)?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    archive.unpack(staging.path()).map_err(unpack_error)?;
    std::fs::rename(staging.keep(), dir).map_err(unpack_error)
}

#[tokio::main]
async fn main() -> ExitCode {
    // driftless builds rustls without a default crypto provider (ring is smaller and
    // faster to build than aws-lc); a program making its own HTTPS clients picks one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, target] = args.as_slice() else {
        eprintln!("usage: example-custom-source URL TARGET_DIR");
        return ExitCode::from(2);
    };
    match run(url, Path::new(target)).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::from(2)
        }
    }
}

async fn run(url: &str, target: &Path) -> anyhow::Result<()> {
    let cache = target.with_extension("bundles");
    let pipeline = Pipeline::new(
        HttpTarball::new(url, cache),
        AutoRenderer::default(),
        DirTarget::new(target)?,
    )
    .with_options(PipelineOptions::default().apply(ApplyOptions::default().prune(true)));
    let report = pipeline.reconcile().await?;
    println!(
        "{}: {} created, {} updated, {} pruned",
        report.revision,
        report.applied.created.len(),
        report.applied.updated.len(),
        report.applied.pruned.len()
    );
    Ok(())
}
