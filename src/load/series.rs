//! Requests over time for the charts: successes, failures and latency p50/p99 per time bucket.
//! Memory is bounded whatever the run length or rate: at most [`MAX_BUCKETS`] buckets (the width
//! doubles, merging neighbours, when the run outgrows them) and a fixed-size log histogram per
//! bucket, allocated only when the bucket has a success.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use super::engine::Sample;

/// Upper bound of buckets per series (per round of a drill).
pub const MAX_BUCKETS: usize = 600;
/// The first bucket width; doubled as often as the run needs.
const FIRST_WIDTH_MS: u64 = 100;

/// Sub-buckets per power of two: a value is known to within 1/16 (about 6 %), enough for a chart.
const SUB: u32 = 16;
const SUB_BITS: u32 = 4;
/// Microseconds up to 2^32 (about 71 minutes): longer latencies are clamped to the last bin.
const BINS: usize = (SUB + (32 - SUB_BITS) * SUB) as usize;

/// A latency histogram in microseconds with log-spaced bins (HDR-like, fixed 1.9 KB).
#[derive(Clone)]
struct LogHistogram {
    counts: Box<[u32; BINS]>,
    total: u64,
}

impl LogHistogram {
    fn new() -> LogHistogram {
        LogHistogram {
            counts: Box::new([0; BINS]),
            total: 0,
        }
    }

    fn bin(us: u64) -> usize {
        let v = us.min(u32::MAX as u64) as u32;
        if v < SUB {
            return v as usize;
        }
        let octave = 31 - v.leading_zeros(); // >= SUB_BITS
        let sub = (v >> (octave - SUB_BITS)) & (SUB - 1);
        (SUB + (octave - SUB_BITS) * SUB + sub) as usize
    }

    /// The middle of a bin, in microseconds.
    fn value(bin: usize) -> f64 {
        let bin = bin as u32;
        if bin < SUB {
            return bin as f64;
        }
        let octave = (bin - SUB) / SUB + SUB_BITS;
        let sub = (bin - SUB) % SUB;
        let step = 1u64 << (octave - SUB_BITS);
        let low = (1u64 << octave) + sub as u64 * step;
        low as f64 + step as f64 / 2.0
    }

    fn record(&mut self, us: u64) {
        let bin = Self::bin(us);
        self.counts[bin] = self.counts[bin].saturating_add(1);
        self.total += 1;
    }

    fn merge(&mut self, other: &LogHistogram) {
        for (a, b) in self.counts.iter_mut().zip(other.counts.iter()) {
            *a = a.saturating_add(*b);
        }
        self.total += other.total;
    }

    /// The latency below which a fraction `q` of the values lie, in milliseconds.
    fn quantile_ms(&self, q: f64) -> Option<f64> {
        if self.total == 0 {
            return None;
        }
        let rank = ((q * self.total as f64).ceil() as u64).clamp(1, self.total);
        let mut seen = 0u64;
        for (bin, &c) in self.counts.iter().enumerate() {
            seen += c as u64;
            if seen >= rank {
                return Some(Self::value(bin) / 1000.0);
            }
        }
        None
    }
}

#[derive(Clone, Default)]
struct Bucket {
    successes: u64,
    failures: u64,
    latency: Option<LogHistogram>,
}

impl Bucket {
    fn merge(&mut self, other: Bucket) {
        self.successes += other.successes;
        self.failures += other.failures;
        match (&mut self.latency, other.latency) {
            (Some(a), Some(b)) => a.merge(&b),
            (None, b) => self.latency = b,
            (Some(_), None) => {}
        }
    }
}

/// Streams samples into time buckets, by when each request was meant to be sent.
pub struct Series {
    start: Instant,
    width_ms: u64,
    buckets: Vec<Bucket>,
}

impl Series {
    pub fn new(start: Instant) -> Series {
        Series {
            start,
            width_ms: FIRST_WIDTH_MS,
            buckets: Vec::new(),
        }
    }

    pub fn record(&mut self, s: &Sample) {
        let at_ms = s.intended.saturating_duration_since(self.start).as_millis() as u64;
        let mut index = (at_ms / self.width_ms) as usize;
        while index >= MAX_BUCKETS {
            self.coarsen();
            index = (at_ms / self.width_ms) as usize;
        }
        if self.buckets.len() <= index {
            self.buckets.resize(index + 1, Bucket::default());
        }
        let b = &mut self.buckets[index];
        match s.outcome {
            Ok(()) => {
                b.successes += 1;
                b.latency
                    .get_or_insert_with(LogHistogram::new)
                    .record(s.latency().as_micros() as u64);
            }
            Err(_) => b.failures += 1,
        }
    }

    /// Doubles the width: bucket i of the new series is buckets 2i and 2i+1 of the old.
    fn coarsen(&mut self) {
        self.width_ms *= 2;
        let old = std::mem::take(&mut self.buckets);
        let mut pairs = old.into_iter();
        while let Some(mut first) = pairs.next() {
            if let Some(second) = pairs.next() {
                first.merge(second);
            }
            self.buckets.push(first);
        }
    }

    /// The buckets on a time axis whose 0 is `origin` (the kill of a round, the start of a query).
    pub fn data(&self, origin: Instant) -> SeriesData {
        let start_s = signed_secs(origin, self.start);
        let q = |q: f64| -> Vec<Option<f64>> {
            self.buckets
                .iter()
                .map(|b| b.latency.as_ref().and_then(|h| h.quantile_ms(q)))
                .collect()
        };
        SeriesData {
            start_s,
            width_s: Duration::from_millis(self.width_ms).as_secs_f64(),
            successes: self.buckets.iter().map(|b| b.successes).collect(),
            failures: self.buckets.iter().map(|b| b.failures).collect(),
            p50_ms: q(0.50),
            p99_ms: q(0.99),
        }
    }
}

/// `to - from` in seconds, negative when `to` is earlier.
fn signed_secs(from: Instant, to: Instant) -> f64 {
    if to >= from {
        (to - from).as_secs_f64()
    } else {
        -(from - to).as_secs_f64()
    }
}

/// Bucket i covers `[start_s + i*width_s, start_s + (i+1)*width_s)` seconds from t = 0; the
/// arrays are parallel, one entry per bucket. Latency is of successful requests, from the intended
/// send time; null for a bucket without a success.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct SeriesData {
    pub start_s: f64,
    pub width_s: f64,
    pub successes: Vec<u64>,
    pub failures: Vec<u64>,
    pub p50_ms: Vec<Option<f64>>,
    pub p99_ms: Vec<Option<f64>>,
}

impl SeriesData {
    pub fn len(&self) -> usize {
        self.successes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.successes.is_empty()
    }

    /// Start of bucket `i` in seconds from t = 0.
    pub fn t(&self, i: usize) -> f64 {
        self.start_s + i as f64 * self.width_s
    }

    pub fn end_s(&self) -> f64 {
        self.t(self.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::engine::Cause;

    fn sample(start: Instant, at_ms: u64, latency_ms: u64, ok: bool) -> Sample {
        let intended = start + Duration::from_millis(at_ms);
        Sample {
            index: 0,
            intended,
            finished: intended + Duration::from_millis(latency_ms),
            outcome: if ok { Ok(()) } else { Err(Cause::Timeout) },
        }
    }

    #[test]
    fn histogram_quantiles_are_within_a_bin() {
        let mut h = LogHistogram::new();
        for us in 1..=10_000u64 {
            h.record(us * 100); // 0.1 ms .. 1000 ms, uniform
        }
        let p50 = h.quantile_ms(0.5).unwrap();
        let p99 = h.quantile_ms(0.99).unwrap();
        assert!((p50 - 500.0).abs() / 500.0 < 0.07, "p50 {p50}");
        assert!((p99 - 990.0).abs() / 990.0 < 0.07, "p99 {p99}");
        assert_eq!(LogHistogram::bin(u64::MAX), BINS - 1);
        assert_eq!(LogHistogram::new().quantile_ms(0.5), None);
    }

    #[test]
    fn buckets_count_by_send_time_and_stay_bounded() {
        let start = Instant::now();
        let mut s = Series::new(start);
        s.record(&sample(start, 50, 10, true));
        s.record(&sample(start, 250, 10, false));
        let d = s.data(start + Duration::from_secs(1));
        assert_eq!(d.width_s, 0.1);
        assert_eq!(d.successes, vec![1, 0, 0]);
        assert_eq!(d.failures, vec![0, 0, 1]);
        assert!((d.start_s + 1.0).abs() < 1e-9, "t = 0 is the origin");
        assert_eq!(d.p50_ms[1], None);

        // 10 minutes: the width doubles until 600 buckets hold it, and the counts survive.
        for ms in (0..600_000).step_by(50) {
            s.record(&sample(start, ms, 20, ms % 1000 != 0));
        }
        let d = s.data(start);
        assert!(d.len() <= MAX_BUCKETS, "{} buckets", d.len());
        assert_eq!(d.width_s, 1.6);
        let total: u64 = d.successes.iter().chain(&d.failures).sum();
        assert_eq!(total, 2 + 12_000);
        assert_eq!(d.failures.iter().sum::<u64>(), 1 + 600);
        let p50 = d.p50_ms[10].unwrap();
        assert!((p50 - 20.0).abs() < 1.5, "{p50}");
    }
}
