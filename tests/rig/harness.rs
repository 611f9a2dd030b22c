//! The one harness of the rig's trials: the rig (kubeconfig, the rig's kubectl, pinned versions,
//! pod CIDR), the kubectl and `kubectl rayha` runners, the per-trial namespace, waits and the
//! JSON helpers the trials share.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use libtest_mimic::Failed;
use serde_json::Value;

pub type TestResult = Result<(), Failed>;
pub type TestFn = fn(&Rig) -> TestResult;

/// One trial of a module's list: its name (with the module prefix), what it runs, and whether
/// it needs real pods (the rig's node agent, `RAYHA_RIG_REAL_PODS=1`): those run real Ray
/// clusters and are reported as ignored on a rig of kwok's fake pods.
pub struct Check {
    pub name: &'static str,
    pub run: TestFn,
    pub real_pods: bool,
}

/// A wait's timeout: `secs` (what fake kwok pods need, with margin), times
/// `RAYHA_RIG_PATIENCE` (default 3) for rigs where pods run real Ray processes
/// (part 2's node agent) on a busy 2-core machine.
pub fn patience(secs: u64) -> Duration {
    let factor = std::env::var("RAYHA_RIG_PATIENCE")
        .ok()
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(3);
    Duration::from_secs(secs * factor.max(1))
}

#[derive(Clone, Debug)]
pub struct Rig {
    pub kubeconfig: PathBuf,
    pub kubectl: PathBuf,
    /// Pinned versions, from rig/versions.env.
    pub versions: HashMap<String, String>,
    /// The KubeRay operator that runs, and every one the rig built (`rig/rig env`).
    pub kuberay: String,
    pub kuberay_built: Vec<String>,
    /// The Ray runtimes the node agent has, the bundle's default first (`rig/rig env`).
    pub ray_runtimes: Vec<String>,
    pub pod_cidr: (Ipv4Addr, u8),
}

pub fn manifest_dir() -> PathBuf {
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

pub fn parse_cidr(s: &str) -> Option<(Ipv4Addr, u8)> {
    let (ip, len) = s.split_once('/')?;
    Some((ip.parse().ok()?, len.parse().ok()?))
}

pub fn in_cidr(ip: &str, (net, len): (Ipv4Addr, u8)) -> bool {
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
    /// The rig to test, or why the rig trials are skipped.
    pub fn discover() -> Result<Rig, String> {
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
        let words = |key: &str| -> Result<Vec<String>, String> {
            Ok(from_env_or_rig(key)?
                .trim_matches('"')
                .split_whitespace()
                .map(String::from)
                .collect())
        };
        Ok(Rig {
            kubeconfig,
            kubectl,
            versions,
            pod_cidr,
            kuberay: from_env_or_rig("RAYHA_RIG_KUBERAY_VERSION")?,
            kuberay_built: words("RAYHA_RIG_KUBERAY_VERSIONS")?,
            ray_runtimes: words("RAYHA_RIG_RAY_VERSIONS")?,
        })
    }

    /// The rig's kubectl with the rig's kubeconfig and a request timeout (no call hangs on an
    /// API server that stopped answering), stdin closed.
    pub fn kubectl_cmd(&self) -> Command {
        let mut c = Command::new(&self.kubectl);
        c.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--request-timeout=30s");
        c.stdin(Stdio::null());
        c
    }

    /// Runs the rig's kubectl; Err carries stderr.
    pub fn kubectl(&self, args: &[&str]) -> Result<String, String> {
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

    pub fn get_json(&self, args: &[&str]) -> Result<Value, String> {
        let mut a = vec!["get"];
        a.extend_from_slice(args);
        a.extend_from_slice(&["-o", "json"]);
        let text = self.kubectl(&a)?;
        serde_json::from_str(&text)
            .map_err(|e| format!("kubectl get {}: bad JSON: {e}", args.join(" ")))
    }

    pub fn items(&self, args: &[&str]) -> Result<Vec<Value>, String> {
        Ok(self.get_json(args)?["items"]
            .as_array()
            .cloned()
            .unwrap_or_default())
    }

    /// `kubectl apply --server-side` of one JSON document (an object or a v1 List).
    pub fn apply_json(&self, doc: &Value) -> Result<(), Failed> {
        let mut child = self
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

    /// `kubectl-rayha ARGS --kubeconfig KC` (the rig's kubeconfig unless `kubeconfig`), stdin
    /// closed.
    pub fn rayha_cmd(&self, args: &[&str], kubeconfig: Option<&Path>) -> Command {
        let mut c = Command::new(rayha_bin());
        c.args(args)
            .arg("--kubeconfig")
            .arg(kubeconfig.unwrap_or(&self.kubeconfig))
            .stdin(Stdio::null());
        c
    }

    pub fn rayha(&self, args: &[&str], kubeconfig: Option<&Path>) -> Output {
        self.rayha_stdin(args, kubeconfig, None)
    }

    /// Runs `kubectl-rayha` to its end, with `stdin` as its standard input when given.
    pub fn rayha_stdin(
        &self,
        args: &[&str],
        kubeconfig: Option<&Path>,
        stdin: Option<&str>,
    ) -> Output {
        use std::io::Write;
        let mut cmd = self.rayha_cmd(args, kubeconfig);
        if stdin.is_some() {
            cmd.stdin(Stdio::piped());
        }
        let mut child = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        if let Some(text) = stdin {
            child
                .stdin
                .take()
                .unwrap()
                .write_all(text.as_bytes())
                .unwrap();
        }
        child.wait_with_output().unwrap()
    }

    /// `kubectl-rayha` in the background, its stdout and stderr piped; killed when dropped.
    pub fn spawn_rayha(&self, args: &[&str]) -> KillOnDrop {
        KillOnDrop(
            self.rayha_cmd(args, None)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap(),
        )
    }

    /// How many nodes the rig's node agent runs (real pods), of how many.
    pub fn agent_nodes(&self) -> Result<(usize, usize), String> {
        let nodes = self.items(&["nodes"])?;
        let real = nodes
            .iter()
            .filter(|n| s(n, "/metadata/annotations/rig.kubectl-rayha~1agent") == "true")
            .count();
        Ok((real, nodes.len()))
    }
}

fn rayha_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubectl-rayha"))
}

/// `kubectl-rayha generate ARGS -o json`: the bundle as a v1 List.
pub fn generate_json(args: &[&str]) -> Result<Value, String> {
    let out = Command::new(rayha_bin())
        .arg("generate")
        .args(args)
        .args(["-o", "json"])
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("running kubectl-rayha generate: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "kubectl-rayha generate failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    serde_json::from_slice(&out.stdout).map_err(|e| format!("generate -o json: bad JSON: {e}"))
}

/// The items of a v1 List (a generated bundle), to change.
pub fn items_mut(list: &mut Value) -> impl Iterator<Item = &mut Value> {
    list.pointer_mut("/items")
        .and_then(Value::as_array_mut)
        .into_iter()
        .flatten()
}

/// Takes GCS fault tolerance out of a RayService (the control drills without it).
pub fn without_gcs_ft(rayservice: &mut Value) {
    if let Some(rc) = rayservice
        .pointer_mut("/spec/rayClusterConfig")
        .and_then(Value::as_object_mut)
    {
        rc.remove("gcsFaultToleranceOptions");
    }
}

/// The `generate`/`apply` arguments of the rig's fruit app (rig/agent/README.md): the guide's
/// deployment graph, importable in the rig's Ray venv without a working_dir download.
pub const FRUIT_APP: [&str; 4] = [
    "--import-path",
    "rayha_fruit.app:deployment_graph",
    "--working-dir",
    "",
];

/// The rig's node agent script (`RAYHA_RIG_AGENT` from `rig/rig env`, else the checkout's).
fn agent_script() -> PathBuf {
    std::env::var_os("RAYHA_RIG_AGENT")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(|| manifest_dir().join("rig/agent/agent"))
}

pub fn agent_cmd(args: impl IntoIterator<Item = impl AsRef<std::ffi::OsStr>>) -> Command {
    let mut c = Command::new("bash");
    c.arg(agent_script()).args(args).stdin(Stdio::null());
    c
}

/// Runs rig/agent/agent with args; stdout.
pub fn agent(args: &[&str]) -> Result<String, String> {
    script_output("rig/agent/agent", agent_cmd(args), args)
}

/// Runs rig/rig with args (`operator v1.5.0`); stdout.
pub fn rig_script(args: &[&str]) -> Result<String, String> {
    let mut c = Command::new("bash");
    c.arg(manifest_dir().join("rig/rig"))
        .args(args)
        .stdin(Stdio::null());
    script_output("rig/rig", c, args)
}

/// The stdout of one of the rig's scripts, or its stderr as the error.
fn script_output(name: &str, mut c: Command, args: &[&str]) -> Result<String, String> {
    let out = c.output().map_err(|e| format!("{name}: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "{name} {} failed: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Polls `f` until it returns Ok(Some(v)) or the timeout passes; the last
/// Err / "not yet" reason goes into the failure message.
pub fn wait_until<T>(
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

pub fn ensure(cond: bool, msg: impl Into<String>) -> TestResult {
    if cond { Ok(()) } else { Err(msg.into().into()) }
}

pub fn s<'a>(v: &'a Value, ptr: &str) -> &'a str {
    v.pointer(ptr).and_then(Value::as_str).unwrap_or("")
}

/// The array at `ptr` (empty when there is none).
pub fn arr<'a>(v: &'a Value, ptr: &str) -> &'a [Value] {
    v.pointer(ptr)
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
}

pub fn condition_true(obj: &Value, ty: &str) -> bool {
    arr(obj, "/status/conditions")
        .iter()
        .any(|c| s(c, "/type") == ty && s(c, "/status") == "True")
}

/// Seconds since the epoch, for unique namespace names.
fn stamp() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// The namespace of one trial, `<prefix>-<pid>-<unix seconds>`, created by [`Namespace::create`]
/// and removed when dropped. The removal always deletes the RayServices first and waits for their
/// RayClusters to go: with GCS fault tolerance a RayCluster carries the
/// ray.io/gcs-ft-redis-cleanup-finalizer, and the operator removes it only after its Redis
/// cleanup Job ran, a Job it cannot create once the namespace is terminating. Deleting the
/// namespace first leaves it Terminating forever (real KubeRay behaviour, seen on this rig).
pub struct Namespace<'a> {
    rig: &'a Rig,
    pub name: String,
}

impl<'a> Namespace<'a> {
    pub fn create(rig: &'a Rig, prefix: &str) -> Result<Namespace<'a>, String> {
        let ns = Namespace {
            rig,
            name: format!("{prefix}-{}-{}", std::process::id(), stamp()),
        };
        rig.kubectl(&["create", "namespace", &ns.name])?;
        Ok(ns)
    }

    /// Deletes the RayServices and waits up to `timeout` for their RayClusters to go.
    fn release(&self, timeout: Duration) -> Result<(), Failed> {
        let ns = self.name.as_str();
        self.rig.kubectl(&[
            "delete",
            "rayservices.ray.io",
            "--all",
            "-n",
            ns,
            "--wait=false",
        ])?;
        wait_until(&format!("RayClusters in {ns} to be gone"), timeout, || {
            Ok(self
                .rig
                .items(&["rayclusters.ray.io", "-n", ns])?
                .is_empty()
                .then_some(()))
        })
    }

    /// The checked removal: fails when the RayClusters or the namespace do not go in time.
    pub fn delete_and_wait(&self) -> TestResult {
        let ns = self.name.as_str();
        self.release(patience(120))?;
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
        // Best effort, unchecked (after delete_and_wait there is nothing left to do): RayServices
        // first with a bounded wait for KubeRay's Redis cleanup, then the namespace; a RayCluster
        // still there after that loses its finalizers, so that the namespace can go away at all.
        let ns = self.name.as_str();
        if let Ok(out) =
            self.rig
                .kubectl(&["get", "namespace", ns, "-o", "name", "--ignore-not-found"])
            && out.trim().is_empty()
        {
            return;
        }
        let _ = self.release(Duration::from_secs(120));
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

/// A child process killed (and reaped) when dropped: `kubectl logs -f`, `kubectl port-forward`,
/// a `kubectl rayha` the trial gives up on.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

pub fn pods_of(rig: &Rig, ns: &str, cluster: &str, node_type: &str) -> Result<Vec<Value>, String> {
    rig.items(&[
        "pods",
        "-n",
        ns,
        "-l",
        &format!("ray.io/cluster={cluster},ray.io/node-type={node_type}"),
    ])
}

/// Running, Ready, on a rig node, with an IP in the rig's pod CIDR.
pub fn pod_is_up(rig: &Rig, pod: &Value) -> Result<bool, String> {
    pod_is_running(rig, pod, true)
}

/// Running (and Ready when `need_ready`), on a rig node, with an IP in the rig's pod CIDR.
pub fn pod_is_running(rig: &Rig, pod: &Value, need_ready: bool) -> Result<bool, String> {
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

/// Addresses of a Service's EndpointSlices (only the ready endpoints' when `ready_only`), sorted.
pub fn endpoint_addresses(
    rig: &Rig,
    ns: &str,
    svc: &str,
    ready_only: bool,
) -> Result<Vec<String>, String> {
    let mut ips = vec![];
    for sl in rig.items(&[
        "endpointslices",
        "-n",
        ns,
        "-l",
        &format!("kubernetes.io/service-name={svc}"),
    ])? {
        for ep in arr(&sl, "/endpoints") {
            if ready_only && ep.pointer("/conditions/ready").and_then(Value::as_bool) != Some(true)
            {
                continue;
            }
            ips.extend(
                arr(ep, "/addresses")
                    .iter()
                    .map(|a| a.as_str().unwrap_or("").to_string()),
            );
        }
    }
    ips.sort();
    Ok(ips)
}

/// Ready addresses of a Service's EndpointSlices.
pub fn ready_endpoints(rig: &Rig, ns: &str, svc: &str) -> Result<Vec<String>, String> {
    endpoint_addresses(rig, ns, svc, true)
}

/// What a head that did not come back needs for a diagnosis: each head pod's readiness,
/// restarts and the last probe events, and the tails of its dashboard's and GCS's logs (read
/// inside the pod through the rig's node agent).
pub fn head_diagnostics(rig: &Rig, ns: &str) -> String {
    let pods = rig
        .kubectl(&[
            "get",
            "pods",
            "-n",
            ns,
            "-l",
            "ray.io/node-type=head",
            "-o",
            "jsonpath={range .items[*]}{.metadata.name} phase={.status.phase} \
             restarts={.status.containerStatuses[0].restartCount} \
             conditions={.status.conditions}{\"\\n\"}{end}",
        ])
        .unwrap_or_else(|e| e);
    let mut out = format!("head pods:\n{pods}");
    for pod in pods.lines().filter_map(|l| l.split_whitespace().next()) {
        let events = rig
            .kubectl(&[
                "get",
                "events",
                "-n",
                ns,
                "--field-selector",
                &format!("involvedObject.name={pod}"),
                "-o",
                "jsonpath={range .items[*]}{.lastTimestamp} {.reason}: {.message}{\"\\n\"}{end}",
            ])
            .unwrap_or_else(|e| e);
        let last_events: Vec<&str> = events.lines().rev().take(8).collect();
        out.push_str(&format!(
            "\n--- {pod} events (newest first)\n{}",
            last_events.join("\n")
        ));
        let logs = agent_cmd(["exec", ns, pod, "--", "bash", "-c"])
            .arg("cd /tmp/ray/session_latest/logs && tail -n 40 dashboard.log gcs_server.out")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_else(|e| e.to_string());
        out.push_str(&format!("\n--- {pod} logs\n{logs}"));
    }
    out
}
