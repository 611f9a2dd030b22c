//! `kubectl rayha report` and the HTML page: real rig reports render in every format, strings from
//! the cluster are escaped, a 10-minute run at 2000 req/s stays a small file, and two runs compare
//! side by side.

mod common;

use std::path::{Path, PathBuf};

use common::*;
use serde_json::Value;

fn tmp(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

fn write_json(name: &str, v: &Value) -> PathBuf {
    let path = tmp(name);
    std::fs::write(&path, serde_json::to_string_pretty(v).unwrap()).unwrap();
    path
}

/// `report ARGS…`, which must succeed; its standard output.
fn report(args: &[&str]) -> String {
    let mut all = vec!["report"];
    all.extend_from_slice(args);
    let out = run(&all);
    assert!(out.status.success(), "{all:?}: {}", stderr(&out));
    stdout(&out)
}

fn html_of(path: &Path) -> String {
    report(&[path.to_str().unwrap(), "-o", "html"])
}

/// No markup that would load or run anything: no such element, no `src`/`href` attribute, no
/// CSS import or URL, no address at all.
fn assert_self_contained(html: &str) {
    for tag in html
        .split('<')
        .skip(1)
        .map(|t| &t[..t.find('>').unwrap_or(t.len())])
    {
        let name = tag.split_whitespace().next().unwrap_or("").to_lowercase();
        assert!(
            ![
                "script", "link", "img", "iframe", "object", "embed", "image", "use"
            ]
            .contains(&name.as_str()),
            "the page holds <{tag}>"
        );
        for attr in [" src=", " href=", " xlink:href=", "url("] {
            assert!(!tag.contains(attr), "the page holds <{tag}>");
        }
    }
    for bad in ["@import", "url(", "http://", "https://"] {
        assert!(!html.contains(bad), "the page holds {bad:?}");
    }
}

#[test]
fn rig_reports_render_as_text_json_and_html() {
    for (path, rig) in rig_reports() {
        let p = path.to_str().unwrap();
        let text = report(&[p]);
        assert!(text.contains(&format!(
            "rayservice/{}",
            rig["rayservice"].as_str().unwrap()
        )));
        let verdict = if rig["passed"].as_bool().unwrap() {
            "PASS"
        } else {
            "FAIL"
        };
        assert!(text.contains(&format!("verdict: {verdict}")), "{text}");

        // -o json gives the report back as it was saved.
        let again: Value = serde_json::from_str(&report(&[p, "-o", "json"])).unwrap();
        assert_eq!(again, rig, "{}", path.display());

        let html = html_of(&path);
        assert_self_contained(&html);
        assert!(
            html.contains(&format!("verdict fail\">{verdict}"))
                || html.contains(&format!("verdict pass\">{verdict}"))
        );
        let rounds = rig["rounds"].as_array().unwrap();
        assert_eq!(
            html.matches("<section class=\"round\"").count(),
            rounds.len()
        );
        for r in rounds {
            for e in r["timeline"].as_array().unwrap() {
                let text = e["event"].as_str().unwrap();
                assert!(html.contains(text), "event {text:?} not on the page");
            }
            for reason in r["reasons"].as_array().unwrap() {
                assert!(html.contains(reason.as_str().unwrap()));
            }
            let markers = r["timeline"].as_array().unwrap().len();
            assert_eq!(html.matches("<g class=\"marker\"").count(), markers);
            // Failure marks where the data has failures: buckets, or failure windows in older reports.
            let expected = match r.get("series") {
                Some(s) => failing_buckets(s).len(),
                None => r["requests"]["failure_windows"].as_array().unwrap().len(),
            };
            assert_eq!(fail_rects(&html).len(), expected);
        }
    }
}

#[test]
fn strings_from_the_cluster_are_escaped() {
    let (_, mut rig) = rig_reports().pop().unwrap();
    let hostile = r#"<script>alert("x")</script><img src=x onerror=alert(1)>"#;
    rig["rayservice"] = hostile.into();
    rig["rounds"][0]["killed_pod"] = hostile.into();
    rig["rounds"][0]["timeline"][0]["event"] = hostile.into();
    rig["reasons"] = serde_json::json!([hostile]);
    let html = html_of(&write_json("hostile.json", &rig));
    assert_self_contained(&html);
    assert!(html.contains("&lt;script&gt;alert("));
}

#[test]
fn a_round_that_did_not_recover_shows_why_on_the_page() {
    let (_, mut rig) = rig_reports().pop().unwrap();
    rig["rounds"][0]["diagnosis"] = serde_json::json!({
        "pod": "rs-head-new",
        "cause": "the Ray dashboard does not answer on :8265 <&>",
        "fix": "set RAY_DASHBOARD_SUBPROCESS_MODULE_WAIT_READY_TIMEOUT",
        "evidence": ["GCS health :8265/api/gcs_healthz: no answer"],
    });
    let html = html_of(&write_json("diagnosed.json", &rig));
    assert!(
        html.contains("head not Ready: the Ray dashboard does not answer on :8265 &lt;&amp;&gt;")
    );
    assert!(html.contains("fix: set RAY_DASHBOARD_SUBPROCESS_MODULE_WAIT_READY_TIMEOUT"));
}

#[test]
fn ten_minutes_at_2000_per_second_make_a_small_page() {
    let synthetic = synthetic_drill();
    let json = write_json("report-synthetic.json", &synthetic);
    let series = &synthetic["rounds"][0]["series"];
    let buckets = series["successes"].as_array().unwrap().len();
    assert!(buckets <= 600, "{buckets} buckets");
    let counted: u64 = ["successes", "failures"]
        .iter()
        .flat_map(|k| series[k].as_array().unwrap())
        .map(|v| v.as_u64().unwrap())
        .sum();
    assert_eq!(counted, 1_200_000);

    let page = tmp("report-synthetic.html");
    report(&[
        json.to_str().unwrap(),
        "-o",
        "html",
        "--output-file",
        page.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&page).unwrap();
    // The versions the drill found are among the settings.
    assert!(html.contains("KubeRay v1.5.0, Ray 2.52.0 (head image rayproject"));
    println!(
        "synthetic report: {} ({} bytes), page {} ({} bytes)",
        json.display(),
        std::fs::metadata(&json).unwrap().len(),
        page.display(),
        html.len()
    );
    assert!(html.len() < 1_000_000, "{} bytes", html.len());
    assert_self_contained(&html);
    // The failure marks are the failing buckets, all within 2–6 s after the kill.
    let rects = fail_rects(&html);
    assert_eq!(rects.len(), failing_buckets(series).len());
    let width = series["width_s"].as_f64().unwrap();
    for (t0, t1, _) in &rects {
        assert!(
            *t1 > 2.0 - 1e-9 && *t0 < 6.0 + 1e-9,
            "failures drawn at {t0}..{t1} s"
        );
        assert!((t1 - t0 - width).abs() < 1e-6);
    }
    let drawn: u64 = rects.iter().map(|r| r.2).sum();
    assert_eq!(drawn, synthetic["total_failures"].as_u64().unwrap());
}

#[test]
fn two_runs_compare_side_by_side() {
    let (rig_path, rig) = rig_reports().pop().unwrap();
    let synthetic = write_json("report-b.json", &synthetic_drill());
    let (a, b) = (rig_path.to_str().unwrap(), synthetic.to_str().unwrap());

    let text = report(&[a, b]);
    let failures_line = text.lines().find(|l| l.starts_with("failures ")).unwrap();
    let fields: Vec<&str> = failures_line.split_whitespace().collect();
    assert_eq!(fields[1], rig["total_failures"].to_string(), "{text}");
    assert_eq!(fields[2], "8000", "{text}");
    assert_eq!(fields.last(), Some(&"*"), "a difference is marked: {text}");
    assert!(
        text.lines()
            .any(|l| l.starts_with("recovery min / median / max")
                && l.contains("36.00 / 36.00 / 36.00 s")),
        "{text}"
    );

    let json: Value = serde_json::from_str(&report(&[a, b, "-o", "json"])).unwrap();
    assert_eq!(json["a"]["requests"], rig["total_requests"]);
    assert_eq!(json["b"]["failures"], 8000);
    assert_eq!(json["b"]["recovery_s"]["median"], 36.0);

    let html = report(&[a, b, "-o", "html"]);
    assert_self_contained(&html);
    assert!(html.contains("class=\"side side-a\"") && html.contains("class=\"side side-b\""));
    assert!(html.contains("<tr class=\"differs\"><th>failures</th>"));
    let rounds = rig["rounds"].as_array().unwrap().len() + 1;
    assert_eq!(html.matches("<section class=\"round\"").count(), rounds);
}

#[test]
fn report_refuses_what_it_cannot_read() {
    let not_report = write_json("not-a-report.json", &serde_json::json!({"kind": "Pod"}));
    for (args, code, says) in [
        (
            vec!["report", not_report.to_str().unwrap()],
            1,
            "not a kubectl-rayha report",
        ),
        (
            vec!["report", "/nonexistent/drill.json"],
            1,
            "/nonexistent/drill.json",
        ),
        (vec!["report", "a.json", "b.json", "c.json"], 2, "error:"),
        (vec!["report"], 2, "error:"),
        (vec!["report", "a.json", "-o", "pdf"], 2, "pdf"),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(code), "{args:?}: {}", stderr(&out));
        assert!(
            stderr(&out).starts_with("error:"),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(stderr(&out).contains(says), "{args:?}: {}", stderr(&out));
    }
}
