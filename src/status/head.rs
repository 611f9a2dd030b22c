//! Why a RayService's head pod is not Ready, read from what the cluster shows: the pod's state
//! and restarts, the two health endpoints KubeRay's readiness probe checks (the raylet's, served
//! by the dashboard agent on 52365, and the GCS's, served by the dashboard on 8265) asked through
//! the API server's pod proxy, and the probe's last failures. `status` prints it for an un-Ready
//! head and `failover` ends with it when a round does not recover, so both name the same cause.
//!
//! The causes are rules tried in order, each a small function beside its siblings in `RULES`.

use std::time::Duration;

use k8s_openapi::api::core::v1::{ContainerStatus, Pod};
use kube::api::{Api, ListParams};
use serde::Serialize;

use super::{Facts, NodeLossFact, OUT_OF_SERVICE_TAINT, TerminatingPod};
use crate::cluster::{self, Cluster, describe_kube_error};
use crate::lint::DASHBOARD_MODULE_TIMEOUT_ENV;
use crate::rayservice::{Role, pod_ready};

/// The raylet's health, as the readiness probe asks it (dashboard agent port and path).
const RAYLET_HEALTH: (u16, &str) = (52365, "/api/local_raylet_healthz");
/// The GCS's health, as the readiness probe asks it (dashboard port and path).
const GCS_HEALTH: (u16, &str) = (super::DASHBOARD_PORT, "/api/gcs_healthz");
/// Each health request through the API server's proxy gets this long.
const HEALTH_TIMEOUT: Duration = Duration::from_secs(5);

/// What one health endpoint said.
#[derive(Debug, Clone, PartialEq)]
pub enum Health {
    Healthy,
    /// It answered, and not with success.
    Unhealthy(String),
    /// Nothing answered (connection refused, no route, no reply in time).
    NoAnswer(String),
}

impl Health {
    fn describe(&self) -> String {
        match self {
            Health::Healthy => "success".into(),
            Health::Unhealthy(m) => format!("answered without success: {m}"),
            Health::NoAnswer(m) => format!("no answer: {m}"),
        }
    }
}

/// Everything the rules look at.
#[derive(Debug, Default)]
pub struct Observed {
    pub pod: Option<Pod>,
    pub raylet: Option<Health>,
    pub gcs: Option<Health>,
    /// The head pod's last events, oldest first.
    pub events: Vec<String>,
    /// A head pod being deleted while no other exists, and its node when that is lost.
    pub deleting: Option<(TerminatingPod, Option<NodeLossFact>)>,
}

impl Observed {
    fn name(&self) -> &str {
        self.pod
            .as_ref()
            .and_then(|p| p.metadata.name.as_deref())
            .unwrap_or("-")
    }

    fn container(&self) -> Option<&ContainerStatus> {
        self.pod
            .as_ref()?
            .status
            .as_ref()?
            .container_statuses
            .as_ref()?
            .first()
    }

    fn has_module_timeout(&self) -> bool {
        self.pod
            .as_ref()
            .and_then(|p| p.spec.as_ref())
            .and_then(|s| s.containers.first())
            .and_then(|c| c.env.as_ref())
            .is_some_and(|env| env.iter().any(|e| e.name == DASHBOARD_MODULE_TIMEOUT_ENV))
    }

    /// Restarts and how the container last ended, for the evidence.
    fn restarts(&self) -> Option<String> {
        let c = self.container()?;
        let last = c
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .map(|t| {
                format!(
                    ", last ended {} (exit code {})",
                    t.reason.as_deref().unwrap_or("?"),
                    t.exit_code
                )
            })
            .unwrap_or_default();
        Some(format!("restarts {}{last}", c.restart_count))
    }
}

/// Why the head is not Ready, what to do, and what that was read from.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct HeadDiagnosis {
    pub pod: Option<String>,
    pub cause: String,
    pub fix: String,
    pub evidence: Vec<String>,
}

impl HeadDiagnosis {
    /// Indented lines for the text views of status and failover.
    pub fn render(&self) -> String {
        let mut out = format!(
            "  head pod {} is not Ready\n  cause: {}\n  fix:   {}\n",
            self.pod.as_deref().unwrap_or("(none)"),
            self.cause,
            self.fix
        );
        for e in &self.evidence {
            out.push_str(&format!("    {e}\n"));
        }
        out
    }
}

type Rule = fn(&Observed) -> Option<(String, String)>;

/// Tried in order; the first that applies names the cause.
const RULES: [Rule; 8] = [
    deleting,
    no_pod,
    not_running,
    ray_not_running,
    dashboard_down,
    gcs_unhealthy,
    raylet_unhealthy,
    probes_pass_now,
];

/// KubeRay creates a head only when none is listed, and a pod being deleted is listed until the
/// kubelet of its node finishes the deletion.
fn deleting(o: &Observed) -> Option<(String, String)> {
    let (pod, lost) = o.deleting.as_ref().filter(|_| o.pod.is_none())?;
    let node = pod.node.as_deref().unwrap_or("?");
    let cause = format!(
        "head pod {} is being deleted (since {}) and KubeRay creates a new head only once it is gone",
        pod.name, pod.since
    );
    let fix = match lost {
        Some(n) if n.out_of_service => format!(
            "node {node} is out of service: Kubernetes is deleting its pods; wait, and untaint it when it is back"
        ),
        Some(n) => format!(
            "its node {node} is Ready={}, so its kubelet cannot finish the deletion: if {node} is off for good, `kubectl taint node {node} {OUT_OF_SERVICE_TAINT}=nodeshutdown:NoExecute` (untaint it when it is back), or delete the Node",
            n.ready
        ),
        None => format!(
            "wait for its grace period; if it stays, look at node {node} (`kubectl rayha status` checks it: node-loss)"
        ),
    };
    Some((cause, fix))
}

fn no_pod(o: &Observed) -> Option<(String, String)> {
    o.pod.is_none().then(|| {
        (
            "the serving RayCluster has no head pod".into(),
            "look at the RayCluster's events (kubectl describe raycluster) and the KubeRay operator's log".into(),
        )
    })
}

fn not_running(o: &Observed) -> Option<(String, String)> {
    let phase = o.pod.as_ref()?.status.as_ref()?.phase.clone();
    if let Some(w) = o
        .container()
        .and_then(|c| c.state.as_ref()?.waiting.as_ref())
    {
        let reason = w.reason.as_deref().unwrap_or("waiting");
        return Some((
            format!(
                "the head container is not running: {reason}{}",
                w.message
                    .as_deref()
                    .map(|m| format!(" ({m})"))
                    .unwrap_or_default()
            ),
            format!(
                "kubectl logs --previous {} shows why it last stopped; kubectl describe pod {} the events",
                o.name(),
                o.name()
            ),
        ));
    }
    (phase.as_deref() != Some("Running")).then(|| {
        (
            format!(
                "the head pod is {}",
                phase.as_deref().unwrap_or("in no phase yet")
            ),
            format!(
                "kubectl describe pod {}: scheduling, image and volume events",
                o.name()
            ),
        )
    })
}

fn ray_not_running(o: &Observed) -> Option<(String, String)> {
    matches!(
        (&o.raylet, &o.gcs),
        (Some(Health::NoAnswer(_)), Some(Health::NoAnswer(_)))
    )
    .then(|| {
        (
            "neither the raylet's health endpoint (:52365) nor the dashboard (:8265) answers: Ray is not (yet) running in the head container".into(),
            format!("kubectl logs {}: the output of `ray start`", o.name()),
        )
    })
}

fn dashboard_down(o: &Observed) -> Option<(String, String)> {
    matches!(o.gcs, Some(Health::NoAnswer(_))).then(|| {
        let cause = "the Ray dashboard does not answer on :8265; it serves the readiness probe's GCS check, and KubeRay reads Serve's status and pushes the Serve config through it".to_string();
        let fix = if o.has_module_timeout() {
            format!(
                "the head has {DASHBOARD_MODULE_TIMEOUT_ENV}; read /tmp/ray/session_latest/logs/dashboard.log in {} for why the dashboard stopped; the liveness probe restarts the container after its failure threshold",
                o.name()
            )
        } else {
            format!(
                "a dashboard dies at start on a busy node when a module takes longer than {DASHBOARD_MODULE_TIMEOUT_ENV} (30 s by default): set it to \"180\" on the head container (kubectl rayha lint: head-start-timeout; generate sets it); until then only the liveness probe's restart brings the head back"
            )
        };
        (cause, fix)
    })
}

fn gcs_unhealthy(o: &Observed) -> Option<(String, String)> {
    match &o.gcs {
        Some(Health::Unhealthy(m)) => Some((
            format!("the GCS is not healthy (the dashboard says: {m})"),
            "with GCS fault tolerance the GCS needs Redis: check the Redis pod and RAY_REDIS_ADDRESS; gcs_server.out in /tmp/ray/session_latest/logs of the head".into(),
        )),
        _ => None,
    }
}

fn raylet_unhealthy(o: &Observed) -> Option<(String, String)> {
    match &o.raylet {
        Some(h @ (Health::Unhealthy(_) | Health::NoAnswer(_))) => Some((
            format!("the raylet's health check fails ({})", h.describe()),
            "raylet.out and dashboard_agent.log in /tmp/ray/session_latest/logs of the head".into(),
        )),
        _ => None,
    }
}

fn probes_pass_now(_: &Observed) -> Option<(String, String)> {
    Some((
        "both health checks the readiness probe makes pass now".into(),
        "the pod turns Ready after the probe's next success (period 5 s by default); if it does not, look at the probe failures below".into(),
    ))
}

/// The diagnosis from what was observed (no I/O: unit-tested).
pub fn diagnose(o: &Observed) -> HeadDiagnosis {
    let (cause, fix) = RULES
        .iter()
        .find_map(|rule| rule(o))
        .expect("the last rule always applies");
    let mut evidence = Vec::new();
    if let Some(r) = o.restarts() {
        evidence.push(r);
    }
    if let Some(h) = &o.raylet {
        evidence.push(format!(
            "raylet health :{}{}: {}",
            RAYLET_HEALTH.0,
            RAYLET_HEALTH.1,
            h.describe()
        ));
    }
    if let Some(h) = &o.gcs {
        evidence.push(format!(
            "GCS health :{}{}: {}",
            GCS_HEALTH.0,
            GCS_HEALTH.1,
            h.describe()
        ));
    }
    evidence.extend(o.events.iter().map(|e| format!("event: {e}")));
    HeadDiagnosis {
        pod: o.pod.as_ref().and_then(|p| p.metadata.name.clone()),
        cause,
        fix,
        evidence,
    }
}

/// The head's diagnosis when the serving cluster's head is not Ready; None when it is Ready
/// or no cluster serves yet.
pub async fn diagnose_head(cluster: &Cluster, facts: &Facts) -> Option<HeadDiagnosis> {
    let rc = facts.serving_cluster()?;
    if facts.head().is_some_and(|h| h.ready) {
        return None;
    }
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let heads = pods
        .list(&ListParams::default().labels(&Role::Head.selector(rc, "")))
        .await
        .ok()?
        .items;
    let pod = heads
        .iter()
        .find(|p| p.metadata.deletion_timestamp.is_none())
        .cloned();
    if pod.as_ref().is_some_and(pod_ready) {
        return None;
    }
    let deleting = facts
        .terminating
        .iter()
        .find(|p| p.role == Role::Head)
        .map(|p| {
            let lost = facts
                .lost_nodes
                .iter()
                .find(|n| Some(&n.node) == p.node.as_ref())
                .cloned();
            (p.clone(), lost)
        });
    let mut observed = Observed {
        pod,
        deleting,
        ..Observed::default()
    };
    if let Some(name) = observed.pod.as_ref().and_then(|p| p.metadata.name.clone()) {
        let (raylet, gcs) = tokio::join!(
            health(cluster, &name, RAYLET_HEALTH),
            health(cluster, &name, GCS_HEALTH)
        );
        observed.raylet = Some(raylet);
        observed.gcs = Some(gcs);
        observed.events = cluster::last_events(cluster, &cluster.namespace, &[&name], 4).await;
    }
    Some(diagnose(&observed))
}

/// One health endpoint of the head, through the API server's pod proxy.
async fn health(cluster: &Cluster, pod: &str, (port, path): (u16, &str)) -> Health {
    let url = format!(
        "/api/v1/namespaces/{}/pods/{pod}:{port}/proxy{path}",
        cluster.namespace
    );
    let request = match http::Request::get(&url).body(Vec::new()) {
        Ok(r) => r,
        Err(e) => return Health::NoAnswer(e.to_string()),
    };
    match tokio::time::timeout(HEALTH_TIMEOUT, cluster.client.request_text(request)).await {
        Err(_) => Health::NoAnswer(format!("no reply within {} s", HEALTH_TIMEOUT.as_secs())),
        Ok(Ok(body)) if body.contains("success") => Health::Healthy,
        Ok(Ok(body)) => Health::Unhealthy(first_line(&body)),
        Ok(Err(e)) => classify_proxy_error(&describe_kube_error(&e)),
    }
}

/// The API server says "error trying to reach service" (with the dial error) when nothing
/// listens; any other error reply came from Ray itself.
fn classify_proxy_error(message: &str) -> Health {
    let unreachable = [
        "error trying to reach",
        "connection refused",
        "no route to host",
        "i/o timeout",
        "dial tcp",
    ];
    if unreachable.iter().any(|m| message.contains(m)) {
        Health::NoAnswer(first_line(message))
    } else {
        Health::Unhealthy(first_line(message))
    }
}

fn first_line(s: &str) -> String {
    let line = s.trim().lines().next().unwrap_or("").trim();
    line.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn head_pod(env: &[&str], waiting: Option<&str>, restarts: i32) -> Pod {
        let state = match waiting {
            Some(r) => serde_json::json!({"waiting": {"reason": r, "message": "back-off 40s"}}),
            None => serde_json::json!({"running": {}}),
        };
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "rs-head-x"},
            "spec": {"containers": [{
                "name": "ray-head",
                "env": env.iter().map(|n| serde_json::json!({"name": n, "value": "180"})).collect::<Vec<_>>(),
            }]},
            "status": {
                "phase": "Running",
                "containerStatuses": [{
                    "name": "ray-head", "image": "i", "imageID": "", "ready": false,
                    "restartCount": restarts, "state": state,
                    "lastState": {"terminated": {"reason": "Error", "exitCode": 1}},
                }],
            },
        }))
        .unwrap()
    }

    fn observed(pod: Option<Pod>, raylet: Health, gcs: Health) -> Observed {
        Observed {
            pod,
            raylet: Some(raylet),
            gcs: Some(gcs),
            events: vec!["Pod Unhealthy: Readiness probe failed: ".into()],
            deleting: None,
        }
    }

    fn refused() -> Health {
        Health::NoAnswer("dial tcp 10.0.0.1:8265: connect: connection refused".into())
    }

    #[test]
    fn a_dead_dashboard_under_a_healthy_raylet_is_named_with_the_missing_timeout() {
        let d = diagnose(&observed(
            Some(head_pod(&[], None, 0)),
            Health::Healthy,
            refused(),
        ));
        assert!(d.cause.contains("dashboard does not answer"), "{d:?}");
        assert!(d.fix.contains(DASHBOARD_MODULE_TIMEOUT_ENV), "{d:?}");
        assert!(d.fix.contains("head-start-timeout"), "{d:?}");
        assert!(
            d.evidence
                .iter()
                .any(|e| e.contains(":8265/api/gcs_healthz: no answer"))
        );
        assert!(
            d.evidence
                .iter()
                .any(|e| e.starts_with("event: Pod Unhealthy"))
        );
    }

    #[test]
    fn with_the_timeout_set_the_fix_points_at_the_dashboard_log() {
        let d = diagnose(&observed(
            Some(head_pod(&[DASHBOARD_MODULE_TIMEOUT_ENV], None, 0)),
            Health::Healthy,
            refused(),
        ));
        assert!(d.fix.contains("dashboard.log"), "{d:?}");
    }

    #[test]
    fn the_rules_name_each_cause() {
        let cases = [
            (None, Health::Healthy, Health::Healthy, "no head pod"),
            (
                Some(head_pod(&[], Some("CrashLoopBackOff"), 4)),
                Health::Healthy,
                Health::Healthy,
                "not running: CrashLoopBackOff",
            ),
            (
                Some(head_pod(&[], None, 0)),
                refused(),
                refused(),
                "Ray is not (yet) running",
            ),
            (
                Some(head_pod(&[], None, 0)),
                Health::Healthy,
                Health::Unhealthy("GCS unreachable".into()),
                "GCS is not healthy",
            ),
            (
                Some(head_pod(&[], None, 0)),
                Health::Unhealthy("raylet down".into()),
                Health::Healthy,
                "raylet's health check fails",
            ),
            (
                Some(head_pod(&[], None, 0)),
                Health::Healthy,
                Health::Healthy,
                "pass now",
            ),
        ];
        for (pod, raylet, gcs, want) in cases {
            let d = diagnose(&observed(pod, raylet, gcs));
            assert!(d.cause.contains(want), "want {want:?}, got {d:?}");
        }
    }

    #[test]
    fn a_head_held_by_its_deletion_names_the_node_and_the_way_out() {
        let held = TerminatingPod {
            name: "h-1".into(),
            role: Role::Head,
            node: Some("n1".into()),
            since: "2026-11-30T08:13:16Z".into(),
        };
        let lost = NodeLossFact {
            node: "n1".into(),
            ready: "Unknown".into(),
            since: None,
            out_of_service: false,
        };
        let mut o = observed(None, Health::Healthy, Health::Healthy);
        o.deleting = Some((held.clone(), Some(lost.clone())));
        let d = diagnose(&o);
        assert!(
            d.cause
                .contains("head pod h-1 is being deleted (since 2026-11-30T08:13:16Z)"),
            "{d:?}"
        );
        assert!(d.fix.contains("Ready=Unknown"), "{d:?}");
        assert!(
            d.fix.contains(
                "kubectl taint node n1 node.kubernetes.io/out-of-service=nodeshutdown:NoExecute"
            ),
            "{d:?}"
        );
        o.deleting = Some((held.clone(), None));
        assert!(diagnose(&o).fix.contains("wait for its grace period"));
        // A new head that exists already is diagnosed on its own.
        let mut o = observed(
            Some(head_pod(&[], Some("CrashLoopBackOff"), 1)),
            Health::Healthy,
            Health::Healthy,
        );
        o.deleting = Some((held, Some(lost)));
        assert!(diagnose(&o).cause.contains("CrashLoopBackOff"));
    }

    #[test]
    fn restarts_and_the_last_exit_are_evidence() {
        let d = diagnose(&observed(
            Some(head_pod(&[], Some("CrashLoopBackOff"), 3)),
            Health::Healthy,
            Health::Healthy,
        ));
        assert_eq!(d.evidence[0], "restarts 3, last ended Error (exit code 1)");
    }

    #[test]
    fn proxy_errors_tell_no_answer_from_an_answer() {
        assert!(matches!(
            classify_proxy_error(
                "error trying to reach service: dial tcp 10.1.2.3:8265: connect: connection refused"
            ),
            Health::NoAnswer(_)
        ));
        assert!(matches!(
            classify_proxy_error("Internal Server Error: GCS not ready"),
            Health::Unhealthy(_)
        ));
    }
}
