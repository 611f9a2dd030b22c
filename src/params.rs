//! Turns the user's generate options (flags over a values file over defaults) into checked
//! bundle parameters, refusing anything that is invalid or cannot give HA.

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::cli::GenerateOptions;
use crate::error::{Error, Result};
use crate::serve_config;
use crate::validate::{self, ImageVersion};

pub const DEFAULT_NAME: &str = "rayservice-ha";
pub const DEFAULT_RAY_VERSION: &str = "2.52.0";
pub const DEFAULT_KUBERAY_VERSION: &str = "1.7.0";
pub const DEFAULT_REDIS_IMAGE: &str = "redis:7.4.0";
pub const REDIS_PORT: u16 = 6379;
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
}

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
            external_storage_namespace,
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
            e.to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        ))
    })
}

fn check(field: &str, problem: Option<String>) -> Result<()> {
    match problem {
        Some(p) => Err(Error::invalid(field, p)),
        None => Ok(()),
    }
}

fn quantity(field: &str, value: Option<String>, default: &str) -> Result<String> {
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

fn conflict(a: &str, b: &str, why: &str) -> Error {
    Error::usage(format!("--{a} cannot be used with --{b}: {why}"))
}

/// Checks the merged options and fills in defaults.
pub fn resolve(o: GenerateOptions, namespace: Option<String>) -> Result<Resolved> {
    let mut warnings = Vec::new();
    let allow_non_ha = o.allow_non_ha.unwrap_or(false);

    let name = o.name.clone().unwrap_or_else(|| DEFAULT_NAME.to_string());
    check("name", validate::rayservice_name_problem(&name))?;
    if let Some(ns) = &namespace {
        check("namespace", validate::dns1123_label_problem(ns))?;
    }

    let ray_version = o
        .ray_version
        .clone()
        .unwrap_or_else(|| DEFAULT_RAY_VERSION.to_string());
    if !validate::is_ray_version(&ray_version) {
        return Err(Error::invalid(
            "ray-version",
            format!(
                "must be a Ray release X.Y.Z such as {DEFAULT_RAY_VERSION} (got {ray_version:?})"
            ),
        ));
    }
    let image = o
        .image
        .clone()
        .unwrap_or_else(|| format!("rayproject/ray:{ray_version}"));
    match validate::image_version(&image, &ray_version) {
        ImageVersion::Matches => {}
        ImageVersion::Mismatch(tag) => {
            return Err(Error::invalid(
                "image",
                format!("its tag is Ray {tag} but ray-version is {ray_version}; they must match"),
            ));
        }
        ImageVersion::Unknown => warnings.push(format!(
            "image {image:?} has no Ray version in its tag; make sure it runs Ray {ray_version}"
        )),
    }

    let kuberay_version = o
        .kuberay_version
        .clone()
        .unwrap_or_else(|| DEFAULT_KUBERAY_VERSION.to_string());
    let (kr_major, kr_minor) =
        validate::parse_kuberay_version(&kuberay_version).ok_or_else(|| {
            Error::invalid(
                "kuberay-version",
                format!("must be X.Y or X.Y.Z such as 1.7.0 (got {kuberay_version:?})"),
            )
        })?;
    if kr_major < 1 {
        return Err(Error::invalid(
            "kuberay-version",
            format!(
                "must be 1.0 or newer: the ray.io/v1 RayService API starts there (got {kuberay_version})"
            ),
        ));
    }
    let ft_options = (kr_major, kr_minor) >= (1, 3);
    if !ft_options {
        warnings.push(format!(
            "KubeRay {kuberay_version} has no gcsFaultToleranceOptions (added in 1.3): using the legacy ray.io/ft-enabled annotation with RAY_REDIS_ADDRESS and REDIS_PASSWORD on the head"
        ));
    }

    // The Serve config decides how many workers HA needs.
    let (serve_value, default_app) = serve_config_value(&o)?;
    let mut serve_value = serve_value;
    let enforcement = serve_config::enforce_ha(&mut serve_value, HA_MIN_REPLICAS, allow_non_ha)
        .map_err(|e| Error::usage(format!("serve config: {e}")))?;
    warnings.extend(enforcement.warnings.iter().map(|w| {
        if default_app {
            w.clone()
        } else {
            format!("serve config: {w}")
        }
    }));
    let apps =
        serve_config::apps(&serve_value).map_err(|e| Error::usage(format!("serve config: {e}")))?;
    let needed = serve_config::workers_needed(&apps).max(HA_MIN_REPLICAS);

    let (worker_replicas, min_workers, max_workers) =
        worker_counts(&o, needed, allow_non_ha, &mut warnings)?;

    let head_cpu = quantity("head-cpu", o.head_cpu, "1")?;
    let head_memory = quantity("head-memory", o.head_memory, "2Gi")?;
    let head_memory_limit = quantity("head-memory-limit", o.head_memory_limit, "5Gi")?;
    let worker_cpu = quantity("worker-cpu", o.worker_cpu, "1")?;
    let worker_memory = quantity("worker-memory", o.worker_memory, "2Gi")?;

    let external_redis = o.redis_address.is_some();
    if external_redis {
        for (flag, set) in [
            ("redis-image", o.redis_image.is_some()),
            ("redis-storage", o.redis_storage.is_some()),
            ("redis-storage-class", o.redis_storage_class.is_some()),
        ] {
            if set {
                return Err(conflict(
                    flag,
                    "redis-address",
                    "no Redis is deployed when an external address is given",
                ));
            }
        }
    }
    if o.redis_storage_class.is_some() && o.redis_storage.is_none() {
        return Err(Error::usage(
            "--redis-storage-class needs --redis-storage SIZE: without it Redis keeps /data on an emptyDir",
        ));
    }
    let redis = (!external_redis)
        .then(|| redis_params(&name, o.redis_image, o.redis_storage, o.redis_storage_class))
        .transpose()?;
    let redis_address = match o.redis_address {
        Some(addr) => {
            check("redis-address", validate::redis_address_problem(&addr))?;
            addr
        }
        None => format!("{name}-redis:{REDIS_PORT}"),
    };

    let secret_key = o
        .redis_password_key
        .unwrap_or_else(|| "password".to_string());
    if secret_key.is_empty()
        || !secret_key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(Error::invalid(
            "redis-password-key",
            format!("must be a Secret key: letters, digits, '-', '_' and '.' (got {secret_key:?})"),
        ));
    }
    let secret = match o.redis_password_secret {
        Some(existing) => {
            check(
                "redis-password-secret",
                validate::dns1123_subdomain_problem(&existing),
            )?;
            SecretParams {
                name: existing,
                key: secret_key,
                emit: false,
                password_b64: None,
            }
        }
        None => SecretParams {
            name: format!("{name}-redis-password"),
            key: secret_key,
            emit: true,
            password_b64: None,
        },
    };

    if let Some(ns) = &o.external_storage_namespace
        && (ns.is_empty() || ns.chars().any(char::is_whitespace))
    {
        return Err(Error::invalid(
            "external-storage-namespace",
            format!("must be a non-empty string without spaces (got {ns:?})"),
        ));
    }
    let mut rayservice_annotations = std::collections::BTreeMap::new();
    if !ft_options {
        rayservice_annotations.insert("ray.io/ft-enabled".to_string(), "true".to_string());
        if let Some(ns) = &o.external_storage_namespace {
            rayservice_annotations
                .insert("ray.io/external-storage-namespace".to_string(), ns.clone());
        }
    }

    let tester = o
        .with_tester
        .unwrap_or(false)
        .then(|| tester_params(&name, &apps, default_app));

    let params = Params {
        name,
        namespace,
        ray_version,
        image,
        kuberay_version,
        ft_options,
        rayservice_annotations,
        worker_replicas,
        min_workers,
        max_workers,
        head_cpu,
        head_memory,
        head_memory_limit,
        worker_cpu,
        worker_memory,
        serve_config_yaml: serve_config::to_yaml(&serve_value),
        redis_address,
        redis,
        secret,
        external_storage_namespace: if ft_options {
            o.external_storage_namespace
        } else {
            None
        },
        tester,
    };
    Ok(Resolved { params, warnings })
}

/// The Serve config as a value, and whether it is the fruit stand (whose request we know).
fn serve_config_value(o: &GenerateOptions) -> Result<(Value, bool)> {
    if let Some(path) = &o.serve_config {
        for (flag, set) in [
            ("import-path", o.import_path.is_some()),
            ("working-dir", o.working_dir.is_some()),
            ("deployments", o.deployments.is_some()),
            ("route-prefix", o.route_prefix.is_some()),
            ("serve-replicas", o.serve_replicas.is_some()),
        ] {
            if set {
                return Err(conflict(
                    flag,
                    "serve-config",
                    "the Serve config file defines the applications",
                ));
            }
        }
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::failed(format!(
                "--serve-config {}: cannot read: {e}",
                path.display()
            ))
        })?;
        let value = serve_config::parse(&text).map_err(|e| {
            Error::usage(format!(
                "--serve-config {}: not a Serve config: {e}",
                path.display()
            ))
        })?;
        return Ok((value, false));
    }
    let replicas = o.serve_replicas.unwrap_or(HA_MIN_REPLICAS);
    if replicas < 1 {
        return Err(Error::invalid(
            "serve-replicas",
            format!("must be at least 1, and {HA_MIN_REPLICAS} or more for HA (got {replicas})"),
        ));
    }
    if replicas < HA_MIN_REPLICAS && !o.allow_non_ha.unwrap_or(false) {
        return Err(Error::invalid(
            "serve-replicas",
            format!(
                "must be at least {HA_MIN_REPLICAS} so a replica survives the loss of a node (got {replicas}); add --allow-non-ha to generate it anyway"
            ),
        ));
    }
    let import_path = o
        .import_path
        .clone()
        .unwrap_or_else(|| FRUIT_IMPORT_PATH.to_string());
    if !is_import_path(&import_path) {
        return Err(Error::invalid(
            "import-path",
            format!("must be module.attr or module:attr (got {import_path:?})"),
        ));
    }
    let working_dir = match (&o.working_dir, &o.import_path) {
        (Some(dir), _) => dir.clone(),
        (None, None) => FRUIT_WORKING_DIR.to_string(),
        (None, Some(_)) => String::new(),
    };
    let route_prefix = o
        .route_prefix
        .clone()
        .unwrap_or_else(|| FRUIT_ROUTE.to_string());
    if !route_prefix.starts_with('/')
        || (route_prefix.len() > 1 && route_prefix.ends_with('/'))
        || route_prefix.contains(['{', '}'])
    {
        return Err(Error::invalid(
            "route-prefix",
            format!(
                "must start with '/', not end with '/' and contain no braces, e.g. /fruit (got {route_prefix:?})"
            ),
        ));
    }
    let deployments: Vec<(String, Option<i64>)> = match &o.deployments {
        Some(names) => {
            let mut seen = std::collections::BTreeSet::new();
            for n in names {
                if n.trim().is_empty() || !seen.insert(n.as_str()) {
                    return Err(Error::invalid(
                        "deployments",
                        format!("must be distinct, non-empty deployment names (got {names:?})"),
                    ));
                }
            }
            names.iter().map(|n| (n.clone(), fruit_price(n))).collect()
        }
        None => FRUIT_DEPLOYMENTS
            .iter()
            .map(|(n, p)| (n.to_string(), *p))
            .collect(),
    };
    let app = serde_json::json!({
        "name": "fruit_app",
        "import_path": import_path,
        "route_prefix": route_prefix,
        "working_dir": working_dir,
        "replicas": replicas,
        "deployments": deployments.iter().map(|(n, p)| serde_json::json!({"name": n, "price": p})).collect::<Vec<_>>(),
    });
    let text = crate::templates::render_serve_config(&app)?;
    let value = serve_config::parse(&text)
        .map_err(|e| Error::failed(format!("internal: serve config template: {e}")))?;
    // The fruit stand's request and answer apply while its deployments are the ones deployed.
    Ok((value, o.deployments.is_none()))
}

/// Only the fruit stand's deployments get its prices as `user_config`.
fn fruit_price(name: &str) -> Option<i64> {
    FRUIT_DEPLOYMENTS
        .iter()
        .find(|(n, _)| *n == name)
        .and_then(|(_, p)| *p)
}

fn is_import_path(p: &str) -> bool {
    let colons = p.matches(':').count();
    let valid_chars = p
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | ':'));
    valid_chars
        && !p.starts_with([':', '.'])
        && !p.ends_with([':', '.'])
        && (colons == 1 || (colons == 0 && p.contains('.')))
}

fn worker_counts(
    o: &GenerateOptions,
    needed: i64,
    allow_non_ha: bool,
    warnings: &mut Vec<String>,
) -> Result<(i64, i64, i64)> {
    let replicas = o.worker_replicas.unwrap_or(needed);
    let min = o.min_workers.unwrap_or(replicas);
    let max = o.max_workers.unwrap_or_else(|| replicas.max(5));
    if replicas < 1 {
        return Err(Error::invalid(
            "worker-replicas",
            format!("must be at least 1 (got {replicas})"),
        ));
    }
    if min < 0 {
        return Err(Error::invalid(
            "min-workers",
            format!("must be 0 or more (got {min})"),
        ));
    }
    if max < 1 {
        return Err(Error::invalid(
            "max-workers",
            format!("must be at least 1 (got {max})"),
        ));
    }
    // Checked against max first: min defaults to replicas, so "min > max" would blame a flag
    // the user never gave.
    if replicas > max {
        return Err(Error::invalid(
            "worker-replicas",
            format!("must lie between min-workers and max-workers (at most {max}, got {replicas})"),
        ));
    }
    if min > max {
        return Err(Error::invalid(
            "min-workers",
            format!("must not exceed max-workers ({min} > {max})"),
        ));
    }
    if replicas < min {
        return Err(Error::invalid(
            "worker-replicas",
            format!("must lie between min-workers and max-workers ({min}..={max}, got {replicas})"),
        ));
    }
    if replicas < needed {
        let msg = format!(
            "worker-replicas {replicas} cannot hold {needed} replicas of a deployment at one per node; use at least {needed}"
        );
        if allow_non_ha {
            warnings.push(format!("{msg} (kept: --allow-non-ha)"));
        } else {
            return Err(Error::invalid(
                "worker-replicas",
                format!("{msg}, or add --allow-non-ha"),
            ));
        }
    }
    if min < needed {
        warnings.push(format!(
            "min-workers {min} is below the {needed} workers HA needs: an autoscaler may remove workers that hold replicas"
        ));
    }
    Ok((replicas, min, max))
}

fn redis_params(
    name: &str,
    image: Option<String>,
    storage: Option<String>,
    storage_class: Option<String>,
) -> Result<RedisParams> {
    if let Some(size) = &storage
        && !validate::is_quantity(size)
    {
        return Err(Error::invalid(
            "redis-storage",
            format!("must be a storage size such as 1Gi (got {size:?})"),
        ));
    }
    if let Some(class) = &storage_class {
        check(
            "redis-storage-class",
            validate::dns1123_subdomain_problem(class),
        )?;
    }
    let image = image.unwrap_or_else(|| DEFAULT_REDIS_IMAGE.to_string());
    if image.is_empty() || image.contains(char::is_whitespace) {
        return Err(Error::invalid(
            "redis-image",
            format!("must be an image reference such as {DEFAULT_REDIS_IMAGE} (got {image:?})"),
        ));
    }
    Ok(RedisParams {
        image,
        port: REDIS_PORT,
        deployment_name: format!("{name}-redis"),
        service_name: format!("{name}-redis"),
        config_name: format!("{name}-redis-config"),
        pvc_name: format!("{name}-redis-data"),
        storage,
        storage_class,
    })
}

fn tester_params(name: &str, apps: &[serve_config::App], default_app: bool) -> TesterParams {
    let route = apps
        .first()
        .and_then(|a| a.route_prefix.clone())
        .unwrap_or_else(|| "/".to_string());
    let path = if route.ends_with('/') {
        route
    } else {
        format!("{route}/")
    };
    TesterParams {
        name: format!("{name}-tester"),
        component: "tester".into(),
        restart_policy: "Always".into(),
        url: format!("http://{name}-serve-svc:{SERVE_PORT}{path}"),
        method: "POST".into(),
        data: if default_app {
            FRUIT_REQUEST.to_string()
        } else {
            String::new()
        },
        expect: default_app.then(|| FRUIT_ANSWER.to_string()),
        env: Vec::new(),
    }
}
