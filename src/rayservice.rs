//! One read model of a RayService: which RayCluster serves it, whether it is Ready, its Serve
//! applications, and what each pod is to it. status, wait, failover, list and query's routes ask
//! these questions here, so their answers cannot drift apart.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::core::DynamicObject;
use serde::Serialize;
use serde_json::Value;

use crate::cluster::{self, Cluster};
use crate::error::{Error, Result};

/// What a pod is to a RayService's bundle.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Role {
    Head,
    Worker,
    Redis,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Head => "head",
            Role::Worker => "worker",
            Role::Redis => "redis",
        }
    }

    /// A Ray pod's role from KubeRay's `ray.io/node-type` label (a Ray pod without it is a worker).
    pub fn of_ray_pod(pod: &Pod) -> Role {
        match label(pod, "ray.io/node-type") {
            Some("head") => Role::Head,
            _ => Role::Worker,
        }
    }

    /// The label selector of this role's pods: of a RayCluster for head and worker, of the
    /// bundle named `instance` for Redis.
    pub fn selector(self, cluster: &str, instance: &str) -> String {
        match self {
            Role::Head | Role::Worker => {
                format!(
                    "ray.io/cluster={cluster},ray.io/node-type={}",
                    self.as_str()
                )
            }
            Role::Redis => {
                format!("app.kubernetes.io/instance={instance},app.kubernetes.io/name=redis")
            }
        }
    }
}

impl std::fmt::Display for Role {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

pub fn label<'a>(pod: &'a Pod, key: &str) -> Option<&'a str> {
    pod.metadata.labels.as_ref()?.get(key).map(String::as_str)
}

/// Whether a pod's Ready condition is True.
pub fn pod_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

impl App {
    pub fn failed(&self) -> bool {
        self.status == "DEPLOY_FAILED"
    }

    /// The message in one line: a Serve message is often a whole traceback, whose first line
    /// says what failed and whose last line says why.
    pub fn message_line(&self) -> String {
        let Some(m) = &self.message else {
            return "no message".into();
        };
        let lines: Vec<&str> = m.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
        let clip = |l: &str| -> String {
            if l.chars().count() > 300 {
                l.chars().take(300).collect::<String>() + "…"
            } else {
                l.to_string()
            }
        };
        match lines.as_slice() {
            [] => "no message".into(),
            [one] => clip(one),
            [first, .., last] => format!("{} … {}", clip(first), clip(last)),
        }
    }
}

/// One Serve application as the RayService's status reports it.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct App {
    pub status: String,
    pub message: Option<String>,
}

/// A RayCluster the RayService's status names (active or pending) and its Serve applications.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ClusterStatus {
    pub name: String,
    pub apps: BTreeMap<String, App>,
}

impl ClusterStatus {
    /// From `activeServiceStatus` or `pendingServiceStatus`; None without a cluster name.
    fn from_value(v: &Value) -> Option<ClusterStatus> {
        let name = v["rayClusterName"].as_str().filter(|n| !n.is_empty())?;
        let apps = v["applicationStatuses"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(app, s)| {
                (
                    app.clone(),
                    App {
                        status: s["status"].as_str().unwrap_or("UNKNOWN").to_string(),
                        message: s["message"]
                            .as_str()
                            .filter(|m| !m.is_empty())
                            .map(str::to_string),
                    },
                )
            })
            .collect();
        Some(ClusterStatus {
            name: name.to_string(),
            apps,
        })
    }

    /// (RUNNING, all) applications.
    pub fn apps_running(&self) -> (usize, usize) {
        let running = self.apps.values().filter(|a| a.status == "RUNNING").count();
        (running, self.apps.len())
    }
}

/// A RayService as read from the API server.
#[derive(Debug, Clone, Default)]
pub struct RayService {
    pub name: String,
    pub namespace: String,
    pub conditions: Vec<Value>,
    pub active: Option<ClusterStatus>,
    pub pending: Option<ClusterStatus>,
    pub num_serve_endpoints: i64,
    /// GCS fault tolerance in the spec: `gcsFaultToleranceOptions` or the legacy annotation.
    pub gcs_ft: bool,
    pub exclude_head_from_serve_svc: bool,
    /// Worker replicas the spec asks for, over all groups.
    pub desired_workers: usize,
}

impl RayService {
    pub fn from_value(rs: &Value) -> RayService {
        let status = &rs["status"];
        let spec = &rs["spec"];
        RayService {
            name: rs["metadata"]["name"].as_str().unwrap_or_default().into(),
            namespace: rs["metadata"]["namespace"]
                .as_str()
                .unwrap_or_default()
                .into(),
            conditions: status["conditions"].as_array().cloned().unwrap_or_default(),
            active: ClusterStatus::from_value(&status["activeServiceStatus"]),
            pending: ClusterStatus::from_value(&status["pendingServiceStatus"]),
            num_serve_endpoints: status["numServeEndpoints"].as_i64().unwrap_or(0),
            gcs_ft: !spec["rayClusterConfig"]["gcsFaultToleranceOptions"].is_null()
                || rs["metadata"]["annotations"]["ray.io/ft-enabled"]
                    .as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case("true")),
            exclude_head_from_serve_svc: spec["excludeHeadPodFromServeSvc"] == true,
            desired_workers: spec["rayClusterConfig"]["workerGroupSpecs"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|g| g["replicas"].as_u64().unwrap_or(0) as usize)
                .sum(),
        }
    }

    /// The cluster that serves: the active one, else the pending one (a new RayService's first
    /// cluster is pending until it is Ready). One definition for every command.
    pub fn serving(&self) -> Option<&ClusterStatus> {
        self.active.as_ref().or(self.pending.as_ref())
    }

    pub fn serving_cluster(&self) -> Option<&str> {
        self.serving().map(|c| c.name.as_str())
    }

    pub fn ready_condition(&self) -> Option<&Value> {
        self.conditions.iter().find(|c| c["type"] == "Ready")
    }

    pub fn is_ready(&self) -> bool {
        self.ready_condition()
            .is_some_and(|c| c["status"] == "True")
    }

    pub fn ready_reason(&self) -> Option<&str> {
        self.ready_condition().and_then(|c| c["reason"].as_str())
    }

    /// Serve applications that report a problem: DEPLOY_FAILED, or DEPLOYING/UNHEALTHY with a
    /// message (a working_dir that cannot download retries for minutes that way). The pending
    /// cluster's first: during an upgrade that is the one coming up.
    pub fn troubled_apps(&self) -> Vec<(&str, &App)> {
        self.pending
            .iter()
            .chain(self.active.iter())
            .flat_map(|c| c.apps.iter())
            .filter(|(_, a)| {
                a.status == "DEPLOY_FAILED"
                    || (matches!(a.status.as_str(), "DEPLOYING" | "UNHEALTHY")
                        && a.message.is_some())
            })
            .map(|(n, a)| (n.as_str(), a))
            .collect()
    }

    /// Every Serve application of the serving cluster RUNNING (and at least one).
    pub fn all_apps_running(&self) -> bool {
        self.serving().is_some_and(|c| {
            let (running, all) = c.apps_running();
            all > 0 && running == all
        })
    }
}

/// The RayService API of the cluster's namespace.
pub fn api(cluster: &Cluster) -> Api<DynamicObject> {
    Api::namespaced_with(
        cluster.client.clone(),
        &cluster.namespace,
        &cluster::rayservice_resource(),
    )
}

/// Reads rayservice/NAME as JSON; not found is an error that names the namespace.
pub async fn get_value(cluster: &Cluster, name: &str) -> Result<Value> {
    let found = api(cluster)
        .get_opt(name)
        .await
        .map_err(|e| cluster::kube_failure(format!("cannot read rayservice/{name}"), &e))?;
    let Some(rs) = found else {
        // Gone, but maybe not its RayClusters: a deletion held by the Redis cleanup says why.
        let left = crate::cleanup::leftovers(cluster, name)
            .await
            .map(|l| format!("; {l}"))
            .unwrap_or_default();
        return Err(Error::failed(format!(
            "rayservice/{name} not found in namespace {}{left}",
            cluster.namespace
        )));
    };
    Ok(serde_json::to_value(&rs).unwrap_or(Value::Null))
}

/// Reads rayservice/NAME.
pub async fn get(cluster: &Cluster, name: &str) -> Result<RayService> {
    Ok(RayService::from_value(&get_value(cluster, name).await?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rs(status: Value) -> RayService {
        RayService::from_value(&json!({"metadata": {"name": "x"}, "spec": {}, "status": status}))
    }

    #[test]
    fn the_active_cluster_serves_else_the_pending_one() {
        let both = rs(json!({
            "activeServiceStatus": {"rayClusterName": "a"},
            "pendingServiceStatus": {"rayClusterName": "p"},
        }));
        assert_eq!(both.serving_cluster(), Some("a"));
        let pending = rs(json!({"pendingServiceStatus": {"rayClusterName": "p"}}));
        assert_eq!(pending.serving_cluster(), Some("p"));
        // An empty name is no cluster (KubeRay writes "" while it has none).
        let empty = rs(json!({
            "activeServiceStatus": {"rayClusterName": ""},
            "pendingServiceStatus": {"rayClusterName": "p"},
        }));
        assert_eq!(empty.serving_cluster(), Some("p"));
        assert_eq!(rs(json!({})).serving_cluster(), None);
    }

    #[test]
    fn apps_are_running_only_when_all_are_and_there_is_one() {
        let apps = |a: Value| {
            rs(json!({"activeServiceStatus": {"rayClusterName": "a", "applicationStatuses": a}}))
        };
        assert!(apps(json!({"f": {"status": "RUNNING"}})).all_apps_running());
        let mixed = apps(json!({
            "f": {"status": "RUNNING"},
            "g": {"status": "DEPLOY_FAILED", "message": "no zip"},
        }));
        assert!(!mixed.all_apps_running());
        assert_eq!(mixed.serving().unwrap().apps_running(), (1, 2));
        assert_eq!(
            mixed.serving().unwrap().apps["g"].message.as_deref(),
            Some("no zip")
        );
        assert!(!apps(json!({})).all_apps_running());
    }

    #[test]
    fn ready_and_ft_come_from_the_object() {
        let v = json!({
            "metadata": {"name": "x", "annotations": {"ray.io/ft-enabled": "True"}},
            "spec": {"rayClusterConfig": {"workerGroupSpecs": [{"replicas": 2}, {"replicas": 1}]}},
            "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "R"}]},
        });
        let r = RayService::from_value(&v);
        assert!(r.is_ready() && r.gcs_ft);
        assert_eq!(r.ready_reason(), Some("R"));
        assert_eq!(r.desired_workers, 3);
        assert!(!rs(json!({})).is_ready());
    }

    #[test]
    fn roles_select_their_pods() {
        assert_eq!(
            Role::Head.selector("c", "i"),
            "ray.io/cluster=c,ray.io/node-type=head"
        );
        assert_eq!(
            Role::Redis.selector("c", "i"),
            "app.kubernetes.io/instance=i,app.kubernetes.io/name=redis"
        );
        assert_eq!(serde_json::to_value(Role::Worker).unwrap(), "worker");
    }

    #[test]
    fn troubled_apps_are_failed_ones_and_deploying_ones_with_a_message() {
        let app = |status: &str, message: &str| json!({"status": status, "message": message});
        let v = rs(json!({
            "pendingServiceStatus": {"rayClusterName": "p", "applicationStatuses": {
                "a": app("DEPLOYING", "Failed to download working_dir\nTraceback…\nConnectionError: no route"),
                "b": app("DEPLOYING", ""),
                "c": app("DEPLOY_FAILED", "import failed"),
                "d": app("RUNNING", "old message"),
            }},
        }));
        let names: Vec<&str> = v.troubled_apps().iter().map(|(n, _)| *n).collect();
        assert_eq!(names, ["a", "c"]);
        let (_, a) = v.troubled_apps()[0];
        assert!(!a.failed());
        assert_eq!(
            a.message_line(),
            "Failed to download working_dir … ConnectionError: no route"
        );
        let long = App {
            status: "DEPLOY_FAILED".into(),
            message: Some("x".repeat(1000)),
        };
        assert_eq!(long.message_line().chars().count(), 301);
    }
}
