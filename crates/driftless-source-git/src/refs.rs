//! Picking the commit for a [`GitRef`] out of a remote's ref listing.

use std::collections::BTreeMap;

use semver::{Version, VersionReq};

use crate::{Error, GitRef};

/// How many available refs an error lists.
const LISTED: usize = 5;

/// The refs a remote advertised: branch and tag names (short) to commit ids (hex,
/// tags peeled), and the branch `HEAD` points to.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct RemoteRefs {
    pub(crate) head: Option<HeadRef>,
    pub(crate) branches: BTreeMap<String, String>,
    pub(crate) tags: BTreeMap<String, String>,
}

/// What the remote's `HEAD` is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HeadRef {
    /// A symbolic ref to a branch (short name).
    Branch(String),
    /// A detached `HEAD` (or a server that does not say which branch): the commit.
    Detached(String),
}

/// The reference (short name) and commit (hex) a [`GitRef`] resolves to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Resolved {
    pub(crate) reference: Option<String>,
    pub(crate) commit: String,
}

impl RemoteRefs {
    /// Resolves `reference` against this listing; `url` is for error messages.
    pub(crate) fn resolve(&self, reference: &GitRef, url: &str) -> Result<Resolved, Error> {
        match reference {
            GitRef::DefaultBranch => self.default_branch(url),
            GitRef::Branch(branch) => self
                .branches
                .get(branch)
                .map(|commit| Resolved {
                    reference: Some(branch.clone()),
                    commit: commit.clone(),
                })
                .ok_or_else(|| Error::BranchNotFound {
                    url: url.to_owned(),
                    branch: branch.clone(),
                    available: self.branches.keys().take(LISTED).cloned().collect(),
                }),
            GitRef::Tag(tag) => self
                .tags
                .get(tag)
                .map(|commit| Resolved {
                    reference: Some(tag.clone()),
                    commit: commit.clone(),
                })
                .ok_or_else(|| Error::TagNotFound {
                    url: url.to_owned(),
                    tag: tag.clone(),
                    available: newest_first(self.tags.keys()),
                }),
            GitRef::Semver(range) => self.semver(range, url),
            GitRef::Commit { sha, branch } => Ok(Resolved {
                reference: branch.clone(),
                commit: sha.to_ascii_lowercase(),
            }),
        }
    }

    fn default_branch(&self, url: &str) -> Result<Resolved, Error> {
        match &self.head {
            Some(HeadRef::Branch(branch)) => match self.branches.get(branch) {
                Some(commit) => Ok(Resolved {
                    reference: Some(branch.clone()),
                    commit: commit.clone(),
                }),
                None => Err(Error::NoDefaultBranch {
                    url: url.to_owned(),
                }),
            },
            Some(HeadRef::Detached(commit)) => {
                // Servers that do not advertise symrefs: the branch at the same commit,
                // preferring the usual names.
                let candidates = self.branches.iter().filter(|(_, c)| *c == commit);
                let branch = candidates
                    .clone()
                    .find(|(name, _)| *name == "main" || *name == "master")
                    .or_else(|| candidates.clone().next())
                    .map(|(name, _)| name.clone());
                Ok(Resolved {
                    reference: branch.or_else(|| Some("HEAD".to_owned())),
                    commit: commit.clone(),
                })
            }
            None => Err(Error::NoDefaultBranch {
                url: url.to_owned(),
            }),
        }
    }

    fn semver(&self, range: &str, url: &str) -> Result<Resolved, Error> {
        let req = parse_range(range)?;
        let mut best: Option<(Version, &String, &String)> = None;
        for (tag, commit) in &self.tags {
            let Some(version) = parse_tag_version(tag) else {
                continue;
            };
            if !req.matches(&version) {
                continue;
            }
            // Highest version wins; between `v1.0.0` and `1.0.0` the later name in
            // sorted order, so the choice is deterministic.
            if best.as_ref().is_none_or(|(v, _, _)| version >= *v) {
                best = Some((version, tag, commit));
            }
        }
        if let Some((_, tag, commit)) = best {
            return Ok(Resolved {
                reference: Some(tag.clone()),
                commit: commit.clone(),
            });
        }
        let mut versions: Vec<(Version, &String)> = self
            .tags
            .keys()
            .filter_map(|t| parse_tag_version(t).map(|v| (v, t)))
            .collect();
        versions.sort();
        Err(Error::SemverNoMatch {
            url: url.to_owned(),
            range: range.to_owned(),
            available: versions
                .iter()
                .rev()
                .take(LISTED)
                .map(|(_, t)| (*t).clone())
                .collect(),
        })
    }
}

/// A few tag names, highest version first where they are versions.
fn newest_first<'a>(tags: impl Iterator<Item = &'a String>) -> Vec<String> {
    let mut tags: Vec<(Option<Version>, &String)> =
        tags.map(|t| (parse_tag_version(t), t)).collect();
    tags.sort();
    tags.iter()
        .rev()
        .take(LISTED)
        .map(|(_, t)| (*t).clone())
        .collect()
}

/// The version a tag name stands for: `1.2.3` or `v1.2.3`.
fn parse_tag_version(tag: &str) -> Option<Version> {
    let bare = tag.strip_prefix('v').unwrap_or(tag);
    Version::parse(bare).ok()
}

/// Parses a semver range. Besides the `semver` crate's syntax (`^1.2`, `>=1, <2`), the
/// space-separated form other tools use (`>=1.0.0 <2.0.0`, `>= 1.0`) is accepted, and
/// a `v` before a version is ignored.
pub(crate) fn parse_range(range: &str) -> Result<VersionReq, Error> {
    let invalid = |source| Error::InvalidSemver {
        range: range.to_owned(),
        source,
    };
    let cleaned = strip_v(range);
    match VersionReq::parse(&cleaned) {
        Ok(req) => Ok(req),
        Err(first) if !cleaned.contains(',') => {
            // Join comparators separated by spaces, keeping an operator with its version.
            let mut comparators: Vec<String> = Vec::new();
            let mut pending_operator = String::new();
            for token in cleaned.split_whitespace() {
                if token
                    .chars()
                    .all(|c| matches!(c, '<' | '>' | '=' | '~' | '^'))
                {
                    pending_operator.push_str(token);
                } else {
                    comparators.push(format!("{pending_operator}{token}"));
                    pending_operator.clear();
                }
            }
            if !pending_operator.is_empty() {
                return Err(invalid(first));
            }
            VersionReq::parse(&comparators.join(", ")).map_err(|_| invalid(first))
        }
        Err(e) => Err(invalid(e)),
    }
}

/// Removes a `v` that starts a version inside a range (`^v1.2` → `^1.2`).
fn strip_v(range: &str) -> String {
    let mut out = String::with_capacity(range.len());
    let mut previous: Option<char> = None;
    let mut chars = range.chars().peekable();
    while let Some(c) = chars.next() {
        let starts_version = (c == 'v' || c == 'V')
            && chars.peek().is_some_and(char::is_ascii_digit)
            && previous.is_none_or(|p| !p.is_ascii_alphanumeric());
        if !starts_version {
            out.push(c);
        }
        previous = Some(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refs() -> RemoteRefs {
        let tags = [
            ("v1.0.0", "a1"),
            ("v1.2.0", "a2"),
            ("1.3.0", "a3"),
            ("v1.4.0-rc.1", "a4"),
            ("v2.0.0", "a5"),
            ("latest", "a6"),
        ];
        RemoteRefs {
            head: Some(HeadRef::Branch("main".into())),
            branches: [("main", "b1"), ("dev", "b2")]
                .into_iter()
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .collect(),
            tags: tags
                .into_iter()
                .map(|(a, b)| (a.to_owned(), b.to_owned()))
                .collect(),
        }
    }

    fn semver(range: &str) -> Result<String, Error> {
        refs()
            .resolve(&GitRef::Semver(range.into()), "u")
            .map(|r| r.reference.unwrap_or_default())
    }

    #[test]
    fn picks_the_highest_matching_tag() {
        assert_eq!(semver("^1").unwrap(), "1.3.0");
        assert_eq!(semver("^v1.0").unwrap(), "1.3.0");
        assert_eq!(semver(">=1.0.0 <1.3.0").unwrap(), "v1.2.0");
        assert_eq!(semver(">= 1.0, < 1.3").unwrap(), "v1.2.0");
        assert_eq!(semver("*").unwrap(), "v2.0.0");
        assert_eq!(semver("~1.0").unwrap(), "v1.0.0");
    }

    #[test]
    fn pre_releases_only_when_asked_for() {
        assert_eq!(semver(">=1.4.0-rc.0, <2").unwrap(), "v1.4.0-rc.1");
        assert_eq!(
            semver(">=1.3.5, <2").unwrap_err().to_string(),
            "no tag of u matches semver range \">=1.3.5, <2\"; available version tags include: v2.0.0, v1.4.0-rc.1, 1.3.0, v1.2.0, v1.0.0"
        );
    }

    #[test]
    fn names_what_is_missing() {
        let err = refs()
            .resolve(&GitRef::Branch("nope".into()), "u")
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "branch \"nope\" not found in u; available branches include: dev, main"
        );
        let err = refs().resolve(&GitRef::Tag("v9".into()), "u").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("tag \"v9\" not found in u; available tags include: v2.0.0"),
            "{err}"
        );
        assert!(matches!(
            semver("not a range"),
            Err(Error::InvalidSemver { .. })
        ));
    }

    #[test]
    fn default_branch_follows_head() {
        let r = refs().resolve(&GitRef::DefaultBranch, "u").unwrap();
        assert_eq!(
            (r.reference.as_deref(), r.commit.as_str()),
            (Some("main"), "b1")
        );
        let mut detached = refs();
        detached.head = Some(HeadRef::Detached("b2".into()));
        let r = detached.resolve(&GitRef::DefaultBranch, "u").unwrap();
        assert_eq!(r.reference.as_deref(), Some("dev"));
        let empty = RemoteRefs::default();
        assert!(matches!(
            empty.resolve(&GitRef::DefaultBranch, "u"),
            Err(Error::NoDefaultBranch { .. })
        ));
    }
}
