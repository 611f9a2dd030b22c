//! The rig's own checks: the pinned API server, the nodes, KubeRay's CRDs, and the KubeRay guide's
//! HA sample on the real operator (kwok's fake pods or the node agent's real ones).

use std::time::Instant;

use serde_json::Value;

use crate::harness::{
    Check, Namespace, Rig, TestResult, arr, condition_true, endpoint_addresses, in_cidr,
    manifest_dir, parse_cidr, patience, pod_is_running, pod_is_up, pods_of, s, wait_until,
};

pub const TRIALS: &[Check] = &[
    Check {
        name: "checks::server_version_is_pinned",
        run: server_version_is_pinned,
        real_pods: false,
    },
    Check {
        name: "checks::three_nodes_ready",
        run: three_nodes_ready,
        real_pods: false,
    },
    Check {
        name: "checks::agent_nodes_hold_their_leases",
        run: agent_nodes_hold_their_leases,
        real_pods: true,
    },
    Check {
        name: "checks::kuberay_crds_established",
        run: kuberay_crds_established,
        real_pods: false,
    },
    Check {
        name: "checks::rayservice_ha_on_real_operator",
        run: rayservice_ha_on_real_operator,
        real_pods: false,
    },
];

fn server_version_is_pinned(rig: &Rig) -> TestResult {
    let pinned = rig
        .versions
        .get("K8S_VERSION")
        .ok_or("rig/versions.env has no K8S_VERSION")?;
    let v: Value = serde_json::from_str(&rig.kubectl(&["version", "-o", "json"])?)
        .map_err(|e| e.to_string())?;
    let server = s(&v, "/serverVersion/gitVersion");
    let client = s(&v, "/clientVersion/gitVersion");
    if server != pinned {
        return Err(format!("server version {server:?}, pinned {pinned:?}").into());
    }
    if client != pinned {
        return Err(format!("rig kubectl version {client:?}, pinned {pinned:?}").into());
    }
    Ok(())
}

/// kwok keeps polling the Leases of the nodes it managed before the agent took them over and takes
/// a Lease the moment it looks expired; holding it, kwok plays its fake pod stages on the agent's
/// real pods (a deleted head vanishes at once, its successor is "Ready" at once). The agent holds
/// each Lease itself, with a duration kwok never sees run out.
fn agent_nodes_hold_their_leases(rig: &Rig) -> TestResult {
    let nodes = rig.items(&["nodes"])?;
    let agent_nodes: Vec<&str> = nodes
        .iter()
        .filter(|n| s(n, "/metadata/annotations/rig.kubectl-rayha~1agent") == "true")
        .map(|n| s(n, "/metadata/name"))
        .collect();
    if agent_nodes.is_empty() {
        return Err("no node is run by the rig's node agent".into());
    }
    let leases = rig.items(&["leases", "-n", "kube-node-lease"])?;
    for node in agent_nodes {
        let lease = leases
            .iter()
            .find(|l| s(l, "/metadata/name") == node)
            .ok_or_else(|| format!("node {node} has no Lease"))?;
        let holder = s(lease, "/spec/holderIdentity");
        let seconds = lease["spec"]["leaseDurationSeconds"].as_i64().unwrap_or(0);
        if holder != node || seconds < 600 {
            return Err(format!(
                "node {node}'s Lease is held by {holder:?} for {seconds} s; the agent should hold it for an hour"
            )
            .into());
        }
    }
    Ok(())
}

fn three_nodes_ready(rig: &Rig) -> TestResult {
    let nodes = rig.items(&["nodes"])?;
    let ready: Vec<&Value> = nodes
        .iter()
        .filter(|n| condition_true(n, "Ready"))
        .collect();
    if ready.len() < 3 {
        let names: Vec<&str> = nodes.iter().map(|n| s(n, "/metadata/name")).collect();
        return Err(format!(
            "{} of {} nodes Ready ({names:?}); want >= 3",
            ready.len(),
            nodes.len()
        )
        .into());
    }
    for n in &ready {
        let cidr = s(n, "/spec/podCIDR");
        let Some((net, _)) = parse_cidr(cidr) else {
            return Err(format!("node {} has no podCIDR", s(n, "/metadata/name")).into());
        };
        if !in_cidr(&net.to_string(), rig.pod_cidr) {
            return Err(format!(
                "node {} podCIDR {cidr} is outside the rig's pod CIDR",
                s(n, "/metadata/name")
            )
            .into());
        }
    }
    Ok(())
}

fn kuberay_crds_established(rig: &Rig) -> TestResult {
    for crd in ["rayclusters.ray.io", "rayservices.ray.io", "rayjobs.ray.io"] {
        let c = rig.get_json(&["crd", crd])?;
        if !condition_true(&c, "Established") {
            return Err(format!("CRD {crd} is not Established").into());
        }
    }
    Ok(())
}
fn rayservice_ha_on_real_operator(rig: &Rig) -> TestResult {
    let manifest = manifest_dir().join("tests/data/kuberay/ray-service.high-availability.yaml");
    if !manifest.is_file() {
        return Err(format!("{} is missing", manifest.display()).into());
    }
    let ns = Namespace::create(rig, "rig-test-ha")?;
    let ns_name = ns.name.as_str();
    let node_names: Vec<String> = rig
        .items(&["nodes"])?
        .iter()
        .map(|n| s(n, "/metadata/name").to_string())
        .collect();

    let manifest_s = manifest.to_string_lossy().into_owned();
    rig.kubectl(&[
        "apply",
        "--server-side",
        "--field-manager=rig-test",
        "-n",
        ns_name,
        "-f",
        &manifest_s,
    ])?;
    let t_apply = Instant::now();

    // The real operator creates a RayCluster owned by the RayService.
    let cluster = wait_until(
        "a RayCluster owned by RayService rayservice-ha",
        patience(90),
        || {
            let rcs = rig.items(&["rayclusters.ray.io", "-n", ns_name])?;
            Ok(rcs
                .iter()
                .find(|rc| {
                    arr(rc, "/metadata/ownerReferences")
                        .iter()
                        .any(|r| s(r, "/kind") == "RayService" && s(r, "/name") == "rayservice-ha")
                })
                .map(|rc| s(rc, "/metadata/name").to_string()))
        },
    )?;

    // One head and two workers, Running on rig nodes with rig pod IPs.
    // With real pods (part 2) this sample's workers never become Ready: their readiness
    // probe includes the Serve proxy's /-/healthz, and the sample's app cannot deploy (its
    // runtime_env working_dir is a GitHub zip, out of reach here), so no proxy starts on
    // them. There they only have to run; the real-Ray trials below check readiness.
    let real_pods = rig.agent_nodes()?.0 > 0;
    let worker_up = |p: &Value| pod_is_running(rig, p, !real_pods);
    let (head, workers) = wait_until("1 head and 2 worker pods Running", patience(120), || {
        let heads = pods_of(rig, ns_name, &cluster, "head")?;
        let workers = pods_of(rig, ns_name, &cluster, "worker")?;
        let up_heads: Vec<Value> = heads
            .iter()
            .filter(|p| pod_is_up(rig, p).unwrap_or(false))
            .cloned()
            .collect();
        let up_workers: Vec<Value> = workers
            .iter()
            .filter(|p| worker_up(p).unwrap_or(false))
            .cloned()
            .collect();
        for p in heads.iter().chain(workers.iter()) {
            pod_is_running(rig, p, false)?; // surfaces a bad IP at once
        }
        Ok((up_heads.len() == 1 && up_workers.len() == 2)
            .then(|| (up_heads[0].clone(), up_workers)))
    })?;
    for p in std::iter::once(&head).chain(workers.iter()) {
        let node = s(p, "/spec/nodeName");
        if !node_names.iter().any(|n| n == node) {
            return Err(format!(
                "pod {} is on {node:?}, not a rig node",
                s(p, "/metadata/name")
            )
            .into());
        }
    }
    eprintln!(
        "    head {} on {} ip {}; workers {}; {:.1}s after apply",
        s(&head, "/metadata/name"),
        s(&head, "/spec/nodeName"),
        s(&head, "/status/podIP"),
        workers
            .iter()
            .map(|w| format!("{}@{}", s(w, "/status/podIP"), s(w, "/spec/nodeName")))
            .collect::<Vec<_>>()
            .join(", "),
        t_apply.elapsed().as_secs_f64()
    );

    // Services. The RayCluster controller creates the cluster's head Service at once.
    // The RayService's own head and serve Services (rayservice-ha-head-svc,
    // rayservice-ha-serve-svc) are created by the operator only after the Serve
    // applications report RUNNING through the Ray dashboard; with kwok's fake pods
    // no dashboard answers, so here they must NOT exist yet, and the RayService must
    // not claim to be ready (part 2 runs real Ray and turns this into a positive check).
    let head_svc = format!("{cluster}-head-svc");
    let svc = wait_until(&format!("Service {head_svc}"), patience(60), || {
        match rig.get_json(&["service", "-n", ns_name, &head_svc]) {
            Ok(v) => Ok(Some(v)),
            Err(e) if e.contains("NotFound") => Ok(None),
            Err(e) => Err(e),
        }
    })?;
    let ports: Vec<String> = svc
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .map(|ps| ps.iter().map(|p| s(p, "/name").to_string()).collect())
        .unwrap_or_default();
    for want in ["gcs-server", "dashboard", "serve"] {
        if !ports.iter().any(|p| p == want) {
            return Err(format!("Service {head_svc} has ports {ports:?}, missing {want}").into());
        }
    }
    // Its EndpointSlice points at the head pod's IP.
    let head_ip = s(&head, "/status/podIP").to_string();
    wait_until(
        &format!("an EndpointSlice of {head_svc} with the head IP"),
        patience(60),
        || {
            Ok(endpoint_addresses(rig, ns_name, &head_svc, false)?
                .contains(&head_ip)
                .then_some(()))
        },
    )?;
    let services = rig.items(&["services", "-n", ns_name])?;
    let svc_names: Vec<&str> = services.iter().map(|v| s(v, "/metadata/name")).collect();
    eprintln!("    services: {svc_names:?}");
    if svc_names.contains(&"rayservice-ha-serve-svc")
        || svc_names.contains(&"rayservice-ha-head-svc")
    {
        // Only possible once Serve runs for real (part 2); then check it selects the cluster.
        eprintln!("    note: the RayService's serve/head Services exist (Serve reported ready)");
    }
    let rs = rig.get_json(&["rayservices.ray.io", "-n", ns_name, "rayservice-ha"])?;
    if condition_true(&rs, "Ready") && !svc_names.contains(&"rayservice-ha-serve-svc") {
        return Err("RayService is Ready but has no serve Service".into());
    }

    // Failover: delete the head pod by API; the operator makes a new one (new UID).
    let old_uid = s(&head, "/metadata/uid").to_string();
    let old_name = s(&head, "/metadata/name").to_string();
    let t_delete = Instant::now();
    rig.kubectl(&["delete", "pod", "-n", ns_name, &old_name, "--wait=false"])?;
    let new_head = wait_until("a new head pod Running", patience(120), || {
        let heads = pods_of(rig, ns_name, &cluster, "head")?;
        for p in &heads {
            if s(p, "/metadata/uid") != old_uid && pod_is_up(rig, p)? {
                return Ok(Some(p.clone()));
            }
        }
        Ok(None)
    })?;
    let took = t_delete.elapsed();
    eprintln!(
        "    head failover: {} (uid {}) -> {} (uid {}) Running on {} ip {} after {:.2}s",
        old_name,
        old_uid,
        s(&new_head, "/metadata/name"),
        s(&new_head, "/metadata/uid"),
        s(&new_head, "/spec/nodeName"),
        s(&new_head, "/status/podIP"),
        took.as_secs_f64()
    );

    // Clean up: RayService first (its RayCluster's GCS-FT finalizer waits for the
    // operator's Redis cleanup Job, whose pod the rig's kwok stage completes), then
    // the namespace.
    let t_cleanup = Instant::now();
    ns.delete_and_wait()?;
    eprintln!(
        "    cleanup (RayService, Redis cleanup Job, namespace) took {:.1}s",
        t_cleanup.elapsed().as_secs_f64()
    );
    Ok(())
}
