//! One round: load, warm-up, the kill, following the recovery, then what survived.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use super::follow::{self, Followed, Watch, secs};
use super::report::{Event, Phases, Round};
use super::target::StrikeAt;
use super::{Drill, now_unix, verdict};
use crate::error::{Error, Result};
use crate::load::live::Live;
use crate::load::series::Series;
use crate::load::stats::Recorder;
use crate::load::{self, Requesters, Sample, Shape, StopHandle};
use crate::status;

/// Phase boundaries, set by the drill, read by the sample consumer.
#[derive(Default)]
pub struct Boundaries {
    pub kill: Option<Instant>,
    pub recovered: Option<Instant>,
}

/// The requests of the whole round and of each phase.
struct Recorders {
    all: Recorder,
    before: Recorder,
    during: Recorder,
    after: Recorder,
    series: Series,
    during_used: bool,
    after_used: bool,
}

impl Recorders {
    fn finish(&mut self, end: Instant) {
        for r in [
            &mut self.all,
            &mut self.before,
            &mut self.during,
            &mut self.after,
        ] {
            r.finish(end);
        }
    }
}

/// Sorts each sample into its phase by when it was meant to be sent, and keeps the live line
/// (on a terminal, without `--quiet`) current.
fn consume(
    mut rx: mpsc::UnboundedReceiver<Sample>,
    start: Instant,
    bounds: Arc<Mutex<Boundaries>>,
    live: Live,
    round: u32,
) -> tokio::task::JoinHandle<Recorders> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        let mut r = Recorders {
            all: Recorder::new(start),
            before: Recorder::new(start),
            during: Recorder::new(start),
            after: Recorder::new(start),
            series: Series::new(start),
            during_used: false,
            after_used: false,
        };
        loop {
            let s = tokio::select! {
                s = rx.recv() => match s {
                    Some(s) => s,
                    None => break,
                },
                _ = tick.tick() => {
                    live.set(live_line(round, &r.all, &bounds.lock().expect("boundaries lock")));
                    continue;
                }
            };
            r.all.record(&s);
            r.series.record(&s);
            let b = bounds.lock().expect("boundaries lock");
            match (b.kill, b.recovered) {
                (Some(k), _) if s.intended < k => r.before.record(&s),
                (None, _) => r.before.record(&s),
                (Some(_), Some(rec)) if s.intended >= rec => {
                    r.after_used = true;
                    r.after.record(&s)
                }
                _ => {
                    r.during_used = true;
                    r.during.record(&s)
                }
            }
        }
        live.clear();
        r
    })
}

/// `round 1  requests 812  failures 0  during  +12.3 s since the kill`
fn live_line(round: u32, all: &Recorder, b: &Boundaries) -> String {
    let (phase, since) = match (b.kill, b.recovered) {
        (None, _) => ("before the kill".to_string(), String::new()),
        (Some(k), None) => (
            "during".into(),
            format!("  +{:.1} s since the kill", secs(k, Instant::now())),
        ),
        (Some(k), Some(_)) => (
            "after recovery".into(),
            format!("  +{:.1} s since the kill", secs(k, Instant::now())),
        ),
    };
    format!(
        "round {round}  requests {}  failures {}  {phase}{since}",
        all.requests(),
        all.failures()
    )
}

/// The load of the drill's route: the API server's service proxy, or `--url`.
fn requesters(d: &Drill) -> Result<Requesters> {
    let n = d.args.concurrency;
    match &d.settings.url {
        None => Requesters::proxy(
            &d.cluster.client,
            &d.cluster.namespace,
            &d.args.name,
            &d.settings.request,
            n,
        ),
        Some(url) => Ok(Requesters::url(
            url,
            load::resolve(url)?,
            &d.settings.request,
            d.args.keep_alive,
            n,
        )),
    }
}

pub async fn run(d: &Drill<'_>, round: u32) -> Result<Round> {
    let before = status::gather(d.cluster, &d.args.name).await?;
    if before.serving_cluster().is_none() {
        return Err(Error::failed("no RayCluster"));
    }
    let victim = d.target.pick(d.cluster, &before).await?;

    // Load first, then the warm-up, then the kill.
    let (tx, rx) = mpsc::unbounded_channel();
    let start = Instant::now();
    let bounds: Arc<Mutex<Boundaries>> = Arc::default();
    let consumer = consume(rx, start, bounds.clone(), Live::new(d.args.quiet), round);
    let load_stop = StopHandle::default();
    let shape = Shape {
        concurrency: d.args.concurrency,
        rate: None,
        count: None,
        duration: None,
    };
    let load = requesters(d)?.spawn(shape, tx, load_stop.clone());
    sleep_or_stop(d.settings.warmup, d.stop).await;

    let kill_at = Instant::now();
    let killed_at_unix = now_unix();
    bounds.lock().expect("boundaries lock").kill = Some(kill_at);
    let (followed, drained_node) = if d.stop.stopped() {
        let nothing = Followed {
            recovered_at: None,
            replacement: None,
            timeline: Vec::new(),
            app_failed: None,
        };
        (nothing, None)
    } else {
        let strike = d
            .target
            .strike(StrikeAt {
                cluster: d.cluster,
                facts: &before,
                victim: &victim,
                grace_period: d.args.grace_period,
            })
            .await?;
        let (first, drained_node) = (strike.first.clone(), strike.drained_node.clone());
        let watch = Watch {
            victim: &victim,
            expected_endpoints: before.serve_endpoints.iter().filter(|e| e.ready).count(),
            before: &before,
            kill_at,
            bounds: &bounds,
        };
        let followed = follow::follow(d, watch).await;
        // Whatever the follow ended with (recovered, timed out, Ctrl-C, an error), what the
        // strike left behind is undone now (a drained node is uncordoned).
        let said = strike.end().await;
        let mut f = followed?;
        f.timeline.insert(
            0,
            Event {
                t_s: 0.0,
                event: first,
            },
        );
        f.timeline.extend(
            said.into_iter()
                .map(|(at, event)| timed(kill_at, at, event)),
        );
        (f, drained_node)
    };
    let Followed {
        recovered_at,
        replacement,
        mut timeline,
        app_failed,
    } = followed;
    if let Some(t) = recovered_at {
        timeline.push(Event {
            t_s: secs(kill_at, t),
            event: "fully recovered".into(),
        });
    }
    // The watches kept following through the settle time, and a strike reports its own
    // entries (a drain's evictions): keep the timeline in order.
    timeline.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    load_stop.stop();
    let _ = load.await;
    let mut recorders = consumer
        .await
        .map_err(|e| Error::failed(format!("internal: {e}")))?;
    recorders.finish(Instant::now());

    // After Ctrl-C the report is due within moments: Serve's state gets half a second, not ten.
    let patience = if d.stop.stopped() {
        Duration::from_millis(500)
    } else {
        status::DASHBOARD_PATIENCE
    };
    let after = status::gather_within(d.cluster, &d.args.name, patience).await?;
    let survival = verdict::survival(&before, &after, d.target, &victim.name);
    let recovery_s = recovered_at.map(|t| secs(kill_at, t));
    let mut reasons = verdict::recovery(d, recovery_s);
    reasons.extend(app_failed);
    reasons.extend(verdict::collateral(d.target, &before, &after, &survival));
    Ok(Round {
        round,
        killed_pod: victim.name,
        drained_node,
        killed_uid: victim.uid,
        replacement_pod: replacement,
        killed_at_unix,
        timeline,
        recovery_s,
        requests: recorders.all.summary(),
        phases: Phases {
            before: Some(recorders.before.summary()),
            during: recorders.during_used.then(|| recorders.during.summary()),
            after: recorders.after_used.then(|| recorders.after.summary()),
        },
        series: Some(recorders.series.data(kill_at)),
        survival,
        passed: reasons.is_empty(),
        reasons,
        diagnosis: None,
    })
}

/// A strike's entry on the round's timeline (seconds since the kill).
fn timed(kill_at: Instant, at: Instant, event: String) -> Event {
    Event {
        t_s: secs(kill_at, at),
        event,
    }
}

async fn sleep_or_stop(d: Duration, stop: &StopHandle) {
    let deadline = Instant::now() + d;
    while Instant::now() < deadline && !stop.stopped() {
        tokio::time::sleep(
            Duration::from_millis(100).min(deadline.saturating_duration_since(Instant::now())),
        )
        .await;
    }
}
