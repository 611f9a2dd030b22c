//! The kubelet API of the rig's node agent: `kubectl logs [-f]` and `kubectl port-forward` to a
//! real pod.

use std::process::Stdio;
use std::time::{Duration, Instant};

use super::require_real_pods;
use crate::harness::{KillOnDrop, Namespace, Rig, TestResult, patience, s, wait_until};

/// Lines of a child's stdout, read on a thread (so that waits can time out).
fn line_channel(child: &mut std::process::Child) -> std::sync::mpsc::Receiver<String> {
    use std::io::BufRead;
    let (tx, rx) = std::sync::mpsc::channel();
    if let Some(out) = child.stdout.take() {
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
    }
    rx
}

/// The next line containing `needle`, within `timeout`.
fn wait_line(
    rx: &std::sync::mpsc::Receiver<String>,
    needle: &str,
    timeout: Duration,
    what: &str,
) -> Result<String, String> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok(line) if line.contains(needle) => return Ok(line),
            Ok(_) => {}
            Err(_) => {
                return Err(format!(
                    "{what}: no line with {needle:?} within {timeout:?}"
                ));
            }
        }
    }
}

/// One HTTP/1.0 GET to 127.0.0.1:port; the reply up to `until` (not up to the end of the
/// connection: a port-forward through kwok's server does not pass the pod's close on, see
/// rig/agent/README.md).
fn http_get(port: u16, path: &str, until: &str) -> Result<String, String> {
    use std::io::{Read, Write};
    let mut conn = std::net::TcpStream::connect(("127.0.0.1", port))
        .map_err(|e| format!("connect 127.0.0.1:{port}: {e}"))?;
    conn.set_read_timeout(Some(Duration::from_secs(10)))
        .map_err(|e| e.to_string())?;
    conn.write_all(format!("GET {path} HTTP/1.0\r\nHost: rig\r\n\r\n").as_bytes())
        .map_err(|e| format!("write: {e}"))?;
    let mut reply = Vec::new();
    let mut buf = [0u8; 4096];
    while !String::from_utf8_lossy(&reply).contains(until) {
        match conn.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => reply.extend_from_slice(&buf[..n]),
            Err(e) => {
                return Err(format!(
                    "read: {e} after {:?}",
                    String::from_utf8_lossy(&reply)
                ));
            }
        }
    }
    Ok(String::from_utf8_lossy(&reply).into_owned())
}

/// The kubelet API of the rig's node agent (kwok's server behind the nodes' port 10250): a real
/// pod's output through `kubectl logs` and `kubectl logs -f` (stdout and stderr), and
/// `kubectl port-forward` to a port the container listens on without declaring it.
pub(super) fn real_pod_logs_and_port_forward(rig: &Rig) -> TestResult {
    require_real_pods(rig)?;
    let ns = Namespace::create(rig, "rig-kubelet")?;
    let pod = serde_json::json!({
        "apiVersion": "v1", "kind": "Pod",
        "metadata": {"name": "web", "namespace": ns.name},
        "spec": {
            "terminationGracePeriodSeconds": 1,
            "containers": [{
                "name": "web", "image": "debian:stable-slim",
                "command": ["sh", "-c",
                    "echo rig-hello-stdout; echo rig-hello-stderr >&2; mkdir -p /tmp/w; echo rig-page > /tmp/w/index.html; \
                     cd /tmp/w && exec python3 -u -m http.server --bind 0.0.0.0 8080"],
            }],
        },
    });
    rig.apply_json(&pod)?;
    wait_until("pod web Running", patience(60), || {
        let p = rig.get_json(&["pod", "web", "-n", &ns.name])?;
        Ok((s(&p, "/status/phase") == "Running").then_some(()))
    })?;
    // kubectl logs: both streams of the container, through the API server and the node's kubelet port
    let logs = wait_until("kubectl logs of pod web", patience(20), || {
        match rig.kubectl(&["logs", "-n", &ns.name, "web", "-c", "web"]) {
            Ok(out) if out.contains("rig-hello-stdout") && out.contains("rig-hello-stderr") => {
                Ok(Some(out))
            }
            Ok(out) => Err(format!("log so far: {out:?}")),
            Err(e) => Err(e),
        }
    })?;
    eprintln!("    kubectl logs: {:?}", logs.trim());
    // kubectl logs -f (from the start), then kubectl port-forward to the undeclared port 8080
    let mut follow = KillOnDrop(
        rig.kubectl_cmd()
            .args(["logs", "-f", "-n", &ns.name, "web"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| format!("kubectl logs -f: {e}"))?,
    );
    let follow_rx = line_channel(&mut follow.0);
    wait_line(
        &follow_rx,
        "rig-hello-stdout",
        patience(10),
        "kubectl logs -f",
    )?;
    let reply = wait_until(
        "kubectl port-forward to pod web :8080",
        patience(20),
        || {
            let mut pf = KillOnDrop(
                rig.kubectl_cmd()
                    .args([
                        "port-forward",
                        "-n",
                        &ns.name,
                        "pod/web",
                        "--address",
                        "127.0.0.1",
                        ":8080",
                    ])
                    .stdout(Stdio::piped())
                    .stderr(Stdio::piped())
                    .spawn()
                    .map_err(|e| format!("kubectl port-forward: {e}"))?,
            );
            let rx = line_channel(&mut pf.0);
            // "Forwarding from 127.0.0.1:40123 -> 8080"
            let line = wait_line(
                &rx,
                "Forwarding from",
                Duration::from_secs(15),
                "kubectl port-forward",
            )?;
            let port: u16 = line
                .split("127.0.0.1:")
                .nth(1)
                .and_then(|r| r.split_whitespace().next())
                .and_then(|p| p.parse().ok())
                .ok_or_else(|| format!("cannot parse {line:?}"))?;
            match http_get(port, "/index.html", "rig-page") {
                Ok(reply) if reply.starts_with("HTTP/1.0 200") && reply.contains("rig-page") => {
                    Ok(Some(reply))
                }
                Ok(reply) => Err(format!("reply: {:?}", reply.lines().next())),
                Err(e) => Err(e),
            }
        },
    )?;
    eprintln!("    port-forward: {:?}", reply.lines().next().unwrap_or(""));
    // the request's access-log line (stderr of http.server) arrives in the followed log
    let line = wait_line(
        &follow_rx,
        "GET /index.html",
        patience(10),
        "kubectl logs -f",
    )?;
    eprintln!("    kubectl logs -f: {line:?}");
    drop(follow);
    ns.delete_and_wait()
}
