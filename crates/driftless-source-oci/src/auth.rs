//! Registry credentials: anonymous, basic, bearer tokens, Docker's `config.json`.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use oci_client::secrets::RegistryAuth;
use serde::Deserialize;

use crate::Error;

/// How to authenticate to a registry. The registry's token flow (a `401` with a
/// `WWW-Authenticate: Bearer realm=…` challenge) is followed with these credentials.
///
/// `Debug` never shows a password or token.
#[derive(Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Auth {
    /// No credentials (public registries, or the anonymous token flow).
    #[default]
    Anonymous,
    /// HTTP basic credentials, or the username and password for the token flow.
    Basic {
        /// The username.
        username: String,
        /// The password or access token.
        password: String,
    },
    /// A bearer token sent as is.
    Bearer {
        /// The token.
        token: String,
    },
    /// The credentials Docker stored for the registry in a `config.json` (`auths`, with
    /// a base64 `auth` or `username`/`password`): the given file, or
    /// `$DOCKER_CONFIG/config.json`, or `~/.docker/config.json`. No file or no entry
    /// for the registry means anonymous access. Credential helpers are not run.
    DockerConfig {
        /// The file; `None` for Docker's default location.
        path: Option<PathBuf>,
    },
}

impl fmt::Debug for Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Anonymous => f.write_str("Anonymous"),
            Self::Basic { username, .. } => f
                .debug_struct("Basic")
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Self::Bearer { .. } => f
                .debug_struct("Bearer")
                .field("token", &"<redacted>")
                .finish(),
            Self::DockerConfig { path } => {
                f.debug_struct("DockerConfig").field("path", path).finish()
            }
        }
    }
}

impl Auth {
    /// Basic credentials.
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Self::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    /// Credentials given as `USERNAME:PASSWORD` (like `flux --creds`); a value
    /// without a colon is a bearer token.
    pub fn from_creds(creds: &str) -> Self {
        match creds.split_once(':') {
            Some((username, password)) => Self::basic(username, password),
            None => Self::Bearer {
                token: creds.to_owned(),
            },
        }
    }

    /// Basic credentials read from two files (a trailing newline is ignored), as a
    /// Kubernetes secret mounts them.
    pub fn basic_from_files(username_file: &Path, password_file: &Path) -> Result<Self, Error> {
        Ok(Self::basic(
            read_secret(username_file)?,
            read_secret(password_file)?,
        ))
    }

    /// A bearer token read from a file (a trailing newline is ignored).
    pub fn bearer_from_file(token_file: &Path) -> Result<Self, Error> {
        Ok(Self::Bearer {
            token: read_secret(token_file)?,
        })
    }

    /// Credentials from Docker's `config.json` at `path`, or at Docker's default
    /// location when `None`.
    pub fn docker_config(path: Option<PathBuf>) -> Self {
        Self::DockerConfig { path }
    }

    /// The client's credentials for `registry` (`HOST[:PORT]`).
    pub(crate) async fn for_registry(&self, registry: &str) -> Result<RegistryAuth, Error> {
        match self {
            Self::Anonymous => Ok(RegistryAuth::Anonymous),
            Self::Basic { username, password } => {
                Ok(RegistryAuth::Basic(username.clone(), password.clone()))
            }
            Self::Bearer { token } => Ok(RegistryAuth::Bearer(token.clone())),
            Self::DockerConfig { path } => {
                let (path, explicit) = match path {
                    Some(path) => (path.clone(), true),
                    None => match default_docker_config() {
                        Some(path) => (path, false),
                        None => return Ok(RegistryAuth::Anonymous),
                    },
                };
                let bytes = match tokio::fs::read(&path).await {
                    Ok(bytes) => bytes,
                    Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => {
                        return Ok(RegistryAuth::Anonymous);
                    }
                    Err(e) => return Err(Error::io("reading Docker config", path, e)),
                };
                docker_config_auth(&bytes, registry, &path)
            }
        }
    }
}

fn read_secret(path: &Path) -> Result<String, Error> {
    let text =
        std::fs::read_to_string(path).map_err(|e| Error::io("reading credentials", path, e))?;
    let value = text.trim_end_matches(['\r', '\n']);
    if value.is_empty() {
        return Err(Error::Credentials {
            path: path.to_owned(),
            reason: "the file is empty".to_owned(),
        });
    }
    Ok(value.to_owned())
}

fn default_docker_config() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
        return Some(PathBuf::from(dir).join("config.json"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".docker/config.json"))
}

#[derive(Deserialize, Default)]
#[serde(rename_all = "camelCase")]
struct DockerConfig {
    #[serde(default)]
    auths: std::collections::BTreeMap<String, DockerAuth>,
    #[serde(default)]
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: std::collections::BTreeMap<String, String>,
}

#[derive(Deserialize, Default)]
struct DockerAuth {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    registrytoken: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

/// The key of `auths` normalised to `HOST[:PORT]`: Docker writes both `host` and
/// `https://host/v1/`.
fn normalise_registry(key: &str) -> &str {
    let key = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let key = key.split('/').next().unwrap_or(key);
    match key {
        "index.docker.io" | "registry-1.docker.io" => "docker.io",
        other => other,
    }
}

fn docker_config_auth(bytes: &[u8], registry: &str, path: &Path) -> Result<RegistryAuth, Error> {
    let invalid = |reason: String| Error::Credentials {
        path: path.to_owned(),
        reason,
    };
    let config: DockerConfig = serde_json::from_slice(bytes)
        // The parser's message may quote the file's content: give the position only.
        .map_err(|e| {
            invalid(format!(
                "not a Docker config.json (line {}, column {})",
                e.line(),
                e.column()
            ))
        })?;
    let wanted = normalise_registry(registry);
    let Some(entry) = config
        .auths
        .iter()
        .find(|(key, _)| normalise_registry(key) == wanted)
        .map(|(_, entry)| entry)
    else {
        if config.cred_helpers.contains_key(registry) || config.creds_store.is_some() {
            tracing::warn!(
                registry,
                path = %path.display(),
                "Docker credential helpers are not supported; accessing the registry anonymously"
            );
        }
        return Ok(RegistryAuth::Anonymous);
    };
    if let Some(token) = &entry.registrytoken {
        return Ok(RegistryAuth::Bearer(token.clone()));
    }
    if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(auth.trim())
            .map_err(|_| invalid(format!("auths.{registry}.auth is not valid base64")))?;
        let decoded = String::from_utf8(decoded)
            .map_err(|_| invalid(format!("auths.{registry}.auth is not UTF-8")))?;
        let (username, password) = decoded.split_once(':').ok_or_else(|| {
            invalid(format!(
                "auths.{registry}.auth must encode USERNAME:PASSWORD"
            ))
        })?;
        return Ok(RegistryAuth::Basic(
            username.to_owned(),
            password.to_owned(),
        ));
    }
    if let (Some(username), Some(password)) = (&entry.username, &entry.password) {
        return Ok(RegistryAuth::Basic(username.clone(), password.clone()));
    }
    if entry.identitytoken.is_some() {
        tracing::warn!(
            registry,
            "Docker identity tokens are not supported; accessing the registry anonymously"
        );
    }
    Ok(RegistryAuth::Anonymous)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn basic(auth: RegistryAuth) -> (String, String) {
        match auth {
            RegistryAuth::Basic(u, p) => (u, p),
            other => panic!("expected basic credentials, got {other:?}"),
        }
    }

    #[test]
    fn reads_base64_auth_and_plain_fields() {
        let path = Path::new("config.json");
        let json = br#"{"auths":{
            "https://index.docker.io/v1/":{"auth":"dXNlcjpwYXNzOndvcmQ="},
            "127.0.0.1:5000":{"username":"u2","password":"p2"}}}"#;
        assert_eq!(
            basic(docker_config_auth(json, "docker.io", path).unwrap()),
            ("user".to_owned(), "pass:word".to_owned())
        );
        assert_eq!(
            basic(docker_config_auth(json, "127.0.0.1:5000", path).unwrap()),
            ("u2".to_owned(), "p2".to_owned())
        );
        assert!(matches!(
            docker_config_auth(json, "ghcr.io", path).unwrap(),
            RegistryAuth::Anonymous
        ));
    }

    #[test]
    fn bad_base64_is_an_error_without_the_secret() {
        let json = br#"{"auths":{"h":{"auth":"!!not-base64-s3cret"}}}"#;
        let err = docker_config_auth(json, "h", Path::new("c.json")).unwrap_err();
        assert!(err.to_string().contains("base64"), "{err}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn debug_redacts_secrets() {
        let shown = format!(
            "{:?} {:?}",
            Auth::basic("me", "s3cret"),
            Auth::from_creds("t0ken")
        );
        assert!(
            !shown.contains("s3cret") && !shown.contains("t0ken"),
            "{shown}"
        );
        assert!(shown.contains("me"));
    }
}
