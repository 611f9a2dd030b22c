// ---------------------------------------------------------------------------------------
// DRAFT: rig part 2 trials for tests/rig.rs (issue 6, acceptance 1-4).
//
// To merge: paste everything below into tests/rig.rs after the part-1 trials (it uses that
// file's Rig, wait_until, s, condition_true, pods_of, pod_is_up, Namespace, patience,
// manifest_dir), and register the trials in main():
//
//     ("rig::ray_serve_ha_ready_and_head_kill_drills", ray_serve_ha_ready_and_head_kill_drills),
//     ("rig::ray_serve_no_gcs_ft_control_drill", ray_serve_no_gcs_ft_control_drill),
//
// Both need real pods (rig/agent: the node agent owns the nodes); on a kwok-only rig they
// fail with a message saying so.  Run the rig trials one at a time (two real Ray clusters at
// once are too much for 2 cores): `cargo test --test rig -- --test-threads 1`.
// ---------------------------------------------------------------------------------------

/// Drills per GCS-FT run (acceptance 3) and the failure budget over all of them.
const FT_DRILLS: usize = 3;
const FT_MAX_TOTAL_FAILURES: usize = 1;

fn rayha_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubectl-rayha"))
}

fn agent_script() -> PathBuf {
    manifest_dir().join("rig/agent/agent")
}

fn unix_now() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

/// The nodes are run by the part-2 node agent (real processes), not by kwok.
fn require_real_pods(rig: &Rig) -> TestResult {
    let nodes = rig.items(&["nodes"])?;
    let real = nodes
        .iter()
        .filter(|n| s(n, "/metadata/annotations/rig.kubectl-rayha~1agent") == "true")
        .count();
    if real < 3 {
        return Err(format!(
            "only {real} of {} nodes are run by the rig's node agent (rig/agent/agent start); \
             the Ray trials need real pods",
            nodes.len()
        )
        .into());
    }
    Ok(())
}

/// `kubectl rayha generate` for the rig's fruit app, as JSON (a v1 List).
fn generate_bundle(ns: &str) -> Result<Value, Failed> {
    let out = Command::new(rayha_bin())
        .args([
            "generate",
            "-n",
            ns,
            "--import-path",
            "rayha_fruit.app:deployment_graph",
            "--working-dir",
            "",
            "--with-tester",
            "-o",
            "json",
        ])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running kubectl-rayha generate: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "kubectl-rayha generate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("generate -o json: bad JSON: {e}").into())
}

fn bundle_items_mut(bundle: &mut Value) -> impl Iterator<Item = &mut Value> {
    bundle
        .pointer_mut("/items")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
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
    for item in bundle_items_mut(bundle) {
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
                if no_ft {
                    if let Some(rc) = item
                        .pointer_mut("/spec/rayClusterConfig")
                        .and_then(Value::as_object_mut)
                    {
                        rc.remove("gcsFaultToleranceOptions");
                    }
                    eprintln!("    bundle: gcsFaultToleranceOptions removed (control)");
                }
                if let Some(c) = item.pointer_mut(
                    "/spec/rayClusterConfig/headGroupSpec/template/spec/containers/0",
                ) {
                    if c.pointer("/lifecycle/preStop").is_none() {
                        c["lifecycle"] =
                            serde_json::json!({"preStop": {"exec": {"command": ["sleep", "5"]}}});
                        eprintln!(
                            "    bundle: head container given preStop `sleep 5` (the generated \
                             bundle has none)"
                        );
                    }
                }
            }
            _ => {}
        }
    }
}

fn apply_json(rig: &Rig, doc: &Value) -> Result<(), Failed> {
    let mut child = rig
        .kubectl_cmd()
        .args(["apply", "--server-side", "--field-manager=rig-test", "-f", "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("kubectl apply: {e}"))?;
    {
        use std::io::Write;
        let mut stdin = child.stdin.take().ok_or("no stdin")?;
        stdin
            .write_all(doc.to_string().as_bytes())
            .map_err(|e| format!("kubectl apply stdin: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("kubectl apply: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "kubectl apply failed: {}",
            String::from_utf8_lossy(&out.stderr)
        )
        .into());
    }
    Ok(())
}

/// Runs rig/agent/agent with args; stdout.
fn agent(args: &[&str]) -> Result<String, String> {
    let out = Command::new("bash")
        .arg(agent_script())
        .args(args)
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("rig/agent/agent: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "rig/agent/agent {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Ready addresses of a Service's EndpointSlices.
fn ready_endpoints(rig: &Rig, ns: &str, svc: &str) -> Result<Vec<String>, String> {
    let mut ips = vec![];
    for sl in rig.items(&[
        "endpointslices",
        "-n",
        ns,
        "-l",
        &format!("kubernetes.io/service-name={svc}"),
    ])? {
        for ep in sl
            .pointer("/endpoints")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default()
        {
            if ep.pointer("/conditions/ready").and_then(Value::as_bool) == Some(true) {
                for a in ep
                    .pointer("/addresses")
                    .and_then(Value::as_array)
                    .cloned()
                    .unwrap_or_default()
                {
                    ips.push(a.as_str().unwrap_or("").to_string());
                }
            }
        }
    }
    ips.sort();
    Ok(ips)
}

/// The Serve REST API of the Ray dashboard, through the API server's service proxy.
fn serve_details(rig: &Rig, ns: &str, rs: &str) -> Result<Value, String> {
    let text = rig.kubectl(&[
        "get",
        "--raw",
        &format!("/api/v1/namespaces/{ns}/services/{rs}-head-svc:dashboard/proxy/api/serve/applications/"),
    ])?;
    serde_json::from_str(&text).map_err(|e| format!("serve API: bad JSON: {e}"))
}

/// deployment name -> [(node_ip, actor_id)] of RUNNING replicas; and proxy node IPs.
fn serve_layout(details: &Value) -> (HashMap<String, Vec<(String, String)>>, Vec<String>) {
    let mut deps = HashMap::new();
    if let Some(apps) = details.pointer("/applications").and_then(Value::as_object) {
        for app in apps.values() {
            if let Some(ds) = app.pointer("/deployments").and_then(Value::as_object) {
                for (name, d) in ds {
                    let mut reps: Vec<(String, String)> = d
                        .pointer("/replicas")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
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

/// Applies the (adjusted) bundle into `ns` and waits for acceptance 1: RayService Ready,
/// serve Service with head + 2 workers, proxies on all three, one replica of each
/// deployment per worker and none on the head.
fn bring_up(rig: &Rig, ns: &str, no_ft: bool) -> Result<RayServiceUp, Failed> {
    let mut bundle = generate_bundle(ns)?;
    adjust_bundle(&mut bundle, no_ft);
    rig.kubectl(&["create", "namespace", ns])?;
    // The tester pod goes in once Serve answers: before that its loop fails as fast as it can
    // (no serve Service yet), which burns CPU and floods its log.
    let is_tester = |v: &Value| s(v, "/kind") == "Pod" && s(v, "/metadata/name").ends_with("-tester");
    let items = bundle["items"].as_array().cloned().unwrap_or_default();
    let (tester, rest): (Vec<Value>, Vec<Value>) = items.into_iter().partition(|v| is_tester(v));
    let t_apply = Instant::now();
    apply_json(rig, &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": rest}))?;
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
        let ready_at = p
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|cs| cs.iter().find(|c| s(c, "/type") == "Ready"))
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
    wait_until(
        "serve Service with the head and both workers as ready endpoints",
        patience(60),
        || Ok((ready_endpoints(rig, ns, &serve_svc)? == all_ips).then_some(())),
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
    apply_json(rig, &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": tester}))?;
    wait_until("tester pod Running", patience(60), || {
        let p = rig.get_json(&["pod", "-n", ns, &format!("{RS}-tester")])?;
        Ok((s(&p, "/status/phase") == "Running").then_some(()))
    })?;
    eprintln!(
        "    RayService Ready {ready_s:.1}s after apply; cluster {cluster}; head {head_ip}; \
         workers {worker_ips:?}; proxies {proxies:?}; serve endpoints {all_ips:?}"
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
    let out = agent(&["exec", ns, &format!("{RS}-tester"), "--", "python", "-c", code])?;
    if out.trim() != "200 12" {
        return Err(format!("POST /fruit/ [\"PEAR\", 12] from the tester pod: {out:?}, want \"200 12\"").into());
    }
    eprintln!("    tester pod: POST /fruit/ [\"PEAR\", 12] -> {}", out.trim());
    Ok(())
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

struct DrillResult {
    requests: usize,
    failures: Vec<String>,
    recovery_s: f64,
    workers_restarted: bool,
    replicas_changed: bool,
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
fn head_kill_drill(rig: &Rig, ns: &str, up: &RayServiceUp, n: usize) -> Result<DrillResult, Failed> {
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
    let mut probe = Command::new("bash")
        .arg(agent_script())
        .args(&probe_args)
        .stdin(Stdio::null())
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

    let t0 = unix_now();
    let t_delete = Instant::now();
    rig.kubectl(&["delete", "pod", "-n", ns, &head_name, "--wait=false"])?;
    let serve_svc = format!("{RS}-serve-svc");
    wait_until("new head Ready, RayService Ready, 3 serve endpoints", patience(200), || {
        let heads = pods_of(rig, ns, cluster, "head")?;
        let new_ok = heads.len() == 1
            && s(&heads[0], "/metadata/uid") != head_uid
            && pod_is_up(rig, &heads[0])?;
        if !new_ok {
            return Ok(None);
        }
        let rs = rig.get_json(&["rayservices.ray.io", "-n", ns, RS])?;
        Ok((condition_true(&rs, "Ready") && ready_endpoints(rig, ns, &serve_svc)?.len() == 3)
            .then_some(()))
    })?;
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
                r.pointer("/latency_ms").and_then(Value::as_f64).unwrap_or(0.0)
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
        let Ok(v) = serde_json::from_str::<Value>(l) else { continue };
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
        let role = if url == urls.last().unwrap() { "old head" } else { "worker" };
        eprintln!("      {role} {url}: {count} requests, {} failed{}", fails.len(),
            fails.first().map(|f| format!(" (first {f}, last {})", fails.last().unwrap())).unwrap_or_default());
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

fn stamp() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Acceptance 1, 2 and 3: generated HA RayService Ready on real Ray; PEAR 12 through the
/// serve Service; three head-kill drills with at most one failed request in total, worker
/// replicas keeping their actor ids and no worker restart.
fn ray_serve_ha_ready_and_head_kill_drills(rig: &Rig) -> TestResult {
    require_real_pods(rig)?;
    let ns = Namespace {
        rig,
        name: format!("rig-ray-ha-{}-{}", std::process::id(), stamp()),
    };
    let up = bring_up(rig, &ns.name, false)?;
    pear_through_service(&ns.name)?;
    let mut total_fail = 0;
    let mut total_req = 0;
    for n in 1..=FT_DRILLS {
        let r = head_kill_drill(rig, &ns.name, &up, n)?;
        total_fail += r.failures.len();
        total_req += r.requests;
        if r.replicas_changed {
            return Err(format!("drill {n}: worker replicas changed (new actors) with GCS FT").into());
        }
        if r.workers_restarted {
            return Err(format!("drill {n}: worker pods restarted with GCS FT").into());
        }
        let _ = r.recovery_s;
    }
    eprintln!("    {FT_DRILLS} drills: {total_req} requests, {total_fail} failed (budget {FT_MAX_TOTAL_FAILURES})");
    if total_fail > FT_MAX_TOTAL_FAILURES {
        return Err(format!("{total_fail} failed requests over {FT_DRILLS} drills, want <= {FT_MAX_TOTAL_FAILURES}").into());
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
    let ns = Namespace {
        rig,
        name: format!("rig-ray-noft-{}-{}", std::process::id(), stamp()),
    };
    let up = bring_up(rig, &ns.name, true)?;
    let r = head_kill_drill(rig, &ns.name, &up, 1)?;
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
