//! Who may steer the agent through its API, and the checks that keep a web page from
//! forging a request.
//!
//! Mutations (`reconcile`, `suspend`, `resume`, `rollback`) always need a bearer token
//! (`Authorization: Bearer <token>`), compared in constant time; an agent without a
//! token refuses them all. They also need `Content-Type: application/json` (a browser
//! form or a "simple" cross-site request cannot send it without a CORS preflight,
//! which the agent never grants), a `Host` naming the address the agent listens on
//! (DNS rebinding sends the attacker's name), and no `Origin` of another site.
//! Reads are open, open to loopback clients only, or need the token
//! ([`ReadAccess`]).

use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};

use axum::http::{HeaderMap, StatusCode, header};
use serde::{Deserialize, Serialize};
use sha2::{Digest as _, Sha256};
use subtle::ConstantTimeEq as _;

use crate::Error;

/// The name of the token file the agent creates in its state directory when no token
/// is configured.
pub const TOKEN_FILE_NAME: &str = "api-token";

/// The environment variable a client may hold the token in.
pub const TOKEN_ENV: &str = "DRIFTLESS_API_TOKEN";

/// Who may read the status API (`/api/v1/...`, `/metrics`) without a token.
/// `/healthz` and `/readyz` are always open; a valid token always reads.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(test, derive(schemars::JsonSchema))]
#[serde(rename_all = "camelCase")]
pub enum ReadAccess {
    /// Anyone who reaches the port.
    Open,
    /// Clients on the loopback interface (the default).
    #[default]
    Loopback,
    /// Only requests with the token.
    Token,
}

/// The authenticated caller of a request, as the audit journal names it:
/// `token:<fingerprint>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity(pub String);

/// A token the API accepts: the digest of its secret, and how the journal names it.
#[derive(Clone)]
struct Token {
    digest: [u8; 32],
    name: String,
}

/// The API's access rules. Without a token every mutation is refused.
#[derive(Clone, Default)]
pub struct ApiAuth {
    tokens: Vec<Token>,
    reads: ReadAccess,
    listen: Option<SocketAddr>,
    hosts: Vec<String>,
}

impl std::fmt::Debug for ApiAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiAuth")
            .field(
                "tokens",
                &self.tokens.iter().map(|t| &t.name).collect::<Vec<_>>(),
            )
            .field("reads", &self.reads)
            .field("listen", &self.listen)
            .field("hosts", &self.hosts)
            .finish()
    }
}

/// Why a request was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Rejection {
    /// No token, or not a valid one.
    #[error("a valid bearer token is required (Authorization: Bearer <token>)")]
    Unauthenticated,
    /// A mutation without a JSON body type.
    #[error("mutations need Content-Type: application/json")]
    NotJson,
    /// A `Host` that is not the agent's address.
    #[error("Host {0:?} is not this agent's address")]
    ForeignHost(String),
    /// An `Origin` of another site.
    #[error("cross-origin requests are refused (Origin {0:?})")]
    ForeignOrigin(String),
}

impl Rejection {
    /// The HTTP status that answers it.
    pub fn status(&self) -> StatusCode {
        match self {
            Self::Unauthenticated => StatusCode::UNAUTHORIZED,
            Self::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::ForeignHost(_) | Self::ForeignOrigin(_) => StatusCode::FORBIDDEN,
        }
    }
}

impl ApiAuth {
    /// No token: reads follow [`ReadAccess::Loopback`], mutations are refused.
    pub fn new() -> Self {
        Self::default()
    }

    /// Accepts `secret` as a bearer token; the journal names its caller
    /// `token:<fingerprint>`.
    #[must_use]
    pub fn token(mut self, secret: &str) -> Self {
        self.tokens.push(Token {
            digest: Sha256::digest(secret.as_bytes()).into(),
            name: format!("token:{}", fingerprint(secret)),
        });
        self
    }

    /// Sets who may read without a token.
    #[must_use]
    pub fn reads(mut self, reads: ReadAccess) -> Self {
        self.reads = reads;
        self
    }

    /// The address the agent listens on: mutations must name it in `Host`.
    #[must_use]
    pub fn listen(mut self, listen: SocketAddr) -> Self {
        self.listen = Some(listen);
        self
    }

    /// Also accepts `host` (`name` or `name:port`, e.g. a Service's DNS name) in `Host`.
    #[must_use]
    pub fn host(mut self, host: impl Into<String>) -> Self {
        self.hosts.push(host.into().to_ascii_lowercase());
        self
    }

    /// Whether any token is configured.
    pub fn has_token(&self) -> bool {
        !self.tokens.is_empty()
    }

    /// The caller a bearer token names, if it is one of ours. Every token is compared
    /// (in constant time, on digests of equal length), so the time taken tells nothing.
    pub fn identify(&self, headers: &HeaderMap) -> Option<Identity> {
        let presented = headers
            .get(header::AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?
            .trim();
        let digest: [u8; 32] = Sha256::digest(presented.as_bytes()).into();
        let mut found = None;
        for token in &self.tokens {
            if bool::from(token.digest.ct_eq(&digest)) {
                found = Some(Identity(token.name.clone()));
            }
        }
        found
    }

    /// Checks a mutation: token, JSON, Host and Origin.
    pub fn check_mutation(&self, headers: &HeaderMap) -> Result<Identity, Rejection> {
        let host = headers
            .get(header::HOST)
            .and_then(|h| h.to_str().ok())
            .unwrap_or_default()
            .to_ascii_lowercase();
        if !self.host_allowed(&host) {
            return Err(Rejection::ForeignHost(host));
        }
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or_default().to_ascii_lowercase();
            let authority = origin
                .strip_prefix("http://")
                .or_else(|| origin.strip_prefix("https://"));
            if authority != Some(host.as_str()) {
                return Err(Rejection::ForeignOrigin(origin));
            }
        }
        let json = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split(';').next())
            .is_some_and(|v| v.trim().eq_ignore_ascii_case("application/json"));
        if !json {
            return Err(Rejection::NotJson);
        }
        self.identify(headers).ok_or(Rejection::Unauthenticated)
    }

    /// Checks a read from `peer` (unknown when the server does not say).
    pub fn check_read(&self, headers: &HeaderMap, peer: Option<IpAddr>) -> Result<(), Rejection> {
        let open = match self.reads {
            ReadAccess::Open => true,
            ReadAccess::Loopback => peer.is_some_and(|ip| ip.is_loopback()),
            ReadAccess::Token => false,
        };
        if open || self.identify(headers).is_some() {
            Ok(())
        } else {
            Err(Rejection::Unauthenticated)
        }
    }

    /// Whether `host` (from the `Host` header) names this agent: its listen address,
    /// an IP literal with its port when it listens on every interface, `localhost`
    /// with its port when it listens on loopback, or a configured name.
    fn host_allowed(&self, host: &str) -> bool {
        if host.is_empty() {
            return false;
        }
        if self
            .hosts
            .iter()
            .any(|h| h == host || host.rsplit_once(':').is_some_and(|(name, _)| name == h))
        {
            return true;
        }
        let Some((name, port)) = host.rsplit_once(':') else {
            return false;
        };
        let Ok(port) = port.parse::<u16>() else {
            return false;
        };
        let ip = name
            .trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .ok();
        let Some(listen) = self.listen else {
            // Serving without a known address (an embedder's router): loopback names only.
            return name == "localhost" || ip.is_some_and(|ip| ip.is_loopback());
        };
        if port != listen.port() {
            return false;
        }
        match ip {
            Some(ip) => ip == listen.ip() || listen.ip().is_unspecified(),
            None => name == "localhost" && listen.ip().is_loopback(),
        }
    }
}

/// A short, stable, non-secret name of a token: the first 12 hex digits of its SHA-256.
pub fn fingerprint(secret: &str) -> String {
    hex::encode(&Sha256::digest(secret.as_bytes())[..6])
}

/// Reads a token file (trailing newlines dropped); an empty file is an error.
pub fn read_token(path: &Path) -> Result<String, Error> {
    let text = std::fs::read_to_string(path).map_err(|source| Error::TokenFile {
        path: path.to_owned(),
        source,
    })?;
    let token = text.trim().to_owned();
    if token.is_empty() {
        return Err(Error::EmptyTokenFile {
            path: path.to_owned(),
        });
    }
    Ok(token)
}

/// Where the agent keeps the token it made: `<state_dir>/api-token`.
pub fn state_token_path(state_dir: &Path) -> PathBuf {
    state_dir.join(TOKEN_FILE_NAME)
}

/// The token in `<state_dir>/api-token`, created (random, mode 0600) when missing.
pub fn ensure_state_token(state_dir: &Path) -> Result<String, Error> {
    let path = state_token_path(state_dir);
    if path.exists() {
        return read_token(&path);
    }
    let io_error = |source| Error::TokenFile {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(state_dir).map_err(io_error)?;
    let mut bytes = [0_u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| io_error(std::io::Error::other(e.to_string())))?;
    let token = hex::encode(bytes);
    write_private(&path, &format!("{token}\n")).map_err(io_error)?;
    tracing::info!(path = %path.display(), "created the API token");
    Ok(token)
}

/// Writes a new file only its owner can read.
fn write_private(path: &Path, contents: &str) -> std::io::Result<()> {
    use std::io::Write as _;
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt as _;
        options.mode(0o600);
    }
    let mut file = options.open(path)?;
    file.write_all(contents.as_bytes())?;
    file.sync_all()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(
                header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
                value.parse().unwrap(),
            );
        }
        map
    }

    fn auth() -> ApiAuth {
        ApiAuth::new()
            .token("s3cret")
            .listen("127.0.0.1:9090".parse().unwrap())
    }

    const GOOD: [(&str, &str); 3] = [
        ("host", "127.0.0.1:9090"),
        ("content-type", "application/json"),
        ("authorization", "Bearer s3cret"),
    ];

    #[test]
    fn a_mutation_needs_token_json_and_our_host() {
        let identity = auth().check_mutation(&headers(&GOOD)).unwrap();
        assert_eq!(identity.0, format!("token:{}", fingerprint("s3cret")));
        let with = |replace: (&str, &str)| {
            let mut pairs: Vec<(&str, &str)> = GOOD
                .iter()
                .copied()
                .filter(|(n, _)| *n != replace.0)
                .collect();
            if !replace.1.is_empty() {
                pairs.push(replace);
            }
            auth().check_mutation(&headers(&pairs))
        };
        assert_eq!(with(("authorization", "")), Err(Rejection::Unauthenticated));
        assert_eq!(
            with(("authorization", "Bearer wrong")),
            Err(Rejection::Unauthenticated)
        );
        assert_eq!(
            with(("content-type", "text/plain")),
            Err(Rejection::NotJson)
        );
        assert_eq!(with(("content-type", "")), Err(Rejection::NotJson));
        assert!(matches!(
            with(("host", "evil.example:9090")),
            Err(Rejection::ForeignHost(_))
        ));
        assert!(matches!(
            with(("host", "127.0.0.1:8080")),
            Err(Rejection::ForeignHost(_))
        ));
        assert!(with(("host", "localhost:9090")).is_ok());
        let mut forged = GOOD.to_vec();
        forged.push(("origin", "http://evil.example"));
        assert!(matches!(
            auth().check_mutation(&headers(&forged)),
            Err(Rejection::ForeignOrigin(_))
        ));
        let mut same = GOOD.to_vec();
        same.push(("origin", "http://127.0.0.1:9090"));
        assert!(auth().check_mutation(&headers(&same)).is_ok());
    }

    #[test]
    fn without_a_token_nothing_mutates() {
        let open = ApiAuth::new().listen("127.0.0.1:9090".parse().unwrap());
        assert_eq!(
            open.check_mutation(&headers(&GOOD)),
            Err(Rejection::Unauthenticated)
        );
    }

    #[test]
    fn hosts_on_every_interface_and_configured_names() {
        let auth = ApiAuth::new()
            .listen("0.0.0.0:9090".parse().unwrap())
            .host("driftless-agent.driftless-system.svc");
        assert!(auth.host_allowed("10.1.2.3:9090"));
        assert!(!auth.host_allowed("10.1.2.3:80"));
        assert!(auth.host_allowed("driftless-agent.driftless-system.svc:9090"));
        assert!(!auth.host_allowed("attacker.example:9090"));
        assert!(!auth.host_allowed("localhost:9090"));
    }

    #[test]
    fn reads_by_policy() {
        let loopback = Some(IpAddr::from([127, 0, 0, 1]));
        let remote = Some(IpAddr::from([10, 0, 0, 1]));
        let auth = auth();
        assert!(auth.check_read(&HeaderMap::new(), loopback).is_ok());
        assert!(auth.check_read(&HeaderMap::new(), remote).is_err());
        assert!(auth.check_read(&headers(&GOOD), remote).is_ok());
        let token_only = auth.clone().reads(ReadAccess::Token);
        assert!(token_only.check_read(&HeaderMap::new(), loopback).is_err());
        let open = auth.reads(ReadAccess::Open);
        assert!(open.check_read(&HeaderMap::new(), remote).is_ok());
    }

    #[test]
    fn the_state_token_is_private_and_stable() {
        let dir = tempfile::tempdir().unwrap();
        let token = ensure_state_token(dir.path()).unwrap();
        assert_eq!(token.len(), 64);
        assert_eq!(ensure_state_token(dir.path()).unwrap(), token);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt as _;
            let mode = std::fs::metadata(state_token_path(dir.path()))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
    }
}
