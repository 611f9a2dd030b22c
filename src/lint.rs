//! `kubectl rayha lint`: checks RayService manifests against the HA invariants of KubeRay's
//! "RayService high availability" guide, and explains each miss.

use std::io::{IsTerminal, Read};

use colored::Colorize;
use serde::Serialize;
use serde_json::Value;

use crate::cli::{LintArgs, LintOutput};
use crate::error::{Error, Result};
use crate::serve_config::{self, Replicas};
use crate::validate::{self, ImageVersion};
use crate::yaml;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Level {
    Pass,
    Warn,
    Fail,
}

/// One invariant's verdict for one RayService.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub id: &'static str,
    pub level: Level,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub why: Option<&'static str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub fix: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ObjectReport {
    pub kind: String,
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub checks: Vec<Check>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Summary {
    pub pass: usize,
    pub warn: usize,
    pub fail: usize,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub source: String,
    pub objects: Vec<ObjectReport>,
    pub summary: Summary,
}

impl Report {
    pub fn failed(&self) -> bool {
        self.summary.fail > 0
    }
}

/// Runs the subcommand. Returns whether every check passed or warned (exit 0) or not (exit 1).
pub fn run(args: LintArgs) -> Result<bool> {
    let (source, text) = read_input(args.file.as_deref())?;
    let report = lint_text(&source, &text)?;
    match args.output {
        LintOutput::Json => println!(
            "{}",
            serde_json::to_string_pretty(&report).expect("report serialises")
        ),
        LintOutput::Text => {
            if !std::io::stdout().is_terminal() {
                colored::control::set_override(false);
            }
            print!("{}", render_text(&report));
        }
    }
    Ok(!report.failed())
}

fn read_input(file: Option<&std::path::Path>) -> Result<(String, String)> {
    match file {
        None => read_stdin(),
        Some(p) if p.as_os_str() == "-" => read_stdin(),
        Some(p) => std::fs::read_to_string(p)
            .map(|t| (p.display().to_string(), t))
            .map_err(|e| Error::failed(format!("cannot read {}: {e}", p.display()))),
    }
}

fn read_stdin() -> Result<(String, String)> {
    let mut text = String::new();
    std::io::stdin()
        .read_to_string(&mut text)
        .map_err(|e| Error::failed(format!("cannot read standard input: {e}")))?;
    Ok(("-".to_string(), text))
}

/// Lints every RayService in a multi-document YAML text.
pub fn lint_text(source: &str, text: &str) -> Result<Report> {
    let docs = yaml::parse_documents(text)
        .map_err(|e| Error::failed(format!("{source}: not valid YAML: {e}")))?;
    let docs = yaml::flatten_lists(docs);
    let objects: Vec<ObjectReport> = docs
        .iter()
        .filter(|d| is_rayservice(d))
        .map(|rs| lint_rayservice(rs, &docs))
        .collect();
    if objects.is_empty() {
        return Err(Error::failed(format!(
            "{source}: no RayService (apiVersion ray.io/v1, kind RayService) found"
        )));
    }
    let mut summary = Summary::default();
    for c in objects.iter().flat_map(|o| &o.checks) {
        match c.level {
            Level::Pass => summary.pass += 1,
            Level::Warn => summary.warn += 1,
            Level::Fail => summary.fail += 1,
        }
    }
    Ok(Report {
        source: source.to_string(),
        objects,
        summary,
    })
}

fn is_rayservice(d: &Value) -> bool {
    d["kind"] == "RayService"
        && d["apiVersion"]
            .as_str()
            .is_some_and(|v| v.starts_with("ray.io/"))
}

/// The text report, one line per invariant, with why and fix under each miss.
pub fn render_text(report: &Report) -> String {
    let mut out = String::new();
    for o in &report.objects {
        let ns = o
            .namespace
            .as_deref()
            .map(|n| format!(" -n {n}"))
            .unwrap_or_default();
        out.push_str(&format!("{} {}{ns}\n", o.kind, o.name.bold()));
        for c in &o.checks {
            let tag = match c.level {
                Level::Pass => "PASS".green(),
                Level::Warn => "WARN".yellow(),
                Level::Fail => "FAIL".red().bold(),
            };
            out.push_str(&format!("  {tag}  {:<22} {}\n", c.id, c.message));
            if let Some(why) = c.why {
                out.push_str(&format!("        {:<22} why: {why}\n", ""));
            }
            if let Some(fix) = &c.fix {
                out.push_str(&format!("        {:<22} fix: {fix}\n", ""));
            }
        }
    }
    let s = &report.summary;
    out.push_str(&format!(
        "{} pass, {} warn, {} fail\n",
        s.pass, s.warn, s.fail
    ));
    out
}

struct Ctx<'a> {
    rs: &'a Value,
    docs: &'a [Value],
    cluster: &'a Value,
    head: &'a Value,
    head_container: &'a Value,
    ft_options: Option<&'a Value>,
    ft_annotation: Option<&'a str>,
}

impl Ctx<'_> {
    fn head_env(&self, name: &str) -> Option<&Value> {
        self.head_container["env"]
            .as_array()?
            .iter()
            .find(|e| e["name"] == name)
    }

    fn head_param(&self, key: &str) -> Option<&Value> {
        self.head["rayStartParams"].get(key)
    }

    fn ft_enabled(&self) -> bool {
        self.ft_options.is_some()
            || self
                .ft_annotation
                .is_some_and(|v| v.eq_ignore_ascii_case("true"))
    }
}

fn pass(id: &'static str, message: impl Into<String>) -> Check {
    Check {
        id,
        level: Level::Pass,
        message: message.into(),
        why: None,
        fix: None,
    }
}

fn miss(
    id: &'static str,
    level: Level,
    message: impl Into<String>,
    why: &'static str,
    fix: impl Into<String>,
) -> Check {
    Check {
        id,
        level,
        message: message.into(),
        why: Some(why),
        fix: Some(fix.into()),
    }
}

fn lint_rayservice(rs: &Value, docs: &[Value]) -> ObjectReport {
    let cluster = &rs["spec"]["rayClusterConfig"];
    let head = &cluster["headGroupSpec"];
    let ctx = Ctx {
        rs,
        docs,
        cluster,
        head,
        head_container: &head["template"]["spec"]["containers"][0],
        ft_options: cluster
            .get("gcsFaultToleranceOptions")
            .filter(|v| !v.is_null()),
        ft_annotation: rs["metadata"]["annotations"]["ray.io/ft-enabled"].as_str(),
    };
    let serve = parse_serve_config(rs);
    let checks = vec![
        check_name(&ctx),
        check_gcs_ft(&ctx),
        check_ft_settings(&ctx),
        check_redis_address(&ctx),
        check_redis_password(&ctx),
        check_head_cpus(&ctx),
        check_head_start_timeout(&ctx),
        check_serve_replicas(&serve),
        check_max_per_node(&serve),
        check_proxies(&serve),
        check_workers(&ctx, &serve),
        check_image_version(&ctx),
        check_redis_persistence(&ctx),
        check_resources(&ctx),
    ];
    ObjectReport {
        kind: "RayService".into(),
        name: rs["metadata"]["name"].as_str().unwrap_or("").to_string(),
        namespace: rs["metadata"]["namespace"].as_str().map(str::to_string),
        checks,
    }
}

fn check_name(ctx: &Ctx) -> Check {
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

fn check_gcs_ft(ctx: &Ctx) -> Check {
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
fn check_ft_settings(ctx: &Ctx) -> Check {
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

fn redis_address(ctx: &Ctx) -> Option<String> {
    if let Some(opts) = ctx.ft_options {
        return opts["redisAddress"].as_str().map(str::to_string);
    }
    ctx.head_env("RAY_REDIS_ADDRESS")
        .and_then(|e| e["value"].as_str())
        .map(str::to_string)
}

fn check_redis_address(ctx: &Ctx) -> Check {
    const ID: &str = "redis-address";
    const WHY: &str = "the GCS keeps its state in Redis at this address; without it a new head cannot recover the cluster";
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
    let host = addr
        .trim_start_matches("rediss://")
        .trim_start_matches("redis://");
    let host = host.rsplit_once(':').map_or(host, |(h, _)| h);
    let short = host.split('.').next().unwrap_or(host);
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

fn check_redis_password(ctx: &Ctx) -> Check {
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

fn check_head_cpus(ctx: &Ctx) -> Check {
    const ID: &str = "head-no-replicas";
    const WHY: &str = "Serve replicas scheduled on the head die with it; with num-cpus \"0\" the head runs only the GCS, dashboard and its proxy";
    let excluded = ctx.rs["spec"]["excludeHeadPodFromServeSvc"] == true;
    match ctx.head_param("num-cpus") {
        Some(Value::String(s)) if s == "0" => pass(ID, "head rayStartParams num-cpus: \"0\""),
        Some(v) if v.as_f64() == Some(0.0) => miss(
            ID,
            Level::Fail,
            "rayStartParams num-cpus is the number 0, not the string \"0\"",
            "rayStartParams values are strings in the CRD; the API server rejects a number",
            "write num-cpus: \"0\"",
        ),
        _ if excluded => pass(
            ID,
            "head excluded from the serve Service (excludeHeadPodFromServeSvc); num-cpus \"0\" would also keep replicas off it",
        ),
        other => miss(
            ID,
            Level::Fail,
            match other {
                Some(v) => format!("head rayStartParams num-cpus is {v}, not \"0\""),
                None => "head rayStartParams has no num-cpus: \"0\"".to_string(),
            },
            WHY,
            "set headGroupSpec.rayStartParams.num-cpus: \"0\"",
        ),
    }
}

/// The env var that bounds how long Ray's dashboard waits for each subprocess module at start.
pub const DASHBOARD_MODULE_TIMEOUT_ENV: &str = "RAY_DASHBOARD_SUBPROCESS_MODULE_WAIT_READY_TIMEOUT";
/// Below this a restarted head on a busy node can lose its dashboard (Ray's default is 30 s).
const DASHBOARD_MODULE_TIMEOUT_MIN_S: f64 = 120.0;

fn check_head_start_timeout(ctx: &Ctx) -> Check {
    const ID: &str = "head-start-timeout";
    const WHY: &str = "Ray's dashboard exits when a module takes longer than 30 s to start, as on a busy node after a head restart; the head's readiness probe is served by the dashboard, so the new head stays un-Ready until the liveness probe restarts it minutes later";
    let fix = format!(
        "set env {DASHBOARD_MODULE_TIMEOUT_ENV}: \"180\" on the head container (kubectl rayha generate does)"
    );
    let value = ctx
        .head_env(DASHBOARD_MODULE_TIMEOUT_ENV)
        .map(|e| e["value"].as_str().unwrap_or("").to_string());
    match value {
        None => miss(
            ID,
            Level::Warn,
            format!("the head has no {DASHBOARD_MODULE_TIMEOUT_ENV} (Ray's default: 30 s)"),
            WHY,
            fix,
        ),
        Some(v) => match v.trim().parse::<f64>() {
            Ok(s) if s >= DASHBOARD_MODULE_TIMEOUT_MIN_S => pass(
                ID,
                format!("the head's dashboard modules may take {v} s to start"),
            ),
            _ => miss(
                ID,
                Level::Warn,
                format!(
                    "the head's {DASHBOARD_MODULE_TIMEOUT_ENV} is {v:?}, want a number of seconds >= {DASHBOARD_MODULE_TIMEOUT_MIN_S}"
                ),
                WHY,
                fix,
            ),
        },
    }
}

/// The Serve config parsed, or why it could not be.
type Serve = std::result::Result<(Value, Vec<serve_config::App>), String>;

fn parse_serve_config(rs: &Value) -> Serve {
    let text = rs["spec"]["serveConfigV2"]
        .as_str()
        .ok_or("spec.serveConfigV2 is missing")?;
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

fn check_serve_replicas(serve: &Serve) -> Check {
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

fn check_max_per_node(serve: &Serve) -> Check {
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

fn check_proxies(serve: &Serve) -> Check {
    const ID: &str = "serve-proxies";
    let (value, _) = match serve {
        Ok(s) => s,
        Err(e) => return serve_unreadable(ID, e),
    };
    match serve_config::proxy_location(value) {
        "EveryNode" => pass(ID, "a Serve proxy on every node (proxy_location EveryNode)"),
        other => miss(
            ID,
            Level::Fail,
            format!("proxy_location is {other}"),
            "the serve Service reaches workers only through their own proxies; without them every request fails while the head is down",
            "remove proxy_location or set it to EveryNode",
        ),
    }
}

fn check_workers(ctx: &Ctx, serve: &Serve) -> Check {
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
    let hosts = |g: &Value| g["numOfHosts"].as_i64().unwrap_or(1).max(1);
    let min_total: i64 = active
        .iter()
        .map(|g| g["minReplicas"].as_i64().unwrap_or(0) * hosts(g))
        .sum();
    let desired_total: i64 = active
        .iter()
        .map(|g| {
            g["replicas"]
                .as_i64()
                .or(g["minReplicas"].as_i64())
                .unwrap_or(0)
                * hosts(g)
        })
        .sum();
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

fn check_image_version(ctx: &Ctx) -> Check {
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

fn is_redis_workload(d: &Value) -> bool {
    matches!(d["kind"].as_str(), Some("Deployment" | "StatefulSet"))
        && containers(d).iter().any(|c| {
            c["image"].as_str().is_some_and(|i| {
                let last = i.rsplit('/').next().unwrap_or(i);
                last.starts_with("redis:") || last == "redis" || last.starts_with("redis@")
            })
        })
}

fn containers(d: &Value) -> Vec<Value> {
    d["spec"]["template"]["spec"]["containers"]
        .as_array()
        .cloned()
        .unwrap_or_default()
}

fn check_redis_persistence(ctx: &Ctx) -> Check {
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
        Some(v) if v["emptyDir"].is_object() => pass(
            ID,
            format!(
                "Redis {name}: appendonly on an emptyDir (survives Redis restarts, not the loss of its pod; --redis-storage keeps it on a PVC)"
            ),
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

fn check_resources(ctx: &Ctx) -> Check {
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
