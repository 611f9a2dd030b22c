//! `kubectl rayha status NAME` (alias `describe`): the RayService as it runs — conditions, active
//! and pending clusters, pods per node, the serve Service's endpoints, Serve applications and where
//! each replica runs (from the Ray dashboard, reached through the API server's service proxy) —
//! and each HA property of KubeRay's guide as PASS or FAIL. Exit 0 only when every check passes.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;

use crate::cli::{GlobalArgs, OutputFormat, StatusArgs};
use crate::cluster::{self, Cluster};
use crate::error::{Outcome, Result};
use crate::lint::Level;
use crate::rayservice::{self};

mod checks;
mod dropped;
mod facts;
mod head;

pub use checks::*;
pub use facts::*;
pub use head::{HeadDiagnosis, diagnose_head};

pub fn run(args: StatusArgs, global: &GlobalArgs) -> Result<Outcome> {
    crate::validate::object_name("NAME", &args.name)?;
    let runtime = crate::cluster::runtime(false)?;
    runtime.block_on(async {
        let cluster = cluster::connect(global).await?;
        if !args.watch {
            let status = status_of(&cluster, &args.name).await?;
            print_status(&status, args.output);
            return Ok(Outcome::from_pass(status.healthy));
        }
        watch(&cluster, &args).await.map(Outcome::from_pass)
    })
}

async fn status_of(cluster: &Cluster, name: &str) -> Result<Status> {
    let mut facts = gather(cluster, name).await?;
    gather_placement(cluster, &mut facts).await;
    let checks = evaluate(&facts);
    let healthy = checks.iter().all(|c| c.level == Level::Pass);
    let head_diagnosis = diagnose_head(cluster, &facts).await;
    Ok(Status {
        facts,
        checks,
        healthy,
        head_diagnosis,
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
                    print!("{}", crate::redact::terminal(&text));
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
    print!("{}", crate::redact::terminal(&render(status, output)));
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
        match (&f.pending_cluster, f.pending_pods) {
            (None, _) => "-".to_string(),
            (Some(p), None) => p.clone(),
            (Some(p), Some((ready, all))) =>
                format!("{p} (upgrading: {ready} of {all} pods Ready)"),
        },
        f.num_serve_endpoints
    ));
    out.push_str(&format!("  versions: {}\n", f.versions.describe()));
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
    if let Some(d) = &s.head_diagnosis {
        out.push_str("Head\n");
        out.push_str(&d.render());
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
    use crate::rayservice::Role;
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
            gcs_store: (role == "head").then(|| "redis".into()),
            labels: [
                ("ray.io/node-type", role),
                ("app.kubernetes.io/instance", "rs"),
            ]
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
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
            budgets: vec![budget("rs-workers", 1)],
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

    /// The bundle's budget over two healthy workers, `allowed` disruptions.
    fn budget(name: &str, allowed: i32) -> BudgetFact {
        BudgetFact {
            name: name.into(),
            selector: json!({"matchLabels": {
                "app.kubernetes.io/instance": "rs", "ray.io/node-type": "worker"}}),
            disruptions_allowed: allowed,
            current_healthy: 2,
            desired_healthy: 1,
            expected_pods: 2,
            observed: true,
            sync_failed: None,
        }
    }

    fn message(f: &Facts, id: &str) -> String {
        evaluate(f)
            .into_iter()
            .find(|c| c.id == id)
            .unwrap()
            .message
    }

    fn level(f: &Facts, id: &str) -> Level {
        evaluate(f).into_iter().find(|c| c.id == id).unwrap().level
    }

    #[test]
    fn an_upgrade_in_progress_shows_how_far_the_pending_cluster_is() {
        let mut f = healthy();
        f.pending_cluster = Some("rs-new".into());
        f.pending_pods = Some((1, 3));
        let s = Status {
            checks: evaluate(&f),
            healthy: true,
            head_diagnosis: None,
            facts: f,
        };
        let text = render_text(&s);
        assert!(
            text.contains("pending cluster rs-new (upgrading: 1 of 3 pods Ready)"),
            "{text}"
        );
    }

    #[test]
    fn a_healthy_service_passes_every_check() {
        let checks = evaluate(&healthy());
        assert_eq!(checks.len(), 12);
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
        f.pods[0].gcs_store = None;
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
    fn old_operators_and_mismatched_images_warn() {
        let mut f = healthy();
        f.versions = Versions {
            kuberay: Some("v1.5.0".into()),
            ray: Some("2.52.0".into()),
            head_image: Some("rayproject/ray:2.52.0-py311".into()),
        };
        assert_eq!(level(&f, "versions"), Level::Pass);
        f.versions.kuberay = Some("v1.2.2".into());
        assert_eq!(level(&f, "versions"), Level::Warn);
        f.versions.kuberay = Some("v1.3.0-rc.1".into());
        assert_eq!(level(&f, "versions"), Level::Pass);
        f.versions.head_image = Some("rayproject/ray:2.41.0".into());
        assert_eq!(level(&f, "versions"), Level::Warn);
        // Fields the served CRD dropped are named; losing gcsFaultToleranceOptions is said.
        let mut f = healthy();
        f.dropped_fields = vec!["spec.rayClusterConfig.gcsFaultToleranceOptions".into()];
        let c = evaluate(&f)
            .into_iter()
            .find(|c| c.id == "versions")
            .unwrap();
        assert_eq!(c.level, Level::Warn);
        assert!(
            c.message
                .contains("lacks spec.rayClusterConfig.gcsFaultToleranceOptions")
        );
        assert!(
            c.message.contains("GCS fault tolerance is off"),
            "{}",
            c.message
        );
        // A RocksDB head (KubeRay 1.7) is fault tolerant too.
        let mut f = healthy();
        f.pods[0].gcs_store = Some("rocksdb".into());
        assert_eq!(level(&f, "gcs-ft-head"), Level::Pass);
    }

    #[test]
    fn pods_stranded_on_a_silent_node_fail_with_the_way_out() {
        let mut f = healthy();
        assert_eq!(level(&f, "node-loss"), Level::Pass);
        // The head was deleted after its toleration and stays Terminating; a worker on a node
        // that is fine is not named.
        let head = f.pods.remove(0);
        f.terminating = vec![TerminatingPod {
            name: head.name.clone(),
            role: head.role,
            node: head.node.clone(),
            since: "2026-11-30T08:01:00Z".into(),
        }];
        f.lost_nodes = vec![NodeLossFact {
            node: "node-10.0.0.1".into(),
            ready: "Unknown".into(),
            since: Some("2026-11-30T08:00:20Z".into()),
            out_of_service: false,
        }];
        assert_eq!(level(&f, "node-loss"), Level::Fail);
        let m = message(&f, "node-loss");
        assert!(
            m.contains("head pod h (Terminating since 2026-11-30T08:01:00Z) on node node-10.0.0.1 (Ready=Unknown since 2026-11-30T08:00:20Z)"),
            "{m}"
        );
        assert!(m.contains("kubectl taint node node-10.0.0.1 node.kubernetes.io/out-of-service=nodeshutdown:NoExecute"), "{m}");
        assert!(!m.contains("w1"), "{m}");
        // Once tainted out of service, the message says what happens and how to undo it.
        f.lost_nodes[0].out_of_service = true;
        let m = message(&f, "node-loss");
        assert!(m.contains("out of service"), "{m}");
        assert!(m.contains("node.kubernetes.io/out-of-service-`"), "{m}");
        // An unready worker on a node that cannot be read: a warning, not a verdict.
        let mut f = healthy();
        f.pods[1].ready = false;
        f.lost_nodes_error = Some("node node-10.0.0.2: nodes is forbidden (403)".into());
        assert_eq!(level(&f, "node-loss"), Level::Warn);
        assert!(message(&f, "node-loss").contains("forbidden"));
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

    #[test]
    fn workers_sharing_a_node_fail_the_spread() {
        let mut f = healthy();
        f.node_zones = [("node-10.0.0.2", "z1"), ("node-10.0.0.3", "z2")]
            .iter()
            .map(|(n, z)| (n.to_string(), z.to_string()))
            .collect();
        assert_eq!(level(&f, "worker-spread"), Level::Pass);
        assert!(message(&f, "worker-spread").contains("z1, z2"));
        f.nodes_error = Some("nodes is forbidden (403)".into());
        assert_eq!(level(&f, "worker-spread"), Level::Pass);
        assert!(message(&f, "worker-spread").contains("forbidden"));
        f.pods[2].node = f.pods[1].node.clone();
        assert_eq!(level(&f, "worker-spread"), Level::Fail);
        assert!(message(&f, "worker-spread").contains("w1 and w2 share node"));
        // A worker not yet scheduled leaves one on a node: not HA yet.
        let mut f = healthy();
        f.pods[2].node = None;
        assert_eq!(level(&f, "worker-spread"), Level::Fail);
    }

    #[test]
    fn the_budget_must_cover_every_worker_and_allow_one_eviction() {
        let mut f = healthy();
        f.budgets.clear();
        assert_eq!(level(&f, "disruption-budget"), Level::Fail);
        // A budget on other pods does not count.
        let mut other = budget("other", 1);
        other.selector = json!({"matchLabels": {"app": "web"}});
        f.budgets.push(other);
        assert_eq!(level(&f, "disruption-budget"), Level::Fail);
        // Forbidden to list: said, not failed.
        let mut f = healthy();
        f.budgets_error = Some("poddisruptionbudgets.policy is forbidden (403)".into());
        assert_eq!(level(&f, "disruption-budget"), Level::Warn);
        // All healthy but nothing allowed: drains block.
        let mut f = healthy();
        f.budgets = vec![budget("rs-workers", 0)];
        assert_eq!(level(&f, "disruption-budget"), Level::Fail);
        // One worker unhealthy: no disruption is the budget doing its job.
        f.budgets[0].current_healthy = 1;
        assert_eq!(level(&f, "disruption-budget"), Level::Pass);
        // maxUnavailable on RayCluster pods: the controller cannot count them.
        let mut f = healthy();
        f.budgets[0].disruptions_allowed = 0;
        f.budgets[0].sync_failed =
            Some("rayclusters.ray.io does not implement the scale subresource".into());
        assert_eq!(level(&f, "disruption-budget"), Level::Fail);
        assert!(message(&f, "disruption-budget").contains("scale subresource"));
        // Two budgets over the same pods: the eviction API refuses them.
        let mut f = healthy();
        f.budgets.push(budget("second", 1));
        assert_eq!(level(&f, "disruption-budget"), Level::Fail);
        let mut f = healthy();
        f.budgets = vec![budget("rs-workers", 2)];
        assert_eq!(level(&f, "disruption-budget"), Level::Warn);
        f.budgets[0].observed = false;
        assert_eq!(level(&f, "disruption-budget"), Level::Warn);
    }
}
