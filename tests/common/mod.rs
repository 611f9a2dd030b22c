//! Helpers shared by the CLI tests: run the built binary, parse what it prints.
#![allow(dead_code)]

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::Value;

pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_kubectl-rayha"))
}

/// `tests/data/kuberay/<file>`: KubeRay's reference data (provenance in its SOURCE.md).
pub fn kuberay_data(file: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/kuberay")
        .join(file)
}

/// The rig's real failover reports kept as test data (`tests/data/failover-report-rig-*.json`),
/// oldest first: a new one is added by dropping the file in.
pub fn rig_reports() -> Vec<(PathBuf, Value)> {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("failover-report-rig-")
                && p.extension().is_some_and(|e| e == "json")
        })
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let v = serde_json::from_str(&std::fs::read_to_string(&p).unwrap()).unwrap();
            (p, v)
        })
        .collect()
}

pub fn run(args: &[&str]) -> Output {
    run_with_stdin(args, None)
}

pub fn run_with_stdin(args: &[&str], stdin: Option<&str>) -> Output {
    use std::io::Write;
    let mut child = Command::new(bin())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("binary runs");
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

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Runs `generate` with `args` and returns its objects; panics with stderr when it fails.
pub fn generate(args: &[&str]) -> Vec<Value> {
    let mut all = vec!["generate"];
    all.extend_from_slice(args);
    let out = run(&all);
    assert!(
        out.status.success(),
        "generate {args:?} failed: {}",
        stderr(&out)
    );
    rayha::yaml::parse_documents(&stdout(&out)).expect("generate prints YAML")
}

pub fn find<'a>(objects: &'a [Value], kind: &str) -> Option<&'a Value> {
    objects.iter().find(|o| o["kind"] == kind)
}

pub fn yaml_file(path: &std::path::Path) -> Vec<Value> {
    rayha::yaml::parse_documents(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Parameter combinations that every generated bundle must survive (schema, round trip, lint).
/// Files they name are written into `dir` first.
pub fn combinations(dir: &std::path::Path) -> Vec<(String, Vec<String>)> {
    let serve_fixed = dir.join("serve-fixed.yaml");
    std::fs::write(
        &serve_fixed,
        "applications:\n- name: text\n  import_path: text_ml:app\n  route_prefix: /summarize\n  deployments:\n  - name: Summarizer\n    num_replicas: 1\n    ray_actor_options: {num_cpus: 0.2}\n  - name: Translator\n    num_replicas: 3\n    max_replicas_per_node: 2\n",
    )
    .unwrap();
    let serve_auto = dir.join("serve-auto.yaml");
    std::fs::write(
        &serve_auto,
        "proxy_location: EveryNode\nhttp_options: {port: 8000}\napplications:\n- name: a\n  import_path: a.b:app\n  route_prefix: /a\n  deployments:\n  - name: A\n    num_replicas: auto\n  - name: B\n    autoscaling_config: {min_replicas: 1, max_replicas: 6}\n- name: c\n  import_path: c:app\n  route_prefix: /c\n  deployments:\n  - name: C\n",
    )
    .unwrap();
    let values = dir.join("values.yaml");
    std::fs::write(
        &values,
        "name: from-values\nworker-replicas: 3\nredis-storage: 2Gi\nwith-tester: true\n",
    )
    .unwrap();
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        ("default".into(), s(&[])),
        ("tester".into(), s(&["--with-tester"])),
        (
            "external redis".into(),
            s(&["--redis-address", "redis.shared.svc.cluster.local:6379"]),
        ),
        (
            "external redis, existing secret".into(),
            s(&[
                "--redis-address",
                "rediss://cache.example:6380",
                "--redis-password-secret",
                "corp-redis",
                "--redis-password-key",
                "auth",
            ]),
        ),
        (
            "redis on a PVC".into(),
            s(&[
                "--redis-storage",
                "5Gi",
                "--redis-storage-class",
                "fast-ssd",
            ]),
        ),
        (
            "legacy KubeRay 1.2".into(),
            s(&[
                "--kuberay-version",
                "1.2.2",
                "--external-storage-namespace",
                "ns1",
            ]),
        ),
        (
            "serve config, fixed replicas".into(),
            vec!["--serve-config".into(), serve_fixed.display().to_string()],
        ),
        (
            "serve config, autoscaling, two apps".into(),
            vec![
                "--serve-config".into(),
                serve_auto.display().to_string(),
                "--with-tester".into(),
            ],
        ),
        (
            "own app".into(),
            s(&[
                "--import-path",
                "mymod:app",
                "--deployments",
                "Front,Back",
                "--route-prefix",
                "/api",
                "--serve-replicas",
                "3",
            ]),
        ),
        (
            "sizes".into(),
            s(&[
                "--worker-replicas",
                "4",
                "--min-workers",
                "3",
                "--max-workers",
                "8",
                "--head-cpu",
                "2",
                "--head-memory",
                "4Gi",
                "--head-memory-limit",
                "6Gi",
                "--worker-cpu",
                "500m",
                "--worker-memory",
                "1536Mi",
            ]),
        ),
        (
            "namespace and name".into(),
            s(&[
                "-n",
                "prod",
                "--name",
                "my-svc",
                "--external-storage-namespace",
                "my-svc-gcs",
            ]),
        ),
        (
            "older ray".into(),
            s(&["--ray-version", "2.41.0", "--kuberay-version", "1.3.0"]),
        ),
        (
            "values file".into(),
            vec!["--values".into(), values.display().to_string()],
        ),
        (
            "zone spread, one-minute toleration".into(),
            s(&["--spread", "zone", "--node-loss-toleration", "1m"]),
        ),
        // The newest Ray the rig's version matrix runs (rig/versions.env RAY_VERSIONS).
        ("newest Ray".into(), s(&["--ray-version", "2.60.0"])),
    ]
}

/// The v1 openAPIV3Schema of the RayService CRD, made strict: objects reject fields the schema
/// does not name (the API server would prune them silently; strict field validation refuses).
pub fn strict_rayservice_schema(crd_file: &std::path::Path) -> Value {
    let crd = yaml_file(crd_file).remove(0);
    let version = crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "v1")
        .unwrap();
    let mut schema = version["schema"]["openAPIV3Schema"].clone();
    fn strict(v: &mut Value) {
        match v {
            Value::Object(map) => {
                let preserve =
                    map.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
                if map.contains_key("properties")
                    && !map.contains_key("additionalProperties")
                    && !preserve
                {
                    map.insert("additionalProperties".into(), Value::Bool(false));
                }
                map.values_mut().for_each(strict);
            }
            Value::Array(items) => items.iter_mut().for_each(strict),
            _ => {}
        }
    }
    strict(&mut schema);
    schema
}

/// A drill report as a 10-minute round at 2000 req/s would give (1.2 million requests through
/// the series and the statistics), with every request failing from 2 s to 6 s after the kill.
/// Returns the report as JSON.
pub fn synthetic_drill() -> Value {
    use rayha::failover::{self, Event, Phases, Report, Round, Survival};
    use rayha::load::series::Series;
    use rayha::load::stats::Recorder;
    use rayha::load::{Cause, Sample};
    use std::time::{Duration, Instant};

    let start = Instant::now();
    let kill = start + Duration::from_secs(5);
    let mut series = Series::new(start);
    let mut all = Recorder::new(start);
    let (rate, seconds) = (2000u64, 600u64);
    for i in 0..rate * seconds {
        let intended = start + Duration::from_micros(i * 1_000_000 / rate);
        let from_kill = intended.saturating_duration_since(kill).as_secs_f64();
        let failing = intended >= kill && (2.0..6.0).contains(&from_kill);
        let sample = Sample {
            index: i,
            intended,
            finished: intended + Duration::from_micros(800 + (i % 97) * 40),
            outcome: if failing {
                Err(Cause::Status(503))
            } else {
                Ok(())
            },
        };
        series.record(&sample);
        all.record(&sample);
    }
    all.finish(start + Duration::from_secs(seconds));
    let summary = all.summary();
    let timeline = [
        (0.0, "deleted head pod synthetic-head-old"),
        (0.1, "old pod synthetic-head-old terminating"),
        (1.9, "serve endpoints ready: 0/3"),
        (7.3, "new pod synthetic-head-new created"),
        (30.2, "new pod synthetic-head-new Ready"),
        (36.0, "serve endpoints ready: 3/3"),
        (36.0, "fully recovered"),
    ];
    let mut report = Report {
        schema: failover::REPORT_SCHEMA_ID.into(),
        rayservice: "synthetic".into(),
        namespace: "bench".into(),
        target: "head".into(),
        route: "url".into(),
        connection: "keep-alive".into(),
        started_unix: 1_800_000_000.0,
        rounds: vec![Round {
            round: 1,
            killed_pod: "synthetic-head-old".into(),
            drained_node: None,
            change: None,
            killed_uid: "uid".into(),
            replacement_pod: Some("synthetic-head-new".into()),
            killed_at_unix: summary.started_unix + 5.0,
            timeline: timeline
                .iter()
                .map(|(t, e)| Event {
                    t_s: *t,
                    event: e.to_string(),
                })
                .collect(),
            recovery_s: Some(36.0),
            requests: summary.clone(),
            phases: Phases {
                before: Some(summary.clone()),
                during: Some(summary.clone()),
                after: Some(summary),
            },
            routes: vec![],
            series: Some(series.data(kill)),
            survival: Survival {
                replicas_unchanged: true,
                replicas_checked: true,
                ..Default::default()
            },
            passed: true,
            reasons: vec![],
            diagnosis: None,
            served: Some(failover::Served {
                before: failover::Serving {
                    cluster: Some("synthetic-abcde".into()),
                    ray: Some("2.52.0".into()),
                    head_image: Some("rayproject/ray:2.52.0".into()),
                    apps: [("fruit_app".to_string(), "RUNNING".to_string())].into(),
                },
                after: failover::Serving::default(),
            }),
            left_to_kuberay: None,
            gcs: None,
        }],
        total_requests: 0,
        total_failures: 0,
        recovery_s: None,
        max_failures: 0,
        max_recovery_s: None,
        passed: false,
        reasons: vec![],
        interrupted: false,
        versions: Some(rayha::status::Versions {
            kuberay: Some("v1.5.0".into()),
            ray: Some("2.52.0".into()),
            head_image: Some("rayproject/ray:2.52.0".into()),
        }),
        update: None,
    };
    failover::finish(&mut report);
    serde_json::to_value(&report).unwrap()
}

/// The buckets of a series (JSON) holding failures: (start s, end s, failures).
pub fn failing_buckets(series: &Value) -> Vec<(f64, f64, u64)> {
    let start = series["start_s"].as_f64().unwrap();
    let width = series["width_s"].as_f64().unwrap();
    series["failures"]
        .as_array()
        .unwrap()
        .iter()
        .enumerate()
        .filter(|(_, n)| n.as_u64().unwrap() > 0)
        .map(|(i, n)| {
            (
                start + i as f64 * width,
                start + (i + 1) as f64 * width,
                n.as_u64().unwrap(),
            )
        })
        .collect()
}

/// `(data-t0, data-t1, data-failures)` of every failure rect in rendered HTML.
pub fn fail_rects(html: &str) -> Vec<(f64, f64, u64)> {
    html.split("<rect class=\"fail\"")
        .skip(1)
        .map(|r| {
            let attr = |name: &str| -> String {
                let from = r.find(&format!("{name}=\"")).unwrap() + name.len() + 2;
                r[from..from + r[from..].find('"').unwrap()].to_string()
            };
            (
                attr("data-t0").parse().unwrap(),
                attr("data-t1").parse().unwrap(),
                attr("data-failures").parse().unwrap(),
            )
        })
        .collect()
}
