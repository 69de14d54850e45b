//! [`read_capped`]: reading a file of a tree someone else wrote, with bounds.

use std::io::Read;
use std::path::Path;

/// Why [`read_capped`] did not return a file's bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReadError {
    /// The file could not be opened or read.
    #[error("cannot read")]
    Io(#[source] std::io::Error),
    /// Not a regular file: a directory, FIFO, socket or device, which is never read
    /// (a FIFO could block forever, a device never end).
    #[error("not a regular file but a {kind}; only regular files are read")]
    NotAFile {
        /// What it is: `directory`, `FIFO`, `socket`, `device` or `special file`.
        kind: &'static str,
    },
    /// The file is larger than the limit.
    #[error("the file is {size} bytes, larger than the limit of {limit} bytes")]
    TooLarge {
        /// Its size in bytes (at least this much, if it grew while being read).
        size: u64,
        /// The limit in bytes.
        limit: u64,
    },
}

/// Reads the regular file at `path` (symlinks followed) if it holds at most `limit`
/// bytes. Its type and size are checked before it is opened, so a FIFO or a huge file
/// is refused without blocking or reading, and the read stops past `limit` if the file
/// grows meanwhile.
///
/// ```
/// use driftless_core::file::{ReadError, read_capped};
///
/// let dir = tempfile::tempdir()?;
/// let path = dir.path().join("a.yaml");
/// std::fs::write(&path, "a: 1\n")?;
/// assert_eq!(read_capped(&path, 1024)?, b"a: 1\n");
/// assert!(matches!(read_capped(&path, 2), Err(ReadError::TooLarge { size: 5, limit: 2 })));
/// assert!(matches!(read_capped(dir.path(), 1024), Err(ReadError::NotAFile { kind: "directory" })));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn read_capped(path: &Path, limit: u64) -> Result<Vec<u8>, ReadError> {
    let metadata = std::fs::metadata(path).map_err(ReadError::Io)?;
    check_regular(&metadata, limit)?;
    let file = open_nonblocking(path).map_err(ReadError::Io)?;
    // The path may have been replaced between the check and the open.
    check_regular(&file.metadata().map_err(ReadError::Io)?, limit)?;
    let capacity = usize::try_from(metadata.len()).unwrap_or(0);
    let mut bytes = Vec::with_capacity(capacity);
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .map_err(ReadError::Io)?;
    let size = u64::try_from(bytes.len()).unwrap_or(u64::MAX);
    if size > limit {
        return Err(ReadError::TooLarge { size, limit });
    }
    Ok(bytes)
}

fn check_regular(metadata: &std::fs::Metadata, limit: u64) -> Result<(), ReadError> {
    if !metadata.is_file() {
        return Err(ReadError::NotAFile {
            kind: kind_of(metadata.file_type()),
        });
    }
    if metadata.len() > limit {
        return Err(ReadError::TooLarge {
            size: metadata.len(),
            limit,
        });
    }
    Ok(())
}

#[cfg(unix)]
fn kind_of(file_type: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if file_type.is_dir() {
        "directory"
    } else if file_type.is_fifo() {
        "FIFO"
    } else if file_type.is_socket() {
        "socket"
    } else if file_type.is_block_device() || file_type.is_char_device() {
        "device"
    } else {
        "special file"
    }
}

#[cfg(not(unix))]
fn kind_of(file_type: std::fs::FileType) -> &'static str {
    if file_type.is_dir() {
        "directory"
    } else {
        "special file"
    }
}

/// Opens for reading without blocking on a FIFO that replaced the file after the check.
#[cfg(unix)]
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt;
    std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
}

#[cfg(not(unix))]
fn open_nonblocking(path: &Path) -> std::io::Result<std::fs::File> {
    std::fs::File::open(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_a_fifo_without_blocking() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("pipe");
        let status = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .unwrap();
        assert!(status.success());
        let err = read_capped(&fifo, 1024).unwrap_err();
        assert!(
            matches!(err, ReadError::NotAFile { kind: "FIFO" }),
            "{err:?}"
        );
    }

    #[test]
    fn refuses_a_huge_sparse_file_without_reading_it() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("huge.yaml");
        std::fs::File::create(&path)
            .unwrap()
            .set_len(2 << 30)
            .unwrap();
        let started = std::time::Instant::now();
        let err = read_capped(&path, 64 << 20).unwrap_err();
        assert!(
            matches!(err, ReadError::TooLarge { size, .. } if size == 2 << 30),
            "{err:?}"
        );
        assert!(started.elapsed() < std::time::Duration::from_secs(1));
    }
}
