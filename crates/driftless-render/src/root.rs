//! Keeping reads inside the snapshot root.

use std::io;
use std::path::{Component, Path, PathBuf};

use crate::Error;

/// A path to render, checked to stay inside its snapshot root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Rooted {
    /// The snapshot root, canonical (symlinks resolved).
    pub(crate) root: PathBuf,
    /// The path relative to the root, as given, without `.` components.
    pub(crate) rel: PathBuf,
    /// `root` joined with `rel`.
    pub(crate) abs: PathBuf,
}

impl Rooted {
    /// Checks `path` (relative to `root`): no absolute paths, no `..`, and no symlink on
    /// the way that resolves outside `root`. The path must exist.
    pub(crate) fn new(root: &Path, path: &Path) -> Result<Self, Error> {
        let mut rel = PathBuf::new();
        for component in path.components() {
            match component {
                Component::CurDir => {}
                Component::Normal(part) => rel.push(part),
                Component::ParentDir | Component::RootDir | Component::Prefix(_) => {
                    return Err(Error::PathEscapesRoot {
                        path: path.to_path_buf(),
                    });
                }
            }
        }
        let root = std::fs::canonicalize(root).map_err(|source| Error::Io {
            path: root.to_path_buf(),
            source,
        })?;
        let abs = root.join(&rel);
        let resolved = std::fs::canonicalize(&abs).map_err(|source| {
            if source.kind() == io::ErrorKind::NotFound {
                Error::NotFound { path: rel.clone() }
            } else {
                Error::Io {
                    path: rel.clone(),
                    source,
                }
            }
        })?;
        if !resolved.starts_with(&root) {
            return Err(Error::SymlinkEscapesRoot {
                path: rel,
                target: resolved,
            });
        }
        Ok(Self { root, rel, abs })
    }

    /// Checks that a symlink found below the root resolves inside it; `rel` names it in
    /// errors.
    pub(crate) fn check_link(&self, link: &Path, rel: &Path) -> Result<(), Error> {
        let target = std::fs::canonicalize(link).map_err(|source| Error::Io {
            path: rel.to_path_buf(),
            source,
        })?;
        if target.starts_with(&self.root) {
            Ok(())
        } else {
            Err(Error::SymlinkEscapesRoot {
                path: rel.to_path_buf(),
                target,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_paths_that_climb_out() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("a")).unwrap();
        for bad in ["..", "a/../..", "a/..", "/etc"] {
            let err = Rooted::new(dir.path(), Path::new(bad)).unwrap_err();
            assert!(matches!(err, Error::PathEscapesRoot { .. }), "{bad}: {err}");
        }
        let ok = Rooted::new(dir.path(), Path::new("./a/.")).unwrap();
        assert_eq!(ok.rel, Path::new("a"));
        let missing = Rooted::new(dir.path(), Path::new("b")).unwrap_err();
        assert_eq!(
            missing.to_string(),
            "b: no such file or directory in the snapshot"
        );
    }
}
