//! Reports for people: one self-contained HTML page (inline SVG charts drawn in Rust, CSS in the
//! page, no script, nothing fetched) from a failover or query report, and the side-by-side
//! comparison of two runs, in text and HTML. Used by `failover --report FILE.html`,
//! `query --report FILE.html` and `kubectl rayha report`.

mod page;
pub mod svg;

use std::path::Path;

use serde::Serialize;
use serde_json::Value;

use crate::error::{Error, Result};
use crate::failover::{self, REPORT_SCHEMA_ID};
use crate::query;

pub use page::{compare_html, html};

/// A report as saved by `-o json` or `--report FILE.json`.
#[derive(Debug, Clone)]
pub enum Saved {
    Failover(Box<failover::Report>),
    Query(Box<query::Report>),
}

impl Saved {
    /// Reads a saved report; says what it expected when the JSON is not one.
    pub fn parse(json: &str) -> Result<Saved> {
        let v: Value =
            serde_json::from_str(json).map_err(|e| Error::failed(format!("not JSON: {e}")))?;
        let typed = |e: serde_json::Error, what: &str| Error::failed(format!("not a {what}: {e}"));
        if v.get("schema").and_then(Value::as_str) == Some(REPORT_SCHEMA_ID) {
            return serde_json::from_value(v)
                .map(|r| Saved::Failover(Box::new(r)))
                .map_err(|e| typed(e, "failover report"));
        }
        if v.get("setup").is_some() && v.get("summary").is_some() {
            return serde_json::from_value(v)
                .map(|r| Saved::Query(Box::new(r)))
                .map_err(|e| typed(e, "query report"));
        }
        Err(Error::failed(format!(
            "not a kubectl-rayha report: expected a failover report (\"schema\": \"{REPORT_SCHEMA_ID}\") or a query report (\"setup\" and \"summary\")"
        )))
    }

    pub fn read(path: &Path) -> Result<Saved> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| Error::failed(format!("{}: {e}", path.display())))?;
        Saved::parse(&text).map_err(|e| Error::failed(format!("{}: {e}", path.display())))
    }

    pub fn text(&self) -> String {
        match self {
            Saved::Failover(r) => failover::render_text(r),
            Saved::Query(r) => query::render_text(r),
        }
    }

    pub fn json(&self) -> String {
        let json = match self {
            Saved::Failover(r) => serde_json::to_string_pretty(r),
            Saved::Query(r) => serde_json::to_string_pretty(r),
        };
        json.unwrap_or_default() + "\n"
    }
}

/// Whether `--report PATH` asks for the HTML page (by its extension) rather than JSON.
pub fn wants_html(path: &Path) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| e.eq_ignore_ascii_case("html") || e.eq_ignore_ascii_case("htm"))
}

/// Writes `--report PATH`: the HTML page for `.html`/`.htm`, else the JSON report.
pub fn write_report(path: &Path, saved: &Saved) -> Result<()> {
    let content = if wants_html(path) {
        html(saved)?
    } else {
        saved.json()
    };
    std::fs::write(path, content)
        .map_err(|e| Error::failed(format!("--report {}: {e}", path.display())))
}

/// The numbers two runs are compared by.
#[derive(Debug, Clone, Serialize)]
pub struct Digest {
    pub file: String,
    pub kind: &'static str,
    pub subject: String,
    pub target: Option<String>,
    pub route: String,
    pub connection: String,
    pub rounds: usize,
    pub requests: u64,
    pub failures: u64,
    pub recovery_s: Option<failover::Stats>,
    pub rounds_not_recovered: usize,
    /// The worst round's (or the run's) p50 and p99 of successful requests.
    pub latency_p50_ms: Option<f64>,
    pub latency_p99_ms: Option<f64>,
    pub longest_without_success_s: f64,
    pub passed: bool,
}

impl Digest {
    pub fn of(file: &str, saved: &Saved) -> Digest {
        match saved {
            Saved::Failover(r) => {
                let worst = |f: fn(&crate::load::stats::Latency) -> f64| {
                    r.rounds
                        .iter()
                        .filter_map(|x| x.requests.latency_ms.as_ref().map(f))
                        .reduce(f64::max)
                };
                Digest {
                    file: file.into(),
                    kind: "failover",
                    subject: format!("rayservice/{} -n {}", r.rayservice, r.namespace),
                    target: Some(r.target.clone()),
                    route: r.route.clone(),
                    connection: r.connection.clone(),
                    rounds: r.rounds.len(),
                    requests: r.total_requests,
                    failures: r.total_failures,
                    recovery_s: r.recovery_s.clone(),
                    rounds_not_recovered: r
                        .rounds
                        .iter()
                        .filter(|x| x.recovery_s.is_none())
                        .count(),
                    latency_p50_ms: worst(|l| l.p50),
                    latency_p99_ms: worst(|l| l.p99),
                    longest_without_success_s: r
                        .rounds
                        .iter()
                        .map(|x| x.requests.longest_without_success_s)
                        .fold(0.0, f64::max),
                    passed: r.passed,
                }
            }
            Saved::Query(r) => Digest {
                file: file.into(),
                kind: "query",
                subject: r.setup.url.clone(),
                target: None,
                route: r.setup.route.clone(),
                connection: r.setup.connection.clone(),
                rounds: 0,
                requests: r.summary.requests,
                failures: r.summary.failures,
                recovery_s: None,
                rounds_not_recovered: 0,
                latency_p50_ms: r.summary.latency_ms.as_ref().map(|l| l.p50),
                latency_p99_ms: r.summary.latency_ms.as_ref().map(|l| l.p99),
                longest_without_success_s: r.summary.longest_without_success_s,
                passed: r.verdict.passed,
            },
        }
    }

    /// (label, value) rows, the same for text and HTML.
    pub fn rows(&self) -> Vec<(&'static str, String)> {
        let ms = |v: Option<f64>| v.map_or("-".into(), |v| format!("{v:.1} ms"));
        vec![
            ("file", self.file.clone()),
            ("kind", self.kind.into()),
            ("subject", self.subject.clone()),
            ("target", self.target.clone().unwrap_or_else(|| "-".into())),
            ("route", format!("{} ({})", self.route, self.connection)),
            ("rounds", self.rounds.to_string()),
            ("requests", self.requests.to_string()),
            ("failures", self.failures.to_string()),
            (
                "recovery min / median / max",
                self.recovery_s.as_ref().map_or("-".into(), |s| {
                    format!("{:.2} / {:.2} / {:.2} s", s.min, s.median, s.max)
                }),
            ),
            (
                "rounds not recovered",
                self.rounds_not_recovered.to_string(),
            ),
            ("latency p50 (worst round)", ms(self.latency_p50_ms)),
            ("latency p99 (worst round)", ms(self.latency_p99_ms)),
            (
                "longest without a success",
                format!("{:.2} s", self.longest_without_success_s),
            ),
            ("verdict", if self.passed { "PASS" } else { "FAIL" }.into()),
        ]
    }
}

/// Two runs side by side, one row per number.
pub fn compare_text(a: &Digest, b: &Digest) -> String {
    let (ra, rb) = (a.rows(), b.rows());
    let label_w = ra.iter().map(|r| r.0.len()).max().unwrap_or(0);
    let a_w = ra
        .iter()
        .map(|r| r.1.chars().count())
        .max()
        .unwrap_or(0)
        .max(1);
    let mut out = format!("{:label_w$}  {:a_w$}  B\n", "", "A");
    for ((label, va), (_, vb)) in ra.iter().zip(&rb) {
        let mark = if va != vb && *label != "file" {
            "  *"
        } else {
            ""
        };
        out.push_str(&format!("{label:label_w$}  {va:a_w$}  {vb}{mark}\n"));
    }
    out.push_str("(* differs)\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_kind_follows_the_json() {
        assert!(matches!(
            Saved::parse(r#"{"a": 1}"#),
            Err(e) if e.to_string().contains("not a kubectl-rayha report")
        ));
        assert!(Saved::parse("nope").is_err());
        assert!(wants_html(Path::new("x/drill.HTML")));
        assert!(!wants_html(Path::new("drill.json")));
        assert!(!wants_html(Path::new("html")));
    }
}
