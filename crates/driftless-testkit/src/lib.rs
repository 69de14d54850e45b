//! Test fixtures that start real parts on 127.0.0.1: git repositories and servers, an
//! OCI registry, a Kubernetes API server. Every fixture stops what it started when it
//! is dropped.
//!
//! A fixture whose program is missing panics with a message saying how to install it:
//! a test never passes silently without its server.
//!
//! ```
//! let port = driftless_testkit::free_port();
//! assert!(port > 0);
//! ```
#![allow(clippy::missing_panics_doc)] // fixtures panic by design: they are for tests

use std::net::{SocketAddr, TcpListener, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (the OS picks it; it is free when this returns).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("bind an ephemeral port on 127.0.0.1")
}

/// Waits until something accepts connections on `127.0.0.1:port`.
pub fn wait_for_port(port: u16, timeout: Duration) {
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + timeout;
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(
            Instant::now() < deadline,
            "nothing listens on 127.0.0.1:{port} after {timeout:?}"
        );
        std::thread::sleep(Duration::from_millis(25));
    }
}

/// The path of a program on `PATH`, or a panic that says how to install it.
pub fn require_program(program: &str, install_hint: &str) -> PathBuf {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .map(|dir| dir.join(program))
        .find(|candidate| candidate.is_file())
        .unwrap_or_else(|| panic!("`{program}` is not installed; {install_hint}"))
}

/// A child process that is killed and reaped when dropped, together with its process
/// group when it leads one: servers such as `git daemon` (which runs `git-daemon` as a
/// child) and `sshd` fork helpers that would otherwise outlive the test.
#[derive(Debug)]
pub struct ChildGuard(pub Child);

impl ChildGuard {
    /// Spawns `command` as the leader of a new process group, so that dropping the guard
    /// stops everything it started.
    pub fn spawn_group(command: &mut Command) -> std::io::Result<Self> {
        command.process_group(0).spawn().map(Self)
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        // A group with the child's id exists only if the child leads it: the child is not
        // reaped yet, so its id cannot belong to anybody else.
        if let Ok(pid) = i32::try_from(self.0.id()) {
            let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}
pub mod git;
pub mod kube;
pub mod registry;

/// Makes an age key pair with the real `age-keygen` into `path`; returns the
/// recipient (the public key) the file's comment names.
pub fn age_key(path: &std::path::Path) -> String {
    let out = Command::new("age-keygen")
        .arg("-o")
        .arg(path)
        .output()
        .expect("age-keygen (Debian package `age`) must be installed");
    assert!(
        out.status.success(),
        "age-keygen: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = std::fs::read_to_string(path).expect("read the key age-keygen wrote");
    text.lines()
        .find_map(|l| l.strip_prefix("# public key: "))
        .expect("age-keygen names the public key")
        .to_owned()
}
