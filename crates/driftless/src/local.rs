//! [`LocalSource`]: a directory on this machine as a source.

use std::path::{Path, PathBuf};

use driftless_core::{Revision, Snapshot, Source, SourceError, async_trait};
use sha2::{Digest, Sha256};

use crate::Error;

/// A directory on this machine as a source, for working copies and tests.
///
/// Its revision is a digest of the tree (`sha256:<hex>` over every file's path and
/// contents), so an unchanged directory resolves to the same revision and is not
/// rendered again.
#[derive(Debug, Clone)]
pub struct LocalSource {
    root: PathBuf,
}

impl LocalSource {
    /// A source reading `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self { root: root.into() }
    }

    /// The directory.
    pub fn root(&self) -> &Path {
        &self.root
    }
}

#[async_trait]
impl Source for LocalSource {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    async fn resolve(&self) -> Result<Revision, SourceError> {
        let root = self.root.clone();
        tokio::task::spawn_blocking(move || tree_digest(&root))
            .await
            .map_err(|e| SourceError::other(Error::Task(e)))?
            .map_err(SourceError::other)
    }

    async fn fetch(&self, revision: &Revision) -> Result<Snapshot, SourceError> {
        Ok(Snapshot::new(self.root.clone(), revision.clone()))
    }
}

/// A digest of every file below `root`: sorted relative paths, each followed by its
/// length and contents, so no two different trees share a digest by concatenation.
fn tree_digest(root: &Path) -> Result<Revision, Error> {
    let io_error = |path: &Path, source| Error::Read {
        path: path.to_owned(),
        source,
    };
    if !root.is_dir() {
        return Err(Error::NotADirectory(root.to_owned()));
    }
    let mut hasher = Sha256::new();
    let walk = walkdir::WalkDir::new(root)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|e| e.depth() == 0 || !e.file_name().to_string_lossy().starts_with('.'));
    for entry in walk {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(root).to_owned();
            io_error(&path, e.into())
        })?;
        if !entry.file_type().is_file() {
            continue;
        }
        let contents = std::fs::read(entry.path()).map_err(|e| io_error(entry.path(), e))?;
        let relative = entry.path().strip_prefix(root).unwrap_or(entry.path());
        hasher.update(relative.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update((contents.len() as u64).to_le_bytes());
        hasher.update(&contents);
    }
    let hex = hex::encode(hasher.finalize());
    Ok(Revision::new(None, "sha256", &hex)?)
}

/// Copies the files of `snapshot` below `path` into `out` (created if missing; it must
/// be empty), e.g. for `driftless fetch --out`. Returns how many files were copied.
pub fn export_snapshot(
    snapshot: &driftless_core::Snapshot,
    path: &Path,
    out: &Path,
) -> Result<usize, Error> {
    let from = snapshot.root().join(path);
    if !from.is_dir() {
        return Err(Error::NotADirectory(from));
    }
    let write_error = |path: &Path, source| Error::Write {
        path: path.to_owned(),
        source,
    };
    std::fs::create_dir_all(out).map_err(|e| write_error(out, e))?;
    let mut entries = std::fs::read_dir(out).map_err(|e| write_error(out, e))?;
    if entries.next().is_some() {
        return Err(Error::Spec(format!("{} is not empty", out.display())));
    }
    let mut copied = 0;
    for entry in walkdir::WalkDir::new(&from).sort_by_file_name() {
        let entry = entry.map_err(|e| Error::Read {
            path: e.path().unwrap_or(&from).to_owned(),
            source: e.into(),
        })?;
        let relative = entry.path().strip_prefix(&from).unwrap_or(entry.path());
        if relative.starts_with(".git") {
            continue;
        }
        let dest = out.join(relative);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).map_err(|e| write_error(&dest, e))?;
        } else if entry.file_type().is_file() {
            std::fs::copy(entry.path(), &dest).map_err(|e| write_error(&dest, e))?;
            copied += 1;
        }
    }
    Ok(copied)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn digest_follows_content() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a.yaml"), "a: 1\n").unwrap();
        let source = LocalSource::new(dir.path());
        let first = source.resolve().await.unwrap();
        assert_eq!(source.resolve().await.unwrap(), first);
        std::fs::write(dir.path().join("a.yaml"), "a: 2\n").unwrap();
        assert_ne!(source.resolve().await.unwrap(), first);
        let snapshot = source.fetch(&first).await.unwrap();
        assert_eq!(snapshot.root(), dir.path());
    }

    #[tokio::test]
    async fn missing_directory_is_named() {
        let err = LocalSource::new("/no/such/dir")
            .resolve()
            .await
            .unwrap_err();
        assert!(err.to_string().contains("/no/such/dir"), "{err}");
    }
}
