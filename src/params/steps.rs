//! The steps of `resolve`, one concern each: names, Ray image, KubeRay version, the Serve
//! config, worker counts, Redis, the password Secret, legacy annotations, the tester.

use serde_json::Value;

use super::*;
use crate::cli::GenerateOptions;
use crate::error::{Error, Result};
use crate::serve_config;
use crate::validate::{self, ImageVersion};

/// No text option holds a control character: each becomes a YAML scalar, an env value or a
/// command argument, and a line break there makes a multi-line value nobody asked for.
pub(super) fn single_line_text(o: &GenerateOptions) -> Result<()> {
    let deployments = o.deployments.as_deref().unwrap_or_default();
    let texts = [
        ("name", o.name.as_deref()),
        ("ray-version", o.ray_version.as_deref()),
        ("image", o.image.as_deref()),
        ("kuberay-version", o.kuberay_version.as_deref()),
        ("head-cpu", o.head_cpu.as_deref()),
        ("head-memory", o.head_memory.as_deref()),
        ("head-memory-limit", o.head_memory_limit.as_deref()),
        ("worker-cpu", o.worker_cpu.as_deref()),
        ("worker-memory", o.worker_memory.as_deref()),
        ("import-path", o.import_path.as_deref()),
        ("working-dir", o.working_dir.as_deref()),
        ("route-prefix", o.route_prefix.as_deref()),
        ("redis-address", o.redis_address.as_deref()),
        ("redis-password-secret", o.redis_password_secret.as_deref()),
        ("redis-password-key", o.redis_password_key.as_deref()),
        ("redis-image", o.redis_image.as_deref()),
        ("redis-storage", o.redis_storage.as_deref()),
        ("redis-storage-class", o.redis_storage_class.as_deref()),
        (
            "external-storage-namespace",
            o.external_storage_namespace.as_deref(),
        ),
        ("spread", o.spread.as_deref()),
        ("node-loss-toleration", o.node_loss_toleration.as_deref()),
    ];
    let all = texts.into_iter().chain(
        deployments
            .iter()
            .map(|d| ("deployments", Some(d.as_str()))),
    );
    for (field, text) in all {
        if let Some(c) = text.and_then(crate::redact::control_char) {
            return Err(Error::invalid(
                field,
                format!("must be one line without control characters (found {c:?})"),
            ));
        }
    }
    Ok(())
}

/// The RayService name (and the namespace, when given).
pub(super) fn names(o: &GenerateOptions, namespace: Option<&str>) -> Result<String> {
    let name = o.name.clone().unwrap_or_else(|| DEFAULT_NAME.to_string());
    check("name", validate::rayservice_name_problem(&name))?;
    if let Some(ns) = namespace {
        check("namespace", validate::dns1123_label_problem(ns))?;
    }
    Ok(name)
}

/// The Ray version and an image whose tag agrees with it.
pub(super) fn ray_image(
    o: &GenerateOptions,
    warnings: &mut Vec<String>,
) -> Result<(String, String)> {
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
    Ok((ray_version, image))
}

/// The KubeRay version the bundle targets, and whether it has `gcsFaultToleranceOptions`.
pub(super) fn kuberay(o: &GenerateOptions, warnings: &mut Vec<String>) -> Result<(String, bool)> {
    let kuberay_version = o
        .kuberay_version
        .clone()
        .unwrap_or_else(|| DEFAULT_KUBERAY_VERSION.to_string());
    let (major, minor) = validate::parse_kuberay_version(&kuberay_version).ok_or_else(|| {
        Error::invalid(
            "kuberay-version",
            format!("must be X.Y or X.Y.Z such as 1.7.0 (got {kuberay_version:?})"),
        )
    })?;
    if major < 1 {
        return Err(Error::invalid(
            "kuberay-version",
            format!(
                "must be 1.0 or newer: the ray.io/v1 RayService API starts there (got {kuberay_version})"
            ),
        ));
    }
    let ft_options = (major, minor) >= (1, 3);
    if !ft_options {
        warnings.push(format!(
            "KubeRay {kuberay_version} has no gcsFaultToleranceOptions (added in 1.3): using the legacy ray.io/ft-enabled annotation with RAY_REDIS_ADDRESS and REDIS_PASSWORD on the head"
        ));
    }
    Ok((kuberay_version, ft_options))
}

/// The Serve config made HA, its applications, and how many workers HA needs.
pub(super) struct Serve {
    pub value: Value,
    pub default_app: bool,
    pub apps: Vec<serve_config::App>,
    pub workers_needed: i64,
}

pub(super) fn serve(
    o: &GenerateOptions,
    allow_non_ha: bool,
    warnings: &mut Vec<String>,
) -> Result<Serve> {
    let (mut value, default_app) = serve_config_value(o)?;
    let enforcement = serve_config::enforce_ha(&mut value, HA_MIN_REPLICAS, allow_non_ha)
        .map_err(|e| Error::usage(format!("serve config: {e}")))?;
    warnings.extend(enforcement.warnings.iter().map(|w| {
        if default_app {
            w.clone()
        } else {
            format!("serve config: {w}")
        }
    }));
    let apps =
        serve_config::apps(&value).map_err(|e| Error::usage(format!("serve config: {e}")))?;
    let workers_needed = serve_config::workers_needed(&apps).max(HA_MIN_REPLICAS);
    Ok(Serve {
        value,
        default_app,
        apps,
        workers_needed,
    })
}

/// The bundle's own Redis (None with an external address) and the address the GCS uses.
pub(super) fn redis(
    o: &GenerateOptions,
    name: &str,
    namespace: Option<&str>,
) -> Result<(Option<RedisParams>, String)> {
    if o.redis_address.is_some() {
        for (flag, set) in [
            ("redis-image", o.redis_image.is_some()),
            ("redis-storage", o.redis_storage.is_some()),
            ("redis-storage-class", o.redis_storage_class.is_some()),
            ("redis-tls", o.redis_tls == Some(true)),
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
    let storage = match o.redis_storage.as_deref() {
        Some(NO_REDIS_STORAGE) => None,
        Some(size) => Some(size.to_string()),
        None => Some(DEFAULT_REDIS_STORAGE.to_string()),
    };
    if storage.is_none() && o.redis_storage_class.is_some() {
        return Err(conflict(
            "redis-storage-class",
            "redis-storage none",
            "an emptyDir has no StorageClass",
        ));
    }
    match &o.redis_address {
        Some(addr) => {
            check("redis-address", validate::redis_address_problem(addr))?;
            Ok((None, addr.clone()))
        }
        None => {
            let mut redis = redis_params(
                name,
                o.redis_image.clone(),
                storage,
                o.redis_storage_class.clone(),
            )?;
            let scheme = if o.redis_tls == Some(true) {
                redis.tls = Some(RedisTls {
                    secret_name: format!("{name}-redis-tls"),
                    names: crate::tls::service_names(&redis.service_name, namespace),
                    material: None,
                });
                "rediss://"
            } else {
                ""
            };
            Ok((Some(redis), format!("{scheme}{name}-redis:{REDIS_PORT}")))
        }
    }
}

/// The Secret that holds the Redis password: the user's, or one the bundle emits.
pub(super) fn secret(o: &GenerateOptions, name: &str) -> Result<SecretParams> {
    let key = o
        .redis_password_key
        .clone()
        .unwrap_or_else(|| "password".to_string());
    if key.is_empty()
        || !key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
    {
        return Err(Error::invalid(
            "redis-password-key",
            format!("must be a Secret key: letters, digits, '-', '_' and '.' (got {key:?})"),
        ));
    }
    match &o.redis_password_secret {
        Some(existing) => {
            check(
                "redis-password-secret",
                validate::dns1123_subdomain_problem(existing),
            )?;
            Ok(SecretParams {
                name: existing.clone(),
                key,
                emit: false,
                password_b64: None,
            })
        }
        None => Ok(SecretParams {
            name: format!("{name}-redis-password"),
            key,
            emit: true,
            password_b64: None,
        }),
    }
}

/// The legacy fault-tolerance annotations (KubeRay < 1.3), after checking the storage namespace.
pub(super) fn legacy_annotations(
    o: &GenerateOptions,
    ft_options: bool,
) -> Result<std::collections::BTreeMap<String, String>> {
    if let Some(ns) = &o.external_storage_namespace
        && (ns.is_empty() || ns.chars().any(char::is_whitespace))
    {
        return Err(Error::invalid(
            "external-storage-namespace",
            format!("must be a non-empty string without spaces (got {ns:?})"),
        ));
    }
    let mut annotations = std::collections::BTreeMap::new();
    if !ft_options {
        annotations.insert("ray.io/ft-enabled".to_string(), "true".to_string());
        if let Some(ns) = &o.external_storage_namespace {
            annotations.insert("ray.io/external-storage-namespace".to_string(), ns.clone());
        }
    }
    Ok(annotations)
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
    // One worker per replica, and the CRD holds worker counts as int32.
    if replicas > i64::from(i32::MAX) {
        return Err(Error::invalid(
            "serve-replicas",
            format!("must be at most 2147483647, a worker each (got {replicas})"),
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

pub(super) fn worker_counts(
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
    // The CRD holds worker counts as int32 (max defaults from replicas: name that first).
    for (flag, n) in [
        ("worker-replicas", replicas),
        ("min-workers", min),
        ("max-workers", max),
    ] {
        if n > i64::from(i32::MAX) {
            return Err(Error::invalid(
                flag,
                format!("must be at most 2147483647, the CRD's int32 (got {n})"),
            ));
        }
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
            format!("must be a storage size such as 1Gi, or none for an emptyDir (got {size:?})"),
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
        tls: None,
    })
}

pub(super) fn tester_params(
    name: &str,
    apps: &[serve_config::App],
    default_app: bool,
) -> TesterParams {
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
