//! Keep reconciling when the source is down: the last good render is enforced at
//! every interval, the app reports the source error, other apps carry on.

use std::sync::Arc;
use std::time::Duration;

use driftless::render::AutoRenderer;
use driftless::spec::{SourceOptions, SourceSpec};
use driftless::target_dir::DirTarget;
use driftless::{Pipeline, PipelineOptions};
use driftless_runtime::{AgentBuilder, AppOptions};
use driftless_testkit::git::{GitHttp, GitServerRoot};
use tokio_util::sync::CancellationToken;

use crate::support::{CM, Dirs, live_cm, wait_until};

#[tokio::test]
async fn drift_is_corrected_from_the_last_good_revision_while_git_is_down() {
    let root = GitServerRoot::new();
    let repo = root.create_repo("app");
    repo.write("deploy/cm.yaml", CM);
    repo.commit("first");
    repo.push();
    let http = GitHttp::start(root.path());
    let dirs = Dirs::new();
    let url: SourceSpec = http.url("app").parse().unwrap();
    let source = driftless::spec::open_source(
        &url,
        &SourceOptions::default().cache_dir(dirs.path("cache")),
    )
    .unwrap();
    let live = dirs.path("live/web");
    let git_app = Pipeline::from_dyn(
        source,
        Arc::new(AutoRenderer::default()),
        Arc::new(DirTarget::new(&live).unwrap()),
    )
    .with_options(PipelineOptions::default().path("deploy"));
    let shutdown = CancellationToken::new();
    let every = AppOptions::default().interval(Duration::from_millis(300));
    let agent = Arc::new(
        AgentBuilder::new()
            .app("web", git_app, every.clone())
            .app("other", dirs.app("other"), every)
            .shutdown(shutdown.clone())
            .build()
            .unwrap(),
    );
    let loops = tokio::spawn(Arc::clone(&agent).run());
    wait_until("both apps to be ready", || {
        agent.status("web").unwrap().ready && agent.status("other").unwrap().ready
    })
    .await;

    // The git server goes away; then someone edits what both apps manage.
    drop(http);
    let hacked = CM.replace("fast", "hacked");
    std::fs::write(live_cm(&live), &hacked).unwrap();
    let other_live = live_cm(&dirs.path("live/other"));
    std::fs::write(&other_live, &hacked).unwrap();
    wait_until("the git app's drift to be corrected", || {
        std::fs::read_to_string(live_cm(&live)).is_ok_and(|t| t.contains("mode: fast"))
    })
    .await;
    wait_until("the other app's drift to be corrected", || {
        std::fs::read_to_string(&other_live).is_ok_and(|t| t.contains("mode: fast"))
    })
    .await;
    wait_until("the source error to be reported", || {
        let status = agent.status("web").unwrap();
        status
            .ready_condition()
            .is_some_and(|c| c.reason == "SourceUnavailable")
    })
    .await;
    let status = agent.status("web").unwrap();
    let message = &status.ready_condition().unwrap().message;
    assert!(message.contains("fetching"), "{message}");
    assert!(message.contains("last good revision"), "{message}");
    assert!(status.revision.unwrap().starts_with("main@sha1:"));

    // Again, at the next interval: correction keeps going while the source is down.
    std::fs::write(live_cm(&live), &hacked).unwrap();
    wait_until("the second drift to be corrected", || {
        std::fs::read_to_string(live_cm(&live)).is_ok_and(|t| t.contains("mode: fast"))
    })
    .await;
    assert!(agent.status("other").unwrap().ready);
    shutdown.cancel();
    loops.await.unwrap();
}
