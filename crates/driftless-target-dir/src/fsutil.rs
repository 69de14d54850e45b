//! Blocking file helpers: atomic writes, directory syncs and the apply lock.

use std::fs::{self, File, OpenOptions, TryLockError};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::Error;

/// The prefix of temporary files. It starts with a dot, and object file names never
/// do, so a temporary file can never be taken for an object.
pub(crate) const TEMP_PREFIX: &str = ".driftless-tmp-";

/// How often a waiting apply tries the lock again.
const LOCK_POLL: Duration = Duration::from_millis(20);

/// Writes `bytes` to `path` atomically: a temporary file in the same directory, flushed
/// to disk, then renamed over `path`. A reader sees the old file or the new one, never a
/// part of it; on failure the temporary file is removed.
pub(crate) fn atomic_write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = path
        .parent()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "path has no parent"))?;
    let mut builder = tempfile::Builder::new();
    builder.prefix(TEMP_PREFIX);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        // As for any new file: read-write for all, less the process umask.
        builder.permissions(fs::Permissions::from_mode(0o666));
    }
    let mut temp = builder.tempfile_in(dir)?;
    temp.write_all(bytes)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|e| e.error)?;
    Ok(())
}

/// Removes the temporary files a crashed write left in `dir` (an apply holds the lock,
/// so no other write is under way). Missing directories have none.
pub(crate) fn sweep_temp_files(dir: &Path) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return,
        Err(e) => {
            tracing::warn!(dir = %dir.display(), error = %e, "cannot list for leftover temporary files");
            return;
        }
    };
    for entry in entries.flatten() {
        let is_temp = entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX)
            && entry.file_type().is_ok_and(|t| t.is_file());
        if is_temp {
            let path = entry.path();
            match fs::remove_file(&path) {
                Ok(()) => {
                    tracing::info!(path = %path.display(), "removed a temporary file left by an interrupted apply");
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => {
                    tracing::warn!(path = %path.display(), error = %e, "cannot remove a leftover temporary file");
                }
            }
        }
    }
}

/// Flushes a directory's entries (creations, renames, removals) to disk. Directories
/// that no longer exist are skipped.
pub(crate) fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        match File::open(dir) {
            Ok(file) => file.sync_all(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
    #[cfg(not(unix))]
    {
        // Directories cannot be opened for syncing here; renames are durable enough.
        let _ = dir;
        Ok(())
    }
}

/// An exclusive lock on a target directory, released when dropped (the lock belongs to
/// the open file, so it is also released if the process dies).
#[derive(Debug)]
pub(crate) struct DirLock {
    _file: File,
}

/// Takes the exclusive lock `lock` of the target directory `dir`, waiting at most
/// `timeout` for another holder to release it.
pub(crate) fn lock(dir: &Path, lock: PathBuf, timeout: Duration) -> Result<DirLock, Error> {
    let lock_error = |source| Error::Lock {
        path: lock.clone(),
        source,
    };
    if let Some(parent) = lock.parent() {
        fs::create_dir_all(parent).map_err(lock_error)?;
    }
    let file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock)
        .map_err(lock_error)?;
    let deadline = Instant::now() + timeout;
    let mut waited = false;
    loop {
        match file.try_lock() {
            Ok(()) => {
                if waited {
                    tracing::debug!(dir = %dir.display(), "lock acquired after waiting");
                }
                return Ok(DirLock { _file: file });
            }
            Err(TryLockError::WouldBlock) => {
                if Instant::now() >= deadline {
                    return Err(Error::LockTimeout {
                        dir: dir.to_owned(),
                        lock,
                        timeout,
                    });
                }
                if !waited {
                    tracing::info!(
                        dir = %dir.display(),
                        "another process is applying to this directory; waiting for it"
                    );
                    waited = true;
                }
                std::thread::sleep(LOCK_POLL);
            }
            Err(TryLockError::Error(source)) => return Err(lock_error(source)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_and_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("a.yaml");
        atomic_write(&path, b"one").unwrap();
        atomic_write(&path, b"two").unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["a.yaml"]);
    }

    #[test]
    fn failed_write_leaves_no_temp_file() {
        let dir = tempfile::tempdir().unwrap();
        // The destination is a non-empty directory: the rename fails.
        let path = dir.path().join("taken");
        fs::create_dir(&path).unwrap();
        fs::write(path.join("x"), "x").unwrap();
        assert!(atomic_write(&path, b"one").is_err());
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec!["taken"]);
    }

    #[test]
    fn second_lock_times_out_until_the_first_is_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".driftless/lock");
        let first = lock(dir.path(), path.clone(), Duration::ZERO).unwrap();
        let err = lock(dir.path(), path.clone(), Duration::from_millis(50)).unwrap_err();
        assert!(matches!(err, Error::LockTimeout { .. }), "{err}");
        drop(first);
        lock(dir.path(), path, Duration::ZERO).unwrap();
    }
}
