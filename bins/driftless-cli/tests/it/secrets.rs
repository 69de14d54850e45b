//! SOPS-encrypted Secrets and substituted variables through the command line: the
//! plaintext reaches the target (the Secret's file and the target's own record of it)
//! and nothing else (output, logs, cache, other target files), and diffs mask Secret
//! values.

use std::path::Path;
use std::process::{Command, Output};

use driftless_testkit::git::GitServerRoot;

use crate::{stderr, stdout};

const FIRST: &str = "first-PLAINTEXT-4f1c";
const SECOND: &str = "second-PLAINTEXT-9b2e";

/// An age key made by `age-keygen`: (key file, recipient).
fn age_key(dir: &Path, name: &str) -> (std::path::PathBuf, String) {
    let file = dir.join(name);
    let recipient = driftless_testkit::age_key(&file);
    (file, recipient)
}

/// The Secret encrypted by the real `sops` (the plaintext file is removed at once).
fn encrypted_secret(dir: &Path, recipient: &str, password: &str) -> String {
    let plain = dir.join("secret.yaml");
    std::fs::write(
        &plain,
        format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: shop\n\
             stringData:\n  password: {password}\n"
        ),
    )
    .unwrap();
    let out = Command::new("sops")
        .args([
            "--encrypt",
            "--age",
            recipient,
            "--encrypted-regex",
            "^(data|stringData)$",
        ])
        .arg(&plain)
        .output()
        .unwrap();
    std::fs::remove_file(&plain).unwrap();
    assert!(
        out.status.success(),
        "sops: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// Runs `driftless` with `-vvv` (every log line) and the age key in `SOPS_AGE_KEY_FILE`.
fn run(dir: &Path, key_file: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_driftless"))
        .args(args)
        .arg("-vvv")
        .current_dir(dir)
        .env("SOPS_AGE_KEY_FILE", key_file)
        .env_remove("SOPS_AGE_KEY")
        .env("XDG_CONFIG_HOME", dir.join("no-config"))
        .env_remove("RUST_LOG")
        .output()
        .unwrap()
}

/// Every file below `dir` whose bytes hold `needle`, relative to `dir`.
fn files_holding(dir: &Path, needle: &str) -> Vec<String> {
    fn walk(root: &Path, dir: &Path, needle: &[u8], found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(root, &path, needle, found);
            } else if std::fs::read(&path)
                .unwrap()
                .windows(needle.len())
                .any(|w| w == needle)
            {
                found.push(path.strip_prefix(root).unwrap().display().to_string());
            }
        }
    }
    let mut found = Vec::new();
    walk(dir, dir, needle.as_bytes(), &mut found);
    found
}

#[test]
#[allow(clippy::too_many_lines)] // one story: apply, change, diff three ways, refuse
fn encrypted_secret_reaches_only_the_target() {
    let work = tempfile::tempdir().unwrap();
    let (key_file, recipient) = age_key(work.path(), "keys.txt");
    let root = GitServerRoot::new();
    let repo = root.create_repo("deploy");
    repo.write(
        "app/kustomization.yaml",
        "resources: [secret.yaml, settings.yaml]\n",
    )
    .write(
        "app/secret.yaml",
        &encrypted_secret(work.path(), &recipient, FIRST),
    )
    .write(
        "app/settings.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: shop}\n\
             data: {greeting: '${greeting:=hi}', replicas: '${replicas}'}\n",
    );
    let first = repo.commit("first");
    repo.push();
    let url = format!("file://{}", repo.bare().display());
    let cache = work.path().join("cache");
    let live = work.path().join("live");
    let (cache_arg, target) = (
        cache.to_str().unwrap().to_owned(),
        format!("dir:{}", live.display()),
    );
    let source = [url.as_str(), "--path", "app", "--cache-dir", &cache_arg];

    let apply = run(
        work.path(),
        &key_file,
        &[
            &["apply"][..],
            &source,
            &[
                "--target",
                &target,
                "--name",
                "shop",
                "--substitute",
                "replicas=3",
            ],
        ]
        .concat(),
    );
    assert!(apply.status.success(), "{}", stderr(&apply));
    let secret = live.join("shop/core_Secret/db.yaml");
    assert!(std::fs::read_to_string(&secret).unwrap().contains(FIRST));
    let settings = std::fs::read_to_string(live.join("shop/core_ConfigMap/settings.yaml")).unwrap();
    assert!(
        settings.contains("greeting: hi") && settings.contains("replicas: \"3\""),
        "{settings}"
    );
    assert!(!stdout(&apply).contains(FIRST) && !stderr(&apply).contains(FIRST));
    assert!(stderr(&apply).contains("DEBUG"), "the logs were on");
    // The target directory is where the Secret is applied: its file, and the target's
    // record of what it applied (as a cluster keeps the object itself).
    assert_eq!(
        files_holding(&live, FIRST),
        [
            ".driftless/inventories/shop.json",
            "shop/core_Secret/db.yaml"
        ]
    );
    assert!(
        files_holding(&cache, FIRST).is_empty(),
        "{:?}",
        files_holding(&cache, FIRST)
    );
    assert!(
        !files_holding(&cache, "ENC[AES256_GCM").is_empty(),
        "the cache holds the encrypted file"
    );

    // A new value: the diff shows a change, masked, in every format.
    repo.write(
        "app/secret.yaml",
        &encrypted_secret(work.path(), &recipient, SECOND),
    );
    let second = repo.commit("second");
    repo.push();
    for format in ["human", "json"] {
        let diff = run(
            work.path(),
            &key_file,
            &[
                &["diff"][..],
                &source,
                &[
                    "--target",
                    &target,
                    "--name",
                    "shop",
                    "--substitute",
                    "replicas=3",
                    "-o",
                    format,
                ],
            ]
            .concat(),
        );
        assert_eq!(diff.status.code(), Some(1), "{}", stderr(&diff));
        let text = format!("{}{}", stdout(&diff), stderr(&diff));
        assert!(
            !text.contains(FIRST) && !text.contains(SECOND),
            "{format}: {text}"
        );
        assert!(
            stdout(&diff).contains("*** (after)"),
            "{format}: {}",
            stdout(&diff)
        );
    }
    let rev = run(
        work.path(),
        &key_file,
        &[
            &["diff"][..],
            &source,
            &[
                "--rev",
                &format!("{first}..{second}"),
                "--substitute",
                "replicas=3",
            ],
        ]
        .concat(),
    );
    assert_eq!(rev.status.code(), Some(1), "{}", stderr(&rev));
    let text = format!("{}{}", stdout(&rev), stderr(&rev));
    assert!(!text.contains(FIRST) && !text.contains(SECOND), "{text}");
    assert!(
        stdout(&rev).contains("~ update /Secret/shop/db"),
        "{}",
        stdout(&rev)
    );
    assert!(files_holding(&cache, SECOND).is_empty());

    // Without the key, nothing is applied and the error names the file.
    let (other_key, _) = age_key(work.path(), "other.txt");
    let refused = run(
        work.path(),
        &other_key,
        &[
            &["apply"][..],
            &source,
            &["--target", &target, "--name", "shop"],
        ]
        .concat(),
    );
    assert!(!refused.status.success());
    assert!(
        stderr(&refused).contains("secret.yaml"),
        "{}",
        stderr(&refused)
    );
    assert!(
        stderr(&refused).contains("no age identity given can decrypt it"),
        "{}",
        stderr(&refused)
    );
    assert!(
        std::fs::read_to_string(&secret).unwrap().contains(FIRST),
        "the target kept the last good state"
    );
    let key_arg = key_file.to_str().unwrap();
    let render = run(
        work.path(),
        &other_key,
        &[&["render"][..], &source, &["--age-identity", key_arg]].concat(),
    );
    assert!(render.status.success(), "{}", stderr(&render));
    assert!(
        stdout(&render).contains(SECOND),
        "render prints the decrypted objects"
    );
    assert!(!stderr(&render).contains(SECOND));
}
