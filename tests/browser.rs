//! The HTML report in a real browser: Debian's headless `chromium` loads the page of the newest
//! rig report (tests/data/failover-report-rig-*.json) and of a synthetic drill with failures, and
//! the trials check that no console message was logged, that the page asked for nothing over the
//! network (chromium's net log, with every host mapped to nothing and a dead proxy so nothing can
//! leave the machine), that the chart's axes, markers and legend are in the DOM, and that the
//! failure marks sit on the time axis where the report's data puts them.
//!
//! Without chromium the trials are reported as ignored, except in CI (`CI` or
//! `RAYHA_BROWSER_REQUIRED` set), where they fail: `.ci/run` installs it. The rig report's
//! screenshot is kept as `report-screenshot.png` in the target's tmp dir; `RAYHA_UPDATE_SCREENSHOT=1`
//! also copies it to docs/report-rig.png for the README.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use libtest_mimic::{Arguments, Failed, Trial};
use serde_json::Value;

fn main() {
    let args = Arguments::from_args();
    let browser = chromium();
    let required = std::env::var_os("CI").is_some_and(|v| !v.is_empty() && v != "false")
        || std::env::var_os("RAYHA_BROWSER_REQUIRED").is_some();
    let trial = |name: &'static str, f: fn(&Path) -> Result<(), Failed>| {
        let browser = browser.clone();
        let ignored = browser.is_none() && !required;
        Trial::test(name, move || match &browser {
            Some(b) => f(b),
            None => Err("no chromium: install Debian's chromium (apt-get install -y chromium; .ci/run does) or set RAYHA_CHROMIUM".into()),
        })
        .with_ignored_flag(ignored)
    };
    let trials = vec![
        trial("rig_report_in_chromium", rig_report),
        trial("failures_sit_where_the_data_puts_them", synthetic_failures),
    ];
    libtest_mimic::run(&args, trials).exit();
}

fn chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("RAYHA_CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    ["/usr/bin/chromium", "/usr/bin/chromium-browser"]
        .iter()
        .map(PathBuf::from)
        .find(|p| p.exists())
}

fn tmp(name: &str) -> PathBuf {
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(name)
}

/// Renders `json` to `name.html` with `kubectl rayha report`.
fn render(json: &Path, name: &str) -> Result<PathBuf, Failed> {
    let page = tmp(&format!("{name}.html"));
    let out = run(&[
        "report",
        json.to_str().unwrap(),
        "-o",
        "html",
        "--output-file",
        page.to_str().unwrap(),
    ]);
    if !out.status.success() {
        return Err(format!("report -o html: {}", stderr(&out)).into());
    }
    Ok(page)
}

struct Loaded {
    dom: String,
}

/// Loads `page` in headless chromium with the network shut (every host resolves to nothing, a
/// proxy on a closed local port), screenshots it to `shot` when given, and checks the console
/// and the net log.
fn load(browser: &Path, page: &Path, shot: Option<&Path>) -> Result<Loaded, Failed> {
    let netlog = page.with_extension("netlog.json");
    let _ = std::fs::remove_file(&netlog);
    let profile = tempfile::tempdir()?;
    let url = format!("file://{}", page.display());
    let mut cmd = Command::new(browser);
    cmd.args([
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--hide-scrollbars",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--disable-default-apps",
        "--host-resolver-rules=MAP * ~NOTFOUND",
        "--proxy-server=127.0.0.1:9",
        "--enable-logging=stderr",
        "--v=0",
        "--window-size=1200,1500",
    ])
    .arg(format!("--user-data-dir={}", profile.path().display()))
    .arg(format!("--log-net-log={}", netlog.display()));
    match shot {
        Some(s) => cmd.arg(format!("--screenshot={}", s.display())),
        None => cmd.arg("--dump-dom"),
    };
    let out = cmd.arg(&url).output()?;
    let log = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        return Err(format!("chromium exited with {}: {log}", out.status).into());
    }
    let console: Vec<&str> = log.lines().filter(|l| l.contains(":CONSOLE")).collect();
    if !console.is_empty() {
        return Err(format!("console messages: {console:#?}").into());
    }
    let requests = page_requests(&netlog)?;
    if !requests.is_empty() {
        return Err(format!("the page asked the network for {requests:?}").into());
    }
    Ok(Loaded {
        dom: String::from_utf8_lossy(&out.stdout).into_owned(),
    })
}

/// URLs the page itself requested (chromium's own background requests have no origin).
fn page_requests(netlog: &Path) -> Result<Vec<String>, Failed> {
    let log: Value = serde_json::from_str(&std::fs::read_to_string(netlog)?)?;
    let start_job = log["constants"]["logEventTypes"]["URL_REQUEST_START_JOB"].clone();
    Ok(log["events"]
        .as_array()
        .ok_or("net log without events")?
        .iter()
        .filter(|e| e["type"] == start_job)
        .filter(|e| e["params"]["initiator"] != "not an origin")
        .filter_map(|e| e["params"]["url"].as_str())
        .filter(|u| !u.starts_with("file:") && !u.starts_with("data:"))
        .map(String::from)
        .collect())
}

fn check(ok: bool, what: impl FnOnce() -> String) -> Result<(), Failed> {
    if ok { Ok(()) } else { Err(what().into()) }
}

/// The parts every round chart has, counted against the report.
fn chart_parts(dom: &str, report: &Value) -> Result<(), Failed> {
    let rounds = report["rounds"].as_array().ok_or("no rounds")?;
    let count = |s: &str| dom.matches(s).count();
    check(
        count("<svg class=\"chart timeline\"") == rounds.len(),
        || "one timeline chart per round".into(),
    )?;
    for part in [
        "<g class=\"axis-x\">",
        "<g class=\"axis-y axis-latency\">",
        "<g class=\"axis-y axis-requests\">",
        "<g class=\"legend\">",
        "<g class=\"kill\">",
    ] {
        check(count(part) == rounds.len(), || {
            format!("{part} not once per chart")
        })?;
    }
    let events: usize = rounds
        .iter()
        .map(|r| r["timeline"].as_array().map_or(0, Vec::len))
        .sum();
    check(count("<g class=\"marker\"") == events, || {
        format!(
            "{} markers for {events} events",
            count("<g class=\"marker\"")
        )
    })?;
    check(
        dom.contains("key-failed") && dom.contains("key-p99"),
        || "legend entries missing".into(),
    )
}

/// Inverts the x axis from its tick labels: x of `data-t` ticks, then seconds of any x.
fn axis(dom: &str) -> Result<impl Fn(f64) -> f64, Failed> {
    let axis = &dom[dom.find("<g class=\"axis-x\">").ok_or("no x axis")?..];
    let ticks: Vec<(f64, f64)> = axis[..axis.find("</g>").unwrap()]
        .split("<text ")
        .skip(1)
        .filter_map(|t| {
            Some((
                attr(t, "x")?.parse().ok()?,
                attr(t, "data-t")?.parse().ok()?,
            ))
        })
        .collect();
    let (first, last) = (ticks.first().ok_or("no ticks")?, ticks.last().unwrap());
    check(ticks.len() >= 3, || format!("{} ticks", ticks.len()))?;
    let (x0, t0, x1, t1) = (first.0, first.1, last.0, last.1);
    Ok(move |x: f64| t0 + (x - x0) / (x1 - x0) * (t1 - t0))
}

fn attr<'a>(tag: &'a str, name: &str) -> Option<&'a str> {
    let from = tag
        .find(&format!(" {name}=\""))
        .map(|i| i + name.len() + 3)
        .or_else(|| {
            tag.starts_with(&format!("{name}=\""))
                .then_some(name.len() + 2)
        })?;
    Some(&tag[from..from + tag[from..].find('"')?])
}

/// Each failure mark: its x, read back through the axis, is the start of a failing bucket of the
/// report's data, and every failing bucket has its mark.
fn failures_in_place(dom: &str, series: &Value) -> Result<usize, Failed> {
    let t_of = axis(dom)?;
    let buckets = failing_buckets(series);
    let width = series["width_s"].as_f64().ok_or("no width")?;
    let marks: Vec<f64> = dom
        .split("<rect class=\"fail\"")
        .skip(1)
        .filter_map(|r| attr(r, "x")?.parse().ok())
        .collect();
    check(marks.len() == buckets.len(), || {
        format!(
            "{} marks for {} failing buckets",
            marks.len(),
            buckets.len()
        )
    })?;
    for (x, (t0, _, _)) in marks.iter().zip(&buckets) {
        let t = t_of(*x);
        // Within a pixel's worth of seconds (the chart is 872 px wide) or a tenth of a bucket.
        check((t - t0).abs() <= width.max(0.01), || {
            format!("mark at x {x} reads {t:.3} s, bucket starts at {t0:.3} s")
        })?;
    }
    Ok(marks.len())
}

fn rig_report(browser: &Path) -> Result<(), Failed> {
    let (path, report) = rig_reports().pop().ok_or("no rig report in tests/data")?;
    let page = render(&path, "browser-rig")?;
    let shot = tmp("report-screenshot.png");
    load(browser, &page, Some(&shot))?;
    println!("screenshot of {}: {}", path.display(), shot.display());
    if std::env::var_os("RAYHA_UPDATE_SCREENSHOT").is_some() {
        let docs = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("docs/report-rig.png");
        std::fs::copy(&shot, &docs)?;
        println!("copied to {}", docs.display());
    }
    let dom = load(browser, &page, None)?.dom;
    chart_parts(&dom, &report)?;
    for round in report["rounds"].as_array().unwrap() {
        match round.get("series") {
            Some(series) => {
                failures_in_place(&dom, series)?;
            }
            // Older reports: one mark per failure window.
            None => {
                let windows = round["requests"]["failure_windows"]
                    .as_array()
                    .map_or(0, Vec::len);
                check(
                    dom.matches("<rect class=\"fail\"").count() == windows,
                    || "failure windows".into(),
                )?;
            }
        }
    }
    Ok(())
}

fn synthetic_failures(browser: &Path) -> Result<(), Failed> {
    let report = synthetic_drill();
    let json = tmp("browser-synthetic.json");
    std::fs::write(&json, serde_json::to_string(&report)?)?;
    let page = render(&json, "browser-synthetic")?;
    let dom = load(browser, &page, None)?.dom;
    chart_parts(&dom, &report)?;
    let marks = failures_in_place(&dom, &report["rounds"][0]["series"])?;
    check(marks > 0, || {
        "the synthetic drill has failures to place".into()
    })
}
