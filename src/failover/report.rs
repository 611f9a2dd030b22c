//! The drill's report: what each round saw, the totals and the verdict, as JSON
//! (docs/failover-report.schema.json), JUnit XML and text.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cli::{FailoverArgs, QueryOutput};
use crate::error::{Error, Outcome, Result};
use crate::load::series::SeriesData;
use crate::load::stats::Summary;

/// One entry of the timeline, in seconds from the kill (negative before it).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Event {
    pub t_s: f64,
    pub event: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Phases {
    pub before: Option<Summary>,
    pub during: Option<Summary>,
    pub after: Option<Summary>,
}

/// Did the cluster keep its state through the kill?
#[derive(Debug, Clone, Serialize, Deserialize, Default)]
pub struct Survival {
    /// Worker pods (name → restarts) before and after.
    pub workers_before: BTreeMap<String, i32>,
    pub workers_after: BTreeMap<String, i32>,
    /// Worker pods that restarted a container or were replaced.
    pub workers_restarted_or_replaced: Vec<String>,
    /// Serve replica actor ids (deployment → sorted ids) before and after.
    pub replicas_before: BTreeMap<String, Vec<String>>,
    pub replicas_after: BTreeMap<String, Vec<String>>,
    pub replicas_unchanged: bool,
    /// Whether Serve's state could be read before and after (not: the dashboard did not answer,
    /// e.g. a drill interrupted while the new head starts); reports before this field say yes.
    /// Written only when false.
    #[serde(default = "yes", skip_serializing_if = "is_yes")]
    pub replicas_checked: bool,
    /// Whether the round replaced the whole RayCluster (an upgrade): every worker and replica
    /// is then new by design. Written only when true.
    #[serde(default, skip_serializing_if = "is_no")]
    pub cluster_replaced: bool,
    /// The Serve controller's actor id before and after (when Serve's state could be read): the
    /// same id after a GCS restart means the GCS read its actor table back from its store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serve_controller_before: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub serve_controller_after: Option<String>,
}

impl Survival {
    /// Whether the Serve controller kept its actor id; None when either side is unknown.
    pub fn serve_controller_kept(&self) -> Option<bool> {
        match (&self.serve_controller_before, &self.serve_controller_after) {
            (Some(b), Some(a)) => Some(b == a),
            _ => None,
        }
    }
}

/// The GCS through the loss of its store (a Redis round): Ray's GCS exits when its Redis
/// connection drops, and the head container restarts and reads Ray's state back from Redis.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct GcsOutage {
    /// Where Redis keeps its data (`persistentVolumeClaim NAME`, `emptyDir`, ...).
    pub redis_data: String,
    /// Whether the head container restarted (the GCS exited).
    pub restarted: bool,
    /// Seconds the head was not Ready (the GCS away), when the round saw it go and come back.
    pub away_s: Option<f64>,
    /// Whether Ray's state came back from Redis: the Serve controller and every replica kept
    /// their actor ids and no worker restarted. None when Serve's state could not be read.
    pub state_kept: Option<bool>,
}

impl GcsOutage {
    /// One line for the text report.
    pub fn line(&self) -> String {
        let away = self
            .away_s
            .map_or(String::new(), |s| format!(", away {s:.1} s"));
        let state = match self.state_kept {
            Some(true) => {
                "Ray's state came back from Redis (Serve controller, replicas and workers kept)"
            }
            Some(false) => "Ray's state did not come back from Redis (actors re-created)",
            None => "whether Ray's state came back is unknown (Serve did not answer)",
        };
        let gcs = if self.restarted {
            format!("the GCS exited and restarted{away}")
        } else {
            "the GCS did not exit".to_string()
        };
        format!("Redis /data: {}; {gcs}; {state}", self.redis_data)
    }
}

fn is_no(b: &bool) -> bool {
    !*b
}

fn yes() -> bool {
    true
}

fn is_yes(b: &bool) -> bool {
    *b
}

impl Survival {
    /// One line for the text and HTML reports.
    pub fn summary(&self) -> String {
        if self.cluster_replaced {
            return format!(
                "a new RayCluster replaced every worker and replica; Serve deployments back at their replica count: {}",
                self.deployments_back()
            );
        }
        format!(
            "workers restarted or replaced: {}; Serve replica actors unchanged: {}",
            if self.workers_restarted_or_replaced.is_empty() {
                "none".to_string()
            } else {
                self.workers_restarted_or_replaced.join(", ")
            },
            match (self.replicas_checked, self.replicas_unchanged) {
                (false, _) => "not checked (the dashboard did not answer)",
                (true, true) => "yes",
                (true, false) => "no",
            }
        )
    }
}

impl Survival {
    /// Every deployment has at least as many RUNNING replicas as before (whichever they are).
    pub fn deployments_back_at_their_count(&self) -> bool {
        !self.replicas_before.is_empty()
            && self.replicas_before.iter().all(|(d, ids)| {
                self.replicas_after
                    .get(d)
                    .is_some_and(|a| a.len() >= ids.len())
            })
    }

    fn deployments_back(&self) -> &'static str {
        match (
            self.replicas_checked,
            self.deployments_back_at_their_count(),
        ) {
            (false, _) => "not checked (the dashboard did not answer)",
            (true, true) => "yes",
            (true, false) => "no",
        }
    }
}

/// The requests of one route of a round that ran more than one (`--via proxy,pod`).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RouteResult {
    /// "proxy", "url" or "pod".
    pub route: String,
    /// "keep-alive to the API server", "keep-alive" or "fresh".
    pub connection: String,
    /// The pod route's tester pod.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    pub requests: Summary,
    pub phases: Phases,
}

impl Round {
    /// ", proxy 0 of 2313 failed, pod 1 of 612 failed" for a round of more than one route,
    /// else "".
    pub fn route_counts(&self) -> String {
        self.routes
            .iter()
            .map(|r| {
                format!(
                    ", {} {} of {} failed",
                    r.route, r.requests.failures, r.requests.requests
                )
            })
            .collect()
    }

    /// "deleted pod X", or "drained node N (pod X)".
    /// `longest without a success: 0.52 s`, over every route when there are several.
    pub fn longest_gap(&self) -> String {
        format!(
            "longest without a success: {:.2} s{}",
            self.requests.longest_without_success_s,
            if self.routes.is_empty() {
                ""
            } else {
                " (any route)"
            }
        )
    }

    pub fn headline(&self) -> String {
        match (&self.change, &self.drained_node) {
            (Some(c), _) => c.clone(),
            (None, Some(n)) => format!("drained node {n} (pod {})", self.killed_pod),
            (None, None) => format!("deleted pod {}", self.killed_pod),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Round {
    pub round: u32,
    pub killed_pod: String,
    /// The node a node drill drained (the killed pod's node).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub drained_node: Option<String>,
    /// What a change rehearsal (upgrade, serve-config) did, in place of a pod deletion.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<String>,
    pub killed_uid: String,
    pub replacement_pod: Option<String>,
    /// Unix seconds of the kill.
    pub killed_at_unix: f64,
    pub timeline: Vec<Event>,
    /// Seconds from the kill to full recovery; None when it did not recover in time.
    pub recovery_s: Option<f64>,
    /// All routes together: the verdict counts every failure of every route.
    pub requests: Summary,
    pub phases: Phases,
    /// Each route on its own, when the round ran more than one (absent otherwise, and in
    /// reports before it was added).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub routes: Vec<RouteResult>,
    /// Requests per time bucket, t = 0 at the kill (absent in reports before it was added).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<SeriesData>,
    pub survival: Survival,
    pub passed: bool,
    pub reasons: Vec<String>,
    /// Why the head is not Ready, for a round that did not recover (the drill ends there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnosis: Option<crate::status::HeadDiagnosis>,
    /// Who served before and after (absent in reports before it was added).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub served: Option<Served>,
    /// A change interrupted before it was through: the state KubeRay goes on from.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub left_to_kuberay: Option<String>,
    /// A Redis round: how the GCS came through the loss of its store.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs: Option<GcsOutage>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Stats {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub schema: String,
    pub rayservice: String,
    pub namespace: String,
    pub target: String,
    pub route: String,
    pub connection: String,
    pub started_unix: f64,
    pub rounds: Vec<Round>,
    pub total_requests: u64,
    pub total_failures: u64,
    pub recovery_s: Option<Stats>,
    pub max_failures: u64,
    pub max_recovery_s: Option<f64>,
    pub passed: bool,
    pub reasons: Vec<String>,
    pub interrupted: bool,
    /// KubeRay and Ray as the drill found them (absent in reports before it was added).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub versions: Option<crate::status::Versions>,
    /// For `apply --load`: the change and what KubeRay makes of it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub update: Option<Update>,
}

/// A measured apply's change.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Update {
    /// `new-cluster`, `in-place` or `unchanged` (the RayService; other objects changed).
    pub kind: String,
    pub description: String,
    /// The objects the apply changes (`kind/name`).
    pub changed: Vec<String>,
}

/// Who served: the RayCluster, its Ray, and each Serve app's status.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Serving {
    pub cluster: Option<String>,
    pub ray: Option<String>,
    pub head_image: Option<String>,
    pub apps: BTreeMap<String, String>,
}

impl Serving {
    pub fn of(facts: &crate::status::Facts) -> Serving {
        Serving {
            cluster: facts.serving_cluster().map(str::to_string),
            ray: facts.versions.ray.clone(),
            head_image: facts.versions.head_image.clone(),
            apps: facts.applications.clone(),
        }
    }

    fn line(&self) -> String {
        let apps: Vec<String> = self.apps.iter().map(|(a, s)| format!("{a} {s}")).collect();
        format!(
            "RayCluster {} (Ray {}, {}), apps: {}",
            self.cluster.as_deref().unwrap_or("none"),
            self.ray.as_deref().unwrap_or("?"),
            self.head_image.as_deref().unwrap_or("image ?"),
            if apps.is_empty() {
                "none shown".to_string()
            } else {
                apps.join(", ")
            }
        )
    }
}

/// Who served before the strike and after the round.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Default)]
pub struct Served {
    pub before: Serving,
    pub after: Serving,
}

pub const REPORT_SCHEMA_ID: &str = "kubectl-rayha/failover-report/v1";

impl Report {
    /// An empty report of a drill about to start.
    pub(crate) fn new(
        args: &FailoverArgs,
        namespace: &str,
        target: &str,
        routes: &[super::Route],
    ) -> Report {
        let (route, connection) = match routes {
            [one] => (
                one.id().to_string(),
                one.connection(args.keep_alive).to_string(),
            ),
            // "proxy+pod", "proxy: keep-alive to the API server; pod: fresh"
            _ => (
                routes.iter().map(|r| r.id()).collect::<Vec<_>>().join("+"),
                routes
                    .iter()
                    .map(|r| format!("{}: {}", r.id(), r.connection(args.keep_alive)))
                    .collect::<Vec<_>>()
                    .join("; "),
            ),
        };
        Report {
            schema: REPORT_SCHEMA_ID.into(),
            rayservice: args.name.clone(),
            namespace: namespace.to_string(),
            target: target.to_string(),
            route,
            connection,
            started_unix: super::now_unix(),
            rounds: Vec::new(),
            total_requests: 0,
            total_failures: 0,
            recovery_s: None,
            max_failures: args.max_failures,
            max_recovery_s: args.max_recovery,
            passed: false,
            reasons: Vec::new(),
            interrupted: false,
            versions: None,
            update: None,
        }
    }

    /// How the drill ended, for the exit code.
    pub fn outcome(&self) -> Outcome {
        if self.interrupted {
            Outcome::Interrupted
        } else {
            Outcome::from_pass(self.passed)
        }
    }
}

/// Totals, recovery statistics and the verdict over all rounds.
pub fn finish(report: &mut Report) {
    report.total_requests = report.rounds.iter().map(|r| r.requests.requests).sum();
    report.total_failures = report.rounds.iter().map(|r| r.requests.failures).sum();
    let mut rec: Vec<f64> = report.rounds.iter().filter_map(|r| r.recovery_s).collect();
    rec.sort_by(|a, b| a.total_cmp(b));
    report.recovery_s = (!rec.is_empty()).then(|| Stats {
        min: rec[0],
        median: if rec.len() % 2 == 1 {
            rec[rec.len() / 2]
        } else {
            (rec[rec.len() / 2 - 1] + rec[rec.len() / 2]) / 2.0
        },
        max: rec[rec.len() - 1],
    });
    let mut reasons = Vec::new();
    if report.total_failures > report.max_failures {
        reasons.push(format!(
            "{} failed request(s), more than --max-failures {}",
            report.total_failures, report.max_failures
        ));
    }
    for r in &report.rounds {
        for reason in &r.reasons {
            reasons.push(format!("round {}: {reason}", r.round));
        }
    }
    if report.rounds.is_empty() {
        reasons.push("no round completed".into());
    }
    if report.interrupted {
        reasons.push("interrupted".into());
    }
    report.passed = reasons.is_empty();
    report.reasons = reasons;
}

pub(super) fn emit(report: &Report, args: &FailoverArgs) -> Result<()> {
    let json = serde_json::to_string_pretty(report).expect("report serialises") + "\n";
    if let Some(path) = &args.report {
        let saved = crate::render::Saved::Failover(Box::new(report.clone()));
        crate::render::write_report(path, &saved)?;
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, junit(report))
            .map_err(|e| Error::failed(format!("--junit {}: {e}", path.display())))?;
    }
    match args.output {
        QueryOutput::Json => print!("{json}"),
        QueryOutput::Text => print!("{}", render_text(report)),
    }
    Ok(())
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One test suite, one test case per round.
pub fn junit(report: &Report) -> String {
    let failures = report.rounds.iter().filter(|r| !r.passed).count()
        + usize::from(
            report.total_failures > report.max_failures && report.rounds.iter().all(|r| r.passed),
        );
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"kubectl-rayha failover {}\" tests=\"{}\" failures=\"{failures}\">\n",
        xml_escape(&report.rayservice),
        report.rounds.len()
    );
    for r in &report.rounds {
        out.push_str(&format!(
            "  <testcase classname=\"failover.{}\" name=\"round {}: {}\" time=\"{:.3}\">\n",
            xml_escape(&report.target),
            r.round,
            xml_escape(&r.headline()),
            r.requests.duration_s
        ));
        let mut problems = r.reasons.clone();
        if r.requests.failures > report.max_failures {
            let by_route: Vec<String> = r
                .routes
                .iter()
                .map(|x| format!("{} {}", x.route, x.requests.failures))
                .collect();
            problems.push(format!(
                "{} failed request(s){}",
                r.requests.failures,
                if by_route.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", by_route.join(", "))
                }
            ));
        }
        if !problems.is_empty() {
            out.push_str(&format!(
                "    <failure message=\"{}\"/>\n",
                xml_escape(&problems.join("; "))
            ));
        }
        out.push_str(&format!(
            "    <system-out>requests {} failures {} recovery_s {}</system-out>\n  </testcase>\n",
            r.requests.requests,
            r.requests.failures,
            r.recovery_s.map_or("none".into(), |s| format!("{s:.3}"))
        ));
    }
    out.push_str("</testsuite>\n");
    out
}

/// ` (connect 1, io 2)` after a failure count; nothing without failures.
fn causes_suffix(s: &Summary) -> String {
    let causes = s.causes();
    if causes.is_empty() {
        causes
    } else {
        format!(" ({causes})")
    }
}

/// `  route pod    requests    612  failures    1 (io 1)  during 1 of 380 failed  longest without a success 0.52 s`
fn route_line(x: &RouteResult) -> String {
    let s = &x.requests;
    format!(
        "  route {:<5} requests {:>6}  failures {:>4}{}  during {}  longest without a success {:.2} s\n",
        x.route,
        s.requests,
        s.failures,
        causes_suffix(s),
        x.phases
            .during
            .as_ref()
            .map_or("-".to_string(), |d| format!(
                "{} of {} failed",
                d.failures, d.requests
            )),
        s.longest_without_success_s
    )
}

/// The human report.
pub fn render_text(report: &Report) -> String {
    let mut out = match &report.update {
        Some(u) => format!(
            "apply under load on rayservice/{} -n {}: load via {} ({})\nchanges: {}\nupdate: {} ({})\n",
            report.rayservice,
            report.namespace,
            report.route,
            report.connection,
            u.changed.join(", "),
            u.kind,
            u.description
        ),
        None => format!(
            "failover drill on rayservice/{} -n {}: target {}, load via {} ({})\n",
            report.rayservice, report.namespace, report.target, report.route, report.connection
        ),
    };
    for r in &report.rounds {
        out.push_str(&format!("round {}: {}\n", r.round, r.headline()));
        for e in &r.timeline {
            out.push_str(&format!("  {:>+8.2} s  {}\n", e.t_s, e.event));
        }
        out.push_str(&format!(
            "  recovery: {}\n",
            r.recovery_s
                .map_or("not reached".into(), |s| format!("{s:.2} s"))
        ));
        for (phase, s) in [
            ("before", &r.phases.before),
            ("during", &r.phases.during),
            ("after", &r.phases.after),
        ] {
            if let Some(s) = s {
                out.push_str(&format!(
                    "  {phase:<7} requests {:>6}  failures {:>4}{}  p50 {}  p99 {}\n",
                    s.requests,
                    s.failures,
                    causes_suffix(s),
                    s.latency_ms
                        .as_ref()
                        .map_or("-".into(), |l| format!("{:.1} ms", l.p50)),
                    s.latency_ms
                        .as_ref()
                        .map_or("-".into(), |l| format!("{:.1} ms", l.p99)),
                ));
            }
        }
        if let Some(d) = &r.diagnosis {
            out.push_str(&d.render());
        }
        if let Some(left) = &r.left_to_kuberay {
            out.push_str(&format!("  left to KubeRay: {left}\n"));
        }
        if let Some(s) = &r.served {
            out.push_str(&format!("  served before: {}\n", s.before.line()));
            out.push_str(&format!("  served after:  {}\n", s.after.line()));
        }
        out.push_str(&format!("  {}\n", r.longest_gap()));
        for x in &r.routes {
            out.push_str(&route_line(x));
        }
        out.push_str(&format!("  {}\n", r.survival.summary()));
        if let Some(g) = &r.gcs {
            out.push_str(&format!("  {}\n", g.line()));
        }
    }
    if let Some(s) = &report.recovery_s {
        out.push_str(&format!(
            "recovery seconds over {} round(s): min {:.2}, median {:.2}, max {:.2}\n",
            report.rounds.len(),
            s.min,
            s.median,
            s.max
        ));
    }
    out.push_str(&format!(
        "total: {} request(s), {} failure(s) (at most {} allowed)\nverdict: {}{}\n",
        report.total_requests,
        report.total_failures,
        report.max_failures,
        if report.passed { "PASS" } else { "FAIL" },
        if report.reasons.is_empty() {
            String::new()
        } else {
            format!(" — {}", report.reasons.join("; "))
        }
    ));
    out
}
