//! The guide's HA checks, computed from the facts alone.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;

use crate::lint::Level;

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
    checks.push(versions(&f.versions, &f.dropped_fields));
    if let Some((name, ready, desired)) = &f.redis {
        checks.push(check(
            "redis",
            *ready >= 1 && ready >= desired,
            format!("deployment/{name}: {ready}/{desired} ready"),
        ));
    }
    checks
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
