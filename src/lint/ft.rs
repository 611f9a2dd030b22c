//! GCS fault tolerance and its Redis: enabled, configured as KubeRay accepts it, reachable,
//! its password kept out of the manifest; and the RayService name KubeRay can use.

use serde_json::Value;

use super::pods::{containers, is_redis_workload};
use super::{Check, Ctx, Level, miss, pass};
use crate::validate;

pub(super) fn check_name(ctx: &Ctx) -> Check {
    let name = ctx.rs["metadata"]["name"].as_str().unwrap_or("");
    match validate::rayservice_name_problem(name) {
        None => pass("name", format!("{name:?} is a valid RayService name")),
        Some(p) => miss(
            "name",
            Level::Fail,
            format!("metadata.name {p}"),
            "KubeRay derives the RayCluster and Service names from it (\"-serve-svc\" plus 6 characters must fit a 63-character DNS label) and rejects the RayService otherwise",
            format!(
                "use a lower-case DNS-1035 name of at most {} characters",
                validate::MAX_RAYSERVICE_NAME_LEN
            ),
        ),
    }
}

pub(super) fn check_gcs_ft(ctx: &Ctx) -> Check {
    const WHY: &str = "without GCS fault tolerance a new head starts an empty GCS: the worker raylets exit, every Serve replica is lost and the app is redeployed, so requests fail until it is back";
    match (ctx.ft_options, ctx.ft_annotation) {
        (Some(_), Some(_)) => miss(
            "gcs-fault-tolerance",
            Level::Fail,
            "both gcsFaultToleranceOptions and the ray.io/ft-enabled annotation are set",
            "KubeRay rejects a RayService that sets both (any annotation value, even \"false\")",
            "remove the ray.io/ft-enabled annotation and keep gcsFaultToleranceOptions",
        ),
        (Some(opts), None) => {
            let backend = opts["backend"].as_str().unwrap_or("redis");
            pass(
                "gcs-fault-tolerance",
                format!("on, via rayClusterConfig.gcsFaultToleranceOptions (backend {backend})"),
            )
        }
        (None, Some(v)) if v.eq_ignore_ascii_case("true") => pass(
            "gcs-fault-tolerance",
            "on, via the legacy ray.io/ft-enabled annotation (gcsFaultToleranceOptions replaces it from KubeRay 1.3)",
        ),
        (None, _) if ctx.head_env("RAY_REDIS_ADDRESS").is_some() => miss(
            "gcs-fault-tolerance",
            Level::Fail,
            "RAY_REDIS_ADDRESS is set on the head but GCS fault tolerance is not enabled",
            "KubeRay rejects it: the address implies fault tolerance, which must be configured with gcsFaultToleranceOptions",
            "move the address to rayClusterConfig.gcsFaultToleranceOptions.redisAddress",
        ),
        (None, _) => miss(
            "gcs-fault-tolerance",
            Level::Fail,
            "off: no rayClusterConfig.gcsFaultToleranceOptions",
            WHY,
            "add gcsFaultToleranceOptions with redisAddress and redisPassword.valueFrom (kubectl rayha generate shows a complete example)",
        ),
    }
}

/// KubeRay's validation rules about Redis settings outside gcsFaultToleranceOptions.
pub(super) fn check_ft_settings(ctx: &Ctx) -> Check {
    const ID: &str = "ft-settings";
    const WHY: &str = "KubeRay refuses to reconcile a RayService whose Redis settings conflict, so it never becomes Ready";
    if ctx.head_param("redis-username").is_some() || ctx.head_env("REDIS_USERNAME").is_some() {
        return miss(
            ID,
            Level::Fail,
            "redis username set in rayStartParams or the REDIS_USERNAME env",
            WHY,
            "use gcsFaultToleranceOptions.redisUsername instead",
        );
    }
    if ctx.ft_options.is_some() {
        let conflicts = [
            (
                ctx.head_param("redis-password").is_some(),
                "rayStartParams.redis-password",
                "gcsFaultToleranceOptions.redisPassword",
            ),
            (
                ctx.head_env("REDIS_PASSWORD").is_some(),
                "the head's REDIS_PASSWORD env",
                "gcsFaultToleranceOptions.redisPassword",
            ),
            (
                ctx.head_env("RAY_REDIS_ADDRESS").is_some(),
                "the head's RAY_REDIS_ADDRESS env",
                "gcsFaultToleranceOptions.redisAddress",
            ),
            (
                ctx.rs["metadata"]["annotations"]["ray.io/external-storage-namespace"].is_string(),
                "the ray.io/external-storage-namespace annotation",
                "gcsFaultToleranceOptions.externalStorageNamespace",
            ),
        ];
        if let Some((_, what, instead)) = conflicts.iter().find(|(set, _, _)| *set) {
            return miss(
                ID,
                Level::Fail,
                format!("{what} is set together with gcsFaultToleranceOptions"),
                WHY,
                format!("remove it and use {instead}"),
            );
        }
    }
    if ctx.cluster["headGroupSpec"]["resources"].is_object()
        && ["num-cpus", "num-gpus", "memory", "resources"]
            .iter()
            .any(|k| ctx.head_param(k).is_some())
    {
        return miss(
            ID,
            Level::Fail,
            "headGroupSpec sets resources both in rayStartParams and in resources",
            WHY,
            "set them in one place only",
        );
    }
    pass(ID, "no conflicting Redis or resource settings")
}

/// The Redis address, with a password in it as `***`: the report shows it.
fn redis_address(ctx: &Ctx) -> Option<String> {
    let raw = match ctx.ft_options {
        Some(opts) => opts["redisAddress"].as_str(),
        None => ctx
            .head_env("RAY_REDIS_ADDRESS")
            .and_then(|e| e["value"].as_str()),
    };
    raw.map(crate::redact::url)
}

pub(super) fn check_redis_address(ctx: &Ctx) -> Check {
    const ID: &str = "redis-address";
    const WHY: &str = "the GCS keeps its state in Redis at this address; without it a new head cannot recover the cluster";
    if ctx.uses_rocksdb() {
        return pass(ID, "not used: backend rocksdb (see gcs-backend)");
    }
    let Some(addr) = redis_address(ctx) else {
        if !ctx.ft_enabled() {
            return miss(
                ID,
                Level::Fail,
                "no Redis: GCS fault tolerance is off",
                WHY,
                "run a Redis with persistence and set gcsFaultToleranceOptions.redisAddress",
            );
        }
        return miss(
            ID,
            Level::Fail,
            "no Redis address (gcsFaultToleranceOptions.redisAddress)",
            WHY,
            "set gcsFaultToleranceOptions.redisAddress to HOST:PORT of a Redis the cluster can reach",
        );
    };
    if let Some(p) = validate::redis_address_problem(&addr) {
        return miss(
            ID,
            Level::Fail,
            format!("redisAddress {p}"),
            WHY,
            "use HOST:PORT, e.g. redis:6379",
        );
    }
    let short = validate::redis_service_label(&addr);
    let bundle_has_redis = ctx.docs.iter().any(is_redis_workload);
    let service_found = ctx
        .docs
        .iter()
        .any(|d| d["kind"] == "Service" && d["metadata"]["name"] == short);
    if bundle_has_redis && !service_found {
        return miss(
            ID,
            Level::Warn,
            format!("{addr}: no Service named {short:?} in this input, though it deploys Redis"),
            WHY,
            "point redisAddress at the Redis Service of the bundle",
        );
    }
    pass(ID, addr)
}

/// The env vars by which Ray's GCS is given the CA of Redis' certificate (file, directory).
pub const REDIS_CA_ENVS: [&str; 2] = ["RAY_REDIS_CA_CERT", "RAY_REDIS_CA_PATH"];

/// Whether the GCS reaches Redis over TLS: a `rediss://` address and the CA the certificate is
/// checked against. Clear text passes (it does not weaken HA) but says what crosses the network.
pub(super) fn check_redis_tls(ctx: &Ctx) -> Check {
    const ID: &str = "redis-tls";
    if ctx.uses_rocksdb() {
        return pass(ID, "not used: backend rocksdb (see gcs-backend)");
    }
    let Some(addr) = redis_address(ctx) else {
        return pass(ID, "no Redis address (see redis-address)");
    };
    if !addr.starts_with("rediss://") {
        return pass(
            ID,
            "clear text: the Redis password and Ray's state cross the cluster network unencrypted (kubectl rayha generate --redis-tls encrypts them)",
        );
    }
    let ca = REDIS_CA_ENVS
        .into_iter()
        .find(|name| ctx.head_env(name).is_some());
    match ca {
        Some(name) => pass(
            ID,
            format!("encrypted: rediss://, Redis' certificate checked against the CA in {name}"),
        ),
        // A managed Redis with a public CA verifies against the image's system CAs.
        None => pass(
            ID,
            "encrypted: rediss://, Redis' certificate checked against the Ray image's system CAs (a private CA needs RAY_REDIS_CA_CERT on the head)",
        ),
    }
}

pub(super) fn check_redis_password(ctx: &Ctx) -> Check {
    const ID: &str = "redis-password";
    const WHY: &str = "a password written into a manifest is readable by anyone who can read that object or its source";
    for d in ctx.docs {
        if let Some(name) = inline_requirepass(d) {
            return miss(
                ID,
                Level::Warn,
                format!(
                    "{} {name} holds the Redis password inline (requirepass)",
                    d["kind"].as_str().unwrap_or("object")
                ),
                WHY,
                "keep the password only in a Secret and hand it to redis-server at start (kubectl rayha generate does)",
            );
        }
    }
    if ctx.uses_rocksdb() {
        return pass(ID, "not used: backend rocksdb (see gcs-backend)");
    }
    let from_secret = |v: &Value| v["valueFrom"]["secretKeyRef"].is_object();
    if let Some(opts) = ctx.ft_options {
        return match opts.get("redisPassword") {
            Some(p) if from_secret(p) => pass(
                ID,
                "read from a Secret (redisPassword.valueFrom.secretKeyRef)",
            ),
            Some(p) if p["value"].is_string() => miss(
                ID,
                Level::Warn,
                "gcsFaultToleranceOptions.redisPassword.value is inline",
                WHY,
                "use redisPassword.valueFrom.secretKeyRef",
            ),
            _ => miss(
                ID,
                Level::Warn,
                "no Redis password",
                "a Redis without a password lets any pod that can reach it read or erase the GCS state",
                "set requirepass on Redis and gcsFaultToleranceOptions.redisPassword.valueFrom",
            ),
        };
    }
    match (
        ctx.head_env("REDIS_PASSWORD"),
        ctx.head_param("redis-password"),
    ) {
        (Some(env), _) if from_secret(env) => {
            pass(ID, "read from a Secret (REDIS_PASSWORD env valueFrom)")
        }
        (_, Some(Value::String(p))) if !p.starts_with('$') => miss(
            ID,
            Level::Warn,
            "rayStartParams.redis-password is inline",
            WHY,
            "set REDIS_PASSWORD from a Secret and redis-password: $REDIS_PASSWORD",
        ),
        (Some(_), _) => miss(
            ID,
            Level::Warn,
            "REDIS_PASSWORD env is inline",
            WHY,
            "use valueFrom.secretKeyRef",
        ),
        _ => miss(
            ID,
            Level::Warn,
            "no Redis password",
            "a Redis without a password lets any pod that can reach it read or erase the GCS state",
            "set requirepass on Redis and pass it from a Secret",
        ),
    }
}

/// Name of an object (ConfigMap data or container command) that holds `requirepass <literal>`.
fn inline_requirepass(d: &Value) -> Option<String> {
    let name = d["metadata"]["name"].as_str().unwrap_or("").to_string();
    let literal = |text: &str| {
        let words: Vec<&str> = text.split_whitespace().collect();
        words.windows(2).any(|w| {
            (w[0] == "requirepass" || w[0] == "--requirepass")
                && !w[1].starts_with('$')
                && !w[1].starts_with("\"$")
                && w[1] != "%s"
                && w[1] != "\"%s"
        })
    };
    if d["kind"] == "ConfigMap" {
        let data = d["data"].as_object()?;
        return data
            .values()
            .filter_map(Value::as_str)
            .any(literal)
            .then_some(name);
    }
    if is_redis_workload(d) {
        let cmd_text: String = containers(d)
            .iter()
            .flat_map(|c| ["command", "args"].map(|k| c[k].as_array().cloned().unwrap_or_default()))
            .flatten()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect::<Vec<_>>()
            .join(" ");
        return literal(&cmd_text).then_some(name);
    }
    None
}
