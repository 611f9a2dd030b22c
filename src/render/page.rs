//! The HTML page: views of a report for the templates in `templates/` (report.html.j2,
//! compare.html.j2 and their parts), with the charts from [`super::svg`]. The templates
//! auto-escape every value; only the SVG, escaped where it is built, is passed as markup.

use minijinja::Value;
use serde::Serialize;

use super::svg::{self, FailSpan, LatencyStep, Marker, Phase, Timeline};
use super::{Digest, Saved};
use crate::error::Result;
use crate::failover::{Report as Drill, Round};
use crate::load::stats::Summary;
use crate::query::Report as Query;

#[derive(Serialize)]
struct Row {
    label: String,
    value: String,
}

fn row(label: &str, value: impl Into<String>) -> Row {
    Row {
        label: label.into(),
        value: value.into(),
    }
}

#[derive(Serialize)]
struct EventView {
    n: usize,
    t: String,
    text: String,
}

#[derive(Serialize)]
struct PhaseRow {
    phase: &'static str,
    requests: u64,
    failures: u64,
    causes: String,
    p50: String,
    p99: String,
}

#[derive(Serialize)]
struct Section {
    id: String,
    title: String,
    passed: Option<bool>,
    reasons: Vec<String>,
    chart: Value,
    events: Vec<EventView>,
    phases: Vec<PhaseRow>,
    notes: Vec<String>,
}

#[derive(Serialize)]
struct RecoveryView {
    min: String,
    median: String,
    max: String,
    chart: Value,
}

#[derive(Serialize)]
struct View {
    id: String,
    title: String,
    kind: &'static str,
    passed: bool,
    verdict_known: bool,
    reasons: Vec<String>,
    settings: Vec<Row>,
    totals: Vec<Row>,
    sections: Vec<Section>,
    recovery: Option<RecoveryView>,
}

/// The page of one report.
pub fn html(saved: &Saved) -> Result<String> {
    let view = view("r", saved);
    crate::templates::render(
        "report.html.j2",
        minijinja::context! { title => view.title.clone(), report => view, tool => tool() },
    )
}

/// Two reports side by side: the numbers, then each one's charts.
pub fn compare_html(a: (&str, &Saved), b: (&str, &Saved)) -> Result<String> {
    let (da, db) = (Digest::of(a.0, a.1), Digest::of(b.0, b.1));
    let rows: Vec<Value> = da
        .rows()
        .into_iter()
        .zip(db.rows())
        .map(|((label, va), (_, vb))| {
            let differs = va != vb && label != "file";
            minijinja::context! { label, a => va, b => vb, differs }
        })
        .collect();
    crate::templates::render(
        "compare.html.j2",
        minijinja::context! {
            title => format!("{} vs {}", a.0, b.0),
            rows,
            a => view("a", a.1),
            b => view("b", b.1),
            tool => tool(),
        },
    )
}

fn tool() -> String {
    format!("kubectl-rayha {}", env!("CARGO_PKG_VERSION"))
}

fn view(id: &str, saved: &Saved) -> View {
    match saved {
        Saved::Failover(r) => drill_view(id, r),
        Saved::Query(r) => query_view(id, r),
    }
}

fn drill_view(id: &str, r: &Drill) -> View {
    let mut settings = vec![
        row(
            "RayService",
            format!("{} (namespace {})", r.rayservice, r.namespace),
        ),
        row("target", r.target.clone()),
        row("route", r.route.clone()),
        row("connection", r.connection.clone()),
        row("started", utc(r.started_unix)),
        row("rounds", r.rounds.len().to_string()),
        row("failures allowed", r.max_failures.to_string()),
    ];
    if let Some(m) = r.max_recovery_s {
        settings.push(row("recovery allowed", format!("{m} s")));
    }
    if let Some(v) = &r.versions {
        settings.push(row("versions", v.describe()));
    }
    if r.interrupted {
        settings.push(row("interrupted", "yes (Ctrl-C or SIGTERM)"));
    }
    let totals = vec![
        row("requests", r.total_requests.to_string()),
        row("failures", r.total_failures.to_string()),
    ];
    let recovery = r.recovery_s.as_ref().map(|s| RecoveryView {
        min: format!("{:.2}", s.min),
        median: format!("{:.2}", s.median),
        max: format!("{:.2}", s.max),
        chart: Value::from_safe_string(svg::recovery(
            &r.rounds
                .iter()
                .map(|x| (x.round, x.recovery_s))
                .collect::<Vec<_>>(),
            Some((s.min, s.median, s.max)),
        )),
    });
    View {
        id: id.into(),
        title: format!(
            "failover drill: rayservice/{} -n {}",
            r.rayservice, r.namespace
        ),
        kind: "failover",
        passed: r.passed,
        verdict_known: true,
        reasons: r.reasons.clone(),
        settings,
        totals,
        sections: r.rounds.iter().map(|x| round_section(id, x)).collect(),
        recovery,
    }
}

/// Seconds of the round's load before the kill (negative) and its end, from the kill.
fn round_span(r: &Round) -> (f64, f64) {
    let start = r.requests.started_unix - r.killed_at_unix;
    let mut span = (start, start + r.requests.duration_s);
    if let Some(d) = &r.series {
        span = (span.0.min(d.start_s), span.1.max(d.end_s()));
    }
    if let Some(last) = r.timeline.iter().map(|e| e.t_s).reduce(f64::max) {
        span.1 = span.1.max(last);
    }
    (span.0.min(0.0), span.1.max(span.0 + 1.0))
}

fn round_section(id: &str, r: &Round) -> Section {
    let (t0, t1) = round_span(r);
    let recovered = r.recovery_s.unwrap_or(t1).min(t1);
    let phase_spans = [
        ("before", t0, 0.0),
        ("during", 0.0, recovered),
        ("after", recovered, t1),
    ];
    let summaries = [&r.phases.before, &r.phases.during, &r.phases.after];
    let phases: Vec<Phase> = phase_spans
        .iter()
        .zip(summaries)
        .filter(|(_, s)| s.is_some())
        .map(|(&(name, from, to), _)| Phase { name, from, to })
        .collect();
    // Older reports: the failure windows and the per-phase latency are what the data allows.
    let offset = r.requests.started_unix - r.killed_at_unix;
    let fail_spans = r
        .requests
        .failure_windows
        .iter()
        .map(|w| FailSpan {
            t0: w.start_s + offset,
            t1: w.end_s + offset,
            failures: w.failures,
        })
        .collect();
    let latency_steps = phase_spans
        .iter()
        .zip(summaries)
        .filter_map(|(&(_, from, to), s)| {
            let l = s.as_ref()?.latency_ms.as_ref()?;
            Some(LatencyStep {
                from,
                to,
                p50: l.p50,
                p99: l.p99,
            })
        })
        .collect();
    let section_id = format!("{id}-round-{}", r.round);
    let chart = svg::timeline(&Timeline {
        id: format!("{section_id}-chart"),
        t0,
        t1,
        series: r.series.as_ref(),
        fail_spans,
        latency_steps,
        phases,
        markers: r
            .timeline
            .iter()
            .map(|e| Marker {
                t: e.t_s,
                text: e.event.clone(),
            })
            .collect(),
        kill: true,
    });
    let mut notes = vec![format!(
        "recovery: {}",
        r.recovery_s
            .map_or("not reached".into(), |s| format!("{s:.2} s"))
    )];
    notes.push(r.longest_gap());
    for x in &r.routes {
        notes.push(format!(
            "route {} ({}): {} request(s), {} failure(s), longest without a success {:.2} s",
            x.route,
            x.connection,
            x.requests.requests,
            x.requests.failures,
            x.requests.longest_without_success_s
        ));
    }
    notes.push(r.survival.summary());
    Section {
        id: section_id,
        title: format!(
            "round {}: {}{}",
            r.round,
            r.headline(),
            r.replacement_pod
                .as_ref()
                .map_or(String::new(), |p| format!(", replaced by {p}"))
        ),
        passed: Some(r.passed),
        reasons: r
            .reasons
            .iter()
            .cloned()
            .chain(
                r.diagnosis
                    .iter()
                    .map(|d| format!("head not Ready: {} — fix: {}", d.cause, d.fix)),
            )
            .collect(),
        chart: Value::from_safe_string(chart),
        events: r
            .timeline
            .iter()
            .enumerate()
            .map(|(i, e)| EventView {
                n: i + 1,
                t: format!("{:+.2} s", e.t_s),
                text: e.event.clone(),
            })
            .collect(),
        phases: ["before", "during", "after"]
            .into_iter()
            .zip(summaries)
            .filter_map(|(p, s)| s.as_ref().map(|s| phase_row(p, s)))
            .collect(),
        notes,
    }
}

fn phase_row(phase: &'static str, s: &Summary) -> PhaseRow {
    let ms = |f: fn(&crate::load::stats::Latency) -> f64| {
        s.latency_ms
            .as_ref()
            .map_or("-".into(), |l| format!("{:.1} ms", f(l)))
    };
    PhaseRow {
        phase,
        requests: s.requests,
        failures: s.failures,
        causes: s.causes(),
        p50: ms(|l| l.p50),
        p99: ms(|l| l.p99),
    }
}

fn query_view(id: &str, r: &Query) -> View {
    let su = &r.setup;
    let mut settings = vec![
        row("route", su.route.clone()),
        row("URL", su.url.clone()),
        row("method", su.method.clone()),
        row("connection", su.connection.clone()),
        row("in flight", su.concurrency.to_string()),
        row("started", utc(r.summary.started_unix)),
        row("request timeout", format!("{} s", su.timeout_s)),
    ];
    let optional = [
        ("rate", su.rate_per_s.map(|v| format!("{v}/s (open loop)"))),
        ("count", su.count.map(|v| v.to_string())),
        ("duration", su.duration_s.map(|v| format!("{v} s"))),
        ("expected status", su.expect_status.map(|v| v.to_string())),
        ("expected body", su.expect_body.clone()),
        ("pod", su.pod.clone()),
        ("note", su.note.clone()),
        (
            "failures allowed",
            r.verdict.max_failures.map(|v| v.to_string()),
        ),
    ];
    settings.extend(
        optional
            .into_iter()
            .filter_map(|(k, v)| v.map(|v| row(k, v))),
    );
    let s = &r.summary;
    let t1 = r
        .series
        .as_ref()
        .map_or(s.duration_s, |d| d.end_s().max(s.duration_s))
        .max(1.0);
    let chart = svg::timeline(&Timeline {
        id: format!("{id}-run-chart"),
        t0: 0.0,
        t1,
        series: r.series.as_ref(),
        fail_spans: s
            .failure_windows
            .iter()
            .map(|w| FailSpan {
                t0: w.start_s,
                t1: w.end_s,
                failures: w.failures,
            })
            .collect(),
        latency_steps: s
            .latency_ms
            .as_ref()
            .map(|l| LatencyStep {
                from: 0.0,
                to: t1,
                p50: l.p50,
                p99: l.p99,
            })
            .into_iter()
            .collect(),
        phases: Vec::new(),
        markers: Vec::new(),
        kill: false,
    });
    let section = Section {
        id: format!("{id}-run"),
        title: "the run".into(),
        passed: None,
        reasons: Vec::new(),
        chart: Value::from_safe_string(chart),
        events: Vec::new(),
        phases: vec![phase_row("whole run", s)],
        notes: vec![format!(
            "longest without a success: {:.3} s",
            s.longest_without_success_s
        )],
    };
    View {
        id: id.into(),
        title: format!("query: {} {}", su.method, su.url),
        kind: "query",
        passed: r.verdict.passed,
        verdict_known: r.verdict.max_failures.is_some(),
        reasons: match r.verdict.max_failures {
            Some(max) if !r.verdict.passed => {
                vec![format!(
                    "{} failure(s), more than {max} allowed",
                    s.failures
                )]
            }
            _ => Vec::new(),
        },
        settings,
        totals: vec![
            row("requests", s.requests.to_string()),
            row("failures", s.failures.to_string()),
            row("rate", format!("{:.1} req/s", s.rate_per_s)),
        ],
        sections: vec![section],
        recovery: None,
    }
}

/// Unix seconds as `YYYY-MM-DD HH:MM:SS UTC` (days to civil date: Howard Hinnant's algorithm).
fn utc(unix: f64) -> String {
    if !unix.is_finite() {
        return "-".into();
    }
    let secs = unix.floor() as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_dates() {
        assert_eq!(super::utc(0.0), "1970-01-01 00:00:00 UTC");
        assert_eq!(super::utc(1_795_681_734.5), "2026-11-26 08:28:54 UTC");
        assert_eq!(super::utc(951_782_400.0), "2000-02-29 00:00:00 UTC");
    }
}
