//! The version matrix's smoke trials: apply to Ready, status and one head failover on every
//! other KubeRay operator the rig built and on the newest Ray runtime it has. The full suite
//! runs on the rig's default pair (rig/versions.env); these say the plugin works on the others.

use std::time::Instant;

use libtest_mimic::Failed;
use serde_json::Value;

use super::real_ray::ready_rayservice_with;
use super::{REQUEST_TIMEOUT, failover_report, passing_failover, status_check};
use crate::harness::{Rig, TestResult, ensure, rig_script};

/// Every KubeRay operator the rig built besides the one it runs, each in turn.
pub(super) fn smoke_on_other_kuberay_operators(rig: &Rig) -> TestResult {
    let others: Vec<&String> = rig
        .kuberay_built
        .iter()
        .filter(|v| **v != rig.kuberay)
        .collect();
    ensure(
        !others.is_empty(),
        format!(
            "the rig built no KubeRay operator besides {} (KUBERAY_VERSIONS in rig/versions.env)",
            rig.kuberay
        ),
    )?;
    for version in others {
        let t0 = Instant::now();
        let _back = Operator::switch(rig, version)?;
        smoke(
            rig,
            "rayha-kuberay",
            &[],
            &format!("KubeRay {version}"),
            Verdict::Passes,
        )?;
        println!(
            "KubeRay {version} smoke: {:.0} s with the switch",
            t0.elapsed().as_secs_f64()
        );
    }
    Ok(())
}

/// The newest Ray runtime the rig's node agent has, on the operator the rig runs.
pub(super) fn smoke_on_the_newest_ray(rig: &Rig) -> TestResult {
    let newest = rig
        .ray_runtimes
        .iter()
        .max_by_key(|v| version_key(v))
        .ok_or("the rig lists no Ray runtime (RAY_VERSIONS in rig/versions.env)")?;
    ensure(
        rig.ray_runtimes.first() != Some(newest),
        format!("the rig has no Ray newer than the bundle's default {newest}"),
    )?;
    let t0 = Instant::now();
    smoke(
        rig,
        "rayha-newray",
        &["--ray-version", newest],
        &format!("Ray {newest}"),
        Verdict::Recovers,
    )?;
    println!("Ray {newest} smoke: {:.0} s", t0.elapsed().as_secs_f64());
    Ok(())
}

/// (2, 60, 0) from "2.60.0", to order versions as numbers.
fn version_key(v: &str) -> Vec<u64> {
    v.split('.').map(|p| p.parse().unwrap_or(0)).collect()
}

/// What a smoke's head failover must show.
#[derive(Clone, Copy, PartialEq)]
enum Verdict {
    /// The drill passes (at most one failed request, replica actors kept).
    Passes,
    /// The head is replaced and the RayService recovers; failures and replica survival are
    /// printed. Ray 2.60's raylet exits when its dashboard agent takes over 15 s to start (no
    /// setting raises it), so on these 2-core machines the new head may restart, and Serve then
    /// sometimes redeploys the apps (seen in CI 2026-11-30: 2 failed, replicas replaced).
    Recovers,
}

/// The bundle with `params` Ready (apply's progress and status all PASS), status naming
/// `versions_say` in its versions check, one head failover as `verdict` says, then everything
/// deleted while the operator that made it still runs (its Redis cleanup finalizer needs it).
fn smoke(
    rig: &Rig,
    prefix: &str,
    params: &[&str],
    versions_say: &str,
    verdict: Verdict,
) -> TestResult {
    let ns = ready_rayservice_with(rig, prefix, params)?;
    let n = ns.name.as_str();
    let versions = status_check(rig, n, "versions")?;
    ensure(
        versions["level"] == "PASS"
            && versions["message"]
                .as_str()
                .is_some_and(|m| m.contains(versions_say)),
        format!("status versions check does not say {versions_say}: {versions}"),
    )?;
    println!("status versions: {}", versions["message"]);

    // Short warm-up and settle: the full suite measures those; this says it works.
    let drill = [
        "--max-failures",
        "1",
        "--warmup",
        "2s",
        "--settle",
        "3s",
        REQUEST_TIMEOUT,
    ];
    let report = match verdict {
        Verdict::Passes => passing_failover(rig, n, &drill)?,
        Verdict::Recovers => recovered_failover(rig, n, &drill)?,
    };
    let round = &report["rounds"][0];
    if verdict == Verdict::Passes {
        ensure(
            round["survival"]["replicas_unchanged"] == true,
            format!("replica actor ids changed: {}", round["survival"]),
        )?;
    } else {
        println!(
            "failover verdict {}: {}; replica actors unchanged: {}",
            if report["passed"] == true {
                "PASS"
            } else {
                "FAIL"
            },
            report["reasons"],
            round["survival"]["replicas_unchanged"]
        );
    }
    println!(
        "failover: recovered in {:.1} s, {} of {} requests failed",
        round["recovery_s"].as_f64().unwrap_or(f64::NAN),
        report["total_failures"],
        report["total_requests"]
    );
    ns.delete_and_wait()
}

/// Another KubeRay operator runs until this is dropped; then the rig's own runs again.
struct Operator<'a> {
    rig: &'a Rig,
}

impl<'a> Operator<'a> {
    fn switch(rig: &'a Rig, version: &str) -> Result<Operator<'a>, String> {
        rig_script(&["operator", version])?;
        Ok(Operator { rig })
    }
}

impl Drop for Operator<'_> {
    fn drop(&mut self) {
        if let Err(e) = rig_script(&["operator", &self.rig.kuberay]) {
            eprintln!("switching back to KubeRay {}: {e}", self.rig.kuberay);
        }
    }
}

/// A one-round head drill whose head is replaced and whose RayService recovers in time, passed
/// or not; its report.
fn recovered_failover(rig: &Rig, ns: &str, args: &[&str]) -> Result<Value, Failed> {
    let (out, report, stderr) = failover_report(rig, ns, args)?;
    let round = &report["rounds"][0];
    ensure(
        matches!(out.status.code(), Some(0 | 1))
            && round["recovery_s"].is_number()
            && round["replacement_pod"].is_string(),
        format!(
            "failover exit {:?}, no recovery: {} {stderr}\n{}",
            out.status.code(),
            report["reasons"],
            crate::harness::head_diagnostics(rig, ns)
        ),
    )?;
    Ok(report)
}
