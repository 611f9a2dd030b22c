//! A RayCluster whose deletion KubeRay's Redis cleanup finalizer holds: `delete` and `status` say
//! why and print the way out, and the way out works.

use std::time::{Duration, Instant};

use super::text;
use crate::harness::{Rig, TestResult, ensure, patience, wait_until};

/// On the Ready RayService `rayservice-ha` in `n`, Redis deleted before the RayService (what
/// `delete` itself avoids): the cleanup Job cannot reach it, so the RayCluster stays. `delete` ends
/// at its timeout naming the finalizer, the gone Redis and the `kubectl patch` that frees the
/// cluster; `status` on the gone RayService says the same; the printed command removes the
/// RayCluster.
pub(super) fn stuck_cleanup_is_explained(rig: &Rig, n: &str) -> TestResult {
    rig.kubectl(&[
        "delete",
        "deployment",
        "rayservice-ha-redis",
        "-n",
        n,
        // Until its pod is gone too: a Redis still terminating would answer the cleanup Job.
        "--cascade=foreground",
        "--wait=true",
    ])?;
    let t0 = Instant::now();
    let out = rig.rayha(
        &["delete", "rayservice-ha", "-n", n, "-y", "--timeout", "45s"],
        None,
    );
    let took = t0.elapsed();
    let (_, stderr) = text(&out);
    println!(
        "delete after Redis, {:.0} s: {}",
        took.as_secs_f64(),
        stderr.trim()
    );
    ensure(
        out.status.code() == Some(1),
        format!("delete exit {:?}: {stderr}", out.status.code()),
    )?;
    ensure(
        took < Duration::from_secs(75),
        format!("delete took {took:?} with --timeout 45s"),
    )?;
    for needle in [
        "ray.io/gcs-ft-redis-cleanup-finalizer",
        "rayservice-ha-redis",
        "kubectl patch raycluster",
    ] {
        ensure(
            stderr.contains(needle),
            format!("delete does not say {needle:?}: {stderr}"),
        )?;
    }
    let out = rig.rayha(&["status", "rayservice-ha", "-n", n], None);
    let (_, status_err) = text(&out);
    println!("status: {}", status_err.trim());
    ensure(
        out.status.code() == Some(1)
            && status_err.contains("not found")
            && status_err.contains("ray.io/gcs-ft-redis-cleanup-finalizer"),
        format!("status: {status_err}"),
    )?;
    // The way out, as printed.
    let patch = stderr
        .split("to free it now: ")
        .nth(1)
        .and_then(|rest| rest.split(" (the cluster's").next())
        .ok_or_else(|| format!("no command in: {stderr}"))?;
    let args = shell_words(patch)?;
    ensure(args.first().map(String::as_str) == Some("kubectl"), patch)?;
    let argv: Vec<&str> = args[1..].iter().map(String::as_str).collect();
    rig.kubectl(&argv)?;
    wait_until("the RayCluster gone", patience(60), || {
        let left = rig.items(&["rayclusters.ray.io", "-n", n])?;
        Ok(left.is_empty().then_some(()))
    })?;
    Ok(())
}

/// Splits a command line with single-quoted words (what the printed way out uses).
fn shell_words(line: &str) -> Result<Vec<String>, String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut quoted = false;
    for c in line.chars() {
        match c {
            '\'' => quoted = !quoted,
            ' ' if !quoted => {
                if !word.is_empty() {
                    words.push(std::mem::take(&mut word));
                }
            }
            c => word.push(c),
        }
    }
    if quoted {
        return Err(format!("unbalanced quote in {line}"));
    }
    if !word.is_empty() {
        words.push(word);
    }
    Ok(words)
}
