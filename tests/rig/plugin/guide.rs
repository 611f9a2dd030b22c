//! KubeRay's own HA manifest as a user runs it (the guide's steps on the rig), and what the
//! plugin says when a head does not come back; and `apply` of an app that cannot deploy.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::text;
use crate::harness::{
    FRUIT_APP, Namespace, Rig, TestResult, agent, ensure, manifest_dir, patience, s, wait_until,
};

/// The guide's manifest with only the application source swapped for the rig's fruit app (the
/// sample's working_dir is a GitHub zip, out of the rig's reach): same deployments, same query.
fn guide_manifest_with_rig_app() -> Result<String, String> {
    let path = manifest_dir().join("tests/data/kuberay/ray-service.high-availability.yaml");
    let text = std::fs::read_to_string(&path).map_err(|e| format!("{}: {e}", path.display()))?;
    let swapped = text
        .replace(
            "import_path: fruit.deployment_graph",
            "import_path: rayha_fruit.app:deployment_graph",
        )
        .lines()
        .filter(|l| !l.trim_start().starts_with("runtime_env:"))
        .filter(|l| !l.trim_start().starts_with("working_dir: \"https://"))
        .collect::<Vec<_>>()
        .join("\n");
    if !swapped.contains("rayha_fruit.app") || swapped.contains("working_dir") {
        return Err("the guide's manifest changed: its app source is not where it was".into());
    }
    Ok(swapped + "\n")
}

/// Ready with the three serve endpoints the guide checks (head + two workers).
fn wait_guide_ready(rig: &Rig, ns: &str) -> TestResult {
    wait_until(
        "rayservice-ha Ready with 3 serve endpoints",
        patience(600),
        || {
            let rs = rig.get_json(&["rayservices.ray.io", "rayservice-ha", "-n", ns])?;
            let ready = crate::harness::condition_true(&rs, "Ready");
            let endpoints = rs
                .pointer("/status/numServeEndpoints")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            Ok((ready && endpoints >= 3).then_some(()))
        },
    )
}

fn head_pod(rig: &Rig, ns: &str) -> Result<(String, String), String> {
    let pods = rig.items(&["pods", "-n", ns, "-l", "ray.io/node-type=head"])?;
    pods.iter()
        .find(|p| p.pointer("/metadata/deletionTimestamp").is_none())
        .map(|p| {
            (
                s(p, "/metadata/name").to_string(),
                s(p, "/metadata/uid").to_string(),
            )
        })
        .ok_or_else(|| "no head pod".to_string())
}

/// The guide as written: `kubectl apply` of its manifest (app source swapped only), Ready with
/// head + workers as serve endpoints, and its `query.py` run with `kubectl exec` in its `ray-pod`.
/// Then the drill on it, with the new head's dashboard hung (SIGSTOP: it accepts connections and
/// never answers, as a dashboard wedged on a busy node): `failover --rounds 2` ends after round 1
/// with the diagnosis, exit 1, lock released, and `status` names the same cause.
pub(super) fn guide_manifest_as_written(rig: &Rig) -> TestResult {
    let ns = Namespace::create(rig, "rayha-guide")?;
    let n = ns.name.as_str();
    let manifest = std::env::temp_dir().join(format!("rayha-guide-{}.yaml", std::process::id()));
    std::fs::write(&manifest, guide_manifest_with_rig_app()?).map_err(|e| e.to_string())?;
    let applied = rig.kubectl(&["apply", "-n", n, "-f", manifest.to_str().unwrap()]);
    let _ = std::fs::remove_file(&manifest);
    applied?;
    let t0 = Instant::now();
    wait_guide_ready(rig, n)?;
    println!(
        "guide manifest Ready in {:.0} s",
        t0.elapsed().as_secs_f64()
    );

    // The guide's query loop, in the guide's pod, by kubectl exec; `timeout` ends the loop.
    let out = rig
        .kubectl_cmd()
        .args(["exec", "-n", n, "ray-pod", "--", "timeout", "15"])
        .args(["python3", "/home/ray/samples/query.py"])
        .output()
        .map_err(|e| e.to_string())?;
    let (stdout, stderr) = text(&out);
    let answered = stdout.lines().filter(|l| *l == "response: 12").count();
    // kwok's exec reports the command's exit status in its error, not as kubectl's exit code.
    let timed_out = out.status.code() == Some(124) || stderr.contains("exit status 124");
    ensure(
        timed_out && answered > 10,
        format!(
            "query.py by kubectl exec: exit {:?}, {answered} answers: {stderr} {}",
            out.status.code(),
            stdout.lines().rev().take(5).collect::<Vec<_>>().join(" | ")
        ),
    )?;
    ensure(
        stdout
            .lines()
            .all(|l| !l.contains("num_fail") || l.ends_with("num_fail: 0")),
        format!("query.py saw failures: {stdout}"),
    )?;
    println!("query.py by kubectl exec: {answered} answers of 12, num_fail 0");

    // The drill with the new head's dashboard hung.
    let (_, old_uid) = head_pod(rig, n)?;
    let report = std::env::temp_dir().join(format!("rayha-guide-{}.json", std::process::id()));
    let mut drill = rig
        .rayha_cmd(
            &[
                "failover",
                "rayservice-ha",
                "-n",
                n,
                "-y",
                "--rounds",
                "2",
                "--recovery-timeout",
                "120s",
                "--report",
                report.to_str().unwrap(),
            ],
            None,
        )
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let t_drill = Instant::now();
    let hung = match hang_new_dashboard(rig, n, &old_uid) {
        Ok(h) => h,
        Err(e) => {
            let _ = drill.kill();
            let _ = drill.wait();
            return Err(e.into());
        }
    };
    let out = drill.wait_with_output().map_err(|e| e.to_string())?;
    let (_, stderr) = text(&out);
    println!("{stderr}");
    let r: Value = serde_json::from_str(
        &std::fs::read_to_string(&report).map_err(|e| format!("no report: {e}: {stderr}"))?,
    )
    .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&report);
    ensure(
        out.status.code() == Some(1),
        format!("failover exit {:?}", out.status.code()),
    )?;
    let rounds = r["rounds"].as_array().cloned().unwrap_or_default();
    ensure(
        rounds.len() == 1,
        format!(
            "{} rounds after a head that did not come back",
            rounds.len()
        ),
    )?;
    let cause = rounds[0]["diagnosis"]["cause"].as_str().unwrap_or_default();
    ensure(
        cause.contains("dashboard does not answer"),
        format!("diagnosis: {}", rounds[0]["diagnosis"]),
    )?;
    ensure(
        rounds[0]["diagnosis"]["fix"]
            .as_str()
            .is_some_and(|f| f.contains("RAY_DASHBOARD_SUBPROCESS_MODULE_WAIT_READY_TIMEOUT")),
        "the fix does not name the module timeout the guide's head lacks",
    )?;
    // Serving held through the broken head (the workers serve); the guide's head has no preStop
    // pause, so the request in flight at the kill may fail (as the other drills allow one).
    println!(
        "drill load: {} requests, {} failed {}",
        r["total_requests"], r["total_failures"], rounds[0]["requests"]["failures_by_cause"]
    );
    ensure(
        r["total_failures"].as_u64().is_some_and(|f| f <= 1),
        format!("failed requests: {}", r["total_failures"]),
    )?;
    println!(
        "head {hung} hung: drill ended {:.0} s after the kill with: {cause}",
        t_drill.elapsed().as_secs_f64()
    );
    let lease = rig.kubectl(&["get", "leases", "-n", n, "-o", "name"])?;
    ensure(
        !lease.contains("rayha-failover"),
        format!("lock left behind: {lease}"),
    )?;
    // status says the same.
    let out = rig.rayha(&["status", "rayservice-ha", "-n", n, "-o", "json"], None);
    let v: Value = serde_json::from_slice(&out.stdout).map_err(|e| e.to_string())?;
    ensure(
        v["head_diagnosis"]["cause"].as_str() == Some(cause),
        format!("status: {}", v["head_diagnosis"]),
    )?;
    ensure(
        out.status.code() == Some(1),
        "status exit 0 with an un-Ready head",
    )?;
    Ok(())
}

/// Waits for the head that replaces `old_uid` to run its dashboard, then stops that process
/// (SIGSTOP). Returns the new head's name.
fn hang_new_dashboard(rig: &Rig, ns: &str, old_uid: &str) -> Result<String, String> {
    let new = wait_until("the replacement head pod", patience(120), || {
        Ok(head_pod(rig, ns).ok().filter(|(_, uid)| uid != old_uid))
    })
    .map_err(|e| format!("{e:?}"))?
    .0;
    let deadline = Instant::now() + patience(180);
    loop {
        // pkill -f matches the dashboard's own command line, not its modules' or the agent's.
        let stopped = agent(&[
            "exec",
            ns,
            &new,
            "--",
            "pkill",
            "-STOP",
            "-f",
            "dashboard/dashboard.py",
        ]);
        if stopped.is_ok() {
            return Ok(new);
        }
        if Instant::now() > deadline {
            return Err(format!("no dashboard process in {new}: {stopped:?}"));
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// `apply` of a bundle whose Serve app cannot deploy (an import path that does not exist) fails
/// within 2 minutes with the application's own message, instead of waiting out its timeout.
pub(super) fn apply_fails_fast_when_the_app_cannot_deploy(rig: &Rig) -> TestResult {
    let ns = Namespace::create(rig, "rayha-badapp")?;
    let n = ns.name.as_str();
    let mut args = vec!["apply", "-n", n, "--timeout", "10m"];
    args.extend(FRUIT_APP);
    let bad = "rayha_fruit.no_such_module:deployment_graph";
    let i = args.iter().position(|a| *a == "--import-path").unwrap();
    args[i + 1] = bad;
    let t0 = Instant::now();
    let out = rig.rayha(&args, None);
    let took = t0.elapsed();
    let (_, stderr) = text(&out);
    ensure(
        out.status.code() == Some(1),
        format!("apply exit {:?}: {stderr}", out.status.code()),
    )?;
    ensure(
        stderr.contains("DEPLOY_FAILED") || stderr.contains("while deploying"),
        format!("no app failure in: {stderr}"),
    )?;
    ensure(
        stderr.contains("no_such_module"),
        format!("the app's message is missing: {stderr}"),
    )?;
    ensure(
        took < Duration::from_secs(120),
        format!("apply took {took:?}"),
    )?;
    println!(
        "apply failed after {:.0} s: {}",
        took.as_secs_f64(),
        stderr.trim()
    );
    Ok(())
}
