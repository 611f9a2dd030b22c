//! Pieces shared by the rig's test binaries (tests/rig.rs, tests/cluster.rs).
#![allow(dead_code)]

use std::process::Command;

/// What a head that did not come back needs for a diagnosis: each head pod's readiness,
/// restarts and the last probe events, and the tails of its dashboard's and GCS's logs (read
/// inside the pod through the rig's node agent). `kubectl` runs a kubectl command on the rig.
pub fn head_diagnostics(kubectl: impl Fn(&[&str]) -> Result<String, String>, ns: &str) -> String {
    let pods = kubectl(&[
        "get",
        "pods",
        "-n",
        ns,
        "-l",
        "ray.io/node-type=head",
        "-o",
        "jsonpath={range .items[*]}{.metadata.name} phase={.status.phase} \
         restarts={.status.containerStatuses[0].restartCount} \
         conditions={.status.conditions}{\"\\n\"}{end}",
    ])
    .unwrap_or_else(|e| e);
    let mut out = format!("head pods:\n{pods}");
    let agent = std::env::var("RAYHA_RIG_AGENT")
        .unwrap_or_else(|_| concat!(env!("CARGO_MANIFEST_DIR"), "/rig/agent/agent").to_string());
    for pod in pods.lines().filter_map(|l| l.split_whitespace().next()) {
        let events = kubectl(&[
            "get",
            "events",
            "-n",
            ns,
            "--field-selector",
            &format!("involvedObject.name={pod}"),
            "-o",
            "jsonpath={range .items[*]}{.lastTimestamp} {.reason}: {.message}{\"\\n\"}{end}",
        ])
        .unwrap_or_else(|e| e);
        let last_events: Vec<&str> = events.lines().rev().take(8).collect();
        out.push_str(&format!(
            "\n--- {pod} events (newest first)\n{}",
            last_events.join("\n")
        ));
        let logs = Command::new("bash")
            .args([agent.as_str(), "exec", ns, pod, "--", "bash", "-c"])
            .arg("cd /tmp/ray/session_latest/logs && tail -n 40 dashboard.log gcs_server.out")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_else(|e| e.to_string());
        out.push_str(&format!("\n--- {pod} logs\n{logs}"));
    }
    out
}
