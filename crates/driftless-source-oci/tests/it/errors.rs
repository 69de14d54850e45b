//! Bad input: missing tags, unreachable registries, wrong media types, unsafe
//! archives. Each is a clear error and nothing is extracted.

use driftless_core::Source as _;
use driftless_source_oci::manifest::{
    FLUX_CONTENT_MEDIA_TYPE, GENERIC_LAYER_MEDIA_TYPES, OCI_INDEX_MEDIA_TYPE,
};
use driftless_source_oci::{Error, Limits, OciSource, OciSourceOptions, PushOptions, push};
use driftless_testkit::registry::Registry;
use tar::EntryType;

use crate::support::{
    RawArtifact, RawEntry, cache, cache_entries, digest, oci_error, raw_push, raw_push_manifest,
    raw_tar_gz, read_tree, source, write_tree,
};

#[tokio::test]
async fn a_missing_tag_or_repository_is_named() {
    let registry = Registry::start();
    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), &[("a.yaml", "a: 1\n")]);
    push(
        dir.path(),
        &format!("{}:v1", registry.url("app")),
        &PushOptions::default().use_git(false),
    )
    .await
    .unwrap();
    let cache = cache();

    for reference in [
        format!("{}:v404", registry.url("app")),
        format!("{}:v1", registry.url("nothing/here")),
    ] {
        let error = source(&reference, cache.path())
            .resolve()
            .await
            .unwrap_err();
        let error = oci_error(&error);
        assert!(matches!(error, Error::NotFound { .. }), "{error}");
        assert!(
            error.to_string().contains(&reference),
            "names {reference}: {error}"
        );
    }
    let missing = format!("{}@sha256:{}", registry.url("app"), "a".repeat(64));
    let source_by_digest = source(&missing, cache.path());
    let error = source_by_digest.resolve().await.unwrap_err();
    assert!(
        matches!(oci_error(&error), Error::NotFound { .. }),
        "{error}"
    );
    let revision = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
    let error = source_by_digest.fetch(&revision).await.unwrap_err();
    assert!(
        matches!(oci_error(&error), Error::NotFound { .. }),
        "{error}"
    );
    assert!(cache_entries(cache.path()).is_empty());
}

#[tokio::test]
async fn an_unreachable_registry_is_named() {
    let port = driftless_testkit::free_port(); // nothing listens there
    let reference = format!("oci://127.0.0.1:{port}/app:v1");
    let cache = cache();
    let error = source(&reference, cache.path())
        .resolve()
        .await
        .unwrap_err();
    let error = oci_error(&error);
    assert!(matches!(error, Error::Unreachable { .. }), "{error}");
    let message = error.to_string();
    assert!(
        message.contains(&format!("127.0.0.1:{port}")) && message.contains("unreachable"),
        "{message}"
    );

    let dir = tempfile::tempdir().unwrap();
    write_tree(dir.path(), &[("a.yaml", "a: 1\n")]);
    let error = push(
        dir.path(),
        &reference,
        &PushOptions::default().use_git(false),
    )
    .await
    .unwrap_err();
    assert!(matches!(error, Error::Unreachable { .. }), "{error}");
}

#[tokio::test]
async fn an_image_index_is_the_wrong_manifest_media_type() {
    let registry = Registry::start();
    let layer = raw_tar_gz(&[RawEntry::file("a.yaml", b"a: 1\n")]);
    let artifact = RawArtifact::flux(layer);
    let inner = raw_push(&registry, "app", "inner", &artifact).await;
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": OCI_INDEX_MEDIA_TYPE,
        "manifests": [{
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "digest": inner,
            "size": artifact.manifest().len(),
            "platform": {"architecture": "amd64", "os": "linux"}
        }]
    }))
    .unwrap();
    raw_push_manifest(
        &registry,
        "app",
        "index",
        &artifact,
        index,
        OCI_INDEX_MEDIA_TYPE,
    )
    .await;

    let cache = cache();
    let source = source(&format!("{}:index", registry.url("app")), cache.path());
    let revision = source.resolve().await.unwrap();
    let error = source.fetch(&revision).await.unwrap_err();
    let error = oci_error(&error);
    assert!(
        matches!(error, Error::WrongManifestMediaType { .. }),
        "{error}"
    );
    assert!(error.to_string().contains(OCI_INDEX_MEDIA_TYPE), "{error}");
    assert!(cache_entries(cache.path()).is_empty());
}

#[tokio::test]
async fn layers_are_chosen_by_media_type() {
    let registry = Registry::start();
    let yaml = raw_tar_gz(&[RawEntry::file("a.yaml", b"a: 1\n")]);
    let other = raw_tar_gz(&[RawEntry::file("b.yaml", b"b: 2\n")]);
    let cache = cache();

    // A text layer only: the wrong media type, named.
    let mut text = RawArtifact::flux(b"hello".to_vec());
    text.layers[0].0 = "text/plain".to_owned();
    raw_push(&registry, "app", "text", &text).await;
    let src = source(&format!("{}:text", registry.url("app")), cache.path());
    let error = src.fetch(&src.resolve().await.unwrap()).await.unwrap_err();
    let error = oci_error(&error);
    assert!(
        matches!(error, Error::WrongLayerMediaType { .. }),
        "{error}"
    );
    let message = error.to_string();
    assert!(
        message.contains("text/plain") && message.contains(FLUX_CONTENT_MEDIA_TYPE),
        "{message}"
    );

    // Two generic layers: ambiguous unless a media type is chosen.
    let mut two = RawArtifact::flux(yaml.clone());
    two.layers = vec![
        (GENERIC_LAYER_MEDIA_TYPES[0].to_owned(), yaml.clone()),
        (GENERIC_LAYER_MEDIA_TYPES[1].to_owned(), other.clone()),
    ];
    raw_push(&registry, "app", "two", &two).await;
    let src = source(&format!("{}:two", registry.url("app")), cache.path());
    let revision = src.resolve().await.unwrap();
    let error = src.fetch(&revision).await.unwrap_err();
    assert!(
        matches!(oci_error(&error), Error::AmbiguousLayers { count: 2, .. }),
        "{error}"
    );
    let chosen = OciSource::new(
        OciSourceOptions::new(format!("{}:two", registry.url("app")))
            .cache_dir(cache.path())
            .layer_media_type(GENERIC_LAYER_MEDIA_TYPES[1]),
    )
    .unwrap();
    let snapshot = chosen.fetch(&revision).await.unwrap();
    assert_eq!(
        read_tree(snapshot.root()).into_keys().collect::<Vec<_>>(),
        ["b.yaml"]
    );

    // A Flux content layer among others is chosen without asking.
    let mut mixed = RawArtifact::flux(yaml.clone());
    mixed.layers.insert(
        0,
        (
            "application/vnd.example.sbom+json".to_owned(),
            b"{}".to_vec(),
        ),
    );
    mixed
        .layers
        .push((GENERIC_LAYER_MEDIA_TYPES[0].to_owned(), other));
    raw_push(&registry, "app", "mixed", &mixed).await;
    let src = source(&format!("{}:mixed", registry.url("app")), cache.path());
    let revision = src.resolve().await.unwrap();
    let snapshot = src.fetch(&revision).await.unwrap();
    assert_eq!(
        read_tree(snapshot.root()).into_keys().collect::<Vec<_>>(),
        ["a.yaml"]
    );
    // Another layer of the same artifact, in the same cache: another tree.
    let generic = OciSource::new(
        OciSourceOptions::new(format!("{}:mixed", registry.url("app")))
            .cache_dir(cache.path())
            .layer_media_type(GENERIC_LAYER_MEDIA_TYPES[0]),
    )
    .unwrap();
    let other_snapshot = generic.fetch(&revision).await.unwrap();
    assert_ne!(other_snapshot.root(), snapshot.root());
    assert_eq!(
        read_tree(other_snapshot.root())
            .into_keys()
            .collect::<Vec<_>>(),
        ["b.yaml"]
    );
    assert_eq!(
        read_tree(snapshot.root()).into_keys().collect::<Vec<_>>(),
        ["a.yaml"]
    );

    // A chosen media type that is not there.
    let missing = OciSource::new(
        OciSourceOptions::new(format!("{}:mixed", registry.url("app")))
            .cache_dir(crate::support::cache().path())
            .layer_media_type("application/x-none"),
    )
    .unwrap();
    let error = missing
        .fetch(&missing.resolve().await.unwrap())
        .await
        .unwrap_err();
    assert!(
        oci_error(&error).to_string().contains("application/x-none"),
        "{error}"
    );
}

#[tokio::test]
async fn unsafe_archives_are_refused_and_nothing_is_extracted() {
    let registry = Registry::start();
    let cases: Vec<(&str, Vec<RawEntry<'_>>, &str)> = vec![
        (
            "absolute",
            vec![RawEntry::file("/etc/cron.d/evil", b"x")],
            "absolute",
        ),
        (
            "dotdot",
            vec![
                RawEntry::file("ok.yaml", b"ok"),
                RawEntry::file("a/../../evil", b"x"),
            ],
            "..",
        ),
        (
            "symlink",
            vec![RawEntry::link("escape", EntryType::Symlink, "../../etc")],
            "outside the root",
        ),
        (
            "symlink-chain",
            vec![
                RawEntry::link("a", EntryType::Symlink, "."),
                RawEntry::link("a/b", EntryType::Symlink, ".."),
            ],
            "symbolic link",
        ),
        (
            "through-link",
            vec![
                RawEntry::link("l", EntryType::Symlink, "d"),
                RawEntry::file("l/x", b"x"),
            ],
            "symbolic link",
        ),
        (
            "hardlink",
            vec![RawEntry::link("h", EntryType::Link, "/etc/passwd")],
            "outside the root",
        ),
        (
            "device",
            vec![RawEntry::special("dev/sda", EntryType::Block)],
            "device",
        ),
        (
            "chardev",
            vec![RawEntry::special("null", EntryType::Char)],
            "device",
        ),
        (
            "fifo",
            vec![RawEntry::special("pipe", EntryType::Fifo)],
            "FIFO",
        ),
    ];
    for (tag, entries, reason) in &cases {
        let artifact = RawArtifact::flux(raw_tar_gz(entries));
        raw_push(&registry, "evil", tag, &artifact).await;
        let cache = cache();
        let src = source(&format!("{}:{tag}", registry.url("evil")), cache.path());
        let revision = src.resolve().await.unwrap();
        let error = src.fetch(&revision).await.unwrap_err();
        let error = oci_error(&error);
        assert!(matches!(error, Error::UnsafeEntry { .. }), "{tag}: {error}");
        assert!(error.to_string().contains(reason), "{tag}: {error}");
        assert!(
            cache_entries(cache.path()).is_empty(),
            "{tag}: {:?}",
            cache_entries(cache.path())
        );
        assert!(!src.snapshot_dir(&revision).exists());
    }
}

#[tokio::test]
async fn size_limits_stop_large_layers_and_bombs() {
    let registry = Registry::start();
    let zeros = vec![0u8; 8 << 20];
    let bomb = raw_tar_gz(&[RawEntry::file("zeros", &zeros)]);
    assert!(bomb.len() < 100 << 10);
    let digest_of_bomb = digest(&bomb);
    raw_push(&registry, "bomb", "v1", &RawArtifact::flux(bomb)).await;
    let reference = format!("{}:v1", registry.url("bomb"));

    let cache = cache();
    let limited = |limits: Limits| {
        OciSource::new(
            OciSourceOptions::new(&reference)
                .cache_dir(cache.path())
                .limits(limits),
        )
        .unwrap()
    };
    let src = limited(Limits::default().max_extracted_size(1 << 20));
    let error = src.fetch(&src.resolve().await.unwrap()).await.unwrap_err();
    let error = oci_error(&error);
    assert!(matches!(error, Error::ExtractLimit { .. }), "{error}");
    assert!(error.to_string().contains(&digest_of_bomb), "{error}");

    let src = limited(Limits::default().max_layer_size(1024));
    let error = src.fetch(&src.resolve().await.unwrap()).await.unwrap_err();
    assert!(
        matches!(oci_error(&error), Error::BlobTooLarge { .. }),
        "{error}"
    );
    assert!(cache_entries(cache.path()).is_empty());

    let src = limited(Limits::default());
    let snapshot = src.fetch(&src.resolve().await.unwrap()).await.unwrap();
    assert_eq!(
        std::fs::metadata(snapshot.root().join("zeros"))
            .unwrap()
            .len(),
        8 << 20
    );
}

#[test]
fn bad_options_are_refused_before_any_request() {
    let bad = |options: OciSourceOptions| OciSource::new(options).unwrap_err().to_string();
    assert!(bad(OciSourceOptions::new("https://host/app")).contains("oci://"));
    assert!(
        bad(OciSourceOptions::new("oci://host/app").semver("not a range")).contains("not a range")
    );
    assert!(bad(OciSourceOptions::new("oci://host/app:v1").semver("^1")).contains("semver"));
    assert!(bad(OciSourceOptions::new("oci://host/app").tag("-bad")).contains("-bad"));
    assert!(bad(OciSourceOptions::new("oci://host/app").digest("sha256:12")).contains("sha256:12"));
}

/// A registry that never answers, and one that sends its manifest a byte a second: the
/// resolve and the fetch stop at the timeout, naming the artifact; a cancellation
/// stops them at once.
#[tokio::test]
async fn silent_and_trickling_registries_are_stopped() {
    use std::time::{Duration, Instant};

    use driftless_core::{Revision, SourceError};
    use driftless_testkit::git::{SilentServer, TrickleServer};
    use tokio_util::sync::CancellationToken;

    let silent = SilentServer::start();
    let trickle = TrickleServer::http("application/vnd.oci.image.manifest.v1+json");
    let cache = cache();
    let timeout = Duration::from_secs(2);
    let pinned = Revision::new(Some("v1"), "sha256", &"ab".repeat(32)).unwrap();
    for port in [silent.port(), trickle.port()] {
        let reference = format!("oci://127.0.0.1:{port}/app:v1");
        let source = OciSource::new(
            OciSourceOptions::new(&reference)
                .cache_dir(cache.path())
                .timeout(timeout),
        )
        .unwrap();
        let start = Instant::now();
        let error = source.resolve_revision().await.unwrap_err();
        assert!(matches!(error, Error::Timeout { .. }), "{error}");
        assert!(
            error.to_string().contains(&format!("127.0.0.1:{port}/app")),
            "{error}"
        );
        let error = source.fetch_revision(&pinned).await.unwrap_err();
        assert!(matches!(error, Error::Timeout { .. }), "{error}");
        assert!(start.elapsed() < 2 * timeout + Duration::from_secs(1));
    }

    let token = CancellationToken::new();
    let source = OciSource::new(
        OciSourceOptions::new(format!("oci://127.0.0.1:{}/app:v1", trickle.port()))
            .cache_dir(cache.path())
            .cancel(token.clone()),
    )
    .unwrap();
    let canceller = tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(300)).await;
        token.cancel();
    });
    let start = Instant::now();
    let error = source.resolve().await.unwrap_err();
    assert!(matches!(error, SourceError::Cancelled), "{error}");
    assert!(start.elapsed() < Duration::from_secs(2));
    canceller.await.unwrap();
}
