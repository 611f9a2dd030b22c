//! One head-kill drill on a RayService brought up by the oracle: the tester's loop and
//! per-endpoint loops while the head pod is deleted, and what survived.

use std::collections::HashMap;
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use libtest_mimic::Failed;
use serde_json::Value;

use super::{FRUITS, RS, RayServiceUp, serve_details, serve_layout};
use crate::harness::{
    Rig, agent, agent_cmd, condition_true, head_diagnostics, manifest_dir, patience, pod_is_up,
    pods_of, ready_endpoints, s, wait_until,
};

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The tester's JSON lines with t >= since.
fn tester_records(ns: &str, since: f64) -> Result<Vec<Value>, String> {
    let log = agent(&["logs", ns, &format!("{RS}-tester")])?;
    Ok(log
        .lines()
        .filter(|l| l.starts_with('{'))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|v| v.pointer("/t").and_then(Value::as_f64).unwrap_or(0.0) >= since)
        .collect())
}

pub(super) struct DrillResult {
    pub(super) requests: usize,
    pub(super) failures: Vec<String>,
    pub(super) recovery_s: f64,
    pub(super) workers_restarted: bool,
    pub(super) replicas_changed: bool,
}

fn restart_counts(pods: &[Value]) -> Vec<(String, i64)> {
    let mut v: Vec<(String, i64)> = pods
        .iter()
        .map(|p| {
            (
                s(p, "/metadata/name").to_string(),
                p.pointer("/status/containerStatuses/0/restartCount")
                    .and_then(Value::as_i64)
                    .unwrap_or(0),
            )
        })
        .collect();
    v.sort();
    v
}

/// One drill: with the tester's one-in-flight loop running, delete the head pod; wait for a
/// new head Ready, the RayService Ready and the serve Service back at 3 endpoints; count the
/// tester's failures from the deletion to then (+5 s).  Per-endpoint loops (drill_probe.py in
/// the tester pod, each worker's and the old head's IP) show which endpoint failed when.
pub(super) fn head_kill_drill(
    rig: &Rig,
    ns: &str,
    up: &RayServiceUp,
    n: usize,
) -> Result<DrillResult, Failed> {
    let cluster = up.cluster.as_str();
    let before = serve_layout(&serve_details(rig, ns, RS)?).0;
    let workers_before = restart_counts(&pods_of(rig, ns, cluster, "worker")?);
    let head = pods_of(rig, ns, cluster, "head")?
        .into_iter()
        .next()
        .ok_or("no head pod")?;
    let head_name = s(&head, "/metadata/name").to_string();
    let head_uid = s(&head, "/metadata/uid").to_string();
    let mut urls: Vec<String> = pods_of(rig, ns, cluster, "worker")?
        .iter()
        .map(|w| format!("http://{}:8000/fruit/", s(w, "/status/podIP")))
        .collect();
    urls.push(format!("http://{}:8000/fruit/", s(&head, "/status/podIP")));
    let probe_secs = patience(60).as_secs().to_string();
    let mut probe_args: Vec<String> = vec![
        "exec".into(),
        ns.into(),
        format!("{RS}-tester"),
        "--".into(),
        "env".into(),
        "DRILL_PAUSE=0.05".into(),
        "python".into(),
        manifest_dir()
            .join("rig/agent/drill_probe.py")
            .to_string_lossy()
            .into_owned(),
        probe_secs,
        "[\"PEAR\", 12]".into(),
        "12".into(),
    ];
    probe_args.extend(urls.iter().cloned());
    let mut probe = agent_cmd(&probe_args)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .map_err(|e| format!("drill probe: {e}"))?;
    // A reader thread collects the probe's lines; once `stop` is set it returns at the next
    // line and closes the pipe, so the loops inside the pod end on their next write.
    let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::<String>::new()));
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let reader = {
        use std::io::BufRead;
        let out = probe.stdout.take().ok_or("drill probe: no stdout")?;
        let (lines, stop) = (lines.clone(), stop.clone());
        std::thread::spawn(move || {
            for l in std::io::BufReader::new(out).lines() {
                let Ok(l) = l else { break };
                lines.lock().unwrap().push(l);
                if stop.load(std::sync::atomic::Ordering::Relaxed) {
                    break;
                }
            }
        })
    };
    std::thread::sleep(Duration::from_secs(3));
    let endpoints_before = ready_endpoints(rig, ns, &format!("{RS}-serve-svc"))?.len();

    let t0 = unix_now();
    let t_delete = Instant::now();
    rig.kubectl(&["delete", "pod", "-n", ns, &head_name, "--wait=false"])?;
    let serve_svc = format!("{RS}-serve-svc");
    let recovered = wait_until(
        "new head Ready, RayService Ready, the serve endpoints of before",
        patience(200),
        || {
            let heads = pods_of(rig, ns, cluster, "head")?;
            let new_ok = heads.len() == 1
                && s(&heads[0], "/metadata/uid") != head_uid
                && pod_is_up(rig, &heads[0])?;
            if !new_ok {
                return Ok(None);
            }
            let rs = rig.get_json(&["rayservices.ray.io", "-n", ns, RS])?;
            Ok((condition_true(&rs, "Ready")
                && ready_endpoints(rig, ns, &serve_svc)?.len() == endpoints_before)
                .then_some(()))
        },
    );
    if let Err(e) = recovered {
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = probe.kill();
        let _ = probe.wait();
        return Err(format!(
            "drill {n}: {}\n{}",
            e.message().unwrap_or("no recovery"),
            head_diagnostics(rig, ns)
        )
        .into());
    }
    let recovery_s = t_delete.elapsed().as_secs_f64();
    std::thread::sleep(Duration::from_secs(5));
    let t_end = unix_now();

    // the tester's loop
    let recs: Vec<Value> = tester_records(ns, t0)?
        .into_iter()
        .filter(|r| r.pointer("/t").and_then(Value::as_f64).unwrap_or(0.0) <= t_end)
        .collect();
    let failures: Vec<String> = recs
        .iter()
        .filter(|r| !r.pointer("/error").is_none_or(Value::is_null))
        .map(|r| {
            format!(
                "{:+.1}s {} ({} ms)",
                r.pointer("/t").and_then(Value::as_f64).unwrap_or(0.0) - t0,
                s(r, "/error"),
                r.pointer("/latency_ms")
                    .and_then(Value::as_f64)
                    .unwrap_or(0.0)
            )
        })
        .collect();

    // per-endpoint loops: stop and summarize
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = reader.join();
    let _ = probe.kill();
    let _ = probe.wait();
    let collected = std::mem::take(&mut *lines.lock().unwrap());
    let mut per_ep: HashMap<String, (usize, Vec<String>)> = HashMap::new();
    for l in &collected {
        let Ok(v) = serde_json::from_str::<Value>(l) else {
            continue;
        };
        let t = v.pointer("/t").and_then(Value::as_f64).unwrap_or(0.0);
        if t < t0 || t > t_end {
            continue;
        }
        let e = per_ep.entry(s(&v, "/url").to_string()).or_default();
        e.0 += 1;
        if v.pointer("/ok") != Some(&Value::Bool(true)) {
            e.1.push(format!("{:+.1}s {}", t - t0, s(&v, "/error")));
        }
    }

    let after = serve_layout(&serve_details(rig, ns, RS)?).0;
    let workers_after = restart_counts(&pods_of(rig, ns, cluster, "worker")?);
    let replicas_changed = FRUITS.iter().any(|d| before.get(*d) != after.get(*d));
    let workers_restarted = workers_before != workers_after;

    eprintln!(
        "    drill {n}: head {head_name} deleted; recovered in {recovery_s:.1}s; tester: {} requests, {} failed",
        recs.len(),
        failures.len()
    );
    for f in &failures {
        eprintln!("      tester failure {f}");
    }
    let mut eps: Vec<_> = per_ep.into_iter().collect();
    eps.sort();
    for (url, (count, fails)) in &eps {
        let role = if url == urls.last().unwrap() {
            "old head"
        } else {
            "worker"
        };
        eprintln!(
            "      {role} {url}: {count} requests, {} failed{}",
            fails.len(),
            fails
                .first()
                .map(|f| format!(" (first {f}, last {})", fails.last().unwrap()))
                .unwrap_or_default()
        );
    }
    eprintln!(
        "      worker restarts before {workers_before:?} after {workers_after:?}; replicas kept: {}",
        !replicas_changed
    );
    if !replicas_changed {
        eprintln!("      replica actor ids unchanged");
    } else {
        for d in FRUITS {
            eprintln!("      {d}: {:?} -> {:?}", before.get(d), after.get(d));
        }
    }
    Ok(DrillResult {
        requests: recs.len(),
        failures,
        recovery_s,
        workers_restarted,
        replicas_changed,
    })
}
