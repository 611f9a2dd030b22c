//! Inline SVG charts, drawn in Rust (no script in the page): a round's requests and latency on a
//! time axis, and the recovery times of a drill's rounds. Every string from a report is escaped
//! with [`esc`]; coordinates are rounded to 0.1 px to keep the file small.
//!
//! Element classes the page's CSS and the browser test rely on: `axis-x`, `axis-y` (groups of
//! ticks whose `<text>` carries `data-t`/`data-v`), `legend`, `phase phase-before|during|after`,
//! `kill`, `marker` (a timeline event, `data-t`), `fail` (a bucket with failures: `data-t0`,
//! `data-t1`, `data-failures`), `ok` and `failed` (stacked bars), `p50` and `p99` (latency).

use std::fmt::Write;

use crate::load::series::SeriesData;

/// HTML/XML escaping for text and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A timeline event drawn as a numbered vertical marker.
pub struct Marker {
    pub t: f64,
    pub text: String,
}

/// A shaded stretch of the time axis: `before`, `during` or `after`.
pub struct Phase {
    pub name: &'static str,
    pub from: f64,
    pub to: f64,
}

/// Failed requests over a stretch of time (a bucket, or a failure window of an older report).
pub struct FailSpan {
    pub t0: f64,
    pub t1: f64,
    pub failures: u64,
}

/// Latency over a stretch, for reports that only have per-phase numbers.
pub struct LatencyStep {
    pub from: f64,
    pub to: f64,
    pub p50: f64,
    pub p99: f64,
}

/// What one timeline chart shows.
pub struct Timeline<'a> {
    /// Prefix of element ids, unique in the page.
    pub id: String,
    pub t0: f64,
    pub t1: f64,
    pub series: Option<&'a SeriesData>,
    /// Used when there is no series.
    pub fail_spans: Vec<FailSpan>,
    pub latency_steps: Vec<LatencyStep>,
    pub phases: Vec<Phase>,
    pub markers: Vec<Marker>,
    /// Draw the kill at t = 0.
    pub kill: bool,
}

const W: f64 = 960.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 24.0;
const STRIP: (f64, f64) = (62.0, 70.0);
const REQ: (f64, f64) = (74.0, 204.0);
const LAT: (f64, f64) = (226.0, 356.0);
const H: f64 = 404.0;

/// Maps seconds to x.
struct XScale {
    t0: f64,
    t1: f64,
}

impl XScale {
    fn x(&self, t: f64) -> f64 {
        let span = (self.t1 - self.t0).max(1e-9);
        LEFT + (t.clamp(self.t0, self.t1) - self.t0) / span * (W - LEFT - RIGHT)
    }
}

fn r1(v: f64) -> f64 {
    (v * 10.0).round() / 10.0
}

/// A round number step giving about `n` ticks over `span`.
pub fn nice_step(span: f64, n: f64) -> f64 {
    let raw = (span / n).max(1e-9);
    let mag = 10f64.powf(raw.log10().floor());
    let f = raw / mag;
    let nice = if f <= 1.0 {
        1.0
    } else if f <= 2.0 {
        2.0
    } else if f <= 5.0 {
        5.0
    } else {
        10.0
    };
    nice * mag
}

fn fmt_num(v: f64) -> String {
    let s = format!("{v:.3}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s == "-0" { "0".into() } else { s.into() }
}

/// The chart of one round (or one query run).
pub fn timeline(c: &Timeline) -> String {
    let xs = XScale { t0: c.t0, t1: c.t1 };
    let mut s = String::with_capacity(64 * 1024);
    let _ = write!(
        s,
        r#"<svg class="chart timeline" id="{id}" viewBox="0 0 {W} {H}" role="img" aria-labelledby="{id}-title"><title id="{id}-title">requests and latency over time, t = 0 at the {origin}</title>"#,
        id = esc(&c.id),
        origin = if c.kill { "kill" } else { "start" }
    );
    phases(&mut s, c, &xs);
    legend(&mut s, c);
    let max_requests = requests_panel(&mut s, c, &xs);
    latency_panel(&mut s, c, &xs);
    x_axis(&mut s, &xs);
    y_axis_requests(&mut s, max_requests, c.series.map(|d| d.width_s));
    if c.kill {
        let x = r1(xs.x(0.0));
        let _ = write!(
            s,
            r#"<g class="kill"><line x1="{x}" x2="{x}" y1="{}" y2="{}"/><text x="{}" y="{}">kill</text></g>"#,
            STRIP.0,
            LAT.1,
            x + 4.0,
            REQ.0 + 10.0
        );
    }
    markers(&mut s, c, &xs);
    s.push_str("</svg>");
    s
}

fn phases(s: &mut String, c: &Timeline, xs: &XScale) {
    for p in &c.phases {
        let (a, b) = (xs.x(p.from), xs.x(p.to));
        if b - a < 0.05 {
            continue;
        }
        let _ = write!(
            s,
            r#"<rect class="phase phase-{n}" x="{}" y="{}" width="{}" height="{}"><title>{n}: {} s to {} s</title></rect>"#,
            r1(a),
            STRIP.0,
            r1(b - a),
            LAT.1 - STRIP.0,
            fmt_num(p.from),
            fmt_num(p.to),
            n = p.name
        );
    }
}

fn legend(s: &mut String, c: &Timeline) {
    let mut items: Vec<(&str, &str)> = vec![
        ("ok", "successes"),
        ("failed", "failures"),
        ("p50", "latency p50"),
        ("p99", "latency p99"),
    ];
    if c.kill {
        items.push(("kill", "kill"));
    }
    if !c.markers.is_empty() {
        items.push(("marker", "event"));
    }
    for p in &c.phases {
        items.push(match p.name {
            "before" => ("phase-before", "before"),
            "during" => ("phase-during", "until recovered"),
            _ => ("phase-after", "after"),
        });
    }
    s.push_str(r#"<g class="legend">"#);
    let mut x = LEFT;
    for (class, label) in items {
        let _ = write!(
            s,
            r#"<g class="legend-item key-{class}"><rect class="swatch" x="{x}" y="4" width="12" height="12"/><text x="{}" y="14">{label}</text></g>"#,
            r1(x + 16.0)
        );
        x += 28.0 + label.len() as f64 * 6.4;
    }
    s.push_str("</g>");
}

/// Stacked bars of successes and failures per bucket, and the failure strip; returns the y max.
fn requests_panel(s: &mut String, c: &Timeline, xs: &XScale) -> u64 {
    let spans: Vec<FailSpan> = match c.series {
        Some(d) => (0..d.len())
            .filter(|&i| d.failures[i] > 0)
            .map(|i| FailSpan {
                t0: d.t(i),
                t1: d.t(i + 1),
                failures: d.failures[i],
            })
            .collect(),
        None => c.fail_spans.iter().map(|f| FailSpan { ..*f }).collect(),
    };
    let mut max = 0;
    if let Some(d) = c.series {
        max = (0..d.len())
            .map(|i| d.successes[i] + d.failures[i])
            .max()
            .unwrap_or(0);
        let top = nice_ceiling(max);
        let y = |v: u64| REQ.1 - v as f64 / top as f64 * (REQ.1 - REQ.0);
        let (mut ok, mut failed) = (String::new(), String::new());
        for i in 0..d.len() {
            let (a, b) = (xs.x(d.t(i)), xs.x(d.t(i + 1)));
            let w = r1((b - a - 0.4).max(0.4));
            let (so, sf) = (d.successes[i], d.failures[i]);
            if so > 0 {
                let _ = write!(ok, "M{} {}h{w}V{}h-{w}Z", r1(a), r1(y(so)), REQ.1);
            }
            if sf > 0 {
                let _ = write!(
                    failed,
                    "M{} {}h{w}V{}h-{w}Z",
                    r1(a),
                    r1(y(so + sf)),
                    r1(y(so))
                );
            }
        }
        let _ = write!(
            s,
            r#"<path class="ok" d="{ok}"/><path class="failed" d="{failed}"/>"#
        );
        max = top;
    } else {
        let _ = write!(
            s,
            r#"<text class="note" x="{}" y="{}">no per-bucket counts in this report (older format): failure windows and per-phase latency only</text>"#,
            LEFT + 8.0,
            (REQ.0 + REQ.1) / 2.0
        );
    }
    s.push_str(r#"<g class="fail-strip">"#);
    for f in &spans {
        let (a, b) = (xs.x(f.t0), xs.x(f.t1));
        let _ = write!(
            s,
            r#"<rect class="fail" x="{}" y="{}" width="{}" height="{}" data-t0="{}" data-t1="{}" data-failures="{}"><title>{} failure(s) at {} s to {} s</title></rect>"#,
            r1(a),
            STRIP.0,
            r1((b - a).max(2.0)),
            STRIP.1 - STRIP.0,
            fmt_num(f.t0),
            fmt_num(f.t1),
            f.failures,
            f.failures,
            fmt_num(f.t0),
            fmt_num(f.t1)
        );
    }
    s.push_str("</g>");
    max
}

fn nice_ceiling(v: u64) -> u64 {
    if v == 0 {
        return 1;
    }
    let step = nice_step(v as f64, 4.0);
    ((v as f64 / step).ceil() * step).max(1.0) as u64
}

/// Latency in a log scale: p50 and p99 per bucket (or per phase).
fn latency_panel(s: &mut String, c: &Timeline, xs: &XScale) {
    let mut values: Vec<f64> = Vec::new();
    let mut lines: [Vec<(f64, f64, Option<f64>)>; 2] = [Vec::new(), Vec::new()];
    if let Some(d) = c.series {
        for i in 0..d.len() {
            let mid = (d.t(i) + d.t(i + 1)) / 2.0;
            lines[0].push((mid, mid, d.p50_ms[i]));
            lines[1].push((mid, mid, d.p99_ms[i]));
        }
    } else {
        for st in &c.latency_steps {
            lines[0].push((st.from, st.to, Some(st.p50)));
            lines[0].push((st.to, st.to, None));
            lines[1].push((st.from, st.to, Some(st.p99)));
            lines[1].push((st.to, st.to, None));
        }
    }
    for line in &lines {
        values.extend(line.iter().filter_map(|p| p.2).filter(|v| *v > 0.0));
    }
    let (lo, hi) = log_range(&values);
    let y = |v: f64| {
        let f = (v.max(lo).log10() - lo.log10()) / (hi.log10() - lo.log10());
        LAT.1 - f.clamp(0.0, 1.0) * (LAT.1 - LAT.0)
    };
    for (class, line) in ["p50", "p99"].iter().zip(&lines) {
        let mut d = String::new();
        let mut pen_down = false;
        for &(from, to, v) in line {
            match v {
                Some(v) => {
                    let (a, b, yy) = (r1(xs.x(from)), r1(xs.x(to)), r1(y(v)));
                    let _ = write!(d, "{}{a} {yy}", if pen_down { "L" } else { "M" });
                    // A step spans its stretch; a lone point still shows as a dot.
                    let _ = write!(d, "H{}", if b > a { b } else { a + 0.1 });
                    pen_down = true;
                }
                None => pen_down = false,
            }
        }
        let _ = write!(s, r#"<path class="{class}" d="{d}"/>"#);
    }
    s.push_str(r#"<g class="axis-y axis-latency">"#);
    for v in log_ticks(lo, hi) {
        let yy = r1(y(v));
        let _ = write!(
            s,
            r#"<line x1="{LEFT}" x2="{}" y1="{yy}" y2="{yy}"/><text x="{}" y="{}" data-v="{}">{}</text>"#,
            W - RIGHT,
            LEFT - 4.0,
            yy + 3.0,
            fmt_num(v),
            fmt_num(v)
        );
    }
    let _ = write!(
        s,
        r#"<text class="axis-title" x="12" y="{}" transform="rotate(-90 12 {})">latency ms</text></g>"#,
        (LAT.0 + LAT.1) / 2.0,
        (LAT.0 + LAT.1) / 2.0
    );
}

fn log_range(values: &[f64]) -> (f64, f64) {
    let min = values.iter().copied().fold(f64::INFINITY, f64::min);
    let max = values.iter().copied().fold(0.0, f64::max);
    if !min.is_finite() || max <= 0.0 {
        return (1.0, 1000.0);
    }
    let lo = 10f64.powf(min.log10().floor());
    let mut hi = 10f64.powf(max.log10().ceil());
    if hi <= lo {
        hi = lo * 10.0;
    }
    (lo, hi)
}

/// Powers of ten, with 2 and 5 between them when the range is at most two decades.
fn log_ticks(lo: f64, hi: f64) -> Vec<f64> {
    let decades = (hi / lo).log10().round() as i32;
    let mut out = Vec::new();
    let mut v = lo;
    while v <= hi * 1.0001 {
        out.push(v);
        if decades <= 2 && v < hi {
            out.push(v * 2.0);
            out.push(v * 5.0);
        }
        v *= 10.0;
    }
    out
}

fn x_axis(s: &mut String, xs: &XScale) {
    let step = nice_step(xs.t1 - xs.t0, 10.0);
    s.push_str(r#"<g class="axis-x">"#);
    let first = (xs.t0 / step).ceil() as i64;
    let last = (xs.t1 / step).floor() as i64;
    for k in first..=last {
        let t = k as f64 * step;
        let x = r1(xs.x(t));
        let _ = write!(
            s,
            r#"<line x1="{x}" x2="{x}" y1="{}" y2="{}"/><text x="{x}" y="{}" data-t="{}">{}</text>"#,
            LAT.1,
            LAT.1 + 4.0,
            LAT.1 + 16.0,
            fmt_num(t),
            fmt_num(t)
        );
    }
    let _ = write!(
        s,
        r#"<line class="baseline" x1="{LEFT}" x2="{}" y1="{}" y2="{}"/><line class="baseline" x1="{LEFT}" x2="{}" y1="{}" y2="{}"/><text class="axis-title" x="{}" y="{}">seconds</text></g>"#,
        W - RIGHT,
        REQ.1,
        REQ.1,
        W - RIGHT,
        LAT.1,
        LAT.1,
        W / 2.0,
        LAT.1 + 34.0
    );
}

fn y_axis_requests(s: &mut String, top: u64, width_s: Option<f64>) {
    s.push_str(r#"<g class="axis-y axis-requests">"#);
    if top > 0 {
        for v in [0, top / 2, top] {
            let y = r1(REQ.1 - v as f64 / top as f64 * (REQ.1 - REQ.0));
            let _ = write!(
                s,
                r#"<line x1="{LEFT}" x2="{}" y1="{y}" y2="{y}"/><text x="{}" y="{}" data-v="{v}">{v}</text>"#,
                W - RIGHT,
                LEFT - 4.0,
                y + 3.0
            );
        }
    }
    let title = match width_s {
        Some(w) => format!("requests / {} s", fmt_num(w)),
        None => "requests".into(),
    };
    let _ = write!(
        s,
        r#"<text class="axis-title" x="12" y="{}" transform="rotate(-90 12 {})">{title}</text></g>"#,
        (REQ.0 + REQ.1) / 2.0,
        (REQ.0 + REQ.1) / 2.0
    );
}

/// Numbered event markers. Labels go to the first of four rows where they clear the previous
/// label, so events a few milliseconds apart stay readable.
fn markers(s: &mut String, c: &Timeline, xs: &XScale) {
    const ROWS: [f64; 4] = [28.0, 38.0, 48.0, 58.0];
    let mut row_end = [f64::NEG_INFINITY; 4];
    for (i, m) in c.markers.iter().enumerate() {
        let x = r1(xs.x(m.t));
        let n = (i + 1).to_string();
        let half = 3.5 * n.len() as f64 + 2.0;
        let row = (0..ROWS.len())
            .find(|&r| row_end[r] <= x - half)
            .unwrap_or(i % ROWS.len());
        row_end[row] = x + half;
        let _ = write!(
            s,
            r#"<g class="marker" data-t="{t}"><title>{sign}{t} s {text}</title><line x1="{x}" x2="{x}" y1="{}" y2="{}"/><text x="{x}" y="{}">{n}</text></g>"#,
            ROWS[row] + 2.0,
            LAT.1,
            ROWS[row],
            t = fmt_num(m.t),
            sign = if m.t >= 0.0 { "+" } else { "" },
            text = esc(&m.text),
        );
    }
}

/// One bar per round's recovery seconds, with min, median and max marked.
pub fn recovery(rounds: &[(u32, Option<f64>)], stats: Option<(f64, f64, f64)>) -> String {
    let row = 22.0;
    let h = 40.0 + rounds.len() as f64 * row;
    let max = rounds
        .iter()
        .filter_map(|r| r.1)
        .fold(0.0, f64::max)
        .max(1.0);
    let step = nice_step(max, 5.0);
    let top = (max / step).ceil() * step;
    let x = |v: f64| LEFT + v / top * (W - LEFT - RIGHT);
    let mut s = format!(
        r#"<svg class="chart recovery" viewBox="0 0 {W} {h}" role="img"><title>recovery seconds per round</title>"#
    );
    for (i, (n, r)) in rounds.iter().enumerate() {
        let y = 8.0 + i as f64 * row;
        let _ = write!(
            s,
            r#"<text class="round-label" x="{}" y="{}">round {n}</text>"#,
            LEFT - 4.0,
            y + 13.0
        );
        match r {
            Some(v) => {
                let _ = write!(
                    s,
                    r#"<rect class="recovery-bar" x="{LEFT}" y="{y}" width="{}" height="16" data-s="{}"/><text x="{}" y="{}">{} s</text>"#,
                    r1(x(*v) - LEFT),
                    fmt_num(*v),
                    r1(x(*v) + 4.0),
                    y + 13.0,
                    fmt_num((v * 100.0).round() / 100.0)
                );
            }
            None => {
                let _ = write!(
                    s,
                    r#"<text class="not-recovered" x="{}" y="{}">not recovered</text>"#,
                    LEFT + 4.0,
                    y + 13.0
                );
            }
        }
    }
    let base = 8.0 + rounds.len() as f64 * row;
    if let Some((min, median, max)) = stats {
        for (name, v) in [("min", min), ("median", median), ("max", max)] {
            let xx = r1(x(v));
            let _ = write!(
                s,
                r#"<line class="stat stat-{name}" x1="{xx}" x2="{xx}" y1="4" y2="{base}"><title>{name} {} s</title></line>"#,
                fmt_num(v)
            );
        }
    }
    s.push_str(r#"<g class="axis-x axis-recovery">"#);
    let mut v = 0.0;
    while v <= top + 1e-9 {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" data-t="{}">{}</text>"#,
            r1(x(v)),
            base + 16.0,
            fmt_num(v),
            fmt_num(v)
        );
        v += step;
    }
    let _ = write!(
        s,
        r#"<text class="axis-title" x="{}" y="{}">seconds from the kill to full recovery</text></g></svg>"#,
        W / 2.0,
        base + 30.0
    );
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escaping_covers_markup_and_quotes() {
        assert_eq!(
            esc(r#"<a href="x">'&'</a>"#),
            "&lt;a href=&quot;x&quot;&gt;&#39;&amp;&#39;&lt;/a&gt;"
        );
    }

    #[test]
    fn nice_steps_are_round() {
        assert_eq!(nice_step(100.0, 10.0), 10.0);
        assert_eq!(nice_step(38.0, 10.0), 5.0);
        assert_eq!(nice_step(0.9, 10.0), 0.1);
        assert_eq!(
            log_ticks(1.0, 100.0),
            vec![1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0]
        );
    }
}
