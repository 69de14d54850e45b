//! The API's access rules over real HTTP: no mutation without the token, a JSON
//! content type, this agent's Host and no foreign Origin; the caller is in the audit
//! journal; slow clients cannot take the server's file descriptors.

use std::io::Write as _;
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use driftless_runtime::auth::{ApiAuth, ReadAccess, fingerprint};
use driftless_runtime::history::History;
use driftless_runtime::server::{self, ServeOptions};
use driftless_runtime::{Agent, AgentBuilder, AppOptions};
use tokio_util::sync::CancellationToken;

use crate::support::{CM, Dirs, live_cm, wait_until};

const TOKEN: &str = "an-api-token-for-tests";

struct Running {
    agent: Arc<Agent>,
    address: String,
    shutdown: CancellationToken,
    server: tokio::task::JoinHandle<Result<(), driftless_runtime::Error>>,
    loops: tokio::task::JoinHandle<()>,
}

impl Running {
    async fn start(dirs: &Dirs, auth: ApiAuth, options: ServeOptions, interval: Duration) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let local = listener.local_addr().unwrap();
        let shutdown = CancellationToken::new();
        let agent = Arc::new(
            AgentBuilder::new()
                .app(
                    "web",
                    dirs.app("web"),
                    AppOptions::default().interval(interval),
                )
                .history(History::open(&dirs.path("state")).unwrap())
                .api_auth(auth.listen(local))
                .shutdown(shutdown.clone())
                .build()
                .unwrap(),
        );
        let server = tokio::spawn(server::serve_with(Arc::clone(&agent), listener, options));
        let loops = tokio::spawn(Arc::clone(&agent).run());
        wait_until("web to be ready", || agent.status("web").unwrap().ready).await;
        Self {
            agent,
            address: format!("http://{local}"),
            shutdown,
            server,
            loops,
        }
    }

    async fn stop(self) {
        self.shutdown.cancel();
        self.loops.await.unwrap();
        self.server.await.unwrap().unwrap();
    }
}

fn http() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn mutations_need_the_token_json_and_this_host() {
    let dirs = Dirs::new();
    let running = Running::start(
        &dirs,
        ApiAuth::new().token(TOKEN),
        ServeOptions::default(),
        Duration::from_secs(3600),
    )
    .await;
    let http = http();
    let suspend = format!("{}/api/v1/apps/web/suspend", running.address);
    let post = |headers: &[(&str, &str)]| {
        let mut request = http.post(&suspend).body("{}");
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        async move { request.send().await.unwrap().status().as_u16() }
    };
    let bearer = format!("Bearer {TOKEN}");
    let json = ("content-type", "application/json");

    assert_eq!(post(&[json]).await, 401, "no token");
    assert_eq!(
        post(&[json, ("authorization", "Bearer not-the-token")]).await,
        401
    );
    assert_eq!(
        post(&[("content-type", "text/plain"), ("authorization", &bearer)]).await,
        415,
        "a plain-text POST, as a browser form sends"
    );
    assert_eq!(
        post(&[
            json,
            ("authorization", &bearer),
            ("origin", "http://evil.example")
        ])
        .await,
        403,
        "a foreign Origin"
    );
    assert_eq!(
        post(&[
            json,
            ("authorization", &bearer),
            ("host", "evil.example:80")
        ])
        .await,
        403,
        "DNS rebinding: another Host"
    );
    assert!(!running.agent.status("web").unwrap().suspended);

    assert_eq!(post(&[json, ("authorization", &bearer)]).await, 200);
    assert!(running.agent.status("web").unwrap().suspended);
    let client = driftless_runtime::client::Client::new(&running.address)
        .unwrap()
        .token(TOKEN);
    client.resume("web").await.unwrap();
    let audit = client.audit(Some("web"), 10).await.unwrap();
    let expected = format!("token:{}", fingerprint(TOKEN));
    assert_eq!(audit.len(), 2);
    assert!(audit.iter().all(|e| e.actor == expected), "{audit:?}");

    // Reads are open on loopback; health is always open.
    let apps = http
        .get(format!("{}/api/v1/apps", running.address))
        .send()
        .await
        .unwrap();
    assert_eq!(apps.status(), 200);
    running.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn reads_can_need_the_token_and_an_agent_without_one_refuses_mutations() {
    let dirs = Dirs::new();
    let running = Running::start(
        &dirs,
        ApiAuth::new().reads(ReadAccess::Token),
        ServeOptions::default(),
        Duration::from_secs(3600),
    )
    .await;
    let http = http();
    let get = |path: &str| {
        let request = http.get(format!("{}{path}", running.address));
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(get("/api/v1/apps").await, 401);
    assert_eq!(get("/metrics").await, 401);
    assert_eq!(get("/healthz").await, 200);
    assert_eq!(get("/readyz").await, 200);
    let status = http
        .post(format!("{}/api/v1/apps/web/reconcile", running.address))
        .header("content-type", "application/json")
        .header("authorization", "Bearer anything")
        .body("{}")
        .send()
        .await
        .unwrap()
        .status();
    assert_eq!(status, 401);
    running.stop().await;
}

/// How many file descriptors this process has open.
fn open_fds() -> usize {
    std::fs::read_dir("/proc/self/fd").unwrap().count()
}

/// Many clients that open a connection and send half a request: the server holds at
/// most its connection limit, drops them at the header timeout, still answers
/// `/healthz`, and the app keeps syncing.
#[tokio::test(flavor = "multi_thread")]
async fn slow_clients_cannot_starve_the_agent() {
    let dirs = Dirs::new();
    let max_connections = 8;
    let running = Running::start(
        &dirs,
        ApiAuth::new().token(TOKEN),
        ServeOptions::default()
            .max_connections(max_connections)
            .header_timeout(Duration::from_secs(1)),
        Duration::from_secs(1),
    )
    .await;
    let address = running.address.trim_start_matches("http://").to_owned();
    let before = open_fds();
    let slow = 64;
    let mut sockets = Vec::new();
    for _ in 0..slow {
        let mut socket = TcpStream::connect(&address).unwrap();
        socket
            .write_all(b"GET /healthz HTTP/1.1\r\nHost: ")
            .unwrap();
        sockets.push(socket);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let held_by_server = open_fds().saturating_sub(before + slow);
    assert!(
        held_by_server <= max_connections + 4,
        "the server holds {held_by_server} descriptors for {slow} slow clients"
    );

    let http = http();
    let start = Instant::now();
    loop {
        let answered = http
            .get(format!("{}/healthz", running.address))
            .timeout(Duration::from_secs(1))
            .send()
            .await
            .is_ok_and(|r| r.status() == 200);
        if answered {
            break;
        }
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "/healthz never answered"
        );
    }

    std::fs::write(dirs.path("src/web/cm.yaml"), CM.replace("fast", "slow")).unwrap();
    let live = live_cm(&dirs.path("live/web"));
    wait_until("the change to be applied", || {
        std::fs::read_to_string(&live).is_ok_and(|text| text.contains("slow"))
    })
    .await;
    drop(sockets);
    running.stop().await;
}
