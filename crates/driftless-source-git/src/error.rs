//! [`Error`]: what can go wrong resolving and fetching, with credentials scrubbed.

use std::fmt;
use std::path::PathBuf;
use std::time::Duration;

/// An error of the git source. Every message names the remote (without credentials)
/// and what was looked for; causes from gix are kept as a chain of scrubbed messages.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The URL could not be parsed.
    #[error("invalid git URL {url:?}")]
    InvalidUrl {
        /// The URL, credentials removed.
        url: String,
        /// Why it is invalid.
        #[source]
        source: Cause,
    },
    /// `--path` is absolute or leaves the repository.
    #[error(
        "path {path:?} is outside the repository: use a relative path without `..` that stays inside it"
    )]
    PathOutsideRepository {
        /// The path as given.
        path: PathBuf,
    },
    /// A commit that is not a full 40-hex SHA-1.
    #[error("invalid commit {sha:?}: expected a full 40-hex SHA-1 commit id")]
    InvalidCommit {
        /// The commit as given.
        sha: String,
    },
    /// A semver range that does not parse.
    #[error("invalid semver range {range:?}")]
    InvalidSemver {
        /// The range as given.
        range: String,
        /// The parse error.
        #[source]
        source: semver::Error,
    },
    /// A secret file could not be read.
    #[error("cannot read the secret file {path:?}")]
    SecretFile {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A secret environment variable is not set (or not UTF-8).
    #[error("environment variable {name} (holding a git credential) is not set")]
    SecretEnv {
        /// The variable.
        name: String,
    },
    /// The repository does not exist or is not exported by the server.
    #[error("repository {url} not found (or not readable with the given credentials)")]
    RepositoryNotFound {
        /// The remote.
        url: String,
        /// What the transport reported.
        #[source]
        source: Cause,
    },
    /// The server refused the credentials, or SSH could not verify the host key.
    #[error(
        "authentication to {url} failed: check the credentials (and, for SSH, the key and known_hosts file)"
    )]
    Authentication {
        /// The remote.
        url: String,
        /// What the transport reported.
        #[source]
        source: Cause,
    },
    /// The remote could not be reached or talked to.
    #[error("cannot reach {url}")]
    Remote {
        /// The remote.
        url: String,
        /// What the transport reported.
        #[source]
        source: Cause,
    },
    /// The remote has no such branch.
    #[error(
        "branch {branch:?} not found in {url}{}",
        available_suffix("branches", available)
    )]
    BranchNotFound {
        /// The remote.
        url: String,
        /// The branch asked for.
        branch: String,
        /// A few branches the remote has.
        available: Vec<String>,
    },
    /// The remote has no such tag.
    #[error(
        "tag {tag:?} not found in {url}{}",
        available_suffix("tags", available)
    )]
    TagNotFound {
        /// The remote.
        url: String,
        /// The tag asked for.
        tag: String,
        /// A few tags the remote has.
        available: Vec<String>,
    },
    /// No tag matches the semver range.
    #[error(
        "no tag of {url} matches semver range {range:?}{}",
        available_suffix("version tags", available)
    )]
    SemverNoMatch {
        /// The remote.
        url: String,
        /// The range asked for.
        range: String,
        /// A few version tags the remote has.
        available: Vec<String>,
    },
    /// The remote's HEAD points to no branch (an empty repository).
    #[error("{url} has no default branch (is the repository empty?)")]
    NoDefaultBranch {
        /// The remote.
        url: String,
    },
    /// The commit does not exist in the remote (or the server does not serve it).
    #[error("commit {sha} not found in {url}")]
    CommitNotFound {
        /// The remote.
        url: String,
        /// The commit asked for.
        sha: String,
        /// What the server reported, if anything.
        #[source]
        source: Option<Cause>,
    },
    /// Fetching objects failed.
    #[error("fetching {what} from {url} failed")]
    Fetch {
        /// The remote.
        url: String,
        /// What was fetched (a revision).
        what: String,
        /// What gix reported.
        #[source]
        source: Cause,
    },
    /// The configured `path` does not exist (as a folder) in the fetched tree.
    #[error("path {path:?} not found in {url} at {revision}")]
    PathNotFound {
        /// The remote.
        url: String,
        /// The path.
        path: PathBuf,
        /// The revision fetched.
        revision: String,
    },
    /// A symbolic link in the tree points outside the snapshot.
    #[error(
        "symlink {path:?} in {revision} points outside the repository (to {target:?}); refusing to check it out"
    )]
    SymlinkEscape {
        /// The link, relative to the repository root.
        path: PathBuf,
        /// Where it points.
        target: String,
        /// The revision.
        revision: String,
    },
    /// A tree entry with a name that cannot be checked out safely (`..`, `.git`, a
    /// path separator).
    #[error("tree entry {path:?} in {revision} has an unsafe name; refusing to check it out")]
    UnsafeEntry {
        /// The entry, relative to the repository root.
        path: PathBuf,
        /// The revision.
        revision: String,
    },
    /// The cached repository is unreadable, even after it was rebuilt.
    #[error("cannot read the cached repository {path:?} for {url}")]
    Cache {
        /// The remote.
        url: String,
        /// The cached repository.
        path: PathBuf,
        /// What gix reported.
        #[source]
        source: Cause,
    },
    /// A file operation in the cache directory failed.
    #[error("cannot {action} {path:?}")]
    Io {
        /// What was being done (`create`, `write`, `rename`…).
        action: &'static str,
        /// The file or folder.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The operation took longer than the configured timeout.
    #[error("{operation} of {url} timed out after {after:?}")]
    Timeout {
        /// `resolve` or `fetch`.
        operation: &'static str,
        /// The remote.
        url: String,
        /// The configured timeout.
        after: Duration,
    },
    /// The operation was cancelled through the options' cancellation token.
    #[error("{operation} of {url} was cancelled")]
    Cancelled {
        /// `resolve` or `fetch`.
        operation: &'static str,
        /// The remote.
        url: String,
    },
    /// The thread running gix panicked.
    #[error("the git thread for {url} failed (it panicked)")]
    Task {
        /// The remote.
        url: String,
    },
    /// No thread could be started for the work.
    #[error("cannot start a thread to talk to {url}")]
    Thread {
        /// The remote.
        url: String,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

fn available_suffix(what: &str, available: &[String]) -> String {
    if available.is_empty() {
        format!(" (it has no {what})")
    } else {
        format!("; available {what} include: {}", available.join(", "))
    }
}

/// What a transport failure means for the user.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Failure {
    /// The server does not serve the commit asked for.
    UnknownCommit,
    /// The credentials (or, for SSH, the host key) were refused.
    Authentication,
    /// The repository does not exist or is not exported.
    NotFound,
    /// Anything else: unreachable, broken connection, protocol error.
    Other,
}

/// Classifies a transport failure on its typed causes: HTTP statuses (`reqwest`'s
/// status, gix's `AuthenticationRequired`), I/O error kinds, gix's own classes, and
/// the only texts that are messages of the other side: the server's `ERR` packet line
/// and what `ssh` wrote. Never the text of the whole chain, which holds URLs (a port
/// such as `:40315` is not an HTTP 403).
pub(crate) fn classify(error: &gix::Error, ssh_messages: Option<&str>) -> Failure {
    let mut failure = Failure::Other;
    for cause in error.iter_errors() {
        visit(cause, &mut |cause| {
            failure = failure.min(classify_cause(cause));
        });
    }
    if error.is_unauthenticated() || error.is_permission_denied() {
        failure = failure.min(Failure::Authentication);
    }
    if let Some(messages) = ssh_messages {
        failure = failure.min(classify_ssh(messages));
    }
    failure
}

/// Calls `f` on `error` and every cause below it, looking inside I/O errors (whose
/// `source()` skips the error they wrap).
fn visit<'e>(
    error: &'e (dyn std::error::Error + 'static),
    f: &mut dyn FnMut(&'e (dyn std::error::Error + 'static)),
) {
    let mut next = Some(error);
    while let Some(cause) = next {
        f(cause);
        if let Some(inner) = cause
            .downcast_ref::<std::io::Error>()
            .and_then(std::io::Error::get_ref)
        {
            visit(inner, f);
        }
        next = cause.source();
    }
}

fn classify_cause(cause: &(dyn std::error::Error + 'static)) -> Failure {
    use gix::protocol::transport::client::AuthenticationRequired;
    use gix::protocol::transport::packetline::read::Error as ErrLine;

    if cause.is::<AuthenticationRequired>() {
        return Failure::Authentication;
    }
    if let Some(e) = cause.downcast_ref::<reqwest::Error>() {
        return match e.status().map(|s| s.as_u16()) {
            Some(401 | 403) => Failure::Authentication,
            Some(404) => Failure::NotFound,
            _ => Failure::Other,
        };
    }
    if let Some(e) = cause.downcast_ref::<std::io::Error>() {
        return match e.kind() {
            std::io::ErrorKind::PermissionDenied => Failure::Authentication,
            std::io::ErrorKind::NotFound => Failure::NotFound,
            _ => Failure::Other,
        };
    }
    if let Some(e) = cause.downcast_ref::<ErrLine>() {
        return classify_server_message(&e.message.to_string());
    }
    if cause.is::<gix::error::Message>()
        && let Some(line) = quoted_err_line(&cause.to_string())
    {
        return classify_server_message(line);
    }
    Failure::Other
}

/// The server's `ERR` line that gix quotes in a message when it meets one where it
/// expected something else (e.g. `Unknown or unsupported header: "ERR upload-pack:
/// not our ref …"` in a protocol v2 fetch response).
fn quoted_err_line(message: &str) -> Option<&str> {
    let start = message.find("\"ERR ")? + "\"ERR ".len();
    let rest = &message[start..];
    Some(rest.find('"').map_or(rest, |end| &rest[..end]))
}

/// What the server said in an `ERR` packet line (git daemon, upload-pack).
fn classify_server_message(message: &str) -> Failure {
    let message = message.to_ascii_lowercase();
    let says = |needles: &[&str]| needles.iter().any(|n| message.contains(n));
    if says(&["not our ref", "unadvertised object", "not a valid object"]) {
        Failure::UnknownCommit
    } else if says(&[
        "not exported",
        "not found",
        "does not appear to be a git repository",
        "no such repository",
    ]) {
        Failure::NotFound
    } else if says(&["access denied", "permission denied", "authentication"]) {
        Failure::Authentication
    } else {
        Failure::Other
    }
}

/// What `ssh` (and the remote command it ran) wrote on its stderr.
fn classify_ssh(messages: &str) -> Failure {
    let messages = messages.to_ascii_lowercase();
    let says = |needles: &[&str]| needles.iter().any(|n| messages.contains(n));
    if says(&[
        "permission denied (publickey",
        "host key verification failed",
        "no matching host key",
        "host key for",
    ]) {
        Failure::Authentication
    } else {
        classify_server_message(&messages)
    }
}

/// The cause of an error, as a chain of messages with credentials removed. Errors
/// from gix and the transports are turned into this, so a token or password that a
/// lower layer put in a message never reaches a log.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    message: String,
    source: Option<Box<Cause>>,
}

impl Cause {
    /// A cause from a list of messages, outermost first, with `secrets` and URL
    /// credentials removed.
    pub(crate) fn from_messages<I, S>(messages: I, secrets: &[String]) -> Self
    where
        I: IntoIterator<Item = S>,
        I::IntoIter: DoubleEndedIterator,
        S: AsRef<str>,
    {
        let mut cause: Option<Cause> = None;
        for message in messages.into_iter().rev() {
            cause = Some(Cause {
                message: scrub(message.as_ref(), secrets),
                source: cause.map(Box::new),
            });
        }
        cause.unwrap_or_else(|| Cause {
            message: "unknown error".to_owned(),
            source: None,
        })
    }

    /// The cause of any error and its sources.
    pub(crate) fn from_error(
        error: &(dyn std::error::Error + 'static),
        secrets: &[String],
    ) -> Self {
        let mut messages = Vec::new();
        let mut next = Some(error);
        while let Some(e) = next {
            messages.push(e.to_string());
            next = e.source();
        }
        Self::from_messages(dedup_nested(messages), secrets)
    }

    /// The cause of a gix error, with all errors it collected.
    pub(crate) fn from_gix(error: &gix::Error, secrets: &[String]) -> Self {
        let messages: Vec<String> = error.iter_errors().map(ToString::to_string).collect();
        if messages.is_empty() {
            return Self::from_messages([error.to_string()], secrets);
        }
        Self::from_messages(dedup_nested(messages), secrets)
    }

    /// This cause with `message` added as its innermost source.
    pub(crate) fn with_innermost(mut self, message: &str, secrets: &[String]) -> Self {
        let mut slot = &mut self.source;
        while let Some(next) = slot {
            slot = &mut next.source;
        }
        *slot = Some(Box::new(Cause {
            message: scrub(message, secrets),
            source: None,
        }));
        self
    }

    /// This message and those of all sources, joined.
    pub fn chain(&self) -> String {
        let mut out = self.message.clone();
        let mut next = self.source.as_deref();
        while let Some(cause) = next {
            out.push_str(": ");
            out.push_str(&cause.message);
            next = cause.source.as_deref();
        }
        out
    }
}

/// Drops consecutive duplicate messages (some layers repeat their source's message).
fn dedup_nested(mut messages: Vec<String>) -> Vec<String> {
    messages.dedup();
    messages
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Cause {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.source
            .as_deref()
            .map(|c| c as &(dyn std::error::Error + 'static))
    }
}

/// Removes every secret and the user-info part of every URL in `text`.
pub(crate) fn scrub(text: &str, secrets: &[String]) -> String {
    let mut out = scrub_url_userinfo(text);
    for secret in secrets {
        if secret.len() >= 3 {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

/// Removes credentials from every URL in `text`: the whole user-info of HTTP(S) URLs
/// (a token may be the user name), the password of others (`ssh://git@host` keeps
/// its user name).
fn scrub_url_userinfo(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("://") {
        let (head, tail) = rest.split_at(i + 3);
        out.push_str(head);
        let scheme_start = head[..i]
            .rfind(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '+' | '-' | '.')))
            .map_or(0, |p| p + 1);
        let is_http = head[scheme_start..i]
            .to_ascii_lowercase()
            .starts_with("http");
        let authority_end = tail
            .find(|c: char| {
                c == '/' || c == '?' || c == '#' || c.is_whitespace() || c == '"' || c == '\''
            })
            .unwrap_or(tail.len());
        let authority = &tail[..authority_end];
        match authority.rfind('@') {
            Some(at) if is_http => {
                out.push_str("***@");
                out.push_str(&authority[at + 1..]);
            }
            Some(at) => {
                let userinfo = &authority[..at];
                match userinfo.split_once(':') {
                    Some((user, _)) => {
                        out.push_str(user);
                        out.push_str(":***");
                    }
                    None => out.push_str(userinfo),
                }
                out.push_str(&authority[at..]);
            }
            None => out.push_str(authority),
        }
        rest = &tail[authority_end..];
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_userinfo_and_secrets() {
        let text =
            "GET https://alice:hunter2@example.com/repo.git failed; token s3cr3t-token rejected";
        let scrubbed = scrub(text, &["s3cr3t-token".to_owned()]);
        assert_eq!(
            scrubbed,
            "GET https://***@example.com/repo.git failed; token *** rejected"
        );
        assert_eq!(scrub("ssh://git@host:22/x", &[]), "ssh://git@host:22/x");
        assert_eq!(scrub("ssh://git:pw@host/x", &[]), "ssh://git:***@host/x");
        assert_eq!(scrub("(HTTPS://tok@h/x)", &[]), "(HTTPS://***@h/x)");
        assert_eq!(scrub("no url here", &[]), "no url here");
    }

    #[test]
    fn cause_chain_is_scrubbed_at_every_level() {
        let cause = Cause::from_messages(
            ["outer pw123", "inner https://u:pw123@h/"],
            &["pw123".to_owned()],
        );
        assert_eq!(cause.chain(), "outer ***: inner https://***@h/");
    }

    #[test]
    fn lists_available_refs() {
        let e = Error::BranchNotFound {
            url: "https://h/r.git".into(),
            branch: "nope".into(),
            available: vec!["main".into(), "dev".into()],
        };
        assert_eq!(
            e.to_string(),
            "branch \"nope\" not found in https://h/r.git; available branches include: main, dev"
        );
    }

    fn io(kind: std::io::ErrorKind, message: &str) -> gix::Error {
        gix::Error::from_error(std::io::Error::new(kind, message.to_owned()))
    }

    fn err_line(message: &str) -> gix::Error {
        use gix::protocol::transport::packetline::read::Error as ErrLine;
        gix::Error::from_error(std::io::Error::other(ErrLine {
            message: message.into(),
        }))
    }

    #[test]
    fn urls_in_messages_do_not_classify() {
        // The text holds "403" and "404" in ports and paths, "not found" in a path:
        // only the typed cause (a refused connection) counts.
        let refused = io(
            std::io::ErrorKind::ConnectionRefused,
            "connecting to http://127.0.0.1:40315/404/not-found/authentication.git failed",
        );
        assert_eq!(classify(&refused, None), Failure::Other);
    }

    #[test]
    fn typed_causes_classify() {
        let denied = io(std::io::ErrorKind::PermissionDenied, "credentials rejected");
        assert_eq!(classify(&denied, None), Failure::Authentication);
        let missing = io(std::io::ErrorKind::NotFound, "no such repository");
        assert_eq!(classify(&missing, None), Failure::NotFound);
        let auth_required = gix::Error::from_error(std::io::Error::other(
            gix::protocol::transport::client::AuthenticationRequired {
                www_authenticate: Vec::new(),
            },
        ));
        assert_eq!(classify(&auth_required, None), Failure::Authentication);
    }

    #[test]
    fn server_err_lines_and_ssh_messages_classify() {
        assert_eq!(
            classify(
                &err_line("access denied or repository not exported: /missing.git"),
                None
            ),
            Failure::NotFound
        );
        assert_eq!(
            classify(&err_line("upload-pack: not our ref 0123"), None),
            Failure::UnknownCommit
        );
        assert_eq!(
            classify(&err_line("the server is busy"), None),
            Failure::Other
        );
        let quoted = gix::Error::from_error(gix::error::message(
            "Unknown or unsupported header: \"ERR upload-pack: not our ref 0123\\n\"",
        ));
        assert_eq!(classify(&quoted, None), Failure::UnknownCommit);
        let eof = io(std::io::ErrorKind::UnexpectedEof, "the remote hung up");
        assert_eq!(
            classify(&eof, Some("git@127.0.0.1: Permission denied (publickey).")),
            Failure::Authentication
        );
        assert_eq!(
            classify(
                &eof,
                Some("fatal: '/srv/x.git' does not appear to be a git repository")
            ),
            Failure::NotFound
        );
        assert_eq!(classify(&eof, None), Failure::Other);
    }
}
