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
    /// Seconds a head that is not the victim was not Ready (its GCS away), summed over the
    /// times it went and came back; None when it never went.
    pub head_away_s: Option<f64>,
}

/// How long the head must stay Ready once a new Redis is Ready and the old one gone, for a round
/// that did not see the GCS exit, before recovery counts (on the rig it showed 0.5–1.5 s after
/// the old pod was gone; the guide's Redis, behind `sh -c`, sits out its 30 s grace period).
const GCS_EXIT_GRACE_S: f64 = 10.0;

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
    obs.replaces_victim = d.target.replaces_victim();
    obs.replaces_cluster = d.target.replaces_cluster();
    obs.gcs_grace_s = d.target.gcs_exits().then_some(GCS_EXIT_GRACE_S);
    obs.probed = d
        .target
        .probe(cluster, w.before, w.victim)
        .is_none()
        .then_some(true);
    let mut probe_every = tokio::time::interval(Duration::from_secs(2));
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
            _ = probe_every.tick(), if obs.probed != Some(true) => {
                if let Some(probe) = d.target.probe(cluster, w.before, w.victim) {
                    // A probe may wait seconds for the dashboard: Ctrl-C must not.
                    tokio::select! {
                        held = probe => obs.probe_result(held.unwrap_or(false), t),
                        _ = d.stop.wait() => return Ok(obs.end(recovered_at)),
                    }
                }
            }
            _ = &mut deadline, if recovered_at.is_none() => return Ok(obs.end(None)),
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                if d.stop.stopped() { return Ok(obs.end(recovered_at)); }
            }
        }
        obs.now = secs(w.kill_at, Instant::now());
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
    /// Pods whose deletion the timeline has.
    deletions_noted: std::collections::BTreeSet<String>,
    /// The RayClusters of this RayService: the one serving before, and those its status names.
    clusters: std::collections::BTreeSet<String>,
    /// The cluster the serve Service points to, as the RayService's status last said.
    active: Option<String>,
    pending: Option<String>,
    /// Whether the pending cluster's apps all ran, as last seen.
    pending_running: bool,
    /// A head that is not the victim: which one is not Ready since when, and how long heads
    /// were away.
    head_down: Option<(String, f64)>,
    head_away_s: Option<f64>,
    /// When the replacement last became Ready, and when the victim was gone.
    new_ready_at: Option<f64>,
    old_gone_at: Option<f64>,
}

/// Turns watch events into the timeline.
struct Observer<'a> {
    victim: &'a Victim,
    role: Role,
    seen: Seen,
    timeline: Vec<Event>,
    /// The RayService's name: KubeRay names its clusters `<name>-<5 characters>`.
    rayservice: &'a str,
    /// The cluster that served before the strike.
    serving_before: Option<String>,
    /// The target's: whether a pod replaces the victim, whether a new cluster replaces the old.
    replaces_victim: bool,
    replaces_cluster: bool,
    /// The target's probe: None before its first answer, Some(true) once it held (or when the
    /// target has none).
    probed: Option<bool>,
    /// For a target whose loss makes the GCS exit: how long the head must stay Ready after the
    /// replacement is Ready before recovery counts without having seen the GCS go and come
    /// back (its exit shows on the head a moment after the old Redis connection drops).
    gcs_grace_s: Option<f64>,
    /// Seconds since the strike, as of the latest event.
    now: f64,
}

impl<'a> Observer<'a> {
    fn new(victim: &'a Victim, role: Role, before: &'a Facts) -> Observer<'a> {
        let restarts = before
            .pods
            .iter()
            .filter(|p| p.name != victim.name)
            .map(|p| (p.name.clone(), p.restarts))
            .collect();
        let serving_before = before.serving_cluster().map(str::to_string);
        Observer {
            victim,
            role,
            seen: Seen {
                restarts,
                clusters: serving_before.iter().cloned().collect(),
                active: before.active_cluster.clone(),
                pending: before.pending_cluster.clone(),
                ..Seen::default()
            },
            timeline: Vec::new(),
            rayservice: &before.name,
            serving_before,
            replaces_victim: true,
            replaces_cluster: false,
            probed: Some(true),
            gcs_grace_s: None,
            now: 0.0,
        }
    }

    /// Whether a Ray pod's cluster is one of this RayService's: named in its status, serving
    /// before, or named the way KubeRay names them (the pending cluster's pods may be seen
    /// before the status names it).
    fn ours(&self, pod: &Pod) -> bool {
        let Some(rc) = rayservice::label(pod, "ray.io/cluster") else {
            return true;
        };
        self.seen.clusters.contains(rc) || generated_for(self.rayservice, rc)
    }

    /// The probe's answer: recovery waits for it to hold once.
    fn probe_result(&mut self, held: bool, t: f64) {
        if held && self.probed != Some(true) {
            self.note(t, "the change is applied (Serve reports it)".into());
        }
        if held || self.probed.is_none() {
            self.probed = Some(held);
        }
    }

    fn note(&mut self, t_s: f64, event: String) {
        self.timeline.push(Event { t_s, event });
    }

    /// Replaced (the new pod Ready and, also for Redis whose old pod keeps serving the GCS'
    /// open connection, the old one gone), and nothing reported as down.
    fn recovered(&self) -> bool {
        let s = &self.seen;
        let replaced = !self.replaces_victim || (s.new_ready && s.old_gone);
        let switched = !self.replaces_cluster
            || (s.active.is_some() && s.active != self.serving_before && s.pending.is_none());
        // The GCS loses its connection when the old Redis is gone (a slow one keeps serving
        // through its grace period), and may only then exit.
        let quiet_since = s.new_ready_at.zip(s.old_gone_at).map(|(r, g)| r.max(g));
        let gcs_seen_through = match (self.gcs_grace_s, quiet_since) {
            (None, _) => true,
            (Some(_), _) if s.head_away_s.is_some() => true,
            (Some(grace), Some(since)) => self.now - since >= grace,
            (Some(_), None) => false,
        };
        replaced
            && switched
            && gcs_seen_through
            && s.head_down.is_none()
            && self.probed == Some(true)
            && s.rs_ready != Some(false)
            && s.apps_running != Some(false)
    }

    fn end(mut self, recovered_at: Option<Instant>) -> Followed {
        self.timeline.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
        Followed {
            recovered_at,
            replacement: self.seen.new_pod.map(|p| p.0),
            timeline: self.timeline,
            app_failed: self.seen.app_failed,
            head_away_s: self.seen.head_away_s,
        }
    }

    fn pod(&mut self, pod: &Pod, deleted: bool, t: f64) {
        let name = pod.metadata.name.clone().unwrap_or_default();
        let uid = pod.metadata.uid.clone().unwrap_or_default();
        // A Redis drill follows only the Redis Service's pods besides the Ray pods: a pod with
        // no Ray label is Redis whatever its labels say (the guide's is `app: redis`).
        let role = pod_role(pod).or_else(|| {
            (self.role == Role::Redis && rayservice::label(pod, "ray.io/node-type").is_none())
                .then_some(Role::Redis)
        });
        if !self.ours(pod) {
            return;
        }
        if uid == self.victim.uid {
            self.victim_changed(pod, deleted, t);
        } else if deleted || pod.metadata.deletion_timestamp.is_some() {
            // A head on its way out (an upgrade's old cluster) is not one that will come back.
            if role == Some(Role::Head)
                && self
                    .seen
                    .head_down
                    .as_ref()
                    .is_some_and(|(n, _)| *n == name)
            {
                self.seen.head_down = None;
            }
            // Noted once: a deletion is seen as Terminating, then again as gone.
            if role.is_some_and(|r| r != Role::Redis && r != self.role)
                && self.seen.deletions_noted.insert(name.clone())
            {
                self.note(
                    t,
                    format!("{} pod {name} deleted", role.unwrap_or(self.role)),
                );
            }
        } else if role == Some(self.role) && !self.seen.restarts.contains_key(&name) {
            self.replacement_changed(pod, name, uid, t);
        } else if role.is_some_and(|r| r != Role::Redis) {
            if role == Some(Role::Head) {
                self.head_readiness(pod, &name, t);
            }
            self.restart_counted(pod, name, role.unwrap_or(self.role), t);
        }
    }

    /// A head that stays (not the victim) going not Ready and Ready again: its GCS was away.
    fn head_readiness(&mut self, pod: &Pod, name: &str, t: f64) {
        if !self.seen.restarts.contains_key(name) {
            return; // a new cluster's head (an upgrade): not one that went away
        }
        match (pod_ready(pod), self.seen.head_down.clone()) {
            (false, None) => {
                self.seen.head_down = Some((name.to_string(), t));
                self.note(t, format!("head pod {name} not Ready"));
            }
            (true, Some((down, since))) if down == name => {
                self.seen.head_down = None;
                *self.seen.head_away_s.get_or_insert(0.0) += t - since;
                self.note(t, format!("head pod {name} Ready again"));
            }
            _ => {}
        }
    }

    /// The victim is no longer in the API (deleted, or gone before a listing showed it).
    fn victim_gone(&mut self, t: f64) {
        // An in-place change has no victim pod to be gone.
        if self.replaces_victim && !self.seen.old_gone {
            self.seen.old_gone = true;
            self.seen.old_gone_at = Some(t);
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
            self.seen.new_ready_at = ready.then_some(t);
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
        self.clusters_changed(&rs, t);
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

impl Observer<'_> {
    /// An upgrade's steps as the RayService's status shows them: a pending cluster appears, the
    /// serve Service switches to it, the pending slot empties.
    fn clusters_changed(&mut self, rs: &RayService, t: f64) {
        let active = rs.active.as_ref().map(|c| c.name.clone());
        let pending = rs.pending.as_ref().map(|c| c.name.clone());
        self.seen
            .clusters
            .extend(active.iter().chain(&pending).cloned());
        if pending != self.seen.pending
            && let Some(p) = &pending
        {
            self.note(t, format!("pending RayCluster {p} created"));
        }
        // KubeRay switches once the pending cluster's apps run: the moment is worth its line.
        let pending_running = rs.pending.as_ref().is_some_and(|c| {
            let (running, all) = c.apps_running();
            all > 0 && running == all
        });
        if pending_running && !self.seen.pending_running {
            let p = pending.as_deref().unwrap_or_default();
            self.note(t, format!("pending RayCluster {p}: Serve apps RUNNING"));
        }
        self.seen.pending_running = pending_running;
        if active != self.seen.active
            && let Some(a) = &active
        {
            self.note(t, format!("serve Service switched to RayCluster {a}"));
        }
        self.seen.active = active;
        self.seen.pending = pending;
    }
}

/// Whether `rc` is named as KubeRay names a RayService's clusters: `<rayservice>-` and five
/// lowercase letters or digits.
fn generated_for(rayservice: &str, rc: &str) -> bool {
    rc.strip_prefix(rayservice)
        .and_then(|rest| rest.strip_prefix('-'))
        .is_some_and(|id| {
            id.len() == 5
                && id
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
        })
}

/// A pod's role in the bundle: a Ray pod by KubeRay's label, Redis by the bundle's.
fn pod_role(pod: &Pod) -> Option<Role> {
    // KubeRay labels its Redis cleanup Job's pod too (node-type redis-cleanup): not a Ray node.
    if matches!(
        rayservice::label(pod, "ray.io/node-type"),
        Some("head" | "worker")
    ) {
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
        let mut before = facts(vec![
            pod_fact("rc-head-x", Role::Head, 0),
            pod_fact("rc-worker-a", Role::Worker, 0),
        ]);
        before.serving_cluster = Some("rc".into());
        let victim = Victim {
            name: victim.into(),
            uid: format!("uid-{victim}"),
            ..Victim::default()
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
    fn a_head_that_is_deleted_while_down_does_not_hold_recovery() {
        let (before, victim) = head_and_worker_before("svc-redis-old");
        let mut obs = Observer::new(&victim, Role::Redis, &before);
        let mut down = pod("rc-head-x", &HEAD, 0);
        down.status.as_mut().unwrap().conditions = None;
        obs.pod(&down, false, 1.0);
        assert!(obs.seen.head_down.is_some());
        obs.pod(&down, true, 2.0);
        assert!(obs.seen.head_down.is_none());
    }

    #[test]
    fn a_redis_round_recovers_once_the_gcs_came_back_or_never_left() {
        let (before, victim) = head_and_worker_before("svc-redis-old");
        let redis = [
            ("app.kubernetes.io/name", "redis"),
            ("app.kubernetes.io/instance", "svc"),
        ];
        let mut obs = Observer::new(&victim, Role::Redis, &before);
        obs.gcs_grace_s = Some(10.0);
        obs.victim_gone(0.5);
        obs.pod(&pod("svc-redis-new", &redis, 0), false, 2.0);
        obs.now = 2.1;
        assert!(!obs.recovered(), "the GCS may not have exited yet");
        let mut down = pod("rc-head-x", &HEAD, 1);
        down.status.as_mut().unwrap().conditions = None;
        obs.pod(&down, false, 2.5);
        obs.now = 20.0;
        assert!(!obs.recovered(), "the head is away");
        obs.pod(&pod("rc-head-x", &HEAD, 1), false, 40.0);
        obs.now = 40.0;
        assert!(obs.recovered());
        assert_eq!(obs.end(None).head_away_s, Some(37.5));

        // A GCS that rides it out: recovered once the head stayed Ready for the grace, counted
        // from when the old Redis was gone too (its connection drops only then).
        let mut obs = Observer::new(&victim, Role::Redis, &before);
        obs.gcs_grace_s = Some(10.0);
        obs.pod(&pod("svc-redis-new", &redis, 0), false, 0.2);
        obs.victim_gone(2.0);
        obs.now = 11.9;
        assert!(!obs.recovered());
        obs.now = 12.0;
        assert!(obs.recovered());
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

    fn rayservice_status(active: &str, pending: Option<(&str, &str)>) -> Value {
        let mut status = serde_json::json!({
            "conditions": [{"type": "Ready", "status": "True"}],
            "activeServiceStatus": {"rayClusterName": active, "applicationStatuses": {
                "app": {"status": "RUNNING"}}},
        });
        if let Some((p, app)) = pending {
            status["pendingServiceStatus"] = serde_json::json!({"rayClusterName": p,
                "applicationStatuses": {"app": {"status": app}}});
        }
        serde_json::json!({"metadata": {"name": "rc"}, "status": status})
    }

    #[test]
    fn an_upgrade_recovers_once_the_service_switched_and_the_old_head_is_gone() {
        let mut before = facts(vec![pod_fact("rc-head-x", Role::Head, 0)]);
        before.name = "shop".into();
        before.serving_cluster = Some("shop-aaaaa".into());
        before.active_cluster = Some("shop-aaaaa".into());
        let victim = Victim {
            name: "rc-head-x".into(),
            uid: "uid-rc-head-x".into(),
            ..Victim::default()
        };
        let mut obs = Observer::new(&victim, Role::Head, &before);
        obs.replaces_cluster = true;
        let head_of = |name: &str, rc: &str| {
            pod(
                name,
                &[("ray.io/cluster", rc), ("ray.io/node-type", "head")],
                0,
            )
        };
        // Another RayService's new head in the namespace is not ours.
        obs.pod(&head_of("other-bbbbb-head-z", "other-bbbbb"), false, 1.0);
        assert!(obs.seen.new_pod.is_none());
        obs.rayservice(
            &rayservice_status("shop-aaaaa", Some(("shop-ccccc", "DEPLOYING"))),
            2.0,
        );
        obs.pod(&head_of("shop-ccccc-head-y", "shop-ccccc"), false, 3.0);
        assert_eq!(obs.seen.new_pod.as_ref().unwrap().0, "shop-ccccc-head-y");
        obs.victim_gone(4.0);
        assert!(!obs.recovered(), "the serve Service has not switched yet");
        obs.rayservice(
            &rayservice_status("shop-aaaaa", Some(("shop-ccccc", "RUNNING"))),
            4.5,
        );
        assert!(
            !obs.recovered(),
            "its apps run, the switch is still to come"
        );
        obs.rayservice(&rayservice_status("shop-ccccc", None), 5.0);
        assert!(obs.recovered());
        let events: Vec<String> = obs.timeline.iter().map(|e| e.event.clone()).collect();
        assert!(events.contains(&"pending RayCluster shop-ccccc created".to_string()));
        assert_eq!(
            events
                .iter()
                .filter(|e| e.as_str() == "pending RayCluster shop-ccccc: Serve apps RUNNING")
                .count(),
            1,
            "{events:?}"
        );
        assert!(events.contains(&"serve Service switched to RayCluster shop-ccccc".to_string()));
    }

    #[test]
    fn an_in_place_change_recovers_when_its_probe_holds() {
        let before = facts(vec![pod_fact("rc-head-x", Role::Head, 0)]);
        let victim = Victim {
            name: "serveConfigV2".into(),
            ..Victim::default()
        };
        let mut obs = Observer::new(&victim, Role::Head, &before);
        obs.replaces_victim = false;
        obs.probed = None;
        obs.victim_gone(0.5);
        assert!(obs.timeline.is_empty(), "no victim pod to be gone");
        assert!(!obs.recovered());
        obs.probe_result(false, 1.0);
        assert!(!obs.recovered());
        obs.probe_result(true, 3.0);
        assert!(obs.recovered());
        // Once applied, a later unanswered probe does not undo it.
        obs.probe_result(false, 4.0);
        assert!(obs.recovered());
    }

    #[test]
    fn kuberay_names_a_rayservices_clusters_with_five_characters() {
        assert!(generated_for("shop", "shop-ab12c"));
        assert!(
            !generated_for("shop", "shop-ab12c-xyz12"),
            "another RayService's"
        );
        assert!(!generated_for("shop", "shopx-ab12c"));
        assert!(!generated_for("shop", "shop-AB12C"));
        assert!(!generated_for("shop", "shop-ab12"));
    }
}
