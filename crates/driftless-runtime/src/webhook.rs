//! Push notifications: signature checks for GitHub, GitLab and Gitea, and which pushes
//! concern an app.

use axum::http::HeaderMap;
use hmac::{Hmac, Mac};
use sha2::Sha256;
use subtle::ConstantTimeEq;

/// Who sent a verified notification.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Provider {
    /// GitHub (`X-Hub-Signature-256`).
    GitHub,
    /// GitLab (`X-Gitlab-Token`).
    GitLab,
    /// Gitea (`X-Gitea-Signature`).
    Gitea,
}

impl Provider {
    /// `github`, `gitlab` or `gitea`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::GitHub => "github",
            Self::GitLab => "gitlab",
            Self::Gitea => "gitea",
        }
    }
}

/// Why a notification was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rejection {
    /// No signature or token header at all.
    Unsigned,
    /// A signature or token that does not match the secret.
    BadSignature(Provider),
}

impl std::fmt::Display for Rejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Unsigned => {
                f.write_str("no X-Hub-Signature-256, X-Gitea-Signature or X-Gitlab-Token header")
            }
            Self::BadSignature(provider) => {
                write!(
                    f,
                    "the {} signature does not match the secret",
                    provider.as_str()
                )
            }
        }
    }
}

/// Checks a notification against the app's secret, in constant time. Gitea's header is
/// looked at first (Gitea also sends GitHub's), then GitHub's, then GitLab's token.
pub fn verify(headers: &HeaderMap, body: &[u8], secret: &[u8]) -> Result<Provider, Rejection> {
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::trim)
    };
    if let Some(signature) = header("x-gitea-signature") {
        return check_hmac(signature, body, secret)
            .then_some(Provider::Gitea)
            .ok_or(Rejection::BadSignature(Provider::Gitea));
    }
    if let Some(signature) = header("x-hub-signature-256") {
        let ok = signature
            .strip_prefix("sha256=")
            .is_some_and(|hex| check_hmac(hex, body, secret));
        return ok
            .then_some(Provider::GitHub)
            .ok_or(Rejection::BadSignature(Provider::GitHub));
    }
    if let Some(token) = header("x-gitlab-token") {
        let ok: bool = token.as_bytes().ct_eq(secret).into();
        return ok
            .then_some(Provider::GitLab)
            .ok_or(Rejection::BadSignature(Provider::GitLab));
    }
    Err(Rejection::Unsigned)
}

/// Compares a hex HMAC-SHA256 of `body` with `signature` in constant time.
fn check_hmac(signature: &str, body: &[u8], secret: &[u8]) -> bool {
    let Ok(given) = hex::decode(signature) else {
        return false;
    };
    let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret) else {
        return false;
    };
    mac.update(body);
    mac.verify_slice(&given).is_ok()
}

/// The hex HMAC-SHA256 of `body` under `secret`, as GitHub and Gitea send it.
#[cfg(test)]
pub(crate) fn sign(body: &[u8], secret: &[u8]) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret).expect("HMAC takes keys of any length");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// The event a provider says this is, when it says (`push`, `ping`, `Push Hook`…).
pub fn event(headers: &HeaderMap) -> Option<&str> {
    ["x-github-event", "x-gitea-event", "x-gitlab-event"]
        .iter()
        .find_map(|name| headers.get(*name).and_then(|v| v.to_str().ok()))
}

/// Whether an event is a push (of a branch or tag).
pub fn is_push(event: &str) -> bool {
    matches!(event, "push" | "Push Hook" | "Tag Push Hook" | "create")
}

/// What part of a repository an app follows, for matching pushes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Follows {
    /// `refs/heads/<branch>` only.
    Branch(String),
    /// Any tag.
    Tags,
    /// Anything (unknown default branch, local directories).
    Anything,
}

impl Follows {
    /// Whether a push of `git_ref` (e.g. `refs/heads/main`) concerns the app. A payload
    /// without a ref concerns every app.
    pub fn matches(&self, git_ref: Option<&str>) -> bool {
        let Some(git_ref) = git_ref else {
            return true;
        };
        match self {
            Self::Branch(branch) => git_ref.strip_prefix("refs/heads/") == Some(branch.as_str()),
            Self::Tags => git_ref.starts_with("refs/tags/"),
            Self::Anything => true,
        }
    }
}

/// The pushed ref from a JSON payload (`ref`, as GitHub, GitLab and Gitea send it).
pub fn pushed_ref(body: &[u8]) -> Option<String> {
    let value: serde_json::Value = serde_json::from_slice(body).ok()?;
    value.get("ref")?.as_str().map(str::to_owned)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use axum::http::HeaderValue;

    use super::*;

    const SECRET: &[u8] = b"It's a Secret to Everybody";
    const BODY: &[u8] = b"Hello, World!";

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_str(value).unwrap());
        }
        map
    }

    #[test]
    fn github_documented_example_verifies() {
        // The example from GitHub's documentation on validating webhook deliveries.
        let expected = "757107ea0eb2509fc211221cce984b8a37570b6d7586c22c46f4379c8b043e17";
        assert_eq!(sign(BODY, SECRET), expected);
        let ok = headers(&[("x-hub-signature-256", &format!("sha256={expected}"))]);
        assert_eq!(verify(&ok, BODY, SECRET), Ok(Provider::GitHub));
        assert_eq!(
            verify(&ok, b"Hello, World?", SECRET),
            Err(Rejection::BadSignature(Provider::GitHub))
        );
        let no_prefix = headers(&[("x-hub-signature-256", expected)]);
        assert!(verify(&no_prefix, BODY, SECRET).is_err());
    }

    #[test]
    fn gitea_and_gitlab() {
        let gitea = headers(&[("x-gitea-signature", &sign(BODY, SECRET))]);
        assert_eq!(verify(&gitea, BODY, SECRET), Ok(Provider::Gitea));
        assert!(verify(&gitea, BODY, b"other").is_err());
        let garbage = headers(&[("x-gitea-signature", "not hex")]);
        assert!(verify(&garbage, BODY, SECRET).is_err());
        let gitlab = headers(&[("x-gitlab-token", "It's a Secret to Everybody")]);
        assert_eq!(verify(&gitlab, BODY, SECRET), Ok(Provider::GitLab));
        let wrong = headers(&[("x-gitlab-token", "It's a Secret to Everybod")]);
        assert_eq!(
            verify(&wrong, BODY, SECRET),
            Err(Rejection::BadSignature(Provider::GitLab))
        );
        assert_eq!(
            verify(&HeaderMap::new(), BODY, SECRET),
            Err(Rejection::Unsigned)
        );
    }

    #[test]
    fn pushes_to_other_branches_do_not_match() {
        let main = Follows::Branch("main".into());
        assert!(main.matches(Some("refs/heads/main")));
        assert!(!main.matches(Some("refs/heads/main2")));
        assert!(!main.matches(Some("refs/heads/feature")));
        assert!(!main.matches(Some("refs/tags/main")));
        assert!(Follows::Tags.matches(Some("refs/tags/v1.2.0")));
        assert!(!Follows::Tags.matches(Some("refs/heads/main")));
        assert_eq!(
            pushed_ref(br#"{"ref":"refs/heads/dev","after":"abc"}"#).as_deref(),
            Some("refs/heads/dev")
        );
        assert_eq!(pushed_ref(b"not json"), None);
    }
}
