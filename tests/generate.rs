//! `kubectl rayha generate`: parity with KubeRay's HA sample, schema validity against the v1.7.0
//! CRD, lossless k8s-openapi round trips, determinism and output forms.

mod common;

use common::*;
use serde_json::Value;

fn serve_config(rs: &Value) -> Value {
    rayha::serve_config::parse(rs["spec"]["serveConfigV2"].as_str().unwrap()).unwrap()
}

fn sample() -> Vec<Value> {
    yaml_file(&kuberay_data("ray-service.high-availability.yaml"))
}

/// Differences from the sample that are deliberate; each is asserted to really differ below, so
/// this list cannot go stale.
const DELIBERATE_DIFFERENCES: &[&str] = &[
    "Redis objects and the password Secret are prefixed with the RayService name (several bundles per namespace)",
    "the Redis password is generated per bundle and read from the Secret; no ConfigMap holds it",
    "worker minReplicas is 2, not 1, so an autoscaler cannot drop below HA",
    "Redis /data is on a PersistentVolumeClaim, so its AOF survives the loss of the Redis pod",
    "every object carries app.kubernetes.io/managed-by and instance labels",
    "Redis runs under a restrictive securityContext with resource requests",
    "the head container has a preStop pause, so the serve Service stops routing to it before its proxy exits",
    "the head gives Ray's dashboard modules 180 s to start, not 30 s, so a restarted head on a busy node keeps its dashboard",
    "worker pods spread over Kubernetes nodes, each RayCluster on its own, under a PodDisruptionBudget",
    "Ray and Redis pods leave a not-ready or unreachable node after 30 s, not 300 s",
    "worker containers have the head's preStop pause",
    "Redis never runs on the head's node",
    "the serve Service routes to the workers only: the head's proxy dies with its GCS",
];

#[test]
fn default_bundle_matches_the_ha_sample_on_every_ha_field() {
    let ours = generate(&[]);
    let theirs = sample();
    let (o, t) = (
        find(&ours, "RayService").unwrap(),
        find(&theirs, "RayService").unwrap(),
    );
    let (oc, tc) = (
        &o["spec"]["rayClusterConfig"],
        &t["spec"]["rayClusterConfig"],
    );

    // Identical fields.
    for pointer in [
        "/metadata/name",
        "/spec/rayClusterConfig/rayVersion",
        "/spec/rayClusterConfig/headGroupSpec/rayStartParams/num-cpus",
        "/spec/rayClusterConfig/headGroupSpec/template/spec/containers/0/image",
        "/spec/rayClusterConfig/headGroupSpec/template/spec/containers/0/resources",
        "/spec/rayClusterConfig/workerGroupSpecs/0/replicas",
        "/spec/rayClusterConfig/workerGroupSpecs/0/maxReplicas",
        "/spec/rayClusterConfig/workerGroupSpecs/0/groupName",
        "/spec/rayClusterConfig/workerGroupSpecs/0/template/spec/containers/0/image",
        "/spec/rayClusterConfig/workerGroupSpecs/0/template/spec/containers/0/resources",
        "/spec/rayClusterConfig/gcsFaultToleranceOptions/redisPassword/valueFrom/secretKeyRef/key",
    ] {
        assert_eq!(o.pointer(pointer), t.pointer(pointer), "{pointer}");
        assert!(o.pointer(pointer).is_some(), "{pointer} present");
    }
    assert_eq!(oc["headGroupSpec"]["rayStartParams"]["num-cpus"], "0");

    // The Serve application: route, import path, working dir, and per deployment the replicas,
    // max per node, user_config and actor options.
    let (os, ts) = (serve_config(o), serve_config(t));
    for key in ["name", "import_path", "route_prefix", "runtime_env"] {
        assert_eq!(
            os["applications"][0][key], ts["applications"][0][key],
            "{key}"
        );
    }
    let (od, td) = (
        os["applications"][0]["deployments"].as_array().unwrap(),
        ts["applications"][0]["deployments"].as_array().unwrap(),
    );
    assert_eq!(od.len(), td.len());
    for (a, b) in od.iter().zip(td) {
        for key in [
            "name",
            "num_replicas",
            "max_replicas_per_node",
            "user_config",
            "ray_actor_options",
        ] {
            assert_eq!(a[key], b[key], "{} {key}", b["name"]);
        }
    }

    // Redis address: both point at the Redis Service of their own bundle, on 6379.
    for (bundle, cluster) in [(&ours, oc), (&theirs, tc)] {
        let addr = cluster["gcsFaultToleranceOptions"]["redisAddress"]
            .as_str()
            .unwrap();
        let (host, port) = addr.rsplit_once(':').unwrap();
        assert_eq!(port, "6379");
        let svc = bundle
            .iter()
            .find(|d| d["kind"] == "Service" && d["metadata"]["name"] == host);
        assert!(svc.is_some(), "no Service {host} for {addr}");
        assert_eq!(svc.unwrap()["spec"]["ports"][0]["port"], 6379);
    }
    // Password: both read from a Secret in their own bundle.
    for (bundle, cluster) in [(&ours, oc), (&theirs, tc)] {
        let r = &cluster["gcsFaultToleranceOptions"]["redisPassword"]["valueFrom"]["secretKeyRef"];
        let secret = bundle
            .iter()
            .find(|d| d["kind"] == "Secret" && d["metadata"]["name"] == r["name"])
            .unwrap();
        assert!(secret["data"][r["key"].as_str().unwrap()].is_string());
    }

    // The deliberate differences, each checked to be real.
    assert_eq!(DELIBERATE_DIFFERENCES.len(), 13);
    assert_eq!(o["spec"]["excludeHeadPodFromServeSvc"], true);
    assert!(t["spec"]["excludeHeadPodFromServeSvc"].is_null());
    let head = |c: &Value| c["headGroupSpec"]["template"]["spec"]["containers"][0].clone();
    let env_value = |c: &Value, name: &str| {
        head(c)["env"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|e| e["name"] == name)
            .map(|e| e["value"].clone())
    };
    let timeout = rayha::lint::DASHBOARD_MODULE_TIMEOUT_ENV;
    assert_eq!(env_value(oc, timeout), Some(Value::from("180")));
    assert_eq!(env_value(tc, timeout), None);
    assert_eq!(
        head(oc)["lifecycle"]["preStop"]["exec"]["command"][0],
        "sleep"
    );
    assert!(head(tc)["lifecycle"].is_null());
    let worker = |c: &Value| c["workerGroupSpecs"][0]["template"]["spec"].clone();
    assert_eq!(
        worker(oc)["containers"][0]["lifecycle"],
        head(oc)["lifecycle"]
    );
    assert!(worker(tc)["containers"][0]["lifecycle"].is_null());
    let spread = &worker(oc)["topologySpreadConstraints"][0];
    assert_eq!(spread["topologyKey"], "kubernetes.io/hostname");
    assert_eq!(spread["whenUnsatisfiable"], "DoNotSchedule");
    assert_eq!(spread["matchLabelKeys"][0], "ray.io/cluster");
    assert!(worker(tc)["topologySpreadConstraints"].is_null());
    assert!(find(&ours, "PodDisruptionBudget").is_some());
    assert!(find(&theirs, "PodDisruptionBudget").is_none());
    // Ray pods keep Kubernetes' tolerations: KubeRay replaces a lost node's pod only once its
    // object is gone, whatever the toleration.
    for spec in [worker(oc), oc["headGroupSpec"]["template"]["spec"].clone()] {
        assert!(spec["tolerations"].is_null(), "{spec}");
    }
    assert_ne!(
        oc["gcsFaultToleranceOptions"]["redisAddress"],
        tc["gcsFaultToleranceOptions"]["redisAddress"]
    );
    let their_cm = theirs
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "redis-config")
        .unwrap();
    assert!(
        their_cm["data"]["redis.conf"]
            .as_str()
            .unwrap()
            .contains("requirepass")
    );
    for cm in ours.iter().filter(|d| d["kind"] == "ConfigMap") {
        assert!(
            !cm.to_string().contains("requirepass "),
            "password directive in {}",
            cm["metadata"]["name"]
        );
    }
    assert_eq!(oc["workerGroupSpecs"][0]["minReplicas"], 2);
    assert_eq!(tc["workerGroupSpecs"][0]["minReplicas"], 1);
    let redis = |b: &[Value]| {
        b.iter()
            .find(|d| d["kind"] == "Deployment")
            .unwrap()
            .clone()
    };
    let data = redis(&ours)["spec"]["template"]["spec"]["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "data")
        .cloned()
        .unwrap();
    let claim = data["persistentVolumeClaim"]["claimName"].clone();
    let pvc = find(&ours, "PersistentVolumeClaim").unwrap();
    assert_eq!(pvc["metadata"]["name"], claim);
    assert_eq!(pvc["spec"]["accessModes"][0], "ReadWriteOnce");
    assert!(pvc["spec"]["storageClassName"].is_null(), "default class");
    assert!(
        redis(&theirs)["spec"]["template"]["spec"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|v| v["name"] != "data")
    );
    for obj in &ours {
        assert_eq!(
            obj["metadata"]["labels"]["app.kubernetes.io/managed-by"],
            "kubectl-rayha"
        );
        assert_eq!(
            obj["metadata"]["labels"]["app.kubernetes.io/instance"],
            "rayservice-ha"
        );
        assert!(
            theirs
                .iter()
                .all(|t| t["metadata"]["labels"]["app.kubernetes.io/managed-by"].is_null())
        );
    }
    let sc = &redis(&ours)["spec"]["template"]["spec"];
    assert_eq!(sc["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        sc["containers"][0]["securityContext"]["readOnlyRootFilesystem"],
        true
    );
    assert!(sc["containers"][0]["resources"]["requests"]["memory"].is_string());
    assert!(redis(&theirs)["spec"]["template"]["spec"]["securityContext"].is_null());
    let anti = |b: &[Value]| {
        redis(b)["spec"]["template"]["spec"]["affinity"]["podAntiAffinity"]
            ["requiredDuringSchedulingIgnoredDuringExecution"][0]
            .clone()
    };
    assert_eq!(anti(&ours)["topologyKey"], "kubernetes.io/hostname");
    assert_eq!(
        anti(&ours)["labelSelector"]["matchLabels"]["ray.io/node-type"],
        "head"
    );
    assert!(anti(&theirs).is_null());
    assert_eq!(
        redis(&ours)["spec"]["template"]["spec"]["tolerations"][1]["tolerationSeconds"],
        30
    );
}

#[test]
fn generated_password_lives_only_in_the_secret() {
    let out = run(&["generate"]);
    let text = stdout(&out);
    let objects = rayha::yaml::parse_documents(&text).unwrap();
    let secret = find(&objects, "Secret").unwrap();
    use base64::Engine;
    let password = String::from_utf8(
        base64::engine::general_purpose::STANDARD
            .decode(secret["data"]["password"].as_str().unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(password.len(), 32);
    assert!(password.chars().all(|c| c.is_ascii_alphanumeric()));
    assert!(
        !text.contains(&password),
        "the clear password is printed somewhere"
    );
    assert!(!stderr(&out).contains(&password));
    // A second run draws a new password.
    let again = generate(&[]);
    assert_ne!(find(&again, "Secret").unwrap()["data"], secret["data"]);
}

#[test]
fn every_generated_rayservice_validates_against_the_crd_schema() {
    let schema = strict_rayservice_schema(&kuberay_data("ray.io_rayservices.yaml"));
    let validator = jsonschema::validator_for(&schema).expect("CRD schema compiles");
    // The schema must be able to fail: a wrong type and an unknown field are refused.
    let mut broken = find(&generate(&[]), "RayService").unwrap().clone();
    broken["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["replicas"] = "two".into();
    assert!(!validator.is_valid(&broken));
    let mut unknown = find(&generate(&[]), "RayService").unwrap().clone();
    unknown["spec"]["rayClusterConfig"]["gcsFaultToleranceOptions"]["redisAdress"] = "x:1".into();
    assert!(!validator.is_valid(&unknown));

    let dir = tempfile::tempdir().unwrap();
    let combos = combinations(dir.path());
    assert!(combos.len() >= 11);
    for (label, args) in combos {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let objects = generate(&args);
        let rs = find(&objects, "RayService").unwrap_or_else(|| panic!("{label}: no RayService"));
        let errors: Vec<String> = validator
            .iter_errors(rs)
            .map(|e| format!("{} at {}", e, e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{label}: {errors:#?}");
    }
}

/// Deserialises into the k8s-openapi type and back; the JSON must be unchanged.
fn round_trip<T: serde::de::DeserializeOwned + serde::Serialize>(label: &str, v: &Value) {
    let typed: T = serde_json::from_value(v.clone())
        .unwrap_or_else(|e| panic!("{label}: {} does not deserialise: {e}", v["kind"]));
    let back = serde_json::to_value(&typed).unwrap();
    assert_eq!(
        &back, v,
        "{label}: {} {} changed in a round trip",
        v["kind"], v["metadata"]["name"]
    );
}

#[test]
fn every_core_object_round_trips_through_k8s_openapi() {
    use k8s_openapi::api::{apps::v1::Deployment, core::v1::*};
    let dir = tempfile::tempdir().unwrap();
    let mut kinds = std::collections::BTreeSet::new();
    for (label, args) in combinations(dir.path()) {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        for obj in generate(&args) {
            let kind = obj["kind"].as_str().unwrap().to_string();
            match kind.as_str() {
                "Secret" => round_trip::<Secret>(&label, &obj),
                "ConfigMap" => round_trip::<ConfigMap>(&label, &obj),
                "Service" => round_trip::<Service>(&label, &obj),
                "Deployment" => round_trip::<Deployment>(&label, &obj),
                "PersistentVolumeClaim" => round_trip::<PersistentVolumeClaim>(&label, &obj),
                "Pod" => round_trip::<Pod>(&label, &obj),
                "PodDisruptionBudget" => {
                    round_trip::<k8s_openapi::api::policy::v1::PodDisruptionBudget>(&label, &obj)
                }
                "RayService" => continue,
                other => panic!("{label}: unexpected kind {other}"),
            }
            kinds.insert(kind);
        }
    }
    assert_eq!(kinds.len(), 7, "every core kind exercised: {kinds:?}");
}

#[test]
fn generate_output_lints_clean_for_every_combination() {
    let dir = tempfile::tempdir().unwrap();
    for (label, args) in combinations(dir.path()) {
        let mut all = vec!["generate".to_string()];
        all.extend(args);
        let all: Vec<&str> = all.iter().map(String::as_str).collect();
        let text = stdout(&run(&all));
        let report = rayha::lint::lint_text(&label, &text).unwrap();
        let not_pass: Vec<_> = report.objects[0]
            .checks
            .iter()
            .filter(|c| c.level != rayha::lint::Level::Pass)
            .map(|c| format!("{} {:?}: {}", c.id, c.level, c.message))
            .collect();
        assert!(not_pass.is_empty(), "{label}: {not_pass:#?}");
    }
}

#[test]
fn same_inputs_give_byte_identical_output_but_the_password() {
    let fixed = ["--redis-password-secret", "mine", "--with-tester"];
    let a = run(&[&["generate"][..], &fixed].concat());
    let b = run(&[&["generate"][..], &fixed].concat());
    assert!(a.status.success());
    assert_eq!(a.stdout, b.stdout);
    assert!(!stdout(&a).contains("kind: Secret"));

    let strip = |s: String| {
        s.lines()
            .filter(|l| !l.trim_start().starts_with("password:"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let (x, y) = (stdout(&run(&["generate"])), stdout(&run(&["generate"])));
    assert_ne!(x, y);
    assert_eq!(strip(x), strip(y));
}

#[test]
fn serve_config_file_is_made_ha_with_a_warning_per_change() {
    let dir = tempfile::tempdir().unwrap();
    let combos = combinations(dir.path());
    let args: Vec<&str> = combos[6].1.iter().map(String::as_str).collect();
    let out = run(&[&["generate"][..], &args].concat());
    assert!(out.status.success(), "{}", stderr(&out));
    let warnings: Vec<String> = stderr(&out)
        .lines()
        .filter(|l| l.starts_with("warning:"))
        .map(str::to_string)
        .collect();
    // Summarizer: replicas 1 -> 2, max per node unset -> 1; Translator: max per node 2 -> 1.
    assert_eq!(warnings.len(), 3, "{warnings:#?}");
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("Summarizer") && w.contains("num_replicas 2"))
    );
    assert!(
        warnings
            .iter()
            .any(|w| w.contains("Translator") && w.contains("max_replicas_per_node 2 set to 1"))
    );
    let objects = rayha::yaml::parse_documents(&stdout(&out)).unwrap();
    let rs = find(&objects, "RayService").unwrap();
    let sc = serve_config(rs);
    assert_eq!(sc["applications"][0]["deployments"][0]["num_replicas"], 2);
    assert_eq!(sc["applications"][0]["deployments"][1]["num_replicas"], 3);
    assert_eq!(
        sc["applications"][0]["deployments"][1]["max_replicas_per_node"],
        1
    );
    // Three replicas at one per node need three workers.
    assert_eq!(
        rs["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["replicas"],
        3
    );
    // The user's other settings survive untouched.
    assert_eq!(
        sc["applications"][0]["deployments"][0]["ray_actor_options"]["num_cpus"],
        0.2
    );
}

#[test]
fn flags_override_the_values_file() {
    let dir = tempfile::tempdir().unwrap();
    let values = dir.path().join("v.yaml");
    std::fs::write(
        &values,
        "name: from-file\nworker-replicas: 3\nhead-cpu: '2'\n",
    )
    .unwrap();
    let objects = generate(&[
        "--values",
        values.to_str().unwrap(),
        "--worker-replicas",
        "4",
    ]);
    let rs = find(&objects, "RayService").unwrap();
    assert_eq!(rs["metadata"]["name"], "from-file");
    assert_eq!(
        rs["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["replicas"],
        4
    );
    assert_eq!(
        rs["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]["resources"]
            ["requests"]["cpu"],
        "2"
    );
}

#[test]
fn external_redis_emits_no_redis_objects() {
    let objects = generate(&[
        "--redis-address",
        "redis.infra:6379",
        "--redis-password-secret",
        "infra-redis",
    ]);
    let kinds: Vec<&str> = objects
        .iter()
        .map(|o| o["kind"].as_str().unwrap())
        .collect();
    assert_eq!(kinds, ["PodDisruptionBudget", "RayService"]);
    let ft = &find(&objects, "RayService").unwrap()["spec"]["rayClusterConfig"]["gcsFaultToleranceOptions"];
    assert_eq!(ft["redisAddress"], "redis.infra:6379");
    assert_eq!(
        ft["redisPassword"]["valueFrom"]["secretKeyRef"]["name"],
        "infra-redis"
    );
}

#[test]
fn legacy_kuberay_uses_the_annotation_form_and_says_so() {
    let out = run(&["generate", "--kuberay-version", "1.2"]);
    assert!(out.status.success());
    assert!(stderr(&out).contains("warning: KubeRay 1.2 has no gcsFaultToleranceOptions"));
    let objects = rayha::yaml::parse_documents(&stdout(&out)).unwrap();
    let rs = find(&objects, "RayService").unwrap();
    assert_eq!(rs["metadata"]["annotations"]["ray.io/ft-enabled"], "true");
    let cluster = &rs["spec"]["rayClusterConfig"];
    assert!(cluster["gcsFaultToleranceOptions"].is_null());
    let env = cluster["headGroupSpec"]["template"]["spec"]["containers"][0]["env"]
        .as_array()
        .unwrap();
    assert!(
        env.iter()
            .any(|e| e["name"] == "RAY_REDIS_ADDRESS" && e["value"] == "rayservice-ha-redis:6379")
    );
    assert!(
        env.iter().any(|e| e["name"] == "REDIS_PASSWORD"
            && e["valueFrom"]["secretKeyRef"]["key"] == "password")
    );
}

#[test]
fn tester_runs_the_guide_request_against_the_serve_service() {
    let objects = generate(&["--with-tester"]);
    let pod = find(&objects, "Pod").unwrap();
    let env = pod["spec"]["containers"][0]["env"].as_array().unwrap();
    let var = |n: &str| {
        env.iter()
            .find(|e| e["name"] == n)
            .map(|e| e["value"].clone())
    };
    assert_eq!(
        var("RAYHA_URL").unwrap(),
        "http://rayservice-ha-serve-svc:8000/fruit/"
    );
    assert_eq!(var("RAYHA_DATA").unwrap(), r#"["PEAR", 12]"#);
    assert_eq!(var("RAYHA_EXPECT").unwrap(), "12");
    let cm = objects
        .iter()
        .find(|o| o["kind"] == "ConfigMap" && o["metadata"]["name"] == "rayservice-ha-tester")
        .unwrap();
    assert!(
        cm["data"]["query.py"]
            .as_str()
            .unwrap()
            .contains("num_fail")
    );
    // Applied last: after the RayService it queries.
    assert_eq!(objects.last().unwrap()["kind"], "Pod");
}

#[test]
fn json_output_is_a_list_of_the_same_objects() {
    let fixed = ["--redis-password-secret", "s"];
    let yaml = generate(&fixed);
    let out = run(&[&["generate", "-o", "json"][..], &fixed].concat());
    let list: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(list["kind"], "List");
    assert_eq!(list["items"].as_array().unwrap(), &yaml);
}

#[test]
fn output_dir_writes_one_file_per_object_in_apply_order() {
    let dir = tempfile::tempdir().unwrap();
    let target = dir.path().join("bundle");
    let out = run(&[
        "generate",
        "--with-tester",
        "--redis-storage",
        "1Gi",
        "--output-dir",
        target.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let mut names: Vec<String> = std::fs::read_dir(&target)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "01-secret-rayservice-ha-redis-password.yaml",
            "02-configmap-rayservice-ha-redis-config.yaml",
            "03-persistentvolumeclaim-rayservice-ha-redis-data.yaml",
            "04-configmap-rayservice-ha-tester.yaml",
            "05-service-rayservice-ha-redis.yaml",
            "06-deployment-rayservice-ha-redis.yaml",
            "07-poddisruptionbudget-rayservice-ha-workers.yaml",
            "08-rayservice-rayservice-ha.yaml",
            "09-pod-rayservice-ha-tester.yaml",
        ]
    );
    let rs = yaml_file(&target.join("08-rayservice-rayservice-ha.yaml"));
    assert_eq!(rs.len(), 1);
    assert_eq!(rs[0]["kind"], "RayService");
}

/// (worker pod spec, Redis pod spec, head pod spec) of a bundle.
fn pod_specs(objects: &[Value]) -> (Value, Value, Value) {
    let rs = find(objects, "RayService").unwrap();
    let cluster = &rs["spec"]["rayClusterConfig"];
    let redis = find(objects, "Deployment").unwrap();
    (
        cluster["workerGroupSpecs"][0]["template"]["spec"].clone(),
        redis["spec"]["template"]["spec"].clone(),
        cluster["headGroupSpec"]["template"]["spec"].clone(),
    )
}

#[test]
fn spread_modes_and_the_node_loss_toleration() {
    let keys = |w: &Value| -> Vec<String> {
        w["topologySpreadConstraints"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|c| c["topologyKey"].as_str().unwrap().to_string())
            .collect()
    };
    let (worker, redis, _) = pod_specs(&generate(&[]));
    assert_eq!(keys(&worker), ["kubernetes.io/hostname"]);
    assert!(redis["affinity"]["podAntiAffinity"].is_object());
    let (worker, _, _) = pod_specs(&generate(&["--spread", "zone"]));
    assert_eq!(
        keys(&worker),
        ["topology.kubernetes.io/zone", "kubernetes.io/hostname"]
    );
    // A one-node cluster: no rule at all, and Redis may share the head's node.
    let (worker, redis, head) = pod_specs(&generate(&[
        "--spread",
        "none",
        "--node-loss-toleration",
        "1m",
    ]));
    assert!(keys(&worker).is_empty());
    assert!(redis["affinity"].is_null());
    let seconds: Vec<&Value> = redis["tolerations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| &t["tolerationSeconds"])
        .collect();
    assert_eq!(seconds, [60, 60]);
    assert!(worker["tolerations"].is_null() && head["tolerations"].is_null());
    // The budget's bound follows the workers: one of them may go.
    let objects = generate(&["--worker-replicas", "4"]);
    let budget = find(&objects, "PodDisruptionBudget").unwrap();
    assert_eq!(budget["spec"]["minAvailable"], 3);
    assert!(budget["spec"]["maxUnavailable"].is_null());
}

#[test]
fn bad_spread_and_toleration_values_are_usage_errors_naming_the_flag() {
    let dir = tempfile::tempdir().unwrap();
    let values = dir.path().join("v.yaml");
    std::fs::write(&values, "spread: rack\n").unwrap();
    for (args, words) in [
        (
            vec!["--spread", "rack"],
            vec!["--spread", "node, zone, none"],
        ),
        (
            vec!["--values", values.to_str().unwrap()],
            vec!["spread", "node, zone or none"],
        ),
        (
            vec!["--node-loss-toleration", "0"],
            vec!["node-loss-toleration", "1s to 300s"],
        ),
        (
            vec!["--node-loss-toleration", "10m"],
            vec!["node-loss-toleration", "1s to 300s"],
        ),
    ] {
        let out = run(&[&["generate"][..], &args].concat());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = stderr(&out);
        assert!(err.starts_with("error: "), "{err}");
        for w in words {
            assert!(err.contains(w), "{args:?}: {err}");
        }
    }
}

#[test]
fn redis_storage_none_keeps_an_emptydir_and_a_class_names_the_claims_class() {
    let none = generate(&["--redis-storage", "none"]);
    assert!(find(&none, "PersistentVolumeClaim").is_none());
    let (_, redis, _) = pod_specs(&none);
    let data = redis["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "data")
        .unwrap();
    assert!(data["emptyDir"].is_object(), "{data}");

    let classed = generate(&["--storage-class", "fast-ssd", "--redis-storage", "5Gi"]);
    let pvc = find(&classed, "PersistentVolumeClaim").unwrap();
    assert_eq!(pvc["spec"]["storageClassName"], "fast-ssd");
    assert_eq!(pvc["spec"]["resources"]["requests"]["storage"], "5Gi");

    let out = run(&[
        "generate",
        "--redis-storage",
        "none",
        "--redis-storage-class",
        "fast-ssd",
    ]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(
        err.contains("--redis-storage-class") && err.contains("--redis-storage none"),
        "{err}"
    );
}

#[test]
fn redis_tls_puts_the_key_material_only_in_its_secret_and_speaks_tls_only() {
    let bundle = generate(&["--redis-tls", "-n", "prod"]);
    let secret = bundle
        .iter()
        .find(|d| d["kind"] == "Secret" && d["metadata"]["name"] == "rayservice-ha-redis-tls")
        .unwrap();
    assert_eq!(secret["type"], "kubernetes.io/tls");
    let pem = |key: &str| {
        let b64 = secret["data"][key].as_str().unwrap();
        String::from_utf8(
            base64::Engine::decode(&base64::engine::general_purpose::STANDARD, b64).unwrap(),
        )
        .unwrap()
    };
    assert!(pem("ca.crt").starts_with("-----BEGIN CERTIFICATE-----"));
    assert!(pem("tls.crt").starts_with("-----BEGIN CERTIFICATE-----"));
    let key = pem("tls.key");
    assert!(key.starts_with("-----BEGIN PRIVATE KEY-----"));
    // The key and the certificates appear nowhere else, encoded or not.
    for obj in bundle.iter().filter(|d| d != &secret) {
        let text = obj.to_string();
        for needle in [secret["data"]["tls.key"].as_str().unwrap(), "PRIVATE KEY"] {
            assert!(
                !text.contains(needle),
                "{} holds key material",
                obj["metadata"]["name"]
            );
        }
    }
    let rs = find(&bundle, "RayService").unwrap();
    let cluster = &rs["spec"]["rayClusterConfig"];
    assert_eq!(
        cluster["gcsFaultToleranceOptions"]["redisAddress"],
        "rediss://rayservice-ha-redis:6379"
    );
    let head = &cluster["headGroupSpec"]["template"]["spec"];
    let ca_env = head["containers"][0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "RAY_REDIS_CA_CERT")
        .unwrap();
    // The head mounts the CA only, where its env says.
    let mount = &head["containers"][0]["volumeMounts"][0];
    assert_eq!(
        ca_env["value"].as_str().unwrap(),
        format!("{}/ca.crt", mount["mountPath"].as_str().unwrap())
    );
    assert_eq!(head["volumes"][0]["secret"]["items"][0]["key"], "ca.crt");
    assert_eq!(
        head["volumes"][0]["secret"]["items"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
    let conf = bundle
        .iter()
        .find(|d| d["kind"] == "ConfigMap" && d["metadata"]["name"] == "rayservice-ha-redis-config")
        .unwrap()["data"]["redis.conf"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(rayha::status::tls_only(&conf), "{conf}");
    let (_, redis, _) = pod_specs(&bundle);
    let probe = redis["containers"][0]["readinessProbe"]["exec"]["command"][2]
        .as_str()
        .unwrap();
    assert!(probe.contains("--tls --cacert"), "{probe}");
    // A second bundle gets its own CA.
    let again = generate(&["--redis-tls", "-n", "prod"]);
    let ca = |b: &[Value]| {
        b.iter()
            .find(|d| d["metadata"]["name"] == "rayservice-ha-redis-tls")
            .unwrap()["data"]["ca.crt"]
            .clone()
    };
    assert_ne!(ca(&bundle), ca(&again));

    let out = run(&["generate", "--redis-tls", "--redis-address", "r:6379"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--redis-tls"), "{}", stderr(&out));
}
