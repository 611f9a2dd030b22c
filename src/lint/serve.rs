//! The Serve config: replicas, one per node, proxies everywhere, and workers to hold them.

use serde_json::Value;

use super::{Check, Ctx, Level, miss, pass};
use crate::serve_config::{self, Replicas};

/// The Serve config parsed, or why it could not be.
pub(super) type Serve = std::result::Result<(Value, Vec<serve_config::App>), String>;

pub(super) fn parse_serve_config(rs: &Value) -> Serve {
    let text = match &rs["spec"]["serveConfigV2"] {
        Value::String(text) => text,
        Value::Null => return Err("spec.serveConfigV2 is missing".into()),
        _ => {
            return Err(
                "spec.serveConfigV2 must be a string holding the Serve config YAML (it is not)"
                    .into(),
            );
        }
    };
    let value = serve_config::parse(text).map_err(|e| format!("spec.serveConfigV2: {e}"))?;
    let apps = serve_config::apps(&value).map_err(|e| format!("spec.serveConfigV2: {e}"))?;
    Ok((value, apps))
}

fn serve_unreadable(id: &'static str, e: &str) -> Check {
    miss(
        id,
        Level::Fail,
        e.to_string(),
        "the HA settings live in the Serve config; KubeRay cannot deploy a config it cannot read",
        "write spec.serveConfigV2 as a Serve config YAML string with an applications list",
    )
}

pub(super) fn check_serve_replicas(serve: &Serve) -> Check {
    const ID: &str = "serve-replicas";
    let (_, apps) = match serve {
        Ok(s) => s,
        Err(e) => return serve_unreadable(ID, e),
    };
    let low: Vec<String> = apps
        .iter()
        .flat_map(|a| &a.deployments)
        .filter(|d| d.replicas.floor() < 2)
        .map(|d| match &d.replicas {
            Replicas::Autoscaling { min, .. } => format!("{} (min_replicas {min})", d.name),
            Replicas::Unset => format!("{} (num_replicas unset = 1)", d.name),
            Replicas::Fixed(n) => format!("{} ({n})", d.name),
        })
        .collect();
    if !low.is_empty() {
        return miss(
            ID,
            Level::Fail,
            format!("fewer than 2 replicas: {}", low.join(", ")),
            "a deployment with one replica is down whenever the node holding it is",
            "set num_replicas: 2 (or autoscaling_config.min_replicas: 2) on every deployment",
        );
    }
    let unlisted: Vec<&str> = apps
        .iter()
        .filter(|a| a.deployments.is_empty())
        .map(|a| a.name.as_str())
        .collect();
    if !unlisted.is_empty() {
        return miss(
            ID,
            Level::Warn,
            format!(
                "application(s) {} list no deployments: their replica counts come from code and cannot be checked",
                unlisted.join(", ")
            ),
            "a deployment with one replica is down whenever the node holding it is",
            "list each deployment under the application with num_replicas: 2",
        );
    }
    let count = apps.iter().map(|a| a.deployments.len()).sum::<usize>();
    pass(
        ID,
        format!("all {count} deployments have at least 2 replicas"),
    )
}

pub(super) fn check_max_per_node(serve: &Serve) -> Check {
    const ID: &str = "replicas-per-node";
    let (_, apps) = match serve {
        Ok(s) => s,
        Err(e) => return serve_unreadable(ID, e),
    };
    let bad: Vec<String> = apps
        .iter()
        .flat_map(|a| &a.deployments)
        .filter(|d| d.max_replicas_per_node != Some(1))
        .map(|d| match d.max_replicas_per_node {
            Some(n) => format!("{} ({n})", d.name),
            None => format!("{} (unset)", d.name),
        })
        .collect();
    if bad.is_empty() {
        pass(ID, "every deployment has max_replicas_per_node: 1")
    } else {
        miss(
            ID,
            Level::Fail,
            format!("max_replicas_per_node is not 1: {}", bad.join(", ")),
            "two replicas on one node fail together, so two replicas protect against nothing",
            "set max_replicas_per_node: 1 on every deployment",
        )
    }
}

pub(super) fn check_proxies(serve: &Serve) -> Check {
    const ID: &str = "serve-proxies";
    let (value, _) = match serve {
        Ok(s) => s,
        Err(e) => return serve_unreadable(ID, e),
    };
    match serve_config::proxy_location(value) {
        Err(e) => miss(
            ID,
            Level::Fail,
            e,
            "the serve Service reaches workers only through their own proxies; without them every request fails while the head is down",
            "remove proxy_location or set it to EveryNode",
        ),
        Ok("EveryNode") => pass(ID, "a Serve proxy on every node (proxy_location EveryNode)"),
        Ok(other) => miss(
            ID,
            Level::Fail,
            format!("proxy_location is {other}"),
            "the serve Service reaches workers only through their own proxies; without them every request fails while the head is down",
            "remove proxy_location or set it to EveryNode",
        ),
    }
}

pub(super) fn check_workers(ctx: &Ctx, serve: &Serve) -> Check {
    const ID: &str = "worker-replicas";
    const WHY: &str = "with max_replicas_per_node: 1 each replica needs its own worker; too few workers leave replicas pending or stacked";
    let needed = match serve {
        Ok((_, apps)) => serve_config::workers_needed(apps).max(2),
        Err(_) => 2,
    };
    let groups = ctx.cluster["workerGroupSpecs"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let active: Vec<&Value> = groups.iter().filter(|g| g["suspend"] != true).collect();
    if let Some(problem) = active.iter().find_map(|g| group_number_problem(g)) {
        return miss(
            ID,
            Level::Fail,
            problem,
            "KubeRay's CRD holds these counts as int32; the API server rejects the object",
            "use whole numbers from 0 to 2147483647, with minReplicas <= maxReplicas",
        );
    }
    // Saturating: the counts are checked to be int32 above, their products need not fit.
    let hosts = |g: &Value| g["numOfHosts"].as_i64().unwrap_or(1).max(1);
    let total = |count: &dyn Fn(&Value) -> i64| -> i64 {
        active
            .iter()
            .map(|g| count(g).saturating_mul(hosts(g)))
            .fold(0, i64::saturating_add)
    };
    let min_total = total(&|g| g["minReplicas"].as_i64().unwrap_or(0));
    let desired_total = total(&|g| {
        g["replicas"]
            .as_i64()
            .or(g["minReplicas"].as_i64())
            .unwrap_or(0)
    });
    if desired_total < needed {
        return miss(
            ID,
            Level::Fail,
            format!("{desired_total} worker(s) desired, {needed} needed"),
            WHY,
            format!("set workerGroupSpecs[].replicas so the total is at least {needed}"),
        );
    }
    if min_total < needed {
        return miss(
            ID,
            Level::Warn,
            format!(
                "{desired_total} worker(s) desired, but minReplicas totals {min_total} (< {needed})"
            ),
            "an autoscaler may remove workers down to minReplicas, taking replicas with them",
            format!("set minReplicas so the total is at least {needed}"),
        );
    }
    pass(
        ID,
        format!("{desired_total} worker(s) desired, minimum {min_total}, {needed} needed"),
    )
}

/// Why a worker group's counts are not what the CRD accepts (int32, min <= max), if not.
fn group_number_problem(g: &Value) -> Option<String> {
    let name = g["groupName"].as_str().unwrap_or("?");
    for key in ["replicas", "minReplicas", "maxReplicas", "numOfHosts"] {
        let v = &g[key];
        if v.is_null() {
            continue;
        }
        if !v
            .as_i64()
            .is_some_and(|n| (0..=i64::from(i32::MAX)).contains(&n))
        {
            return Some(format!(
                "worker group {name}: {key} {v} is not a whole number from 0 to 2147483647 (int32)"
            ));
        }
    }
    match (g["minReplicas"].as_i64(), g["maxReplicas"].as_i64()) {
        (Some(min), Some(max)) if min > max => Some(format!(
            "worker group {name}: minReplicas {min} exceeds maxReplicas {max}"
        )),
        _ => None,
    }
}
