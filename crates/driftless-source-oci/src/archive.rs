//! Reproducible tar+gzip archives of a directory, and their safe extraction.

use std::cell::Cell;
use std::fs;
use std::io::{self, Read, Write};
use std::path::{Component, Path, PathBuf};
use std::rc::Rc;

use flate2::Compression;
use flate2::read::GzDecoder;
use tar::{EntryType, Header};

use crate::{Error, Limits};

/// The modification time of every archive entry: the epoch, so that the same content
/// gives the same bytes whenever and wherever it is packed.
const MTIME: u64 = 0;

/// Packs `dir` into a reproducible tar+gzip archive: entries sorted by path, `.git`
/// left out, modification time 0, owner 0:0 without names, modes 0755 for directories
/// and executables and 0644 for other files, a gzip header without name or time.
/// Symbolic links and special files are left out, as Flux does.
pub(crate) fn pack(dir: &Path) -> Result<Vec<u8>, Error> {
    let gz = flate2::GzBuilder::new().write(Vec::new(), Compression::default());
    let mut builder = tar::Builder::new(gz);
    let walker = walkdir::WalkDir::new(dir)
        .min_depth(1)
        .follow_links(false)
        .sort_by_file_name()
        .into_iter()
        .filter_entry(|entry| entry.file_name() != ".git");
    for entry in walker {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(dir).to_owned();
            Error::io(
                "reading the directory to push",
                path,
                e.into_io_error()
                    .unwrap_or_else(|| io::Error::other("filesystem loop")),
            )
        })?;
        let relative = entry.path().strip_prefix(dir).map_err(|_| {
            Error::io(
                "walking",
                entry.path(),
                io::Error::other("outside the root"),
            )
        })?;
        let name = relative
            .to_str()
            .ok_or_else(|| {
                Error::io(
                    "packing",
                    entry.path(),
                    io::Error::other("the file name is not UTF-8"),
                )
            })?
            .replace(std::path::MAIN_SEPARATOR, "/");
        let file_type = entry.file_type();
        let mut header = Header::new_gnu();
        header.set_mtime(MTIME);
        header.set_uid(0);
        header.set_gid(0);
        if file_type.is_dir() {
            header.set_entry_type(EntryType::Directory);
            header.set_mode(0o755);
            header.set_size(0);
            builder
                .append_data(&mut header, format!("{name}/"), io::empty())
                .map_err(|e| Error::io("packing", entry.path(), e))?;
        } else if file_type.is_file() {
            let metadata = entry
                .metadata()
                .map_err(|e| Error::io("reading", entry.path(), e.into()))?;
            header.set_entry_type(EntryType::Regular);
            header.set_mode(if is_executable(&metadata) {
                0o755
            } else {
                0o644
            });
            header.set_size(metadata.len());
            let file =
                fs::File::open(entry.path()).map_err(|e| Error::io("reading", entry.path(), e))?;
            builder
                .append_data(&mut header, &name, file.take(metadata.len()))
                .map_err(|e| Error::io("packing", entry.path(), e))?;
        } else {
            tracing::warn!(path = %entry.path().display(), "not a regular file or directory; left out of the artifact");
        }
    }
    let gz = builder
        .into_inner()
        .map_err(|e| Error::io("packing", dir, e))?;
    gz.finish().map_err(|e| Error::io("compressing", dir, e))
}

#[cfg(unix)]
fn is_executable(metadata: &fs::Metadata) -> bool {
    use std::os::unix::fs::PermissionsExt as _;
    metadata.permissions().mode() & 0o111 != 0
}

#[cfg(not(unix))]
fn is_executable(_metadata: &fs::Metadata) -> bool {
    false
}

/// A reader that fails once more than `limit` bytes went through it, and says so.
struct CappedReader<R> {
    inner: R,
    remaining: u64,
    exceeded: Rc<Cell<bool>>,
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        let n64 = n as u64;
        if n64 > self.remaining {
            self.exceeded.set(true);
            return Err(io::Error::other("decompressed size limit exceeded"));
        }
        self.remaining -= n64;
        Ok(n)
    }
}

/// Extracts the tar+gzip `archive` (the layer `digest`) into the existing, empty
/// directory `dest`, refusing absolute paths, `..`, paths through symbolic links,
/// links that leave `dest`, devices and FIFOs, and stopping at `limits`. On error
/// `dest` may hold part of the archive: the caller removes it.
pub(crate) fn unpack(
    archive: &[u8],
    dest: &Path,
    digest: &str,
    limits: &Limits,
) -> Result<(), Error> {
    let exceeded = Rc::new(Cell::new(false));
    // Headers, padding and PAX records count too: allow some room over the content.
    let cap = limits
        .max_extracted_size
        .saturating_add(limits.max_entries.saturating_mul(1536))
        .saturating_add(1 << 20);
    let reader = CappedReader {
        inner: GzDecoder::new(archive),
        remaining: cap,
        exceeded: Rc::clone(&exceeded),
    };
    let mut tar = tar::Archive::new(reader);
    let result = unpack_entries(&mut tar, dest, digest, limits);
    match result {
        Err(Error::Archive { .. }) if exceeded.get() => Err(Error::ExtractLimit {
            digest: digest.to_owned(),
            limit: limits.max_extracted_size,
            unit: "bytes",
        }),
        other => other,
    }
}

fn unpack_entries<R: Read>(
    tar: &mut tar::Archive<R>,
    dest: &Path,
    digest: &str,
    limits: &Limits,
) -> Result<(), Error> {
    let archive_error = |source: io::Error| Error::Archive {
        digest: digest.to_owned(),
        source,
    };
    let mut written: u64 = 0;
    let mut count: u64 = 0;
    for entry in tar.entries().map_err(archive_error)? {
        let mut entry = entry.map_err(archive_error)?;
        count += 1;
        if count > limits.max_entries {
            return Err(Error::ExtractLimit {
                digest: digest.to_owned(),
                limit: limits.max_entries,
                unit: "entries",
            });
        }
        let raw_path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let unsafe_entry = |reason: &'static str| Error::UnsafeEntry {
            digest: digest.to_owned(),
            path: raw_path.clone(),
            reason,
        };
        let Some(relative) = safe_relative(Path::new(&raw_path)).map_err(unsafe_entry)? else {
            continue; // `.` or `./`: the root itself
        };
        let target = dest.join(&relative);
        check_no_symlink_parents(dest, &relative).map_err(|e| match e {
            Ok(reason) => unsafe_entry(reason),
            Err(e) => Error::io("inspecting", &target, e),
        })?;
        let io_error = |action: &'static str| {
            let target = target.clone();
            move |e: io::Error| Error::io(action, target, e)
        };
        let entry_type = entry.header().entry_type();
        match entry_type {
            EntryType::Directory => {
                if fs::symlink_metadata(&target).is_ok_and(|m| !m.is_dir()) {
                    fs::remove_file(&target).map_err(io_error("replacing"))?;
                }
                fs::create_dir_all(&target).map_err(io_error("creating directory"))?;
            }
            EntryType::Regular | EntryType::Continuous => {
                let size = entry.header().size().map_err(archive_error)?;
                check_budget(written, size, digest, limits)?;
                let executable = entry.header().mode().is_ok_and(|m| m & 0o111 != 0);
                prepare_file_target(&target).map_err(io_error("creating"))?;
                let mut file = fs::File::create(&target).map_err(io_error("creating"))?;
                let copied =
                    io::copy(&mut (&mut entry).take(size), &mut file).map_err(archive_error)?;
                file.flush().map_err(io_error("writing"))?;
                written += copied;
                set_mode(&target, executable).map_err(io_error("setting the mode of"))?;
            }
            EntryType::Symlink => {
                let link = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .ok_or_else(|| unsafe_entry("a symbolic link without a target"))?;
                let parent = relative.parent().unwrap_or(Path::new(""));
                if !link_stays_inside(parent, Path::new(&link)) {
                    return Err(unsafe_entry("the symbolic link points outside the root"));
                }
                prepare_file_target(&target).map_err(io_error("creating"))?;
                make_symlink(Path::new(&link), &target).map_err(io_error("creating link"))?;
            }
            EntryType::Link => {
                let link = entry
                    .link_name_bytes()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
                    .ok_or_else(|| unsafe_entry("a hard link without a target"))?;
                let source = hard_link_source(dest, &link).map_err(|e| match e {
                    Ok(reason) => unsafe_entry(reason),
                    Err(e) => Error::io("inspecting", &target, e),
                })?;
                let size = fs::metadata(&source).map_err(io_error("inspecting"))?.len();
                check_budget(written, size, digest, limits)?;
                prepare_file_target(&target).map_err(io_error("creating"))?;
                // A copy, not a link: snapshots never share inodes with each other.
                written += fs::copy(&source, &target).map_err(io_error("copying"))?;
            }
            EntryType::Char | EntryType::Block => {
                return Err(unsafe_entry("device files are refused"));
            }
            EntryType::Fifo => return Err(unsafe_entry("FIFOs are refused")),
            EntryType::GNUSparse => return Err(unsafe_entry("sparse files are not supported")),
            // PAX and GNU long-name records are applied by the reader; anything else
            // (vendor extensions) carries no file.
            _ => {}
        }
    }
    Ok(())
}

/// Fails when `size` more bytes would go over the extraction limit.
fn check_budget(written: u64, size: u64, digest: &str, limits: &Limits) -> Result<(), Error> {
    if written.saturating_add(size) > limits.max_extracted_size {
        return Err(Error::ExtractLimit {
            digest: digest.to_owned(),
            limit: limits.max_extracted_size,
            unit: "bytes",
        });
    }
    Ok(())
}

/// The file a hard link entry names: an earlier regular file inside `dest`, reached
/// without symbolic links. `Ok(reason)` for a refusal, `Err` for an I/O error.
fn hard_link_source(dest: &Path, link: &str) -> Result<PathBuf, Result<&'static str, io::Error>> {
    let relative = safe_relative(Path::new(link))
        .map_err(|_| Ok("the hard link points outside the root"))?
        .ok_or(Ok("the hard link points at the root"))?;
    check_no_symlink_parents(dest, &relative)?;
    let source = dest.join(relative);
    match fs::symlink_metadata(&source) {
        Ok(metadata) if metadata.is_file() => Ok(source),
        Ok(_) => Err(Ok("the hard link's target is not a regular file")),
        Err(_) => Err(Ok("the hard link's target is not an earlier file")),
    }
}

/// The entry path without `.` components; `None` for the root itself. Absolute
/// paths and `..` are refused.
fn safe_relative(path: &Path) -> Result<Option<PathBuf>, &'static str> {
    let mut out = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            Component::ParentDir => return Err("`..` in a path is refused"),
            Component::RootDir | Component::Prefix(_) => {
                return Err("absolute paths are refused");
            }
        }
    }
    Ok((!out.as_os_str().is_empty()).then_some(out))
}

/// Fails when a parent of `relative` inside `dest` is a symbolic link: writing through
/// it could land outside `dest`. `Ok(reason)` for a refusal, `Err` for an I/O error.
fn check_no_symlink_parents(
    dest: &Path,
    relative: &Path,
) -> Result<(), Result<&'static str, io::Error>> {
    let mut current = dest.to_owned();
    let mut components = relative.components().peekable();
    while let Some(component) = components.next() {
        if components.peek().is_none() {
            break; // the entry itself may replace a link
        }
        current.push(component);
        match fs::symlink_metadata(&current) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(Ok("the path passes through a symbolic link"));
            }
            Ok(m) if !m.is_dir() => return Err(Ok("a parent of the path is a file")),
            Ok(_) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => break,
            Err(e) => return Err(Err(e)),
        }
    }
    Ok(())
}

/// Whether `link`, relative to the directory `parent` (relative to the root), stays
/// inside the root, judged on the names alone.
fn link_stays_inside(parent: &Path, link: &Path) -> bool {
    let mut depth: usize = parent.components().count();
    for component in link.components() {
        match component {
            Component::Normal(_) => depth += 1,
            Component::CurDir => {}
            Component::ParentDir => match depth.checked_sub(1) {
                Some(d) => depth = d,
                None => return false,
            },
            Component::RootDir | Component::Prefix(_) => return false,
        }
    }
    true
}

/// Creates the parents of a file entry and removes whatever file or link is in its
/// place (never following a link).
fn prepare_file_target(target: &Path) -> io::Result<()> {
    if let Some(parent) = target.parent() {
        fs::create_dir_all(parent)?;
    }
    match fs::symlink_metadata(target) {
        Ok(m) if m.is_dir() => fs::remove_dir_all(target),
        Ok(_) => fs::remove_file(target),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

#[cfg(unix)]
fn set_mode(path: &Path, executable: bool) -> io::Result<()> {
    use std::os::unix::fs::PermissionsExt as _;
    fs::set_permissions(
        path,
        fs::Permissions::from_mode(if executable { 0o755 } else { 0o644 }),
    )
}

#[cfg(not(unix))]
fn set_mode(_path: &Path, _executable: bool) -> io::Result<()> {
    Ok(())
}

#[cfg(unix)]
fn make_symlink(link: &Path, at: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(link, at)
}

#[cfg(not(unix))]
fn make_symlink(_link: &Path, _at: &Path) -> io::Result<()> {
    Err(io::Error::other(
        "symbolic links are only supported on Unix",
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::default()
    }

    /// A tar+gzip with raw headers, so that names the `tar` builder refuses can be
    /// written.
    fn raw_archive(entries: &[(&str, EntryType, &[u8], Option<&str>)]) -> Vec<u8> {
        let mut tar = Vec::new();
        for (name, kind, data, link) in entries {
            let mut header = Header::new_old();
            let bytes = header.as_old_mut();
            bytes.name[..name.len()].copy_from_slice(name.as_bytes());
            if let Some(link) = link {
                bytes.linkname[..link.len()].copy_from_slice(link.as_bytes());
            }
            header.set_entry_type(*kind);
            header.set_size(data.len() as u64);
            header.set_mode(0o644);
            header.set_cksum();
            tar.extend_from_slice(header.as_bytes());
            tar.extend_from_slice(data);
            tar.resize(tar.len().div_ceil(512) * 512, 0);
        }
        tar.resize(tar.len() + 1024, 0);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(&tar).unwrap();
        gz.finish().unwrap()
    }

    fn refused(entries: &[(&str, EntryType, &[u8], Option<&str>)]) -> String {
        let dest = tempfile::tempdir().unwrap();
        let err = unpack(&raw_archive(entries), dest.path(), "sha256:x", &limits()).unwrap_err();
        assert!(matches!(err, Error::UnsafeEntry { .. }), "{err}");
        err.to_string()
    }

    #[test]
    fn round_trips_a_tree_with_modes() {
        let src = tempfile::tempdir().unwrap();
        fs::create_dir_all(src.path().join("a/b")).unwrap();
        fs::write(src.path().join("a/b/c.yaml"), "kind: A\n").unwrap();
        fs::write(src.path().join("run.sh"), "#!/bin/sh\n").unwrap();
        set_mode(&src.path().join("run.sh"), true).unwrap();
        fs::create_dir_all(src.path().join(".git")).unwrap();
        fs::write(src.path().join(".git/HEAD"), "ref").unwrap();
        let packed = pack(src.path()).unwrap();
        let dest = tempfile::tempdir().unwrap();
        unpack(&packed, dest.path(), "sha256:x", &limits()).unwrap();
        assert_eq!(
            fs::read_to_string(dest.path().join("a/b/c.yaml")).unwrap(),
            "kind: A\n"
        );
        assert!(!dest.path().join(".git").exists());
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = |p: &str| {
                fs::metadata(dest.path().join(p))
                    .unwrap()
                    .permissions()
                    .mode()
                    & 0o777
            };
            assert_eq!(mode("run.sh"), 0o755);
            assert_eq!(mode("a/b/c.yaml"), 0o644);
        }
    }

    #[test]
    fn refuses_escapes_and_devices() {
        let abs = refused(&[("/etc/evil", EntryType::Regular, b"x", None)]);
        assert!(
            abs.contains("absolute") && abs.contains("/etc/evil"),
            "{abs}"
        );
        assert!(refused(&[("a/../../evil", EntryType::Regular, b"x", None)]).contains(".."));
        assert!(refused(&[("l", EntryType::Symlink, b"", Some("../outside"))]).contains("outside"));
        assert!(
            refused(&[("l", EntryType::Symlink, b"", Some("/etc/passwd"))]).contains("outside")
        );
        assert!(refused(&[("d", EntryType::Char, b"", None)]).contains("device"));
        assert!(refused(&[("d", EntryType::Block, b"", None)]).contains("device"));
        assert!(refused(&[("f", EntryType::Fifo, b"", None)]).contains("FIFO"));
        assert!(refused(&[("h", EntryType::Link, b"", Some("../x"))]).contains("outside"));
        // A link chain that is harmless by names but escapes on disk.
        let chained = refused(&[
            ("a", EntryType::Symlink, b"", Some(".")),
            ("a/b", EntryType::Symlink, b"", Some("..")),
        ]);
        assert!(chained.contains("symbolic link"), "{chained}");
    }

    #[test]
    fn links_inside_the_root_are_kept() {
        let dest = tempfile::tempdir().unwrap();
        let archive = raw_archive(&[
            ("dir/file", EntryType::Regular, b"data", None),
            ("dir/link", EntryType::Symlink, b"", Some("file")),
            ("top", EntryType::Symlink, b"", Some("dir/../dir/file")),
            ("hard", EntryType::Link, b"", Some("dir/file")),
        ]);
        unpack(&archive, dest.path(), "sha256:x", &limits()).unwrap();
        assert_eq!(fs::read(dest.path().join("dir/link")).unwrap(), b"data");
        assert_eq!(fs::read(dest.path().join("top")).unwrap(), b"data");
        assert_eq!(fs::read(dest.path().join("hard")).unwrap(), b"data");
    }

    #[test]
    fn stops_decompression_bombs() {
        let zeros = vec![0u8; 4 << 20];
        let archive = raw_archive(&[("big", EntryType::Regular, &zeros, None)]);
        assert!(
            archive.len() < 64 << 10,
            "the bomb is small: {}",
            archive.len()
        );
        let dest = tempfile::tempdir().unwrap();
        let small = Limits::default().max_extracted_size(1 << 20);
        let err = unpack(&archive, dest.path(), "sha256:x", &small).unwrap_err();
        assert!(
            matches!(err, Error::ExtractLimit { unit: "bytes", .. }),
            "{err}"
        );

        let many: Vec<(String, EntryType, &[u8], Option<&str>)> = (0..20)
            .map(|i| (format!("f{i}"), EntryType::Regular, &b""[..], None))
            .collect();
        let many: Vec<_> = many
            .iter()
            .map(|(n, t, d, l)| (n.as_str(), *t, *d, *l))
            .collect();
        let err = unpack(
            &raw_archive(&many),
            dest.path(),
            "sha256:x",
            &Limits::default().max_entries(10),
        )
        .unwrap_err();
        assert!(
            matches!(
                err,
                Error::ExtractLimit {
                    unit: "entries",
                    ..
                }
            ),
            "{err}"
        );
    }

    #[test]
    fn garbage_is_an_archive_error() {
        let dest = tempfile::tempdir().unwrap();
        let err = unpack(b"not gzip at all", dest.path(), "sha256:x", &limits()).unwrap_err();
        assert!(matches!(err, Error::Archive { .. }), "{err}");
    }

    #[test]
    fn packing_is_reproducible() {
        let make = || {
            let dir = tempfile::tempdir().unwrap();
            fs::create_dir_all(dir.path().join("z/y")).unwrap();
            fs::write(dir.path().join("z/y/x.yaml"), "a: 1\n").unwrap();
            fs::write(dir.path().join("b.yaml"), "b: 2\n").unwrap();
            dir
        };
        let one = make();
        std::thread::sleep(std::time::Duration::from_millis(20));
        let two = make();
        assert_eq!(pack(one.path()).unwrap(), pack(two.path()).unwrap());
    }

    mod properties {
        use std::collections::BTreeMap;

        use proptest::prelude::*;

        use super::*;

        /// Relative file paths (up to three levels) with their contents.
        fn trees() -> impl Strategy<Value = BTreeMap<String, Vec<u8>>> {
            let name = "[a-z0-9_.-]{1,8}".prop_filter("not ., .. or .git", |n| {
                ![".", "..", ".git"].contains(&n.as_str())
            });
            let path = proptest::collection::vec(name, 1..4).prop_map(|parts| parts.join("/"));
            proptest::collection::btree_map(
                path,
                proptest::collection::vec(any::<u8>(), 0..256),
                0..12,
            )
            // A file cannot also be a directory.
            .prop_filter("no path is a prefix of another", |tree| {
                tree.keys()
                    .all(|a| tree.keys().all(|b| !b.starts_with(&format!("{a}/"))))
            })
        }

        fn write(tree: &BTreeMap<String, Vec<u8>>) -> tempfile::TempDir {
            let dir = tempfile::tempdir().unwrap();
            for (path, data) in tree {
                let path = dir.path().join(path);
                fs::create_dir_all(path.parent().unwrap()).unwrap();
                fs::write(path, data).unwrap();
            }
            dir
        }

        fn read(dir: &Path) -> BTreeMap<String, Vec<u8>> {
            walkdir::WalkDir::new(dir)
                .into_iter()
                .map(Result::unwrap)
                .filter(|e| e.file_type().is_file())
                .map(|e| {
                    let rel = e
                        .path()
                        .strip_prefix(dir)
                        .unwrap()
                        .to_str()
                        .unwrap()
                        .to_owned();
                    (rel, fs::read(e.path()).unwrap())
                })
                .collect()
        }

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(32))]

            #[test]
            fn pack_unpack_round_trips_and_is_deterministic(tree in trees()) {
                let one = write(&tree);
                let two = write(&tree);
                let packed = pack(one.path()).unwrap();
                prop_assert_eq!(&packed, &pack(two.path()).unwrap());
                let dest = tempfile::tempdir().unwrap();
                unpack(&packed, dest.path(), "sha256:x", &Limits::default()).unwrap();
                prop_assert_eq!(read(dest.path()), tree);
            }
        }
    }
}
