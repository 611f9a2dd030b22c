//! The failover report: its JSON validates against the documented schema
//! (docs/failover-report.schema.json), the verdict follows the numbers, and the JUnit file parses.

mod common;

use rayha::failover::{self, Event, Phases, Report, Round, RouteResult, Survival};
use std::time::{Duration, Instant};

use rayha::load::series::{Series, SeriesData};
use rayha::load::stats::Recorder;
use rayha::load::{Cause, Sample};
use serde_json::Value;

fn schema() -> jsonschema::Validator {
    let path =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/failover-report.schema.json");
    let schema: Value = serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    jsonschema::validator_for(&schema).unwrap()
}

fn empty_summary() -> rayha::load::stats::Summary {
    let start = std::time::Instant::now();
    let mut r = Recorder::new(start);
    r.finish(start);
    r.summary()
}

/// Five seconds before the kill and ten after, `failures` of them in the second after the kill.
fn series(failures: u64) -> SeriesData {
    let start = Instant::now();
    let mut s = Series::new(start);
    for ms in (0..15_000u64).step_by(10) {
        let intended = start + Duration::from_millis(ms);
        let failed = (5_000..6_000).contains(&ms) && ms < 5_000 + failures * 10;
        s.record(&Sample {
            index: 0,
            intended,
            finished: intended + Duration::from_millis(3),
            outcome: if failed { Err(Cause::Timeout) } else { Ok(()) },
        });
    }
    s.data(start + Duration::from_secs(5))
}

fn round(n: u32, failures: u64, recovery: Option<f64>) -> Round {
    let mut requests = empty_summary();
    requests.requests = 100;
    requests.failures = failures;
    requests.successes = 100 - failures;
    Round {
        round: n,
        killed_pod: format!("rs-head-{n}"),
        drained_node: None,
        change: None,
        killed_uid: "uid".into(),
        replacement_pod: Some("rs-head-new".into()),
        killed_at_unix: 1.0,
        timeline: vec![
            Event {
                t_s: 0.0,
                event: "deleted head pod".into(),
            },
            Event {
                t_s: 4.2,
                event: "new pod Ready".into(),
            },
        ],
        recovery_s: recovery,
        requests: requests.clone(),
        phases: Phases {
            before: Some(requests.clone()),
            during: Some(requests),
            after: None,
        },
        routes: vec![],
        series: Some(series(failures)),
        survival: Survival {
            replicas_unchanged: true,
            replicas_checked: true,
            ..Default::default()
        },
        passed: recovery.is_some(),
        reasons: if recovery.is_some() {
            vec![]
        } else {
            vec!["no full recovery within 300 s".into()]
        },
        // A round that did not recover carries why the head is not Ready.
        diagnosis: recovery.is_none().then(|| rayha::status::HeadDiagnosis {
            pod: Some("rs-head-new".into()),
            cause: "the Ray dashboard does not answer on :8265".into(),
            fix: "set RAY_DASHBOARD_SUBPROCESS_MODULE_WAIT_READY_TIMEOUT".into(),
            evidence: vec!["restarts 0".into()],
        }),
        served: None,
        left_to_kuberay: None,
        gcs: None,
    }
}

fn report(rounds: Vec<Round>, max_failures: u64) -> Report {
    let mut r = Report {
        schema: failover::REPORT_SCHEMA_ID.into(),
        rayservice: "rs".into(),
        namespace: "ns".into(),
        target: "head".into(),
        route: "proxy".into(),
        connection: "keep-alive to the API server".into(),
        started_unix: 0.0,
        rounds,
        total_requests: 0,
        total_failures: 0,
        recovery_s: None,
        max_failures,
        max_recovery_s: None,
        passed: false,
        reasons: vec![],
        interrupted: false,
        versions: Some(rayha::status::Versions {
            kuberay: Some("v1.5.0".into()),
            ray: Some("2.52.0".into()),
            head_image: None,
        }),
        update: None,
    };
    failover::finish(&mut r);
    r
}

#[test]
fn verdict_follows_failures_and_recovery() {
    let ok = report(
        vec![
            round(1, 0, Some(3.0)),
            round(2, 1, Some(5.0)),
            round(3, 0, Some(4.0)),
        ],
        1,
    );
    assert!(ok.passed, "{:?}", ok.reasons);
    assert_eq!(ok.total_failures, 1);
    let stats = ok.recovery_s.as_ref().unwrap();
    assert_eq!((stats.min, stats.median, stats.max), (3.0, 4.0, 5.0));

    let too_many = report(vec![round(1, 2, Some(3.0))], 1);
    assert!(!too_many.passed);
    assert!(too_many.reasons[0].contains("more than --max-failures 1"));

    let stuck = report(vec![round(1, 0, None)], 0);
    assert!(!stuck.passed);
    assert!(
        stuck
            .reasons
            .iter()
            .any(|r| r.contains("round 1: no full recovery"))
    );
}

#[test]
fn reports_validate_against_the_documented_schema() {
    let v = schema();
    for r in [
        report(vec![round(1, 0, Some(3.0)), round(2, 0, None)], 0),
        report(vec![], 0),
    ] {
        let json = serde_json::to_value(&r).unwrap();
        let errors: Vec<String> = v
            .iter_errors(&json)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{errors:#?}");
    }
    // Real reports from the rig (tests/data/failover-report-rig-*.json; older ones lack newer
    // optional fields such as `series`).
    let rig_reports = common::rig_reports();
    assert!(!rig_reports.is_empty(), "no rig report in tests/data");
    for (path, rig) in &rig_reports {
        let errors: Vec<String> = v
            .iter_errors(rig)
            .map(|e| format!("{e} at {}", e.instance_path()))
            .collect();
        assert!(errors.is_empty(), "{}: {errors:#?}", path.display());
        // The schema can fail: a report without its verdict is refused.
        let mut broken = rig.clone();
        broken.as_object_mut().unwrap().remove("passed");
        assert!(!v.is_valid(&broken));
    }
}

/// An `apply --load` report interrupted half-way through a new-cluster upgrade.
fn interrupted_apply() -> Report {
    let serving = |rc: &str, ray: &str| failover::Serving {
        cluster: Some(rc.into()),
        ray: Some(ray.into()),
        head_image: Some(format!("rayproject/ray:{ray}")),
        apps: [("fruit_app".to_string(), "RUNNING".to_string())].into(),
    };
    let mut r = round(1, 0, None);
    r.change = Some("applied the bundle: a new-cluster upgrade".into());
    r.reasons = vec!["interrupted before recovery".into()];
    r.diagnosis = None;
    r.served = Some(failover::Served {
        before: serving("rs-aaaaa", "2.52.0"),
        after: serving("rs-aaaaa", "2.52.0"),
    });
    r.left_to_kuberay = Some(
        "pending RayCluster rs-bbbbb starting (1 of 3 pods Ready), the serve Service still on rs-aaaaa".into(),
    );
    let mut report = report(vec![r], 0);
    report.target = "apply".into();
    report.interrupted = true;
    report.update = Some(failover::Update {
        kind: "new-cluster".into(),
        description: "a new-cluster upgrade: KubeRay starts a pending RayCluster".into(),
        changed: vec!["rayservice/rs".into()],
    });
    failover::finish(&mut report);
    report
}

#[test]
fn an_apply_report_says_the_update_who_served_and_where_it_was_left() {
    let report = interrupted_apply();
    let json = serde_json::to_value(&report).unwrap();
    let errors: Vec<String> = schema()
        .iter_errors(&json)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    assert!(!report.passed);
    assert_eq!(report.outcome(), rayha::error::Outcome::Interrupted);
    let text = failover::render_text(&report);
    for want in [
        "apply under load on rayservice/rs",
        "changes: rayservice/rs",
        "update: new-cluster",
        "left to KubeRay: pending RayCluster rs-bbbbb starting (1 of 3 pods Ready)",
        "served before: RayCluster rs-aaaaa (Ray 2.52.0, rayproject/ray:2.52.0), apps: fruit_app RUNNING",
        "verdict: FAIL",
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
    // A drill's report says neither.
    let drill = failover::render_text(&report_of_a_drill());
    assert!(drill.starts_with("failover drill on") && !drill.contains("left to KubeRay"));
}

fn report_of_a_drill() -> Report {
    report(vec![round(1, 0, Some(3.0))], 0)
}

#[test]
fn the_schema_covers_the_time_series() {
    let v = schema();
    let good = serde_json::to_value(report(vec![round(1, 3, Some(3.0))], 0)).unwrap();
    assert!(v.is_valid(&good));
    let series = &good["rounds"][0]["series"];
    assert_eq!(series["start_s"], -5.0);
    assert_eq!(
        series["failures"][50], 3,
        "the failures sit in the bucket at t = 0"
    );
    let broken = |path: &str, value: Value| {
        let mut r = good.clone();
        *r.pointer_mut(path).unwrap() = value;
        v.is_valid(&r)
    };
    assert!(!broken("/rounds/0/series/width_s", 0.into()));
    assert!(!broken("/rounds/0/series/failures/0", (-1).into()));
    assert!(!broken("/rounds/0/series/p50_ms/0", "fast".into()));
    assert!(!broken(
        "/rounds/0/series/successes",
        serde_json::json!(vec![1; 601])
    ));
}

#[test]
fn junit_has_one_case_per_round_and_marks_failures() {
    let r = report(vec![round(1, 0, Some(3.0)), round(2, 0, None)], 0);
    let xml = failover::junit(&r);
    assert!(xml.starts_with("<?xml"));
    assert_eq!(xml.matches("<testcase ").count(), 2);
    assert_eq!(xml.matches("<failure ").count(), 1);
    assert!(xml.contains("tests=\"2\" failures=\"1\""));
    assert_eq!(
        xml.matches("<testcase").count(),
        xml.matches("</testcase>").count()
    );
}

#[test]
fn failover_refuses_bad_arguments_before_touching_a_cluster() {
    for (args, field) in [
        (vec!["failover", "rs", "--rounds", "0"], "rounds"),
        (vec!["failover", "rs", "--warmup", "soon"], "warmup"),
        (
            vec!["failover", "rs", "--max-recovery", "-1"],
            "max-recovery",
        ),
        (vec!["failover", "rs", "--target", "etcd"], "etcd"),
    ] {
        let out = common::run(&args);
        assert_eq!(
            out.status.code(),
            Some(2),
            "{args:?}: {}",
            common::stderr(&out)
        );
        assert!(
            common::stderr(&out).contains(field),
            "{args:?}: {}",
            common::stderr(&out)
        );
    }
}

/// Round `n` of a drill with the proxy and the pod route, `pod_failures` of the pod's requests
/// failed.
fn two_route_round(n: u32, pod_failures: u64) -> Round {
    let mut r = round(n, pod_failures, Some(3.0));
    let part = |requests: u64, failures: u64| {
        let mut s = empty_summary();
        s.requests = requests;
        s.failures = failures;
        s.successes = requests - failures;
        s
    };
    let route =
        |route: &str, connection: &str, pod: Option<&str>, requests, failures| RouteResult {
            route: route.into(),
            connection: connection.into(),
            pod: pod.map(str::to_string),
            requests: part(requests, failures),
            phases: Phases {
                before: Some(part(requests / 2, 0)),
                during: Some(part(requests / 2, failures)),
                after: None,
            },
        };
    r.routes = vec![
        route("proxy", "keep-alive to the API server", None, 60, 0),
        route(
            "pod",
            "fresh",
            Some("rs-rayha-failover-ab12c"),
            40,
            pod_failures,
        ),
    ];
    r
}

#[test]
fn a_drill_on_two_routes_reports_each_and_counts_both() {
    let mut r = report(vec![two_route_round(1, 2)], 0);
    r.route = "proxy+pod".into();
    r.connection = "proxy: keep-alive to the API server; pod: fresh".into();
    let json = serde_json::to_value(&r).unwrap();
    let v = schema();
    let errors: Vec<String> = v
        .iter_errors(&json)
        .map(|e| format!("{e} at {}", e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
    let routes = json["rounds"][0]["routes"].as_array().unwrap();
    assert_eq!(routes.len(), 2);
    assert_eq!(routes[1]["route"], "pod");
    assert_eq!(routes[1]["pod"], "rs-rayha-failover-ab12c");
    assert_eq!(routes[1]["requests"]["failures"], 2);
    assert!(routes[0].get("pod").is_none());
    // The pod route's failures fail the verdict like any other.
    assert!(!r.passed);
    assert_eq!(r.total_failures, 2);
    // Back from JSON as it was written.
    let back: Report = serde_json::from_value(json.clone()).unwrap();
    assert_eq!(back.rounds[0].routes.len(), 2);
    assert_eq!(back.rounds[0].routes[1].requests.failures, 2);
    // The text report gives a line per route, the JUnit failure names each route's failures.
    let text = failover::render_text(&r);
    assert!(text.contains("load via proxy+pod"), "{text}");
    let route_lines: Vec<&str> = text
        .lines()
        .filter(|l| l.trim_start().starts_with("route "))
        .collect();
    assert_eq!(route_lines.len(), 2, "{text}");
    assert!(route_lines[1].contains("pod") && route_lines[1].contains("failures    2"));
    assert!(route_lines[1].contains("during 2 of 20 failed"), "{text}");
    let xml = failover::junit(&r);
    assert!(
        xml.contains("2 failed request(s) (proxy 0, pod 2)"),
        "{xml}"
    );
    // An unknown route name or a route without its numbers is refused by the schema.
    let broken = |path: &str, value: Value| {
        let mut j = json.clone();
        *j.pointer_mut(path).unwrap() = value;
        v.is_valid(&j)
    };
    assert!(!broken("/rounds/0/routes/0/route", "port-forward".into()));
    assert!(!broken("/route", "pod+pod".into()));
    let mut no_requests = json.clone();
    no_requests["rounds"][0]["routes"][0]
        .as_object_mut()
        .unwrap()
        .remove("requests");
    assert!(!v.is_valid(&no_requests));
}

#[test]
fn a_drill_on_one_route_writes_no_routes_and_older_reports_load() {
    let r = report(vec![round(1, 0, Some(3.0))], 0);
    let json = serde_json::to_value(&r).unwrap();
    assert!(json["rounds"][0].get("routes").is_none());
    let text = failover::render_text(&r);
    assert!(
        !text.lines().any(|l| l.trim_start().starts_with("route ")),
        "{text}"
    );
    // The rig's reports predate the routes: they load, with none.
    for (path, rig) in common::rig_reports() {
        let back: Report =
            serde_json::from_value(rig).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        assert!(back.rounds.iter().all(|r| r.routes.is_empty()));
    }
}
