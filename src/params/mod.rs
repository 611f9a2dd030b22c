//! Turns the user's generate options (flags over a values file over defaults) into checked
//! bundle parameters, refusing anything that is invalid or cannot give HA.

use std::path::Path;

use serde::Serialize;

use crate::cli::GenerateOptions;
use crate::error::{Error, Result};
use crate::serve_config;
use crate::validate;

mod placement;
mod steps;
pub use placement::{DEFAULT_NODE_LOSS_TOLERATION_S, KUBERNETES_TOLERATION_S, Spread};
use steps::*;

pub const DEFAULT_NAME: &str = "rayservice-ha";
pub const DEFAULT_RAY_VERSION: &str = "2.52.0";
pub const DEFAULT_KUBERAY_VERSION: &str = "1.7.0";
pub const DEFAULT_REDIS_IMAGE: &str = "redis:7.4.0";
pub const REDIS_PORT: u16 = 6379;
/// Redis keeps the GCS state on a claim of this size unless told otherwise: the AOF of a Serve
/// cluster's GCS is a few MB.
pub const DEFAULT_REDIS_STORAGE: &str = "1Gi";
/// `--redis-storage none`: an emptyDir, lost with the pod.
pub const NO_REDIS_STORAGE: &str = "none";
pub const SERVE_PORT: u16 = 8000;
/// The sample's application: KubeRay's test_dag fruit stand.
pub const FRUIT_IMPORT_PATH: &str = "fruit.deployment_graph";
pub const FRUIT_WORKING_DIR: &str =
    "https://github.com/ray-project/test_dag/archive/4d2c9a59d9eabfd4c8a9e04a7aae44fc8f5b416f.zip";
pub const FRUIT_ROUTE: &str = "/fruit";
/// The fruit stand's deployments with the price each one is configured with.
pub const FRUIT_DEPLOYMENTS: [(&str, Option<i64>); 4] = [
    ("MangoStand", Some(3)),
    ("OrangeStand", Some(2)),
    ("PearStand", Some(1)),
    ("FruitMarket", None),
];
/// The guide's request and answer: 12 pears at price 1.
pub const FRUIT_REQUEST: &str = r#"["PEAR", 12]"#;
pub const FRUIT_ANSWER: &str = "12";
/// The least replicas of a deployment that survive the loss of one node.
pub const HA_MIN_REPLICAS: i64 = 2;

/// Everything the templates need, checked.
#[derive(Debug, Clone, Serialize)]
pub struct Params {
    pub name: String,
    pub namespace: Option<String>,
    pub ray_version: String,
    pub image: String,
    pub kuberay_version: String,
    /// `gcsFaultToleranceOptions` (KubeRay >= 1.3) rather than the legacy annotation form.
    pub ft_options: bool,
    pub rayservice_annotations: std::collections::BTreeMap<String, String>,
    pub worker_replicas: i64,
    pub min_workers: i64,
    pub max_workers: i64,
    pub head_cpu: String,
    pub head_memory: String,
    pub head_memory_limit: String,
    pub worker_cpu: String,
    pub worker_memory: String,
    pub serve_config_yaml: String,
    pub redis_address: String,
    pub redis: Option<RedisParams>,
    pub secret: SecretParams,
    pub external_storage_namespace: Option<String>,
    pub tester: Option<TesterParams>,
    pub spread: Spread,
    /// `tolerationSeconds` of the not-ready and unreachable taints on every pod of the bundle.
    pub node_loss_toleration_s: u64,
    pub budget: BudgetParams,
}

/// The PodDisruptionBudget of the worker pods.
#[derive(Debug, Clone, Serialize)]
pub struct BudgetParams {
    pub name: String,
    /// Workers less one: a drain takes one worker at a time. An integer `minAvailable`, since the
    /// disruption controller cannot count pods of a RayCluster for `maxUnavailable` (no scale
    /// subresource) and then allows no eviction at all.
    pub min_available: i64,
}

#[derive(Debug, Clone, Serialize)]
pub struct RedisParams {
    pub image: String,
    pub port: u16,
    pub deployment_name: String,
    pub service_name: String,
    pub config_name: String,
    pub pvc_name: String,
    pub storage: Option<String>,
    pub storage_class: Option<String>,
    /// `--redis-tls`: TLS only, with the bundle's own CA.
    pub tls: Option<RedisTls>,
}

/// Where the TLS files of `--redis-tls` live.
#[derive(Debug, Clone, Serialize)]
pub struct RedisTls {
    /// The Secret with `ca.crt`, `tls.crt` and `tls.key`.
    pub secret_name: String,
    /// The Service's DNS names the server certificate is for.
    pub names: Vec<String>,
    /// Filled in by `generate` just before rendering (base64 of the PEM texts); never logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub material: Option<TlsMaterial>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TlsMaterial {
    pub ca_b64: String,
    pub cert_b64: String,
    pub key_b64: String,
}

/// Where Ray pods and Redis find the TLS files.
pub const REDIS_TLS_DIR: &str = "/etc/redis-tls";

#[derive(Debug, Clone, Serialize)]
pub struct SecretParams {
    pub name: String,
    pub key: String,
    /// Emit a Secret with a fresh password (false when the user names an existing Secret).
    pub emit: bool,
    /// Filled in by `generate` just before rendering; never logged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub password_b64: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TesterParams {
    pub name: String,
    /// `app.kubernetes.io/component` of the pod and its ConfigMap.
    pub component: String,
    pub restart_policy: String,
    pub url: String,
    pub method: String,
    pub data: String,
    pub expect: Option<String>,
    /// More environment for the query loop (RAYHA_COUNT, RAYHA_FORMAT, …).
    pub env: Vec<EnvVar>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EnvVar {
    pub name: String,
    pub value: String,
}

/// The checked parameters and the warnings for stderr.
#[derive(Debug)]
pub struct Resolved {
    pub params: Params,
    pub warnings: Vec<String>,
}

impl GenerateOptions {
    /// Field by field, `self` (the flags) over `lower` (the values file).
    pub fn over(self, lower: GenerateOptions) -> GenerateOptions {
        macro_rules! pick {
            ($($f:ident),* $(,)?) => { GenerateOptions { $($f: self.$f.or(lower.$f)),* } };
        }
        pick!(
            name,
            ray_version,
            image,
            kuberay_version,
            worker_replicas,
            min_workers,
            max_workers,
            head_cpu,
            head_memory,
            head_memory_limit,
            worker_cpu,
            worker_memory,
            serve_config,
            import_path,
            working_dir,
            deployments,
            route_prefix,
            serve_replicas,
            redis_address,
            redis_password_secret,
            redis_password_key,
            redis_image,
            redis_storage,
            redis_storage_class,
            redis_tls,
            external_storage_namespace,
            spread,
            node_loss_toleration,
            with_tester,
            allow_non_ha,
        )
    }
}

/// Reads a `--values` file: YAML with the flags' names as keys; unknown keys are errors.
pub fn read_values_file(path: &Path) -> Result<GenerateOptions> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| Error::failed(format!("--values {}: cannot read: {e}", path.display())))?;
    if text.trim().is_empty() {
        return Ok(GenerateOptions::default());
    }
    serde_saphyr::from_str(&text).map_err(|e| {
        Error::usage(format!(
            "--values {}: {}",
            path.display(),
            crate::redact::yaml_error_naming(&e, &text, is_option_name)
        ))
    })
}

/// Whether `key` is a `--values` key (a generate flag's long name).
fn is_option_name(key: &str) -> bool {
    use clap::Args;
    GenerateOptions::augment_args(clap::Command::new("values"))
        .get_arguments()
        .any(|a| a.get_long() == Some(key))
}

pub(super) fn check(field: &str, problem: Option<String>) -> Result<()> {
    match problem {
        Some(p) => Err(Error::invalid(field, p)),
        None => Ok(()),
    }
}

pub(super) fn quantity(field: &str, value: Option<String>, default: &str) -> Result<String> {
    let q = value.unwrap_or_else(|| default.to_string());
    if validate::is_quantity(&q) {
        Ok(q)
    } else {
        Err(Error::invalid(
            field,
            format!("must be a Kubernetes quantity such as 500m, 2 or 4Gi (got {q:?})"),
        ))
    }
}

pub(super) fn conflict(a: &str, b: &str, why: &str) -> Error {
    Error::usage(format!("--{a} cannot be used with --{b}: {why}"))
}

/// Checks the merged options and fills in defaults, one named step per concern; each step
/// refuses with an error naming its flag, or adds warnings.
pub fn resolve(o: GenerateOptions, namespace: Option<String>) -> Result<Resolved> {
    let mut warnings = Vec::new();
    let allow_non_ha = o.allow_non_ha.unwrap_or(false);
    single_line_text(&o)?;
    let name = names(&o, namespace.as_deref())?;
    let (ray_version, image) = ray_image(&o, &mut warnings)?;
    let (kuberay_version, ft_options) = kuberay(&o, &mut warnings)?;
    let serve = serve(&o, allow_non_ha, &mut warnings)?;
    let (worker_replicas, min_workers, max_workers) =
        worker_counts(&o, serve.workers_needed, allow_non_ha, &mut warnings)?;
    let (redis, redis_address) = redis(&o, &name, namespace.as_deref())?;
    if redis.as_ref().is_some_and(|r| r.tls.is_some()) && !ft_options {
        return Err(conflict(
            "redis-tls",
            "kuberay-version below 1.3",
            "TLS to Redis needs gcsFaultToleranceOptions (KubeRay 1.3 or newer)",
        ));
    }
    let secret = secret(&o, &name)?;
    let rayservice_annotations = legacy_annotations(&o, ft_options)?;
    let spread = placement::spread(&o)?;
    let node_loss_toleration_s = placement::node_loss_toleration(&o)?;
    let budget = BudgetParams {
        name: format!("{name}-workers"),
        min_available: worker_replicas - 1,
    };
    let tester = o
        .with_tester
        .unwrap_or(false)
        .then(|| tester_params(&name, &serve.apps, serve.default_app));
    let params = Params {
        namespace,
        ray_version,
        image,
        kuberay_version,
        ft_options,
        rayservice_annotations,
        worker_replicas,
        min_workers,
        max_workers,
        head_cpu: quantity("head-cpu", o.head_cpu, "1")?,
        head_memory: quantity("head-memory", o.head_memory, "2Gi")?,
        head_memory_limit: quantity("head-memory-limit", o.head_memory_limit, "5Gi")?,
        worker_cpu: quantity("worker-cpu", o.worker_cpu, "1")?,
        worker_memory: quantity("worker-memory", o.worker_memory, "2Gi")?,
        serve_config_yaml: serve_config::to_yaml(&serve.value),
        redis_address,
        redis,
        secret,
        external_storage_namespace: o.external_storage_namespace.filter(|_| ft_options),
        tester,
        spread,
        node_loss_toleration_s,
        budget,
        name,
    };
    Ok(Resolved { params, warnings })
}
