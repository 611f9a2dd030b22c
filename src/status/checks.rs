//! The guide's HA checks, computed from the facts alone.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::lint::Level;
use crate::rayservice::Role;

use super::facts::*;

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
    /// Why the head is not Ready, when it is not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub head_diagnosis: Option<super::HeadDiagnosis>,
}

fn check(id: &'static str, ok: bool, message: String) -> HaCheck {
    HaCheck {
        id,
        level: if ok { Level::Pass } else { Level::Fail },
        message,
    }
}

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
        head.is_some_and(|h| h.gcs_store.is_some()),
        match head.map(|h| (h, h.gcs_store.as_deref())) {
            Some((h, Some("redis"))) => {
                format!("head pod {} keeps its GCS state in Redis (RAY_REDIS_ADDRESS)", h.name)
            }
            Some((h, Some(store))) => format!(
                "head pod {} keeps its GCS state in {store} (RAY_gcs_storage)",
                h.name
            ),
            Some((h, None)) => format!(
                "head pod {} has neither RAY_REDIS_ADDRESS nor RAY_gcs_storage: its GCS state dies with it",
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
    checks.push(worker_spread(f));
    checks.push(node_loss(f));
    checks.push(disruption_budget(f));
    checks.push(versions(&f.versions, &f.dropped_fields));
    if let Some((name, ready, desired)) = &f.redis {
        checks.push(check(
            "redis",
            *ready >= 1 && ready >= desired,
            format!("deployment/{name}: {ready}/{desired} ready"),
        ));
    }
    if let Some(tls) = &f.redis_tls {
        let head_ready = f.pods.iter().any(|p| p.role == Role::Head && p.ready);
        checks.push(redis_tls(tls, head_ready));
    }
    checks
}

/// Whether the head's GCS reaches Redis over TLS. It cannot have connected any other way when
/// its address is rediss:// and the bundle's Redis accepts TLS only, and a Ready head has a
/// connected GCS. Clear text passes (HA does not depend on it) and says so.
fn redis_tls(tls: &RedisTlsFact, head_ready: bool) -> HaCheck {
    let id = "redis-tls";
    if !tls.address_tls {
        return check(
            id,
            true,
            "clear text: the head reaches Redis without TLS (generate --redis-tls encrypts it)"
                .into(),
        );
    }
    let ca = tls.ca_env.as_deref().unwrap_or("no RAY_REDIS_CA_CERT");
    match (tls.redis_tls_only, head_ready) {
        (Some(false), _) => HaCheck {
            id,
            level: Level::Warn,
            message: "the head dials rediss://, but the bundle's Redis also listens in clear text (port is not 0): other clients may still send the password unencrypted".into(),
        },
        (Some(true), true) => check(
            id,
            true,
            format!("encrypted: the head is Ready on rediss:// ({ca}) and Redis accepts TLS only"),
        ),
        (None, true) => check(
            id,
            true,
            format!("encrypted: the head is Ready on rediss:// ({ca}); Redis' own config not seen (external)"),
        ),
        (_, false) => HaCheck {
            id,
            level: Level::Warn,
            message: format!(
                "the head dials rediss:// ({ca}) but is not Ready: a certificate the CA does not sign keeps its GCS from connecting (see the head's gcs_server.err)"
            ),
        },
    }
}

/// The oldest KubeRay whose RayService survives a head loss (the HA guide's prerequisite:
/// `gcsFaultToleranceOptions` and the serve Service that keeps workers as endpoints).
const MIN_KUBERAY: (u32, u32) = (1, 3);

/// A known-bad combination of what runs: an operator older than the guide's prerequisite, a
/// served CRD that dropped fields of the manifest (older CRDs than the manifest was written
/// for), or a head image whose tag is not the spec's rayVersion (KubeRay then talks to a Ray it
/// does not expect). Unknown versions pass: old operators do not annotate their RayClusters.
fn versions(v: &Versions, dropped: &[String]) -> HaCheck {
    let id = "versions";
    if !dropped.is_empty() {
        let ft_lost = dropped
            .iter()
            .any(|p| p.ends_with(".gcsFaultToleranceOptions"));
        return HaCheck {
            id,
            level: Level::Warn,
            message: format!(
                "the served RayService CRD lacks {} set by the last kubectl apply, so the API server dropped {}{}: install the CRDs of the KubeRay the manifest was written for, or remove the field{}",
                dropped.join(", "),
                if dropped.len() == 1 { "it" } else { "them" },
                if ft_lost {
                    " and GCS fault tolerance is off (KubeRay < 1.3 has no gcsFaultToleranceOptions)"
                } else {
                    ""
                },
                if dropped.len() == 1 { "" } else { "s" },
            ),
        };
    }
    if let Some((major, minor)) = v.kuberay.as_deref().and_then(major_minor)
        && (major, minor) < MIN_KUBERAY
    {
        return HaCheck {
            id,
            level: Level::Warn,
            message: format!(
                "KubeRay {}: RayService high availability needs KubeRay {}.{} or later",
                v.kuberay.as_deref().unwrap_or(""),
                MIN_KUBERAY.0,
                MIN_KUBERAY.1
            ),
        };
    }
    let tag = v
        .head_image
        .as_deref()
        .and_then(|i| i.rsplit_once(':'))
        .map(|(_, t)| t);
    if let (Some(ray), Some(tag)) = (v.ray.as_deref(), tag)
        && !tag.starts_with(ray)
        && tag != "latest"
    {
        return HaCheck {
            id,
            level: Level::Warn,
            message: format!(
                "the head runs image tag {tag:?} but the spec says rayVersion {ray}: keep them the same Ray"
            ),
        };
    }
    check(id, true, v.describe())
}

/// (1, 5) from "v1.5.0" or "1.5.0-rc.1".
fn major_minor(version: &str) -> Option<(u32, u32)> {
    let mut parts = version.trim_start_matches('v').split('.');
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.split('-').next()?.parse().ok()?;
    Some((major, minor))
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

/// The serving cluster's workers run on distinct nodes (zones are shown when nodes have them).
fn worker_spread(f: &Facts) -> HaCheck {
    let id = "worker-spread";
    let workers: Vec<&PodFact> = f.workers().collect();
    let mut by_node: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for w in &workers {
        if let Some(node) = w.node.as_deref() {
            by_node.entry(node).or_default().push(&w.name);
        }
    }
    let shared: Vec<String> = by_node
        .iter()
        .filter(|(_, pods)| pods.len() > 1)
        .map(|(node, pods)| format!("{} share node {node}", pods.join(" and ")))
        .collect();
    if !shared.is_empty() {
        return check(
            id,
            false,
            format!(
                "{}: losing or draining that node takes them together",
                shared.join("; ")
            ),
        );
    }
    let placed: usize = by_node.values().map(Vec::len).sum();
    if placed < 2 {
        return check(
            id,
            false,
            format!(
                "{placed} of {} worker(s) on a node: HA needs two on distinct nodes",
                workers.len()
            ),
        );
    }
    let zones: BTreeSet<&str> = by_node
        .keys()
        .filter_map(|n| f.node_zones.get(*n).map(String::as_str))
        .collect();
    let where_ = match (&f.nodes_error, zones.is_empty()) {
        (Some(e), _) => format!("; zones unknown (cannot list nodes: {e})"),
        (None, true) => String::new(),
        (None, false) => format!(
            " in zone(s) {}",
            zones.into_iter().collect::<Vec<_>>().join(", ")
        ),
    };
    let unplaced = workers.len() - placed;
    check(
        id,
        true,
        format!(
            "{placed} workers on {placed} distinct nodes{where_}{}",
            if unplaced > 0 {
                format!("; {unplaced} not scheduled yet")
            } else {
                String::new()
            }
        ),
    )
}

/// One PodDisruptionBudget covers every worker of the serving cluster, and lets a drain evict
/// one of them when all are healthy.
/// Ray pods stranded on a node that stopped answering. KubeRay (up to 1.7 at least) replaces a
/// Ray pod only once its object is gone, and only the node's kubelet finishes a deletion: a
/// powered-off node keeps its head or worker "Terminating" forever, whatever the tolerations.
/// Measured on the rig: scripts/node-loss.sh.
fn node_loss(f: &Facts) -> HaCheck {
    let stranded: Vec<String> =
        f.lost_nodes
            .iter()
            .map(|n| {
                let on_it = |node: &Option<String>| node.as_deref() == Some(n.node.as_str());
                let mut pods: Vec<String> = f
                    .pods
                    .iter()
                    .filter(|p| on_it(&p.node))
                    .map(|p| format!("{} pod {} (not Ready)", p.role, p.name))
                    .collect();
                pods.extend(
                    f.terminating.iter().filter(|p| on_it(&p.node)).map(|p| {
                        format!("{} pod {} (Terminating since {})", p.role, p.name, p.since)
                    }),
                );
                stranded_message(n, &pods)
            })
            .collect();
    if !stranded.is_empty() {
        return check("node-loss", false, stranded.join("; "));
    }
    match &f.lost_nodes_error {
        Some(e) => HaCheck {
            id: "node-loss",
            level: Level::Warn,
            message: format!("cannot read the node of an unready Ray pod: {e}"),
        },
        None => check(
            "node-loss",
            true,
            "no Ray pod on a node that is not Ready".into(),
        ),
    }
}

fn stranded_message(n: &NodeLossFact, pods: &[String]) -> String {
    let since = n
        .since
        .as_deref()
        .map_or(String::new(), |s| format!(" since {s}"));
    let node = &n.node;
    if n.ready == "gone" {
        return format!(
            "{} on node {node}, which no longer exists: the pod garbage collector deletes them",
            pods.join(", ")
        );
    }
    if n.out_of_service {
        return format!(
            "{} on node {node} (Ready={}{since}, out of service): Kubernetes is deleting them and KubeRay replaces them once they are gone; untaint {node} (`kubectl taint node {node} {OUT_OF_SERVICE_TAINT}-`) when it is back",
            pods.join(", "),
            n.ready
        );
    }
    format!(
        "{} on node {node} (Ready={}{since}): KubeRay replaces a Ray pod only once its object is gone, and only {node}'s kubelet can finish a deletion; if {node} is off for good, `kubectl taint node {node} {OUT_OF_SERVICE_TAINT}=nodeshutdown:NoExecute` (Kubernetes' non-graceful node shutdown: the pods are deleted and replaced elsewhere) and untaint it when it is back, or delete the Node",
        pods.join(", "),
        n.ready
    )
}

fn disruption_budget(f: &Facts) -> HaCheck {
    let id = "disruption-budget";
    if let Some(e) = &f.budgets_error {
        return HaCheck {
            id,
            level: Level::Warn,
            message: format!("cannot list poddisruptionbudgets: {e}"),
        };
    }
    let workers: Vec<&PodFact> = f.workers().collect();
    if workers.is_empty() {
        return check(id, false, "no worker pod to protect".into());
    }
    let covering = |w: &PodFact| -> Vec<&BudgetFact> {
        f.budgets
            .iter()
            .filter(|b| crate::selector::matches(&b.selector, &w.labels))
            .collect()
    };
    let mut budget: Option<&BudgetFact> = None;
    for w in &workers {
        match covering(w).as_slice() {
            [] => {
                return check(
                    id,
                    false,
                    format!(
                        "no PodDisruptionBudget in {} selects worker {}: a drain may evict every worker at once",
                        f.namespace, w.name
                    ),
                );
            }
            [b] => match budget {
                Some(seen) if seen.name != b.name => {
                    return check(
                        id,
                        false,
                        format!(
                            "different budgets cover the workers ({}, {}): a drain may take one worker under each",
                            seen.name, b.name
                        ),
                    );
                }
                _ => budget = Some(b),
            },
            several => {
                let names: Vec<&str> = several.iter().map(|b| b.name.as_str()).collect();
                return check(
                    id,
                    false,
                    format!(
                        "worker {} is covered by several budgets ({}): the eviction API refuses such a pod, so no drain can evict it",
                        w.name,
                        names.join(", ")
                    ),
                );
            }
        }
    }
    let Some(b) = budget else {
        return check(id, false, "no budget".into());
    };
    let counted = format!(
        "pdb/{}: {} of {} healthy (at least {}), {} disruption(s) allowed",
        b.name, b.current_healthy, b.expected_pods, b.desired_healthy, b.disruptions_allowed
    );
    if let Some(why) = &b.sync_failed {
        return check(
            id,
            false,
            format!(
                "{counted}; the disruption controller cannot count its pods ({why}), so every drain of a worker's node blocks"
            ),
        );
    }
    if !b.observed {
        return HaCheck {
            id,
            level: Level::Warn,
            message: format!(
                "pdb/{}: not yet counted by the disruption controller",
                b.name
            ),
        };
    }
    let all_healthy = b.expected_pods > 0 && b.current_healthy >= b.expected_pods;
    if all_healthy && b.disruptions_allowed == 0 {
        return check(
            id,
            false,
            format!("{counted} although all are healthy: every drain of a worker's node blocks"),
        );
    }
    if b.disruptions_allowed > 1 {
        return HaCheck {
            id,
            level: Level::Warn,
            message: format!("{counted}: a drain may take more than one worker at once"),
        };
    }
    check(id, true, counted)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tls(address_tls: bool, redis_tls_only: Option<bool>) -> RedisTlsFact {
        RedisTlsFact {
            address_tls,
            ca_env: address_tls.then(|| "RAY_REDIS_CA_CERT".to_string()),
            redis_tls_only,
        }
    }

    #[test]
    fn redis_tls_is_encrypted_only_when_the_head_is_ready_against_a_tls_only_redis() {
        let c = redis_tls(&tls(true, Some(true)), true);
        assert!(
            c.level == Level::Pass && c.message.starts_with("encrypted"),
            "{c:?}"
        );
        assert_eq!(redis_tls(&tls(true, Some(false)), true).level, Level::Warn);
        assert_eq!(redis_tls(&tls(true, Some(true)), false).level, Level::Warn);
        let external = redis_tls(&tls(true, None), true);
        assert!(external.message.contains("external"), "{external:?}");
        let clear = redis_tls(&tls(false, Some(false)), true);
        assert!(clear.level == Level::Pass && clear.message.starts_with("clear text"));
    }
}
