//! The registry client: transport choice, blob downloads with limits and digest
//! checks, and the translation of the client's errors into ours.

use std::collections::HashMap;
use std::io;
use std::pin::Pin;
use std::sync::{LazyLock, Mutex, Once};
use std::task::{Context, Poll};
use std::time::Duration;

use oci_client::Client;
use oci_client::client::{ClientConfig, ClientProtocol};
use oci_client::errors::{OciDistributionError, OciErrorCode};
use oci_client::secrets::RegistryAuth;
use sha2::{Digest as _, Sha256};

use crate::{Error, OciReference};

/// Installs the TLS crypto provider (ring) once per process, unless the application
/// installed one already.
fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        if rustls::crypto::CryptoProvider::get_default().is_none() {
            // Losing a race with another installer is fine: a provider is installed.
            let _ = rustls::crypto::ring::default_provider().install_default();
        }
    });
}

/// `http` for loopback registries and when plain HTTP is allowed, else `https`.
pub(crate) fn scheme(reference: &OciReference, insecure: bool) -> &'static str {
    if insecure || reference.is_loopback() {
        "http"
    } else {
        "https"
    }
}

/// A new client for the registry of `reference`.
fn new_client(reference: &OciReference, insecure: bool) -> Client {
    install_crypto_provider();
    let protocol = if scheme(reference, insecure) == "http" {
        ClientProtocol::Http
    } else {
        ClientProtocol::Https
    };
    Client::new(ClientConfig {
        protocol,
        connect_timeout: Some(Duration::from_secs(30)),
        read_timeout: Some(Duration::from_secs(120)),
        user_agent: concat!("driftless/", env!("CARGO_PKG_VERSION")),
        // Blobs are in memory already: one PUT is fewer round trips than chunks.
        use_monolithic_push: true,
        ..ClientConfig::default()
    })
}

/// Clients kept at most; past it the pool starts over (each distinct set of
/// credentials for a registry is one).
const POOL_LIMIT: usize = 64;

/// Clients by transport, registry and credentials. Building a client loads the
/// system's root certificates (about 10 ms and 110 KB each), so the sources of a
/// process share them: a thousand apps on one registry use one client and its
/// connections. The credentials are part of the key because a client keeps the first
/// credentials it was given for a registry, and one app must never pull with
/// another's.
static POOL: LazyLock<Mutex<HashMap<[u8; 32], Client>>> = LazyLock::new(Mutex::default);

/// The shared client for the registry of `reference`, used with `auth`.
pub(crate) fn shared_client(
    reference: &OciReference,
    insecure: bool,
    auth: &RegistryAuth,
) -> Client {
    let key = pool_key(reference, insecure, auth);
    let mut pool = POOL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(client) = pool.get(&key) {
        return client.clone();
    }
    if pool.len() >= POOL_LIMIT {
        pool.clear();
    }
    let client = new_client(reference, insecure);
    pool.insert(key, client.clone());
    client
}

/// The pool's key: a digest, so that no secret is kept in it.
fn pool_key(reference: &OciReference, insecure: bool, auth: &RegistryAuth) -> [u8; 32] {
    let mut digest = Sha256::new();
    for part in [scheme(reference, insecure), reference.registry()] {
        digest.update(part.as_bytes());
        digest.update([0]);
    }
    match auth {
        RegistryAuth::Anonymous => digest.update(b"anonymous"),
        RegistryAuth::Basic(user, password) => {
            digest.update(b"basic\0");
            digest.update(user.as_bytes());
            digest.update([0]);
            digest.update(password.as_bytes());
        }
        RegistryAuth::Bearer(token) => {
            digest.update(b"bearer\0");
            digest.update(token.as_bytes());
        }
    }
    digest.finalize().into()
}

/// The digest of `bytes`: `sha256:<hex>`.
pub(crate) fn sha256_digest(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Translates a client error about `reference` into ours.
pub(crate) fn map_error(
    error: OciDistributionError,
    reference: &OciReference,
    insecure: bool,
    what: &'static str,
) -> Error {
    let shown = || reference.to_string();
    match &error {
        OciDistributionError::RequestError(e) if e.is_connect() || e.is_timeout() => {
            Error::Unreachable {
                registry: reference.registry().to_owned(),
                scheme: scheme(reference, insecure),
                source: Box::new(error),
            }
        }
        OciDistributionError::RequestError(e)
            if matches!(e.status().map(|s| s.as_u16()), Some(401 | 403)) =>
        {
            Error::Unauthorized {
                reference: shown(),
                source: Box::new(error),
            }
        }
        OciDistributionError::UnauthorizedError { .. }
        | OciDistributionError::AuthenticationFailure(_)
        | OciDistributionError::ServerError {
            code: 401 | 403, ..
        } => Error::Unauthorized {
            reference: shown(),
            source: Box::new(error),
        },
        OciDistributionError::RegistryError { envelope, .. } => {
            let codes = || envelope.errors.iter().map(|e| &e.code);
            if codes().any(|c| {
                matches!(
                    c,
                    OciErrorCode::ManifestUnknown
                        | OciErrorCode::NameUnknown
                        | OciErrorCode::NotFound
                        | OciErrorCode::BlobUnknown
                )
            }) {
                Error::NotFound { reference: shown() }
            } else if codes()
                .any(|c| matches!(c, OciErrorCode::Unauthorized | OciErrorCode::Denied))
            {
                Error::Unauthorized {
                    reference: shown(),
                    source: Box::new(error),
                }
            } else {
                Error::Registry {
                    reference: shown(),
                    source: Box::new(error),
                }
            }
        }
        OciDistributionError::ServerError { code: 404, .. } => {
            Error::NotFound { reference: shown() }
        }
        OciDistributionError::DigestError(oci_client::errors::DigestError::VerificationError {
            expected,
            actual,
        }) => Error::DigestMismatch {
            what,
            reference: shown(),
            expected: expected.clone(),
            actual: actual.clone(),
        },
        _ => Error::Registry {
            reference: shown(),
            source: Box::new(error),
        },
    }
}

/// An in-memory sink that refuses more than `limit` bytes.
struct CappedBuffer {
    data: Vec<u8>,
    limit: u64,
    exceeded: bool,
}

impl tokio::io::AsyncWrite for CappedBuffer {
    fn poll_write(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        if (self.data.len() + buf.len()) as u64 > self.limit {
            self.exceeded = true;
            return Poll::Ready(Err(io::Error::other("blob size limit exceeded")));
        }
        self.data.extend_from_slice(buf);
        Poll::Ready(Ok(buf.len()))
    }

    fn poll_flush(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }

    fn poll_shutdown(self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// What to download: a blob of a manifest.
pub(crate) struct BlobRequest<'a> {
    pub(crate) what: &'static str,
    pub(crate) digest: &'a str,
    pub(crate) size: u64,
    pub(crate) limit: u64,
}

/// Downloads a blob, refusing more than its limit, and checks its digest and size.
pub(crate) async fn pull_blob(
    client: &Client,
    reference: &OciReference,
    insecure: bool,
    blob: &BlobRequest<'_>,
) -> Result<Vec<u8>, Error> {
    let too_large = || Error::BlobTooLarge {
        what: blob.what,
        reference: reference.to_string(),
        digest: blob.digest.to_owned(),
        limit: blob.limit,
    };
    if blob.size > blob.limit {
        return Err(too_large());
    }
    let mut sink = CappedBuffer {
        data: Vec::new(),
        limit: blob.limit,
        exceeded: false,
    };
    let target = reference.to_client();
    if let Err(e) = client.pull_blob(&target, blob.digest, &mut sink).await {
        if sink.exceeded {
            return Err(too_large());
        }
        return Err(map_error(e, reference, insecure, blob.what));
    }
    let actual = sha256_digest(&sink.data);
    if actual != blob.digest {
        return Err(Error::DigestMismatch {
            what: blob.what,
            reference: reference.to_string(),
            expected: blob.digest.to_owned(),
            actual,
        });
    }
    if sink.data.len() as u64 != blob.size {
        return Err(Error::DigestMismatch {
            what: blob.what,
            reference: reference.to_string(),
            expected: format!("{} of {} bytes", blob.digest, blob.size),
            actual: format!("{} bytes", sink.data.len()),
        });
    }
    Ok(sink.data)
}
