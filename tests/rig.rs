//! Integration tests against the local test rig (rig/README.md): a real Kubernetes
//! control plane, kwok nodes and the real KubeRay operator.
//!
//! Runs when `RAYHA_RIG_KUBECONFIG` names an existing kubeconfig (`eval "$(rig/rig env)"`
//! sets it); otherwise every trial is reported as ignored, with one line saying why.
//! The rig's kubectl is taken from `RAYHA_RIG_KUBECTL`, else from `rig/rig env`.
//! These tests use only std, serde_json and libtest-mimic; they do not use the crate.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

mod rig_kit;

type TestResult = Result<(), Failed>;
type TestFn = fn(&Rig) -> TestResult;

/// A wait's timeout: `secs` (what fake kwok pods need, with margin), times
/// `RAYHA_RIG_PATIENCE` (default 3) for rigs where pods run real Ray processes
/// (part 2's node agent) on a busy 2-core machine.
fn patience(secs: u64) -> Duration {
    let factor = std::env::var("RAYHA_RIG_PATIENCE")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(3);
    Duration::from_secs(secs * factor.max(1))
}

#[derive(Clone, Debug)]
struct Rig {
    kubeconfig: PathBuf,
    kubectl: PathBuf,
    /// Pinned versions, from rig/versions.env.
    versions: HashMap<String, String>,
    pod_cidr: (Ipv4Addr, u8),
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// KEY=VALUE lines (comments and blanks skipped).
fn parse_env_lines(text: &str) -> HashMap<String, String> {
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
        .collect()
}

fn parse_cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (ip, len) = s.split_once('/')?;
    Some((ip.parse().ok()?, len.parse().ok()?))
}

fn in_cidr(ip: &str, (net, len): (Ipv4Addr, u8)) -> bool {
    let Ok(ip) = ip.parse::<Ipv4Addr>() else {
        return false;
    };
    let mask = if len == 0 {
        0
    } else {
        u32::MAX << (32 - u32::from(len))
    };
    (u32::from(ip) & mask) == (u32::from(net) & mask)
}

impl Rig {
    /// The rig to test, or why the rig tests are skipped.
    fn discover() -> Result<Rig, String> {
        let kubeconfig = match std::env::var_os("RAYHA_RIG_KUBECONFIG") {
            None => return Err("RAYHA_RIG_KUBECONFIG is not set (start the rig: rig/rig up; set -a; eval \"$(rig/rig env)\"; set +a)".into()),
            Some(p) if p.is_empty() => return Err("RAYHA_RIG_KUBECONFIG is empty".into()),
            Some(p) => PathBuf::from(p),
        };
        if !kubeconfig.is_file() {
            return Err(format!(
                "RAYHA_RIG_KUBECONFIG={} does not exist (is the rig up?)",
                kubeconfig.display()
            ));
        }
        let rig_env = || -> Result<HashMap<String, String>, String> {
            let out = Command::new("bash")
                .arg(manifest_dir().join("rig/rig"))
                .arg("env")
                .output()
                .map_err(|e| format!("running rig/rig env: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "rig/rig env failed: {}",
                    String::from_utf8_lossy(&out.stderr)
                ));
            }
            Ok(parse_env_lines(&String::from_utf8_lossy(&out.stdout)))
        };
        let from_env_or_rig = |key: &str| -> Result<String, String> {
            match std::env::var(key) {
                Ok(v) if !v.is_empty() => Ok(v),
                _ => rig_env()?
                    .get(key)
                    .cloned()
                    .ok_or_else(|| format!("rig/rig env prints no {key}")),
            }
        };
        let kubectl = PathBuf::from(from_env_or_rig("RAYHA_RIG_KUBECTL")?);
        if !kubectl.is_file() {
            return Err(format!(
                "the rig's kubectl {} does not exist (run rig/rig build)",
                kubectl.display()
            ));
        }
        let pod_cidr_s = from_env_or_rig("RAYHA_RIG_POD_CIDR")?;
        let pod_cidr = parse_cidr(&pod_cidr_s)
            .ok_or_else(|| format!("bad RAYHA_RIG_POD_CIDR {pod_cidr_s}"))?;
        let versions_path = manifest_dir().join("rig/versions.env");
        let versions = std::fs::read_to_string(&versions_path)
            .map(|t| parse_env_lines(&t))
            .map_err(|e| format!("reading {}: {e}", versions_path.display()))?;
        Ok(Rig {
            kubeconfig,
            kubectl,
            versions,
            pod_cidr,
        })
    }

    fn kubectl_cmd(&self) -> Command {
        let mut c = Command::new(&self.kubectl);
        c.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--request-timeout=30s");
        c.stdin(Stdio::null());
        c
    }

    /// Runs the rig's kubectl; Err carries stderr.
    fn kubectl(&self, args: &[&str]) -> Result<String, String> {
        let out = self
            .kubectl_cmd()
            .args(args)
            .output()
            .map_err(|e| format!("running {}: {e}", self.kubectl.display()))?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "kubectl {} failed ({}): {}",
                args.join(" "),
                out.status,
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    fn get_json(&self, args: &[&str]) -> Result<Value, String> {
        let mut a = vec!["get"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["-o", "json"]);
        let text = self.kubectl(&a)?;
        serde_json::from_str(&text)
            .map_err(|e| format!("kubectl get {}: bad JSON: {e}", args.join(" ")))
    }

    fn items(&self, args: &[&str]) -> Result<Vec<Value>, String> {
        Ok(self.get_json(args)?["items"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }
}

/// Polls `f` until it returns Ok(Some(v)) or the timeout passes; the last
/// Err / "not yet" reason goes into the failure message.
fn wait_until<T>(
    what: &str,
    timeout: Duration,
    mut f: impl FnMut() -> Result<Option<T>, String>,
) -> Result<T, Failed> {
    let start = Instant::now();
    loop {
        let last = match f() {
            Ok(Some(v)) => return Ok(v),
            Ok(None) => "condition not met yet".to_string(),
            Err(e) => e,
        };
        if start.elapsed() >= timeout {
            return Err(
                format!("timed out after {timeout:?} waiting for {what}; last: {last}").into(),
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
}

fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

fn condition_true(obj: &Value, ty: &str) -> bool {
    obj.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| s(c, "/type") == ty && s(c, "/status") == "True")
        })
}

// ------------------------------------------------------------------ tests ----

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

struct Namespace<'a> {
    rig: &'a Rig,
    name: String,
}

impl Namespace<'_> {
    /// Deletes the RayServices first and waits for their RayClusters to go: with GCS
    /// fault tolerance a RayCluster carries the ray.io/gcs-ft-redis-cleanup-finalizer,
    /// and the operator removes it only after its Redis cleanup Job ran, a Job it
    /// cannot create once the namespace is terminating. Deleting the namespace first
    /// leaves it Terminating forever (real KubeRay behaviour, seen on this rig).
    fn delete_and_wait(&self) -> TestResult {
        let ns = self.name.as_str();
        self.rig.kubectl(&[
            "delete",
            "rayservices.ray.io",
            "--all",
            "-n",
            ns,
            "--wait=false",
        ])?;
        wait_until(
            &format!("RayClusters in {ns} to be gone"),
            patience(120),
            || {
                Ok(self
                    .rig
                    .items(&["rayclusters.ray.io", "-n", ns])?
                    .is_empty()
                    .then_some(()))
            },
        )?;
        self.rig
            .kubectl(&["delete", "namespace", ns, "--wait=false"])?;
        wait_until(
            &format!("namespace {ns} to be deleted"),
            patience(120),
            || match self.rig.kubectl(&["get", "namespace", ns, "-o", "name"]) {
                Ok(_) => Ok(None),
                Err(e) if e.contains("NotFound") => Ok(Some(())),
                Err(e) => Err(e),
            },
        )
    }
}

impl Drop for Namespace<'_> {
    fn drop(&mut self) {
        // Best effort after a failure (the happy path calls delete_and_wait): drop the
        // RayClusters' finalizers so that the namespace can go away at all.
        let ns = self.name.as_str();
        if let Ok(out) =
            self.rig
                .kubectl(&["get", "namespace", ns, "-o", "name", "--ignore-not-found"])
            && out.trim().is_empty()
        {
            return;
        }
        let _ = self.rig.kubectl(&[
            "delete",
            "rayservices.ray.io",
            "--all",
            "-n",
            ns,
            "--wait=false",
        ]);
        let _ = self
            .rig
            .kubectl(&["delete", "namespace", ns, "--wait=false"]);
        if let Ok(rcs) = self.rig.items(&["rayclusters.ray.io", "-n", ns]) {
            for rc in rcs {
                let _ = self.rig.kubectl(&[
                    "patch",
                    "rayclusters.ray.io",
                    s(&rc, "/metadata/name"),
                    "-n",
                    ns,
                    "--type=merge",
                    "-p",
                    r#"{"metadata":{"finalizers":null}}"#,
                ]);
            }
        }
    }
}

fn pods_of(rig: &Rig, ns: &str, cluster: &str, node_type: &str) -> Result<Vec<Value>, String> {
    rig.items(&[
        "pods",
        "-n",
        ns,
        "-l",
        &format!("ray.io/cluster={cluster},ray.io/node-type={node_type}"),
    ])
}

/// Running, Ready, on a rig node, with an IP in the rig's pod CIDR.
fn pod_is_up(rig: &Rig, pod: &Value) -> Result<bool, String> {
    pod_is_running(rig, pod, true)
}

/// Running (and Ready when `need_ready`), on a rig node, with an IP in the rig's pod CIDR.
fn pod_is_running(rig: &Rig, pod: &Value, need_ready: bool) -> Result<bool, String> {
    if !s(pod, "/metadata/deletionTimestamp").is_empty()
        || s(pod, "/status/phase") != "Running"
        || (need_ready && !condition_true(pod, "Ready"))
    {
        return Ok(false);
    }
    let name = s(pod, "/metadata/name");
    let ip = s(pod, "/status/podIP");
    if !in_cidr(ip, rig.pod_cidr) {
        return Err(format!(
            "pod {name} has IP {ip:?}, outside the rig's pod CIDR"
        ));
    }
    let node = s(pod, "/spec/nodeName");
    if node.is_empty() {
        return Err(format!("pod {name} is Running but has no node"));
    }
    Ok(true)
}

fn rayservice_ha_on_real_operator(rig: &Rig) -> TestResult {
    let manifest = manifest_dir().join("tests/data/kuberay/ray-service.high-availability.yaml");
    if !manifest.is_file() {
        return Err(format!("{} is missing", manifest.display()).into());
    }
    let stamp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let ns = Namespace {
        rig,
        name: format!("rig-test-ha-{}-{stamp}", std::process::id()),
    };
    let ns_name = ns.name.as_str();
    rig.kubectl(&["create", "namespace", ns_name])?;
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
                    rc.pointer("/metadata/ownerReferences")
                        .and_then(Value::as_array)
                        .is_some_and(|o| {
                            o.iter().any(|r| {
                                s(r, "/kind") == "RayService" && s(r, "/name") == "rayservice-ha"
                            })
                        })
                })
                .map(|rc| s(rc, "/metadata/name").to_string()))
        },
    )?;

    // One head and two workers, Running on rig nodes with rig pod IPs.
    // With real pods (part 2) this sample's workers never become Ready: their readiness
    // probe includes the Serve proxy's /-/healthz, and the sample's app cannot deploy (its
    // runtime_env working_dir is a GitHub zip, out of reach here), so no proxy starts on
    // them. There they only have to run; the real-Ray trials below check readiness.
    let real_pods = rig
        .items(&["nodes"])?
        .iter()
        .any(|n| s(n, "/metadata/annotations/rig.kubectl-rayha~1agent") == "true");
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
            let slices = rig.items(&[
                "endpointslices",
                "-n",
                ns_name,
                "-l",
                &format!("kubernetes.io/service-name={head_svc}"),
            ])?;
            Ok(slices
                .iter()
                .flat_map(|sl| {
                    sl.pointer("/endpoints")
                        .and_then(Value::as_array)
                        .cloned()
                        .unwrap_or_default()
                })
                .any(|ep| {
                    ep.pointer("/addresses")
                        .and_then(Value::as_array)
                        .is_some_and(|a| a.iter().any(|x| x == &Value::String(head_ip.clone())))
                })
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

// ------------------------------------------------------------ part 2: real Ray ----
// Issue 6, acceptance 1-4: pods run as real processes (rig/agent), Ray Serve for real.
// These need the node agent (rig/rig up starts it unless RAYHA_RIG_REAL_PODS=0) and fail
// with a message saying so on a kwok-only rig. Run the rig trials one at a time:
// `cargo test --test rig -- --test-threads 1` (two real Ray clusters overload 2 cores).

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
                    if let Some(rc) = item
                        .pointer_mut("/spec/rayClusterConfig")
                        .and_then(Value::as_object_mut)
                    {
                        rc.remove("gcsFaultToleranceOptions");
                    }
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

fn apply_json(rig: &Rig, doc: &Value) -> Result<(), Failed> {
    let mut child = rig
        .kubectl_cmd()
        .args([
            "apply",
            "--server-side",
            "--field-manager=rig-test",
            "-f",
            "-",
        ])
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
    let is_tester =
        |v: &Value| s(v, "/kind") == "Pod" && s(v, "/metadata/name").ends_with("-tester");
    let items = bundle["items"].as_array().cloned().unwrap_or_default();
    let (tester, rest): (Vec<Value>, Vec<Value>) = items.into_iter().partition(|v| is_tester(v));
    let t_apply = Instant::now();
    apply_json(
        rig,
        &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": rest}),
    )?;
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
    apply_json(
        rig,
        &serde_json::json!({"apiVersion": "v1", "kind": "List", "items": tester}),
    )?;
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
fn head_kill_drill(
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
    let recovered = wait_until(
        "new head Ready, RayService Ready, 3 serve endpoints",
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
            Ok(
                (condition_true(&rs, "Ready") && ready_endpoints(rig, ns, &serve_svc)?.len() == 3)
                    .then_some(()),
            )
        },
    );
    if let Err(e) = recovered {
        stop.store(true, std::sync::atomic::Ordering::Relaxed);
        let _ = probe.kill();
        let _ = probe.wait();
        return Err(format!(
            "drill {n}: {}\n{}",
            e.message().unwrap_or("no recovery"),
            rig_kit::head_diagnostics(|a| rig.kubectl(a), ns)
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
    let ns = Namespace {
        rig,
        name: format!("rig-ray-noft-{}-{}", std::process::id(), stamp()),
    };
    let up = bring_up(rig, &ns.name, true)?;
    let r = head_kill_drill(rig, &ns.name, &up, 1)?;
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

/// A child process killed (and reaped) when dropped: `kubectl logs -f`, `kubectl port-forward`.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Lines of a child's stdout, read on a thread (so that waits can time out).
fn line_channel(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(out) = child.stdout.take() {
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    rx
}

/// The next line containing `needle`, within `timeout`.
fn wait_line(
    rx: &std::sync::mpsc::Receiver<String>,
    needle: &str,
    timeout: Duration,
    what: &str,
) -> Result<String, String> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return Ok(line),
            Ok(_) => {}
            Err(_) => {
                return Err(format!(
                    "{what}: no line with {needle:?} within {timeout:?}"
                ));
            }
        }
    }
}

/// One HTTP/1.0 GET to 127.0.0.1:port; the reply up to `until` (not up to the end of the
/// connection: a port-forward through kwok's server does not pass the pod's close on, see
/// rig/agent/README.md).
fn http_get(port: u16, path: &str, until: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port))
        .map_err(|e| format!("connect 127.0.0.1:{port}: {e}"))?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    conn.write_all(format!("GET {path} HTTP/1.0\r\nHost: rig\r\n\r\n").as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&reply).contains(until) {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
            Err(e) => {
                return Err(format!(
                    "read: {e} after {:?}",
                    String::from_utf8_lossy(&reply)
                ));
            }
        }
    }
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

/// The kubelet API of the rig's node agent (kwok's server behind the nodes' port 10250): a real
/// pod's output through `kubectl logs` and `kubectl logs -f` (stdout and stderr), and
/// `kubectl port-forward` to a port the container listens on without declaring it.
fn real_pod_logs_and_port_forward(rig: &Rig) -> TestResult {
    require_real_pods(rig)?;
    let ns = Namespace {
        rig,
        name: format!("rig-kubelet-{}-{}", std::process::id(), stamp()),
    };
    rig.kubectl(&["create", "namespace", &ns.name])?;
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": ns.name},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "web", "image": "debian:stable-slim",
                "command": ["sh", "-c",
                    "echo rig-hello-stdout; echo rig-hello-stderr >&2; mkdir -p /tmp/w; echo rig-page > /tmp/w/index.html; \
                     cd /tmp/w && exec python3 -u -m http.server --bind 0.0.0.0 8080"],
            }],
        },
    });
    apply_json(rig, &pod)?;
    wait_until("pod web Running", patience(60), || {
        let p = rig.get_json(&["pod", "web", "-n", &ns.name])?;
        Ok((s(&p, "/status/phase") == "Running").then_some(()))
    })?;
    // kubectl logs: both streams of the container, through the API server and the node's kubelet port
    let logs = wait_until("kubectl logs of pod web", patience(20), || {
        match rig.kubectl(&["logs", "-n", &ns.name, "web", "-c", "web"]) {
            Ok(out) if out.contains("rig-hello-stdout") && out.contains("rig-hello-stderr") => {
                Ok(Some(out))
            }
            Ok(out) => Err(format!("log so far: {out:?}")),
            Err(e) => Err(e),
        }
    })?;
    eprintln!("    kubectl logs: {:?}", logs.trim());
    // kubectl logs -f (from the start), then kubectl port-forward to the undeclared port 8080
    let mut follow = KillOnDrop(
        rig.kubectl_cmd()
            .args(["logs", "-f", "-n", &ns.name, "web"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("kubectl logs -f: {e}"))?,
    );
    let follow_rx = line_channel(&mut follow.0);
    wait_line(
        &follow_rx,
        "rig-hello-stdout",
        patience(10),
        "kubectl logs -f",
    )?;
    let reply = wait_until(
        "kubectl port-forward to pod web :8080",
        patience(20),
        || {
            let mut pf = KillOnDrop(
                rig.kubectl_cmd()
                    .args([
                        "port-forward",
                        "-n",
                        &ns.name,
                        "pod/web",
                        "--address",
                        "127.0.0.1",
                        ":8080",
                    ])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .map_err(|e| format!("kubectl port-forward: {e}"))?,
            );
            let rx = line_channel(&mut pf.0);
            // "Forwarding from 127.0.0.1:40123 -> 8080"
            let line = wait_line(
                &rx,
                "Forwarding from",
                Duration::from_secs(15),
                "kubectl port-forward",
            )?;
            let port: u16 = line
                .split("127.0.0.1:")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| format!("cannot parse {line:?}"))?;
            match http_get(port, "/index.html", "rig-page") {
                Ok(reply) if reply.starts_with("HTTP/1.0 200") && reply.contains("rig-page") => {
                    Ok(Some(reply))
                }
                Ok(reply) => Err(format!("reply: {:?}", reply.lines().next())),
                Err(e) => Err(e),
            }
        },
    )?;
    eprintln!("    port-forward: {:?}", reply.lines().next().unwrap_or(""));
    // the request's access-log line (stderr of http.server) arrives in the followed log
    let line = wait_line(
        &follow_rx,
        "GET /index.html",
        patience(10),
        "kubectl logs -f",
    )?;
    eprintln!("    kubectl logs -f: {line:?}");
    drop(follow);
    ns.delete_and_wait()
}

fn main() {
    let mut args = Arguments::from_args();
    // One trial at a time unless asked otherwise: with part 2 every trial runs real Ray
    // clusters, and two at once overload the 2-core machines.
    if args.test_threads.is_none() {
        args.test_threads = Some(1);
    }
    let tests: Vec<(&'static str, TestFn)> = vec![
        ("rig::server_version_is_pinned", server_version_is_pinned),
        ("rig::three_nodes_ready", three_nodes_ready),
        ("rig::kuberay_crds_established", kuberay_crds_established),
        (
            "rig::rayservice_ha_on_real_operator",
            rayservice_ha_on_real_operator,
        ),
        (
            "rig::real_pod_logs_and_port_forward",
            real_pod_logs_and_port_forward,
        ),
        (
            "rig::ray_serve_ha_ready_and_head_kill_drills",
            ray_serve_ha_ready_and_head_kill_drills,
        ),
        (
            "rig::ray_serve_no_gcs_ft_control_drill",
            ray_serve_no_gcs_ft_control_drill,
        ),
    ];
    let rig = Rig::discover();
    if let Err(why) = &rig {
        println!("rig tests skipped (reported as ignored): {why}");
    }
    // The Ray trials need the node agent: `rig/rig env` says RAYHA_RIG_REAL_PODS=1 when it runs.
    let real_pods = std::env::var("RAYHA_RIG_REAL_PODS").is_ok_and(|v| v == "1");
    if rig.is_ok() && !real_pods {
        println!(
            "rig Ray trials skipped (reported as ignored): the rig runs kwok's fake pods (RAYHA_RIG_REAL_PODS is not 1)"
        );
    }
    let trials = tests
        .into_iter()
        .map(|(name, f)| match &rig {
            Ok(_)
                if (name.starts_with("rig::ray_serve") || name.starts_with("rig::real_pod"))
                    && !real_pods =>
            {
                Trial::test(name, || Ok(())).with_ignored_flag(true)
            }
            Ok(rig) => {
                let rig = rig.clone();
                Trial::test(name, move || f(&rig))
            }
            Err(_) => Trial::test(name, || Ok(())).with_ignored_flag(true),
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
