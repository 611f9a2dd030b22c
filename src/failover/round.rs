//! One round: load on every route, warm-up, the kill, following the recovery, then what
//! survived. The pod route's tester pod lives for the round: created before its load starts,
//! kept off the victim's node, deleted when the round ends, however it ends.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::StreamExt;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

use super::follow::{self, Followed, Watch, secs};
use super::report::{Event, Phases, Round, RouteResult, Served, Serving};
use super::target::{StrikeAt, Victim};
use super::{Drill, Route, now_unix, verdict};
use crate::error::{Error, Result};
use crate::load::live::Live;
use crate::load::series::Series;
use crate::load::stats::{Recorder, Summary};
use crate::load::{self, Requesters, Sample, Shape, StopHandle};
use crate::query::pod::TesterPod;
use crate::status::{self, Facts};

/// How long a running tester pod may take to report its first request (its log served, Python
/// started, one request answered or timed out).
const FIRST_RESULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Phase boundaries, set by the drill, read by the sample consumer.
#[derive(Default)]
pub struct Boundaries {
    pub kill: Option<Instant>,
    pub recovered: Option<Instant>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Before,
    During,
    After,
}

/// A sample's phase, by when it was meant to be sent.
fn phase_of(intended: Instant, b: &Boundaries) -> Phase {
    match (b.kill, b.recovered) {
        (None, _) => Phase::Before,
        (Some(k), _) if intended < k => Phase::Before,
        (Some(_), Some(rec)) if intended >= rec => Phase::After,
        _ => Phase::During,
    }
}

/// The requests of the whole round (or of one route) and of each phase.
struct PhaseRecorders {
    all: Recorder,
    before: Recorder,
    during: Recorder,
    after: Recorder,
    during_used: bool,
    after_used: bool,
}

impl PhaseRecorders {
    fn new(start: Instant) -> PhaseRecorders {
        PhaseRecorders {
            all: Recorder::new(start),
            before: Recorder::new(start),
            during: Recorder::new(start),
            after: Recorder::new(start),
            during_used: false,
            after_used: false,
        }
    }

    fn record(&mut self, s: &Sample, phase: Phase) {
        self.all.record(s);
        match phase {
            Phase::Before => self.before.record(s),
            Phase::During => {
                self.during_used = true;
                self.during.record(s)
            }
            Phase::After => {
                self.after_used = true;
                self.after.record(s)
            }
        }
    }

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

    fn summaries(&self) -> (Summary, Phases) {
        (
            self.all.summary(),
            Phases {
                before: Some(self.before.summary()),
                during: self.during_used.then(|| self.during.summary()),
                after: self.after_used.then(|| self.after.summary()),
            },
        )
    }
}

/// All routes together (what the verdict counts, the time series) and each route alone.
struct Recorders {
    combined: PhaseRecorders,
    series: Series,
    routes: Vec<PhaseRecorders>,
}

impl Recorders {
    /// One recorder set per route, from when its load started; together from the first start.
    fn new(starts: &[Instant]) -> Recorders {
        let start = starts.iter().copied().min().unwrap_or_else(Instant::now);
        Recorders {
            combined: PhaseRecorders::new(start),
            series: Series::new(start),
            routes: starts.iter().map(|&s| PhaseRecorders::new(s)).collect(),
        }
    }

    fn record(&mut self, route: usize, s: &Sample, b: &Boundaries) {
        let phase = phase_of(s.intended, b);
        self.combined.record(s, phase);
        self.series.record(s);
        if let Some(r) = self.routes.get_mut(route) {
            r.record(s, phase);
        }
    }

    fn finish(&mut self, end: Instant) {
        self.combined.finish(end);
        for r in &mut self.routes {
            r.finish(end);
        }
    }
}

/// One route's samples.
struct Feed {
    rx: mpsc::UnboundedReceiver<Sample>,
    /// When its load started: its stretch without a success counts from there.
    start: Instant,
    /// A sample taken before the consumer ran (the tester's first, which the round waits for).
    first: Option<Sample>,
}

/// Sorts each sample of each route into its phase by when it was meant to be sent, and keeps
/// the live line (on a terminal, without `--quiet`) current. Ends when every route's sender is
/// gone.
fn consume(
    feeds: Vec<Feed>,
    names: Vec<&'static str>,
    bounds: Arc<Mutex<Boundaries>>,
    live: Live,
    round: u32,
) -> JoinHandle<Recorders> {
    tokio::spawn(async move {
        let starts: Vec<Instant> = feeds.iter().map(|f| f.start).collect();
        let mut r = Recorders::new(&starts);
        let mut streams = Vec::new();
        for (i, f) in feeds.into_iter().enumerate() {
            if let Some(s) = &f.first {
                r.record(i, s, &bounds.lock().expect("boundaries lock"));
            }
            let samples =
                futures::stream::unfold(
                    f.rx,
                    |mut rx| async move { rx.recv().await.map(|s| (s, rx)) },
                );
            streams.push(samples.map(move |s| (i, s)).boxed());
        }
        let mut samples = futures::stream::select_all(streams);
        let mut tick = tokio::time::interval(Duration::from_millis(250));
        loop {
            tokio::select! {
                s = samples.next() => match s {
                    Some((i, s)) => r.record(i, &s, &bounds.lock().expect("boundaries lock")),
                    None => break,
                },
                _ = tick.tick() => {
                    live.set(live_line(round, &r, &names, &bounds.lock().expect("boundaries lock")));
                }
            }
        }
        live.clear();
        r
    })
}

/// `round 1  requests 812  failures 0  during  +12.3 s since the kill`, with each route's
/// failures when there is more than one (`[proxy 0 of 700, pod 0 of 112]`).
fn live_line(round: u32, r: &Recorders, names: &[&str], b: &Boundaries) -> String {
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
    let routes = if r.routes.len() > 1 {
        let each: Vec<String> = names
            .iter()
            .zip(&r.routes)
            .map(|(n, x)| format!("{n} {} of {}", x.all.failures(), x.all.requests()))
            .collect();
        format!(" [{}]", each.join(", "))
    } else {
        String::new()
    };
    format!(
        "round {round}  requests {}  failures {}{routes}  {phase}{since}",
        r.combined.all.requests(),
        r.combined.all.failures()
    )
}

/// The load of a client route: the API server's service proxy, or `--url`.
fn requesters(d: &Drill, route: &Route) -> Result<Option<Requesters>> {
    let n = d.args.concurrency;
    Ok(match route {
        Route::Proxy => Some(Requesters::proxy(
            &d.cluster.client,
            &d.cluster.namespace,
            &d.args.name,
            &d.settings.request,
            n,
        )?),
        Route::Url(url) => Some(Requesters::url(
            url,
            load::resolve(url)?,
            &d.settings.request,
            d.args.keep_alive,
            n,
        )),
        Route::Pod => None,
    })
}

/// Sets the stop handle when dropped: a round that ends early (an error) stops its load.
struct StopOnDrop(StopHandle);

impl Drop for StopOnDrop {
    fn drop(&mut self) {
        self.0.stop();
    }
}

/// Creates the tester pod, waits for it to run and for its first result: the round's load
/// starts then, so the warm-up is a warm-up of both routes. Returns its feed and the task that
/// follows its log; None on Ctrl-C.
async fn start_tester(
    d: &Drill<'_>,
    tester: &TesterPod<'_>,
    victim: &Victim,
    stop: &StopHandle,
) -> Result<Option<(Feed, JoinHandle<Result<()>>)>> {
    tester.create().await?;
    if !d.args.quiet {
        eprintln!(
            "created tester pod/{}{}; waiting for its first request",
            tester.name,
            victim
                .node
                .as_ref()
                .map_or(String::new(), |n| format!(" (kept off node {n})"))
        );
    }
    // Pulling the Ray image may take minutes: the lock stays ours meanwhile.
    if !renewing(d, tester.wait_running(d.stop)).await? {
        return Ok(None);
    }
    let (tx, mut rx) = mpsc::unbounded_channel();
    let follower = tester.follow(tx, stop.clone());
    enum First {
        Got(Option<Sample>),
        TimedOut,
        Stopped,
    }
    let first = renewing(d, async {
        tokio::select! {
            s = rx.recv() => First::Got(s),
            _ = tokio::time::sleep(FIRST_RESULT_TIMEOUT) => First::TimedOut,
            _ = d.stop.wait() => First::Stopped,
        }
    })
    .await;
    let first = match first {
        First::Got(s) => s,
        First::TimedOut => {
            stop.stop();
            return Err(Error::failed(format!(
                "tester pod/{} runs but reported no request within {} s (kubectl logs {} -n {})",
                tester.name,
                FIRST_RESULT_TIMEOUT.as_secs(),
                tester.name,
                d.cluster.namespace
            )));
        }
        First::Stopped => {
            stop.stop();
            let _ = follower.await;
            return Ok(None);
        }
    };
    let Some(first) = first else {
        // The log ended: the follower says why.
        return Err(
            follower_error(&tester.name, follower.await).unwrap_or_else(|| {
                Error::failed(format!(
                    "the log of tester pod/{} ended before its first request",
                    tester.name
                ))
            }),
        );
    };
    let feed = Feed {
        rx,
        start: first.intended,
        first: Some(first),
    };
    Ok(Some((feed, follower)))
}

/// Runs `work` while renewing the drill's lock every 20 s (its lease lasts 60 s).
async fn renewing<T>(d: &Drill<'_>, work: impl std::future::Future<Output = T>) -> T {
    tokio::pin!(work);
    let mut renew = tokio::time::interval(Duration::from_secs(20));
    renew.tick().await; // the first tick is at once
    loop {
        tokio::select! {
            r = &mut work => return r,
            _ = renew.tick() => d.lock.renew().await,
        }
    }
}

/// What went wrong with the tester's log follower, if anything.
fn follower_error(
    pod: &str,
    joined: std::result::Result<Result<()>, tokio::task::JoinError>,
) -> Option<Error> {
    match joined {
        Ok(Ok(())) => None,
        Ok(Err(e)) => Some(e),
        Err(e) => Some(Error::failed(format!(
            "internal: the log reader of pod/{pod} stopped: {e}"
        ))),
    }
}

/// The round: the victim picked, then everything under load, then the tester pod (if any)
/// deleted whatever happened in between.
pub async fn run(d: &Drill<'_>, round: u32) -> Result<Round> {
    let before = status::gather(d.cluster, &d.args.name).await?;
    if before.serving_cluster().is_none() {
        return Err(Error::failed("no RayCluster"));
    }
    let victim = d.target.pick(d.cluster, &before).await?;
    let tester = if d.settings.has_pod_route() {
        let until_deleted = Shape {
            concurrency: 1,
            rate: None,
            count: None,
            duration: None,
        };
        Some(
            TesterPod::prepare(
                d.cluster,
                &d.args.name,
                "failover",
                &d.settings.request,
                &until_deleted,
                victim.node.as_deref(),
            )
            .await?,
        )
    } else {
        None
    };
    let result = under_load(d, round, &before, victim, tester.as_ref()).await;
    let Some(tester) = tester else {
        return result;
    };
    match (result, tester.cleanup().await) {
        (result, Ok(())) => {
            if !d.args.quiet {
                eprintln!("deleted tester pod/{0} and configmap/{0}", tester.name);
            }
            result
        }
        // The round's numbers stand; a tester left running is a failure of the drill.
        (Ok(mut r), Err(e)) => {
            r.passed = false;
            r.reasons.push(e.to_string());
            Ok(r)
        }
        (Err(e), Err(cleanup)) => {
            eprintln!("error: {cleanup}");
            Err(e)
        }
    }
}

async fn under_load(
    d: &Drill<'_>,
    round: u32,
    before: &Facts,
    victim: Victim,
    tester: Option<&TesterPod<'_>>,
) -> Result<Round> {
    // Every client route's requesters first (nothing runs yet), then the tester, then the
    // load on every route at once, then the warm-up, then the kill.
    let clients = d
        .settings
        .routes
        .iter()
        .map(|r| requesters(d, r))
        .collect::<Result<Vec<_>>>()?;
    let load_stop = StopHandle::default();
    let _stop_load = StopOnDrop(load_stop.clone());
    let mut tester_feed = match tester {
        Some(t) => Some(start_tester(d, t, &victim, &load_stop).await?),
        None => None,
    };
    let shape = Shape {
        concurrency: d.args.concurrency,
        rate: None,
        count: None,
        duration: None,
    };
    let mut feeds = Vec::new();
    let mut loads = Vec::new();
    let mut follower = None;
    for client in clients {
        match client {
            Some(requesters) => {
                let (tx, rx) = mpsc::unbounded_channel();
                feeds.push(Feed {
                    rx,
                    start: Instant::now(),
                    first: None,
                });
                loads.push(requesters.spawn(shape.clone(), tx, load_stop.clone()));
            }
            // The pod route; interrupted while it started, it has no samples.
            None => match tester_feed.take().flatten() {
                Some((feed, f)) => {
                    feeds.push(feed);
                    follower = Some(f);
                }
                None => feeds.push(Feed {
                    rx: mpsc::unbounded_channel().1,
                    start: Instant::now(),
                    first: None,
                }),
            },
        }
    }
    let bounds: Arc<Mutex<Boundaries>> = Arc::default();
    let names = d.settings.routes.iter().map(Route::id).collect();
    let consumer = consume(feeds, names, bounds.clone(), Live::new(d.args.quiet), round);
    renewing(d, sleep_or_stop(d.settings.warmup, d.stop)).await;

    let kill_at = Instant::now();
    let killed_at_unix = now_unix();
    bounds.lock().expect("boundaries lock").kill = Some(kill_at);
    // Ctrl-C during the warm-up: the strike is not made at all.
    let struck = !d.stop.stopped();
    let (followed, drained_node) = if !struck {
        let nothing = Followed {
            recovered_at: None,
            replacement: None,
            timeline: Vec::new(),
            app_failed: None,
            head_away_s: None,
        };
        (nothing, None)
    } else {
        let strike = d
            .target
            .strike(StrikeAt {
                cluster: d.cluster,
                facts: before,
                victim: &victim,
                grace_period: d.args.grace_period,
            })
            .await?;
        let (first, drained_node) = (strike.first.clone(), strike.drained_node.clone());
        let watch = Watch {
            victim: &victim,
            expected_endpoints: before.serve_endpoints.iter().filter(|e| e.ready).count(),
            before,
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
        head_away_s,
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
    for load in loads {
        let _ = load.await;
    }
    // A tester that stopped before the round ended leaves its route's numbers short.
    let tester_stopped = match (follower, tester) {
        (Some(f), Some(t)) => follower_error(&t.name, f.await)
            .map(|e| format!("the pod route's tester stopped before the round ended: {e}")),
        _ => None,
    };
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
    let survival = verdict::survival(before, &after, d.target, &victim.name);
    // A change interrupted half-way goes on under KubeRay (it is not undone): say where.
    let left_to_kuberay = (struck
        && d.stop.stopped()
        && recovered_at.is_none()
        && d.target.change(&victim).is_some())
    .then(|| rollout_state(&after));
    let recovery_s = recovered_at.map(|t| secs(kill_at, t));
    let gcs = verdict::gcs_outage(d.target, &victim, before, &after, &survival, head_away_s);
    let mut reasons = verdict::recovery(d, recovery_s);
    reasons.extend(app_failed);
    reasons.extend(verdict::collateral(d.target, before, &after, &survival));
    reasons.extend(tester_stopped);
    let (requests, phases) = recorders.combined.summaries();
    Ok(Round {
        round,
        change: d.target.change(&victim),
        killed_pod: victim.name,
        drained_node,
        killed_uid: victim.uid,
        replacement_pod: replacement,
        killed_at_unix,
        timeline,
        recovery_s,
        requests,
        phases,
        routes: route_results(d, &recorders, tester),
        series: Some(recorders.series.data(kill_at)),
        survival,
        passed: reasons.is_empty(),
        reasons,
        diagnosis: None,
        served: Some(Served {
            before: Serving::of(before),
            after: Serving::of(&after),
        }),
        left_to_kuberay,
        gcs,
    })
}

/// Where a rollout stands, as the RayService's status and Serve show it.
fn rollout_state(f: &Facts) -> String {
    let serving = f.active_cluster.as_deref().unwrap_or("no RayCluster");
    let apps: Vec<String> = f
        .applications
        .iter()
        .map(|(a, s)| format!("{a} {s}"))
        .collect();
    let apps = if apps.is_empty() {
        "Serve apps not shown".to_string()
    } else {
        format!("Serve apps {}", apps.join(", "))
    };
    match (&f.pending_cluster, f.pending_pods) {
        (Some(p), Some((ready, all))) => format!(
            "pending RayCluster {p} starting ({ready} of {all} pods Ready), the serve Service still on {serving}; {apps}"
        ),
        (Some(p), None) => {
            format!("pending RayCluster {p} starting, the serve Service still on {serving}; {apps}")
        }
        (None, _) => format!("the serve Service on {serving}; {apps}"),
    }
}

/// Each route's numbers, when the round ran more than one.
fn route_results(d: &Drill, r: &Recorders, tester: Option<&TesterPod>) -> Vec<RouteResult> {
    if d.settings.routes.len() < 2 {
        return Vec::new();
    }
    d.settings
        .routes
        .iter()
        .zip(&r.routes)
        .map(|(route, rec)| {
            let (requests, phases) = rec.summaries();
            RouteResult {
                route: route.id().into(),
                connection: route.connection(d.args.keep_alive).into(),
                pod: matches!(route, Route::Pod)
                    .then(|| tester.map(|t| t.name.clone()))
                    .flatten(),
                requests,
                phases,
            }
        })
        .collect()
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::load::Cause;

    fn at(start: Instant, ms: u64, ok: bool) -> Sample {
        let intended = start + Duration::from_millis(ms);
        Sample {
            index: 0,
            intended,
            finished: intended + Duration::from_millis(5),
            outcome: if ok { Ok(()) } else { Err(Cause::Timeout) },
        }
    }

    #[test]
    fn an_interrupted_rollout_says_where_kuberay_goes_on_from() {
        let mut f = Facts {
            active_cluster: Some("shop-aaaaa".into()),
            pending_cluster: Some("shop-bbbbb".into()),
            pending_pods: Some((1, 3)),
            applications: [("fruit_app".to_string(), "RUNNING".to_string())].into(),
            ..Facts::default()
        };
        assert_eq!(
            rollout_state(&f),
            "pending RayCluster shop-bbbbb starting (1 of 3 pods Ready), the serve Service still on shop-aaaaa; Serve apps fruit_app RUNNING"
        );
        f.pending_cluster = None;
        f.pending_pods = None;
        f.applications.clear();
        assert_eq!(
            rollout_state(&f),
            "the serve Service on shop-aaaaa; Serve apps not shown"
        );
    }

    #[test]
    fn samples_go_to_their_phase_by_when_they_were_sent() {
        let t0 = Instant::now();
        let ms = |m| t0 + Duration::from_millis(m);
        let mut b = Boundaries::default();
        assert_eq!(phase_of(ms(500), &b), Phase::Before);
        b.kill = Some(ms(100));
        assert_eq!(phase_of(ms(99), &b), Phase::Before);
        assert_eq!(phase_of(ms(100), &b), Phase::During);
        assert_eq!(phase_of(ms(5000), &b), Phase::During);
        b.recovered = Some(ms(200));
        assert_eq!(phase_of(ms(199), &b), Phase::During);
        assert_eq!(phase_of(ms(200), &b), Phase::After);
        // A late sample (a tester's log) sent before the kill is still "before".
        assert_eq!(phase_of(ms(50), &b), Phase::Before);
    }

    #[test]
    fn each_route_keeps_its_own_phases_and_the_round_counts_them_all() {
        let t0 = Instant::now();
        let b = Boundaries {
            kill: Some(t0 + Duration::from_millis(100)),
            recovered: Some(t0 + Duration::from_millis(300)),
        };
        // Route 0 (proxy) from t0, route 1 (pod) from 20 ms.
        let mut r = Recorders::new(&[t0, t0 + Duration::from_millis(20)]);
        for ms in [0, 50, 150, 250, 350] {
            r.record(0, &at(t0, ms, true), &b);
        }
        for (ms, ok) in [(20, true), (120, false), (160, false), (320, true)] {
            r.record(1, &at(t0, ms, ok), &b);
        }
        r.finish(t0 + Duration::from_millis(400));
        let (all, phases) = r.combined.summaries();
        assert_eq!((all.requests, all.failures), (9, 2));
        let during = phases.during.unwrap();
        assert_eq!((during.requests, during.failures), (4, 2));
        assert_eq!(phases.after.unwrap().requests, 2);

        let (proxy, proxy_phases) = r.routes[0].summaries();
        assert_eq!((proxy.requests, proxy.failures), (5, 0));
        assert_eq!(proxy_phases.before.unwrap().requests, 2);
        assert_eq!(proxy_phases.during.unwrap().requests, 2);
        let (pod, pod_phases) = r.routes[1].summaries();
        assert_eq!((pod.requests, pod.failures), (4, 2));
        assert_eq!(pod_phases.before.unwrap().requests, 1);
        assert_eq!(pod_phases.during.as_ref().unwrap().failures, 2);
        assert_eq!(pod_phases.after.unwrap().requests, 1);
        // The pod route went without a success from 25 ms to 325 ms; the proxy route never
        // long, and so neither did the round as a whole.
        assert!(
            (pod.longest_without_success_s - 0.300).abs() < 1e-6,
            "{pod:?}"
        );
        assert!(proxy.longest_without_success_s < 0.101, "{proxy:?}");
        assert!(all.longest_without_success_s < 0.101, "{all:?}");
        // A route without samples in a phase has no summary for it.
        let mut quiet = Recorders::new(&[t0]);
        quiet.record(0, &at(t0, 10, true), &b);
        quiet.finish(t0 + Duration::from_millis(50));
        let (_, p) = quiet.routes[0].summaries();
        assert!(p.before.is_some() && p.during.is_none() && p.after.is_none());
    }
}
