//! Node loss and node drains: the workers spread over Kubernetes nodes, the pods leave a lost
//! node soon, and an evicted worker's proxy drains before it exits.

use serde_json::Value;

use super::pods::is_redis_workload;
use super::{Check, Ctx, Level, miss, pass};
use crate::selector::{self, CLUSTER_LABEL, Labels};

pub(super) const HOSTNAME: &str = "kubernetes.io/hostname";
/// Kubernetes' eviction delay for a lost node (the DefaultTolerationSeconds admission plugin).
const DEFAULT_TOLERATION_S: i64 = 300;
const NODE_LOSS_TAINTS: [&str; 2] = [
    "node.kubernetes.io/not-ready",
    "node.kubernetes.io/unreachable",
];

/// The worker groups of the RayService with their names.
pub(super) fn worker_groups<'a>(ctx: &Ctx<'a>) -> Vec<(&'a str, &'a Value)> {
    ctx.cluster["workerGroupSpecs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|g| (g["groupName"].as_str().unwrap_or("?"), g))
        .collect()
}

/// The labels a group's pods get that a manifest can know: the template's and the group's own
/// `labels`, then KubeRay's (its node type and group win; `ray.io/cluster` is generated).
pub(super) fn ray_pod_labels(group: &Value, node_type: &str, group_name: &str) -> Labels {
    let mut labels: Labels = [
        ("ray.io/is-ray-node", "yes"),
        ("app.kubernetes.io/name", "kuberay"),
        ("app.kubernetes.io/created-by", "kuberay-operator"),
    ]
    .iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    for source in [&group["template"]["metadata"]["labels"], &group["labels"]] {
        for (k, v) in source.as_object().into_iter().flatten() {
            labels.insert(k.clone(), v.as_str().unwrap_or_default().to_string());
        }
    }
    labels.insert("ray.io/node-type".into(), node_type.into());
    labels.insert("ray.io/group".into(), group_name.into());
    labels
}

/// A group's hard rule over hostnames: Some(true) when it counts only its own RayCluster's
/// pods, Some(false) when it counts every cluster's, None when it has none.
fn hostname_rule(spec: &Value, labels: &Labels) -> Option<bool> {
    let own = |sel: &Value| selector::matches_except(sel, labels, |k| k == CLUSTER_LABEL);
    let per_cluster = |rule: &Value| {
        selector::names_key(&rule["labelSelector"], CLUSTER_LABEL)
            || rule["matchLabelKeys"]
                .as_array()
                .is_some_and(|k| k.iter().any(|k| k == CLUSTER_LABEL))
    };
    let spreads = spec["topologySpreadConstraints"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|c| {
            c["topologyKey"] == HOSTNAME
                && c["whenUnsatisfiable"] == "DoNotSchedule"
                && c["maxSkew"].as_i64() == Some(1)
                && own(&c["labelSelector"])
        });
    let anti =
        spec["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|t| t["topologyKey"] == HOSTNAME && own(&t["labelSelector"]));
    spreads.chain(anti).map(per_cluster).max()
}

pub(super) fn check_worker_spread(ctx: &Ctx) -> Check {
    const ID: &str = "worker-spread";
    let groups = worker_groups(ctx);
    if groups.is_empty() {
        return miss(
            ID,
            Level::Fail,
            "no worker group",
            "Serve replicas run on workers; without two on distinct nodes a lost node loses them all",
            "add a worker group with two replicas spread over kubernetes.io/hostname",
        );
    }
    let (mut none, mut shared) = (vec![], vec![]);
    for (name, g) in &groups {
        let labels = ray_pod_labels(g, "worker", name);
        match hostname_rule(&g["template"]["spec"], &labels) {
            None => none.push(*name),
            Some(false) => shared.push(*name),
            Some(true) => {}
        }
    }
    if !none.is_empty() {
        return miss(
            ID,
            Level::Fail,
            format!(
                "worker group {} has no hard spread over {HOSTNAME}",
                none.join(", ")
            ),
            "max_replicas_per_node spreads replicas over Ray nodes (pods), not Kubernetes nodes: two workers on one node hold both replicas of a deployment, and losing or draining that node loses them together",
            format!(
                "add a topologySpreadConstraint (maxSkew: 1, topologyKey: {HOSTNAME}, whenUnsatisfiable: DoNotSchedule, matchLabelKeys: [ray.io/cluster]) whose labelSelector selects the group's pods (kubectl rayha generate shows one)"
            ),
        );
    }
    if !shared.is_empty() {
        return miss(
            ID,
            Level::Warn,
            format!(
                "the spread of worker group {} also counts the workers of other RayClusters",
                shared.join(", ")
            ),
            "during a KubeRay upgrade a pending RayCluster runs beside the serving one; when its workers must avoid the serving workers' nodes too, the upgrade needs twice the nodes or waits forever",
            "use a topologySpreadConstraint with matchLabelKeys: [ray.io/cluster] (or add it to the anti-affinity term)",
        );
    }
    pass(
        ID,
        format!("worker pods spread over {HOSTNAME}, each RayCluster on its own"),
    )
}

/// Seconds a pod stays on a node with `taint` (NoExecute): its shortest matching toleration,
/// Kubernetes' 300 s without one, None (forever) when the matching ones have no limit.
fn toleration_seconds(tolerations: &Value, taint: &str) -> Option<i64> {
    let matching: Vec<&Value> = tolerations
        .as_array()
        .into_iter()
        .flatten()
        .filter(|t| {
            let key = t["key"].as_str().unwrap_or_default();
            let exists = t["operator"] == "Exists";
            let effect = t["effect"].as_str().unwrap_or_default();
            (key == taint || (key.is_empty() && exists))
                && (effect.is_empty() || effect == "NoExecute")
                && (exists || t["value"].as_str().unwrap_or_default().is_empty())
        })
        .collect();
    if matching.is_empty() {
        return Some(DEFAULT_TOLERATION_S);
    }
    matching
        .iter()
        .filter_map(|t| t["tolerationSeconds"].as_i64())
        .min()
}

/// Only Redis: its Deployment replaces a pod of a lost node as soon as the pod is deleted. KubeRay
/// replaces a Ray pod only once its object is gone (a dead node's kubelet never finishes the
/// deletion), so a Ray pod's toleration changes nothing on a dead node (measured on the rig:
/// scripts/node-loss.sh) and is not checked.
pub(super) fn check_node_loss_toleration(ctx: &Ctx) -> Check {
    const ID: &str = "node-loss-toleration";
    let mut pods: Vec<(String, &Value)> = vec![];
    for d in ctx.docs.iter().filter(|d| is_redis_workload(d)) {
        let name = d["metadata"]["name"].as_str().unwrap_or_default();
        pods.push((format!("Redis {name}"), &d["spec"]["template"]["spec"]));
    }
    let mut slow = vec![];
    let mut longest = 0;
    for (who, spec) in &pods {
        for taint in NODE_LOSS_TAINTS {
            match toleration_seconds(&spec["tolerations"], taint) {
                Some(s) if s < DEFAULT_TOLERATION_S => longest = longest.max(s),
                Some(s) => slow.push(format!("{who} ({s} s)")),
                None => slow.push(format!("{who} (never)")),
            }
        }
    }
    slow.dedup();
    if pods.is_empty() {
        return pass(
            ID,
            "no Redis Deployment in the input (Ray pods need no short toleration: KubeRay replaces a lost node's pod only once its object is gone)",
        );
    }
    if slow.is_empty() {
        return pass(
            ID,
            format!("Redis leaves a lost node after at most {longest} s"),
        );
    }
    miss(
        ID,
        Level::Warn,
        format!("slow to leave a lost node: {}", slow.join(", ")),
        "Redis on a node that stopped answering is only deleted, and replaced by its Deployment, after its toleration of node.kubernetes.io/not-ready and unreachable, by default 300 s: that long without the GCS's store",
        "add NoExecute tolerations for node.kubernetes.io/not-ready and node.kubernetes.io/unreachable with tolerationSeconds: 30 to the Redis pod template (kubectl rayha generate --node-loss-toleration)",
    )
}

pub(super) fn check_worker_prestop(ctx: &Ctx) -> Check {
    const ID: &str = "worker-prestop";
    let without: Vec<&str> = worker_groups(ctx)
        .into_iter()
        .filter(|(_, g)| g["template"]["spec"]["containers"][0]["lifecycle"]["preStop"].is_null())
        .map(|(name, _)| name)
        .collect();
    if without.is_empty() {
        return pass(ID, "worker containers pause before they stop");
    }
    miss(
        ID,
        Level::Warn,
        format!("worker group {} has no preStop", without.join(", ")),
        "`ray start` stops the worker's Serve proxy at once on SIGTERM (a drain, an eviction), while kube-proxy still sends it new connections for a moment: those requests fail",
        "add lifecycle.preStop.exec.command: [\"sleep\", \"5\"] to the worker's Ray container",
    )
}
