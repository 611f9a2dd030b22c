//! Reading a Serve config (`serveConfigV2`) and making every deployment highly available:
//! at least two replicas, at most one per node, proxies on every node.

use serde_json::{Map, Value};

/// How many replicas a deployment asks for.
#[derive(Debug, Clone, PartialEq)]
pub enum Replicas {
    /// `num_replicas: N`.
    Fixed(i64),
    /// Not set: Serve runs one replica.
    Unset,
    /// Autoscaling (`autoscaling_config`, or `num_replicas: auto` whose default minimum is 1).
    Autoscaling { min: i64, max: Option<i64> },
}

impl Replicas {
    /// The number of replicas Serve keeps at the least.
    pub fn floor(&self) -> i64 {
        match self {
            Replicas::Fixed(n) => *n,
            Replicas::Unset => 1,
            Replicas::Autoscaling { min, .. } => *min,
        }
    }
}

/// One deployment as the HA checks see it.
#[derive(Debug, Clone)]
pub struct Deployment {
    pub app: String,
    pub name: String,
    /// Where it sits in the config, e.g. `applications[0].deployments[2]`.
    pub path: String,
    pub replicas: Replicas,
    pub max_replicas_per_node: Option<i64>,
}

/// The applications of a Serve config, with the deployments each one lists.
#[derive(Debug, Clone)]
pub struct App {
    pub name: String,
    pub path: String,
    pub route_prefix: Option<String>,
    pub deployments: Vec<Deployment>,
}

/// Parses the Serve config text (YAML) into a JSON value.
pub fn parse(text: &str) -> Result<Value, String> {
    let value: Value = serde_saphyr::from_str(text).map_err(|e| crate::redact::yaml_error(&e))?;
    if !value.is_object() {
        return Err("must be a mapping with an `applications` list".into());
    }
    Ok(value)
}

/// Lists applications and deployments; fails on shapes Serve itself would reject.
pub fn apps(config: &Value) -> Result<Vec<App>, String> {
    let apps = config
        .get("applications")
        .and_then(Value::as_array)
        .ok_or("applications: must be a list of applications")?;
    if apps.is_empty() {
        return Err("applications: must list at least one application".into());
    }
    apps.iter()
        .enumerate()
        .map(|(i, app)| read_app(i, app))
        .collect()
}

fn read_app(i: usize, app: &Value) -> Result<App, String> {
    let path = format!("applications[{i}]");
    let map = app
        .as_object()
        .ok_or_else(|| format!("{path}: must be a mapping"))?;
    let name = map
        .get("name")
        .and_then(Value::as_str)
        .unwrap_or("default")
        .to_string();
    if !map.get("import_path").is_some_and(Value::is_string) {
        return Err(format!(
            "{path}.import_path: required, a string like module:app"
        ));
    }
    let route_prefix = map
        .get("route_prefix")
        .and_then(Value::as_str)
        .map(str::to_string);
    let deployments = match map.get("deployments") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(list)) => list
            .iter()
            .enumerate()
            .map(|(j, d)| read_deployment(&name, &format!("{path}.deployments[{j}]"), d))
            .collect::<Result<_, _>>()?,
        Some(_) => return Err(format!("{path}.deployments: must be a list")),
    };
    Ok(App {
        name,
        path,
        route_prefix,
        deployments,
    })
}

fn read_deployment(app: &str, path: &str, d: &Value) -> Result<Deployment, String> {
    let map = d
        .as_object()
        .ok_or_else(|| format!("{path}: must be a mapping"))?;
    let name = map
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| format!("{path}.name: required, a string"))?
        .to_string();
    let replicas = read_replicas(path, map)?;
    let max_replicas_per_node = match map.get("max_replicas_per_node") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .ok_or_else(|| format!("{path}.max_replicas_per_node: must be an integer"))?,
        ),
    };
    Ok(Deployment {
        app: app.to_string(),
        name,
        path: path.to_string(),
        replicas,
        max_replicas_per_node,
    })
}

fn read_replicas(path: &str, map: &Map<String, Value>) -> Result<Replicas, String> {
    let autoscaling = map.get("autoscaling_config").filter(|v| !v.is_null());
    match (map.get("num_replicas"), autoscaling) {
        (Some(Value::Number(n)), None) => n
            .as_i64()
            .map(Replicas::Fixed)
            .ok_or_else(|| format!("{path}.num_replicas: must be a whole number or \"auto\"")),
        (Some(Value::Number(_)), Some(_)) => Err(format!(
            "{path}: num_replicas and autoscaling_config cannot both be set (Serve rejects it); use autoscaling_config.min_replicas"
        )),
        (Some(Value::String(s)), _) if s != "auto" => Err(format!(
            "{path}.num_replicas: must be a whole number or \"auto\" (got {s:?})"
        )),
        (None | Some(Value::Null) | Some(Value::String(_)), Some(cfg)) => {
            let cfg = cfg
                .as_object()
                .ok_or_else(|| format!("{path}.autoscaling_config: must be a mapping"))?;
            let int = |key: &str| -> Result<Option<i64>, String> {
                match cfg.get(key) {
                    None | Some(Value::Null) => Ok(None),
                    Some(v) => v.as_i64().map(Some).ok_or_else(|| {
                        format!("{path}.autoscaling_config.{key}: must be a whole number")
                    }),
                }
            };
            let min = int("min_replicas")?.unwrap_or(1);
            let max = int("max_replicas")?;
            if let Some(max) = max.filter(|max| *max < min) {
                return Err(format!(
                    "{path}.autoscaling_config: min_replicas {min} exceeds max_replicas {max}"
                ));
            }
            Ok(Replicas::Autoscaling { min, max })
        }
        (Some(Value::String(_)), None) => Ok(Replicas::Autoscaling { min: 1, max: None }),
        (None | Some(Value::Null), None) => Ok(Replicas::Unset),
        (Some(_), _) => Err(format!(
            "{path}.num_replicas: must be a whole number or \"auto\""
        )),
    }
}

/// The proxy placement of the config; `EveryNode` is Serve's default. Serve takes a name, so
/// anything else (`proxy_location: 7`) is an error, not the default.
pub fn proxy_location(config: &Value) -> Result<&str, String> {
    match config.get("proxy_location") {
        None | Some(Value::Null) => Ok("EveryNode"),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!(
            "proxy_location: must be EveryNode, HeadOnly or Disabled (got {other})"
        )),
    }
}

/// The least number of worker nodes that can hold every deployment at one replica per node.
pub fn workers_needed(apps: &[App]) -> i64 {
    apps.iter()
        .flat_map(|a| &a.deployments)
        .map(|d| d.replicas.floor())
        .max()
        .unwrap_or(0)
}

/// What `enforce_ha` did or, with `allow_non_ha`, would have done.
#[derive(Debug, Default)]
pub struct Enforcement {
    pub warnings: Vec<String>,
}

/// Makes every deployment HA in place: replicas (or autoscaling minimum) at least `min_replicas`,
/// `max_replicas_per_node: 1`, proxies on every node. Each change is reported as a warning.
/// With `allow_non_ha` nothing is changed and each violation is a warning instead.
/// Errors are configs that cannot be made HA.
pub fn enforce_ha(
    config: &mut Value,
    min_replicas: i64,
    allow_non_ha: bool,
) -> Result<Enforcement, String> {
    let apps = apps(config)?;
    let mut out = Enforcement::default();
    let refuse = |msg: String, out: &mut Enforcement| -> Result<(), String> {
        if allow_non_ha {
            out.warnings.push(format!("{msg} (kept: --allow-non-ha)"));
            Ok(())
        } else {
            Err(msg)
        }
    };
    match proxy_location(config)? {
        "EveryNode" => {}
        other => refuse(
            format!(
                "proxy_location: {other:?} leaves workers without a Serve proxy, so requests fail while the head is down; use EveryNode"
            ),
            &mut out,
        )?,
    }
    for app in &apps {
        if app.deployments.is_empty() {
            refuse(
                format!(
                    "{}.deployments ({}): must list every deployment of the application so that each can get {min_replicas} replicas and max_replicas_per_node: 1",
                    app.path, app.name
                ),
                &mut out,
            )?;
        }
        for d in &app.deployments {
            let map = deployment_mut(config, d);
            if map.contains_key("placement_group_bundles") {
                refuse(
                    format!(
                        "{}.placement_group_bundles ({}): cannot be combined with max_replicas_per_node, which HA needs; remove it",
                        d.path, d.name
                    ),
                    &mut out,
                )?;
            }
            fix_replicas(map, d, min_replicas, allow_non_ha, &mut out);
            fix_max_per_node(map, d, allow_non_ha, &mut out);
        }
    }
    Ok(out)
}

fn deployment_mut<'a>(config: &'a mut Value, d: &Deployment) -> &'a mut Map<String, Value> {
    // `apps()` validated these shapes already, and the path came from it.
    let (app_idx, dep_idx) = parse_path_indices(&d.path);
    config["applications"][app_idx]["deployments"][dep_idx]
        .as_object_mut()
        .expect("deployment shape checked by apps()")
}

fn parse_path_indices(path: &str) -> (usize, usize) {
    let nums: Vec<usize> = path
        .split(['[', ']'])
        .filter_map(|s| s.parse().ok())
        .collect();
    (nums[0], nums[1])
}

fn fix_replicas(
    map: &mut Map<String, Value>,
    d: &Deployment,
    min_replicas: i64,
    allow_non_ha: bool,
    out: &mut Enforcement,
) {
    let floor = d.replicas.floor();
    if floor >= min_replicas {
        return;
    }
    let what = match d.replicas {
        Replicas::Fixed(n) => format!("num_replicas {n}"),
        Replicas::Unset => "num_replicas unset (Serve runs 1)".to_string(),
        Replicas::Autoscaling { min, .. } => format!("autoscaling min_replicas {min}"),
    };
    if allow_non_ha {
        out.warnings.push(format!(
            "{} ({}): {what} leaves no replica when one node fails (kept: --allow-non-ha)",
            d.path, d.name
        ));
        return;
    }
    match &d.replicas {
        Replicas::Autoscaling { max, .. } => {
            let cfg = map
                .entry("autoscaling_config")
                .or_insert_with(|| Value::Object(Map::new()));
            if !cfg.is_object() {
                *cfg = Value::Object(Map::new());
            }
            let cfg = cfg.as_object_mut().expect("made an object above");
            cfg.insert("min_replicas".into(), min_replicas.into());
            if max.is_none_or(|m| m < min_replicas) {
                cfg.insert("max_replicas".into(), min_replicas.into());
            }
            if cfg
                .get("initial_replicas")
                .and_then(Value::as_i64)
                .is_some_and(|n| n < min_replicas)
            {
                cfg.insert("initial_replicas".into(), min_replicas.into());
            }
            out.warnings.push(format!(
                "{} ({}): {what} raised to min_replicas {min_replicas}",
                d.path, d.name
            ));
        }
        _ => {
            map.insert("num_replicas".into(), min_replicas.into());
            out.warnings.push(format!(
                "{} ({}): {what} raised to num_replicas {min_replicas}",
                d.path, d.name
            ));
        }
    }
}

fn fix_max_per_node(
    map: &mut Map<String, Value>,
    d: &Deployment,
    allow_non_ha: bool,
    out: &mut Enforcement,
) {
    if d.max_replicas_per_node == Some(1) {
        return;
    }
    let was = d
        .max_replicas_per_node
        .map_or("unset".to_string(), |n| n.to_string());
    if allow_non_ha {
        out.warnings.push(format!(
            "{} ({}): max_replicas_per_node {was} lets replicas share a node (kept: --allow-non-ha)",
            d.path, d.name
        ));
    } else {
        map.insert("max_replicas_per_node".into(), 1.into());
        out.warnings.push(format!(
            "{} ({}): max_replicas_per_node {was} set to 1",
            d.path, d.name
        ));
    }
}

/// Serializes a Serve config back to YAML text for `serveConfigV2`.
pub fn to_yaml(config: &Value) -> String {
    crate::yaml::to_yaml(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cfg(text: &str) -> Value {
        parse(text).unwrap()
    }

    #[test]
    fn raises_replicas_and_pins_one_per_node() {
        let mut c = cfg(
            "applications:\n- name: a\n  import_path: m:app\n  deployments:\n  - name: D\n    num_replicas: 1\n  - name: E\n",
        );
        let e = enforce_ha(&mut c, 2, false).unwrap();
        assert_eq!(e.warnings.len(), 4, "{:?}", e.warnings);
        for d in 0..2 {
            assert_eq!(c["applications"][0]["deployments"][d]["num_replicas"], 2);
            assert_eq!(
                c["applications"][0]["deployments"][d]["max_replicas_per_node"],
                1
            );
        }
    }

    #[test]
    fn autoscaling_minimum_is_raised_not_num_replicas() {
        let mut c = cfg(
            "applications:\n- import_path: m:app\n  deployments:\n  - name: D\n    num_replicas: auto\n    max_replicas_per_node: 1\n",
        );
        enforce_ha(&mut c, 2, false).unwrap();
        let d = &c["applications"][0]["deployments"][0];
        assert_eq!(d["autoscaling_config"]["min_replicas"], 2);
        assert_eq!(d["autoscaling_config"]["max_replicas"], 2);
        assert_eq!(d["num_replicas"], "auto");
    }

    #[test]
    fn allow_non_ha_changes_nothing_but_warns() {
        let text = "applications:\n- import_path: m:app\n  deployments:\n  - name: D\n    num_replicas: 1\n";
        let mut c = cfg(text);
        let e = enforce_ha(&mut c, 2, true).unwrap();
        assert_eq!(c, cfg(text));
        assert_eq!(e.warnings.len(), 2);
    }

    #[test]
    fn refuses_what_cannot_be_made_ha() {
        for text in [
            "applications: []",
            "applications:\n- import_path: m:app\n",
            "proxy_location: HeadOnly\napplications:\n- import_path: m:app\n  deployments: [{name: D}]\n",
            "applications:\n- import_path: m:app\n  deployments:\n  - name: D\n    placement_group_bundles: [{CPU: 1}]\n",
            "applications:\n- import_path: m:app\n  deployments:\n  - name: D\n    num_replicas: 2\n    autoscaling_config: {min_replicas: 2}\n",
            "applications:\n- import_path: m:app\n  deployments:\n  - name: D\n    num_replicas: many\n",
        ] {
            assert!(enforce_ha(&mut cfg(text), 2, false).is_err(), "{text}");
        }
    }

    #[test]
    fn workers_needed_is_the_largest_floor() {
        let c = cfg(
            "applications:\n- import_path: m:app\n  deployments:\n  - {name: A, num_replicas: 3}\n  - {name: B, autoscaling_config: {min_replicas: 4, max_replicas: 8}}\n",
        );
        assert_eq!(workers_needed(&apps(&c).unwrap()), 4);
    }
}
