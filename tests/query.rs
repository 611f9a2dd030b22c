//! `kubectl rayha query --url` against a local server that fails on purpose, phase by phase:
//! each failure must be counted under its cause, and each failure window must match the server's
//! own log to within 50 ms.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::*;
use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpSocket};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Mode {
    Ok,
    Refuse,
    Unavailable,
    WrongBody,
    Stall,
}

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs_f64()
}

fn listener(port: u16) -> TcpListener {
    let s = TcpSocket::new_v4().unwrap();
    s.set_reuseaddr(true).unwrap();
    s.bind(([127, 0, 0, 1], port).into()).unwrap();
    s.listen(128).unwrap()
}

/// Serves `12` with one write per reply, or fails the way `mode` says.
async fn serve(l: TcpListener, mode: Arc<Mutex<Mode>>) {
    loop {
        let Ok((mut s, _)) = l.accept().await else {
            return;
        };
        let mode = mode.clone();
        tokio::spawn(async move {
            let mut buf = vec![0u8; 4096];
            let mut have = 0;
            loop {
                let Ok(n) = s.read(&mut buf[have..]).await else {
                    return;
                };
                if n == 0 {
                    return;
                }
                have += n;
                let text = String::from_utf8_lossy(&buf[..have]).to_string();
                let Some(end) = text.find("\r\n\r\n") else {
                    continue;
                };
                let len: usize = text[..end]
                    .lines()
                    .find_map(|l| {
                        l.to_ascii_lowercase()
                            .strip_prefix("content-length:")
                            .map(|v| v.trim().parse().unwrap())
                    })
                    .unwrap_or(0);
                if have < end + 4 + len {
                    continue;
                }
                have = 0;
                let current = *mode.lock().unwrap();
                let reply: &[u8] = match current {
                    Mode::Unavailable => {
                        b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
                    }
                    Mode::WrongBody => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n11",
                    Mode::Stall => {
                        tokio::time::sleep(Duration::from_secs(3)).await;
                        return;
                    }
                    _ => b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n12",
                };
                if s.write_all(reply).await.is_err() {
                    return;
                }
            }
        });
    }
}

#[test]
fn each_failure_is_counted_under_its_cause_and_timed_like_the_server_log() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let port = {
        let _g = rt.enter();
        let l = listener(0);
        l.local_addr().unwrap().port()
    };
    let mode = Arc::new(Mutex::new(Mode::Ok));
    // The server's log: (mode, from, to) in Unix seconds.
    let log: Arc<Mutex<Vec<(Mode, f64, f64)>>> = Arc::default();
    let script = [
        Mode::Ok,
        Mode::Refuse,
        Mode::Ok,
        Mode::Unavailable,
        Mode::Ok,
        Mode::WrongBody,
        Mode::Ok,
        Mode::Stall,
        Mode::Ok,
    ];
    let phase = Duration::from_millis(400);
    const TIMER_SLACK_S: f64 = 0.1;
    // Well below a phase (a stall times out within it) and far above a loaded machine's delays
    // (at 40 ms, requests in healthy phases timed out while the rig ran Ray beside the test).
    const TIMEOUT_S: f64 = 0.25;
    let server = {
        let (mode, log) = (mode.clone(), log.clone());
        rt.spawn(async move {
            let mut task = Some(tokio::spawn(serve(listener(port), mode.clone())));
            tokio::time::sleep(Duration::from_millis(200)).await; // the client starts meanwhile
            for m in script {
                let from = now_unix();
                if m == Mode::Refuse {
                    task.take().unwrap().abort();
                } else if task.is_none() {
                    task = Some(tokio::spawn(serve(listener(port), mode.clone())));
                }
                *mode.lock().unwrap() = m;
                tokio::time::sleep(phase).await;
                log.lock().unwrap().push((m, from, now_unix()));
            }
        })
    };
    let url = format!("http://127.0.0.1:{port}/fruit/");
    let page = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("query-report.html");
    let out = run(&[
        "query",
        "--url",
        &url,
        "--duration",
        "4s",
        "--timeout",
        &format!("{}ms", (TIMEOUT_S * 1000.0) as u64),
        "-o",
        "json",
        "--max-failures",
        "0",
        "--report",
        page.to_str().unwrap(),
    ]);
    rt.block_on(server).unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "failures exceed --max-failures 0: {}",
        stderr(&out)
    );
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &report["summary"];
    assert_eq!(report["setup"]["connection"], "fresh");
    for cause in ["connect", "http_status", "wrong_body", "timeout"] {
        assert!(
            s["failures_by_cause"][cause].as_u64().unwrap_or(0) > 0,
            "no {cause} failures: {s:#}"
        );
    }
    // Closing the listener may also reset a connection still in its backlog ("io").
    for cause in s["failures_by_cause"].as_object().unwrap().keys() {
        assert!(
            ["connect", "http_status", "wrong_body", "timeout", "io"].contains(&cause.as_str()),
            "{s:#}"
        );
    }
    assert!(s["successes"].as_u64().unwrap() > 100);

    let windows = s["failure_windows"].as_array().unwrap();
    let bad: Vec<(Mode, f64, f64)> = log
        .lock()
        .unwrap()
        .iter()
        .copied()
        .filter(|(m, _, _)| *m != Mode::Ok)
        .collect();
    assert_eq!(
        windows.len(),
        bad.len(),
        "one failure window per failing phase: {windows:#?}"
    );
    let expected_cause = |m: Mode| match m {
        Mode::Refuse => "connect",
        Mode::Unavailable => "http_status",
        Mode::WrongBody => "wrong_body",
        Mode::Stall => "timeout",
        Mode::Ok => unreachable!(),
    };
    for (w, (m, from, to)) in windows.iter().zip(&bad) {
        let causes = w["causes"].as_object().unwrap();
        let main_cause = causes.iter().max_by_key(|(_, n)| n.as_u64()).unwrap().0;
        assert_eq!(main_cause, expected_cause(*m), "{m:?}: {w}");
        // Besides its own cause: "io" when the closed listener resets a connection in its
        // backlog, and "timeout" when a loaded machine holds one request past --timeout.
        for c in causes.keys() {
            assert!(
                c == expected_cause(*m) || (*m == Mode::Refuse && c == "io") || c == "timeout",
                "{m:?}: {w}"
            );
        }
        let (start, end) = (
            w["start_unix"].as_f64().unwrap(),
            w["end_unix"].as_f64().unwrap(),
        );
        // The window sits on its phase of the server's log: its first failed request was sent
        // during the phase or at most one --timeout before it (in flight at the switch), and its
        // last one gave up at most one --timeout after the phase (plus a timer's lateness). Bounds
        // set by the timeout, not by how busy the machine is.
        assert!(
            start >= from - TIMEOUT_S && start <= *to,
            "{m:?} window starts at {start:.3}, server phase {from:.3}..{to:.3}"
        );
        assert!(
            end >= *from && end <= to + TIMEOUT_S + TIMER_SLACK_S,
            "{m:?} window ends at {end:.3}, server phase {from:.3}..{to:.3}"
        );
    }
    // The series counts every request, and its failing buckets hold the failure windows
    // (t = 0 at the start); the page marks exactly those buckets.
    let series = &report["series"];
    let sum = |k: &str| -> u64 {
        series[k]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_u64().unwrap())
            .sum()
    };
    assert_eq!(
        sum("successes") + sum("failures"),
        s["requests"].as_u64().unwrap()
    );
    assert_eq!(sum("failures"), s["failures"].as_u64().unwrap());
    let failing = failing_buckets(series);
    for w in windows {
        let (from, to) = (w["start_s"].as_f64().unwrap(), w["end_s"].as_f64().unwrap());
        assert!(
            failing
                .iter()
                .any(|(t0, t1, _)| *t0 <= from + 0.05 && *t1 >= from - 0.05 && *t0 <= to),
            "window {from:.2}..{to:.2} s has no failing bucket: {failing:?}"
        );
    }
    let html = std::fs::read_to_string(&page).unwrap();
    assert_eq!(fail_rects(&html).len(), failing.len());
    assert!(html.contains("verdict fail\">FAIL"));

    // The longest stretch without a success is one failing phase, plus at most the --timeout of
    // a request stalled at its end.
    let gap = s["longest_without_success_s"].as_f64().unwrap();
    let phase_s = phase.as_secs_f64();
    assert!(
        (phase_s - 0.05..=phase_s + TIMEOUT_S + TIMER_SLACK_S).contains(&gap),
        "{gap}"
    );
}

#[test]
fn print_each_reproduces_the_guide_lines() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let l = rt.block_on(async { listener(0) });
    let port = l.local_addr().unwrap().port();
    let mode = Arc::new(Mutex::new(Mode::Ok));
    let handle = std::thread::spawn(move || {
        rt.block_on(async { tokio::time::timeout(Duration::from_secs(10), serve(l, mode)).await })
    });
    let url = format!("http://127.0.0.1:{port}/fruit/");
    let out = run(&[
        "query",
        "--url",
        &url,
        "--count",
        "5",
        "--print-each",
        "--keep-alive",
    ]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    for i in 0..5 {
        assert!(
            text.contains(&format!("req_index : {i}, num_fail: 0\n")),
            "{text}"
        );
    }
    assert!(text.contains("kept-alive connections"));
    assert!(text.contains("requests 5, successes 5, failures 0"));
    drop(handle);
}

#[test]
fn bad_query_arguments_are_usage_errors() {
    for (args, field) in [
        (vec!["query"], "--url"),
        (vec!["query", "--url", "https://x/"], "url"),
        (
            vec!["query", "--url", "http://127.0.0.1:1/", "--timeout", "soon"],
            "timeout",
        ),
        (
            vec!["query", "--url", "http://127.0.0.1:1/", "--rate", "-5"],
            "rate",
        ),
        (
            vec!["query", "--url", "http://127.0.0.1:1/", "-H", "nocolon"],
            "header",
        ),
        (
            vec![
                "query",
                "--url",
                "http://127.0.0.1:1/",
                "--concurrency",
                "0",
            ],
            "concurrency",
        ),
    ] {
        let out = run(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", stderr(&out));
        let err = stderr(&out);
        assert_eq!(
            err.lines().filter(|l| l.starts_with("error:")).count(),
            1,
            "{err}"
        );
        assert!(err.contains(field), "{args:?}: {err}");
    }
}

/// SIGTERM (a cancelled CI job) ends a bounded run like Ctrl-C: within 2 s, with the summary of
/// what was sent and exit 130.
#[test]
fn sigterm_ends_a_run_like_ctrl_c() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let l = {
        let _g = rt.enter();
        listener(0)
    };
    let port = l.local_addr().unwrap().port();
    rt.spawn(serve(l, Arc::new(Mutex::new(Mode::Ok))));
    let child = std::process::Command::new(bin())
        .args(["query", "--url", &format!("http://127.0.0.1:{port}/fruit/")])
        .args(["--duration", "10m", "-o", "json"])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(1500));
    let sent = std::time::Instant::now();
    let term = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(term.success());
    let out = child.wait_with_output().unwrap();
    assert!(
        sent.elapsed() < Duration::from_secs(2),
        "took {:?} after SIGTERM",
        sent.elapsed()
    );
    assert_eq!(out.status.code(), Some(130), "{}", stderr(&out));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["interrupted"], true);
    assert!(report["summary"]["successes"].as_u64().unwrap() > 0);
}

#[test]
fn the_live_line_shows_on_a_terminal_only_and_not_with_quiet() {
    if !std::path::Path::new("/usr/bin/script").exists() {
        panic!("needs util-linux's script(1) for a terminal");
    }
    let rt = tokio::runtime::Runtime::new().unwrap();
    let l = {
        let _g = rt.enter();
        listener(0)
    };
    let port = l.local_addr().unwrap().port();
    rt.spawn(serve(l, Arc::new(Mutex::new(Mode::Ok))));
    let url = format!("http://127.0.0.1:{port}/fruit/");
    // A light load: the timing test in this binary runs alongside.
    let args = [
        "query",
        "--url",
        &url,
        "--duration",
        "1500ms",
        "--rate",
        "50",
    ];
    // Under a terminal (script(1) gives the command a pty and copies what it writes).
    let on_tty = |extra: &[&str]| {
        let line = std::iter::once(bin().display().to_string())
            .chain(args.iter().chain(extra).map(|a| a.to_string()))
            .collect::<Vec<_>>()
            .join(" ");
        let out = std::process::Command::new("/usr/bin/script")
            .args(["-qefc", &line, "/dev/null"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let live = on_tty(&[]);
    assert!(
        live.contains("\x1b[2K") && live.contains("requests ") && live.contains("failures 0"),
        "{live:?}"
    );
    assert!(!on_tty(&["--quiet"]).contains("\x1b[2K"));
    // Piped: nothing but the summary.
    let piped = run(&args);
    assert!(piped.status.success());
    assert!(!stderr(&piped).contains('\r'), "{:?}", stderr(&piped));
}
