//! Blobs changed in the registry's storage are refused, and nothing is extracted.

use driftless_core::Source as _;
use driftless_source_oci::{Error, PushOptions, push};
use driftless_testkit::registry::Registry;

use crate::support::{cache, cache_entries, oci_error, source, write_tree};

async fn pushed(registry: &Registry) -> driftless_source_oci::Pushed {
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), &[("a.yaml", "a: 1\n"), ("b/c.yaml", "c: 3\n")]);
    push(
        dir.path(),
        &format!("{}:v1", registry.url("app")),
        &PushOptions::default().use_git(false),
    )
    .await
    .unwrap()
}

#[tokio::test]
async fn a_tampered_layer_is_refused_and_nothing_is_extracted() {
    let registry = Registry::start();
    let pushed = pushed(&registry).await;
    let blob = registry.blob_path(&pushed.layer_digest);
    let mut evil = std::fs::read(&blob).unwrap();
    // A valid gzip of other content would do too; flipping bytes is enough to differ.
    let last = evil.len() - 1;
    evil[last] ^= 0xff;
    evil[10] ^= 0x01;
    std::fs::write(&blob, &evil).unwrap();

    let cache = cache();
    let source = source(&format!("{}:v1", registry.url("app")), cache.path());
    let revision = source.resolve().await.unwrap();
    assert_eq!(revision, pushed.revision, "the manifest is intact");
    let error = source.fetch(&revision).await.unwrap_err();
    match oci_error(&error) {
        Error::DigestMismatch { what, expected, .. } => {
            assert_eq!(*what, "layer blob");
            assert_eq!(expected, &pushed.layer_digest);
        }
        other => panic!("expected a digest mismatch, got {other}"),
    }
    let message = oci_error(&error).to_string();
    assert!(message.contains(&pushed.layer_digest), "{message}");
    assert!(
        cache_entries(cache.path()).is_empty(),
        "{:?}",
        cache_entries(cache.path())
    );
    assert!(!source.snapshot_dir(&revision).exists());
}

#[tokio::test]
async fn a_tampered_layer_of_another_size_is_refused() {
    let registry = Registry::start();
    let pushed = pushed(&registry).await;
    // Replace the layer by a well-formed archive of other files.
    let evil =
        crate::support::raw_tar_gz(&[crate::support::RawEntry::file("evil.yaml", b"evil\n")]);
    std::fs::write(registry.blob_path(&pushed.layer_digest), &evil).unwrap();

    let cache = cache();
    let source = source(&format!("{}:v1", registry.url("app")), cache.path());
    let error = source.fetch(&pushed.revision).await.unwrap_err();
    assert!(
        matches!(oci_error(&error), Error::DigestMismatch { .. }),
        "{error}"
    );
    assert!(cache_entries(cache.path()).is_empty());
}

#[tokio::test]
async fn a_tampered_config_is_refused() {
    let registry = Registry::start();
    let pushed = pushed(&registry).await;
    let config_digest = crate::support::digest(b"{}");
    std::fs::write(registry.blob_path(&config_digest), b"{\"x\":1}").unwrap();
    let cache = cache();
    let source = source(&format!("{}:v1", registry.url("app")), cache.path());
    let error = source.fetch(&pushed.revision).await.unwrap_err();
    match oci_error(&error) {
        Error::DigestMismatch { what, .. } => assert_eq!(*what, "config blob"),
        other => panic!("expected a digest mismatch, got {other}"),
    }
    assert!(cache_entries(cache.path()).is_empty());
}

#[tokio::test]
async fn a_tampered_manifest_is_refused() {
    let registry = Registry::start();
    let pushed = pushed(&registry).await;
    let manifest = registry.blob_path(&pushed.revision.digest());
    let mut bytes = std::fs::read(&manifest).unwrap();
    // Same JSON meaning, other bytes.
    bytes.push(b'\n');
    std::fs::write(&manifest, &bytes).unwrap();
    let cache = cache();
    let source = source(&format!("{}:v1", registry.url("app")), cache.path());
    let error = source.fetch(&pushed.revision).await.unwrap_err();
    let message = oci_error(&error).to_string();
    assert!(
        message.contains("digest mismatch") && message.contains("manifest"),
        "{message}"
    );
    assert!(cache_entries(cache.path()).is_empty());
}
