//! The node drill on real Ray: `failover --target node` cordons a worker's node, evicts its
//! pods through the Eviction API, follows the recovery and uncordons the node; Ctrl-C in the
//! middle of it still uncordons.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::passing_failover;
use super::real_ray::ready_rayservice_with;
use super::signals::{exited_130, lease_gone, spawn};
use crate::harness::{Rig, TestResult, ensure, s};

/// Nodes that are cordoned now.
fn cordoned(rig: &Rig) -> Result<Vec<String>, String> {
    Ok(rig
        .items(&["nodes"])?
        .iter()
        .filter(|n| n["spec"]["unschedulable"] == true)
        .filter_map(|n| n["metadata"]["name"].as_str().map(String::from))
        .collect())
}

/// `failover --target node` on the generated bundle: the round drains a worker's node with no
/// request failed, the timeline shows the cordon, the eviction, the budget's
/// answer to a second eviction and the uncordon, and no node is left cordoned; then Ctrl-C
/// while a node is drained ends the drill with exit 130 and the node schedulable again.
pub(super) fn real_ray_node_drill(rig: &Rig) -> TestResult {
    let ns = ready_rayservice_with(rig, "rayha-node", &[])?;
    let n = ns.name.as_str();
    // Both routes at once: the API server's proxy and a tester pod in the cluster (a fresh
    // connection per request through the Service and kube-proxy, as the guide's clients).
    let report = passing_failover(
        rig,
        n,
        &[
            "--target",
            "node",
            "--via",
            "proxy,pod",
            "--max-failures",
            "1",
        ],
    )?;
    ensure(report["target"] == "node", "report target is not node")?;
    ensure(
        report["route"] == "proxy+pod",
        format!("report route: {}", report["route"]),
    )?;
    for round in report["rounds"].as_array().unwrap() {
        let routes = round["routes"].as_array().ok_or("a round without routes")?;
        for route in routes {
            println!(
                "round {} route {}: {} of {} failed",
                round["round"],
                route["route"],
                route["requests"]["failures"],
                route["requests"]["requests"]
            );
            ensure(
                route["requests"]["requests"].as_u64() > Some(0),
                format!("route {} sent nothing", route["route"]),
            )?;
        }
        let names: Vec<&str> = routes.iter().filter_map(|r| r["route"].as_str()).collect();
        ensure(names == ["proxy", "pod"], format!("routes {names:?}"))?;
        let node = round["drained_node"]
            .as_str()
            .ok_or("a round without drained_node")?;
        let events: Vec<&str> = round["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(|e| e["event"].as_str())
            .collect();
        let has = |needle: &str| events.iter().any(|e| e.contains(needle));
        for needle in [
            &format!("cordoned node {node}"),
            &format!("evicted pod {n}/{}", s(round, "/killed_pod")),
            // The bundle's PodDisruptionBudget: one worker down at a time.
            "is refused while the first is replaced",
            "fully recovered",
            &format!("uncordoned node {node}"),
        ] {
            ensure(has(needle), format!("no {needle:?} in {events:#?}"))?;
        }
        println!(
            "round {}: node {node}, recovery {} s, {} of {} failed; budget: {}",
            round["round"],
            round["recovery_s"],
            round["requests"]["failures"],
            round["requests"]["requests"],
            events
                .iter()
                .find(|e| e.contains("second worker"))
                .unwrap_or(&"")
        );
        ensure(
            round["survival"]["workers_restarted_or_replaced"]
                .as_array()
                .is_some_and(|w| w.is_empty()),
            format!("the other worker restarted: {}", round["survival"]),
        )?;
    }
    ensure(cordoned(rig)?.is_empty(), "a node is left cordoned")?;
    let testers = rig.kubectl(&[
        "get",
        "pods,configmaps",
        "-n",
        n,
        "-l",
        "app.kubernetes.io/component=query",
        "-o",
        "name",
    ])?;
    ensure(
        testers.trim().is_empty(),
        format!("tester left behind: {testers}"),
    )?;

    // Ctrl-C while the node is drained: exit 130, uncordoned, the lock released.
    super::real_ray::wait_ready(rig, n, Duration::from_secs(300))?;
    let drill = spawn(
        rig,
        &[
            "failover",
            "rayservice-ha",
            "-n",
            n,
            "--target",
            "node",
            "-y",
            "--warmup",
            "1s",
        ],
    );
    let deadline = Instant::now() + Duration::from_secs(60);
    while cordoned(rig)?.is_empty() {
        ensure(Instant::now() < deadline, "the drill never cordoned a node")?;
        std::thread::sleep(Duration::from_millis(200));
    }
    std::thread::sleep(Duration::from_secs(2));
    let (status, took, partial) = drill.interrupt()?;
    exited_130("during a node drain", status, took)?;
    ensure(
        partial.contains("interrupted") && partial.contains("uncordoned node"),
        format!("no partial report with the uncordon: {partial}"),
    )?;
    ensure(
        cordoned(rig)?.is_empty(),
        "a node is left cordoned after Ctrl-C",
    )?;
    lease_gone(rig, n, "after Ctrl-C in a node drill")?;
    ns.delete_and_wait()
}

/// A hand-made bundle whose two workers are pinned to one node (`--spread none` and a
/// nodeSelector): `lint` and `status` both FAIL `worker-spread`, and status names the node.
pub(super) fn pinned_workers_fail_worker_spread(rig: &Rig) -> TestResult {
    let ns = crate::harness::Namespace::create(rig, "rayha-pinned")?;
    let n = ns.name.as_str();
    let mut bundle = crate::harness::generate_json(&["--spread", "none"])?;
    for o in crate::harness::items_mut(&mut bundle) {
        if o["kind"] == "RayService" {
            o["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["template"]["spec"]["nodeSelector"] =
                serde_json::json!({"kubernetes.io/hostname": "rig-node-2"});
        }
    }
    let text_bundle = bundle.to_string();
    let lint = rig.rayha_stdin(&["lint", "-o", "json", "-"], None, Some(&text_bundle));
    let report: Value = serde_json::from_slice(&lint.stdout).map_err(|e| e.to_string())?;
    let spread = report["objects"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|o| o["checks"].as_array().into_iter().flatten())
        .find(|c| c["id"] == "worker-spread")
        .cloned()
        .ok_or(format!("lint has no worker-spread: {report}"))?;
    ensure(spread["level"] == "FAIL", format!("lint: {spread}"))?;
    let out = rig.rayha_stdin(
        &["apply", "-n", n, "-f", "-", "--wait=false"],
        None,
        Some(&text_bundle),
    );
    ensure(out.status.success(), super::text(&out).1)?;
    crate::harness::wait_until("both workers on a node", Duration::from_secs(120), || {
        let pods = rig.items(&["pods", "-n", n, "-l", "ray.io/node-type=worker"])?;
        Ok(
            (pods.len() == 2 && pods.iter().all(|p| p["spec"]["nodeName"].is_string()))
                .then_some(()),
        )
    })?;
    let check = super::status_check(rig, n, "worker-spread")?;
    ensure(
        check["level"] == "FAIL"
            && check["message"]
                .as_str()
                .is_some_and(|m| m.contains("rig-node-2")),
        format!("status worker-spread: {check}"),
    )?;
    println!("lint: {}\nstatus: {}", spread["message"], check["message"]);
    ns.delete_and_wait()
}
