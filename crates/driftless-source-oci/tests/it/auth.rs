//! A registry behind htpasswd: right, wrong and missing credentials, Docker's
//! config.json and credential files.

use base64::Engine as _;
use driftless_core::Source as _;
use driftless_source_oci::{Auth, Error, OciSource, OciSourceOptions, PushOptions, push};
use driftless_testkit::registry::Registry;

use crate::support::{cache, cache_entries, oci_error, read_tree, write_tree};

const USER: &str = "deployer";
const PASSWORD: &str = "s3cret-Passw0rd";

fn source(registry: &Registry, auth: Auth, cache: &std::path::Path) -> OciSource {
    OciSource::new(
        OciSourceOptions::new(format!("{}:v1", registry.url("private/app")))
            .auth(auth)
            .cache_dir(cache),
    )
    .unwrap()
}

async fn push_with(registry: &Registry, auth: Auth) -> Result<driftless_source_oci::Pushed, Error> {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), &[("secret-app.yaml", "kind: ConfigMap\n")]);
    push(
        dir.path(),
        &format!("{}:v1", registry.url("private/app")),
        &PushOptions::default().use_git(false).auth(auth),
    )
    .await
}

fn assert_unauthorized(error: &Error) {
    assert!(
        matches!(error, Error::Unauthorized { .. }),
        "expected unauthorized: {error}"
    );
    let mut chain = error.to_string();
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(error);
    while let Some(c) = cause {
        chain = format!("{chain}: {c}");
        cause = c.source();
    }
    assert!(
        chain.contains("private/app"),
        "names the reference: {chain}"
    );
    assert!(
        !chain.contains(PASSWORD) && !chain.contains("wrong-password"),
        "no credentials: {chain}"
    );
}

#[tokio::test]
async fn right_wrong_and_missing_credentials() {
    let registry = Registry::start_with_htpasswd(USER, PASSWORD);

    // Pushing needs credentials too.
    assert_unauthorized(&push_with(&registry, Auth::Anonymous).await.unwrap_err());
    assert_unauthorized(
        &push_with(&registry, Auth::basic(USER, "wrong-password"))
            .await
            .unwrap_err(),
    );
    let pushed = push_with(&registry, Auth::basic(USER, PASSWORD))
        .await
        .unwrap();

    let cache = cache();
    let right = source(&registry, Auth::basic(USER, PASSWORD), cache.path());
    let revision = right.resolve().await.unwrap();
    assert_eq!(revision, pushed.revision);
    let snapshot = right.fetch(&revision).await.unwrap();
    assert_eq!(read_tree(snapshot.root()).len(), 1);

    // The registry was just used with the right credentials: sources share clients,
    // never credentials.
    let other_cache = crate::support::cache();
    for auth in [
        Auth::Anonymous,
        Auth::basic(USER, "wrong-password"),
        Auth::basic("nobody", PASSWORD),
    ] {
        let source = source(&registry, auth, other_cache.path());
        assert_unauthorized(oci_error(&source.resolve().await.unwrap_err()));
        assert_unauthorized(oci_error(&source.fetch(&revision).await.unwrap_err()));
    }
    assert!(cache_entries(other_cache.path()).is_empty());
}

#[tokio::test]
async fn docker_config_and_credential_files() {
    let registry = Registry::start_with_htpasswd(USER, PASSWORD);
    let secrets = tempfile::tempdir().unwrap();
    let encoded = base64::engine::general_purpose::STANDARD.encode(format!("{USER}:{PASSWORD}"));
    let config = secrets.path().join("config.json");
    std::fs::write(
        &config,
        serde_json::to_vec(&serde_json::json!({
            "auths": {
                registry.host(): {"auth": encoded},
                "other.example.com": {"auth": "b3RoZXI6b3RoZXI="}
            }
        }))
        .unwrap(),
    )
    .unwrap();

    let pushed = push_with(&registry, Auth::docker_config(Some(config.clone())))
        .await
        .unwrap();
    let cache = cache();
    let from_config = source(&registry, Auth::docker_config(Some(config)), cache.path());
    assert_eq!(from_config.resolve().await.unwrap(), pushed.revision);

    std::fs::write(secrets.path().join("username"), format!("{USER}\n")).unwrap();
    std::fs::write(secrets.path().join("password"), format!("{PASSWORD}\n")).unwrap();
    let files = Auth::basic_from_files(
        &secrets.path().join("username"),
        &secrets.path().join("password"),
    )
    .unwrap();
    let from_files = source(&registry, files, cache.path());
    let snapshot = from_files.fetch(&pushed.revision).await.unwrap();
    assert!(snapshot.root().join("secret-app.yaml").is_file());

    // `--creds USER:PASSWORD`.
    let creds = source(
        &registry,
        Auth::from_creds(&format!("{USER}:{PASSWORD}")),
        cache.path(),
    );
    assert_eq!(creds.resolve().await.unwrap(), pushed.revision);

    // A config without an entry for this registry means anonymous: refused.
    let empty = secrets.path().join("empty.json");
    std::fs::write(&empty, br#"{"auths":{}}"#).unwrap();
    let anonymous = source(&registry, Auth::docker_config(Some(empty)), cache.path());
    assert_unauthorized(oci_error(&anonymous.resolve().await.unwrap_err()));

    // A named config file that is missing is an error naming it.
    let missing = secrets.path().join("missing.json");
    let err = source(&registry, Auth::docker_config(Some(missing)), cache.path())
        .resolve()
        .await
        .unwrap_err();
    assert!(
        oci_error(&err).to_string().contains("missing.json"),
        "{err}"
    );
}
