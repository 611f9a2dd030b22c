//! `kubectl rayha status NAME` (alias `describe`): the RayService as it runs — conditions, active
//! and pending clusters, pods per node, the serve Service's endpoints, Serve applications and where
//! each replica runs (from the Ray dashboard, reached through the API server's service proxy) —
//! and each HA property of KubeRay's guide as PASS or FAIL. Exit 0 only when every check passes.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams};
use serde::Serialize;
use serde_json::Value;

use crate::cli::{GlobalArgs, OutputFormat, StatusArgs};
use crate::cluster::{self, Cluster, KubeContext, describe_kube_error};
use crate::error::Result;
use crate::lint::Level;
use crate::rayservice::{self, RayService, Role, pod_ready};

/// The dashboard's port on the head Service.
pub const DASHBOARD_PORT: u16 = 8265;

/// A Ray pod as status shows it.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PodFact {
    pub name: String,
    pub role: Role,
    pub node: Option<String>,
    pub ip: Option<String>,
    pub phase: String,
    pub ready: bool,
    pub restarts: i32,
    pub uid: String,
    /// The head carries RAY_REDIS_ADDRESS when KubeRay configured GCS fault tolerance.
    pub gcs_ft_env: bool,
}

/// One ready or unready address behind the serve Service.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct EndpointFact {
    pub ip: String,
    pub pod: Option<String>,
    pub node: Option<String>,
    pub ready: bool,
}

/// A Serve replica and where it runs.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ReplicaFact {
    pub app: String,
    pub deployment: String,
    pub actor_id: String,
    pub node_ip: String,
    pub state: String,
}

/// A Serve proxy and its node.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProxyFact {
    pub node_ip: String,
    pub status: String,
}

/// Everything status reads from the cluster; the checks are computed from it alone.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Facts {
    pub name: String,
    pub namespace: String,
    pub conditions: Vec<Value>,
    pub active_cluster: Option<String>,
    pub pending_cluster: Option<String>,
    /// The cluster that serves (the read model's one definition: active, else pending).
    #[serde(skip)]
    pub serving_cluster: Option<String>,
    pub num_serve_endpoints: i64,
    pub spec_gcs_ft: bool,
    pub exclude_head_from_serve_svc: bool,
    pub pods: Vec<PodFact>,
    pub serve_endpoints: Vec<EndpointFact>,
    pub applications: BTreeMap<String, String>,
    pub replicas: Vec<ReplicaFact>,
    pub proxies: Vec<ProxyFact>,
    /// Why the dashboard could not be read, if it could not.
    pub dashboard_error: Option<String>,
    /// (name, ready replicas, desired) of the bundle's Redis, when it has one.
    pub redis: Option<(String, i32, i32)>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HaCheck {
    pub id: &'static str,
    pub level: Level,
    pub message: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Status {
    #[serde(flatten)]
    pub facts: Facts,
    pub checks: Vec<HaCheck>,
    pub healthy: bool,
}

fn check(id: &'static str, ok: bool, message: String) -> HaCheck {
    HaCheck {
        id,
        level: if ok { Level::Pass } else { Level::Fail },
        message,
    }
}

impl Facts {
    pub fn serving_cluster(&self) -> Option<&str> {
        self.serving_cluster.as_deref()
    }

    pub fn head(&self) -> Option<&PodFact> {
        self.pods.iter().find(|p| p.role == Role::Head)
    }

    pub fn workers(&self) -> impl Iterator<Item = &PodFact> {
        self.pods.iter().filter(|p| p.role == Role::Worker)
    }

    fn pod_by_ip(&self, ip: &str) -> Option<&PodFact> {
        self.pods.iter().find(|p| p.ip.as_deref() == Some(ip))
    }

    pub fn ready(&self) -> Option<&Value> {
        self.conditions.iter().find(|c| c["type"] == "Ready")
    }
}

/// The guide's HA checks, from the facts.
pub fn evaluate(f: &Facts) -> Vec<HaCheck> {
    let mut checks = Vec::new();
    let ready = f.ready();
    checks.push(check(
        "ready",
        ready.is_some_and(|c| c["status"] == "True"),
        match ready {
            Some(c) => format!(
                "Ready {} ({})",
                c["status"].as_str().unwrap_or("?"),
                c["reason"].as_str().unwrap_or("")
            ),
            None => "no Ready condition yet".into(),
        },
    ));
    checks.push(check(
        "gcs-ft-spec",
        f.spec_gcs_ft,
        if f.spec_gcs_ft {
            "GCS fault tolerance configured on the RayService".into()
        } else {
            "the RayService does not configure GCS fault tolerance".into()
        },
    ));
    let head = f.head();
    checks.push(check(
        "gcs-ft-head",
        head.is_some_and(|h| h.gcs_ft_env),
        match head {
            Some(h) if h.gcs_ft_env => format!("head pod {} runs with RAY_REDIS_ADDRESS", h.name),
            Some(h) => format!(
                "head pod {} has no RAY_REDIS_ADDRESS: its GCS state is not in Redis",
                h.name
            ),
            None => "no head pod".into(),
        },
    ));
    if let Some(e) = &f.dashboard_error {
        for id in [
            "head-no-replicas",
            "proxies-everywhere",
            "replica-placement",
        ] {
            checks.push(check(
                id,
                false,
                format!("cannot read Serve state from the dashboard: {e}"),
            ));
        }
    } else {
        let head_ip = head.and_then(|h| h.ip.clone());
        let on_head: Vec<String> = f
            .replicas
            .iter()
            .filter(|r| Some(&r.node_ip) == head_ip.as_ref())
            .map(|r| r.deployment.clone())
            .collect();
        checks.push(check(
            "head-no-replicas",
            head_ip.is_some() && on_head.is_empty(),
            if on_head.is_empty() {
                "no Serve replica on the head".into()
            } else {
                format!("replicas on the head: {}", on_head.join(", "))
            },
        ));
        let healthy: BTreeSet<&str> = f
            .proxies
            .iter()
            .filter(|p| p.status == "HEALTHY")
            .map(|p| p.node_ip.as_str())
            .collect();
        let without: Vec<&str> = f
            .pods
            .iter()
            .filter(|p| p.ip.as_deref().is_none_or(|ip| !healthy.contains(ip)))
            .map(|p| p.name.as_str())
            .collect();
        checks.push(check(
            "proxies-everywhere",
            without.is_empty() && !f.pods.is_empty(),
            if without.is_empty() {
                format!(
                    "a healthy Serve proxy on each of the {} Ray pods",
                    f.pods.len()
                )
            } else {
                format!("no healthy proxy on {}", without.join(", "))
            },
        ));
        checks.push(replica_placement(f));
    }
    let mut expected: BTreeSet<String> = f.workers().map(|p| p.name.clone()).collect();
    if !f.exclude_head_from_serve_svc
        && let Some(h) = head
    {
        expected.insert(h.name.clone());
    }
    let ready_endpoints: BTreeSet<String> = f
        .serve_endpoints
        .iter()
        .filter(|e| e.ready)
        .filter_map(|e| e.pod.clone())
        .collect();
    checks.push(check(
        "serve-endpoints",
        !expected.is_empty() && ready_endpoints == expected,
        format!(
            "{}-serve-svc has {} ready endpoint(s) ({}); expected {} ({})",
            f.name,
            ready_endpoints.len(),
            ready_endpoints
                .iter()
                .cloned()
                .collect::<Vec<_>>()
                .join(", "),
            expected.len(),
            if f.exclude_head_from_serve_svc {
                "workers"
            } else {
                "head + workers"
            }
        ),
    ));
    if let Some((name, ready, desired)) = &f.redis {
        checks.push(check(
            "redis",
            *ready >= 1 && ready >= desired,
            format!("deployment/{name}: {ready}/{desired} ready"),
        ));
    }
    checks
}

/// Each worker holds one RUNNING replica of each deployment, and each deployment runs at least two.
fn replica_placement(f: &Facts) -> HaCheck {
    let mut by_deployment: BTreeMap<String, BTreeMap<String, usize>> = BTreeMap::new();
    for r in f.replicas.iter().filter(|r| r.state == "RUNNING") {
        *by_deployment
            .entry(format!("{}/{}", r.app, r.deployment))
            .or_default()
            .entry(r.node_ip.clone())
            .or_default() += 1;
    }
    let workers: Vec<&PodFact> = f.workers().collect();
    let mut problems = Vec::new();
    if by_deployment.is_empty() {
        problems.push("no RUNNING replica".to_string());
    }
    for (dep, nodes) in &by_deployment {
        let total: usize = nodes.values().sum();
        if total < 2 {
            problems.push(format!("{dep} has {total} running replica(s)"));
        }
        for (ip, n) in nodes {
            if *n > 1 {
                let pod = f.pod_by_ip(ip).map_or(ip.as_str(), |p| p.name.as_str());
                problems.push(format!("{dep} has {n} replicas on {pod}"));
            }
        }
        for w in &workers {
            if w.ip.as_deref().is_none_or(|ip| !nodes.contains_key(ip)) {
                problems.push(format!("{dep} has no replica on {}", w.name));
            }
        }
    }
    check(
        "replica-placement",
        problems.is_empty(),
        if problems.is_empty() {
            format!(
                "each of {} worker(s) holds one replica of each of {} deployment(s)",
                workers.len(),
                by_deployment.len()
            )
        } else {
            problems.join("; ")
        },
    )
}

/// Reads everything status needs: five API requests (RayService, pods, EndpointSlices, Redis
/// Deployments, the dashboard through the service proxy).
pub async fn gather(cluster: &Cluster, name: &str) -> Result<Facts> {
    let ns = cluster.namespace.clone();
    let rs = rayservice::get_value(cluster, name).await?;
    let view = RayService::from_value(&rs);
    let serving = view.serving_cluster().map(str::to_string);
    let mut facts = Facts {
        name: name.to_string(),
        namespace: ns.clone(),
        active_cluster: view.active.as_ref().map(|c| c.name.clone()),
        pending_cluster: view.pending.as_ref().map(|c| c.name.clone()),
        serving_cluster: serving.clone(),
        num_serve_endpoints: view.num_serve_endpoints,
        spec_gcs_ft: view.gcs_ft,
        exclude_head_from_serve_svc: view.exclude_head_from_serve_svc,
        conditions: view.conditions,
        ..Default::default()
    };
    if let Some(rc) = &serving {
        let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &ns);
        let list = pods
            .list(&ListParams::default().labels(&format!("ray.io/cluster={rc}")))
            .await
            .context("cannot list pods")?;
        facts.pods = list
            .items
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .map(pod_fact)
            .collect();
        facts
            .pods
            .sort_by(|a, b| (a.role, &a.name).cmp(&(b.role, &b.name)));
    }
    let slices: Api<EndpointSlice> = Api::namespaced(cluster.client.clone(), &ns);
    let list = slices
        .list(
            &ListParams::default().labels(&format!("kubernetes.io/service-name={name}-serve-svc")),
        )
        .await
        .context("cannot list endpointslices")?;
    for slice in list.items {
        for ep in slice.endpoints {
            for ip in &ep.addresses {
                facts.serve_endpoints.push(EndpointFact {
                    ip: ip.clone(),
                    pod: ep.target_ref.as_ref().and_then(|t| t.name.clone()),
                    node: ep.node_name.clone(),
                    ready: ep
                        .conditions
                        .as_ref()
                        .and_then(|c| c.ready)
                        .unwrap_or(false),
                });
            }
        }
    }
    let deployments: Api<Deployment> = Api::namespaced(cluster.client.clone(), &ns);
    if let Ok(list) = deployments
        .list(&ListParams::default().labels(&format!(
            "app.kubernetes.io/instance={name},app.kubernetes.io/name=redis"
        )))
        .await
        && let Some(d) = list.items.first()
    {
        let st = d.status.clone().unwrap_or_default();
        facts.redis = Some((
            d.metadata.name.clone().unwrap_or_default(),
            st.ready_replicas.unwrap_or(0),
            d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        ));
    }
    match &serving {
        Some(rc) => read_dashboard(cluster, rc, &mut facts).await,
        None => facts.dashboard_error = Some("no RayCluster yet".into()),
    }
    Ok(facts)
}

fn pod_fact(p: &Pod) -> PodFact {
    let status = p.status.clone().unwrap_or_default();
    let spec = p.spec.clone().unwrap_or_default();
    PodFact {
        name: p.metadata.name.clone().unwrap_or_default(),
        role: Role::of_ray_pod(p),
        node: spec.node_name.clone(),
        ip: status.pod_ip.clone(),
        phase: status.phase.clone().unwrap_or_else(|| "Unknown".into()),
        ready: pod_ready(p),
        restarts: status
            .container_statuses
            .as_ref()
            .map_or(0, |c| c.iter().map(|c| c.restart_count).sum()),
        uid: p.metadata.uid.clone().unwrap_or_default(),
        gcs_ft_env: spec
            .containers
            .first()
            .and_then(|c| c.env.as_ref())
            .is_some_and(|env| env.iter().any(|e| e.name == "RAY_REDIS_ADDRESS")),
    }
}

/// Serve's view through `/api/v1/namespaces/NS/services/CLUSTER-head-svc:8265/proxy/api/serve/applications/`.
async fn read_dashboard(cluster: &Cluster, rc: &str, facts: &mut Facts) {
    let path = format!(
        "/api/v1/namespaces/{}/services/{rc}-head-svc:{DASHBOARD_PORT}/proxy/api/serve/applications/",
        cluster.namespace
    );
    let request = match http::Request::get(&path).body(Vec::new()) {
        Ok(r) => r,
        Err(e) => {
            facts.dashboard_error = Some(e.to_string());
            return;
        }
    };
    let text = match tokio::time::timeout(
        std::time::Duration::from_secs(10),
        cluster.client.request_text(request),
    )
    .await
    {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => {
            facts.dashboard_error = Some(describe_kube_error(&e));
            return;
        }
        Err(_) => {
            facts.dashboard_error = Some("no answer within 10 s".into());
            return;
        }
    };
    match serde_json::from_str::<Value>(&text) {
        Ok(v) => apply_serve_details(&v, facts),
        Err(e) => facts.dashboard_error = Some(format!("not JSON: {e}")),
    }
}

/// Takes applications, replicas and proxies from Serve's instance details.
pub fn apply_serve_details(v: &Value, facts: &mut Facts) {
    if let Some(proxies) = v["proxies"].as_object() {
        facts.proxies = proxies
            .values()
            .map(|p| ProxyFact {
                node_ip: p["node_ip"].as_str().unwrap_or_default().to_string(),
                status: p["status"].as_str().unwrap_or_default().to_string(),
            })
            .collect();
    }
    if let Some(apps) = v["applications"].as_object() {
        for (app, details) in apps {
            facts.applications.insert(
                app.clone(),
                details["status"].as_str().unwrap_or("UNKNOWN").to_string(),
            );
            for (dep, d) in details["deployments"].as_object().into_iter().flatten() {
                for r in d["replicas"].as_array().into_iter().flatten() {
                    facts.replicas.push(ReplicaFact {
                        app: app.clone(),
                        deployment: dep.clone(),
                        actor_id: r["actor_id"].as_str().unwrap_or_default().to_string(),
                        node_ip: r["node_ip"].as_str().unwrap_or_default().to_string(),
                        state: r["state"].as_str().unwrap_or_default().to_string(),
                    });
                }
            }
        }
    }
}

pub fn run(args: StatusArgs, global: &GlobalArgs) -> Result<bool> {
    let runtime = crate::cluster::runtime(false)?;
    runtime.block_on(async {
        let cluster = cluster::connect(global).await?;
        if !args.watch {
            let status = status_of(&cluster, &args.name).await?;
            print_status(&status, args.output);
            return Ok(status.healthy);
        }
        watch(&cluster, &args).await
    })
}

async fn status_of(cluster: &Cluster, name: &str) -> Result<Status> {
    let facts = gather(cluster, name).await?;
    let checks = evaluate(&facts);
    let healthy = checks.iter().all(|c| c.level == Level::Pass);
    Ok(Status {
        facts,
        checks,
        healthy,
    })
}

/// Prints again on every change of the RayService or its pods, until Ctrl-C.
async fn watch(cluster: &Cluster, args: &StatusArgs) -> Result<bool> {
    use futures::StreamExt;
    use kube::runtime::{WatchStreamExt, watcher};
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let rs = watcher(
        rayservice::api(cluster),
        watcher::Config::default().fields(&format!("metadata.name={}", args.name)),
    )
    .touched_objects()
    .map(|_| ());
    let pod_events = watcher(
        pods,
        watcher::Config::default().labels("ray.io/is-ray-node=yes"),
    )
    .touched_objects()
    .map(|_| ());
    let mut changes = futures::stream::select(rs.boxed(), pod_events.boxed());
    let mut last = None;
    loop {
        tokio::select! {
            change = changes.next() => {
                if change.is_none() { break; }
                // Coalesce bursts of events into one refresh.
                tokio::time::sleep(std::time::Duration::from_millis(300)).await;
                let status = status_of(cluster, &args.name).await?;
                let text = render(&status, args.output);
                if last.as_ref() != Some(&text) {
                    println!("--- {}", chrono_now());
                    print!("{text}");
                    last = Some(text);
                }
            }
            _ = tokio::signal::ctrl_c() => break,
        }
    }
    Ok(last.is_some())
}

fn chrono_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs();
    format!(
        "{:02}:{:02}:{:02} UTC",
        (secs / 3600) % 24,
        (secs / 60) % 60,
        secs % 60
    )
}

fn print_status(status: &Status, output: Option<OutputFormat>) {
    print!("{}", render(status, output));
}

fn render(status: &Status, output: Option<OutputFormat>) -> String {
    match output {
        Some(OutputFormat::Json) => {
            serde_json::to_string_pretty(status).expect("status serialises") + "\n"
        }
        Some(OutputFormat::Yaml) => {
            crate::yaml::to_yaml(&serde_json::to_value(status).expect("status serialises"))
        }
        None => render_text(status),
    }
}

/// The human view.
pub fn render_text(s: &Status) -> String {
    let f = &s.facts;
    let mut out = format!("RayService {} -n {}\n", f.name, f.namespace);
    for c in &f.conditions {
        out.push_str(&format!(
            "  condition {:<22} {:<6} {}  {}\n",
            c["type"].as_str().unwrap_or(""),
            c["status"].as_str().unwrap_or(""),
            c["reason"].as_str().unwrap_or(""),
            c["message"].as_str().unwrap_or("")
        ));
    }
    out.push_str(&format!(
        "  active cluster {}, pending cluster {}, serve endpoints {}\n",
        f.active_cluster.as_deref().unwrap_or("-"),
        f.pending_cluster.as_deref().unwrap_or("-"),
        f.num_serve_endpoints
    ));
    out.push_str("Pods\n");
    out.push_str(&format!(
        "  {:<44} {:<7} {:<14} {:<16} {:<9} {:<6} {}\n",
        "NAME", "ROLE", "NODE", "IP", "PHASE", "READY", "RESTARTS"
    ));
    for p in &f.pods {
        out.push_str(&format!(
            "  {:<44} {:<7} {:<14} {:<16} {:<9} {:<6} {}\n",
            p.name,
            p.role,
            p.node.as_deref().unwrap_or("-"),
            p.ip.as_deref().unwrap_or("-"),
            p.phase,
            p.ready,
            p.restarts
        ));
    }
    out.push_str(&format!("Endpoints of {}-serve-svc\n", f.name));
    for e in &f.serve_endpoints {
        out.push_str(&format!(
            "  {:<16} {:<44} {:<14} {}\n",
            e.ip,
            e.pod.as_deref().unwrap_or("-"),
            e.node.as_deref().unwrap_or("-"),
            if e.ready { "ready" } else { "not ready" }
        ));
    }
    out.push_str("Serve\n");
    if let Some(e) = &f.dashboard_error {
        out.push_str(&format!("  dashboard not readable: {e}\n"));
    }
    for (app, st) in &f.applications {
        out.push_str(&format!("  application {app}: {st}\n"));
        let mut deployments: BTreeMap<&str, Vec<String>> = BTreeMap::new();
        for r in f.replicas.iter().filter(|r| &r.app == app) {
            let place = match f.pod_by_ip(&r.node_ip) {
                Some(p) => p.name.clone(),
                None if r.node_ip.is_empty() => "unplaced".to_string(),
                None => r.node_ip.clone(),
            };
            deployments
                .entry(&r.deployment)
                .or_default()
                .push(format!("{place} ({})", r.state));
        }
        for (d, places) in deployments {
            out.push_str(&format!("    {d}: {}\n", places.join(", ")));
        }
    }
    let proxies: Vec<String> = f
        .proxies
        .iter()
        .map(|p| {
            format!(
                "{} {}",
                f.pod_by_ip(&p.node_ip)
                    .map_or(p.node_ip.as_str(), |x| x.name.as_str()),
                p.status
            )
        })
        .collect();
    if !proxies.is_empty() {
        out.push_str(&format!("  proxies: {}\n", proxies.join(", ")));
    }
    out.push_str("HA checks\n");
    for c in &s.checks {
        let tag = match c.level {
            Level::Pass => "PASS",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        };
        out.push_str(&format!("  {tag}  {:<19} {}\n", c.id, c.message));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(name: &str, role: &str, ip: &str) -> PodFact {
        PodFact {
            name: name.into(),
            role: if role == "head" {
                Role::Head
            } else {
                Role::Worker
            },
            node: Some(format!("node-{ip}")),
            ip: Some(ip.into()),
            phase: "Running".into(),
            ready: true,
            restarts: 0,
            uid: name.into(),
            gcs_ft_env: role == "head",
        }
    }

    /// A healthy HA RayService: head + two workers, two deployments, replicas one per worker.
    fn healthy() -> Facts {
        let mut f = Facts {
            name: "rs".into(),
            namespace: "ns".into(),
            conditions: vec![
                json!({"type": "Ready", "status": "True", "reason": "RunningServeApps"}),
            ],
            spec_gcs_ft: true,
            pods: vec![
                pod("h", "head", "10.0.0.1"),
                pod("w1", "worker", "10.0.0.2"),
                pod("w2", "worker", "10.0.0.3"),
            ],
            redis: Some(("rs-redis".into(), 1, 1)),
            ..Default::default()
        };
        f.serve_endpoints = ["h", "w1", "w2"]
            .iter()
            .zip(["10.0.0.1", "10.0.0.2", "10.0.0.3"])
            .map(|(p, ip)| EndpointFact {
                ip: ip.into(),
                pod: Some(p.to_string()),
                node: None,
                ready: true,
            })
            .collect();
        let details = json!({
            "proxies": {
                "a": {"node_ip": "10.0.0.1", "status": "HEALTHY"},
                "b": {"node_ip": "10.0.0.2", "status": "HEALTHY"},
                "c": {"node_ip": "10.0.0.3", "status": "HEALTHY"}
            },
            "applications": {"fruit_app": {"status": "RUNNING", "deployments": {
                "PearStand": {"replicas": [
                    {"actor_id": "p1", "node_ip": "10.0.0.2", "state": "RUNNING"},
                    {"actor_id": "p2", "node_ip": "10.0.0.3", "state": "RUNNING"}]},
                "FruitMarket": {"replicas": [
                    {"actor_id": "f1", "node_ip": "10.0.0.2", "state": "RUNNING"},
                    {"actor_id": "f2", "node_ip": "10.0.0.3", "state": "RUNNING"}]}
            }}}
        });
        apply_serve_details(&details, &mut f);
        f
    }

    fn level(f: &Facts, id: &str) -> Level {
        evaluate(f).into_iter().find(|c| c.id == id).unwrap().level
    }

    #[test]
    fn a_healthy_service_passes_every_check() {
        let checks = evaluate(&healthy());
        assert_eq!(checks.len(), 8);
        assert!(checks.iter().all(|c| c.level == Level::Pass), "{checks:#?}");
    }

    #[test]
    fn each_check_fails_on_its_own_fault() {
        let mut f = healthy();
        f.replicas[0].node_ip = "10.0.0.1".into();
        assert_eq!(level(&f, "head-no-replicas"), Level::Fail);
        assert_eq!(level(&f, "replica-placement"), Level::Fail);

        let mut f = healthy();
        f.replicas[1].node_ip = "10.0.0.2".into();
        assert_eq!(level(&f, "replica-placement"), Level::Fail);
        assert_eq!(level(&f, "head-no-replicas"), Level::Pass);

        let mut f = healthy();
        f.proxies.retain(|p| p.node_ip != "10.0.0.3");
        assert_eq!(level(&f, "proxies-everywhere"), Level::Fail);

        let mut f = healthy();
        f.serve_endpoints.retain(|e| e.pod.as_deref() != Some("h"));
        assert_eq!(level(&f, "serve-endpoints"), Level::Fail);
        f.exclude_head_from_serve_svc = true;
        assert_eq!(level(&f, "serve-endpoints"), Level::Pass);

        let mut f = healthy();
        f.pods[0].gcs_ft_env = false;
        assert_eq!(level(&f, "gcs-ft-head"), Level::Fail);

        let mut f = healthy();
        f.conditions = vec![json!({"type": "Ready", "status": "False", "reason": "X"})];
        assert_eq!(level(&f, "ready"), Level::Fail);

        let mut f = healthy();
        f.redis = Some(("rs-redis".into(), 0, 1));
        assert_eq!(level(&f, "redis"), Level::Fail);

        // One worker: its deployments run a single replica each.
        let mut f = healthy();
        f.pods.pop();
        f.replicas.retain(|r| r.node_ip != "10.0.0.3");
        assert_eq!(level(&f, "replica-placement"), Level::Fail);
    }

    #[test]
    fn an_unreadable_dashboard_fails_the_serve_checks() {
        let mut f = healthy();
        f.dashboard_error = Some("503".into());
        for id in [
            "head-no-replicas",
            "proxies-everywhere",
            "replica-placement",
        ] {
            assert_eq!(level(&f, id), Level::Fail);
        }
    }
}
