//! The Kubernetes API server of the test run, and a namespace per test.
//!
//! One real kube-apiserver (`scripts/kube-testserver`, v1.20.2) serves a whole test run:
//! the test script starts it and exports `KUBECONFIG`. Each test takes its own
//! [`TestNamespace`], deleted when dropped, so tests run in parallel without seeing
//! each other.
//!
//! ```no_run
//! use driftless_testkit::kube::TestNamespace;
//!
//! let ns = TestNamespace::new("apply");
//! ns.kubectl(&["create", "configmap", "x", "--from-literal=a=b"]);
//! let out = ns.kubectl(&["get", "configmap", "x", "-o", "jsonpath={.data.a}"]);
//! assert_eq!(out, "b");
//! ```

use std::io::Write as _;
use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// What to do when no server runs.
pub const NO_SERVER: &str = "no test API server: run scripts/test.sh, or start one with `export KUBECONFIG=$(scripts/kube-testserver/start.sh)` (it builds the server first when needed; see scripts/kube-testserver/README.md)";

/// The kubeconfig of the running test API server (`KUBECONFIG`); panics with
/// [`NO_SERVER`] when it is unset or names no file.
pub fn kubeconfig() -> PathBuf {
    let path = std::env::var_os("KUBECONFIG")
        .filter(|p| !p.is_empty())
        .map_or_else(|| panic!("{NO_SERVER}"), PathBuf::from);
    assert!(
        path.is_file(),
        "KUBECONFIG={} is not a file; {NO_SERVER}",
        path.display()
    );
    path
}

/// A `kubectl` command against the test server.
pub fn kubectl_command() -> Command {
    let program = crate::require_program(
        "kubectl",
        "install kubectl (https://kubernetes.io/docs/tasks/tools/) and put it on PATH",
    );
    let mut command = Command::new(program);
    command.env("KUBECONFIG", kubeconfig());
    command
}

/// Runs `kubectl ARGS` against the test server and returns its stdout; panics with
/// stderr when it fails.
pub fn kubectl(args: &[&str]) -> String {
    let output = kubectl_output(args, None);
    assert!(
        output.status.success(),
        "kubectl {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

/// Runs `kubectl ARGS` (with `stdin` fed in, if given) and returns its output, whether
/// it succeeded or not.
pub fn kubectl_output(args: &[&str], stdin: Option<&str>) -> Output {
    let mut command = kubectl_command();
    command
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = command.spawn().expect("start kubectl");
    if let Some(input) = stdin {
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(input.as_bytes())
            .expect("write kubectl's stdin");
    }
    child.wait_with_output().expect("wait for kubectl")
}

/// A unique name for a per-test resource: `<prefix>-<name>-<random>`, a valid DNS label.
pub fn unique_name(prefix: &str, name: &str) -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    #[allow(clippy::cast_possible_truncation)] // only the low bits matter
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() ^ (d.as_secs() as u32));
    let mix = u64::from(nanos)
        ^ (u64::from(std::process::id()) << 32)
        ^ COUNTER
            .fetch_add(1, Ordering::Relaxed)
            .wrapping_mul(0x9e37_79b9_7f4a_7c15);
    let clean: String = name
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(30)
        .collect();
    let clean = clean.trim_matches('-');
    format!("{prefix}-{clean}-{:08x}", mix & 0xffff_ffff)
}

/// A namespace of its own for one test, `t-<name>-<random>`, created at once and
/// deleted (without waiting) when dropped.
#[derive(Debug)]
pub struct TestNamespace {
    name: String,
}

impl TestNamespace {
    /// Creates the namespace on the test server.
    pub fn new(test: &str) -> Self {
        let name = unique_name("t", test);
        kubectl(&["create", "namespace", &name]);
        Self { name }
    }

    /// The namespace's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `kubectl -n <namespace> ARGS`, returning stdout; panics when it fails.
    pub fn kubectl(&self, args: &[&str]) -> String {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        kubectl(&all)
    }

    /// Runs `kubectl -n <namespace> ARGS` with `stdin`, returning the whole output.
    pub fn kubectl_output(&self, args: &[&str], stdin: Option<&str>) -> Output {
        let mut all = vec!["-n", self.name.as_str()];
        all.extend_from_slice(args);
        kubectl_output(&all, stdin)
    }
}

impl Drop for TestNamespace {
    fn drop(&mut self) {
        let _ = kubectl_output(
            &[
                "delete",
                "namespace",
                &self.name,
                "--wait=false",
                "--ignore-not-found",
            ],
            None,
        );
    }
}
