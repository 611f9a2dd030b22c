//! Hostile and broken input, one test or more per class of the hardening issue (15): secrets in
//! errors, hangs, broken replies, memory, Ctrl-C, durations, output files, numbers, injection,
//! limits. Every server and input is made here, on 127.0.0.1. `RAYHA_HOSTILE_BIN=path` runs the
//! suite against another build (an older one fails it).

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET: &str = "S3CRET-b1c2d3e4";

fn bin() -> PathBuf {
    std::env::var_os("RAYHA_HOSTILE_BIN")
        .map(PathBuf::from)
        .unwrap_or_else(common::bin)
}

/// How a run ended.
struct Ran {
    code: Option<i32>,
    stdout: String,
    stderr: String,
    took: Duration,
    /// Peak resident memory of the child (VmHWM), in KiB, when it could be read.
    peak_rss_kib: Option<u64>,
}

impl Ran {
    fn all(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

/// Runs the binary with `args`, killing it after `limit` (then `code` is None).
fn run_for(args: &[&str], stdin: Option<&str>, limit: Duration) -> Ran {
    let dir = tempfile::tempdir().unwrap();
    let (out_path, err_path) = (dir.path().join("out"), dir.path().join("err"));
    let start = Instant::now();
    let mut child = Command::new(bin())
        .args(args)
        .stdin(if stdin.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .spawn()
        .unwrap();
    if let Some(text) = stdin {
        let mut pipe = child.stdin.take().unwrap();
        let text = text.to_string();
        std::thread::spawn(move || {
            let _ = pipe.write_all(text.as_bytes());
        });
    }
    let mut peak = None;
    let code = loop {
        if let Some(rss) = vm_hwm(child.id()) {
            peak = Some(rss);
        }
        if let Some(status) = child.try_wait().unwrap() {
            break status.code();
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    Ran {
        code,
        stdout: std::fs::read_to_string(out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(err_path).unwrap_or_default(),
        took: start.elapsed(),
        peak_rss_kib: peak,
    }
}

fn run(args: &[&str]) -> Ran {
    run_for(args, None, Duration::from_secs(60))
}

fn vm_hwm(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Asserts one `error:` line and the exit code.
fn assert_error(ran: &Ran, code: i32) {
    assert_eq!(ran.code, Some(code), "{}", ran.all());
    let errors = ran
        .stderr
        .lines()
        .filter(|l| l.starts_with("error:"))
        .count();
    assert_eq!(errors, 1, "{}", ran.stderr);
    assert!(!ran.stderr.contains("panicked"), "{}", ran.stderr);
}

fn assert_no_secret(ran: &Ran) {
    assert!(!ran.all().contains(SECRET), "secret shown:\n{}", ran.all());
}

// ---------------------------------------------------------------------------------------------
// Servers made by the tests.

/// A server on 127.0.0.1 that hands each connection, with its request head, to `answer`.
/// Returns its port and the request lines it received.
fn serve(
    answer: impl Fn(&mut TcpStream, &str) + Send + Sync + 'static,
) -> (u16, Arc<Mutex<Vec<String>>>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let answer = Arc::new(answer);
    let log = seen.clone();
    std::thread::spawn(move || {
        for stream in listener.incoming().flatten() {
            let (answer, log) = (answer.clone(), log.clone());
            std::thread::spawn(move || {
                let mut stream = stream;
                let _ = stream.set_nodelay(true);
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                loop {
                    let mut head = String::new();
                    loop {
                        let mut line = String::new();
                        match reader.read_line(&mut line) {
                            Ok(0) | Err(_) => return,
                            Ok(_) => {}
                        }
                        if line == "\r\n" {
                            break;
                        }
                        head.push_str(&line);
                    }
                    let length = head
                        .lines()
                        .find_map(|l| {
                            l.to_ascii_lowercase()
                                .strip_prefix("content-length:")
                                .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                        })
                        .unwrap_or(0);
                    let mut body = vec![0; length];
                    if reader.read_exact(&mut body).is_err() {
                        return;
                    }
                    log.lock()
                        .unwrap()
                        .push(head.lines().next().unwrap_or("").to_string());
                    answer(&mut stream, &head);
                }
            });
        }
    });
    (port, seen)
}

fn reply(stream: &mut TcpStream, status: &str, body: &str) {
    // One write: pieces would wait on Nagle and delayed ACKs.
    let _ = stream.write_all(
        format!(
            "HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .as_bytes(),
    );
}

/// Holds the connection without answering, for longer than any test.
fn stall(_stream: &mut TcpStream) {
    std::thread::sleep(Duration::from_secs(120));
}

/// An API server that answers `/version` and then stalls on everything else.
fn stalling_api_server() -> (u16, Arc<Mutex<Vec<String>>>) {
    serve(|stream, head| {
        if head.starts_with("GET /version") {
            reply(
                stream,
                "200 OK",
                r#"{"major":"1","minor":"33","gitVersion":"v1.33.0"}"#,
            );
        } else {
            stall(stream);
        }
    })
}

fn kubeconfig(dir: &Path, server: &str, user: &str) -> String {
    let path = dir.join("config");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\nusers:\n- name: u\n  user:\n{user}\ncontexts:\n- name: ctx\n  context: {{cluster: c, user: u, namespace: team}}\ncurrent-context: ctx\n"
        ),
    )
    .unwrap();
    path.to_str().unwrap().to_string()
}

/// A user entry whose token comes from an exec plugin running `script` in sh.
fn exec_user(script: &str) -> String {
    format!(
        "    exec:\n      apiVersion: client.authentication.k8s.io/v1beta1\n      command: /bin/sh\n      args: [\"-c\", {script:?}]\n      interactiveMode: Never\n"
    )
}

// ---------------------------------------------------------------------------------------------
// Class 1: no secret in any error.

#[test]
fn a_kubeconfig_syntax_error_does_not_quote_the_token() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("config");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nusers:\n- name: u\n  user:\n    token: {SECRET}\n   client-key-data: {SECRET}\n"
        ),
    )
    .unwrap();
    let ran = run(&["list", "--kubeconfig", path.to_str().unwrap()]);
    assert_error(&ran, 1);
    assert_no_secret(&ran);
    assert!(ran.stderr.contains("line 7"), "{}", ran.stderr);
}

#[test]
fn a_failing_exec_plugin_is_reported_without_its_output() {
    let dir = tempfile::tempdir().unwrap();
    let script = format!(
        "echo '{{\"kind\":\"ExecCredential\",\"status\":{{\"token\":\"{SECRET}\"}}}}'; echo {SECRET} >&2; exit 3"
    );
    let kc = kubeconfig(dir.path(), "http://127.0.0.1:1", &exec_user(&script));
    let ran = run(&["list", "--kubeconfig", &kc]);
    assert_error(&ran, 1);
    assert_no_secret(&ran);
    assert!(
        ran.stderr.contains("exec credential plugin"),
        "{}",
        ran.stderr
    );
}

#[test]
fn a_broken_bundle_does_not_quote_the_redis_password() {
    let bundle = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: redis-config\ndata:\n  redis.conf: |\n    requirepass {SECRET}\n  bad: [\n"
    );
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("bundle.yaml");
    std::fs::write(&file, &bundle).unwrap();
    for args in [
        vec!["lint", file.to_str().unwrap()],
        vec!["apply", "-f", file.to_str().unwrap(), "--dry-run=client"],
    ] {
        let ran = run(&args);
        assert_error(&ran, 1);
        assert_no_secret(&ran);
        assert!(ran.stderr.contains("line 8"), "{}", ran.stderr);
    }
}

#[test]
fn a_password_in_a_redis_address_or_url_is_shown_as_stars() {
    let generated = run(&[
        "generate",
        "--redis-address",
        "redis.example:6379",
        "--redis-password-secret",
        "pw",
    ]);
    assert_eq!(generated.code, Some(0), "{}", generated.stderr);
    let bundle = generated.stdout.replace(
        "redis.example:6379",
        &format!("redis://admin:{SECRET}@redis.example:6379"),
    );
    assert!(bundle.contains(SECRET));
    let ran = run_for(&["lint", "-"], Some(&bundle), Duration::from_secs(30));
    assert_no_secret(&ran);
    assert!(
        ran.stdout.contains("admin:***@redis.example"),
        "{}",
        ran.stdout
    );

    let url = format!("http://admin:{SECRET}@127.0.0.1:1/");
    let ran = run(&["query", "--url", &url, "--count", "1"]);
    assert_error(&ran, 2);
    assert_no_secret(&ran);
    assert!(ran.stderr.contains("admin:***@127.0.0.1"), "{}", ran.stderr);
}

// ---------------------------------------------------------------------------------------------
// Class 2: every API request has a deadline.

#[test]
fn an_api_server_that_stalls_after_version_ends_at_the_request_timeout() {
    let (port, _) = stalling_api_server();
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(
        dir.path(),
        &format!("http://127.0.0.1:{port}"),
        "    token: t\n",
    );
    for cmd in [
        vec!["list"],
        vec!["status", "rs"],
        vec!["delete", "rs", "-y"],
    ] {
        let mut args = cmd.clone();
        args.extend(["--kubeconfig", &kc, "--request-timeout", "1s"]);
        let ran = run_for(&args, None, Duration::from_secs(20));
        assert_error(&ran, 1);
        assert!(ran.stderr.contains("--request-timeout"), "{}", ran.stderr);
        assert!(
            ran.took < Duration::from_secs(4),
            "{cmd:?} took {:?}",
            ran.took
        );
    }
}

#[test]
fn an_exec_plugin_that_never_returns_ends_at_the_request_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(
        dir.path(),
        "http://127.0.0.1:1",
        &exec_user("exec sleep 30"),
    );
    let ran = run_for(
        &["list", "--kubeconfig", &kc, "--request-timeout", "1s"],
        None,
        Duration::from_secs(20),
    );
    assert_error(&ran, 1);
    assert!(
        ran.stderr.contains("exec credential plugin"),
        "{}",
        ran.stderr
    );
    assert!(ran.took < Duration::from_secs(4), "took {:?}", ran.took);
}

#[test]
fn a_bad_request_timeout_is_a_usage_error() {
    let ran = run(&["list", "--request-timeout", "soon"]);
    assert_error(&ran, 2);
    assert!(
        ran.stderr.contains("invalid value for request-timeout"),
        "{}",
        ran.stderr
    );
}

// ---------------------------------------------------------------------------------------------
// Class 9: nothing from a flag or the input reaches a request, header, path or terminal raw.

#[test]
fn line_breaks_in_url_and_headers_are_refused() {
    let (port, seen) = serve(|s, _| reply(s, "200 OK", "12"));
    let url = format!("http://127.0.0.1:{port}/fruit/");
    let cases: Vec<(Vec<String>, &str)> = vec![
        (vec![format!("{url}\r\nX-Injected: 1")], "url"),
        (
            vec![url.clone(), "-H".into(), "X-A: b\r\nX-Injected: 1".into()],
            "header",
        ),
        (
            vec![url.clone(), "-H".into(), "X-A\r\nX-Injected: 1".into()],
            "header",
        ),
    ];
    for (extra, flag) in cases {
        let mut args: Vec<&str> = vec!["query", "--count", "1", "--url"];
        args.extend(extra.iter().map(String::as_str));
        let ran = run(&args);
        assert_error(&ran, 2);
        assert!(ran.stderr.contains(flag), "{}", ran.stderr);
    }
    assert!(
        seen.lock().unwrap().is_empty(),
        "{:?}",
        seen.lock().unwrap()
    );
}

#[test]
fn names_and_namespaces_are_checked_before_any_request() {
    let (port, seen) = stalling_api_server();
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(
        dir.path(),
        &format!("http://127.0.0.1:{port}"),
        "    token: t\n",
    );
    for args in [
        vec!["status", "../secrets"],
        vec!["status", "rs?x=1"],
        vec!["delete", "a/b", "-y"],
        vec!["status", "rs", "-n", "../kube-system"],
        vec!["list", "-n", "team/x"],
    ] {
        let mut args = args.clone();
        args.extend(["--kubeconfig", &kc]);
        let ran = run_for(&args, None, Duration::from_secs(20));
        assert_error(&ran, 2);
    }
    assert!(
        seen.lock().unwrap().is_empty(),
        "{:?}",
        seen.lock().unwrap()
    );
}

#[test]
fn lint_escapes_terminal_control_characters_from_its_input() {
    let generated = run(&["generate"]);
    let bundle = generated.stdout.replacen(
        "name: rayservice-ha\n",
        "name: \"rayservice-ha\\e]0;pwned\\a\\e[2J\"\n",
        1,
    );
    assert!(bundle.contains("pwned"));
    let ran = run_for(&["lint", "-"], Some(&bundle), Duration::from_secs(30));
    assert!(ran.all().contains("pwned"), "{}", ran.all());
    assert!(!ran.all().contains('\x1b'), "{:?}", ran.all());
    assert!(!ran.all().contains('\x07'), "{:?}", ran.all());
}

// ---------------------------------------------------------------------------------------------
// Classes 3 and 4: a broken or endless reply is a failure with a cause, in bounded memory.

/// How a test server answers one request.
type Answer = dyn Fn(&mut TcpStream, &str) + Send + Sync;

/// The most `query` may hold, whatever the server sends.
const MAX_RSS_KIB: u64 = 32 * 1024;

/// Runs `query` against `answer` and returns its JSON report and the run.
fn query_against(
    answer: impl Fn(&mut TcpStream, &str) + Send + Sync + 'static,
    extra: &[&str],
) -> (serde_json::Value, Ran) {
    let (port, _) = serve(answer);
    let url = format!("http://127.0.0.1:{port}/fruit/");
    let mut args = vec![
        "query",
        "--url",
        &url,
        // Generous: every case ends by the reply's framing, and a loaded machine is slow.
        "--timeout",
        "30s",
        "--max-failures",
        "0",
        "-o",
        "json",
    ];
    args.extend(extra);
    let ran = run_for(&args, None, Duration::from_secs(120));
    let report = serde_json::from_str(&ran.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}\n{}", ran.stdout, ran.stderr));
    (report, ran)
}

fn assert_every_request_failed_by(report: &serde_json::Value, ran: &Ran, cause: &str, n: u64) {
    let s = &report["summary"];
    assert_eq!(ran.code, Some(1), "{}", ran.stderr);
    assert_eq!(s["requests"], n, "{s}");
    assert_eq!(s["failures"], n, "{s}");
    assert_eq!(s["failures_by_cause"][cause], n, "{s}");
    let peak = ran.peak_rss_kib.expect("VmHWM readable");
    assert!(peak < MAX_RSS_KIB, "peak RSS {peak} KiB");
}

fn endless(stream: &mut TcpStream, head: &[u8], piece: &[u8]) {
    if stream.write_all(head).is_err() {
        return;
    }
    while stream.write_all(piece).is_ok() {}
}

#[test]
fn endless_or_huge_replies_fail_as_protocol_in_bounded_memory() {
    let megabyte = Arc::new(vec![b'x'; 1 << 20]);
    let big = megabyte.clone();
    let cases: Vec<(&str, Box<Answer>)> = vec![
        (
            "1 GB body",
            Box::new(move |s, _| {
                endless(
                    s,
                    b"HTTP/1.1 200 OK\r\nContent-Length: 1073741824\r\n\r\n",
                    &big,
                )
            }),
        ),
        (
            "body until close",
            Box::new(move |s, _| endless(s, b"HTTP/1.1 200 OK\r\n\r\n", &megabyte)),
        ),
        (
            "endless tiny chunks",
            Box::new(|s, _| {
                endless(
                    s,
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                    &b"1\r\nx\r\n".repeat(4096),
                )
            }),
        ),
        (
            "chunk size overflow",
            Box::new(|s, _| {
                let _ = s.write_all(
                    b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\nxx\r\n0\r\n\r\n",
                );
            }),
        ),
        (
            "headers without end",
            Box::new(|s, _| endless(s, b"HTTP/1.1 200 OK\r\n", &b"X-A: b\r\n".repeat(4096))),
        ),
    ];
    for (what, answer) in cases {
        let (report, ran) = query_against(answer, &["--count", "2"]);
        eprintln!("{what}: peak RSS {:?} KiB", ran.peak_rss_kib);
        assert_every_request_failed_by(&report, &ran, "protocol", 2);
    }
}

// ---------------------------------------------------------------------------------------------
// Class 5: Ctrl-C cuts the request in flight.

/// Starts the binary, sends `signal` after `after`, and returns the run and how long it took
/// from the signal to the exit.
fn run_and_signal(args: &[&str], after: Duration, signal: &str) -> (Ran, Duration) {
    let child = Command::new(bin())
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(after);
    let sent = Instant::now();
    let pid = child.id().to_string();
    assert!(
        Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap()
            .success()
    );
    let out = child.wait_with_output().unwrap();
    let took = sent.elapsed();
    let ran = Ran {
        code: out.status.code(),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        took,
        peak_rss_kib: None,
    };
    (ran, took)
}

#[test]
fn ctrl_c_cuts_a_request_the_server_never_answers() {
    let (port, seen) = serve(|s, _| stall(s));
    let url = format!("http://127.0.0.1:{port}/fruit/");
    for signal in ["-INT", "-TERM"] {
        let (ran, took) = run_and_signal(
            &[
                "query",
                "--url",
                &url,
                "--timeout",
                "30s",
                "--duration",
                "10m",
                "-o",
                "json",
            ],
            Duration::from_millis(1000),
            signal,
        );
        assert!(took < Duration::from_secs(2), "{signal}: took {took:?}");
        assert_eq!(ran.code, Some(130), "{}", ran.stderr);
        let report: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
        assert_eq!(report["interrupted"], true);
        // The cut request neither passed nor failed.
        assert_eq!(report["summary"]["failures"], 0, "{}", report["summary"]);
    }
    assert!(!seen.lock().unwrap().is_empty());
}

#[test]
fn thousands_of_distinct_bad_status_lines_keep_the_report_small() {
    let n = std::sync::atomic::AtomicUsize::new(0);
    let long = "x".repeat(1024);
    let (report, ran) = query_against(
        move |s, _| {
            let i = n.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            let head = format!("HTTP/9.{i} 200 {long}\r\nContent-Length: 0\r\n\r\n");
            let _ = s.write_all(head.as_bytes());
        },
        &["--count", "3000"],
    );
    assert_every_request_failed_by(&report, &ran, "protocol", 3000);
    let details = report["summary"]["failures_by_detail"].as_object().unwrap();
    assert!(details.len() <= 33, "{} details", details.len());
    assert!(
        ran.stdout.len() < 64 * 1024,
        "report of {} bytes",
        ran.stdout.len()
    );
}

// ---------------------------------------------------------------------------------------------
// Class 7: --output-dir writes private new files, never through a symlink, never into old files.

#[test]
fn output_dir_files_are_private_and_new() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let fresh = dir.path().join("fresh");
    let ran = run(&["generate", "--output-dir", fresh.to_str().unwrap()]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    for entry in std::fs::read_dir(&fresh).unwrap() {
        let mode = entry.unwrap().metadata().unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "mode {mode:o}");
    }

    // A symlink planted at the Secret's file name: its target must stay untouched.
    let planted = dir.path().join("planted");
    std::fs::create_dir(&planted).unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, "untouched").unwrap();
    std::os::unix::fs::symlink(
        &victim,
        planted.join("01-secret-rayservice-ha-redis-password.yaml"),
    )
    .unwrap();
    let ran = run(&["generate", "--output-dir", planted.to_str().unwrap()]);
    assert_error(&ran, 1);
    assert_eq!(std::fs::read_to_string(&victim).unwrap(), "untouched");

    // A directory from an earlier run is refused, so two Secrets never mix.
    let ran = run(&["generate", "--output-dir", fresh.to_str().unwrap()]);
    assert_error(&ran, 1);
    assert!(ran.stderr.contains("not empty"), "{}", ran.stderr);
    assert_no_secret(&ran);
}

// ---------------------------------------------------------------------------------------------
// Class 8: numbers the CRD cannot hold, and minimums above maximums.

#[test]
fn generate_refuses_counts_beyond_int32_and_min_above_max() {
    let dir = tempfile::tempdir().unwrap();
    let serve = dir.path().join("serve.yaml");
    std::fs::write(
        &serve,
        "applications:\n- name: a\n  import_path: m:app\n  route_prefix: /a\n  deployments:\n  - name: D\n    max_replicas_per_node: 1\n    autoscaling_config: {min_replicas: 5, max_replicas: 2}\n",
    )
    .unwrap();
    for (args, names) in [
        (vec!["--worker-replicas", "3000000000"], "worker-replicas"),
        (vec!["--serve-replicas", "3000000000"], "serve-replicas"),
        (vec!["--max-workers", "2147483648"], "max-workers"),
        (
            vec!["--serve-config", serve.to_str().unwrap()],
            "min_replicas 5",
        ),
    ] {
        let mut all = vec!["generate"];
        all.extend(args);
        let ran = run(&all);
        assert_error(&ran, 2);
        assert!(ran.stderr.contains(names), "{}", ran.stderr);
    }
}

#[test]
fn lint_fails_counts_beyond_int32_without_overflowing() {
    let bundle = run(&["generate"]).stdout;
    let check = |from: &str, to: &str| {
        assert!(bundle.contains(from), "{from}");
        let hostile = bundle.replacen(from, to, 1);
        let ran = run_for(
            &["lint", "-o", "json", "-"],
            Some(&hostile),
            Duration::from_secs(30),
        );
        assert_eq!(ran.code, Some(1), "{}", ran.all());
        let report: serde_json::Value = serde_json::from_str(&ran.stdout).unwrap();
        let workers = report["objects"][0]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["id"] == "worker-replicas")
            .unwrap()
            .clone();
        assert_eq!(workers["level"], "FAIL", "{workers}");
        workers["message"].as_str().unwrap().to_string()
    };
    let replicas = "      replicas: 2\n";
    assert!(check(replicas, "      replicas: 3000000000\n").contains("int32"));
    let min = "      minReplicas: 2\n";
    assert!(check(min, "      minReplicas: 9\n").contains("exceeds maxReplicas"));
    // numOfHosts times replicas used to overflow i64.
    let msg = check(
        replicas,
        "      replicas: 2147483647\n      numOfHosts: 9223372036854775807\n",
    );
    assert!(msg.contains("numOfHosts"), "{msg}");
}

// ---------------------------------------------------------------------------------------------
// Class 9 in generate: no flag makes a multi-line value.

#[test]
fn generate_refuses_line_breaks_in_values() {
    for (flag, value) in [
        ("--image", "rayproject/ray:2.52.0\nX: y"),
        ("--redis-address", "redis:6379\nmaxmemory 1"),
        ("--import-path", "m:app\r"),
        ("--redis-image", "redis:7.4.0\u{1b}[2J"),
    ] {
        let ran = run(&["generate", flag, value]);
        assert_error(&ran, 2);
        assert!(ran.stderr.contains(&flag[2..]), "{}", ran.stderr);
    }
}

// ---------------------------------------------------------------------------------------------
// Class 10: limits are named as limits.

#[test]
fn lint_names_its_input_limit_instead_of_calling_valid_yaml_invalid() {
    let many = "---\nkind: ConfigMap\n".repeat(1100);
    let ran = run_for(&["lint", "-"], Some(&many), Duration::from_secs(30));
    assert_error(&ran, 1);
    assert!(
        ran.stderr
            .contains("input too large (limit: 1024 documents)"),
        "{}",
        ran.stderr
    );
    assert!(!ran.stderr.contains("not valid YAML"), "{}", ran.stderr);
}

// ---------------------------------------------------------------------------------------------
// The smaller items.

#[test]
fn errors_carry_one_prefix_and_no_library_advice() {
    let dir = tempfile::tempdir().unwrap();
    let values = dir.path().join("values.yaml");
    std::fs::write(&values, "name: a\nname: b\n").unwrap();
    let ran = run(&["generate", "--values", values.to_str().unwrap()]);
    assert_error(&ran, 2);
    assert_eq!(ran.stderr.matches("error:").count(), 1, "{}", ran.stderr);
    assert!(!ran.stderr.contains("DuplicateKeyPolicy"), "{}", ran.stderr);
    assert!(ran.stderr.contains("duplicate"), "{}", ran.stderr);
}

#[test]
fn apply_of_an_empty_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.yaml");
    std::fs::write(&empty, "---\n").unwrap();
    let ran = run(&["apply", "-f", empty.to_str().unwrap(), "--dry-run=client"]);
    assert_error(&ran, 1);
    assert!(ran.stderr.contains("no objects"), "{}", ran.stderr);
}

#[test]
fn query_refuses_a_zero_duration_like_a_zero_count() {
    for args in [["--count", "0"], ["--duration", "0s"]] {
        let mut all = vec!["query", "--url", "http://127.0.0.1:1/"];
        all.extend(args);
        let ran = run(&all);
        assert_error(&ran, 2);
        assert!(ran.stderr.contains(&args[0][2..]), "{}", ran.stderr);
    }
}

/// Lint's message for the Serve config check `id` after replacing `from` by `to` in a bundle.
fn lint_serve_message(from: &str, to: &str, id: &str) -> (String, String) {
    let bundle = run(&["generate"]).stdout;
    assert!(bundle.contains(from), "{from}");
    let hostile = bundle.replacen(from, to, 1);
    let ran = run_for(
        &["lint", "-o", "json", "-"],
        Some(&hostile),
        Duration::from_secs(30),
    );
    let report: serde_json::Value =
        serde_json::from_str(&ran.stdout).unwrap_or_else(|e| panic!("{e}: {}", ran.all()));
    let check = report["objects"][0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap()
        .clone();
    (
        check["level"].as_str().unwrap().to_string(),
        check["message"].as_str().unwrap().to_string(),
    )
}

#[test]
fn a_proxy_location_that_is_not_a_name_fails() {
    let (level, message) = lint_serve_message(
        "serveConfigV2: |\n",
        "serveConfigV2: |\n    proxy_location: 7\n",
        "serve-proxies",
    );
    assert_eq!(level, "FAIL", "{message}");
    assert!(message.contains("got 7"), "{message}");
}

#[test]
fn a_serve_config_that_is_not_a_string_is_named_so() {
    let (level, message) = lint_serve_message(
        "serveConfigV2: |\n",
        "serveConfigV2: {applications: []}\n  x: |\n",
        "serve-replicas",
    );
    assert_eq!(level, "FAIL", "{message}");
    assert!(message.contains("must be a string"), "{message}");
}

#[test]
fn a_stalled_tls_server_is_reported_like_a_stalled_plain_one() {
    let (port, _) = serve(|s, _| stall(s));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let tls_port = listener.local_addr().unwrap().port();
    // Takes connections and never starts the TLS handshake.
    std::thread::spawn(move || {
        let held: Vec<TcpStream> = listener.incoming().flatten().collect();
        drop(held);
    });
    let mut messages = Vec::new();
    for server in [
        format!("http://127.0.0.1:{port}"),
        format!("https://127.0.0.1:{tls_port}"),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let kc = kubeconfig(dir.path(), &server, "    token: t\n");
        let ran = run_for(
            &["list", "--kubeconfig", &kc, "--request-timeout", "1s"],
            None,
            Duration::from_secs(20),
        );
        assert_error(&ran, 1);
        assert!(
            ran.took < Duration::from_secs(4),
            "{server}: {:?}",
            ran.took
        );
        messages.push(ran.stderr.replace(&server, "SERVER"));
    }
    assert_eq!(messages[0], messages[1]);
}

// ---------------------------------------------------------------------------------------------
// Class 6 (fixed before this suite; kept as a regression test): huge durations are usage errors.

#[test]
fn huge_durations_are_usage_errors_not_panics() {
    let huge = "99999999999999999999s";
    for args in [
        vec!["query", "--url", "http://127.0.0.1:1/", "--timeout", huge],
        vec!["apply", "--timeout", huge, "--dry-run=client"],
        vec!["delete", "rs", "-y", "--timeout", huge],
        vec!["failover", "rs", "-y", "--warmup", huge],
        vec!["list", "--request-timeout", huge],
    ] {
        let ran = run(&args);
        assert_error(&ran, 2);
    }
}
