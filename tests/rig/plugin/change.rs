//! Change rehearsals on real Ray: `failover --target serve-config` updates the Serve config in
//! place with every replica kept, `apply --load` measures a user's in-place change and says
//! when there is none, and `--target upgrade` is refused by its capacity preflight on a cluster
//! without room for a second RayCluster, with nothing changed. (A full upgrade round takes 4–8
//! minutes on the rig: scripts/upgrade.sh measures it by hand, `apply --load` included.)

use serde_json::Value;

use super::{passing_failover, text};
use crate::harness::{Rig, TestResult, ensure};

/// Two in-place Serve config updates under load: no failure, recovery when Serve reports the
/// new user_config, replica actors and pods unchanged, the key in the spec.
pub(super) fn serve_config_rehearsal(rig: &Rig, ns: &str) -> TestResult {
    let report = passing_failover(rig, ns, &["--target", "serve-config", "--rounds", "2"])?;
    ensure(
        report["target"] == "serve-config",
        "report target is not serve-config",
    )?;
    let mut marks = Vec::new();
    for round in report["rounds"].as_array().ok_or("no rounds")? {
        let change = round["change"].as_str().unwrap_or_default();
        println!(
            "serve-config round {}: {change}, recovery {} s, {} of {} failed",
            round["round"],
            round["recovery_s"],
            round["requests"]["failures"],
            round["requests"]["requests"]
        );
        ensure(
            change.starts_with("updated the Serve config in place"),
            format!("change: {change:?}"),
        )?;
        ensure(
            round["survival"]["replicas_unchanged"] == true
                && round["survival"]["workers_restarted_or_replaced"]
                    .as_array()
                    .is_some_and(Vec::is_empty),
            format!("replicas or workers replaced: {}", round["survival"]),
        )?;
        serve_reported_the_change(round)?;
        marks.push(change.to_string());
    }
    ensure(marks[0] != marks[1], "both rounds wrote the same value")?;
    let config = rayservice(rig, ns)?["spec"]["serveConfigV2"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ensure(
        config.contains("rayha_rehearsal"),
        "the spec's serveConfigV2 has no rayha_rehearsal",
    )
}

/// `apply --load` of the generated bundle after the rehearsals: its Serve config lacks their
/// key, so KubeRay updates the serving cluster in place. Measured on both routes with no
/// failure, recovery when Serve runs the bundle's config, the same cluster serving before and
/// after; applied again, there is no change, nothing is applied and no load is run.
pub(super) fn apply_under_load_in_place(rig: &Rig, ns: &str) -> TestResult {
    let mut args = vec!["apply", "-n", ns];
    args.extend(crate::harness::FRUIT_APP);
    args.extend([
        "--load",
        "--via",
        "proxy,pod",
        "-o",
        "json",
        "--timeout",
        "5m",
    ]);
    let out = rig.rayha(&args, None);
    let (stdout, stderr) = text(&out);
    let report: Value = serde_json::from_str(&stdout)
        .map_err(|e| format!("apply --load -o json: {e}: {stdout} {stderr}"))?;
    let round = &report["rounds"][0];
    println!(
        "apply --load (in place): {} of {} failed, recovery {} s; {}",
        round["requests"]["failures"],
        round["requests"]["requests"],
        round["recovery_s"],
        report["update"]
    );
    ensure(
        out.status.success() && report["passed"] == true,
        format!(
            "apply --load exit {:?}: {} {stderr}",
            out.status.code(),
            report["reasons"]
        ),
    )?;
    ensure(
        report["target"] == "apply"
            && report["update"]["kind"] == "in-place"
            && report["update"]["changed"] == serde_json::json!(["rayservice/rayservice-ha"]),
        format!("update: {}", report["update"]),
    )?;
    serve_reported_the_change(round)?;
    let served = &round["served"];
    ensure(
        served["before"]["cluster"].is_string()
            && served["before"]["cluster"] == served["after"]["cluster"],
        format!("served: {served}"),
    )?;
    ensure(
        round["routes"].as_array().map(Vec::len) == Some(2),
        format!("routes: {}", round["routes"]),
    )?;
    let config = rayservice(rig, ns)?["spec"]["serveConfigV2"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    ensure(
        !config.contains("rayha_rehearsal"),
        "the bundle's config was not applied",
    )?;

    // Again: nothing to change.
    let generation = rayservice(rig, ns)?["metadata"]["generation"].clone();
    let out = rig.rayha(&args, None);
    let (stdout, stderr) = text(&out);
    ensure(
        out.status.success() && stdout.is_empty() && stderr.contains("no change"),
        format!(
            "apply --load without a change: exit {:?}: {stdout} {stderr}",
            out.status.code()
        ),
    )?;
    ensure(
        rayservice(rig, ns)?["metadata"]["generation"] == generation,
        "apply --load without a change changed the RayService",
    )
}

/// The round's timeline says Serve runs the new config (the in-place probe held).
fn serve_reported_the_change(round: &Value) -> TestResult {
    let applied = round["timeline"]
        .as_array()
        .into_iter()
        .flatten()
        .any(|e| e["event"] == "the change is applied (Serve reports it)");
    ensure(applied, format!("timeline: {}", round["timeline"]))
}

/// Uncordons the nodes it cordoned, however the trial ends.
struct Cordoned<'a> {
    rig: &'a Rig,
    nodes: Vec<String>,
}

impl Drop for Cordoned<'_> {
    fn drop(&mut self) {
        let mut args = vec!["uncordon"];
        args.extend(self.nodes.iter().map(String::as_str));
        if let Err(e) = self.rig.kubectl(&args) {
            eprintln!("could not uncordon {:?}: {e}", self.nodes);
        }
    }
}

/// The trial's RayService as the API server has it.
fn rayservice(rig: &Rig, ns: &str) -> Result<Value, String> {
    rig.get_json(&["rayservices.ray.io", "rayservice-ha", "-n", ns])
}

/// Every node cordoned: the upgrade rehearsal is refused with the numbers (exit 1), and the
/// RayService is not changed.
pub(super) fn upgrade_without_room_is_refused(rig: &Rig, ns: &str) -> TestResult {
    let nodes: Vec<String> = rig
        .items(&["nodes"])?
        .iter()
        .filter(|n| n["spec"]["unschedulable"] != true)
        .filter_map(|n| n["metadata"]["name"].as_str().map(String::from))
        .collect();
    let before = rayservice(rig, ns)?["metadata"]["generation"].clone();
    let mut args = vec!["cordon"];
    args.extend(nodes.iter().map(String::as_str));
    rig.kubectl(&args)?;
    let _uncordon = Cordoned { rig, nodes };
    let out = rig.rayha(
        &[
            "failover",
            "rayservice-ha",
            "-n",
            ns,
            "-y",
            "--target",
            "upgrade",
        ],
        None,
    );
    let (_, stderr) = text(&out);
    println!("upgrade without room: {}", stderr.trim());
    ensure(
        out.status.code() == Some(1),
        format!("exit {:?}: {stderr}", out.status.code()),
    )?;
    for part in [
        "no room for a second RayCluster",
        "cpu",
        "cordoned",
        "nothing was changed",
    ] {
        ensure(stderr.contains(part), format!("no {part:?} in: {stderr}"))?;
    }
    let after = rayservice(rig, ns)?;
    ensure(
        before == after["metadata"]["generation"],
        format!(
            "the RayService changed: generation {before} -> {}",
            after["metadata"]["generation"]
        ),
    )?;
    let pending = &after["status"]["pendingServiceStatus"];
    ensure(
        pending["rayClusterName"].is_null(),
        format!("a pending cluster: {pending}"),
    )
}
