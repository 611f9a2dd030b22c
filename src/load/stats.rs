//! Streaming statistics over samples: counts, failures by cause, HDR latency percentiles, the
//! failure windows and the longest stretch without a success. Memory stays constant however long
//! the run.

use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};

use super::engine::Sample;

/// At most this many failure windows are kept; later ones are counted only.
const MAX_WINDOWS: usize = 1000;

/// At most this many distinct failure details are counted apart (a server can make every reply
/// fail differently); the rest are counted together under `OTHER_DETAILS`.
const MAX_DETAILS: usize = 32;
pub const OTHER_DETAILS: &str = "other (more distinct details)";

/// A run of consecutive failed requests (by completion order).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FailureWindow {
    /// Seconds since the start of the run.
    pub start_s: f64,
    pub end_s: f64,
    /// Wall-clock times (Unix seconds), to line up with server logs.
    pub start_unix: f64,
    pub end_unix: f64,
    pub failures: u64,
    pub causes: BTreeMap<String, u64>,
}

pub struct Recorder {
    start: Instant,
    start_wall: SystemTime,
    requests: u64,
    failures: u64,
    by_cause: BTreeMap<String, u64>,
    by_detail: BTreeMap<String, u64>,
    latency_us: Histogram<u64>,
    failed_latency_us: Histogram<u64>,
    last_success: Option<Instant>,
    longest_gap: Duration,
    longest_gap_start: Option<Instant>,
    first_failure: Option<Instant>,
    last_failure: Option<Instant>,
    windows: Vec<FailureWindow>,
    windows_dropped: u64,
    open_window: Option<FailureWindow>,
    end: Option<Instant>,
}

impl Recorder {
    pub fn new(start: Instant) -> Recorder {
        let histogram = || Histogram::new_with_bounds(1, 3_600_000_000, 3).expect("valid bounds");
        Recorder {
            start,
            start_wall: SystemTime::now() - start.elapsed(),
            requests: 0,
            failures: 0,
            by_cause: BTreeMap::new(),
            by_detail: BTreeMap::new(),
            latency_us: histogram(),
            failed_latency_us: histogram(),
            last_success: None,
            longest_gap: Duration::ZERO,
            longest_gap_start: None,
            first_failure: None,
            last_failure: None,
            windows: Vec::new(),
            windows_dropped: 0,
            open_window: None,
            end: None,
        }
    }

    pub fn requests(&self) -> u64 {
        self.requests
    }

    pub fn failures(&self) -> u64 {
        self.failures
    }

    fn secs(&self, t: Instant) -> f64 {
        t.saturating_duration_since(self.start).as_secs_f64()
    }

    fn unix(&self, t: Instant) -> f64 {
        let wall = self.start_wall + t.saturating_duration_since(self.start);
        wall.duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs_f64()
    }

    pub fn record(&mut self, s: &Sample) {
        self.requests += 1;
        let latency_us = (s.latency().as_micros() as u64).max(1);
        match &s.outcome {
            Ok(()) => {
                let _ = self.latency_us.record(latency_us.min(3_600_000_000));
                let since = self.last_success.unwrap_or(self.start);
                self.note_gap(since, s.finished);
                // Samples of several sources (a drill's routes) may arrive out of order: a late
                // one does not move the last success back.
                self.last_success = Some(since.max(s.finished));
                if let Some(w) = self.open_window.take() {
                    self.close_window(w);
                }
            }
            Err(cause) => {
                let _ = self.failed_latency_us.record(latency_us.min(3_600_000_000));
                self.failures += 1;
                *self.by_cause.entry(cause.class().to_string()).or_default() += 1;
                self.count_detail(cause.to_string());
                self.first_failure.get_or_insert(s.finished);
                self.last_failure = Some(s.finished);
                // A failure window runs from when its first failed request was sent to when its
                // last one gave up.
                let (sent, done) = (self.secs(s.intended), self.secs(s.finished));
                let (sent_u, done_u) = (self.unix(s.intended), self.unix(s.finished));
                let w = self.open_window.get_or_insert_with(|| FailureWindow {
                    start_s: sent,
                    end_s: done,
                    start_unix: sent_u,
                    end_unix: done_u,
                    failures: 0,
                    causes: BTreeMap::new(),
                });
                w.end_s = w.end_s.max(done);
                w.end_unix = w.end_unix.max(done_u);
                w.failures += 1;
                *w.causes.entry(cause.class().to_string()).or_default() += 1;
            }
        }
    }

    fn count_detail(&mut self, detail: String) {
        if let Some(n) = self.by_detail.get_mut(&detail) {
            *n += 1;
        } else if self.by_detail.len() < MAX_DETAILS {
            self.by_detail.insert(detail, 1);
        } else {
            *self.by_detail.entry(OTHER_DETAILS.to_string()).or_default() += 1;
        }
    }

    fn note_gap(&mut self, from: Instant, to: Instant) {
        let gap = to.saturating_duration_since(from);
        if gap > self.longest_gap {
            self.longest_gap = gap;
            self.longest_gap_start = Some(from);
        }
    }

    fn close_window(&mut self, w: FailureWindow) {
        if self.windows.len() < MAX_WINDOWS {
            self.windows.push(w);
        } else {
            self.windows_dropped += 1;
        }
    }

    /// Ends the run at `end`: the stretch since the last success counts as a gap too.
    pub fn finish(&mut self, end: Instant) {
        if self.end.is_some() {
            return;
        }
        self.end = Some(end);
        let since = self.last_success.unwrap_or(self.start);
        self.note_gap(since, end);
        if let Some(w) = self.open_window.take() {
            self.close_window(w);
        }
    }

    pub fn percentile_ms(&self, q: f64) -> Option<f64> {
        (!self.latency_us.is_empty()).then(|| self.latency_us.value_at_quantile(q) as f64 / 1000.0)
    }

    pub fn summary(&self) -> Summary {
        let elapsed = self
            .end
            .unwrap_or_else(Instant::now)
            .saturating_duration_since(self.start)
            .as_secs_f64();
        let h = &self.latency_us;
        let ms = |v: u64| v as f64 / 1000.0;
        Summary {
            requests: self.requests,
            successes: self.requests - self.failures,
            failures: self.failures,
            failures_by_cause: self.by_cause.clone(),
            failures_by_detail: self.by_detail.clone(),
            duration_s: elapsed,
            rate_per_s: if elapsed > 0.0 {
                self.requests as f64 / elapsed
            } else {
                0.0
            },
            latency_ms: (!h.is_empty()).then(|| Latency {
                min: ms(h.min()),
                mean: h.mean() / 1000.0,
                p50: ms(h.value_at_quantile(0.50)),
                p90: ms(h.value_at_quantile(0.90)),
                p99: ms(h.value_at_quantile(0.99)),
                p999: ms(h.value_at_quantile(0.999)),
                max: ms(h.max()),
            }),
            failed_latency_ms_max: (!self.failed_latency_us.is_empty())
                .then(|| ms(self.failed_latency_us.max())),
            first_failure_s: self.first_failure.map(|t| self.secs(t)),
            last_failure_s: self.last_failure.map(|t| self.secs(t)),
            longest_without_success_s: self.longest_gap.as_secs_f64(),
            longest_without_success_from_s: self.longest_gap_start.map(|t| self.secs(t)),
            failure_windows: self.windows.clone(),
            failure_windows_not_listed: self.windows_dropped,
            started_unix: self.unix(self.start),
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Latency {
    pub min: f64,
    pub mean: f64,
    pub p50: f64,
    pub p90: f64,
    pub p99: f64,
    pub p999: f64,
    pub max: f64,
}

/// The numbers a run ends with.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Summary {
    pub requests: u64,
    pub successes: u64,
    pub failures: u64,
    /// connect, timeout, http_status, wrong_body, io, protocol.
    pub failures_by_cause: BTreeMap<String, u64>,
    pub failures_by_detail: BTreeMap<String, u64>,
    pub duration_s: f64,
    pub rate_per_s: f64,
    /// Latency of successful requests (from the intended send time).
    pub latency_ms: Option<Latency>,
    pub failed_latency_ms_max: Option<f64>,
    pub first_failure_s: Option<f64>,
    pub last_failure_s: Option<f64>,
    pub longest_without_success_s: f64,
    pub longest_without_success_from_s: Option<f64>,
    pub failure_windows: Vec<FailureWindow>,
    pub failure_windows_not_listed: u64,
    pub started_unix: f64,
}

impl Summary {
    /// `connect 1, io 2`: the failures by cause; empty without failures.
    pub fn causes(&self) -> String {
        self.failures_by_cause
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::engine::Cause;

    fn sample(start: Instant, i: u64, at_ms: u64, ok: bool) -> Sample {
        let t = start + Duration::from_millis(at_ms);
        Sample {
            index: i,
            intended: t - Duration::from_millis(1),
            finished: t,
            outcome: if ok { Ok(()) } else { Err(Cause::Status(503)) },
        }
    }

    #[test]
    fn distinct_failure_details_are_bounded() {
        let start = Instant::now();
        let mut r = Recorder::new(start);
        for i in 0..1000u64 {
            let mut s = sample(start, i, i + 1, false);
            s.outcome = Err(Cause::Protocol(format!("bad status line {i}")));
            r.record(&s);
        }
        let details = r.summary().failures_by_detail;
        assert_eq!(details.len(), MAX_DETAILS + 1);
        assert_eq!(details.values().sum::<u64>(), 1000);
        assert_eq!(details[OTHER_DETAILS], 1000 - MAX_DETAILS as u64);
    }

    #[test]
    fn windows_gaps_and_causes() {
        let start = Instant::now();
        let mut r = Recorder::new(start);
        let pattern = [
            (10, true),
            (20, false),
            (30, false),
            (40, true),
            (50, true),
            (60, false),
            (70, true),
        ];
        for (i, (at, ok)) in pattern.iter().enumerate() {
            r.record(&sample(start, i as u64, *at, *ok));
        }
        r.finish(start + Duration::from_millis(75));
        let s = r.summary();
        assert_eq!((s.requests, s.failures, s.successes), (7, 3, 4));
        assert_eq!(s.failures_by_cause["http_status"], 3);
        assert_eq!(s.failure_windows.len(), 2);
        assert_eq!(s.failure_windows[0].failures, 2);
        assert!((s.failure_windows[0].start_s - 0.019).abs() < 1e-6);
        assert!((s.failure_windows[0].end_s - 0.030).abs() < 1e-6);
        // Longest without success: 10 ms -> 40 ms.
        assert!((s.longest_without_success_s - 0.030).abs() < 1e-6);
        assert!((s.first_failure_s.unwrap() - 0.020).abs() < 1e-6);
        assert!((s.last_failure_s.unwrap() - 0.060).abs() < 1e-6);
    }

    #[test]
    fn a_run_ending_in_failure_counts_the_tail_as_a_gap() {
        let start = Instant::now();
        let mut r = Recorder::new(start);
        r.record(&sample(start, 0, 5, true));
        r.record(&sample(start, 1, 10, false));
        r.finish(start + Duration::from_millis(100));
        let s = r.summary();
        assert!((s.longest_without_success_s - 0.095).abs() < 1e-6);
        assert_eq!(s.failure_windows.len(), 1);
    }

    #[test]
    fn a_late_success_from_another_source_does_not_move_the_last_success_back() {
        // Two sources merged, one of them late (a tester pod's log).
        let start = Instant::now();
        let mut r = Recorder::new(start);
        r.record(&sample(start, 0, 10, true));
        r.record(&sample(start, 1, 200, true));
        r.record(&sample(start, 2, 150, true)); // late, from before the last one
        r.record(&sample(start, 3, 400, true));
        r.finish(start + Duration::from_millis(400));
        // The longest stretch is 200 -> 400 ms, not 150 -> 400 ms.
        let s = r.summary();
        assert!((s.longest_without_success_s - 0.200).abs() < 1e-6, "{s:?}");
    }
}
