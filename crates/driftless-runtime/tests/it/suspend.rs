//! `suspend` and `dependsOn` go through the one reconcile path: the loops and
//! `reconcile_all` (what `driftless sync` and `--once` call) honour them alike.

use std::sync::Arc;
use std::time::Duration;

use driftless_runtime::{AgentBuilder, AppOptions, OutcomeKind};
use tokio_util::sync::CancellationToken;

use crate::support::{Dirs, wait_until};

#[tokio::test]
async fn reconcile_all_leaves_suspended_apps_alone_and_skips_their_dependents() {
    let dirs = Dirs::new();
    let agent = AgentBuilder::new()
        .app(
            "web",
            dirs.app("web"),
            AppOptions::default().depends_on(["infra"]),
        )
        .app(
            "infra",
            dirs.app("infra"),
            AppOptions::default().suspend(true),
        )
        .app("other", dirs.app("other"), AppOptions::default())
        .build()
        .unwrap();
    assert_eq!(agent.app_names(), ["infra", "web", "other"]);
    let outcomes = agent.reconcile_all(None, "test").await.unwrap();
    let results: Vec<(&str, OutcomeKind)> = outcomes
        .iter()
        .map(|o| (o.app.as_str(), o.result))
        .collect();
    assert_eq!(
        results,
        [
            ("infra", OutcomeKind::Suspended),
            ("web", OutcomeKind::Skipped),
            ("other", OutcomeKind::Succeeded),
        ]
    );
    assert!(!dirs.applied("infra") && !dirs.applied("web") && dirs.applied("other"));
    assert!(outcomes[1].is_failure() && !outcomes[0].is_failure());
    assert_eq!(
        outcomes[1].error.as_deref(),
        Some("dependency infra is not ready")
    );
    // Reconciling one app by name does not get around its suspension.
    let outcome = agent.reconcile("infra", "test").await.unwrap();
    assert_eq!(outcome.result, OutcomeKind::Suspended);
    assert!(!dirs.applied("infra"));
}

#[tokio::test]
async fn the_loops_leave_suspended_apps_alone() {
    let dirs = Dirs::new();
    let shutdown = CancellationToken::new();
    let fast = AppOptions::default().interval(Duration::from_millis(100));
    let agent = Arc::new(
        AgentBuilder::new()
            .app("paused", dirs.app("paused"), fast.clone().suspend(true))
            .app("web", dirs.app("web"), fast)
            .shutdown(shutdown.clone())
            .build()
            .unwrap(),
    );
    let loops = tokio::spawn(Arc::clone(&agent).run());
    wait_until("web to be applied", || dirs.applied("web")).await;
    // Several intervals pass; the suspended app is never applied.
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(!dirs.applied("paused"));
    let status = agent.status("paused").unwrap();
    assert!(status.suspended && !status.ready);
    assert_eq!(status.state(), "Suspended");
    shutdown.cancel();
    loops.await.unwrap();
}

#[test]
fn cycles_and_unknown_dependencies_are_refused() {
    let dirs = Dirs::new();
    let error = AgentBuilder::new()
        .app("a", dirs.app("a"), AppOptions::default().depends_on(["b"]))
        .app("b", dirs.app("b"), AppOptions::default().depends_on(["a"]))
        .build()
        .unwrap_err();
    assert_eq!(error.to_string(), "dependency cycle: a -> b -> a");
    let error = AgentBuilder::new()
        .app(
            "a",
            dirs.app("a"),
            AppOptions::default().depends_on(["nope"]),
        )
        .build()
        .unwrap_err();
    assert!(error.to_string().contains("\"nope\""), "{error}");
}
