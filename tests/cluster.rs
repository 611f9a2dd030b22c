//! `kubectl rayha apply` and `delete` on the test rig (rig/README.md): a real API server and the
//! real KubeRay operator. Runs when RAYHA_RIG_KUBECONFIG and RAYHA_RIG_KUBECTL are set
//! (`eval "$(rig/rig env)"`); otherwise each trial is reported as ignored.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use libtest_mimic::{Arguments, Failed, Trial};

mod rig_kit;
use serde_json::Value;

type TestResult = Result<(), Failed>;

#[derive(Clone)]
struct Rig {
    kubeconfig: PathBuf,
    kubectl: PathBuf,
}

impl Rig {
    fn discover() -> Result<Rig, String> {
        let var = |k: &str| {
            std::env::var_os(k)
                .filter(|v| !v.is_empty())
                .map(PathBuf::from)
        };
        let kubeconfig = var("RAYHA_RIG_KUBECONFIG")
            .ok_or("RAYHA_RIG_KUBECONFIG is not set (eval \"$(rig/rig env)\")")?;
        let kubectl = var("RAYHA_RIG_KUBECTL")
            .ok_or("RAYHA_RIG_KUBECTL is not set (eval \"$(rig/rig env)\")")?;
        if !kubeconfig.is_file() || !kubectl.is_file() {
            return Err(format!(
                "{} or {} is missing (is the rig up?)",
                kubeconfig.display(),
                kubectl.display()
            ));
        }
        Ok(Rig {
            kubeconfig,
            kubectl,
        })
    }

    fn kubectl(&self, args: &[&str]) -> Result<String, String> {
        let out = Command::new(&self.kubectl)
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| e.to_string())?;
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(format!(
                "kubectl {}: {}",
                args.join(" "),
                String::from_utf8_lossy(&out.stderr).trim()
            ))
        }
    }

    fn rayha(&self, args: &[&str], kubeconfig: Option<&PathBuf>) -> Output {
        self.rayha_stdin(args, kubeconfig, None)
    }

    fn rayha_stdin(
        &self,
        args: &[&str],
        kubeconfig: Option<&PathBuf>,
        stdin: Option<&str>,
    ) -> Output {
        use std::io::Write;
        let mut child = Command::new(env!("CARGO_BIN_EXE_kubectl-rayha"))
            .args(args)
            .arg("--kubeconfig")
            .arg(kubeconfig.unwrap_or(&self.kubeconfig))
            .stdin(if stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
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

    /// Every object of the kinds a bundle has, in `ns`, with its resourceVersion.
    fn snapshot(&self, ns: &str) -> Result<Vec<String>, String> {
        self.snapshot_by(ns, "{.metadata.resourceVersion}")
    }

    /// Every object with its spec generation where it has one (status writes by controllers do not
    /// count), else its resourceVersion.
    fn spec_snapshot(&self, ns: &str) -> Result<Vec<String>, String> {
        self.snapshot_by(ns, "{.metadata.generation}/{.metadata.resourceVersion}")
            .map(|lines| {
                lines
                    .into_iter()
                    .map(|l| {
                        match l.split_once('@').and_then(|(o, v)| {
                            v.split_once('/')
                                .map(|(g, rv)| (o.to_string(), g.to_string(), rv.to_string()))
                        }) {
                            Some((o, g, _)) if !g.is_empty() => format!("{o}@gen{g}"),
                            Some((o, _, rv)) => format!("{o}@{rv}"),
                            None => l,
                        }
                    })
                    .collect()
            })
    }

    fn snapshot_by(&self, ns: &str, version: &str) -> Result<Vec<String>, String> {
        let text = self.kubectl(&[
            "get",
            "secrets,configmaps,services,deployments,persistentvolumeclaims,pods,rayservices.ray.io,rayclusters.ray.io",
            "-n",
            ns,
            "-o",
            &format!("jsonpath={{range .items[*]}}{{.kind}}/{{.metadata.name}}@{version}{{\"\\n\"}}{{end}}"),
        ])?;
        let mut lines: Vec<String> = text
            .lines()
            .filter(|l| !l.starts_with("ConfigMap/kube-root-ca.crt"))
            .map(str::to_string)
            .collect();
        lines.sort();
        Ok(lines)
    }
}

/// A namespace of one test, removed at the end (RayServices first, so KubeRay's Redis cleanup can
/// still run and release its finalizer).
struct Ns<'a> {
    rig: &'a Rig,
    name: String,
}

impl<'a> Ns<'a> {
    fn new(rig: &'a Rig, prefix: &str) -> Result<Ns<'a>, String> {
        let name = format!("{prefix}-{}", std::process::id() % 100000);
        let _ = rig.kubectl(&[
            "delete",
            "namespace",
            &name,
            "--ignore-not-found",
            "--wait=true",
            "--timeout=60s",
        ]);
        rig.kubectl(&["create", "namespace", &name])?;
        Ok(Ns { rig, name })
    }
}

impl Drop for Ns<'_> {
    fn drop(&mut self) {
        let ns = self.name.as_str();
        let _ = self.rig.kubectl(&[
            "delete",
            "rayservices.ray.io",
            "--all",
            "-n",
            ns,
            "--wait=true",
            "--timeout=120s",
        ]);
        let deadline = Instant::now() + Duration::from_secs(120);
        while Instant::now() < deadline {
            match self
                .rig
                .kubectl(&["get", "rayclusters.ray.io", "-n", ns, "-o", "name"])
            {
                Ok(out) if out.trim().is_empty() => break,
                _ => std::thread::sleep(Duration::from_secs(1)),
            }
        }
        let _ = self
            .rig
            .kubectl(&["delete", "namespace", ns, "--wait=false"]);
    }
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn ensure(cond: bool, msg: impl Into<String>) -> TestResult {
    if cond { Ok(()) } else { Err(msg.into().into()) }
}

fn secret_data(rig: &Rig, ns: &str) -> Result<String, String> {
    rig.kubectl(&[
        "get",
        "secret",
        "rayservice-ha-redis-password",
        "-n",
        ns,
        "-o",
        "jsonpath={.data.password}",
    ])
}

/// Apply of the default bundle creates every object; a second apply reports everything unchanged
/// and keeps the password Secret byte-identical.
fn reapply_changes_nothing(rig: &Rig) -> TestResult {
    let ns = Ns::new(rig, "rayha-apply")?;
    let out = rig.rayha(&["apply", "-n", &ns.name, "--wait=false"], None);
    let (stdout, stderr) = text(&out);
    ensure(out.status.success(), format!("first apply: {stderr}"))?;
    for object in [
        "secret/rayservice-ha-redis-password",
        "configmap/rayservice-ha-redis-config",
        "service/rayservice-ha-redis",
        "deployment/rayservice-ha-redis",
        "rayservice/rayservice-ha",
    ] {
        ensure(
            stdout.contains(&format!("{object} created")),
            format!("{object} not created: {stdout}"),
        )?;
    }
    let password = secret_data(rig, &ns.name)?;
    let ours = |v: Vec<String>| -> Vec<String> {
        v.into_iter()
            .filter(|l| !l.starts_with("Pod/") && !l.starts_with("RayCluster/"))
            .collect()
    };
    let before = ours(rig.spec_snapshot(&ns.name)?);
    let out = rig.rayha(&["apply", "-n", &ns.name, "--wait=false"], None);
    let (stdout, stderr) = text(&out);
    ensure(out.status.success(), format!("second apply: {stderr}"))?;
    ensure(
        stdout.lines().count() == 5 && stdout.lines().all(|l| l.ends_with(" unchanged")),
        format!("second apply changed something: {stdout}"),
    )?;
    ensure(
        secret_data(rig, &ns.name)? == password,
        "the password Secret changed on re-apply",
    )?;
    let after = ours(rig.spec_snapshot(&ns.name)?);
    ensure(
        before == after,
        format!("objects changed: {before:?} -> {after:?}"),
    )?;
    println!("apply twice in {}: second apply unchanged", ns.name);
    Ok(())
}

/// A bundle with one object the server refuses leaves the namespace exactly as it was and names
/// the object and the server's reason.
fn rejected_bundle_changes_nothing(rig: &Rig) -> TestResult {
    let ns = Ns::new(rig, "rayha-reject")?;
    let bundle = Command::new(env!("CARGO_BIN_EXE_kubectl-rayha"))
        .args(["generate", "-o", "json"])
        .output()
        .unwrap();
    let list: Value = serde_json::from_slice(&bundle.stdout).map_err(|e| e.to_string())?;
    for (label, edit) in [
        (
            "a serve config the CRD rejects",
            Box::new(|o: &mut Value| {
                if o["kind"] == "RayService" {
                    o["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["replicas"] = "two".into();
                }
            }) as Box<dyn Fn(&mut Value)>,
        ),
        (
            "a name the server refuses",
            Box::new(|o: &mut Value| {
                if o["kind"] == "ConfigMap" {
                    o["metadata"]["name"] = "Bad_Name".into();
                }
            }),
        ),
        (
            "an unknown field",
            Box::new(|o: &mut Value| {
                if o["kind"] == "RayService" {
                    o["spec"]["rayClusterConfig"]["gcsFaultToleranceOptions"]["redisAdress"] =
                        "x:1".into();
                }
            }),
        ),
    ] {
        let mut broken = list.clone();
        for o in broken["items"].as_array_mut().unwrap() {
            edit(o);
        }
        let before = rig.snapshot(&ns.name)?;
        let out = rig.rayha_stdin(
            &["apply", "-n", &ns.name, "-f", "-", "--wait=false"],
            None,
            Some(&broken.to_string()),
        );
        let (stdout, stderr) = text(&out);
        ensure(
            out.status.code() == Some(1),
            format!("{label}: exit {:?}: {stderr}", out.status.code()),
        )?;
        ensure(stdout.is_empty(), format!("{label}: printed {stdout}"))?;
        ensure(
            stderr.lines().filter(|l| l.starts_with("error:")).count() == 1,
            format!("{label}: {stderr}"),
        )?;
        ensure(
            stderr.contains("nothing was changed"),
            format!("{label}: {stderr}"),
        )?;
        let culprit = if label.contains("name") {
            "configmap/Bad_Name"
        } else {
            "rayservice/rayservice-ha"
        };
        ensure(
            stderr.contains(culprit),
            format!("{label}: does not name {culprit}: {stderr}"),
        )?;
        ensure(
            rig.snapshot(&ns.name)? == before,
            format!("{label}: the namespace changed"),
        )?;
        println!("{label}: {}", stderr.trim());
    }
    Ok(())
}

/// A user bound to the read-only `view` role is stopped before anything changes, with the
/// missing verb and resource named.
fn read_only_user_is_stopped_before_changes(rig: &Rig) -> TestResult {
    let ns = Ns::new(rig, "rayha-viewer")?;
    rig.kubectl(&["create", "serviceaccount", "viewer", "-n", &ns.name])?;
    rig.kubectl(&[
        "create",
        "rolebinding",
        "viewer-view",
        "--clusterrole=view",
        &format!("--serviceaccount={}:viewer", ns.name),
        "-n",
        &ns.name,
    ])?;
    let token = rig.kubectl(&[
        "create",
        "token",
        "viewer",
        "-n",
        &ns.name,
        "--duration=10m",
    ])?;
    let server = rig.kubectl(&[
        "config",
        "view",
        "--minify",
        "-o",
        "jsonpath={.clusters[0].cluster.server}",
    ])?;
    let dir = std::env::temp_dir().join(format!("rayha-viewer-{}", std::process::id()));
    std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
    let kc = dir.join("kubeconfig");
    std::fs::write(
        &kc,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: rig\n  cluster: {{server: \"{server}\", insecure-skip-tls-verify: true}}\nusers:\n- name: viewer\n  user: {{token: \"{}\"}}\ncontexts:\n- name: viewer\n  context: {{cluster: rig, user: viewer, namespace: {}}}\ncurrent-context: viewer\n",
            token.trim(),
            ns.name
        ),
    )
    .map_err(|e| e.to_string())?;
    let before = rig.snapshot(&ns.name)?;
    let out = rig.rayha(&["apply", "--wait=false"], Some(&kc));
    let (_, stderr) = text(&out);
    let _ = std::fs::remove_dir_all(&dir);
    ensure(
        out.status.code() == Some(1),
        format!("exit {:?}: {stderr}", out.status.code()),
    )?;
    ensure(
        stderr.contains("not allowed to")
            && stderr.contains("create secrets")
            && stderr.contains("create rayservices.ray.io"),
        format!("missing verbs not named: {stderr}"),
    )?;
    ensure(rig.snapshot(&ns.name)? == before, "the namespace changed")?;
    println!("{}", stderr.trim());
    Ok(())
}

/// delete removes every object with the instance label, after KubeRay's Redis cleanup, and says
/// what happened to the Redis keys.
fn delete_leaves_nothing_labelled(rig: &Rig) -> TestResult {
    let ns = Ns::new(rig, "rayha-delete")?;
    let out = rig.rayha(
        &["apply", "-n", &ns.name, "--wait=false", "--with-tester"],
        None,
    );
    ensure(out.status.success(), text(&out).1)?;
    // Let the operator create the RayCluster, so there is something for its cleanup to do.
    let deadline = Instant::now() + Duration::from_secs(60);
    while rig
        .kubectl(&["get", "rayclusters.ray.io", "-n", &ns.name, "-o", "name"])?
        .trim()
        .is_empty()
    {
        ensure(Instant::now() < deadline, "no RayCluster within 60 s")?;
        std::thread::sleep(Duration::from_millis(500));
    }
    let start = Instant::now();
    let out = rig.rayha(
        &[
            "delete",
            "rayservice-ha",
            "-n",
            &ns.name,
            "-y",
            "--timeout",
            "4m",
        ],
        None,
    );
    let (stdout, stderr) = text(&out);
    ensure(out.status.success(), format!("delete: {stderr}"))?;
    for object in [
        "rayservice/rayservice-ha",
        "deployment/rayservice-ha-redis",
        "secret/rayservice-ha-redis-password",
        "pod/rayservice-ha-tester",
    ] {
        ensure(
            stdout.contains(&format!("{object} deleted")),
            format!("{object} not reported: {stdout}"),
        )?;
    }
    ensure(
        stdout.contains("raycluster/"),
        format!("no word on the Redis keys: {stdout}"),
    )?;
    let left = rig.kubectl(&[
        "get",
        "all,cm,secret,pvc,rayservices.ray.io",
        "-n",
        &ns.name,
        "-l",
        "app.kubernetes.io/instance=rayservice-ha",
        "-o",
        "name",
    ])?;
    ensure(left.trim().is_empty(), format!("left behind: {left}"))?;
    let clusters = rig.kubectl(&["get", "rayclusters.ray.io", "-n", &ns.name, "-o", "name"])?;
    ensure(
        clusters.trim().is_empty(),
        format!("RayCluster left: {clusters}"),
    )?;
    println!(
        "delete took {:.1} s: {}",
        start.elapsed().as_secs_f64(),
        stdout.lines().last().unwrap_or("")
    );
    Ok(())
}

/// Waits until `rayservice-ha` in `ns` is Ready again (after a drill or a change).
fn wait_ready(rig: &Rig, ns: &str, within: Duration) -> TestResult {
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

/// A child process that is killed and reaped if the test gives up on it.
struct Reaped(std::process::Child);

impl Drop for Reaped {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn spawn_rayha(rig: &Rig, args: &[&str]) -> Reaped {
    Reaped(
        Command::new(env!("CARGO_BIN_EXE_kubectl-rayha"))
            .args(args)
            .arg("--kubeconfig")
            .arg(&rig.kubeconfig)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap(),
    )
}

/// Applies the generated HA bundle with the rig's fruit app in a fresh namespace and waits for
/// Ready, checking the progress lines; then `status` passes every check in at most 10 API requests.
fn ready_rayservice<'a>(rig: &'a Rig, prefix: &str) -> Result<Ns<'a>, Failed> {
    let ns = Ns::new(rig, prefix)?;
    {
        let n = ns.name.as_str();
        let t0 = Instant::now();
        let out = rig.rayha(
            &[
                "apply",
                "-n",
                n,
                "--import-path",
                "rayha_fruit.app:deployment_graph",
                "--working-dir",
                "",
                "--timeout",
                "10m",
            ],
            None,
        );
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

        // status: every check passes, in at most 10 API requests.
        let t = Instant::now();
        let out = Command::new(env!("CARGO_BIN_EXE_kubectl-rayha"))
            .args([
                "status",
                "rayservice-ha",
                "-n",
                n,
                "-o",
                "json",
                "--kubeconfig",
            ])
            .arg(&rig.kubeconfig)
            .env("RAYHA_API_COUNT", "1")
            .output()
            .unwrap();
        let took = t.elapsed();
        let (stdout, stderr) = text(&out);
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
/// check within 10 API requests, and with one replica of a deployment the placement check fails
/// (exit 1).
fn real_ray_apply_status(rig: &Rig) -> TestResult {
    let ns = ready_rayservice(rig, "rayha-status")?;
    let n = ns.name.as_str();
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
    Ok(())
}

/// On real Ray: `failover --rounds 3` passes with workers and replica actors kept, a second drill
/// is refused naming the holder, and Ctrl-C ends a drill with exit 130 and the lock released.
fn real_ray_failover(rig: &Rig) -> TestResult {
    let ns = ready_rayservice(rig, "rayha-drill")?;
    let n = ns.name.as_str();
    // The drill, three times.
    let report = std::env::temp_dir().join(format!("rayha-drill-{}.json", std::process::id()));
    let out = rig.rayha(
        &[
            "failover",
            "rayservice-ha",
            "-n",
            n,
            "-y",
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
    if out.status.code() != Some(0) {
        return Err(format!(
            "failover exit {:?}: {:?}\n{}",
            out.status.code(),
            r["reasons"],
            rig_kit::head_diagnostics(|a| rig.kubectl(a), n)
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

    // Two drills at once: the second is refused and names the holder; Ctrl-C ends the first.
    let lease = "rayservice-ha-rayha-failover";
    let mut first = spawn_rayha(
        rig,
        &[
            "failover",
            "rayservice-ha",
            "-n",
            n,
            "-y",
            "--warmup",
            "60s",
        ],
    );
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

    Ok(())
}

/// On real Ray without GCS fault tolerance: failover refuses and explains; with --force the drill
/// runs, the report shows the cost (failures, or workers restarted / replicas replaced) and the
/// verdict fails under --max-failures 0.
fn real_ray_failover_without_gcs_ft(rig: &Rig) -> TestResult {
    let ns = Ns::new(rig, "rayha-noft")?;
    let n = ns.name.as_str();
    let bundle = Command::new(env!("CARGO_BIN_EXE_kubectl-rayha"))
        .args([
            "generate",
            "-n",
            n,
            "--import-path",
            "rayha_fruit.app:deployment_graph",
            "--working-dir",
            "",
            "-o",
            "json",
        ])
        .output()
        .map_err(|e| e.to_string())?;
    let mut list: Value = serde_json::from_slice(&bundle.stdout).map_err(|e| e.to_string())?;
    for o in list["items"].as_array_mut().unwrap() {
        if o["kind"] == "RayService" {
            o["spec"]["rayClusterConfig"]
                .as_object_mut()
                .unwrap()
                .remove("gcsFaultToleranceOptions");
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
fn real_ray_query_routes(rig: &Rig) -> TestResult {
    let ns = ready_rayservice(rig, "q-routes")?;
    let n = ns.name.as_str();
    let selector = "app.kubernetes.io/component=query,app.kubernetes.io/instance=rayservice-ha";
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
                    problems.push(format!("--via pod left {left}"));
                }
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
    let mut child = spawn_rayha(
        rig,
        &[
            "query",
            "rayservice-ha",
            "-n",
            n,
            "--via",
            "pod",
            "--count",
            "1000000",
        ],
    );
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
        problems.push(format!("Ctrl-C left {left}"));
    }
    ensure(problems.is_empty(), problems.join("\n"))
}

type TestFn = fn(&Rig) -> TestResult;

fn main() {
    let mut args = Arguments::from_args();
    // One trial at a time unless asked otherwise: two real Ray clusters at once overload the rig's
    // two cores and would time the drills on a starved machine.
    if args.test_threads.is_none() {
        args.test_threads = Some(1);
    }
    let tests: Vec<(&str, TestFn)> = vec![
        ("cluster::reapply_changes_nothing", reapply_changes_nothing),
        (
            "cluster::rejected_bundle_changes_nothing",
            rejected_bundle_changes_nothing,
        ),
        (
            "cluster::read_only_user_is_stopped_before_changes",
            read_only_user_is_stopped_before_changes,
        ),
        (
            "cluster::delete_leaves_nothing_labelled",
            delete_leaves_nothing_labelled,
        ),
        ("cluster::real_ray_apply_status", real_ray_apply_status),
        ("cluster::real_ray_failover", real_ray_failover),
        ("cluster::real_ray_query_routes", real_ray_query_routes),
        (
            "cluster::real_ray_failover_without_gcs_ft",
            real_ray_failover_without_gcs_ft,
        ),
    ];
    let rig = Rig::discover();
    if let Err(why) = &rig {
        println!("cluster tests skipped (reported as ignored): {why}");
    }
    let trials = tests
        .into_iter()
        .map(|(name, f)| match &rig {
            // Real Ray needs the rig's node agent (rig part 2): `rig/rig env` says
            // RAYHA_RIG_REAL_PODS=1 when it runs; with kwok's fake pods this trial cannot run.
            Ok(_)
                if name.contains("real_ray")
                    && !std::env::var("RAYHA_RIG_REAL_PODS").is_ok_and(|v| v == "1") =>
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
