//! [`LocalSource`]: a directory on this machine as a source.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use driftless_core::{Revision, Snapshot, Source, SourceError, async_trait};
use sha2::{Digest, Sha256};

use crate::Error;

/// A directory on this machine as a source, for working copies and tests.
///
/// Its snapshot is the directory itself, as a folder of the larger tree it belongs to
/// (the enclosing git work tree, else the whole filesystem): a Kustomize overlay in it
/// may use bases anywhere in that tree (`resources: [../../base]`), as
/// `kubectl kustomize` allows.
///
/// Its revision is a digest of the files' paths and contents (`sha256:<hex>`, in the
/// enclosing git work tree if there is one, else below the directory), so an unchanged
/// tree resolves to the same revision, however long ago it changed, and is not
/// rendered again. Each file's contents are hashed once and remembered with its size
/// and modification time: a later resolve reads only the files whose size or time
/// changed, or that changed so shortly before they were hashed that a second change
/// could have kept the same time.
#[derive(Debug, Clone)]
pub struct LocalSource {
    root: PathBuf,
    hashes: Arc<Mutex<FileHashes>>,
}

impl LocalSource {
    /// A source reading `root`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Self {
            root: root.into(),
            hashes: Arc::default(),
        }
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
        let hashes = Arc::clone(&self.hashes);
        tokio::task::spawn_blocking(move || {
            let scope = git_work_tree(&root)?.unwrap_or_else(|| root.clone());
            let mut hashes = hashes.lock().unwrap_or_else(PoisonError::into_inner);
            tree_digest(&scope, &mut hashes)
        })
        .await
        .map_err(|e| SourceError::other(Error::Task(e)))?
        .map_err(SourceError::other)
    }

    async fn fetch(&self, revision: &Revision) -> Result<Snapshot, SourceError> {
        let root = self.root.clone();
        let tree = tokio::task::spawn_blocking(move || git_work_tree(&root))
            .await
            .map_err(|e| SourceError::other(Error::Task(e)))?
            .map_err(SourceError::other)?
            .unwrap_or_else(|| PathBuf::from("/"));
        Ok(Snapshot::new(self.root.clone(), revision.clone()).within(tree))
    }
}

/// The git work tree `dir` is in (the nearest folder up holding `.git`), if any.
fn git_work_tree(dir: &Path) -> Result<Option<PathBuf>, Error> {
    if !dir.is_dir() {
        return Err(Error::NotADirectory(dir.to_owned()));
    }
    let dir = dir.canonicalize().map_err(|source| Error::Read {
        path: dir.to_owned(),
        source,
    })?;
    Ok(dir
        .ancestors()
        .find(|folder| folder.join(".git").exists())
        .map(Path::to_path_buf))
}

/// A file hashed less than this long after it changed is hashed again at the next
/// resolve: a second change within the clock's resolution could keep its size and time.
const RACY_WINDOW: Duration = Duration::from_secs(3);

/// Files larger than this are not read: renderers refuse them, so their size and time
/// stand for their contents.
const HASHED_UP_TO: u64 = driftless_render::DEFAULT_MAX_FILE_BYTES;

/// What each file looked like when its contents were hashed, by path.
type FileHashes = HashMap<PathBuf, FileHash>;

/// A file's contents hash, and what the file looked like when it was taken.
#[derive(Debug, Clone, PartialEq, Eq)]
struct FileHash {
    len: u64,
    modified: SystemTime,
    hashed_at: SystemTime,
    sha256: [u8; 32],
}

impl FileHash {
    /// Whether this hash still holds for a file of this size and time.
    fn holds_for(&self, len: u64, modified: SystemTime) -> bool {
        let settled = self
            .hashed_at
            .duration_since(modified)
            .is_ok_and(|age| age >= RACY_WINDOW);
        self.len == len && self.modified == modified && settled
    }
}

/// A digest of every file below `root` (hidden and git-ignored ones skipped): sorted
/// relative paths, each followed by the hash of its contents, so no two different trees
/// share a digest by concatenation. `known` holds the file hashes of the last call and
/// is left with this call's; only files whose hash no longer holds are read.
fn tree_digest(root: &Path, known: &mut FileHashes) -> Result<Revision, Error> {
    let io_error = |path: &Path, source| Error::Read {
        path: path.to_owned(),
        source,
    };
    if !root.is_dir() {
        return Err(Error::NotADirectory(root.to_owned()));
    }
    let mut hasher = Sha256::new();
    let mut seen = FileHashes::with_capacity(known.len());
    // What git ignores is no desired state: build output (`target/`) and what the agent
    // itself writes into the tree (a directory target under `out/`) must neither be
    // walked at every interval nor change the revision.
    let walk = ignore::WalkBuilder::new(root)
        .hidden(true)
        .git_ignore(true)
        .git_global(false)
        .git_exclude(false)
        .require_git(false)
        .sort_by_file_name(std::cmp::Ord::cmp)
        .build();
    for entry in walk {
        let entry = entry.map_err(|e| io_error(root, std::io::Error::other(e)))?;
        if !entry.file_type().is_some_and(|kind| kind.is_file()) {
            continue;
        }
        let path = entry.path();
        let metadata = entry
            .metadata()
            .map_err(|e| io_error(path, std::io::Error::other(e)))?;
        let modified = metadata.modified().map_err(|e| io_error(path, e))?;
        let hash = match known.remove(path) {
            Some(hash) if hash.holds_for(metadata.len(), modified) => hash,
            _ => FileHash {
                len: metadata.len(),
                modified,
                hashed_at: SystemTime::now(),
                sha256: contents_sha256(path, metadata.len(), modified)
                    .map_err(|e| io_error(path, e))?,
            },
        };
        let relative = path.strip_prefix(root).unwrap_or(path);
        hasher.update(relative.to_string_lossy().as_bytes());
        hasher.update([0]);
        hasher.update(hash.sha256);
        seen.insert(path.to_owned(), hash);
    }
    *known = seen;
    let hex = hex::encode(hasher.finalize());
    Ok(Revision::new(None, "sha256", &hex)?)
}

/// The SHA-256 of a file's contents, read in pieces; of its size and time when it is
/// larger than [`HASHED_UP_TO`].
fn contents_sha256(path: &Path, len: u64, modified: SystemTime) -> std::io::Result<[u8; 32]> {
    let mut hasher = Sha256::new();
    if len > HASHED_UP_TO {
        let since_epoch = modified
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default();
        hasher.update(len.to_le_bytes());
        hasher.update(since_epoch.as_nanos().to_le_bytes());
    } else {
        std::io::copy(&mut std::fs::File::open(path)?, &mut hasher)?;
    }
    Ok(hasher.finalize().into())
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
    async fn an_unchanged_tree_keeps_its_revision_once_its_changes_settle() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.yaml");
        std::fs::write(&file, "a: 1\n").unwrap();
        let source = LocalSource::new(dir.path());
        let fresh = source.resolve().await.unwrap();
        // The same contents, long after they were written (the hash is taken again).
        let old = SystemTime::now() - Duration::from_secs(60);
        std::fs::File::options()
            .write(true)
            .open(&file)
            .unwrap()
            .set_modified(old)
            .unwrap();
        assert_eq!(source.resolve().await.unwrap(), fresh);
        assert_eq!(LocalSource::new(dir.path()).resolve().await.unwrap(), fresh);
    }

    #[tokio::test]
    async fn a_change_that_keeps_size_and_time_is_still_seen() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.yaml");
        let when = SystemTime::now();
        let write = |text: &str| {
            std::fs::write(&file, text).unwrap();
            std::fs::File::options()
                .write(true)
                .open(&file)
                .unwrap()
                .set_modified(when)
                .unwrap();
        };
        write("a: 1\n");
        let source = LocalSource::new(dir.path());
        let first = source.resolve().await.unwrap();
        write("a: 2\n");
        assert_ne!(source.resolve().await.unwrap(), first);
    }

    #[tokio::test]
    async fn what_git_ignores_is_not_part_of_the_revision() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".git")).unwrap();
        std::fs::write(dir.path().join(".gitignore"), "/out/\ntarget/\n").unwrap();
        std::fs::create_dir_all(dir.path().join("app")).unwrap();
        std::fs::write(dir.path().join("app/a.yaml"), "a: 1\n").unwrap();
        let source = LocalSource::new(dir.path().join("app"));
        let first = source.resolve().await.unwrap();
        for ignored in ["out/live/a.yaml", "target/debug/x", "app/target/y"] {
            let path = dir.path().join(ignored);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "written by a build or a directory target\n").unwrap();
        }
        assert_eq!(source.resolve().await.unwrap(), first);
        std::fs::write(dir.path().join("base.yaml"), "b: 1\n").unwrap();
        assert_ne!(
            source.resolve().await.unwrap(),
            first,
            "the rest of the tree counts"
        );
    }

    #[tokio::test]
    async fn the_tree_is_the_enclosing_git_work_tree_else_the_filesystem() {
        let dir = tempfile::tempdir().unwrap();
        let overlay = dir.path().join("overlays/prod");
        std::fs::create_dir_all(&overlay).unwrap();
        let source = LocalSource::new(&overlay);
        let revision = source.resolve().await.unwrap();
        assert_eq!(
            source.fetch(&revision).await.unwrap().tree(),
            Path::new("/")
        );

        std::fs::create_dir(dir.path().join(".git")).unwrap();
        let snapshot = source.fetch(&revision).await.unwrap();
        assert_eq!(snapshot.root(), overlay);
        assert_eq!(snapshot.tree(), dir.path().canonicalize().unwrap());
        // In a work tree, a change anywhere in it (a base) is a new revision.
        std::fs::create_dir(dir.path().join("base")).unwrap();
        std::fs::write(dir.path().join("base/a.yaml"), "a: 1\n").unwrap();
        assert_ne!(source.resolve().await.unwrap(), revision);
    }

    #[tokio::test]
    async fn an_overlay_folder_renders_with_its_base_above_it() {
        use driftless_core::Renderer;
        let dir = tempfile::tempdir().unwrap();
        let write = |path: &str, text: &str| {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, text).unwrap();
        };
        write("base/kustomization.yaml", "resources: [cm.yaml]\n");
        write(
            "base/cm.yaml",
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n",
        );
        write(
            "overlays/prod/kustomization.yaml",
            "resources: [../../base]\nnamePrefix: prod-\n",
        );
        let source = LocalSource::new(dir.path().join("overlays/prod"));
        let snapshot = source
            .fetch(&source.resolve().await.unwrap())
            .await
            .unwrap();
        let objects = driftless_render::AutoRenderer::default()
            .render(&snapshot, Path::new(""))
            .unwrap();
        let ids: Vec<String> = objects.ids().map(ToString::to_string).collect();
        assert_eq!(ids, ["/ConfigMap//prod-settings"]);
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
