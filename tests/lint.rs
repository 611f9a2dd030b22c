//! `kubectl rayha lint` on KubeRay's own samples and on edge cases.

mod common;

use common::*;
use serde_json::Value;

fn checks(report: &Value) -> Vec<(String, String)> {
    report["objects"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["id"].as_str().unwrap().to_string(),
                c["level"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

fn lint_json(path: &std::path::Path) -> (Value, i32) {
    let out = run(&["lint", "-o", "json", path.to_str().unwrap()]);
    (
        serde_json::from_slice(&out.stdout).unwrap(),
        out.status.code().unwrap(),
    )
}

fn level_of(checks: &[(String, String)], id: &str) -> String {
    checks
        .iter()
        .find(|(i, _)| i == id)
        .unwrap_or_else(|| panic!("no check {id}"))
        .1
        .clone()
}

/// The guide's manifest survives the loss of the head pod, not of a node: its only failures are
/// the node-level checks (issue 12), each explained.
#[test]
fn ha_sample_fails_only_on_node_loss_and_its_inline_password_is_a_warn() {
    let (report, code) = lint_json(&kuberay_data("ray-service.high-availability.yaml"));
    let c = checks(&report);
    assert_eq!(code, 1);
    let failing: Vec<&str> = c
        .iter()
        .filter(|(_, l)| l == "FAIL")
        .map(|(id, _)| id.as_str())
        .collect();
    assert_eq!(failing, ["worker-spread", "disruption-budget"], "{c:?}");
    assert_eq!(level_of(&c, "redis-password"), "WARN");
    assert_eq!(level_of(&c, "gcs-fault-tolerance"), "PASS");
    assert_eq!(level_of(&c, "head-no-replicas"), "PASS");
    assert_eq!(level_of(&c, "head-start-timeout"), "WARN");
    assert_eq!(level_of(&c, "node-loss-toleration"), "WARN");
    assert_eq!(level_of(&c, "worker-prestop"), "WARN");
    assert_eq!(report["summary"]["fail"], 2);
    for miss in report["objects"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["level"] != "PASS")
    {
        assert!(miss["why"].is_string() && miss["fix"].is_string(), "{miss}");
    }
}

#[test]
fn plain_sample_fails_on_ft_head_cpus_and_replicas() {
    let (report, code) = lint_json(&kuberay_data("ray-service.sample.yaml"));
    let c = checks(&report);
    assert_eq!(code, 1);
    for id in [
        "gcs-fault-tolerance",
        "head-no-replicas",
        "serve-replicas",
        "replicas-per-node",
    ] {
        assert_eq!(level_of(&c, id), "FAIL", "{id}");
    }
    let ft = &report["objects"][0]["checks"][1];
    assert_eq!(ft["id"], "gcs-fault-tolerance");
    assert!(ft["why"].as_str().unwrap().contains("replica"));
    assert!(
        ft["fix"]
            .as_str()
            .unwrap()
            .contains("gcsFaultToleranceOptions")
    );
}

#[test]
fn text_output_explains_each_miss() {
    let out = run(&[
        "lint",
        kuberay_data("ray-service.sample.yaml").to_str().unwrap(),
    ]);
    let text = stdout(&out);
    let fail_lines = text
        .lines()
        .filter(|l| l.trim_start().starts_with("FAIL"))
        .count();
    assert!(fail_lines >= 4, "{text}");
    assert_eq!(
        text.lines()
            .filter(|l| l.trim_start().starts_with("why:"))
            .count(),
        text.lines()
            .filter(|l| l.trim_start().starts_with("fix:"))
            .count()
    );
    assert!(
        text.lines()
            .filter(|l| l.trim_start().starts_with("why:"))
            .count()
            >= fail_lines
    );
    assert!(!text.contains('\u{1b}'), "no colour codes when piped");
}

#[test]
fn reads_standard_input() {
    let ours = stdout(&run(&["generate"]));
    for args in [vec!["lint"], vec!["lint", "-"]] {
        let out = run_with_stdin(&args, Some(&ours));
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(
            stdout(&out).contains("22 pass, 0 warn, 0 fail"),
            "{}",
            stdout(&out)
        );
    }
}

fn lint_doc(yaml: &str) -> Vec<(String, String)> {
    let report = rayha::lint::lint_text("t", yaml).unwrap();
    let json = serde_json::to_value(&report).unwrap();
    checks(&json)
}

fn ours_with(edit: impl Fn(&mut Value)) -> String {
    let mut objects = generate(&["--redis-password-secret", "s"]);
    for o in objects.iter_mut().filter(|o| o["kind"] == "RayService") {
        edit(o);
    }
    rayha::yaml::to_yaml_documents(&objects)
}

#[test]
fn kuberay_validation_rules_are_failures() {
    let both = ours_with(|rs| {
        rs["metadata"]["annotations"] = serde_json::json!({"ray.io/ft-enabled": "false"})
    });
    assert_eq!(level_of(&lint_doc(&both), "gcs-fault-tolerance"), "FAIL");
    let username = ours_with(|rs| {
        rs["spec"]["rayClusterConfig"]["headGroupSpec"]["rayStartParams"]["redis-username"] =
            "u".into()
    });
    assert_eq!(level_of(&lint_doc(&username), "ft-settings"), "FAIL");
    let env = ours_with(|rs| {
        rs["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"][0]["env"] =
            serde_json::json!([{"name": "RAY_REDIS_ADDRESS", "value": "r:6379"}])
    });
    assert_eq!(level_of(&lint_doc(&env), "ft-settings"), "FAIL");
    let long_name = ours_with(|rs| rs["metadata"]["name"] = "a".repeat(48).into());
    assert_eq!(level_of(&lint_doc(&long_name), "name"), "FAIL");
    let number = ours_with(|rs| {
        rs["spec"]["rayClusterConfig"]["headGroupSpec"]["rayStartParams"]["num-cpus"] = 0.into()
    });
    assert_eq!(level_of(&lint_doc(&number), "head-no-replicas"), "FAIL");
    let mismatch = ours_with(|rs| rs["spec"]["rayClusterConfig"]["rayVersion"] = "2.41.0".into());
    assert_eq!(level_of(&lint_doc(&mismatch), "image-version"), "FAIL");
    let excluded = ours_with(|rs| {
        rs["spec"]["rayClusterConfig"]["headGroupSpec"]["rayStartParams"] = serde_json::json!({});
        rs["spec"]["excludeHeadPodFromServeSvc"] = true.into();
    });
    assert_eq!(level_of(&lint_doc(&excluded), "head-no-replicas"), "PASS");
}

fn with_dashboard_timeout(value: Option<&str>) -> String {
    ours_with(|rs| {
        let env = &mut rs["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"]
            [0]["env"];
        let mut kept: Vec<Value> = env
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["name"] != rayha::lint::DASHBOARD_MODULE_TIMEOUT_ENV)
            .cloned()
            .collect();
        if let Some(v) = value {
            kept.push(
                serde_json::json!({"name": rayha::lint::DASHBOARD_MODULE_TIMEOUT_ENV, "value": v}),
            );
        }
        *env = Value::Array(kept);
    })
}

#[test]
fn a_head_without_a_long_dashboard_module_timeout_warns() {
    assert_eq!(
        level_of(
            &lint_doc(&with_dashboard_timeout(Some("180"))),
            "head-start-timeout"
        ),
        "PASS"
    );
    for weak in [None, Some("30"), Some("soon")] {
        let c = lint_doc(&with_dashboard_timeout(weak));
        assert_eq!(level_of(&c, "head-start-timeout"), "WARN", "{weak:?}");
        assert!(c.iter().all(|(_, l)| l != "FAIL"), "{weak:?}: {c:?}");
    }
}

#[test]
fn too_few_workers_fail_and_a_low_minimum_warns() {
    let few = ours_with(|rs| {
        rs["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["replicas"] = 1.into()
    });
    assert_eq!(level_of(&lint_doc(&few), "worker-replicas"), "FAIL");
    let low_min = ours_with(|rs| {
        rs["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["minReplicas"] = 0.into()
    });
    assert_eq!(level_of(&lint_doc(&low_min), "worker-replicas"), "WARN");
}

#[test]
fn input_without_a_rayservice_is_an_error() {
    let out = run_with_stdin(
        &["lint"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"),
    );
    assert_eq!(out.status.code(), Some(1));
    assert!(stderr(&out).starts_with("error: -: no RayService"));
}

#[test]
fn list_documents_are_linted_item_by_item() {
    let list = stdout(&run(&["generate", "-o", "json"]));
    let out = run_with_stdin(&["lint"], Some(&list));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
}

/// Our bundle moved to KubeRay 1.7's embedded RocksDB backend, with `storage` as given.
fn rocksdb_with(storage: Value) -> String {
    ours_with(|rs| {
        rs["spec"]["rayClusterConfig"]["gcsFaultToleranceOptions"] =
            serde_json::json!({"backend": "rocksdb", "storage": storage.clone()})
    })
}

#[test]
fn the_rocksdb_backend_warns_what_it_survives_and_drops_the_redis_checks() {
    let c = lint_doc(&rocksdb_with(serde_json::json!({"size": "1Gi"})));
    assert_eq!(level_of(&c, "gcs-fault-tolerance"), "PASS");
    assert_eq!(level_of(&c, "gcs-backend"), "WARN");
    // No Redis address or password is wanted (KubeRay rejects them with rocksdb).
    assert_eq!(level_of(&c, "redis-address"), "PASS");
    assert_eq!(level_of(&c, "redis-password"), "PASS");
    assert!(c.iter().all(|(_, l)| l != "FAIL"), "{c:?}");
    let shared = lint_doc(&rocksdb_with(
        serde_json::json!({"accessModes": ["ReadWriteMany"]}),
    ));
    assert_eq!(level_of(&shared, "gcs-backend"), "WARN");
    let report = rayha::lint::lint_text("t", &rocksdb_with(serde_json::json!({}))).unwrap();
    let backend = report.objects[0]
        .checks
        .iter()
        .find(|c| c.id == "gcs-backend")
        .unwrap();
    assert!(
        backend.why.unwrap().contains("another node")
            && backend
                .why
                .unwrap()
                .contains("GCSFaultToleranceEmbeddedStorage"),
        "{backend:?}"
    );
}

#[test]
fn kuberay_17_rejections_of_the_rocksdb_backend_are_failures() {
    let redis_left = ours_with(|rs| {
        rs["spec"]["rayClusterConfig"]["gcsFaultToleranceOptions"]["backend"] = "rocksdb".into()
    });
    assert_eq!(level_of(&lint_doc(&redis_left), "gcs-backend"), "FAIL");
    let claim_and_size = rocksdb_with(serde_json::json!({"claimName": "c", "size": "1Gi"}));
    assert_eq!(level_of(&lint_doc(&claim_and_size), "gcs-backend"), "FAIL");
    let managed_env = ours_with(|rs| {
        let cluster = &mut rs["spec"]["rayClusterConfig"];
        cluster["gcsFaultToleranceOptions"] = serde_json::json!({"backend": "rocksdb"});
        cluster["headGroupSpec"]["template"]["spec"]["containers"][0]["env"] =
            serde_json::json!([{"name": "RAY_gcs_storage_path", "value": "/x"}]);
    });
    assert_eq!(level_of(&lint_doc(&managed_env), "gcs-backend"), "FAIL");
    let storage_with_redis = ours_with(|rs| {
        rs["spec"]["rayClusterConfig"]["gcsFaultToleranceOptions"]["storage"] =
            serde_json::json!({"size": "1Gi"})
    });
    assert_eq!(
        level_of(&lint_doc(&storage_with_redis), "gcs-backend"),
        "FAIL"
    );
    assert_eq!(
        level_of(&lint_doc(&ours_with(|_| {})), "gcs-backend"),
        "PASS"
    );
}

#[test]
fn the_deletion_timeout_annotation_must_be_whole_seconds() {
    let with = |v: &str| {
        let v = v.to_string();
        lint_doc(&ours_with(move |rs| {
            rs["metadata"]["annotations"] =
                serde_json::json!({"ray.io/gcs-ft-deletion-timeout": v.clone()})
        }))
    };
    assert_eq!(level_of(&with("600"), "ft-deletion-timeout"), "PASS");
    for bad in ["0", "10m", "-5", ""] {
        assert_eq!(
            level_of(&with(bad), "ft-deletion-timeout"),
            "WARN",
            "{bad:?}"
        );
    }
    assert_eq!(
        level_of(&lint_doc(&ours_with(|_| {})), "ft-deletion-timeout"),
        "PASS"
    );
}

/// Our bundle with `edit` applied to the worker group's pod spec.
fn worker_spec_with(edit: impl Fn(&mut Value)) -> String {
    ours_with(|rs| {
        edit(&mut rs["spec"]["rayClusterConfig"]["workerGroupSpecs"][0]["template"]["spec"])
    })
}

#[test]
fn workers_need_a_hard_spread_over_hostnames_that_keeps_clusters_apart() {
    assert_eq!(
        level_of(&lint_doc(&ours_with(|_| {})), "worker-spread"),
        "PASS"
    );
    let none = worker_spec_with(|s| {
        s.as_object_mut()
            .unwrap()
            .remove("topologySpreadConstraints");
    });
    assert_eq!(level_of(&lint_doc(&none), "worker-spread"), "FAIL");
    let soft = worker_spec_with(|s| {
        s["topologySpreadConstraints"][0]["whenUnsatisfiable"] = "ScheduleAnyway".into()
    });
    assert_eq!(level_of(&lint_doc(&soft), "worker-spread"), "FAIL");
    let others = worker_spec_with(|s| {
        s["topologySpreadConstraints"][0]["labelSelector"]["matchLabels"]["app.kubernetes.io/instance"] =
            "other".into()
    });
    assert_eq!(level_of(&lint_doc(&others), "worker-spread"), "FAIL");
    // Counting every cluster's workers: an upgrade needs twice the nodes.
    let across = worker_spec_with(|s| {
        s["topologySpreadConstraints"][0]
            .as_object_mut()
            .unwrap()
            .remove("matchLabelKeys");
    });
    assert_eq!(level_of(&lint_doc(&across), "worker-spread"), "WARN");
    let anti = |keys: Option<Value>| {
        worker_spec_with(move |s| {
            let rules = s.as_object_mut().unwrap();
            rules.remove("topologySpreadConstraints");
            let mut term = serde_json::json!({
                "topologyKey": "kubernetes.io/hostname",
                "labelSelector": {"matchLabels": {"ray.io/node-type": "worker"}}
            });
            if let Some(k) = &keys {
                term["matchLabelKeys"] = k.clone();
            }
            rules.insert(
                "affinity".into(),
                serde_json::json!({"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [term]}}),
            );
        })
    };
    assert_eq!(level_of(&lint_doc(&anti(None)), "worker-spread"), "WARN");
    assert_eq!(
        level_of(
            &lint_doc(&anti(Some(serde_json::json!(["ray.io/cluster"])))),
            "worker-spread"
        ),
        "PASS"
    );
}

/// Our whole bundle with `edit` applied to its PodDisruptionBudget.
fn budget_with(edit: impl Fn(&mut Value)) -> String {
    let mut objects = generate(&["--redis-password-secret", "s"]);
    for o in objects
        .iter_mut()
        .filter(|o| o["kind"] == "PodDisruptionBudget")
    {
        edit(o);
    }
    rayha::yaml::to_yaml_documents(&objects)
}

#[test]
fn the_workers_budget_lets_a_drain_take_exactly_one_worker() {
    assert_eq!(
        level_of(&lint_doc(&budget_with(|_| {})), "disruption-budget"),
        "PASS"
    );
    // A RayService alone cannot show its budget: not a failure.
    let rs_only = generate(&["--redis-password-secret", "s"])
        .into_iter()
        .filter(|o| o["kind"] == "RayService")
        .collect::<Vec<_>>();
    let c = lint_doc(&rayha::yaml::to_yaml_documents(&rs_only));
    assert_eq!(level_of(&c, "disruption-budget"), "PASS");
    let gone = generate(&["--redis-password-secret", "s"])
        .into_iter()
        .filter(|o| o["kind"] != "PodDisruptionBudget")
        .collect::<Vec<_>>();
    let c = lint_doc(&rayha::yaml::to_yaml_documents(&gone));
    assert_eq!(level_of(&c, "disruption-budget"), "FAIL");
    for (label, spec) in [
        (
            "maxUnavailable (no scale subresource on RayCluster)",
            serde_json::json!({"maxUnavailable": 1}),
        ),
        ("a percentage", serde_json::json!({"minAvailable": "50%"})),
        ("no eviction at all", serde_json::json!({"minAvailable": 2})),
        (
            "both workers at once",
            serde_json::json!({"minAvailable": 0}),
        ),
        ("no bound", serde_json::json!({})),
    ] {
        let text = budget_with(|b| {
            let selector = b["spec"]["selector"].clone();
            b["spec"] = spec.clone();
            b["spec"]["selector"] = selector;
        });
        assert_eq!(
            level_of(&lint_doc(&text), "disruption-budget"),
            "FAIL",
            "{label}"
        );
    }
    let elsewhere = budget_with(|b| {
        b["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] = "other".into()
    });
    assert_eq!(level_of(&lint_doc(&elsewhere), "disruption-budget"), "FAIL");
    // Two budgets over the same workers: the eviction API refuses their pods.
    let mut objects = generate(&["--redis-password-secret", "s"]);
    let mut second = objects
        .iter()
        .find(|o| o["kind"] == "PodDisruptionBudget")
        .unwrap()
        .clone();
    second["metadata"]["name"] = "second".into();
    objects.push(second);
    let c = lint_doc(&rayha::yaml::to_yaml_documents(&objects));
    assert_eq!(level_of(&c, "disruption-budget"), "FAIL");
}

#[test]
fn redis_that_stays_on_a_lost_node_for_300_s_or_forever_warns() {
    let redis_with = |edit: &dyn Fn(&mut Value)| {
        let mut objects = generate(&["--redis-password-secret", "s"]);
        for o in objects.iter_mut().filter(|o| o["kind"] == "Deployment") {
            edit(&mut o["spec"]["template"]["spec"]);
        }
        rayha::yaml::to_yaml_documents(&objects)
    };
    assert_eq!(
        level_of(&lint_doc(&redis_with(&|_| {})), "node-loss-toleration"),
        "PASS"
    );
    let default = redis_with(&|s| {
        s.as_object_mut().unwrap().remove("tolerations");
    });
    assert_eq!(
        level_of(&lint_doc(&default), "node-loss-toleration"),
        "WARN"
    );
    let forever = redis_with(&|s| {
        for t in s["tolerations"].as_array_mut().unwrap() {
            t.as_object_mut().unwrap().remove("tolerationSeconds");
        }
    });
    assert_eq!(
        level_of(&lint_doc(&forever), "node-loss-toleration"),
        "WARN"
    );
    // Ray pods keep Kubernetes' 300 s: KubeRay replaces a lost node's pod only once it is gone.
    let rayservice_alone = rayha::yaml::to_yaml_documents(
        &generate(&[])
            .into_iter()
            .filter(|o| o["kind"] == "RayService")
            .collect::<Vec<_>>(),
    );
    assert_eq!(
        level_of(&lint_doc(&rayservice_alone), "node-loss-toleration"),
        "PASS"
    );
    let no_prestop = worker_spec_with(|s| {
        s["containers"][0]
            .as_object_mut()
            .unwrap()
            .remove("lifecycle");
    });
    let c = lint_doc(&no_prestop);
    assert_eq!(level_of(&c, "worker-prestop"), "WARN");
    assert_eq!(level_of(&c, "node-loss-toleration"), "PASS");
}

#[test]
fn an_upgrade_strategy_that_cannot_roll_out_a_change_is_said() {
    let with = |strategy: Value| {
        lint_doc(&ours_with(move |rs| {
            rs["spec"]["upgradeStrategy"] = strategy.clone();
        }))
    };
    // Ours says NewCluster; KubeRay's default is the same.
    let ours = generate(&[]);
    let rs = ours.iter().find(|o| o["kind"] == "RayService").unwrap();
    assert_eq!(rs["spec"]["upgradeStrategy"]["type"], "NewCluster");
    assert_eq!(
        level_of(&with(serde_json::json!({})), "upgrade-strategy"),
        "PASS"
    );
    assert_eq!(
        level_of(
            &with(serde_json::json!({"type": "None"})),
            "upgrade-strategy"
        ),
        "WARN"
    );
    assert_eq!(
        level_of(
            &with(serde_json::json!({"type": "Rolling"})),
            "upgrade-strategy"
        ),
        "FAIL"
    );
    let incremental = |options: Value| {
        with(serde_json::json!({
            "type": "NewClusterWithIncrementalUpgrade",
            "clusterUpgradeOptions": options,
        }))
    };
    assert_eq!(
        level_of(&incremental(serde_json::json!({})), "upgrade-strategy"),
        "FAIL"
    );
    assert_eq!(
        level_of(
            &incremental(serde_json::json!({"gatewayClassName": "istio",
                "stepSizePercent": 25, "intervalSeconds": 30})),
            "upgrade-strategy"
        ),
        "PASS"
    );
}
