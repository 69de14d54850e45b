//! Writing a commit's tree into a directory, refusing symlinks that leave it.

use std::collections::HashMap;
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::path::{Component, Path, PathBuf};

use gix::objs::tree::EntryKind;

use crate::Error;
use crate::error::Cause;

/// Why a checkout failed: the tree is refused (a user error), the object database
/// could not be read (the cache may be corrupt), or the disk failed.
#[derive(Debug)]
pub(crate) enum CheckoutError {
    Refused(Error),
    Objects(Cause),
    Io(Error),
}

/// How many symlinks one path may pass through before it counts as a loop.
const MAX_LINK_HOPS: usize = 40;

/// Writes the tree of `commit` into `dest` (an empty, existing directory) and returns
/// how many files it wrote. Every symlink must resolve inside `dest`.
pub(crate) fn checkout(
    repo: &gix::Repository,
    commit: gix::ObjectId,
    dest: &Path,
    revision: &str,
) -> Result<usize, CheckoutError> {
    let tree_id = repo
        .find_commit(commit)
        .map_err(objects)?
        .tree_id()
        .map_err(objects)?
        .detach();
    let mut files = 0usize;
    let mut blobs: Vec<(PathBuf, gix::ObjectId, bool)> = Vec::new();
    let mut links: HashMap<PathBuf, OsString> = HashMap::new();
    let mut pending = vec![(tree_id, PathBuf::new())];
    while let Some((tree_id, dir)) = pending.pop() {
        let tree = repo.find_tree(tree_id).map_err(objects)?;
        let decoded = tree.decode().map_err(objects)?;
        for entry in &decoded.entries {
            let name = OsStr::from_bytes(entry.filename);
            let rel = dir.join(name);
            if !safe_name(entry.filename) {
                return Err(CheckoutError::Refused(Error::UnsafeEntry {
                    path: rel,
                    revision: revision.to_owned(),
                }));
            }
            let abs = dest.join(&rel);
            match entry.mode.kind() {
                EntryKind::Tree => {
                    create_dir(&abs)?;
                    pending.push((entry.oid.to_owned(), rel));
                }
                EntryKind::Blob | EntryKind::BlobExecutable => {
                    blobs.push((
                        abs,
                        entry.oid.to_owned(),
                        entry.mode.kind() == EntryKind::BlobExecutable,
                    ));
                    files += 1;
                }
                EntryKind::Link => {
                    let blob = repo.find_blob(entry.oid).map_err(objects)?;
                    let target = OsStr::from_bytes(&blob.data).to_owned();
                    std::os::unix::fs::symlink(&target, &abs).map_err(|source| {
                        CheckoutError::Io(Error::Io {
                            action: "create the symlink",
                            path: abs.clone(),
                            source,
                        })
                    })?;
                    links.insert(rel, target);
                    files += 1;
                }
                EntryKind::Commit => {
                    // A submodule: an empty folder, as git leaves it without
                    // `--recurse-submodules`.
                    create_dir(&abs)?;
                }
            }
        }
    }
    write_blobs(repo, &blobs)?;
    for (link, target) in &links {
        if !resolves_inside(link, &links) {
            return Err(CheckoutError::Refused(Error::SymlinkEscape {
                path: link.clone(),
                target: target.to_string_lossy().into_owned(),
                revision: revision.to_owned(),
            }));
        }
    }
    Ok(files)
}

fn objects<E: std::error::Error + 'static>(error: E) -> CheckoutError {
    CheckoutError::Objects(Cause::from_error(&error, &[]))
}

/// Files below which writing them on one thread is as fast as on several.
const PARALLEL_FROM: usize = 128;

/// Writes the blobs to their paths, on a few threads for big trees: writing many
/// small files is bound by file system latency, not by the CPU.
fn write_blobs(
    repo: &gix::Repository,
    blobs: &[(PathBuf, gix::ObjectId, bool)],
) -> Result<(), CheckoutError> {
    fn write_all(
        repo: &gix::Repository,
        blobs: &[(PathBuf, gix::ObjectId, bool)],
    ) -> Result<(), CheckoutError> {
        for (path, id, executable) in blobs {
            let blob = repo.find_blob(*id).map_err(objects)?;
            write_file(path, &blob.data, *executable)?;
        }
        Ok(())
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZeroUsize::get)
        .clamp(2, 4);
    if blobs.len() < PARALLEL_FROM {
        return write_all(repo, blobs);
    }
    let shared = repo.clone().into_sync();
    let chunk = blobs.len().div_ceil(threads);
    std::thread::scope(|scope| {
        let handles: Vec<_> = blobs
            .chunks(chunk)
            .map(|part| {
                let shared = &shared;
                scope.spawn(move || write_all(&shared.to_thread_local(), part))
            })
            .collect();
        let mut result = Ok(());
        for handle in handles {
            let outcome = handle.join().unwrap_or_else(|_| {
                Err(CheckoutError::Objects(Cause::from_messages(
                    ["a checkout thread panicked"],
                    &[],
                )))
            });
            if result.is_ok() {
                result = outcome;
            }
        }
        result
    })
}

/// A tree entry name that is a plain file name, and not `.git`.
fn safe_name(name: &[u8]) -> bool {
    !name.is_empty()
        && name != b"."
        && name != b".."
        && !name.eq_ignore_ascii_case(b".git")
        && !name.contains(&b'/')
        && !name.contains(&0)
}

fn create_dir(path: &Path) -> Result<(), CheckoutError> {
    std::fs::create_dir(path).map_err(|source| {
        CheckoutError::Io(Error::Io {
            action: "create the folder",
            path: path.to_owned(),
            source,
        })
    })
}

fn write_file(path: &Path, data: &[u8], executable: bool) -> Result<(), CheckoutError> {
    use std::os::unix::fs::PermissionsExt;
    let io = |source| {
        CheckoutError::Io(Error::Io {
            action: "write",
            path: path.to_owned(),
            source,
        })
    };
    std::fs::write(path, data).map_err(io)?;
    if executable {
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).map_err(io)?;
    }
    Ok(())
}

/// Whether the symlink at `link` (relative to the root) resolves to a path inside
/// the root, following the other symlinks of the tree (`links`) on the way. Dangling
/// targets count as inside as long as the path stays within the root.
pub(crate) fn resolves_inside(link: &Path, links: &HashMap<PathBuf, OsString>) -> bool {
    let mut hops = 0usize;
    let mut current: Vec<OsString> = link
        .parent()
        .map(|p| p.components().map(|c| c.as_os_str().to_owned()).collect())
        .unwrap_or_default();
    let Some(target) = links.get(link) else {
        return true;
    };
    // Components still to walk, in order (a stack, reversed).
    let mut todo: Vec<OsString> = Vec::new();
    if !push_target(target, &mut todo) {
        return false;
    }
    while let Some(component) = todo.pop() {
        match component.as_bytes() {
            b"" | b"." => {}
            b".." => {
                if current.pop().is_none() {
                    return false;
                }
            }
            _ => {
                current.push(component);
                let here: PathBuf = current.iter().collect();
                if let Some(next) = links.get(&here) {
                    hops += 1;
                    if hops > MAX_LINK_HOPS {
                        return false;
                    }
                    current.pop();
                    if !push_target(next, &mut todo) {
                        return false;
                    }
                }
            }
        }
    }
    true
}

/// Pushes the components of a link target onto `todo` (reversed); false for an
/// absolute target.
fn push_target(target: &OsStr, todo: &mut Vec<OsString>) -> bool {
    let path = Path::new(target);
    let mut components = Vec::new();
    for component in path.components() {
        match component {
            Component::RootDir | Component::Prefix(_) => return false,
            Component::CurDir => {}
            Component::ParentDir => components.push(OsString::from("..")),
            Component::Normal(name) => components.push(name.to_owned()),
        }
    }
    todo.extend(components.into_iter().rev());
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    fn links(pairs: &[(&str, &str)]) -> HashMap<PathBuf, OsString> {
        pairs
            .iter()
            .map(|(l, t)| (PathBuf::from(l), OsString::from(t)))
            .collect()
    }

    #[test]
    fn symlinks_inside_are_accepted() {
        let l = links(&[
            ("a/up", ".."),
            ("b", "a/up/c"),
            ("dangling", "x/y/../z"),
            ("self", "."),
        ]);
        for link in l.keys() {
            assert!(resolves_inside(link, &l), "{link:?}");
        }
    }

    #[test]
    fn symlinks_leaving_the_root_are_refused() {
        let l = links(&[
            ("abs", "/etc/passwd"),
            ("up", "../x"),
            ("a/up2", "../../x"),
            ("d", "a/b"),
            ("a/b", ".."),
            ("through", "d/.."),
            ("loop1", "loop2"),
            ("loop2", "loop1"),
        ]);
        for bad in ["abs", "up", "a/up2", "through", "loop1"] {
            assert!(!resolves_inside(Path::new(bad), &l), "{bad}");
        }
        assert!(resolves_inside(Path::new("d"), &l));
    }

    #[test]
    fn unsafe_names() {
        for bad in [&b".."[..], b".", b".git", b".GIT", b"a/b", b""] {
            assert!(!safe_name(bad));
        }
        assert!(safe_name(b".gitignore"));
    }
}
