//! Following a round after the kill through watches (pods, the serve Service's EndpointSlices,
//! the RayService): the timeline, and the moment of full recovery.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::Api;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;

use super::Drill;
use super::report::Event;
use super::round::Boundaries;
use super::target::Victim;
use crate::error::Result;
use crate::rayservice::{self, RayService, Role, pod_ready};
use crate::status::Facts;

/// What one round follows.
pub struct Watch<'a> {
    pub victim: &'a Victim,
    /// The ready serve endpoints before the kill, to be back for recovery.
    pub expected_endpoints: usize,
    pub before: &'a Facts,
    pub kill_at: Instant,
    pub bounds: &'a Arc<Mutex<Boundaries>>,
}

/// How the round ended: when it fully recovered (None: not in time, or interrupted) and the
/// victim's replacement.
pub struct Followed {
    pub recovered_at: Option<Instant>,
    pub replacement: Option<String>,
    pub timeline: Vec<Event>,
    /// A Serve application that failed to deploy (the round ends at once; nothing will come back).
    pub app_failed: Option<String>,
}

/// Follows until full recovery plus `settle` (under load: what breaks late, such as a GCS that
/// exits when the old Redis pod is finally gone, shows too), the recovery timeout, or a stop.
pub async fn follow(d: &Drill<'_>, w: Watch<'_>) -> Result<Followed> {
    let cluster = d.cluster;
    let ns = &cluster.namespace;
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), ns);
    let slices: Api<EndpointSlice> = Api::namespaced(cluster.client.clone(), ns);
    let mut pod_events = futures::stream::select_all(w.victim.follow.iter().map(|sel| {
        watcher(pods.clone(), watcher::Config::default().labels(sel))
            .default_backoff()
            .boxed()
    }));
    // The victim on its own: a pod gone before the watches' first listing sends no Delete.
    let by_victim = format!("metadata.name={}", w.victim.name);
    let mut victim_events = watcher(pods.clone(), watcher::Config::default().fields(&by_victim))
        .default_backoff()
        .boxed();
    let mut victim_listing = VictimListing::default();
    let serve_svc = format!("kubernetes.io/service-name={}-serve-svc", d.args.name);
    let mut slice_events = watcher(slices, watcher::Config::default().labels(&serve_svc))
        .default_backoff()
        .boxed();
    let by_name = format!("metadata.name={}", d.args.name);
    let mut rs_events = watcher(
        rayservice::api(cluster),
        watcher::Config::default().fields(&by_name),
    )
    .default_backoff()
    .boxed();
    let mut obs = Observer::new(w.victim, d.target.role(), w.before);
    let mut slices_state = SliceState::default();
    let mut recovered_at: Option<Instant> = None;
    let deadline = tokio::time::sleep(d.settings.recovery_timeout);
    tokio::pin!(deadline);
    let mut renew = tokio::time::interval(Duration::from_secs(20));
    loop {
        let t = secs(w.kill_at, Instant::now());
        tokio::select! {
            ev = pod_events.try_next() => {
                // A broken stream is re-listed by the watcher: keep following.
                let Ok(ev) = ev else { continue };
                for (pod, deleted) in flatten_pod_event(ev) {
                    obs.pod(&pod, deleted, t);
                }
            }
            ev = victim_events.try_next() => {
                let Ok(Some(ev)) = ev else { continue };
                if victim_listing.apply(ev, &w.victim.uid) == Some(false) {
                    obs.victim_gone(t);
                }
            }
            ev = slice_events.try_next() => {
                let Ok(Some(ev)) = ev else { continue };
                if let Some(n) = slices_state.apply(ev) {
                    obs.endpoints(n, w.expected_endpoints, t);
                }
            }
            ev = rs_events.try_next() => {
                if let Ok(Some(watcher::Event::Apply(o) | watcher::Event::InitApply(o))) = ev {
                    let v = serde_json::to_value(&o).unwrap_or(Value::Null);
                    obs.rayservice(&v, t);
                }
            }
            _ = renew.tick() => d.lock.renew().await,
            _ = &mut deadline, if recovered_at.is_none() => return Ok(obs.end(None)),
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                if d.stop.stopped() { return Ok(obs.end(recovered_at)); }
            }
        }
        let endpoints_back = !d.target.needs_serve_endpoints()
            || obs
                .seen
                .endpoints_ready
                .is_some_and(|n| n >= w.expected_endpoints);
        // An application that failed to deploy does not come back by waiting.
        if recovered_at.is_none() && obs.seen.app_failed.is_some() {
            return Ok(obs.end(None));
        }
        if recovered_at.is_none() && obs.recovered() && endpoints_back {
            let now = Instant::now();
            recovered_at = Some(now);
            w.bounds.lock().expect("boundaries lock").recovered = Some(now);
        }
        if recovered_at.is_some_and(|r| r.elapsed() >= d.settings.settle) {
            return Ok(obs.end(recovered_at));
        }
    }
}

pub fn secs(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64()
}

fn flatten_pod_event(ev: Option<watcher::Event<Pod>>) -> Vec<(Pod, bool)> {
    match ev {
        Some(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => vec![(p, false)],
        Some(watcher::Event::Delete(p)) => vec![(p, true)],
        _ => vec![],
    }
}

/// Whether the victim exists, from the watch of its name: a (re-)listing is only judged at its end,
/// and a pod of the same name with another UID is a successor, not the victim.
#[derive(Default)]
struct VictimListing {
    listing: Option<bool>,
}

impl VictimListing {
    /// Some(present) when the event tells whether the victim is still there.
    fn apply(&mut self, ev: watcher::Event<Pod>, uid: &str) -> Option<bool> {
        let is_victim = |p: &Pod| p.metadata.uid.as_deref() == Some(uid);
        match ev {
            watcher::Event::Init => {
                self.listing = Some(false);
                None
            }
            watcher::Event::InitApply(p) => {
                if is_victim(&p) {
                    self.listing = Some(true);
                }
                None
            }
            watcher::Event::InitDone => self.listing.take(),
            watcher::Event::Apply(p) => Some(is_victim(&p)),
            watcher::Event::Delete(_) => Some(false),
        }
    }
}

/// The ready endpoints of the serve Service's EndpointSlices, as the watch reports them.
#[derive(Default)]
struct SliceState {
    state: BTreeMap<String, usize>,
    listing: Option<BTreeMap<String, usize>>,
}

impl SliceState {
    /// Applies one watch event; returns the ready endpoints over all slices when that is a
    /// state the cluster was in. A (re-)list is collected from `Init` to `InitDone` and only then
    /// replaces the state, so the empty list at the start of a watch is not reported as "0 ready".
    fn apply(&mut self, ev: watcher::Event<EndpointSlice>) -> Option<usize> {
        let name = |s: &EndpointSlice| s.metadata.name.clone().unwrap_or_default();
        match ev {
            watcher::Event::Init => {
                self.listing = Some(BTreeMap::new());
                return None;
            }
            watcher::Event::InitApply(s) => {
                self.listing
                    .get_or_insert_with(BTreeMap::new)
                    .insert(name(&s), ready_endpoints(&s));
                return None;
            }
            watcher::Event::InitDone => self.state = self.listing.take().unwrap_or_default(),
            watcher::Event::Apply(s) => {
                self.state.insert(name(&s), ready_endpoints(&s));
            }
            watcher::Event::Delete(s) => {
                self.state.remove(&name(&s));
            }
        }
        Some(self.state.values().sum())
    }
}

fn ready_endpoints(s: &EndpointSlice) -> usize {
    s.endpoints
        .iter()
        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(false))
        .map(|e| e.addresses.len())
        .sum()
}

/// What the watches have seen since the kill.
#[derive(Default)]
struct Seen {
    old_terminating: bool,
    old_gone: bool,
    new_pod: Option<(String, String)>,
    new_running: bool,
    new_ready: bool,
    endpoints_ready: Option<usize>,
    rs_ready: Option<bool>,
    apps_running: Option<bool>,
    app_failed: Option<String>,
    /// Ray pods present before the kill (name → restarts) other than the victim: a restart is
    /// collateral, and none of them is a replacement.
    restarts: BTreeMap<String, i32>,
}

/// Turns watch events into the timeline.
struct Observer<'a> {
    victim: &'a Victim,
    role: Role,
    seen: Seen,
    timeline: Vec<Event>,
}

impl<'a> Observer<'a> {
    fn new(victim: &'a Victim, role: Role, before: &Facts) -> Observer<'a> {
        let restarts = before
            .pods
            .iter()
            .filter(|p| p.name != victim.name)
            .map(|p| (p.name.clone(), p.restarts))
            .collect();
        Observer {
            victim,
            role,
            seen: Seen {
                restarts,
                ..Seen::default()
            },
            timeline: Vec::new(),
        }
    }

    fn note(&mut self, t_s: f64, event: String) {
        self.timeline.push(Event { t_s, event });
    }

    /// Replaced (the new pod Ready and, also for Redis whose old pod keeps serving the GCS'
    /// open connection, the old one gone), and nothing reported as down.
    fn recovered(&self) -> bool {
        let s = &self.seen;
        s.new_ready && s.old_gone && s.rs_ready != Some(false) && s.apps_running != Some(false)
    }

    fn end(mut self, recovered_at: Option<Instant>) -> Followed {
        self.timeline.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
        Followed {
            recovered_at,
            replacement: self.seen.new_pod.map(|p| p.0),
            timeline: self.timeline,
            app_failed: self.seen.app_failed,
        }
    }

    fn pod(&mut self, pod: &Pod, deleted: bool, t: f64) {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        let role = pod_role(pod);
        if uid == self.victim.uid {
            self.victim_changed(pod, deleted, t);
        } else if deleted || pod.metadata.deletion_timestamp.is_some() {
            if role.is_some_and(|r| r != Role::Redis && r != self.role) {
                self.note(
                    t,
                    format!("{} pod {name} deleted", role.unwrap_or(self.role)),
                );
            }
        } else if role == Some(self.role) && !self.seen.restarts.contains_key(&name) {
            self.replacement_changed(pod, name, uid, t);
        } else if role.is_some_and(|r| r != Role::Redis) {
            self.restart_counted(pod, name, role.unwrap_or(self.role), t);
        }
    }

    /// The victim is no longer in the API (deleted, or gone before a listing showed it).
    fn victim_gone(&mut self, t: f64) {
        if !self.seen.old_gone {
            self.seen.old_gone = true;
            let victim = &self.victim.name;
            self.note(t, format!("old pod {victim} gone"));
        }
    }

    fn victim_changed(&mut self, pod: &Pod, deleted: bool, t: f64) {
        let victim = &self.victim.name;
        if deleted {
            self.victim_gone(t);
        } else if pod.metadata.deletion_timestamp.is_some() && !self.seen.old_terminating {
            self.seen.old_terminating = true;
            self.note(t, format!("old pod {victim} terminating"));
        }
    }

    fn replacement_changed(&mut self, pod: &Pod, name: String, uid: String, t: f64) {
        if self.seen.new_pod.is_none() {
            self.seen.new_pod = Some((name.clone(), uid));
            self.note(t, format!("new pod {name} created"));
        }
        let running = pod.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running");
        if running && !self.seen.new_running {
            self.seen.new_running = true;
            self.note(t, format!("new pod {name} Running"));
        }
        // Ready as it is now: a replacement that falls back (a probe that passed once, a
        // restart) is not recovered.
        let ready = pod_ready(pod);
        if ready != self.seen.new_ready {
            let state = if ready { "Ready" } else { "not Ready again" };
            self.note(t, format!("new pod {name} {state}"));
        }
        self.seen.new_ready = ready;
    }

    fn restart_counted(&mut self, pod: &Pod, name: String, role: Role, t: f64) {
        let restarts: i32 = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .map_or(0, |c| c.iter().map(|c| c.restart_count).sum());
        if let Some(prev) = self.seen.restarts.get(&name).copied()
            && restarts > prev
        {
            self.note(
                t,
                format!("{role} pod {name} restarted a container (restarts {restarts})"),
            );
            self.seen.restarts.insert(name, restarts);
        }
    }

    fn endpoints(&mut self, n: usize, expected: usize, t: f64) {
        if self.seen.endpoints_ready == Some(n) {
            return;
        }
        if self.seen.endpoints_ready.is_some() || n != expected {
            self.note(t, format!("serve endpoints ready: {n}/{expected}"));
        }
        self.seen.endpoints_ready = Some(n);
    }

    fn rayservice(&mut self, v: &Value, t: f64) {
        let rs = RayService::from_value(v);
        let is_ready = rs.is_ready();
        if self.seen.rs_ready.is_some_and(|r| r != is_ready) {
            let reason = rs.ready_reason().unwrap_or("");
            let state = if is_ready { "True" } else { "False" };
            self.note(t, format!("RayService Ready {state} ({reason})"));
        }
        self.seen.rs_ready = Some(is_ready);
        let running = rs.all_apps_running();
        if self.seen.apps_running.is_some_and(|r| r != running) {
            let event = if running {
                "Serve apps RUNNING again"
            } else {
                "Serve apps not RUNNING"
            };
            self.note(t, event.into());
        }
        self.seen.apps_running = Some(running);
        if self.seen.app_failed.is_none()
            && let Some((app, a)) = rs.troubled_apps().into_iter().find(|(_, a)| a.failed())
        {
            let failed = format!(
                "Serve application {app} DEPLOY_FAILED: {}",
                a.message_line()
            );
            self.note(t, failed.clone());
            self.seen.app_failed = Some(failed);
        }
    }
}

/// A pod's role in the bundle: a Ray pod by KubeRay's label, Redis by the bundle's.
fn pod_role(pod: &Pod) -> Option<Role> {
    if rayservice::label(pod, "ray.io/node-type").is_some() {
        Some(Role::of_ray_pod(pod))
    } else if rayservice::label(pod, "app.kubernetes.io/name") == Some("redis") {
        Some(Role::Redis)
    } else {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failover::test_support::{facts, pod, pod_fact};

    fn slice(name: &str, ready: &[bool]) -> EndpointSlice {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name},
            "addressType": "IPv4",
            "endpoints": ready.iter().enumerate().map(|(i, r)| serde_json::json!({
                "addresses": [format!("10.0.0.{i}")],
                "conditions": {"ready": r},
            })).collect::<Vec<_>>(),
        }))
        .unwrap()
    }

    #[test]
    fn the_start_of_a_slice_watch_is_not_zero_endpoints() {
        let mut state = SliceState::default();
        assert_eq!(state.apply(watcher::Event::Init), None);
        let s = slice("svc-abc", &[true, true, false]);
        assert_eq!(state.apply(watcher::Event::InitApply(s)), None);
        assert_eq!(state.apply(watcher::Event::InitDone), Some(2));
        let s = slice("svc-abc", &[true, true, true]);
        assert_eq!(state.apply(watcher::Event::Apply(s)), Some(3));
        // A re-list replaces the state: a slice gone meanwhile does not linger.
        state.apply(watcher::Event::Init);
        let s = slice("svc-def", &[true]);
        state.apply(watcher::Event::InitApply(s));
        assert_eq!(state.apply(watcher::Event::InitDone), Some(1));
    }

    #[test]
    fn a_victim_missing_from_the_first_listing_is_gone() {
        let mut l = VictimListing::default();
        let mut victim = pod("rc-head-x", &HEAD, 0);
        victim.metadata.uid = Some("uid-x".into());
        let mut successor = victim.clone();
        successor.metadata.uid = Some("uid-y".into());
        // Listed: present, and only once the listing is complete.
        assert_eq!(l.apply(watcher::Event::Init, "uid-x"), None);
        assert_eq!(
            l.apply(watcher::Event::InitApply(victim.clone()), "uid-x"),
            None
        );
        assert_eq!(l.apply(watcher::Event::InitDone, "uid-x"), Some(true));
        assert_eq!(l.apply(watcher::Event::Apply(victim), "uid-x"), Some(true));
        // A re-list without it, or a pod of its name with another UID: gone.
        l.apply(watcher::Event::Init, "uid-x");
        assert_eq!(l.apply(watcher::Event::InitDone, "uid-x"), Some(false));
        assert_eq!(
            l.apply(watcher::Event::Apply(successor), "uid-x"),
            Some(false)
        );
    }

    const HEAD: [(&str, &str); 2] = [("ray.io/cluster", "rc"), ("ray.io/node-type", "head")];

    /// A head rc-head-x and a worker rc-worker-a before the kill of `victim`.
    fn head_and_worker_before(victim: &str) -> (Facts, Victim) {
        let before = facts(vec![
            pod_fact("rc-head-x", Role::Head, 0),
            pod_fact("rc-worker-a", Role::Worker, 0),
        ]);
        let victim = Victim {
            name: victim.into(),
            uid: format!("uid-{victim}"),
            node: None,
            follow: vec![],
        };
        (before, victim)
    }

    #[test]
    fn the_redis_drill_follows_the_head_but_only_redis_replaces_redis() {
        let (before, victim) = head_and_worker_before("svc-redis-old");
        let mut obs = Observer::new(&victim, Role::Redis, &before);
        let redis = [
            ("app.kubernetes.io/name", "redis"),
            ("app.kubernetes.io/instance", "svc"),
        ];
        for (p, t) in [
            (pod("rc-head-x", &HEAD, 0), 0.5),
            (pod("svc-redis-new", &redis, 0), 2.0),
            (pod("rc-head-x", &HEAD, 1), 31.0),
        ] {
            obs.pod(&p, false, t);
        }
        assert_eq!(obs.seen.new_pod.as_ref().unwrap().0, "svc-redis-new");
        let events: Vec<&str> = obs.timeline.iter().map(|e| e.event.as_str()).collect();
        assert!(!events.iter().any(|e| e.contains("new pod rc-head-x")));
        assert!(events.contains(&"head pod rc-head-x restarted a container (restarts 1)"));
    }

    #[test]
    fn a_head_drill_takes_the_new_head_as_the_replacement() {
        let (before, victim) = head_and_worker_before("rc-head-x");
        let mut obs = Observer::new(&victim, Role::Head, &before);
        let worker = [("ray.io/cluster", "rc"), ("ray.io/node-type", "worker")];
        obs.pod(&pod("rc-head-x", &HEAD, 0), true, 1.0);
        obs.pod(&pod("rc-worker-a", &worker, 0), false, 1.5);
        assert!(!obs.recovered());
        obs.pod(&pod("rc-head-y", &HEAD, 0), false, 30.0);
        assert!(obs.recovered());
        let mut unready = pod("rc-head-y", &HEAD, 0);
        unready.status.as_mut().unwrap().conditions = None;
        obs.pod(&unready, false, 31.0);
        assert!(!obs.recovered(), "a replacement that is no longer Ready");
        obs.pod(&pod("rc-head-y", &HEAD, 0), false, 40.0);
        assert!(obs.recovered());
        assert_eq!(obs.seen.new_pod.as_ref().unwrap().0, "rc-head-y");
        let followed = obs.end(None);
        assert_eq!(followed.replacement.as_deref(), Some("rc-head-y"));
        assert_eq!(followed.timeline[0].event, "old pod rc-head-x gone");
    }
}
