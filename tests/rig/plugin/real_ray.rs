//! The plugin's trials on real Ray (the rig's node agent): apply to Ready and status, failover
//! drills with and without GCS fault tolerance, and query by every route.

use std::process::Command;
use std::time::{Duration, Instant};

use libtest_mimic::Failed;
use serde_json::Value;

use super::{REQUEST_TIMEOUT, text};
use crate::harness::{
    FRUIT_APP, Namespace, Rig, TestResult, ensure, generate_json, head_diagnostics, items_mut,
    without_gcs_ft,
};

/// Waits until `rayservice-ha` in `ns` is Ready again (after a drill or a change).
pub(super) fn wait_ready(rig: &Rig, ns: &str, within: Duration) -> TestResult {
    let deadline = Instant::now() + within;
    loop {
        let out = rig.rayha(&["status", "rayservice-ha", "-n", ns, "-o", "json"], None);
        if let Ok(v) = serde_json::from_slice::<Value>(&out.stdout)
            && v["healthy"] == true
        {
            return Ok(());
        }
        ensure(
            Instant::now() < deadline,
            format!("rayservice-ha in {ns} not healthy within {within:?}"),
        )?;
        std::thread::sleep(Duration::from_secs(2));
    }
}

/// Applies the generated HA bundle with the rig's fruit app in a fresh namespace and waits for
/// Ready, checking the progress lines; then `status` passes every check in at most 10 API requests.
fn ready_rayservice<'a>(rig: &'a Rig, prefix: &str) -> Result<Namespace<'a>, Failed> {
    ready_rayservice_with(rig, prefix, &[])
}

/// [`ready_rayservice`] with more bundle parameters (`--ray-version X`).
pub(super) fn ready_rayservice_with<'a>(
    rig: &'a Rig,
    prefix: &str,
    params: &[&str],
) -> Result<Namespace<'a>, Failed> {
    let ns = Namespace::create(rig, prefix)?;
    {
        let n = ns.name.as_str();
        let t0 = Instant::now();
        let mut apply = vec!["apply", "-n", n];
        apply.extend(FRUIT_APP);
        apply.extend(params);
        apply.extend(["--timeout", "10m"]);
        let out = rig.rayha(&apply, None);
        let (_, stderr) = text(&out);
        ensure(out.status.success(), format!("apply: {stderr}"))?;
        for step in [
            "RayCluster created",
            "head pod Ready",
            "worker pods Ready",
            "Serve applications RUNNING",
            "RayService Ready",
        ] {
            ensure(
                stderr.contains(step),
                format!("no progress line {step:?}: {stderr}"),
            )?;
        }
        println!("apply to Ready: {:.0} s", t0.elapsed().as_secs_f64());

        // status: every check passes, in at most 10 API requests. KubeRay calls the RayService
        // Ready once its apps run; a worker's pod may pass its readiness probe (and join the
        // serve Service) some seconds later, so status is asked again for up to a minute.
        let settle = Instant::now() + Duration::from_secs(60);
        let (out, took, stdout, stderr) = loop {
            let t = Instant::now();
            let out = rig
                .rayha_cmd(&["status", "rayservice-ha", "-n", n, "-o", "json"], None)
                .env("RAYHA_API_COUNT", "1")
                .output()
                .unwrap();
            let took = t.elapsed();
            let (stdout, stderr) = text(&out);
            if out.status.success() || Instant::now() > settle {
                break (out, took, stdout, stderr);
            }
            std::thread::sleep(Duration::from_secs(2));
        };
        let status: Value =
            serde_json::from_str(&stdout).map_err(|e| format!("status -o json: {e}: {stdout}"))?;
        let failing: Vec<&Value> = status["checks"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|c| c["level"] != "PASS")
            .collect();
        ensure(
            out.status.success() && failing.is_empty(),
            format!("status not all PASS: {failing:?}"),
        )?;
        let count: usize = stderr
            .lines()
            .find_map(|l| l.strip_prefix("api requests: "))
            .and_then(|c| c.trim().parse().ok())
            .unwrap_or(usize::MAX);
        ensure(count <= 10, format!("status sent {count} API requests"))?;
        println!(
            "status: {count} API requests in {:.3} s",
            took.as_secs_f64()
        );
        ensure(
            took < Duration::from_secs(2),
            format!("status took {took:?}"),
        )?;
    }
    Ok(ns)
}

/// On real Ray (the rig's node agent): apply waits to Ready with progress, status passes every
/// check within 10 API requests; two in-place Serve config rehearsals keep every replica, `apply
/// --load` measures an in-place update and sees no change the second time, and an upgrade
/// rehearsal without room is refused (change.rs); with one replica of a deployment the
/// placement check fails (exit 1). Then a deletion held by KubeRay's Redis cleanup (Redis
/// deleted first) is explained by `delete` and `status` (cleanup.rs).
pub(super) fn real_ray_apply_status(rig: &Rig) -> TestResult {
    let ns = ready_rayservice(rig, "rayha-status")?;
    let n = ns.name.as_str();
    super::change::serve_config_rehearsal(rig, n)?;
    super::change::apply_under_load_in_place(rig, n)?;
    super::change::upgrade_without_room_is_refused(rig, n)?;
    // One replica of one deployment: the placement check fails and status exits non-zero.
    let config = rig.kubectl(&[
        "get",
        "rayservices.ray.io",
        "rayservice-ha",
        "-n",
        n,
        "-o",
        "jsonpath={.spec.serveConfigV2}",
    ])?;
    let lowered = config.replacen("num_replicas: 2", "num_replicas: 1", 1);
    ensure(lowered != config, "no num_replicas: 2 in the serve config")?;
    let patch = serde_json::json!({"spec": {"serveConfigV2": lowered}}).to_string();
    rig.kubectl(&[
        "patch",
        "rayservices.ray.io",
        "rayservice-ha",
        "-n",
        n,
        "--type=merge",
        "-p",
        &patch,
    ])?;
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let out = rig.rayha(&["status", "rayservice-ha", "-n", n, "-o", "json"], None);
        let v: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
        let placement = v["checks"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["id"] == "replica-placement").cloned());
        if let Some(p) = placement.filter(|p| {
            p["level"] == "FAIL"
                && p["message"]
                    .as_str()
                    .is_some_and(|m| m.contains("1 running replica"))
        }) {
            ensure(
                out.status.code() == Some(1),
                "status exit 0 with a failing check",
            )?;
            println!("one replica: {}", p["message"]);
            break;
        }
        ensure(
            Instant::now() < deadline,
            format!("placement never failed with one replica: {v}"),
        )?;
        std::thread::sleep(Duration::from_secs(2));
    }
    super::cleanup::stuck_cleanup_is_explained(rig, n)
}

/// Issue 14: the bundle's Redis keeps /data on a claim the rig's provisioner binds, so losing
/// the Redis pod loses nothing: the GCS exits (Ray's GCS cannot ride out a dropped Redis
/// connection) and reads Ray's state back; no request fails on either route (the head is out of
/// the serve Service), no worker restarts, the Serve controller and every replica keep their ids.
fn redis_loss_keeps_ray_state(rig: &Rig, n: &str) -> TestResult {
    let claim = rig.kubectl(&[
        "get",
        "pvc",
        "rayservice-ha-redis-data",
        "-n",
        n,
        "-o",
        "jsonpath={.status.phase} {.spec.storageClassName}",
    ])?;
    ensure(
        claim.trim() == "Bound rig-block",
        format!("Redis claim: {claim}"),
    )?;
    let r = super::passing_failover(
        rig,
        n,
        &[
            "--target",
            "redis",
            "--via",
            "proxy,pod",
            "--max-failures",
            "0",
            REQUEST_TIMEOUT,
        ],
    )?;
    let round = &r["rounds"][0];
    let gcs = &round["gcs"];
    println!(
        "redis round: {} of {} failed, recovery {} s, gcs {gcs}",
        r["total_failures"], r["total_requests"], round["recovery_s"]
    );
    ensure(
        gcs["redis_data"] == "persistentVolumeClaim rayservice-ha-redis-data",
        format!("Redis data: {gcs}"),
    )?;
    ensure(gcs["state_kept"] == true, format!("state not kept: {gcs}"))?;
    ensure(
        round["survival"]["serve_controller_before"].is_string()
            && round["survival"]["serve_controller_before"]
                == round["survival"]["serve_controller_after"],
        format!("Serve controller: {}", round["survival"]),
    )?;
    ensure(
        round["routes"].as_array().map_or(0, Vec::len) == 2,
        "not both routes",
    )
}

/// On real Ray: `failover --rounds 3` passes with workers and replica actors kept, a second drill
/// is refused naming the holder, and Ctrl-C ends a drill with exit 130 and the lock released.
pub(super) fn real_ray_failover(rig: &Rig) -> TestResult {
    let ns = ready_rayservice(rig, "rayha-drill")?;
    let n = ns.name.as_str();
    // The drill, three times, each request bounded by REQUEST_TIMEOUT.
    let report = std::env::temp_dir().join(format!("rayha-drill-{}.json", std::process::id()));
    let out = rig.rayha(
        &[
            "failover",
            "rayservice-ha",
            "-n",
            n,
            "-y",
            REQUEST_TIMEOUT,
            "--rounds",
            "3",
            "--max-failures",
            "1",
            "--report",
            report.to_str().unwrap(),
        ],
        None,
    );
    let (stdout, stderr) = text(&out);
    println!("{stdout}");
    let r: Value = serde_json::from_str(
        &std::fs::read_to_string(&report).map_err(|e| format!("no report: {e}: {stderr}"))?,
    )
    .map_err(|e| e.to_string())?;
    let _ = std::fs::remove_file(&report);
    // Printed before the verdict is judged: a failed drill's stalls are the ones worth reading.
    super::print_stalls(&r);
    if out.status.code() != Some(0) {
        return Err(format!(
            "failover exit {:?}: {:?}\n{}",
            out.status.code(),
            r["reasons"],
            head_diagnostics(rig, n)
        )
        .into());
    }
    ensure(
        r["total_failures"].as_u64().unwrap_or(99) <= 1,
        "more than one failed request",
    )?;
    for round in r["rounds"].as_array().unwrap() {
        let events: Vec<(f64, String)> = round["timeline"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["t_s"].as_f64().unwrap(),
                    e["event"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        ensure(
            events.windows(2).all(|w| w[0].0 <= w[1].0),
            format!("timeline out of order: {events:?}"),
        )?;
        let pos = |needle: &str| events.iter().position(|(_, e)| e.contains(needle));
        let order = [
            pos("deleted head pod"),
            pos("terminating"),
            pos("gone"),
            pos("created"),
            pos("Ready"),
            pos("fully recovered"),
        ];
        ensure(
            order.iter().all(Option::is_some),
            format!("timeline incomplete: {events:?}"),
        )?;
        ensure(
            order.windows(2).all(|w| w[0] <= w[1]),
            format!("timeline in the wrong order: {events:?}"),
        )?;
        ensure(round["recovery_s"].is_number(), "no recovery seconds")?;
        ensure(
            round["survival"]["workers_restarted_or_replaced"]
                .as_array()
                .unwrap()
                .is_empty(),
            "a worker restarted",
        )?;
        ensure(
            round["survival"]["replicas_unchanged"] == true,
            "replica actor ids changed",
        )?;
    }
    wait_ready(rig, n, Duration::from_secs(300))?;
    redis_loss_keeps_ray_state(rig, n)?;
    wait_ready(rig, n, Duration::from_secs(300))?;

    // Two drills at once: the second is refused and names the holder; Ctrl-C ends the first.
    let lease = "rayservice-ha-rayha-failover";
    let mut first = rig.spawn_rayha(&[
        "failover",
        "rayservice-ha",
        "-n",
        n,
        "-y",
        "--warmup",
        "60s",
    ]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while rig
        .kubectl(&["get", "lease", lease, "-n", n, "-o", "name"])
        .is_err()
    {
        ensure(
            Instant::now() < deadline,
            "the first drill never took the lock",
        )?;
        std::thread::sleep(Duration::from_millis(200));
    }
    let out = rig.rayha(&["failover", "rayservice-ha", "-n", n, "-y"], None);
    let (_, stderr) = text(&out);
    ensure(
        out.status.code() == Some(1) && stderr.contains("held by"),
        format!("second drill not refused: {stderr}"),
    )?;
    std::thread::sleep(Duration::from_secs(3));
    let pods_before = rig.kubectl(&["get", "pods", "-n", n, "-o", "name"])?;
    // Ctrl-C for our own child, by its pid.
    Command::new("kill")
        .args(["-INT", &first.0.id().to_string()])
        .status()
        .map_err(|e| e.to_string())?;
    let code = first.0.wait().map_err(|e| e.to_string())?.code();
    let mut partial = String::new();
    use std::io::Read;
    first
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut partial)
        .ok();
    ensure(code == Some(130), format!("Ctrl-C exit {code:?}"))?;
    ensure(
        partial.contains("verdict: FAIL") && partial.contains("interrupted"),
        format!("no partial report: {partial}"),
    )?;
    ensure(
        rig.kubectl(&["get", "lease", lease, "-n", n, "-o", "name"])
            .is_err(),
        "lock not released",
    )?;
    ensure(
        rig.kubectl(&["get", "pods", "-n", n, "-o", "name"])? == pods_before,
        "pods changed after Ctrl-C during warm-up",
    )?;

    // Ctrl-C in the later phases: following the recovery, and between rounds.
    super::signals::failover_phases(rig, n, &|| wait_ready(rig, n, Duration::from_secs(300)))
}

/// On real Ray without GCS fault tolerance: failover refuses and explains; with --force the drill
/// runs, the report shows the cost (failures, or workers restarted / replicas replaced) and the
/// verdict fails under --max-failures 0.
pub(super) fn real_ray_failover_without_gcs_ft(rig: &Rig) -> TestResult {
    let ns = Namespace::create(rig, "rayha-noft")?;
    let n = ns.name.as_str();
    let mut generate = vec!["-n", n];
    generate.extend(FRUIT_APP);
    let mut list = generate_json(&generate)?;
    for o in items_mut(&mut list) {
        if o["kind"] == "RayService" {
            without_gcs_ft(o);
        }
    }
    let out = rig.rayha_stdin(
        &["apply", "-n", n, "-f", "-", "--timeout", "10m"],
        None,
        Some(&list.to_string()),
    );
    ensure(out.status.success(), format!("apply: {}", text(&out).1))?;
    let out = rig.rayha(&["failover", "rayservice-ha", "-n", n, "-y"], None);
    let (_, stderr) = text(&out);
    ensure(
        out.status.code() == Some(1)
            && stderr.contains("without GCS fault tolerance")
            && stderr.contains("--force"),
        format!("not refused: {stderr}"),
    )?;
    println!("refused: {}", stderr.trim());
    let out = rig.rayha(
        &[
            "failover",
            "rayservice-ha",
            "-n",
            n,
            "-y",
            "--force",
            "--max-failures",
            "0",
            "--recovery-timeout",
            "6m",
            "-o",
            "json",
        ],
        None,
    );
    let (stdout, stderr) = text(&out);
    let r: Value = serde_json::from_str(&stdout).map_err(|e| format!("report: {e}: {stderr}"))?;
    let round = &r["rounds"][0];
    let cost_seen = r["total_failures"].as_u64().unwrap_or(0) > 0
        || !round["survival"]["workers_restarted_or_replaced"]
            .as_array()
            .is_none_or(|w| w.is_empty())
        || round["survival"]["replicas_unchanged"] == false;
    ensure(
        cost_seen,
        format!("no difference observed without GCS FT: {r}"),
    )?;
    ensure(
        out.status.code() == Some(1) && r["passed"] == false,
        format!("verdict passed without GCS FT: {:?}", r["reasons"]),
    )?;
    println!(
        "without GCS FT: failures {}, reasons {}",
        r["total_failures"], r["reasons"]
    );
    Ok(())
}

/// On real Ray: `query` by each route (proxy, pod, port-forward) answers the guide's request
/// (`12`, checked on every reply) 500 times without a failure and reports counts and
/// percentiles; Ctrl-C during `--via pod` exits 130, prints the summary and leaves no tester pod.
pub(super) fn real_ray_query_routes(rig: &Rig) -> TestResult {
    // On a --redis-tls bundle (issue 14): the routes do not care, and this trial proves TLS.
    let ns = ready_rayservice_with(rig, "q-routes", &["--redis-tls"])?;
    let n = ns.name.as_str();
    redis_speaks_tls_only(rig, n)?;
    let selector = "app.kubernetes.io/component=query,app.kubernetes.io/instance=rayservice-ha";
    // What a `--via pod` query leaves behind (its tester pod and ConfigMap): nothing, once it ended.
    let leftovers = |when: &str, problems: &mut Vec<String>| -> Result<(), String> {
        let left = rig.kubectl(&[
            "get",
            "pods,configmaps",
            "-n",
            n,
            "-l",
            selector,
            "-o",
            "name",
        ])?;
        if !left.trim().is_empty() {
            problems.push(format!("{when} left {left}"));
        }
        Ok(())
    };
    // `--via pod` follows the tester's log and `--via port-forward` needs the kubelet API, which
    // the rig serves through kwok's server (rig/agent/README.md).
    let mut problems = Vec::new();
    for via in ["proxy", "pod", "port-forward"] {
        let t = Instant::now();
        let out = rig.rayha(
            &[
                "query",
                "rayservice-ha",
                "-n",
                n,
                "--via",
                via,
                "--count",
                "500",
                "-o",
                "json",
            ],
            None,
        );
        let (stdout, stderr) = text(&out);
        let r: Value = match serde_json::from_str(&stdout) {
            Ok(r) => r,
            Err(_) => {
                problems.push(format!(
                    "--via {via}: exit {:?}, no report: {}",
                    out.status.code(),
                    stderr.trim()
                ));
                continue;
            }
        };
        let s = &r["summary"];
        let p = |q: &str| s["latency_ms"][q].as_f64().unwrap_or(-1.0);
        println!(
            "--via {via}: {} requests, {} failures, p50 {:.2} ms, p99 {:.2} ms, connection {}, {:.1} s",
            s["requests"],
            s["failures"],
            p("p50"),
            p("p99"),
            r["setup"]["connection"],
            t.elapsed().as_secs_f64()
        );
        let checks = [
            (out.status.code() == Some(0), "exit 0"),
            (r["setup"]["route"] == via, "the route named in the report"),
            (
                r["setup"]["expect_body"] == "12",
                "every reply checked for 12",
            ),
            (s["requests"] == 500, "500 requests"),
            (s["successes"] == 500, "500 answers of 12"),
            (s["failures"] == 0, "0 failures"),
            (
                0.0 < p("p50") && p("p50") <= p("p99") && p("p99") <= p("max"),
                "percentiles",
            ),
            (r["interrupted"] == false, "not interrupted"),
        ];
        for (ok, what) in checks {
            if !ok {
                problems.push(format!("--via {via}: not {what}: {stdout} {stderr}"));
            }
        }
        match via {
            "pod" => {
                if r["setup"]["connection"] != "fresh" {
                    problems.push(format!(
                        "--via pod: connection {}",
                        r["setup"]["connection"]
                    ));
                }
                leftovers("--via pod", &mut problems)?;
            }
            "port-forward" => {
                let pod = r["setup"]["pod"].as_str().unwrap_or("");
                let role = rig
                    .kubectl(&[
                        "get",
                        "pod",
                        pod,
                        "-n",
                        n,
                        "-o",
                        "jsonpath={.metadata.labels.ray\\.io/node-type}",
                    ])
                    .unwrap_or_default();
                if role != "worker" {
                    problems.push(format!(
                        "--via port-forward went to {pod:?} ({role:?}), not a worker"
                    ));
                }
            }
            _ => {}
        }
    }

    // Ctrl-C during --via pod, long before its --count is reached: exit 130.
    let mut child = rig.spawn_rayha(&[
        "query",
        "rayservice-ha",
        "-n",
        n,
        "--via",
        "pod",
        "--count",
        "1000000",
    ]);
    let deadline = Instant::now() + Duration::from_secs(300);
    loop {
        let phases = rig.kubectl(&[
            "get",
            "pods",
            "-n",
            n,
            "-l",
            selector,
            "-o",
            "jsonpath={.items[*].status.phase}",
        ])?;
        if phases.trim() == "Running" {
            break;
        }
        if let Ok(Some(status)) = child.0.try_wait() {
            let mut err = String::new();
            use std::io::Read;
            child.0.stderr.take().unwrap().read_to_string(&mut err).ok();
            problems.push(format!(
                "--via pod ended before Ctrl-C ({status}): {}",
                err.trim()
            ));
            return Err(problems.join("\n").into());
        }
        ensure(
            Instant::now() < deadline,
            format!("{problems:?} and the Ctrl-C tester pod never ran"),
        )?;
        std::thread::sleep(Duration::from_millis(250));
    }
    std::thread::sleep(Duration::from_secs(5));
    Command::new("kill")
        .args(["-INT", &child.0.id().to_string()])
        .status()
        .map_err(|e| e.to_string())?;
    let code = child.0.wait().map_err(|e| e.to_string())?.code();
    let (mut stdout, mut stderr) = (String::new(), String::new());
    use std::io::Read;
    child
        .0
        .stdout
        .take()
        .unwrap()
        .read_to_string(&mut stdout)
        .ok();
    child
        .0
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .ok();
    let requests: u64 = stdout
        .lines()
        .find_map(|l| l.strip_prefix("requests "))
        .and_then(|l| l.split(',').next())
        .and_then(|c| c.trim().parse().ok())
        .unwrap_or(0);
    println!("Ctrl-C during --via pod: exit {code:?}, {requests} request(s) in the summary");
    if code != Some(130) {
        problems.push(format!("Ctrl-C: exit {code:?}: {stderr}"));
    }
    if requests == 0 || !stdout.contains("interrupted") || !stdout.contains("latency ms") {
        problems.push(format!(
            "Ctrl-C: no summary of what was received: {stdout} {stderr}"
        ));
    }
    leftovers("Ctrl-C", &mut problems)?;
    ensure(problems.is_empty(), problems.join("\n"))?;
    tls_bundle_deletes_its_redis_keys(rig, n)
}

/// `status` says the head reaches Redis over TLS (every check already passed on the way up),
/// and Redis itself refuses a plain-text client while it answers one with TLS and the CA.
fn redis_speaks_tls_only(rig: &Rig, n: &str) -> TestResult {
    let tls = super::status_check(rig, n, "redis-tls")?;
    ensure(
        tls["level"] == "PASS"
            && tls["message"]
                .as_str()
                .is_some_and(|m| m.starts_with("encrypted") && m.contains("TLS only")),
        format!("status redis-tls: {tls}"),
    )?;
    let pod = rig.kubectl(&[
        "get",
        "pods",
        "-n",
        n,
        "-l",
        "app.kubernetes.io/name=redis",
        "-o",
        "jsonpath={.items[0].metadata.name}",
    ])?;
    let ping = |tls: &[&str]| -> String {
        let mut args = vec!["exec", n, pod.trim(), "--", "redis-cli"];
        args.extend(tls);
        args.extend(["-p", "6379", "ping"]);
        let out = crate::harness::agent_cmd(&args).output();
        out.map(|o| {
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            )
        })
        .unwrap_or_else(|e| e.to_string())
    };
    let plain = ping(&[]);
    let with_tls = ping(&["--tls", "--cacert", "/etc/redis-tls/ca.crt"]);
    println!(
        "redis-tls: {}; plain text: {:?}; TLS: {:?}",
        tls["message"],
        plain.trim(),
        with_tls.trim()
    );
    ensure(
        !plain.contains("PONG") && with_tls.contains("PONG"),
        format!("plain text {plain:?}, TLS {with_tls:?}"),
    )
}

/// KubeRay's Redis cleanup Job is made from the head's container, CA and rediss:// included:
/// `delete` reports that it removed the GCS keys.
fn tls_bundle_deletes_its_redis_keys(rig: &Rig, n: &str) -> TestResult {
    let out = rig.rayha(
        &["delete", "rayservice-ha", "-n", n, "-y", "--timeout", "5m"],
        None,
    );
    let (stdout, stderr) = text(&out);
    println!("{}", stdout.trim());
    ensure(
        out.status.success() && stdout.contains("cleanup job deleted its GCS keys from Redis"),
        format!("delete of the TLS bundle: {stdout} {stderr}"),
    )
}
