//! What status reads from the cluster: the RayService through the read model, its Ray pods,
//! the serve Service's endpoints, the Redis Deployment and Serve's own view from the dashboard.

use std::collections::{BTreeMap, BTreeSet};

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{Node, Pod};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use kube::api::{Api, ListParams};
use serde::Serialize;
use serde_json::Value;

use crate::cluster::{Cluster, KubeContext, describe_kube_error};
use crate::error::Result;
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
    /// Where the pod's GCS keeps its state, from the env KubeRay sets on a fault-tolerant head:
    /// "redis" (RAY_REDIS_ADDRESS) or "rocksdb" (RAY_gcs_storage, KubeRay 1.7); None: in memory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gcs_store: Option<String>,
    /// For matching the namespace's disruption budgets.
    #[serde(skip)]
    pub labels: BTreeMap<String, String>,
}

/// A PodDisruptionBudget of the namespace, as the disruption controller last counted it.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct BudgetFact {
    pub name: String,
    #[serde(skip)]
    pub selector: Value,
    pub disruptions_allowed: i32,
    pub current_healthy: i32,
    pub desired_healthy: i32,
    pub expected_pods: i32,
    /// Whether the controller has counted the budget's current generation.
    pub observed: bool,
    /// Why its DisruptionAllowed condition is False with SyncFailed (the controller could not
    /// count the pods, and then allows no eviction).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sync_failed: Option<String>,
}

/// A Ray pod whose deletion has begun but whose object is still there.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct TerminatingPod {
    pub name: String,
    pub role: Role,
    pub node: Option<String>,
    /// When the deletion was asked for (RFC 3339).
    pub since: String,
}

/// A node of the Ray pods that is not Ready: its kubelet is silent (Unknown) or unwell (False).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct NodeLossFact {
    pub node: String,
    /// The node's Ready condition: "Unknown" or "False".
    pub ready: String,
    /// Since when (RFC 3339), when the condition says.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub since: Option<String>,
    /// Whether it carries `node.kubernetes.io/out-of-service` (its pods are being force-deleted).
    pub out_of_service: bool,
}

/// The taint of Kubernetes' non-graceful node shutdown.
pub const OUT_OF_SERVICE_TAINT: &str = "node.kubernetes.io/out-of-service";

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

/// How the head reaches Redis.
#[derive(Debug, Clone, Serialize, PartialEq, Default)]
pub struct RedisTlsFact {
    /// The head's RAY_REDIS_ADDRESS starts with rediss://.
    pub address_tls: bool,
    /// The env var that names the CA on the head (RAY_REDIS_CA_CERT or RAY_REDIS_CA_PATH).
    pub ca_env: Option<String>,
    /// The bundle's Redis accepts TLS only (`port 0` and a `tls-port` in its redis.conf); None
    /// when its config is not a ConfigMap of this namespace (an external Redis).
    pub redis_tls_only: Option<bool>,
}

/// A Serve proxy and its node.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct ProxyFact {
    pub node_ip: String,
    pub status: String,
}

/// Which KubeRay and Ray are in play, from what the API shows: the operator's version
/// annotation on the RayCluster it made, the spec's `rayVersion`, the running head's image.
#[derive(Debug, Clone, Serialize, serde::Deserialize, Default, PartialEq)]
pub struct Versions {
    pub kuberay: Option<String>,
    pub ray: Option<String>,
    pub head_image: Option<String>,
}

impl Versions {
    /// "KubeRay v1.5.0, Ray 2.52.0 (head image rayproject/ray:2.52.0)", "unknown" parts left out.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(k) = &self.kuberay {
            parts.push(format!("KubeRay {k}"));
        }
        if let Some(r) = &self.ray {
            parts.push(format!("Ray {r}"));
        }
        let mut out = if parts.is_empty() {
            "unknown".to_string()
        } else {
            parts.join(", ")
        };
        if let Some(i) = &self.head_image {
            out.push_str(&format!(" (head image {i})"));
        }
        out
    }
}

/// Everything status reads from the cluster; the checks are computed from it alone.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Facts {
    pub name: String,
    pub namespace: String,
    pub conditions: Vec<Value>,
    pub active_cluster: Option<String>,
    pub pending_cluster: Option<String>,
    /// How far an upgrade's pending cluster is: (Ready pods, pods), when one runs beside the
    /// serving cluster.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pending_pods: Option<(usize, usize)>,
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
    /// The Serve controller's actor id: kept across a GCS restart only if the GCS read its
    /// actor table back from Redis.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub serve_controller: Option<String>,
    pub proxies: Vec<ProxyFact>,
    /// Why the dashboard could not be read, if it could not.
    pub dashboard_error: Option<String>,
    /// (name, ready replicas, desired) of the bundle's Redis, when it has one.
    pub redis: Option<(String, i32, i32)>,
    /// How the head reaches Redis, from its env and the bundle's redis.conf.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redis_tls: Option<RedisTlsFact>,
    pub versions: Versions,
    /// Spec fields the last `kubectl apply` set that the served CRD dropped.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dropped_fields: Vec<String>,
    /// The zone label of each node that has one, when nodes could be listed.
    pub node_zones: BTreeMap<String, String>,
    /// Why nodes could not be listed (they are cluster-scoped: many users may not).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub nodes_error: Option<String>,
    pub budgets: Vec<BudgetFact>,
    /// Why the budgets could not be listed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub budgets_error: Option<String>,
    /// Ray pods of the serving cluster that are being deleted (kept out of `pods`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub terminating: Vec<TerminatingPod>,
    /// The nodes of unready or terminating Ray pods that are not Ready themselves.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub lost_nodes: Vec<NodeLossFact>,
    /// Why such a node could not be read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lost_nodes_error: Option<String>,
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

    pub fn pod_by_ip(&self, ip: &str) -> Option<&PodFact> {
        self.pods.iter().find(|p| p.ip.as_deref() == Some(ip))
    }

    pub fn ready(&self) -> Option<&Value> {
        self.conditions.iter().find(|c| c["type"] == "Ready")
    }
}

/// The guide's HA checks, from the facts.
/// Reads everything status needs: five API requests (RayService, pods, EndpointSlices, Redis
/// Deployments, the dashboard through the service proxy).
pub async fn gather(cluster: &Cluster, name: &str) -> Result<Facts> {
    gather_within(cluster, name, DASHBOARD_PATIENCE).await
}

/// How long `gather` waits for Serve's state from the dashboard.
pub const DASHBOARD_PATIENCE: std::time::Duration = std::time::Duration::from_secs(10);

/// `gather`, waiting at most `dashboard` for Serve's state (a drill ending on Ctrl-C must not wait
/// 10 s for the dashboard of a head that is still starting).
pub async fn gather_within(
    cluster: &Cluster,
    name: &str,
    dashboard: std::time::Duration,
) -> Result<Facts> {
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
        versions: Versions {
            ray: rs["spec"]["rayClusterConfig"]["rayVersion"]
                .as_str()
                .map(str::to_string),
            ..Versions::default()
        },
        dropped_fields: super::dropped::fields_dropped_by_the_server(&rs),
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
        facts.terminating = list.items.iter().filter_map(terminating_pod).collect();
        let head = list
            .items
            .iter()
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .find(|p| Role::of_ray_pod(p) == Role::Head);
        facts.versions.head_image =
            head.and_then(|p| p.spec.as_ref()?.containers.first()?.image.clone());
        facts.redis_tls = head.and_then(head_redis_tls);
        facts.versions.kuberay = kuberay_version(cluster, rc).await;
    }
    // One more request, only while an upgrade runs.
    if let Some(pending) = facts.pending_cluster.clone()
        && Some(&pending) != serving.as_ref()
    {
        let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &ns);
        let list = pods
            .list(&ListParams::default().labels(&format!("ray.io/cluster={pending}")))
            .await
            .context("cannot list the pending cluster's pods")?;
        let ready = list.items.iter().filter(|p| pod_ready(p)).count();
        facts.pending_pods = Some((ready, list.items.len()));
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
        .list(&ListParams::default().labels(&Role::Redis.selector("", name)))
        .await
        && let Some(d) = list.items.first()
    {
        let st = d.status.clone().unwrap_or_default();
        facts.redis = Some((
            d.metadata.name.clone().unwrap_or_default(),
            st.ready_replicas.unwrap_or(0),
            d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1),
        ));
        if let Some(tls) = facts.redis_tls.as_mut() {
            tls.redis_tls_only = redis_serves_tls_only(cluster, d).await;
        }
    }
    match &serving {
        Some(rc) => read_dashboard(cluster, rc, &mut facts, dashboard).await,
        None => facts.dashboard_error = Some("no RayCluster yet".into()),
    }
    Ok(facts)
}

/// The operator's version as it wrote it on the RayCluster it made for the RayService.
async fn kuberay_version(cluster: &Cluster, rc: &str) -> Option<String> {
    let api: Api<kube::core::DynamicObject> = Api::namespaced_with(
        cluster.client.clone(),
        &cluster.namespace,
        &crate::cluster::raycluster_resource(),
    );
    let obj = api.get_metadata(rc).await.ok()?;
    obj.metadata
        .annotations?
        .get("ray.io/kuberay-version")
        .cloned()
}

fn terminating_pod(p: &Pod) -> Option<TerminatingPod> {
    let since = p.metadata.deletion_timestamp.as_ref()?;
    Some(TerminatingPod {
        name: p.metadata.name.clone().unwrap_or_default(),
        role: Role::of_ray_pod(p),
        node: p.spec.as_ref().and_then(|s| s.node_name.clone()),
        since: since.0.to_string(),
    })
}

/// The nodes worth a look: those of Ray pods that are unready or being deleted. A healthy
/// RayService reads no node; a sick one reads a few.
fn suspect_nodes(facts: &Facts) -> BTreeSet<String> {
    let unready = facts.pods.iter().filter(|p| !p.ready).map(|p| &p.node);
    let deleting = facts.terminating.iter().map(|p| &p.node);
    unready.chain(deleting).flatten().cloned().collect()
}

/// The node's Ready condition when it is not True, and whether it is out of service.
fn node_loss(node: &Node) -> Option<NodeLossFact> {
    let ready = node
        .status
        .as_ref()?
        .conditions
        .as_ref()?
        .iter()
        .find(|c| c.type_ == "Ready")?;
    if ready.status == "True" {
        return None;
    }
    Some(NodeLossFact {
        node: node.metadata.name.clone().unwrap_or_default(),
        ready: ready.status.clone(),
        since: ready.last_transition_time.as_ref().map(|t| t.0.to_string()),
        out_of_service: node
            .spec
            .as_ref()
            .and_then(|s| s.taints.as_ref())
            .is_some_and(|t| t.iter().any(|t| t.key == OUT_OF_SERVICE_TAINT)),
    })
}

/// Reads the suspect nodes (at most `MAX_SUSPECT_NODES`, each one GET).
async fn gather_lost_nodes(cluster: &Cluster, facts: &mut Facts) {
    let nodes: Api<Node> = Api::all(cluster.client.clone());
    for name in suspect_nodes(facts).into_iter().take(MAX_SUSPECT_NODES) {
        match nodes.get_opt(&name).await {
            Ok(Some(n)) => facts.lost_nodes.extend(node_loss(&n)),
            Ok(None) => facts.lost_nodes.push(NodeLossFact {
                node: name,
                ready: "gone".into(),
                since: None,
                out_of_service: false,
            }),
            Err(e) => {
                facts.lost_nodes_error = Some(format!("node {name}: {}", describe_kube_error(&e)));
                break;
            }
        }
    }
}

/// A RayService has a handful of Ray pods; more suspect nodes than this are not read.
const MAX_SUSPECT_NODES: usize = 8;

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
        gcs_store: spec
            .containers
            .first()
            .and_then(|c| c.env.as_deref())
            .and_then(gcs_store),
        labels: p.metadata.labels.clone().unwrap_or_default(),
    }
}

/// The label that names a node's zone.
pub const ZONE_LABEL: &str = "topology.kubernetes.io/zone";

/// Where the workers run and what limits their eviction, for `status` alone (a drill does not
/// need them): the zones of the nodes and the namespace's PodDisruptionBudgets. Nodes are
/// cluster-scoped and budgets need their own rights: a refusal is kept for the checks to
/// report, it does not end the command.
pub async fn gather_placement(cluster: &Cluster, facts: &mut Facts) {
    gather_lost_nodes(cluster, facts).await;
    if facts.workers().any(|w| w.node.is_some()) {
        let nodes: Api<Node> = Api::all(cluster.client.clone());
        match nodes.list_metadata(&ListParams::default()).await {
            Ok(list) => {
                for n in list.items {
                    let zone = n.metadata.labels.and_then(|mut l| l.remove(ZONE_LABEL));
                    if let (Some(name), Some(zone)) = (n.metadata.name, zone) {
                        facts.node_zones.insert(name, zone);
                    }
                }
            }
            Err(e) => facts.nodes_error = Some(describe_kube_error(&e)),
        }
    }
    let budgets: Api<PodDisruptionBudget> =
        Api::namespaced(cluster.client.clone(), &cluster.namespace);
    match budgets.list(&ListParams::default()).await {
        Ok(list) => {
            facts.budgets = list.items.iter().map(budget_fact).collect();
            facts.budgets_error = None;
        }
        Err(e) => facts.budgets_error = Some(describe_kube_error(&e)),
    }
}

fn budget_fact(b: &PodDisruptionBudget) -> BudgetFact {
    let status = b.status.clone().unwrap_or_default();
    let selector = b
        .spec
        .as_ref()
        .and_then(|s| s.selector.as_ref())
        .map_or(Value::Null, |s| {
            serde_json::to_value(s).unwrap_or(Value::Null)
        });
    let sync_failed = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "DisruptionAllowed" && c.reason == "SyncFailed")
        .map(|c| c.message.clone());
    BudgetFact {
        name: b.metadata.name.clone().unwrap_or_default(),
        selector,
        disruptions_allowed: status.disruptions_allowed,
        current_healthy: status.current_healthy,
        desired_healthy: status.desired_healthy,
        expected_pods: status.expected_pods,
        observed: status.observed_generation.is_some()
            && status.observed_generation >= b.metadata.generation,
        sync_failed,
    }
}

/// The head's way to Redis, when its container names a Redis address.
fn head_redis_tls(head: &Pod) -> Option<RedisTlsFact> {
    let env = head.spec.as_ref()?.containers.first()?.env.as_ref()?;
    let value = |name: &str| env.iter().find(|e| e.name == name);
    let address = value("RAY_REDIS_ADDRESS")?
        .value
        .clone()
        .unwrap_or_default();
    Some(RedisTlsFact {
        address_tls: address.starts_with("rediss://"),
        ca_env: crate::lint::REDIS_CA_ENVS
            .into_iter()
            .find(|n| value(n).is_some())
            .map(str::to_string),
        redis_tls_only: None,
    })
}

/// Whether the Redis Deployment's redis.conf (a ConfigMap it mounts) accepts TLS only.
async fn redis_serves_tls_only(cluster: &Cluster, d: &Deployment) -> Option<bool> {
    let spec = d.spec.as_ref()?.template.spec.as_ref()?;
    let config_maps: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(cluster.client.clone(), &cluster.namespace);
    for name in spec
        .volumes
        .iter()
        .flatten()
        .filter_map(|v| v.config_map.as_ref().map(|c| c.name.clone()))
    {
        let Ok(Some(cm)) = config_maps.get_opt(&name).await else {
            continue;
        };
        if let Some(conf) = cm.data.as_ref().and_then(|d| d.get("redis.conf")) {
            return Some(tls_only(conf));
        }
    }
    None
}

/// redis.conf text: no plain-text port (`port 0`) and a `tls-port`.
pub fn tls_only(conf: &str) -> bool {
    let directive = |key: &str| {
        conf.lines()
            .rev()
            .map(str::split_whitespace)
            .find_map(|mut w| (w.next() == Some(key)).then(|| w.next().unwrap_or("")))
    };
    directive("port") == Some("0") && directive("tls-port").is_some_and(|p| p != "0")
}

/// The GCS store a Ray container's env names (KubeRay sets it on a fault-tolerant head).
fn gcs_store(env: &[k8s_openapi::api::core::v1::EnvVar]) -> Option<String> {
    let value = |name: &str| env.iter().find(|e| e.name == name);
    if value("RAY_REDIS_ADDRESS").is_some() {
        return Some("redis".into());
    }
    value("RAY_gcs_storage")
        .and_then(|e| e.value.as_deref())
        .filter(|v| *v != "memory")
        .map(str::to_string)
}

/// Serve's view of the cluster `rc`, read from its dashboard through the API server's service
/// proxy (`…/services/RC-head-svc:8265/proxy/api/serve/applications/`), within `patience`;
/// the error says why in one line.
pub async fn serve_details(
    cluster: &Cluster,
    rc: &str,
    patience: std::time::Duration,
) -> std::result::Result<Value, String> {
    let path = format!(
        "/api/v1/namespaces/{}/services/{rc}-head-svc:{DASHBOARD_PORT}/proxy/api/serve/applications/",
        cluster.namespace
    );
    let request = http::Request::get(&path)
        .body(Vec::new())
        .map_err(|e| e.to_string())?;
    let text = match tokio::time::timeout(patience, cluster.client.request_text(request)).await {
        Ok(Ok(t)) => t,
        Ok(Err(e)) => return Err(describe_kube_error(&e)),
        Err(_) => {
            return Err(format!(
                "no answer within {}",
                crate::flags::show_duration(patience)
            ));
        }
    };
    serde_json::from_str::<Value>(&text).map_err(|e| format!("not JSON: {e}"))
}

async fn read_dashboard(
    cluster: &Cluster,
    rc: &str,
    facts: &mut Facts,
    patience: std::time::Duration,
) {
    match serve_details(cluster, rc, patience).await {
        Ok(v) => apply_serve_details(&v, facts),
        Err(e) => facts.dashboard_error = Some(e),
    }
}

/// Takes applications, replicas and proxies from Serve's instance details.
pub fn apply_serve_details(v: &Value, facts: &mut Facts) {
    facts.serve_controller = v["controller_info"]["actor_id"]
        .as_str()
        .filter(|id| !id.is_empty())
        .map(str::to_string);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn node(ready: &str, taints: &[&str]) -> Node {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "n1"},
            "spec": {"taints": taints.iter().map(|k| serde_json::json!({"key": k, "effect": "NoExecute"})).collect::<Vec<_>>()},
            "status": {"conditions": [
                {"type": "MemoryPressure", "status": "Unknown"},
                {"type": "Ready", "status": ready, "lastTransitionTime": "2026-11-30T08:00:20Z"},
            ]},
        }))
        .unwrap()
    }

    #[test]
    fn tls_only_means_no_plain_port_and_a_tls_port() {
        assert!(tls_only("dir /data\nport 0\ntls-port 6379\n"));
        assert!(!tls_only("port 6379\ntls-port 6380\n"), "plain text too");
        assert!(!tls_only("port 0\n"), "no TLS port");
        assert!(
            !tls_only("tls-port 6379\n"),
            "Redis' default port 6379 stays open"
        );
        assert!(
            tls_only("port 6379\nport 0\ntls-port 6379\n"),
            "the last one counts"
        );
    }

    #[test]
    fn only_a_node_that_is_not_ready_is_a_loss() {
        assert_eq!(node_loss(&node("True", &[])), None);
        let lost = node_loss(&node("Unknown", &["node.kubernetes.io/unreachable"])).unwrap();
        assert_eq!(lost.ready, "Unknown");
        assert_eq!(lost.since.as_deref(), Some("2026-11-30T08:00:20Z"));
        assert!(!lost.out_of_service);
        let tainted = node_loss(&node("False", &[OUT_OF_SERVICE_TAINT])).unwrap();
        assert!(tainted.out_of_service);
    }

    #[test]
    fn unready_and_terminating_pods_name_the_nodes_to_read() {
        let pod = |name: &str, node: &str, ready: bool| PodFact {
            name: name.into(),
            role: Role::Worker,
            node: Some(node.into()),
            ip: None,
            phase: "Running".into(),
            ready,
            restarts: 0,
            uid: name.into(),
            gcs_store: None,
            labels: BTreeMap::new(),
        };
        let mut f = Facts {
            pods: vec![pod("a", "n1", true), pod("b", "n2", false)],
            ..Facts::default()
        };
        f.terminating.push(TerminatingPod {
            name: "h".into(),
            role: Role::Head,
            node: Some("n3".into()),
            since: "t".into(),
        });
        let nodes: Vec<String> = suspect_nodes(&f).into_iter().collect();
        assert_eq!(nodes, ["n2", "n3"]);
    }
}
