//! `kubectl rayha lint`: checks RayService manifests against the HA invariants of KubeRay's
//! "RayService high availability" guide, and explains each miss.

use std::io::{IsTerminal, Read};

use colored::Colorize;
use serde::Serialize;
use serde_json::Value;

use crate::cli::{LintArgs, LintOutput};
use crate::error::{Error, Outcome, Result};
use crate::yaml;

mod backend;
mod budget;
mod ft;
mod head;
mod placement;
mod pods;
mod serve;
mod upgrade;

use backend::*;
use budget::*;
pub use ft::REDIS_CA_ENVS;
use ft::*;
pub use head::DASHBOARD_MODULE_TIMEOUT_ENV;
use head::*;
use placement::*;
use pods::*;
use serve::*;
use upgrade::*;

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
pub fn run(args: LintArgs) -> Result<Outcome> {
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
    Ok(Outcome::from_pass(!report.failed()))
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
    let docs = yaml::parse_documents(text).map_err(|e| Error::failed(format!("{source}: {e}")))?;
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
/// The report for a terminal; what comes from the input has its control characters escaped.
pub fn render_text(report: &Report) -> String {
    use crate::redact::terminal;
    let mut out = String::new();
    for o in &report.objects {
        let ns = o
            .namespace
            .as_deref()
            .map(|n| format!(" -n {}", terminal(n)))
            .unwrap_or_default();
        out.push_str(&format!(
            "{} {}{ns}\n",
            terminal(&o.kind),
            terminal(&o.name).bold()
        ));
        for c in &o.checks {
            let tag = match c.level {
                Level::Pass => "PASS".green(),
                Level::Warn => "WARN".yellow(),
                Level::Fail => "FAIL".red().bold(),
            };
            out.push_str(&format!("  {tag}  {:<22} {}\n", c.id, terminal(&c.message)));
            if let Some(why) = c.why {
                out.push_str(&format!("        {:<22} why: {why}\n", ""));
            }
            if let Some(fix) = &c.fix {
                out.push_str(&format!("        {:<22} fix: {}\n", "", terminal(fix)));
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

    /// GCS fault tolerance on the embedded RocksDB backend (KubeRay 1.7+): no Redis involved.
    fn uses_rocksdb(&self) -> bool {
        self.ft_options
            .is_some_and(|o| o["backend"].as_str() == Some("rocksdb"))
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
        check_gcs_backend(&ctx),
        check_deletion_timeout(&ctx),
        check_redis_address(&ctx),
        check_redis_password(&ctx),
        check_redis_tls(&ctx),
        check_head_cpus(&ctx),
        check_head_start_timeout(&ctx),
        check_serve_replicas(&serve),
        check_max_per_node(&serve),
        check_proxies(&serve),
        check_workers(&ctx, &serve),
        check_image_version(&ctx),
        check_redis_persistence(&ctx),
        check_resources(&ctx),
        check_worker_spread(&ctx),
        check_disruption_budget(&ctx),
        check_node_loss_toleration(&ctx),
        check_worker_prestop(&ctx),
        check_upgrade_strategy(&ctx),
    ];
    ObjectReport {
        kind: "RayService".into(),
        name: rs["metadata"]["name"].as_str().unwrap_or("").to_string(),
        namespace: rs["metadata"]["namespace"].as_str().map(str::to_string),
        checks,
    }
}
