//! The plugin's trials on the rig: `kubectl rayha apply`, `status`, `delete`, `failover` and
//! `query` against a real API server and the real KubeRay operator (real Ray for the `real_ray`
//! trials, in real_ray.rs).

mod change;
mod cleanup;
mod guide;
mod matrix;
mod node;
mod real_ray;
mod signals;

use std::process::Output;
use std::time::{Duration, Instant};

use libtest_mimic::Failed;
use serde_json::Value;

use crate::harness::{Check, Namespace, Rig, TestResult, ensure, generate_json, items_mut};

pub const TRIALS: &[Check] = &[
    Check {
        name: "plugin::reapply_changes_nothing",
        run: reapply_changes_nothing,
        real_pods: false,
    },
    Check {
        name: "plugin::rejected_bundle_changes_nothing",
        run: rejected_bundle_changes_nothing,
        real_pods: false,
    },
    Check {
        name: "plugin::read_only_user_is_stopped_before_changes",
        run: read_only_user_is_stopped_before_changes,
        real_pods: false,
    },
    Check {
        name: "plugin::delete_leaves_nothing_labelled",
        run: delete_leaves_nothing_labelled,
        real_pods: false,
    },
    Check {
        name: "plugin::apply_wait_ends_on_ctrl_c",
        run: signals::apply_wait_ends_on_ctrl_c,
        real_pods: false,
    },
    Check {
        name: "plugin::real_ray_apply_status",
        run: real_ray::real_ray_apply_status,
        real_pods: true,
    },
    Check {
        name: "plugin::real_ray_failover",
        run: real_ray::real_ray_failover,
        real_pods: true,
    },
    Check {
        name: "plugin::real_ray_query_routes",
        run: real_ray::real_ray_query_routes,
        real_pods: true,
    },
    Check {
        name: "plugin::real_ray_failover_without_gcs_ft",
        run: real_ray::real_ray_failover_without_gcs_ft,
        real_pods: true,
    },
    Check {
        name: "plugin::guide_manifest_as_written",
        run: guide::guide_manifest_as_written,
        real_pods: true,
    },
    Check {
        name: "plugin::apply_fails_fast_when_the_app_cannot_deploy",
        run: guide::apply_fails_fast_when_the_app_cannot_deploy,
        real_pods: true,
    },
    Check {
        name: "plugin::real_ray_node_drill",
        run: node::real_ray_node_drill,
        real_pods: true,
    },
    Check {
        name: "plugin::pinned_workers_fail_worker_spread",
        run: node::pinned_workers_fail_worker_spread,
        real_pods: false,
    },
    Check {
        name: "plugin::smoke_on_the_newest_ray",
        run: matrix::smoke_on_the_newest_ray,
        real_pods: true,
    },
    Check {
        name: "plugin::smoke_on_other_kuberay_operators",
        run: matrix::smoke_on_other_kuberay_operators,
        real_pods: true,
    },
];

/// What a trial compares before and after a command, to tell that it changed nothing.
impl Rig {
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
            "secrets,configmaps,services,deployments,persistentvolumeclaims,poddisruptionbudgets,pods,rayservices.ray.io,rayclusters.ray.io",
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

/// The check `id` of `kubectl rayha status rayservice-ha -n ns -o json`.
pub(crate) fn status_check(rig: &Rig, ns: &str, id: &str) -> Result<Value, String> {
    let out = rig.rayha(&["status", "rayservice-ha", "-n", ns, "-o", "json"], None);
    let status: Value = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("status -o json: {e}: {}", text(&out).1))?;
    status["checks"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["id"] == id).cloned())
        .ok_or_else(|| format!("status has no {id} check: {status}"))
}

/// The per-request bound of the drills on real Ray: 30 s, as the guide's query.py (no timeout)
/// would wait. Ray 2.52's Serve holds a request for seconds when the head goes and when its new
/// controller recovers the replicas (2.1–3.6 s on the rig, seen in the Serve proxy's own access
/// log too; in one CI run one request per round passed the drill's 5 s default;
/// ray-project/ray#62728). The trials print each round's longest stall.
pub(crate) const REQUEST_TIMEOUT: &str = "--request-timeout=30s";

/// `kubectl rayha failover rayservice-ha -n ns -y ARGS -o json`: the report of a drill that
/// passed, or why it did not (its reasons and stderr, the pods, the head's diagnosis).
pub(crate) fn passing_failover(rig: &Rig, ns: &str, args: &[&str]) -> Result<Value, Failed> {
    let (out, report, stderr) = failover_report(rig, ns, args)?;
    if out.status.code() != Some(0) {
        let pods = rig.kubectl(&["get", "pods", "-n", ns, "-o", "wide"])?;
        return Err(format!(
            "failover {args:?} exit {:?}: {} {stderr}\n{pods}\n{}",
            out.status.code(),
            report["reasons"],
            crate::harness::head_diagnostics(rig, ns)
        )
        .into());
    }
    Ok(report)
}

/// `kubectl rayha failover rayservice-ha -n ns -y ARGS -o json`, however it ended: its exit, its
/// report and its stderr.
pub(crate) fn failover_report(
    rig: &Rig,
    ns: &str,
    args: &[&str],
) -> Result<(Output, Value, String), Failed> {
    let mut all = vec!["failover", "rayservice-ha", "-n", ns, "-y", "-o", "json"];
    all.extend(args);
    let out = rig.rayha(&all, None);
    let (stdout, stderr) = text(&out);
    let report: Value = serde_json::from_str(&stdout)
        .map_err(|e| format!("failover -o json: {e}: {stdout} {stderr}"))?;
    print_stalls(&report);
    Ok((out, report, stderr))
}

/// Each round's longest stretch without a success and slowest success (see REQUEST_TIMEOUT).
pub(crate) fn print_stalls(report: &Value) {
    for round in report["rounds"].as_array().into_iter().flatten() {
        println!(
            "round {}: longest without a success {} s, slowest success {} ms",
            round["round"],
            round["requests"]["longest_without_success_s"],
            round["requests"]["latency_ms"]["max"]
        );
    }
}

pub(crate) fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
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
    let ns = Namespace::create(rig, "rayha-apply")?;
    let out = rig.rayha(&["apply", "-n", &ns.name, "--wait=false"], None);
    let (stdout, stderr) = text(&out);
    ensure(out.status.success(), format!("first apply: {stderr}"))?;
    for object in [
        "secret/rayservice-ha-redis-password",
        "configmap/rayservice-ha-redis-config",
        "persistentvolumeclaim/rayservice-ha-redis-data",
        "service/rayservice-ha-redis",
        "deployment/rayservice-ha-redis",
        "poddisruptionbudget/rayservice-ha-workers",
        "rayservice/rayservice-ha",
    ] {
        ensure(
            stdout.contains(&format!("{object} created")),
            format!("{object} not created: {stdout}"),
        )?;
    }
    let created = stdout.lines().count();
    ensure(created == 7, format!("not 7 objects: {stdout}"))?;
    // The claim binds once Redis is scheduled (WaitForFirstConsumer): the PV controller then
    // writes spec.volumeName, which is not the second apply's doing.
    let deadline = Instant::now() + Duration::from_secs(60);
    while rig.kubectl(&[
        "get",
        "pvc",
        "rayservice-ha-redis-data",
        "-n",
        &ns.name,
        "-o",
        "jsonpath={.status.phase}",
    ])? != "Bound"
    {
        ensure(Instant::now() < deadline, "the Redis claim never bound")?;
        std::thread::sleep(Duration::from_millis(500));
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
        stdout.lines().count() == created && stdout.lines().all(|l| l.ends_with(" unchanged")),
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
    let ns = Namespace::create(rig, "rayha-reject")?;
    let list = generate_json(&[])?;
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
        (
            // KubeRay 1.7's field, which the rig's operator CRD (1.5/1.6) does not serve.
            "a field of a newer CRD",
            Box::new(|o: &mut Value| {
                if o["kind"] == "RayService" {
                    o["spec"]["rayClusterConfig"]["gcsFaultToleranceOptions"]["backend"] =
                        "redis".into();
                }
            }),
        ),
        (
            // Issue 14: a claim that could never bind would leave Redis Pending for good.
            "a StorageClass that does not exist",
            Box::new(|o: &mut Value| {
                if o["kind"] == "PersistentVolumeClaim" {
                    o["spec"]["storageClassName"] = "no-such-class".into();
                }
            }),
        ),
    ] {
        let mut broken = list.clone();
        for o in items_mut(&mut broken) {
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
        let culprit = if label.contains("StorageClass") {
            "persistentvolumeclaim/rayservice-ha-redis-data: StorageClass \"no-such-class\" does not exist (the cluster has: rig-block)"
        } else if label.contains("name") {
            "configmap/Bad_Name"
        } else {
            "rayservice/rayservice-ha"
        };
        ensure(
            stderr.contains(culprit),
            format!("{label}: does not name {culprit}: {stderr}"),
        )?;
        if label.contains("newer CRD") {
            ensure(
                stderr.contains("backend") && stderr.contains("KubeRay CRDs may be older"),
                format!("{label}: does not name the field: {stderr}"),
            )?;
        }
        ensure(
            rig.snapshot(&ns.name)? == before,
            format!("{label}: the namespace changed"),
        )?;
        println!("{label}: {}", stderr.trim());
    }
    status_names_a_field_the_crd_dropped(rig, &ns.name, &list)
}

/// A RayService with a KubeRay 1.7 field, sent with plain client-side `kubectl apply
/// --validate=false` as users do, is stored without it; `status` names the field. (No GCS
/// fault tolerance and an image the rig does not have: no Redis cleanup finalizer, no Ray.)
fn status_names_a_field_the_crd_dropped(rig: &Rig, ns: &str, bundle: &Value) -> TestResult {
    let mut rs = bundle["items"]
        .as_array()
        .and_then(|i| i.iter().find(|o| o["kind"] == "RayService"))
        .cloned()
        .ok_or("no RayService in the bundle")?;
    crate::harness::without_gcs_ft(&mut rs);
    let head = &mut rs["spec"]["rayClusterConfig"]["headGroupSpec"];
    head["ingressOptions"] = serde_json::json!({"host": "fruit.example"});
    head["template"]["spec"]["containers"][0]["image"] = "rig.invalid/not-ray:1".into();
    let file = std::env::temp_dir().join(format!("rayha-dropped-{}.json", std::process::id()));
    std::fs::write(&file, rs.to_string()).map_err(|e| e.to_string())?;
    let applied = rig.kubectl(&[
        "apply",
        "--validate=false",
        "-n",
        ns,
        "-f",
        file.to_str().unwrap(),
    ]);
    let _ = std::fs::remove_file(&file);
    applied?;
    let versions = status_check(rig, ns, "versions")?;
    ensure(
        versions["level"] == "WARN"
            && versions["message"]
                .as_str()
                .is_some_and(|m| m.contains("spec.rayClusterConfig.headGroupSpec.ingressOptions")),
        format!("status does not name the dropped field: {versions}"),
    )?;
    println!("status on a dropped field: {}", versions["message"]);
    Ok(())
}

/// A user bound to the read-only `view` role is stopped before anything changes, with the
/// missing verb and resource named.
fn read_only_user_is_stopped_before_changes(rig: &Rig) -> TestResult {
    let ns = Namespace::create(rig, "rayha-viewer")?;
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
    let out = rig.rayha(&["apply", "--wait=false"], Some(kc.as_path()));
    let (_, stderr) = text(&out);
    // A node drill asks for everything a drain needs before it reads anything.
    let drill = rig.rayha(
        &["failover", "rayservice-ha", "--target", "node", "-y"],
        Some(kc.as_path()),
    );
    let (_, drill_err) = text(&drill);
    let _ = std::fs::remove_dir_all(&dir);
    ensure(
        drill.status.code() == Some(1)
            && [
                "delete pods",
                "patch nodes",
                "list pods",
                "create pods/eviction",
            ]
            .iter()
            .all(|p| drill_err.contains(p)),
        format!("node drill: missing permissions not named: {drill_err}"),
    )?;
    println!("{}", drill_err.trim());
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
    let ns = Namespace::create(rig, "rayha-delete")?;
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
    // The lock a killed failover drill leaves behind goes too.
    rig.apply_json(&serde_json::json!({
        "apiVersion": "coordination.k8s.io/v1",
        "kind": "Lease",
        "metadata": {
            "name": "rayservice-ha-rayha-failover",
            "namespace": ns.name,
            "labels": {
                "app.kubernetes.io/managed-by": "kubectl-rayha",
                "app.kubernetes.io/instance": "rayservice-ha",
            },
        },
        "spec": {"holderIdentity": "killed drill", "leaseDurationSeconds": 60},
    }))?;
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
        "persistentvolumeclaim/rayservice-ha-redis-data",
        "secret/rayservice-ha-redis-password",
        "pod/rayservice-ha-tester",
        "lease/rayservice-ha-rayha-failover",
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
        "all,cm,secret,pvc,leases,rayservices.ray.io",
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
