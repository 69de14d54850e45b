//! `fetch`, `push`, and apply from git and OCI sources, against real servers on 127.0.0.1.

use driftless_testkit::git::{GitHttp, GitServerRoot};
use driftless_testkit::registry::Registry;

use crate::{driftless, stderr, stdout};

const CONFIG_MAP: &str = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: web\ndata:\n  mode: fast\n";

#[test]
fn fetch_and_apply_from_git_over_http() {
    let root = GitServerRoot::new();
    let repo = root.create_repo("deploy");
    repo.write("apps/web/settings.yaml", CONFIG_MAP);
    let first = repo.commit("first");
    repo.tag("v1.0.0").push();
    let server = GitHttp::start(root.path());
    let url = server.url("deploy");
    let work = tempfile::tempdir().unwrap();
    let cache = work.path().join("cache");
    let cache = cache.to_str().unwrap();

    let out = driftless(
        work.path(),
        &[
            "fetch",
            &url,
            "--cache-dir",
            cache,
            "--out",
            "tree",
            "--path",
            "apps",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), format!("main@sha1:{first}"));
    assert!(work.path().join("tree/web/settings.yaml").is_file());

    repo.write(
        "apps/web/settings.yaml",
        &CONFIG_MAP.replace("fast", "safe"),
    );
    repo.commit("second");
    repo.push();
    let out = driftless(
        work.path(),
        &["fetch", &url, "--cache-dir", cache, "--semver", "^1"],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), format!("v1.0.0@sha1:{first}"));

    let apply = [
        "apply",
        &url,
        "--cache-dir",
        cache,
        "--path",
        "apps",
        "--target",
        "dir:live",
    ];
    let out = driftless(work.path(), &apply);
    assert!(out.status.success(), "{}", stderr(&out));
    let live =
        std::fs::read_to_string(work.path().join("live/web/core_ConfigMap/settings.yaml")).unwrap();
    assert!(live.contains("mode: safe"), "{live}");

    let out = driftless(
        work.path(),
        &["fetch", &url, "--cache-dir", cache, "--branch", "nope"],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("nope"), "{}", stderr(&out));
}

#[test]
fn push_then_fetch_and_render_an_oci_artifact() {
    let registry = Registry::start();
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(work.path().join("bundle/web")).unwrap();
    std::fs::write(work.path().join("bundle/web/settings.yaml"), CONFIG_MAP).unwrap();
    let reference = format!("{}:v1.2.0", registry.url("team/app"));

    let push = [
        "push",
        "bundle",
        &reference,
        "--source",
        "https://example.invalid/deploy.git",
        "-o",
        "json",
    ];
    let out = driftless(work.path(), &push);
    assert!(out.status.success(), "{}", stderr(&out));
    let pushed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let revision = pushed["revision"].as_str().unwrap().to_owned();
    assert!(revision.starts_with("v1.2.0@sha256:"), "{revision}");

    // The same content pushes to the same digest.
    let out = driftless(work.path(), &push);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&out.stdout).unwrap()["revision"],
        revision.as_str()
    );

    let cache = work.path().join("cache");
    let fetch = [
        "fetch",
        &registry.url("team/app"),
        "--semver",
        ">=1",
        "--cache-dir",
        cache.to_str().unwrap(),
        "--out",
        "tree",
    ];
    let out = driftless(work.path(), &fetch);
    assert!(out.status.success(), "{}", stderr(&out));
    assert_eq!(stdout(&out).trim(), revision);
    assert!(work.path().join("tree/web/settings.yaml").is_file());

    let out = driftless(
        work.path(),
        &[
            "render",
            &reference,
            "--cache-dir",
            cache.to_str().unwrap(),
            "-o",
            "json",
        ],
    );
    assert!(out.status.success(), "{}", stderr(&out));
    let objects: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(objects[0]["data"]["mode"], "fast");

    let missing = format!("{}:v9", registry.url("team/app"));
    let out = driftless(
        work.path(),
        &["fetch", &missing, "--cache-dir", cache.to_str().unwrap()],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("v9"), "{}", stderr(&out));
}

/// A fetch from a server that sends a byte a second (git over HTTP and git://, an OCI
/// registry) fails with `--timeout`, naming the URL, and the process exits: no thread
/// talking to the server keeps it alive.
#[test]
fn fetch_from_a_trickling_server_times_out_and_exits() {
    use driftless_testkit::git::TrickleServer;
    use std::time::{Duration, Instant};

    let git_http = TrickleServer::http("application/x-git-upload-pack-advertisement");
    let git_daemon = TrickleServer::git();
    let registry = TrickleServer::http("application/vnd.oci.image.manifest.v1+json");
    let work = tempfile::tempdir().unwrap();
    for url in [
        format!("http://127.0.0.1:{}/app.git", git_http.port()),
        format!("git://127.0.0.1:{}/app.git", git_daemon.port()),
        format!("oci://127.0.0.1:{}/app:v1", registry.port()),
    ] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_driftless"))
            .args(["fetch", &url, "--timeout", "2s", "--cache-dir", "cache"])
            .current_dir(work.path())
            .env_remove("RUST_LOG")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let start = Instant::now();
        while child.try_wait().unwrap().is_none() {
            if start.elapsed() > Duration::from_secs(10) {
                child.kill().unwrap();
                child.wait().unwrap();
                panic!("{url}: driftless fetch still running after 10s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let out = child.wait_with_output().unwrap();
        assert!(!out.status.success(), "{url}");
        let err = stderr(&out);
        assert!(err.contains("timed out after 2s"), "{url}: {err}");
        let shown = url.trim_start_matches("oci://").trim_end_matches(":v1");
        assert!(err.contains(shown), "{url}: {err}");
    }
}

#[test]
fn docker_config_is_the_directory_docker_names() {
    use base64::Engine as _;

    let registry = Registry::start_with_htpasswd("robot", "s3cret");
    let work = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(work.path().join("bundle")).unwrap();
    std::fs::write(work.path().join("bundle/settings.yaml"), CONFIG_MAP).unwrap();
    let url = registry.url("team/app");
    let host = registry.host();
    let docker = work.path().join("docker");
    std::fs::create_dir_all(&docker).unwrap();
    let auth = base64::engine::general_purpose::STANDARD.encode("robot:s3cret");
    std::fs::write(
        docker.join("config.json"),
        format!(r#"{{"auths": {{"{host}": {{"auth": "{auth}"}}}}}}"#),
    )
    .unwrap();
    let reference = format!("{url}:v1");
    let push = [
        "push",
        "bundle",
        &reference,
        "--source",
        "https://example.invalid/x.git",
    ];

    // (HOME too, so that no ~/.docker/config.json of the machine is read.)
    let home = [("HOME", work.path().as_os_str())];
    let out = crate::driftless_env(work.path(), &push, &home);
    assert_eq!(out.status.code(), Some(2), "pushed without credentials");
    // DOCKER_CONFIG, as Docker reads it: the directory holding config.json.
    let out = crate::driftless_env(work.path(), &push, &[("DOCKER_CONFIG", docker.as_os_str())]);
    assert!(out.status.success(), "{}", stderr(&out));
    // And --docker-config, with the directory or the file itself.
    let cache = work.path().join("cache");
    for config in [docker.clone(), docker.join("config.json")] {
        let out = driftless(
            work.path(),
            &[
                "fetch",
                &reference,
                "--docker-config",
                config.to_str().unwrap(),
                "--cache-dir",
                cache.to_str().unwrap(),
            ],
        );
        assert!(out.status.success(), "{}", stderr(&out));
    }
}

#[test]
fn diff_between_revisions_sends_the_credentials() {
    let root = GitServerRoot::new();
    let repo = root.create_repo("deploy");
    repo.write("settings.yaml", CONFIG_MAP);
    let first = repo.commit("first");
    repo.write("settings.yaml", &CONFIG_MAP.replace("fast", "safe"));
    let second = repo.commit("second");
    repo.push();
    let server = GitHttp::start_with_basic_auth(root.path(), "x-access-token", "t0ken");
    let url = server.url("deploy");
    let work = tempfile::tempdir().unwrap();
    std::fs::write(work.path().join("token"), "t0ken\n").unwrap();
    let cache = work.path().join("cache");
    let range = format!("{first}..{second}");
    let diff = |extra: &[&str]| {
        let mut args = vec![
            "diff",
            &url,
            "--rev",
            &range,
            "--cache-dir",
            cache.to_str().unwrap(),
            "--color",
            "never",
        ];
        args.extend_from_slice(extra);
        driftless(work.path(), &args)
    };
    let out = diff(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", stdout(&out));
    let out = diff(&["--token-file", "token"]);
    assert_eq!(out.status.code(), Some(1), "{}", stderr(&out));
    assert!(stdout(&out).contains("safe"), "{}", stdout(&out));
}
