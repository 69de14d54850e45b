//! The HTTP API through the typed client: the server and the client share their types.

use std::sync::Arc;
use std::time::Duration;

use driftless_runtime::auth::ApiAuth;
use driftless_runtime::client::{Client, ClientError};
use driftless_runtime::history::History;
use driftless_runtime::{AgentBuilder, AppOptions, server};
use tokio_util::sync::CancellationToken;

use crate::support::{Dirs, wait_until};

const TOKEN: &str = "test-token-0123456789";

#[tokio::test]
async fn status_suspend_resume_and_refusals_round_trip() {
    let dirs = Dirs::new();
    let shutdown = CancellationToken::new();
    let agent = Arc::new(
        AgentBuilder::new()
            .app(
                "web",
                dirs.app("web"),
                AppOptions::default().interval(Duration::from_secs(3600)),
            )
            .history(History::open(&dirs.path("state")).unwrap())
            .api_auth(ApiAuth::new().token(TOKEN))
            .shutdown(shutdown.clone())
            .build()
            .unwrap(),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn(server::serve_on(Arc::clone(&agent), listener));
    let loops = tokio::spawn(Arc::clone(&agent).run());
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = Client::new(&address).unwrap().token(TOKEN);

    wait_until("web to be applied", || dirs.applied("web")).await;
    wait_until("web to be ready", || agent.status("web").unwrap().ready).await;
    let apps = client.apps().await.unwrap();
    assert_eq!(apps.len(), 1);
    assert_eq!(apps[0].state(), "Ready");
    let ready = apps[0].ready_condition().unwrap();
    assert_eq!(ready.reason, "ReconciliationSucceeded");
    assert!(ready.is_true());
    let history = client.history("web", 10).await.unwrap();
    assert_eq!(history[0].created, 1);
    assert_eq!(history[0].changes, ["ConfigMap web/settings created"]);

    let status = client.suspend("web").await.unwrap();
    assert!(status.suspended);
    match client.reconcile("web").await.unwrap_err() {
        ClientError::Refused { status, message } => {
            assert_eq!(status, 409);
            assert!(message.contains("resume it first"), "{message}");
        }
        other => panic!("not a refusal: {other}"),
    }
    let status = client.resume("web").await.unwrap();
    assert!(!status.suspended);
    // A hand edit is drift: the history entry of its correction names object and field.
    let live = crate::support::live_cm(&dirs.path("live/web"));
    let edited = std::fs::read_to_string(&live)
        .unwrap()
        .replace("fast", "slow");
    std::fs::write(&live, edited).unwrap();
    assert!(client.reconcile("web").await.unwrap().triggered);
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let corrected = loop {
        let history = client.history("web", 10).await.unwrap();
        if let Some(sync) = history.into_iter().find(|sync| sync.updated == 1) {
            break sync;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no drift correction recorded"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(
        corrected.changes,
        ["ConfigMap web/settings updated (/data/mode)"]
    );
    assert!(std::fs::read_to_string(&live).unwrap().contains("fast"));
    // A local directory has no revisions to roll back to.
    let error = client.rollback("web", "0123456").await.unwrap_err();
    assert!(
        matches!(error, ClientError::Refused { status: 409, .. }),
        "{error}"
    );
    let error = client.app("nope").await.unwrap_err();
    assert!(
        matches!(error, ClientError::Refused { status: 404, .. }),
        "{error}"
    );
    let audit = client.audit(Some("web"), 10).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert_eq!(actions, ["reconcile", "resume", "suspend"]);

    shutdown.cancel();
    loops.await.unwrap();
    server.await.unwrap().unwrap();
}
