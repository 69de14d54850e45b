//! `oci://HOST/REPOSITORY[:TAG][@sha256:DIGEST]` references.

use std::fmt;
use std::net::{IpAddr, Ipv6Addr};
use std::str::FromStr;

use crate::Error;

/// The URL scheme of OCI references.
pub const SCHEME: &str = "oci://";

/// A parsed `oci://HOST[:PORT]/REPOSITORY[:TAG][@sha256:DIGEST]` reference.
///
/// ```
/// use driftless_source_oci::OciReference;
///
/// let r: OciReference = "oci://127.0.0.1:5000/team/app:v1.2.0".parse()?;
/// assert_eq!(r.registry(), "127.0.0.1:5000");
/// assert_eq!(r.repository(), "team/app");
/// assert_eq!(r.tag(), Some("v1.2.0"));
/// assert!(r.is_loopback());
/// # Ok::<(), driftless_source_oci::Error>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct OciReference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl OciReference {
    /// The registry: `HOST[:PORT]`.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The repository inside the registry, e.g. `team/app`.
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if the reference names one.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The manifest digest (`sha256:<hex>`), if the reference names one.
    pub fn digest(&self) -> Option<&str> {
        self.digest.as_deref()
    }

    /// The same repository with `tag` and no digest.
    #[must_use]
    pub fn with_tag(&self, tag: &str) -> Self {
        Self {
            tag: Some(tag.to_owned()),
            digest: None,
            ..self.clone()
        }
    }

    /// The same repository and tag, pinned to `digest`.
    #[must_use]
    pub fn with_digest(&self, digest: &str) -> Self {
        Self {
            digest: Some(digest.to_owned()),
            ..self.clone()
        }
    }

    /// `HOST/REPOSITORY`, for messages.
    pub fn repository_url(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }

    /// Whether the registry is on the loopback interface (`localhost`, 127.0.0.0/8 or
    /// `[::1]`), where plain HTTP is used by default, as Docker does.
    pub fn is_loopback(&self) -> bool {
        let host = host_of(&self.registry);
        if host.eq_ignore_ascii_case("localhost") {
            return true;
        }
        let host = host.trim_start_matches('[').trim_end_matches(']');
        host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
            || host.parse::<Ipv6Addr>().is_ok_and(|ip| ip.is_loopback())
    }

    /// The client library's reference; the digest wins over the tag.
    pub(crate) fn to_client(&self) -> oci_client::Reference {
        match (&self.tag, &self.digest) {
            (Some(tag), Some(digest)) => oci_client::Reference::with_tag_and_digest(
                self.registry.clone(),
                self.repository.clone(),
                tag.clone(),
                digest.clone(),
            ),
            (None, Some(digest)) => oci_client::Reference::with_digest(
                self.registry.clone(),
                self.repository.clone(),
                digest.clone(),
            ),
            (tag, None) => oci_client::Reference::with_tag(
                self.registry.clone(),
                self.repository.clone(),
                tag.clone().unwrap_or_else(|| "latest".to_owned()),
            ),
        }
    }
}

/// The host part of `HOST[:PORT]` (IPv6 literals keep their brackets).
fn host_of(registry: &str) -> &str {
    if registry.starts_with('[') {
        return registry.find(']').map_or(registry, |end| &registry[..=end]);
    }
    registry.split_once(':').map_or(registry, |(host, _)| host)
}

impl fmt::Display for OciReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{SCHEME}{}/{}", self.registry, self.repository)?;
        if let Some(tag) = &self.tag {
            write!(f, ":{tag}")?;
        }
        if let Some(digest) = &self.digest {
            write!(f, "@{digest}")?;
        }
        Ok(())
    }
}

impl FromStr for OciReference {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = |reason: &str| Error::InvalidReference {
            reference: s.to_owned(),
            reason: reason.to_owned(),
        };
        let rest = s
            .strip_prefix(SCHEME)
            .ok_or_else(|| invalid("expected oci://HOST/REPOSITORY[:TAG|@sha256:DIGEST]"))?;
        let (registry, path) = rest
            .split_once('/')
            .ok_or_else(|| invalid("missing repository after the registry host"))?;
        if registry.is_empty() {
            return Err(invalid("missing registry host"));
        }
        if let Some((_, host)) = registry.rsplit_once('@') {
            // Never repeat the credentials in a message.
            return Err(Error::InvalidReference {
                reference: format!("{SCHEME}***@{host}/{path}"),
                reason: "credentials do not belong in the reference; use a credentials file"
                    .to_owned(),
            });
        }
        if !registry
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b".-:[]_".contains(&b))
        {
            return Err(invalid("invalid registry host"));
        }
        let (name, digest) = match path.split_once('@') {
            Some((name, digest)) => (name, Some(digest)),
            None => (path, None),
        };
        if let Some(digest) = digest {
            validate_digest(digest).map_err(invalid)?;
        }
        let (repository, tag) = match name.rsplit_once(':') {
            Some((repository, tag)) if !tag.contains('/') => (repository, Some(tag)),
            _ => (name, None),
        };
        validate_repository(repository).map_err(invalid)?;
        if let Some(tag) = tag {
            validate_tag(tag).map_err(invalid)?;
        }
        Ok(Self {
            registry: registry.to_owned(),
            repository: repository.to_owned(),
            tag: tag.map(str::to_owned),
            digest: digest.map(str::to_owned),
        })
    }
}

/// Checks a `sha256:<64 lowercase hex>` digest.
pub(crate) fn validate_digest(digest: &str) -> Result<(), &'static str> {
    match digest.split_once(':') {
        Some(("sha256", hex))
            if hex.len() == 64
                && hex
                    .bytes()
                    .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) =>
        {
            Ok(())
        }
        _ => Err("a digest must be sha256:<64 lowercase hex digits>"),
    }
}

fn validate_repository(repository: &str) -> Result<(), &'static str> {
    let component_ok = |c: &str| {
        !c.is_empty()
            && c.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
            && c.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && c.bytes().last().is_some_and(|b| b.is_ascii_alphanumeric())
    };
    if repository.is_empty() {
        return Err("missing repository");
    }
    if repository.split('/').all(component_ok) {
        Ok(())
    } else {
        Err("a repository is lowercase letters, digits, '.', '_', '-' separated by '/'")
    }
}

/// Checks a tag: `[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`.
pub(crate) fn validate_tag(tag: &str) -> Result<(), &'static str> {
    let mut bytes = tag.bytes();
    let first_ok = bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphanumeric() || b == b'_');
    if first_ok
        && tag.len() <= 128
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
    {
        Ok(())
    } else {
        Err(
            "a tag is 1 to 128 of letters, digits, '_', '.', '-' and starts with a letter, digit or '_'",
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DIGEST: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn parses_tags_digests_and_ports() {
        let r: OciReference = "oci://ghcr.io/org/app".parse().unwrap();
        assert_eq!(
            (r.registry(), r.repository(), r.tag(), r.digest()),
            ("ghcr.io", "org/app", None, None)
        );
        assert!(!r.is_loopback());

        let r: OciReference = format!("oci://localhost:5000/app:v1@{DIGEST}")
            .parse()
            .unwrap();
        assert_eq!(r.registry(), "localhost:5000");
        assert_eq!(r.tag(), Some("v1"));
        assert_eq!(r.digest(), Some(DIGEST));
        assert!(r.is_loopback());
        assert_eq!(
            r.to_string(),
            format!("oci://localhost:5000/app:v1@{DIGEST}")
        );

        let r: OciReference = "oci://127.3.4.5/a/b/c:latest".parse().unwrap();
        assert!(r.is_loopback());
        let r: OciReference = "oci://[::1]:5000/a:x".parse().unwrap();
        assert!(r.is_loopback());
        assert_eq!(r.registry(), "[::1]:5000");
        let r: OciReference = "oci://10.0.0.1:5000/a".parse().unwrap();
        assert!(!r.is_loopback());
    }

    #[test]
    fn rejects_bad_references() {
        for bad in [
            "ghcr.io/app:v1",
            "oci://",
            "oci://host",
            "oci:///app",
            "oci://host/App",
            "oci://host/app:",
            "oci://host/app:-x",
            "oci://host/app@sha256:abc",
            "oci://user:pw@host/app",
            "oci://host/a//b",
        ] {
            assert!(bad.parse::<OciReference>().is_err(), "{bad}");
        }
    }

    #[test]
    fn credentials_in_a_reference_are_refused_and_never_echoed() {
        let err = "oci://me:s3cret@host/app"
            .parse::<OciReference>()
            .unwrap_err();
        assert!(!err.to_string().contains("s3cret"), "{err}");
        assert!(err.to_string().contains("credentials"), "{err}");
    }

    #[test]
    fn the_error_never_hides_the_reason() {
        let err = "oci://host/app@md5:00".parse::<OciReference>().unwrap_err();
        assert!(err.to_string().contains("sha256"), "{err}");
    }
}
