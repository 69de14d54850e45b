//! An agent sync of a SOPS-encrypted Secret with substituted variables: the plaintext
//! reaches the target and nothing else (the agent's state, cache and logs).

use std::path::Path;
use std::process::Command;

use driftless_testkit::git::GitServerRoot;

use crate::support::{Workspace, agent_command};

const PLAINTEXT: &str = "agent-PLAINTEXT-77c1";

fn files_holding(dir: &Path, needle: &[u8], found: &mut Vec<String>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_holding(&path, needle, found);
        } else if std::fs::read(&path)
            .unwrap()
            .windows(needle.len())
            .any(|w| w == needle)
        {
            found.push(path.display().to_string());
        }
    }
}

#[test]
fn an_encrypted_secret_leaves_no_plaintext_in_state_cache_or_logs() {
    let ws = Workspace::new();
    let key_file = ws.path("age.agekey");
    let recipient = driftless_testkit::age_key(&key_file);
    let plain = ws.path("plain/secret.yaml");
    ws.write(
        "plain/secret.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: db, namespace: '${{ns}}'}}\n\
             stringData: {{password: {PLAINTEXT}}}\n"
        ),
    );
    let out = Command::new("sops")
        .args([
            "--encrypt",
            "--age",
            &recipient,
            "--encrypted-regex",
            "^stringData$",
        ])
        .arg(&plain)
        .output()
        .unwrap();
    std::fs::remove_dir_all(ws.path("plain")).unwrap();
    assert!(
        out.status.success(),
        "sops: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    let root = GitServerRoot::new();
    let repo = root.create_repo("deploy");
    repo.write("secret.yaml", std::str::from_utf8(&out.stdout).unwrap());
    repo.commit("encrypted secret");
    repo.push();
    let config = ws.config(&format!(
        "  - name: web\n    source: {{url: 'file://{}'}}\n    target: dir:{}\n    \
         postBuild: {{substitute: {{ns: shop}}}}\n    \
         decryption: {{provider: sops, identityFiles: ['{}']}}\n",
        repo.bare().display(),
        ws.path("live").display(),
        key_file.display()
    ));
    let out = agent_command(&config)
        .arg("--once")
        .env("RUST_LOG", "trace")
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_FILE")
        .output()
        .unwrap();
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{logs}");
    let secret = ws.read("live/shop/core_Secret/db.yaml").unwrap();
    assert!(secret.contains(PLAINTEXT), "{secret}");
    assert!(!logs.contains(PLAINTEXT), "{logs}");
    assert!(
        logs.contains("TRACE") || logs.contains("DEBUG") || logs.contains("INFO"),
        "{logs}"
    );
    let mut found = Vec::new();
    files_holding(&ws.path("state"), PLAINTEXT.as_bytes(), &mut found);
    assert!(
        found.is_empty(),
        "plaintext in the agent's state: {found:?}"
    );
    let mut encrypted = Vec::new();
    files_holding(&ws.path("state"), b"ENC[AES256_GCM", &mut encrypted);
    assert!(!encrypted.is_empty(), "the cache holds the encrypted file");
}

#[test]
fn keys_and_variables_from_the_cluster_leave_no_plaintext_in_state_or_logs() {
    const VAR: &str = "var-PLAINTEXT-39af";
    let ns = driftless_testkit::kube::TestNamespace::new("agent-secret-ref");
    let ws = Workspace::new();
    let key_file = ws.path("age.agekey");
    let recipient = driftless_testkit::age_key(&key_file);
    ns.kubectl(&[
        "create",
        "secret",
        "generic",
        "sops-age",
        &format!("--from-file=age.agekey={}", key_file.display()),
    ]);
    std::fs::remove_file(&key_file).unwrap();
    ns.kubectl(&[
        "create",
        "secret",
        "generic",
        "vars",
        &format!("--from-literal=token={VAR}"),
    ]);
    ws.write(
        "plain/secret.yaml",
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: db}}\n\
             stringData: {{password: {PLAINTEXT}, token: '${{token}}'}}\n"
        ),
    );
    let out = Command::new("sops")
        .args([
            "--encrypt",
            "--age",
            &recipient,
            "--encrypted-regex",
            "^stringData$",
        ])
        .arg(ws.path("plain/secret.yaml"))
        .output()
        .unwrap();
    std::fs::remove_dir_all(ws.path("plain")).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    ws.write(
        "src/web/secret.yaml",
        std::str::from_utf8(&out.stdout).unwrap(),
    );
    let config = ws.config(&format!(
        "  - name: web\n    source: {{url: {}}}\n    target: kube\n    targetNamespace: {ns}\n    \
         postBuild: {{substituteFrom: [{{kind: Secret, name: vars}}]}}\n    \
         decryption: {{provider: sops, secretRef: {{name: sops-age}}}}\n",
        ws.path("src/web").display(),
        ns = ns.name()
    ));
    let out = agent_command(&config)
        .arg("--once")
        .env("RUST_LOG", "trace")
        .env("KUBECONFIG", driftless_testkit::kube::kubeconfig())
        .env_remove("SOPS_AGE_KEY")
        .env_remove("SOPS_AGE_KEY_FILE")
        .output()
        .unwrap();
    let logs = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{logs}");
    let applied = ns.kubectl(&[
        "get",
        "secret",
        "db",
        "-o",
        "go-template={{.data.password | base64decode}}/{{.data.token | base64decode}}",
    ]);
    assert_eq!(applied, format!("{PLAINTEXT}/{VAR}"));
    for needle in [PLAINTEXT, VAR, "AGE-SECRET-KEY-"] {
        assert!(!logs.contains(needle), "{needle} in the logs: {logs}");
        let mut found = Vec::new();
        files_holding(&ws.path("state"), needle.as_bytes(), &mut found);
        assert!(found.is_empty(), "{needle} in the agent's state: {found:?}");
    }
    assert!(logs.contains("TRACE") || logs.contains("DEBUG"), "{logs}");
}
