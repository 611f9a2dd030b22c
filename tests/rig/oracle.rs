//! The kubectl-only oracle on real Ray (issue 6, acceptance 1-4): the generated bundle applied
//! with the rig's kubectl, not with `kubectl rayha`, so that these drills check the bundle and the
//! rig independently of the plugin's own apply, status and failover. Pods run as real processes
//! (rig/agent), Ray Serve for real. These need the node agent (rig/rig up starts it unless
//! RAYHA_RIG_REAL_PODS=0) and fail with a message saying so on a kwok-only rig. The binary runs
//! its trials one at a time (main.rs): two real Ray clusters overload 2 cores.

mod drill;
mod kubelet;

use std::collections::HashMap;
use std::time::Instant;

use libtest_mimic::Failed;
use serde_json::Value;

use crate::harness::{
    Check, FRUIT_APP, Namespace, Rig, TestResult, agent, arr, condition_true, generate_json,
    items_mut, patience, pod_is_up, pods_of, ready_endpoints, s, wait_until, without_gcs_ft,
};

pub const TRIALS: &[Check] = &[
    Check {
        name: "oracle::real_pod_logs_and_port_forward",
        run: kubelet::real_pod_logs_and_port_forward,
        real_pods: true,
    },
    Check {
        name: "oracle::ray_serve_ha_ready_and_head_kill_drills",
        run: ray_serve_ha_ready_and_head_kill_drills,
        real_pods: true,
    },
    Check {
        name: "oracle::ray_serve_no_gcs_ft_control_drill",
        run: ray_serve_no_gcs_ft_control_drill,
        real_pods: true,
    },
];

/// Drills per GCS-FT run (acceptance 3) and the failure budget over all of them.
const FT_DRILLS: usize = 3;
const FT_MAX_TOTAL_FAILURES: usize = 1;

/// The nodes are run by the part-2 node agent (real processes), not by kwok.
fn require_real_pods(rig: &Rig) -> TestResult {
    let (real, nodes) = rig.agent_nodes()?;
    if real < 3 {
        return Err(format!(
            "only {real} of {nodes} nodes are run by the rig's node agent (rig/agent/agent start); \
             the Ray trials need real pods"
        )
        .into());
    }
    Ok(())
}

/// `kubectl rayha generate` for the rig's fruit app, as JSON (a v1 List).
fn generate_bundle(ns: &str) -> Result<Value, Failed> {
    let mut args = vec!["-n", ns];
    args.extend(FRUIT_APP);
    args.push("--with-tester");
    Ok(generate_json(&args)?)
}

/// Test-side adjustments of the generated bundle, each printed:
/// - the tester prints one JSON object per request (RAYHA_FORMAT=json) so that the drill
///   can read time and cause of every failure;
/// - `no_ft`: GCS fault tolerance removed (the control drill);
/// - the head container gets a preStop `sleep 5` unless the product already gives it one:
///   without it, the head's `ray start --block` (PID 1, it handles SIGTERM) stops its Serve
///   proxy at once while kube-proxy still sends new connections to it for a moment, so about
///   one request per drill fails through the serve Service (seen on the rig).
fn adjust_bundle(bundle: &mut Value, no_ft: bool) {
    for item in items_mut(bundle) {
        match s(item, "/kind") {
            "Pod" if s(item, "/metadata/name").ends_with("-tester") => {
                if let Some(env) = item
                    .pointer_mut("/spec/containers/0/env")
                    .and_then(Value::as_array_mut)
                {
                    env.push(serde_json::json!({"name": "RAYHA_FORMAT", "value": "json"}));
                }
            }
            "RayService" => {
                // Not a test-side change: the product sets it (README, "generate"); printed so a
                // drill's log shows the head it killed had it.
                let timeout = item
                    .pointer("/spec/rayClusterConfig/headGroupSpec/template/spec/containers/0/env")
                    .and_then(Value::as_array)
                    .and_then(|env| {
                        env.iter().find(|e| {
                            s(e, "/name") == "RAY_DASHBOARD_SUBPROCESS_MODULE_WAIT_READY_TIMEOUT"
                        })
                    })
                    .map(|e| s(e, "/value").to_string());
                eprintln!("    bundle (as generated): head dashboard module timeout {timeout:?}");
                if no_ft {
                    without_gcs_ft(item);
                    eprintln!("    bundle: gcsFaultToleranceOptions removed (control)");
                }
                if let Some(c) = item
                    .pointer_mut("/spec/rayClusterConfig/headGroupSpec/template/spec/containers/0")
                    && c.pointer("/lifecycle/preStop").is_none()
                {
                    c["lifecycle"] =
                        serde_json::json!({"preStop": {"exec": {"command": ["sleep", "5"]}}});
                    eprintln!(
                        "    bundle: head container given preStop `sleep 5` (the generated \
                             bundle has none)"
                    );
                }
            }
            _ => {}
        }
    }
}

/// The Serve REST API of the Ray dashboard, through the API server's service proxy.
fn serve_details(rig: &Rig, ns: &str, rs: &str) -> Result<Value, String> {
    let text = rig.kubectl(&[
        "get",
        "--raw",
        &format!(
            "/api/v1/namespaces/{ns}/services/{rs}-head-svc:dashboard/proxy/api/serve/applications/"
        ),
    ])?;
    serde_json::from_str(&text).map_err(|e| format!("serve API: bad JSON: {e}"))
}

/// deployment name -> [(node_ip, actor_id)] of RUNNING replicas; and proxy node IPs.
/// deployment name -> [(node_ip, actor_id)] of its RUNNING replicas.
type Replicas = HashMap<String, Vec<(String, String)>>;

fn serve_layout(details: &Value) -> (Replicas, Vec<String>) {
    let mut deps = HashMap::new();
    if let Some(apps) = details.pointer("/applications").and_then(Value::as_object) {
        for app in apps.values() {
            if let Some(ds) = app.pointer("/deployments").and_then(Value::as_object) {
                for (name, d) in ds {
                    let mut reps: Vec<(String, String)> = arr(d, "/replicas")
                        .iter()
                        .filter(|r| s(r, "/state") == "RUNNING")
                        .map(|r| (s(r, "/node_ip").to_string(), s(r, "/actor_id").to_string()))
                        .collect();
                    reps.sort();
                    deps.insert(name.clone(), reps);
                }
            }
        }
    }
    let mut proxies: Vec<String> = details
        .pointer("/proxies")
        .and_then(Value::as_object)
        .map(|ps| {
            ps.values()
                .filter(|p| s(p, "/status") == "HEALTHY")
                .map(|p| s(p, "/node_ip").to_string())
                .collect()
        })
        .unwrap_or_default();
    proxies.sort();
    (deps, proxies)
}

struct RayServiceUp {
    cluster: String,
    head: Value,
    workers: Vec<Value>,
}

const RS: &str = "rayservice-ha";
const FRUITS: [&str; 4] = ["MangoStand", "OrangeStand", "PearStand", "FruitMarket"];

/// Applies the (adjusted) bundle into the (created) namespace `ns` and waits for acceptance 1:
/// RayService Ready, serve Service with the 2 workers (and the head unless the RayService excludes
/// it), proxies on all three, one replica of
/// each deployment per worker and none on the head.
fn bring_up(rig: &Rig, ns: &str, no_ft: bool) -> Result<RayServiceUp, Failed> {
    let mut bundle = generate_bundle(ns)?;
    adjust_bundle(&mut bundle, no_ft);
    // The tester pod goes in once Serve answers: before that its loop fails as fast as it can
    // (no serve Service yet), which burns CPU and floods its log.
    let is_tester =
        |v: &Value| s(v, "/kind") == "Pod" && s(v, "/metadata/name").ends_with("-tester");
    let items = bundle["items"].as_array().cloned().unwrap_or_default();
    let (tester, rest): (Vec<Value>, Vec<Value>) = items.into_iter().partition(|v| is_tester(v));
    let t_apply = Instant::now();
    rig.apply_json(&serde_json::json!({"apiVersion": "v1", "kind": "List", "items": rest}))?;
    wait_until("RayService Ready", patience(100), || {
        let rs = rig.get_json(&["rayservices.ray.io", "-n", ns, RS])?;
        Ok(condition_true(&rs, "Ready").then_some(()))
    })?;
    let ready_s = t_apply.elapsed().as_secs_f64();
    let rs = rig.get_json(&["rayservices.ray.io", "-n", ns, RS])?;
    let cluster = s(&rs, "/status/activeServiceStatus/rayClusterName").to_string();
    let heads = pods_of(rig, ns, &cluster, "head")?;
    let workers = pods_of(rig, ns, &cluster, "worker")?;
    if heads.len() != 1 || workers.len() != 2 {
        return Err(format!(
            "cluster {cluster}: {} head and {} worker pods, want 1 and 2",
            heads.len(),
            workers.len()
        )
        .into());
    }
    let head = heads[0].clone();
    let head_ip = s(&head, "/status/podIP").to_string();
    let mut worker_ips: Vec<String> = workers
        .iter()
        .map(|w| s(w, "/status/podIP").to_string())
        .collect();
    worker_ips.sort();
    let mut all_ips = worker_ips.clone();
    all_ips.push(head_ip.clone());
    all_ips.sort();
    // every pod Running and Ready (the RayService can be Ready a moment before a worker is)
    let pods = wait_until("head and workers Ready", patience(60), || {
        let mut pods = pods_of(rig, ns, &cluster, "head")?;
        pods.extend(pods_of(rig, ns, &cluster, "worker")?);
        for p in &pods {
            if !pod_is_up(rig, p)? {
                return Ok(None);
            }
        }
        Ok(Some(pods))
    })?;
    // pod start to Ready, per pod (creation -> Ready condition)
    for p in &pods {
        let ready_at = arr(p, "/status/conditions")
            .iter()
            .find(|c| s(c, "/type") == "Ready")
            .map(|c| s(c, "/lastTransitionTime").to_string())
            .unwrap_or_default();
        eprintln!(
            "    pod {} created {} Ready {}",
            s(p, "/metadata/name"),
            s(p, "/metadata/creationTimestamp"),
            ready_at
        );
    }
    let serve_svc = format!("{RS}-serve-svc");
    // The bundle keeps the head out of the serve Service (its proxy dies with its GCS); the
    // guide's manifest has it in.
    let head_excluded = rs.pointer("/spec/excludeHeadPodFromServeSvc") == Some(&Value::Bool(true));
    let serve_ips = if head_excluded {
        worker_ips.clone()
    } else {
        all_ips.clone()
    };
    wait_until(
        "serve Service with its ready endpoints (the workers, and the head unless excluded)",
        patience(60),
        || Ok((ready_endpoints(rig, ns, &serve_svc)? == serve_ips).then_some(())),
    )?;
    let (deps, proxies) = wait_until(
        "Serve: proxies on 3 nodes, each deployment on both workers",
        patience(60),
        || {
            let (deps, proxies) = serve_layout(&serve_details(rig, ns, RS)?);
            let ok = proxies == all_ips
                && FRUITS.iter().all(|d| {
                    deps.get(*d).is_some_and(|r| {
                        let mut ips: Vec<String> = r.iter().map(|x| x.0.clone()).collect();
                        ips.sort();
                        ips == worker_ips
                    })
                });
            Ok(ok.then_some((deps, proxies)))
        },
    )?;
    for d in FRUITS {
        if deps[d].iter().any(|(ip, _)| *ip == head_ip) {
            return Err(format!("deployment {d} has a replica on the head").into());
        }
    }
    rig.apply_json(&serde_json::json!({"apiVersion": "v1", "kind": "List", "items": tester}))?;
    wait_until("tester pod Running", patience(60), || {
        let p = rig.get_json(&["pod", "-n", ns, &format!("{RS}-tester")])?;
        Ok((s(&p, "/status/phase") == "Running").then_some(()))
    })?;
    eprintln!(
        "    RayService Ready {ready_s:.1}s after apply; cluster {cluster}; head {head_ip}; \
         workers {worker_ips:?}; proxies {proxies:?}; serve endpoints {serve_ips:?}"
    );
    Ok(RayServiceUp {
        cluster,
        head,
        workers,
    })
}

/// Acceptance 2: POST ["PEAR", 12] from inside the tester pod through the serve Service.
fn pear_through_service(ns: &str) -> TestResult {
    let code = "import http.client,sys; c=http.client.HTTPConnection('rayservice-ha-serve-svc',8000,timeout=10); \
                c.request('POST','/fruit/',body=b'[\"PEAR\", 12]'); r=c.getresponse(); \
                print(r.status, r.read().decode().strip())";
    let out = agent(&[
        "exec",
        ns,
        &format!("{RS}-tester"),
        "--",
        "python",
        "-c",
        code,
    ])?;
    if out.trim() != "200 12" {
        return Err(format!(
            "POST /fruit/ [\"PEAR\", 12] from the tester pod: {out:?}, want \"200 12\""
        )
        .into());
    }
    eprintln!(
        "    tester pod: POST /fruit/ [\"PEAR\", 12] -> {}",
        out.trim()
    );
    Ok(())
}

/// Acceptance 1, 2 and 3: generated HA RayService Ready on real Ray; PEAR 12 through the
/// serve Service; three head-kill drills with at most one failed request in total, worker
/// replicas keeping their actor ids and no worker restart.
fn ray_serve_ha_ready_and_head_kill_drills(rig: &Rig) -> TestResult {
    require_real_pods(rig)?;
    let ns = Namespace::create(rig, "rig-ray-ha")?;
    let up = bring_up(rig, &ns.name, false)?;
    pear_through_service(&ns.name)?;
    let mut total_fail = 0;
    let mut total_req = 0;
    for n in 1..=FT_DRILLS {
        let r = drill::head_kill_drill(rig, &ns.name, &up, n)?;
        if r.requests == 0 {
            return Err(format!(
                "drill {n}: no request of the tester's loop was seen (the loop did not run, or its log was not read)"
            )
            .into());
        }
        total_fail += r.failures.len();
        total_req += r.requests;
        if r.replicas_changed {
            return Err(
                format!("drill {n}: worker replicas changed (new actors) with GCS FT").into(),
            );
        }
        if r.workers_restarted {
            return Err(format!("drill {n}: worker pods restarted with GCS FT").into());
        }
        let _ = r.recovery_s;
    }
    eprintln!(
        "    {FT_DRILLS} drills: {total_req} requests, {total_fail} failed (budget {FT_MAX_TOTAL_FAILURES})"
    );
    if total_fail > FT_MAX_TOTAL_FAILURES {
        return Err(format!(
            "{total_fail} failed requests over {FT_DRILLS} drills, want <= {FT_MAX_TOTAL_FAILURES}"
        )
        .into());
    }
    pear_through_service(&ns.name)?;
    let _ = (&up.head, &up.workers);
    ns.delete_and_wait()
}

/// Acceptance 4: the same drill without GCS FT shows the difference (worker raylets die
/// when the new head's empty GCS comes up: the worker pods restart and the app is
/// redeployed with new replicas, and requests fail meanwhile).
fn ray_serve_no_gcs_ft_control_drill(rig: &Rig) -> TestResult {
    require_real_pods(rig)?;
    let ns = Namespace::create(rig, "rig-ray-noft")?;
    let up = bring_up(rig, &ns.name, true)?;
    let r = drill::head_kill_drill(rig, &ns.name, &up, 1)?;
    if r.requests == 0 {
        return Err("no request of the tester's loop was seen during the control drill".into());
    }
    if !(r.workers_restarted || r.replicas_changed) {
        return Err(format!(
            "without GCS FT the head kill changed nothing ({} failures, workers kept, replicas kept): \
             the rig cannot show the difference",
            r.failures.len()
        )
        .into());
    }
    eprintln!(
        "    control without GCS FT: workers restarted {}, replicas replaced {}, {} of {} requests failed",
        r.workers_restarted,
        r.replicas_changed,
        r.failures.len(),
        r.requests
    );
    ns.delete_and_wait()
}
