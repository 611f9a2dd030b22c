//! The tester's log: one JSON line per request, mapped onto our clock and fed into the
//! statistics while the pod runs.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures::{AsyncBufRead, AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, LogParams};
use serde_json::Value;
use tokio::sync::mpsc;

use crate::cluster::{self};
use crate::error::{Error, Result};
use crate::load::{Cause, Sample, StopHandle};

use super::{CONTAINER, EXIT_CHECK, LOG_START_GRACE};

/// One line of the tester's log, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct PodSample {
    pub index: u64,
    /// Wall-clock send time in the pod (Unix seconds).
    pub t: f64,
    pub latency_ms: f64,
    pub outcome: std::result::Result<(), Cause>,
}

/// Parses one JSON line of the tester (`RAYHA_FORMAT=json`); anything else (a traceback, a cut
/// line, a number) is None.
pub fn parse_line(line: &str) -> Option<PodSample> {
    let line = line.trim();
    if !line.starts_with('{') {
        return None;
    }
    let v: Value = serde_json::from_str(line).ok()?;
    let index = v.get("req_index")?.as_u64()?;
    let t = v.get("t")?.as_f64().filter(|t| t.is_finite())?;
    let latency_ms = v
        .get("latency_ms")?
        .as_f64()
        .filter(|l| l.is_finite() && *l >= 0.0)?;
    let outcome = match v.get("error") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(e)) => Err(cause_of(e)),
        Some(_) => return None,
    };
    Some(PodSample {
        index,
        t,
        latency_ms,
        outcome,
    })
}

/// The tester's cause text (`connect: …`, `timeout`, `status 503`, `wrong body`, `io: …`,
/// `protocol: …`) as the engine's cause.
pub fn cause_of(error: &str) -> Cause {
    let (class, detail) = match error.split_once(':') {
        Some((c, d)) => (c.trim(), d.trim().to_string()),
        None => (error.trim(), String::new()),
    };
    match class {
        "timeout" => Cause::Timeout,
        "wrong body" => Cause::WrongBody,
        "connect" => Cause::Connect(detail),
        "io" => Cause::Io(detail),
        "protocol" => Cause::Protocol(detail),
        c => match c
            .strip_prefix("status ")
            .and_then(|s| s.trim().parse().ok())
        {
            Some(status) => Cause::Status(status),
            None => Cause::Io(error.trim().to_string()),
        },
    }
}

/// Maps the pod's clock onto ours: the first request finished when its line arrived.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    t0: f64,
    at: Instant,
}

/// Seconds from the pod's log as a duration, clamped to a day: a line may say anything.
fn log_secs(secs: f64) -> Duration {
    Duration::from_secs_f64(secs.clamp(0.0, 86_400.0))
}

impl Anchor {
    fn at_first(s: &PodSample, arrived: Instant) -> Anchor {
        let latency = log_secs(s.latency_ms / 1000.0);
        Anchor {
            t0: s.t,
            at: arrived.checked_sub(latency).unwrap_or(arrived),
        }
    }

    fn sample(&self, s: &PodSample) -> Sample {
        let offset = s.t - self.t0;
        let intended = if offset >= 0.0 {
            self.at.checked_add(log_secs(offset)).unwrap_or(self.at)
        } else {
            self.at.checked_sub(log_secs(-offset)).unwrap_or(self.at)
        };
        let latency = log_secs(s.latency_ms / 1000.0);
        Sample {
            index: s.index,
            intended,
            finished: intended.checked_add(latency).unwrap_or(intended),
            outcome: s.outcome.clone(),
        }
    }
}

/// Whether the line is the tester's last (`{"done": true, …}`, after --count or --duration).
pub fn is_done(line: &str) -> bool {
    let line = line.trim();
    line.starts_with('{')
        && serde_json::from_str::<Value>(line)
            .is_ok_and(|v| v.get("done") == Some(&Value::Bool(true)))
}

/// Lines of the tester into samples for the report.
struct Feed {
    tx: mpsc::UnboundedSender<Sample>,
    next_index: u64,
    anchor: Option<Anchor>,
    /// The last lines that were not results: a traceback explains an early exit.
    other: VecDeque<String>,
}

enum Flow {
    More,
    /// The loop's last line, or nobody reads the samples any more.
    End,
}

impl Feed {
    fn line(&mut self, line: &str) -> Flow {
        match parse_line(line) {
            // Seen already (a log opened again).
            Some(s) if s.index < self.next_index => Flow::More,
            Some(s) => {
                self.next_index = s.index + 1;
                let a = *self
                    .anchor
                    .get_or_insert_with(|| Anchor::at_first(&s, Instant::now()));
                if self.tx.send(a.sample(&s)).is_err() {
                    Flow::End
                } else {
                    Flow::More
                }
            }
            None if is_done(line) => Flow::End,
            None if !line.trim().is_empty() => {
                if self.other.len() == 5 {
                    self.other.pop_front();
                }
                self.other.push_back(line.trim().to_string());
                Flow::More
            }
            None => Flow::More,
        }
    }
}

/// Follows the pod's log into samples until its loop ends or `stop`; a broken stream while the
/// pod still runs is opened again (requests already seen are skipped by index). A container that
/// ended without the loop's last line is an error, also when its log stream stays open.
pub(super) async fn follow(
    pods: Api<Pod>,
    pod_name: String,
    tx: mpsc::UnboundedSender<Sample>,
    stop: StopHandle,
) -> Result<()> {
    let mut feed = Feed {
        tx,
        next_index: 0,
        anchor: None,
        other: VecDeque::new(),
    };
    let mut reopened = 0;
    loop {
        let params = LogParams {
            container: Some(CONTAINER.into()),
            follow: true,
            ..Default::default()
        };
        let reader = match open_log(&pods, &pod_name, &params, &stop).await? {
            Some(reader) => reader,
            None => return Ok(()), // Ctrl-C while waiting for the log
        };
        let mut lines = reader.lines();
        let mut poll = tokio::time::interval(Duration::from_millis(200));
        let mut next_exit_check = Instant::now() + EXIT_CHECK;
        // Once the container is seen ended, its last lines get one more check period.
        let mut seen_ended = false;
        loop {
            tokio::select! {
                line = lines.next() => match line {
                    Some(Ok(line)) => {
                        if let Flow::End = feed.line(&line) {
                            return Ok(());
                        }
                    }
                    Some(Err(_)) | None => break,
                },
                _ = poll.tick() => {
                    if stop.stopped() {
                        return Ok(());
                    }
                    if Instant::now() >= next_exit_check {
                        next_exit_check = Instant::now() + EXIT_CHECK;
                        let check = ended_early(&pods, &pod_name, &feed).await;
                        if seen_ended {
                            check?;
                        } else {
                            seen_ended = check.is_err();
                        }
                    }
                }
            }
        }
        if stop.stopped() {
            return Ok(());
        }
        // The stream ended before the loop's last line: it failed, or the stream broke.
        ended_early(&pods, &pod_name, &feed).await?;
        if reopened == 5 {
            return Err(Error::failed(format!(
                "the log of pod/{pod_name} kept breaking off ({reopened} times)"
            )));
        }
        reopened += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Opens the tester's log stream. Right after the container started its log may not be
/// served yet (the API server answers 400): that is retried for `LOG_START_GRACE`. `None` on
/// Ctrl-C meanwhile.
async fn open_log(
    pods: &Api<Pod>,
    pod_name: &str,
    params: &LogParams,
    stop: &StopHandle,
) -> Result<Option<impl AsyncBufRead + use<>>> {
    let first_try = Instant::now();
    loop {
        match pods.log_stream(pod_name, params).await {
            Ok(reader) => return Ok(Some(reader)),
            Err(kube::Error::Api(s)) if s.code == 400 && first_try.elapsed() < LOG_START_GRACE => {
                if stop.stopped() {
                    return Ok(None);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => {
                return Err(cluster::kube_failure(
                    format!(
                        "cannot follow the log of pod/{pod_name} (--via pod reads the tester's results from it, as `kubectl logs -f` does)"
                    ),
                    &e,
                ));
            }
        }
    }
}

/// An error when the tester's container has ended (or the pod is gone); Ok while it runs.
async fn ended_early(pods: &Api<Pod>, pod_name: &str, feed: &Feed) -> Result<()> {
    let pod = pods.get_opt(pod_name).await.ok().flatten();
    let terminated = pod
        .as_ref()
        .and_then(|p| {
            p.status
                .as_ref()?
                .container_statuses
                .as_ref()?
                .first()
                .cloned()
        })
        .and_then(|c| c.state?.terminated);
    match (pod, terminated) {
        (_, Some(t)) => Err(Error::failed(format!(
            "tester pod/{pod_name} exited with code {} before its loop ended{}",
            t.exit_code,
            feed.other
                .back()
                .map(|l| format!(": {l}"))
                .unwrap_or_default()
        ))),
        (None, None) => Err(Error::failed(format!(
            "tester pod/{pod_name} was deleted while it ran"
        ))),
        (Some(_), None) => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_lines() {
        let s = parse_line(r#"{"req_index": 3, "num_fail": 0, "t": 1700000000.25, "latency_ms": 12.5, "status": 200, "error": null, "body": "12"}"#).unwrap();
        assert_eq!(s.index, 3);
        assert_eq!(s.latency_ms, 12.5);
        assert_eq!(s.outcome, Ok(()));
        // A line without the error key succeeded too.
        let s = parse_line(r#"{"req_index": 0, "t": 1.0, "latency_ms": 0}"#).unwrap();
        assert_eq!(s.outcome, Ok(()));
    }

    #[test]
    fn failure_lines_keep_their_cause() {
        let cause = |e: &str| {
            parse_line(&format!(
                r#"{{"req_index": 1, "t": 2.0, "latency_ms": 3.0, "error": {}}}"#,
                serde_json::to_string(e).unwrap()
            ))
            .unwrap()
            .outcome
            .unwrap_err()
        };
        assert_eq!(cause("timeout"), Cause::Timeout);
        assert_eq!(cause("status 503"), Cause::Status(503));
        assert_eq!(cause("wrong body"), Cause::WrongBody);
        assert_eq!(
            cause("connect: Connection refused"),
            Cause::Connect("Connection refused".into())
        );
        assert_eq!(
            cause("io: connection closed before a reply"),
            Cause::Io("connection closed before a reply".into())
        );
        assert_eq!(
            cause("protocol: BadStatusLine"),
            Cause::Protocol("BadStatusLine".into())
        );
        assert_eq!(cause("something else"), Cause::Io("something else".into()));
        assert_eq!(cause("status x"), Cause::Io("status x".into()));
        assert_eq!(cause("status 503").class(), "http_status");
    }

    #[test]
    fn garbage_and_partial_lines_are_not_samples() {
        for line in [
            "",
            "Traceback (most recent call last):",
            "req_index : 0, num_fail: 0",
            "response: 12",
            r#"{"req_index": 3, "t": 1.0, "latency_"#,
            r#"{"req_index": -1, "t": 1.0, "latency_ms": 1}"#,
            r#"{"req_index": 1, "t": "soon", "latency_ms": 1}"#,
            r#"{"req_index": 1, "t": 1.0, "latency_ms": -5}"#,
            r#"{"req_index": 1, "t": 1.0}"#,
            r#"{"t": 1.0, "latency_ms": 1}"#,
            r#"{"req_index": 1, "t": 1.0, "latency_ms": 1, "error": 7}"#,
            "[1, 2]",
            "12",
            r#"{"done": true, "requests": 500, "num_fail": 0}"#,
        ] {
            assert_eq!(parse_line(line), None, "{line:?}");
        }
    }

    #[test]
    fn the_last_line_ends_the_loop() {
        assert!(is_done(r#"{"done": true, "requests": 500, "num_fail": 0}"#));
        for line in [
            r#"{"done": false}"#,
            r#"{"req_index": 1, "t": 1.0, "latency_ms": 1}"#,
            r#"{"done": tr"#,
            "done",
        ] {
            assert!(!is_done(line), "{line:?}");
        }
        // The feed passes samples on, skips what it saw, keeps other lines, stops at the end.
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut feed = Feed {
            tx,
            next_index: 0,
            anchor: None,
            other: VecDeque::new(),
        };
        let lines = [
            r#"{"req_index": 0, "t": 1.0, "latency_ms": 1, "error": null}"#,
            "Traceback (most recent call last):",
            r#"{"req_index": 1, "t": 1.1, "latency_ms": 1, "error": "status 503"}"#,
            r#"{"req_index": 0, "t": 1.0, "latency_ms": 1, "error": null}"#,
            r#"{"req_index": 2, "t": 1.2, "latency_"#,
        ];
        for l in lines {
            assert!(matches!(feed.line(l), Flow::More), "{l}");
        }
        assert!(matches!(
            feed.line(r#"{"done": true, "requests": 2, "num_fail": 1}"#),
            Flow::End
        ));
        let got: Vec<(u64, bool)> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|s| (s.index, s.outcome.is_ok()))
            .collect();
        assert_eq!(got, vec![(0, true), (1, false)]);
        assert_eq!(feed.other.len(), 2);
        assert_eq!(feed.next_index, 2);
    }

    #[test]
    fn the_pods_clock_maps_onto_ours() {
        let first = parse_line(r#"{"req_index": 0, "t": 100.0, "latency_ms": 10}"#).unwrap();
        let arrived = Instant::now();
        let a = Anchor::at_first(&first, arrived);
        let s0 = a.sample(&first);
        assert_eq!(s0.finished, arrived);
        assert_eq!(s0.latency(), Duration::from_millis(10));
        let later = parse_line(r#"{"req_index": 1, "t": 100.5, "latency_ms": 20}"#).unwrap();
        let s1 = a.sample(&later);
        assert_eq!(
            s1.intended.duration_since(s0.intended),
            Duration::from_millis(500)
        );
        assert_eq!(s1.latency(), Duration::from_millis(20));
        // A line with absurd numbers is mapped without a panic (clamped to a day).
        let absurd = parse_line(r#"{"req_index": 2, "t": 1e300, "latency_ms": 1e300}"#).unwrap();
        let s2 = a.sample(&absurd);
        assert_eq!(s2.latency(), Duration::from_secs(86_400));
        let b = Anchor::at_first(&absurd, arrived);
        let _ = b.sample(&first);
    }
}
