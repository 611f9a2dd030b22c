//! Where the GCS keeps its state (`gcsFaultToleranceOptions.backend`: Redis, or since KubeRay 1.7
//! an embedded RocksDB on a PersistentVolume of the head), and the deletion timeout of KubeRay
//! 1.7 for the Redis cleanup finalizer. The rules are KubeRay 1.7.0's own validation
//! (`validateGcsFaultToleranceBackend`) and what each backend survives.

use serde_json::Value;

use super::{Check, Ctx, Level, miss, pass};

/// What KubeRay 1.7 mounts on the head for the RocksDB backend; a user may not set them.
const ROCKSDB_VOLUME: &str = "gcs-storage";
const ROCKSDB_MOUNT: &str = "/data/gcs";
const ROCKSDB_ENV: [&str; 2] = ["RAY_gcs_storage", "RAY_gcs_storage_path"];
/// KubeRay 1.7's fallback when the annotation is absent or not a positive integer.
const DEFAULT_DELETION_TIMEOUT_S: u64 = 300;
pub(super) const DELETION_TIMEOUT_ANNOTATION: &str = "ray.io/gcs-ft-deletion-timeout";

pub(super) fn check_gcs_backend(ctx: &Ctx) -> Check {
    const ID: &str = "gcs-backend";
    let Some(opts) = ctx.ft_options else {
        return pass(ID, "no gcsFaultToleranceOptions: see gcs-fault-tolerance");
    };
    if !ctx.uses_rocksdb() {
        if opts.get("storage").is_some_and(|s| !s.is_null()) {
            return miss(
                ID,
                Level::Fail,
                "gcsFaultToleranceOptions.storage is set with the Redis backend",
                "KubeRay rejects it: storage only applies to backend rocksdb",
                "remove storage, or set backend: rocksdb (KubeRay 1.7+)",
            );
        }
        return pass(ID, "redis: the GCS state is in Redis, outside the head");
    }
    if let Some(problem) = rocksdb_rejected(ctx, opts) {
        return miss(
            ID,
            Level::Fail,
            problem,
            "KubeRay 1.7 rejects the RayCluster, so it never becomes Ready",
            "leave the Redis fields, the gcs-storage volume and the RAY_gcs_storage env to KubeRay; give either storage.claimName or size/storageClassName/accessModes",
        );
    }
    let shared = opts["storage"]["accessModes"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .find(|m| *m == "ReadWriteMany" || *m == "ReadOnlyMany");
    if let Some(mode) = shared {
        return miss(
            ID,
            Level::Warn,
            format!("rocksdb on a {mode} volume"),
            "while the old head terminates its replacement may already start elsewhere, and two GCS processes must never open the same RocksDB",
            "use ReadWriteOnce (KubeRay's default) or ReadWriteOncePod",
        );
    }
    let class = opts["storage"]["storageClassName"]
        .as_str()
        .map_or("the default StorageClass".to_string(), |c| {
            format!("StorageClass {c:?}")
        });
    miss(
        ID,
        Level::Warn,
        format!("rocksdb (alpha) on a PersistentVolume of {class}"),
        "the GCS state lives on one volume that the new head must attach: a head pod lost on a live node comes back, a head node lost comes back only if the volume can attach on another node (network block storage, not node-local); the operator also needs KubeRay 1.7+ with --feature-gates=GCSFaultToleranceEmbeddedStorage=true",
        "give storage.storageClassName a class whose volumes attach on any node of the head's zone and prove it with kubectl rayha failover; or keep the Redis backend (kubectl rayha generate)",
    )
}

/// KubeRay 1.7.0's reasons to reject a rocksdb RayCluster, first one found.
fn rocksdb_rejected(ctx: &Ctx, opts: &Value) -> Option<String> {
    let redis_field = ["redisAddress", "redisUsername", "redisPassword"]
        .into_iter()
        .chain(std::iter::once("externalStorageNamespace"))
        .find(|k| opts.get(*k).is_some_and(|v| !v.is_null() && v != ""));
    if let Some(field) = redis_field {
        return Some(format!(
            "gcsFaultToleranceOptions.{field} is set with backend rocksdb"
        ));
    }
    let storage = &opts["storage"];
    if storage["claimName"].as_str().is_some_and(|c| !c.is_empty())
        && ["size", "storageClassName", "accessModes"]
            .iter()
            .any(|k| storage.get(*k).is_some_and(|v| !v.is_null()))
    {
        return Some(
            "storage.claimName is set together with size, storageClassName or accessModes".into(),
        );
    }
    if let Some(env) = ROCKSDB_ENV.iter().find(|e| ctx.head_env(e).is_some()) {
        return Some(format!(
            "the head container sets {env}, which KubeRay manages"
        ));
    }
    let mounts = ctx.head_container["volumeMounts"]
        .as_array()
        .into_iter()
        .flatten();
    let volumes = ctx.head["template"]["spec"]["volumes"]
        .as_array()
        .into_iter()
        .flatten();
    let taken = mounts
        .into_iter()
        .any(|m| m["name"] == ROCKSDB_VOLUME || m["mountPath"] == ROCKSDB_MOUNT)
        || volumes.into_iter().any(|v| v["name"] == ROCKSDB_VOLUME);
    taken.then(|| {
        format!("the head declares a volume {ROCKSDB_VOLUME:?} or a mount at {ROCKSDB_MOUNT}, which KubeRay manages")
    })
}

pub(super) fn check_deletion_timeout(ctx: &Ctx) -> Check {
    const ID: &str = "ft-deletion-timeout";
    if !ctx.ft_enabled() || ctx.uses_rocksdb() {
        return pass(ID, "no Redis cleanup finalizer (no Redis backend)");
    }
    let Some(raw) = ctx.rs["metadata"]["annotations"][DELETION_TIMEOUT_ANNOTATION].as_str() else {
        return pass(
            ID,
            format!(
                "not set: KubeRay 1.7 frees a RayCluster whose Redis cleanup is stuck after {DEFAULT_DELETION_TIMEOUT_S} s; older operators wait until the cleanup Job succeeds"
            ),
        );
    };
    match raw.trim().parse::<u64>() {
        Ok(s) if s > 0 => pass(
            ID,
            format!(
                "{DELETION_TIMEOUT_ANNOTATION}: {s} s (KubeRay 1.7+; older operators ignore it)"
            ),
        ),
        _ => miss(
            ID,
            Level::Warn,
            format!(
                "{DELETION_TIMEOUT_ANNOTATION} is {raw:?}, not a whole number of seconds above 0"
            ),
            "KubeRay ignores it and waits its default 300 s before freeing a deletion stuck on the Redis cleanup",
            "give a positive integer, e.g. \"600\"",
        ),
    }
}
