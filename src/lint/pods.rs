//! The pods: Ray image matching rayVersion, Redis persistence, resource requests.

use serde_json::Value;

use super::{Check, Ctx, Level, miss, pass};
use crate::validate::{self, ImageVersion};

pub(super) fn check_image_version(ctx: &Ctx) -> Check {
    const ID: &str = "image-version";
    const WHY: &str = "KubeRay and the dashboard client assume rayVersion; a different Ray in the image breaks the Serve and GCS protocols in subtle ways";
    let Some(version) = ctx.cluster["rayVersion"].as_str() else {
        return miss(
            ID,
            Level::Warn,
            "rayClusterConfig.rayVersion is not set",
            WHY,
            "set rayVersion to the Ray version of the image",
        );
    };
    let mut images: Vec<&str> = vec![];
    images.extend(ctx.head_container["image"].as_str());
    for g in ctx.cluster["workerGroupSpecs"]
        .as_array()
        .into_iter()
        .flatten()
    {
        images.extend(g["template"]["spec"]["containers"][0]["image"].as_str());
    }
    let mut unknown = vec![];
    for image in images {
        match validate::image_version(image, version) {
            ImageVersion::Matches => {}
            ImageVersion::Mismatch(tag) => {
                return miss(
                    ID,
                    Level::Fail,
                    format!("image {image} is Ray {tag} but rayVersion is {version}"),
                    WHY,
                    "use the same Ray version in rayVersion and every Ray image tag",
                );
            }
            ImageVersion::Unknown => unknown.push(image),
        }
    }
    if unknown.is_empty() {
        pass(ID, format!("Ray images match rayVersion {version}"))
    } else {
        miss(
            ID,
            Level::Warn,
            format!("cannot tell the Ray version of {}", unknown.join(", ")),
            WHY,
            format!("tag images with the Ray version, e.g. rayproject/ray:{version}"),
        )
    }
}

pub(super) fn is_redis_workload(d: &Value) -> bool {
    matches!(d["kind"].as_str(), Some("Deployment" | "StatefulSet"))
        && containers(d).iter().any(|c| {
            c["image"].as_str().is_some_and(|i| {
                let last = i.rsplit('/').next().unwrap_or(i);
                last.starts_with("redis:") || last == "redis" || last.starts_with("redis@")
            })
        })
}

pub(super) fn containers(d: &Value) -> Vec<Value> {
    d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

pub(super) fn check_redis_persistence(ctx: &Ctx) -> Check {
    const ID: &str = "redis-persistence";
    let Some(redis) = ctx.docs.iter().find(|d| is_redis_workload(d)) else {
        return pass(
            ID,
            "no Redis in this input (external Redis: make sure it persists and is itself HA)",
        );
    };
    let name = redis["metadata"]["name"].as_str().unwrap_or("");
    let pod = &redis["spec"]["template"]["spec"];
    let config_maps: Vec<&str> = pod["volumes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|v| v["configMap"]["name"].as_str())
        .collect();
    let aof_in_config = ctx.docs.iter().any(|d| {
        d["kind"] == "ConfigMap"
            && d["metadata"]["name"]
                .as_str()
                .is_some_and(|n| config_maps.contains(&n))
            && d["data"].as_object().into_iter().flatten().any(|(_, v)| {
                v.as_str().is_some_and(|t| {
                    t.lines()
                        .any(|l| l.split_whitespace().collect::<Vec<_>>() == ["appendonly", "yes"])
                })
            })
    });
    let aof_in_args = containers(redis).iter().any(|c| {
        let words: Vec<String> = ["command", "args"]
            .iter()
            .flat_map(|k| c[*k].as_array().cloned().unwrap_or_default())
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        words.join(" ").contains("--appendonly yes")
    });
    if !aof_in_config && !aof_in_args {
        return miss(
            ID,
            Level::Fail,
            format!("Redis {name} does not enable appendonly"),
            "a Redis restart then loses the GCS state, and the next head failure loses every replica",
            "add `appendonly yes` to redis.conf and keep /data on a volume",
        );
    }
    let data_mount = containers(redis)
        .iter()
        .flat_map(|c| c["volumeMounts"].as_array().cloned().unwrap_or_default())
        .find(|m| m["mountPath"] == "/data");
    let volume = data_mount.and_then(|m| {
        pod["volumes"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|v| v["name"] == m["name"])
            .cloned()
    });
    let claim_template =
        redis["kind"] == "StatefulSet" && redis["spec"]["volumeClaimTemplates"].is_array();
    match volume {
        Some(v) if v["persistentVolumeClaim"].is_object() => pass(
            ID,
            format!("Redis {name}: appendonly on a PersistentVolumeClaim"),
        ),
        _ if claim_template => pass(
            ID,
            format!("Redis {name}: appendonly on a volumeClaimTemplate"),
        ),
        Some(v) if v["emptyDir"].is_object() => miss(
            ID,
            Level::Warn,
            format!("Redis {name}: appendonly on an emptyDir"),
            "the AOF survives Redis restarts, not the loss of its pod: the GCS then restarts against an empty Redis, every worker restarts and every Serve replica is redeployed",
            "keep /data on a PersistentVolumeClaim of a class whose volumes attach on any node (kubectl rayha generate does unless --redis-storage none)",
        ),
        _ => miss(
            ID,
            Level::Warn,
            format!("Redis {name}: appendonly, but /data is not on a volume"),
            "the AOF lives in the container's own filesystem and is gone when the container restarts",
            "mount a volume at /data (an emptyDir survives restarts, a PersistentVolumeClaim survives pod loss)",
        ),
    }
}

pub(super) fn check_resources(ctx: &Ctx) -> Check {
    const ID: &str = "resource-requests";
    let mut missing = vec![];
    let requests_set = |c: &Value| {
        c["resources"]["requests"]["cpu"].is_string()
            || c["resources"]["requests"]["cpu"].is_number()
    };
    let memory_set = |c: &Value| !c["resources"]["requests"]["memory"].is_null();
    if !(requests_set(ctx.head_container) && memory_set(ctx.head_container)) {
        missing.push("head".to_string());
    }
    for g in ctx.cluster["workerGroupSpecs"]
        .as_array()
        .into_iter()
        .flatten()
    {
        let c = &g["template"]["spec"]["containers"][0];
        if !(requests_set(c) && memory_set(c)) {
            missing.push(format!(
                "worker group {}",
                g["groupName"].as_str().unwrap_or("?")
            ));
        }
    }
    for d in ctx.docs.iter().filter(|d| is_redis_workload(d)) {
        if containers(d)
            .iter()
            .any(|c| !(requests_set(c) && memory_set(c)))
        {
            missing.push(format!(
                "Redis {}",
                d["metadata"]["name"].as_str().unwrap_or("")
            ));
        }
    }
    if missing.is_empty() {
        pass(ID, "CPU and memory requests set on head, workers and Redis")
    } else {
        miss(
            ID,
            Level::Warn,
            format!("no CPU/memory requests on {}", missing.join(", ")),
            "without requests the scheduler may pack pods onto one node and the kubelet evicts them first under pressure",
            "set resources.requests.cpu and .memory on every container",
        )
    }
}
