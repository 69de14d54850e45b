//! Flux's scale benchmark (fluxcd/flux-benchmark), replicated: N apps, each its own OCI
//! tag in the local registry holding podinfo's four objects (ServiceAccount, Service,
//! Deployment with `replicas: 0`, Ingress), all pushed at once; measured from the start
//! of the pushes until a real `driftless-agent` has applied every app, with the agent's
//! peak resident memory (`VmHWM`).
//!
//! Flux's scenario (its `flux-ks-bench` module and `manifests/podinfo`): N
//! OCIRepository + Kustomization pairs (interval 60m, prune, wait) over podinfo 6.5.3's
//! chart output with `${INDEX}` substituted after the build. Here the same: one
//! artifact, named `podinfo-${INDEX}`, pushed as tag `app-<i>` for each app, and each
//! app substitutes its own `INDEX` (post-build, as Flux does) into its own namespace
//! `<run>-<i>` (created before the timing, as Flux's bundle creates its namespace
//! first). Flux 2.9 publishes, on a
//! 16-core runner, 26 s / 2m0s / 4m13s for 100 / 500 / 1,000 Kustomizations with
//! kustomize-controller at 134 / 183 / 223 MiB; the goal here is 1,000 apps in 60 s
//! under 150 MB on 2 cores. Those figures are Flux's own; what runs in the same run as
//! the reference is `kubectl apply --server-side` of the same 4·N objects from one
//! file into fresh namespaces: the API server's floor for one client.
//!
//! "Applied" is the agent's `ready` (every object applied by server-side apply). The
//! test API server (1.20) runs no kubelet; with its `deployment` and `replicaset`
//! controllers (`KTS_CONTROLLERS`), a Deployment with `replicas: 0` does become
//! available, and `FLUX_SCALE_WAIT=1` makes every app wait for health as Flux's
//! `wait: true` does (without those controllers the wait would never end).
//!
//! Also the Argo CD style figure: the N apps are folders of one git repository
//! (`file://`), each app following its folder; one commit changes all of them, a push
//! notification reaches each app (as a repository webhook reaches every Argo CD
//! Application of the repository), and the time until every app has applied the new
//! commit is measured.
//!
//! `cargo bench -p driftless-benches --bench flux_scale` measures 100, 500 and 1,000
//! apps (and the git case at 1,000); `cargo test --bench flux_scale` runs 10 apps;
//! `FLUX_SCALE_APPS=100,500` picks the sizes (the git case takes the largest).
//! Needs the test API server (`KUBECONFIG`) and Debian's `docker-registry`.
#![allow(
    missing_docs,
    clippy::unwrap_used,
    clippy::missing_panics_doc,
    clippy::print_stdout
)] // a benchmark binary; setup failures should be loud

use std::fmt::Write as _;
use std::path::Path;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};
use driftless_benches::{AgentProcess, http_request, mib};
use driftless_source_oci::{PushOptions, push};
use driftless_testkit::git::GitServerRoot;
use driftless_testkit::kube::{kubeconfig, kubectl, unique_name};
use driftless_testkit::registry::Registry;

const SECRET: &str = "flux-scale-secret";

fn full() -> bool {
    std::env::args().any(|a| a == "--bench")
}

fn wait_for_health() -> bool {
    std::env::var_os("FLUX_SCALE_WAIT").is_some_and(|v| v == "1")
}

/// podinfo's four objects as flux-benchmark's `manifests/podinfo` renders them, for
/// app `index` (a number, or `${INDEX}` to substitute) in `namespace` (none: the app's
/// `targetNamespace`); `generation`
/// goes into the Deployment's pod template (a new commit changes it).
#[allow(clippy::too_many_lines)] // one manifest, as flux-benchmark has it
fn podinfo(index: &str, namespace: Option<&str>, generation: u32) -> String {
    let name = format!("podinfo-{index}");
    let namespace = namespace.map_or_else(String::new, |ns| format!("  namespace: {ns}\n"));
    let labels = format!(
        "  labels:\n    app.kubernetes.io/name: \"{name}\"\n    app.kubernetes.io/version: \"6.5.3\"\n    app.kubernetes.io/managed-by: driftless\n"
    );
    format!(
        "apiVersion: v1
kind: ServiceAccount
metadata:
  name: \"{name}\"
{namespace}{labels}---
apiVersion: v1
kind: Service
metadata:
  name: \"{name}\"
{namespace}{labels}spec:
  type: ClusterIP
  ports:
    - port: 9898
      targetPort: http
      protocol: TCP
      name: http
    - port: 9999
      targetPort: grpc
      protocol: TCP
      name: grpc
  selector:
    app.kubernetes.io/name: \"{name}\"
---
apiVersion: apps/v1
kind: Deployment
metadata:
  name: \"{name}\"
{namespace}{labels}spec:
  replicas: 0
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxUnavailable: 1
  selector:
    matchLabels:
      app.kubernetes.io/name: \"{name}\"
  template:
    metadata:
      labels:
        app.kubernetes.io/name: \"{name}\"
      annotations:
        prometheus.io/scrape: \"true\"
        prometheus.io/port: \"9898\"
        bench/generation: \"{generation}\"
    spec:
      terminationGracePeriodSeconds: 30
      serviceAccountName: \"{name}\"
      containers:
        - name: podinfo
          image: \"ghcr.io/stefanprodan/podinfo:6.5.3\"
          imagePullPolicy: IfNotPresent
          command:
            - ./podinfo
            - --port=9898
            - --cert-path=/data/cert
            - --port-metrics=9797
            - --grpc-port=9999
            - --grpc-service-name=podinfo
            - --level=info
            - --random-delay=false
            - --random-error=false
          env:
            - name: PODINFO_UI_COLOR
              value: \"#34577c\"
          ports:
            - name: http
              containerPort: 9898
              protocol: TCP
            - name: http-metrics
              containerPort: 9797
              protocol: TCP
            - name: grpc
              containerPort: 9999
              protocol: TCP
          livenessProbe:
            exec:
              command: [podcli, check, http, localhost:9898/healthz]
            initialDelaySeconds: 1
            timeoutSeconds: 5
            failureThreshold: 3
            successThreshold: 1
            periodSeconds: 10
          readinessProbe:
            exec:
              command: [podcli, check, http, localhost:9898/readyz]
            initialDelaySeconds: 1
            timeoutSeconds: 5
            failureThreshold: 3
            successThreshold: 1
            periodSeconds: 10
          volumeMounts:
            - name: data
              mountPath: /data
          resources:
            requests:
              cpu: 1m
              memory: 16Mi
      volumes:
        - name: data
          emptyDir: {{}}
---
apiVersion: networking.k8s.io/v1
kind: Ingress
metadata:
  name: \"{name}\"
{namespace}{labels}spec:
  ingressClassName: \"nginx\"
  rules:
    - host: \"{name}.local\"
      http:
        paths:
          - path: /
            pathType: ImplementationSpecific
            backend:
              service:
                name: \"{name}\"
                port:
                  number: 9898
"
    )
}

/// Namespaces on the test server, created now and deleted (without waiting) when
/// dropped.
struct Namespaces(Vec<String>);

impl Namespaces {
    fn create(names: Vec<String>, dir: &Path) -> Self {
        let mut list = String::new();
        for name in &names {
            writeln!(
                list,
                "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: {name}\n---"
            )
            .unwrap();
        }
        let file = dir.join(format!("namespaces-{}.yaml", names.len()));
        std::fs::write(&file, list).unwrap();
        kubectl(&["apply", "-f", file.to_str().unwrap()]);
        Self(names)
    }
}

impl Drop for Namespaces {
    fn drop(&mut self) {
        for chunk in self.0.chunks(200) {
            let mut args = vec!["delete", "namespace", "--wait=false", "--ignore-not-found"];
            args.extend(chunk.iter().map(String::as_str));
            let _ = driftless_testkit::kube::kubectl_output(&args, None);
        }
    }
}

/// One app of the agent's configuration.
struct App {
    name: String,
    /// The `source:` value.
    source: String,
    namespace: String,
    /// The variables substituted after the build, as a YAML flow mapping.
    substitute: Option<String>,
}

/// The agent configuration of `apps`.
fn agent_config(dir: &Path, port: u16, apps: &[App]) -> std::path::PathBuf {
    let mut config = format!(
        "apiVersion: driftless.dev/v1alpha1\nkind: AgentConfig\nlisten: 127.0.0.1:{port}\n\
         stateDir: {}\napps:\n",
        dir.join("state").display()
    );
    for app in apps {
        write!(
            config,
            "  - name: {}\n    source: {}\n    target: kube\n    targetNamespace: {}\n    interval: 60m\n    prune: true\n    webhook: {{secretFile: {}}}\n",
            app.name,
            app.source,
            app.namespace,
            dir.join("secret").display()
        )
        .unwrap();
        if let Some(vars) = &app.substitute {
            writeln!(config, "    postBuild: {{substitute: {vars}}}").unwrap();
        }
        if wait_for_health() {
            config.push_str("    healthTimeout: 5m\n");
        }
    }
    std::fs::write(dir.join("secret"), SECRET).unwrap();
    let path = dir.join("agent.yaml");
    std::fs::write(&path, config).unwrap();
    path
}

fn start_agent(dir: &Path, port: u16, config: &Path) -> AgentProcess {
    AgentProcess::start(
        config,
        port,
        &[("KUBECONFIG", kubeconfig().as_os_str())],
        &dir.join("agent.log"),
    )
}

/// Waits until every app is ready at a revision that `revision_ok` accepts; returns the
/// time it took. Panics with the agent's view of an app not done after 15 min.
fn wait_applied(agent: &AgentProcess, n: usize, revision_ok: impl Fn(&str) -> bool) -> Duration {
    let started = Instant::now();
    loop {
        let statuses = agent.statuses();
        let pending: Vec<&serde_json::Value> = statuses
            .iter()
            .filter(|s| !(s["ready"] == true && s["revision"].as_str().is_some_and(&revision_ok)))
            .collect();
        if statuses.len() == n && pending.is_empty() {
            return started.elapsed();
        }
        assert!(
            started.elapsed() < Duration::from_secs(900),
            "{} of {n} apps not applied after 15 min, e.g. {}",
            pending.len(),
            pending.first().map(ToString::to_string).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// Pushes `folder` as `<repository>:app-<i>` for each of the `n` apps: the first alone
/// (the registry answers 500 to identical blobs uploaded at once), then the others 16 at
/// a time, which find the blobs there and push their manifest.
fn push_all(registry: &Registry, repository: &str, folder: &Path, n: usize) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let options = PushOptions::default().use_git(false);
        let first = format!("{}:app-0", registry.url(repository));
        push(folder, &first, &options).await.unwrap();
        let mut pushes = tokio::task::JoinSet::new();
        let mut next = 1;
        while next < n || !pushes.is_empty() {
            while next < n && pushes.len() < 16 {
                let folder = folder.to_owned();
                let reference = format!("{}:app-{next}", registry.url(repository));
                let options = options.clone();
                pushes.spawn(async move { push(&folder, &reference, &options).await.unwrap() });
                next += 1;
            }
            if let Some(done) = pushes.join_next().await {
                done.unwrap();
            }
        }
    });
}

/// Flux's scenario with `n` apps; prints and returns (push, agent, total, peak RSS KiB).
fn flux_scenario(registry: &Registry, n: usize) -> (Duration, Duration, Duration, u64) {
    let dir = tempfile::tempdir().unwrap();
    let run = unique_name("fs", &n.to_string());
    let namespaces: Vec<String> = (0..n).map(|i| format!("{run}-{i}")).collect();
    let _namespaces = Namespaces::create(namespaces.clone(), dir.path());
    let artifact = dir.path().join("podinfo");
    driftless_benches::write(&artifact, "podinfo.yaml", &podinfo("${INDEX}", None, 1));
    let repository = format!("{run}/podinfo");
    let url = registry.url(&repository);
    let port = driftless_testkit::free_port();
    let config_apps: Vec<App> = namespaces
        .iter()
        .enumerate()
        .map(|(i, namespace)| App {
            name: format!("app-{i}"),
            source: format!("{{url: \"{url}\", tag: app-{i}}}"),
            namespace: namespace.clone(),
            substitute: Some(format!("{{INDEX: \"{i}\"}}")),
        })
        .collect();
    let config = agent_config(dir.path(), port, &config_apps);

    let started = Instant::now();
    push_all(registry, &repository, &artifact, n);
    let pushed = started.elapsed();
    let agent = start_agent(dir.path(), port, &config);
    let applied = wait_applied(&agent, n, |_| true);
    let total = started.elapsed();
    let peak = agent.peak_rss_kib();
    check_applied(&namespaces, 1);
    println!(
        "flux_scale/{n} apps (OCI, kube): push {:.1} s, agent start to all {} {:.1} s, total {:.1} s; agent peak RSS {:.0} MiB",
        pushed.as_secs_f64(),
        if wait_for_health() {
            "ready"
        } else {
            "applied"
        },
        applied.as_secs_f64(),
        total.as_secs_f64(),
        mib(peak)
    );
    (pushed, applied, total, peak)
}

/// The last app's Deployment carries `generation`: the apps really reached the server.
fn check_applied(namespaces: &[String], generation: u32) {
    let last = namespaces.len() - 1;
    let got = kubectl(&[
        "-n",
        &namespaces[last],
        "get",
        "deployment",
        &format!("podinfo-{last}"),
        "-o",
        "jsonpath={.spec.template.metadata.annotations.bench/generation}",
    ]);
    assert_eq!(got, generation.to_string(), "app {last} was not applied");
}

/// `kubectl apply --server-side` of the same 4·`n` objects from one file into fresh
/// namespaces.
fn kubectl_reference(n: usize) -> Duration {
    let dir = tempfile::tempdir().unwrap();
    let run = unique_name("fk", &n.to_string());
    let namespaces: Vec<String> = (0..n).map(|i| format!("{run}-{i}")).collect();
    let _namespaces = Namespaces::create(namespaces.clone(), dir.path());
    let mut all = String::new();
    for (i, namespace) in namespaces.iter().enumerate() {
        all.push_str(&podinfo(&i.to_string(), Some(namespace), 1));
        all.push_str("---\n");
    }
    let file = dir.path().join("all.yaml");
    std::fs::write(&file, all).unwrap();
    let mut command = driftless_testkit::kube::kubectl_command();
    command.args(["apply", "--server-side", "-f"]).arg(&file);
    driftless_benches::time_command(&mut command)
}

/// The Argo CD style figure: `n` apps in one git repository, one commit changing all.
/// Returns (first sync of all, commit to all applied, peak RSS KiB).
fn git_scenario(n: usize) -> (Duration, Duration, u64) {
    let dir = tempfile::tempdir().unwrap();
    let run = unique_name("fg", &n.to_string());
    let namespaces: Vec<String> = (0..n).map(|i| format!("{run}-{i}")).collect();
    let _namespaces = Namespaces::create(namespaces.clone(), dir.path());
    let root = GitServerRoot::new();
    let repo = root.create_repo("apps");
    for (i, namespace) in namespaces.iter().enumerate() {
        repo.write(
            &format!("apps/app-{i}/podinfo.yaml"),
            &podinfo(&i.to_string(), Some(namespace), 1),
        );
    }
    repo.commit("first");
    repo.push();
    let url = format!("file://{}", repo.bare().display());
    let port = driftless_testkit::free_port();
    let config_apps: Vec<App> = namespaces
        .iter()
        .enumerate()
        .map(|(i, namespace)| App {
            name: format!("app-{i}"),
            source: format!("{{url: \"{url}\", branch: main, path: apps/app-{i}}}"),
            namespace: namespace.clone(),
            substitute: None,
        })
        .collect();
    let config = agent_config(dir.path(), port, &config_apps);
    let agent = start_agent(dir.path(), port, &config);
    let first = wait_applied(&agent, n, |_| true);

    for (i, namespace) in namespaces.iter().enumerate() {
        repo.write(
            &format!("apps/app-{i}/podinfo.yaml"),
            &podinfo(&i.to_string(), Some(namespace), 2),
        );
    }
    let sha = repo.commit("second: every app changes");
    let started = Instant::now();
    repo.push();
    let body = r#"{"ref":"refs/heads/main"}"#;
    for i in 0..n {
        let reply = http_request(
            port,
            "POST",
            &format!("/hooks/app-{i}"),
            &[
                ("X-Gitlab-Token", SECRET),
                ("Content-Type", "application/json"),
            ],
            body,
        );
        let _ = reply;
    }
    wait_applied(&agent, n, |revision| revision.ends_with(&sha));
    let changed = started.elapsed();
    let peak = agent.peak_rss_kib();
    check_applied(&namespaces, 2);
    println!(
        "flux_scale/{n} apps (git monorepo, kube): first sync of all {:.1} s; one commit changing all, push to all applied {:.1} s; agent peak RSS {:.0} MiB",
        first.as_secs_f64(),
        changed.as_secs_f64(),
        mib(peak)
    );
    (first, changed, peak)
}

fn flux_scale(c: &mut Criterion) {
    let _ = kubeconfig();
    // Built now, so that no build falls inside a timing.
    let _ = driftless_benches::agent_binary();
    let registry = Registry::start();
    // FLUX_SCALE_APPS=100,500 measures only those sizes.
    let chosen: Option<Vec<usize>> = std::env::var("FLUX_SCALE_APPS").ok().map(|list| {
        list.split(',')
            .filter_map(|n| n.trim().parse().ok())
            .collect()
    });
    let sizes: &[usize] = match &chosen {
        Some(chosen) => chosen,
        None if full() => &[100, 500, 1000],
        None => &[10],
    };
    let flux = [(100, "26s", 134), (500, "2m0s", 183), (1000, "4m13s", 223)];
    for &n in sizes {
        let (_, _, total, peak) = flux_scenario(&registry, n);
        let reference = kubectl_reference(n);
        let published = flux.iter().find(|(size, ..)| *size == n);
        println!(
            "flux_scale/{n}: driftless {:.1} s, {:.0} MiB; kubectl apply --server-side of the same {} objects (same run) {:.1} s{}",
            total.as_secs_f64(),
            mib(peak),
            4 * n,
            reference.as_secs_f64(),
            published.map_or(String::new(), |(_, time, memory)| format!(
                "; Flux 2.9 (published, 16 cores) {time}, {memory} MiB"
            ))
        );
    }
    git_scenario(sizes.iter().copied().max().unwrap_or(10));

    // Criterion's statistics for the small case: 10 apps from push to applied.
    let mut group = c.benchmark_group("flux_scale");
    group.sample_size(10).warm_up_time(Duration::from_millis(1));
    group.bench_function("10_apps_push_to_applied", |b| {
        b.iter_custom(|iterations| {
            (0..iterations)
                .map(|_| flux_scenario(&registry, 10).2)
                .sum()
        });
    });
    group.finish();
}

criterion_group!(benches, flux_scale);
criterion_main!(benches);
