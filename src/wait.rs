//! Following a RayService to Ready through watches (not polling), with progress: RayCluster
//! created, head pod Ready, workers Ready, Serve apps RUNNING, Ready with serve endpoints. On a
//! timeout it says where it got stuck and shows the last events of the objects involved.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::Api;
use kube::core::DynamicObject;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;

use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::rayservice::{RayService, Role, pod_ready};

/// The milestones, in the order a healthy RayService reaches them.
const STEPS: [&str; 5] = [
    "RayCluster created",
    "head pod Ready",
    "worker pods Ready",
    "Serve applications RUNNING",
    "RayService Ready",
];

/// What has been observed so far.
#[derive(Debug, Default, Clone)]
pub struct Progress {
    pub cluster_name: Option<String>,
    pub head_ready: bool,
    pub workers_ready: usize,
    pub workers_total: usize,
    pub apps_running: usize,
    pub apps_total: usize,
    pub ready: bool,
    pub serve_endpoints: i64,
    pub ready_reason: Option<String>,
    /// A Serve application reporting a problem: (app, failed for good, its message in a line).
    pub app_trouble: Option<(String, bool, String)>,
    /// Whether KubeRay's status is of the current spec (`status.observedGeneration` has caught
    /// up with `metadata.generation`): right after an apply, the status is still the old one's.
    pub observed: bool,
    /// The serving cluster while a new-cluster upgrade runs beside it: the progress is then the
    /// new (pending) cluster's, and Ready waits for the switch.
    pub upgrading_from: Option<String>,
}

impl Progress {
    /// How many of the steps are done (a step counts only when the ones before it are).
    pub fn done(&self) -> usize {
        let flags = [
            self.observed && self.cluster_name.is_some(),
            self.head_ready,
            self.workers_total > 0 && self.workers_ready >= self.workers_total,
            self.apps_total > 0 && self.apps_running >= self.apps_total,
            self.ready && self.upgrading_from.is_none(),
        ];
        flags.iter().take_while(|f| **f).count()
    }

    fn detail(&self) -> String {
        format!(
            "workers {}/{}, apps RUNNING {}/{}, serve endpoints {}",
            self.workers_ready,
            self.workers_total,
            self.apps_running,
            self.apps_total,
            self.serve_endpoints
        )
    }

    fn update_from_rayservice(&mut self, value: &Value) {
        self.observed = observed(value);
        let rs = RayService::from_value(value);
        // An upgrade: follow the new cluster; the old one serves until the switch.
        let (following, upgrading_from) = match (&rs.active, &rs.pending) {
            (Some(active), Some(pending)) => (Some(pending), Some(active.name.clone())),
            _ => (rs.serving(), None),
        };
        self.upgrading_from = upgrading_from;
        self.cluster_name = following.map(|c| c.name.clone());
        (self.apps_running, self.apps_total) = following.map_or((0, 0), |c| c.apps_running());
        self.serve_endpoints = rs.num_serve_endpoints;
        self.ready = rs.is_ready();
        self.ready_reason = rs.ready_reason().map(str::to_string);
        self.workers_total = rs.desired_workers;
        self.app_trouble = rs
            .troubled_apps()
            .into_iter()
            .max_by_key(|(_, a)| a.failed())
            .map(|(n, a)| (n.to_string(), a.failed(), a.message_line()));
    }

    fn update_from_pods(&mut self, pods: &[Pod]) {
        let cluster = self.cluster_name.as_deref();
        let ours = |p: &&Pod| {
            let labels = p.metadata.labels.as_ref();
            cluster.is_none_or(|c| {
                labels
                    .and_then(|l| l.get("ray.io/cluster"))
                    .is_some_and(|v| v == c)
            }) && p.metadata.deletion_timestamp.is_none()
        };
        let is_head = |p: &Pod| Role::of_ray_pod(p) == Role::Head;
        self.head_ready = pods.iter().filter(ours).any(|p| is_head(p) && pod_ready(p));
        self.workers_ready = pods
            .iter()
            .filter(ours)
            .filter(|p| !is_head(p) && pod_ready(p))
            .count();
    }
}

/// Whether the status is of the spec as it is now; a KubeRay that does not write
/// `observedGeneration` is taken at its word.
fn observed(rs: &Value) -> bool {
    match (
        rs["metadata"]["generation"].as_i64(),
        rs["status"]["observedGeneration"].as_i64(),
    ) {
        (Some(generation), Some(seen)) => seen >= generation,
        _ => true,
    }
}

/// Reports progress as lines (piped) or a spinner line (terminal).
struct Reporter {
    bar: Option<indicatif::ProgressBar>,
    start: Instant,
    printed: usize,
}

impl Reporter {
    fn new(name: &str) -> Reporter {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = indicatif::ProgressBar::new_spinner();
            b.set_style(
                indicatif::ProgressStyle::with_template("{spinner} {elapsed:>4} {msg}")
                    .expect("valid template"),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b.set_message(format!("waiting for rayservice/{name}"));
            b
        });
        Reporter {
            bar,
            start: Instant::now(),
            printed: 0,
        }
    }

    fn show(&mut self, p: &Progress) {
        let done = p.done();
        while self.printed < done {
            self.note(&format!(
                "[{:>5.1}s] {}",
                self.start.elapsed().as_secs_f64(),
                STEPS[self.printed]
            ));
            self.printed += 1;
        }
        if let Some(b) = &self.bar {
            let next = STEPS.get(done).copied().unwrap_or("done");
            b.set_message(format!("waiting: {next} ({})", p.detail()));
        }
    }

    /// A line between the steps (above the spinner on a terminal).
    fn note(&self, line: &str) {
        match &self.bar {
            Some(b) => b.println(line),
            None => eprintln!("{line}"),
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// How long a Serve application may keep reporting an error while DEPLOYING before the wait
/// gives up on it (DEPLOY_FAILED ends the wait at once).
pub const APP_ERROR_PATIENCE: Duration = Duration::from_secs(90);

/// Whether an application's trouble ends the wait: DEPLOY_FAILED at once, an error message
/// while DEPLOYING after `APP_ERROR_PATIENCE`. `since` is when the trouble was first seen.
fn app_gives_up(progress: &Progress, since: &mut Option<Instant>, name: &str) -> Option<Error> {
    let Some((app, failed, message)) = &progress.app_trouble else {
        *since = None;
        return None;
    };
    let first_seen = *since.get_or_insert_with(Instant::now);
    if *failed {
        return Some(Error::failed(format!(
            "Serve application {app} of rayservice/{name} is DEPLOY_FAILED: {message}"
        )));
    }
    (first_seen.elapsed() >= APP_ERROR_PATIENCE).then(|| {
        Error::failed(format!(
            "Serve application {app} of rayservice/{name} has reported an error for {} s while deploying: {message}",
            APP_ERROR_PATIENCE.as_secs()
        ))
    })
}

/// Waits until the RayService is Ready, or fails after `timeout` saying where it got stuck,
/// or sooner when a Serve application cannot deploy (`app_gives_up`).
pub async fn until_ready(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    timeout: Duration,
) -> Result<Progress> {
    let rs_api: Api<DynamicObject> = Api::namespaced_with(
        cluster.client.clone(),
        namespace,
        &crate::cluster::rayservice_resource(),
    );
    let pod_api: Api<Pod> = Api::namespaced(cluster.client.clone(), namespace);
    let rs_stream = watcher(
        rs_api,
        watcher::Config::default().fields(&format!("metadata.name={name}")),
    )
    .default_backoff()
    .applied_objects()
    .boxed();
    // KubeRay labels pods with their cluster, not their RayService: follow every Ray pod of the
    // namespace and count those of the RayService's current cluster.
    let pod_selector = "ray.io/is-ray-node=yes".to_string();
    let pod_store_stream = watcher(
        pod_api.clone(),
        watcher::Config::default().labels(&pod_selector),
    )
    .default_backoff()
    .applied_objects()
    .boxed();
    let mut reporter = Reporter::new(name);
    let mut progress = Progress::default();
    let mut pods: std::collections::BTreeMap<String, Pod> = Default::default();
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut rs_stream = rs_stream;
    let mut pod_stream = pod_store_stream;
    let mut trouble_since = None;
    let mut upgrade_told = false;
    // Wakes the loop while an application's error ages, when no event comes.
    let mut tick = tokio::time::interval(Duration::from_secs(5));
    loop {
        tokio::select! {
            ev = rs_stream.try_next() => match ev {
                Ok(Some(rs)) => {
                    let v = serde_json::to_value(&rs).unwrap_or(Value::Null);
                    progress.update_from_rayservice(&v);
                }
                Ok(None) => break,
                // The watcher re-lists after a broken stream (with backoff): keep following.
                Err(_) => continue,
            },
            ev = pod_stream.try_next() => match ev {
                Ok(Some(pod)) => {
                    let key = pod.metadata.name.clone().unwrap_or_default();
                    if pod.metadata.deletion_timestamp.is_some() { pods.remove(&key); } else { pods.insert(key, pod); }
                }
                Ok(None) => break,
                Err(_) => continue,
            },
            _ = tick.tick() => {}
            _ = &mut deadline => {
                reporter.finish();
                let stuck = STEPS.get(progress.done()).copied().unwrap_or("RayService Ready");
                let objects: Vec<&str> = std::iter::once(name).chain(progress.cluster_name.as_deref()).collect();
                let events = crate::cluster::last_events(cluster, namespace, &objects, 5).await;
                return Err(Error::failed(format!(
                    "timed out after {} s waiting for rayservice/{name}: stuck at \"{stuck}\" ({}); last events: {}",
                    timeout.as_secs(), progress.detail(), if events.is_empty() { "none".into() } else { events.join(" | ") }
                )));
            }
        }
        let list: Vec<Pod> = pods.values().cloned().collect();
        progress.update_from_pods(&list);
        if !upgrade_told
            && let (Some(old), Some(new)) = (&progress.upgrading_from, &progress.cluster_name)
        {
            upgrade_told = true;
            reporter.note(&format!(
                "KubeRay is upgrading rayservice/{name} to a new RayCluster {new}; {old} serves until the switch"
            ));
        }
        reporter.show(&progress);
        if !progress.ready
            && let Some(e) = app_gives_up(&progress, &mut trouble_since, name)
        {
            reporter.finish();
            return Err(e);
        }
        if progress.done() == STEPS.len() {
            reporter.finish();
            eprintln!(
                "rayservice/{name} is Ready with {} serve endpoint(s)",
                progress.serve_endpoints
            );
            return Ok(progress);
        }
    }
    reporter.finish();
    Err(Error::failed(format!(
        "watch of rayservice/{name} ended unexpectedly"
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn troubled(failed: bool) -> Progress {
        Progress {
            app_trouble: Some(("fruit".into(), failed, "No module named 'x'".into())),
            ..Progress::default()
        }
    }

    #[test]
    fn deploy_failed_ends_the_wait_at_once_with_the_message() {
        let mut since = None;
        let e = app_gives_up(&troubled(true), &mut since, "rs").expect("gives up");
        let text = e.to_string();
        assert!(text.contains("fruit"), "{text}");
        assert!(
            text.contains("DEPLOY_FAILED: No module named 'x'"),
            "{text}"
        );
    }

    #[test]
    fn an_error_while_deploying_ends_the_wait_only_after_the_patience() {
        let mut since = None;
        assert!(app_gives_up(&troubled(false), &mut since, "rs").is_none());
        assert!(since.is_some());
        since = Some(Instant::now() - APP_ERROR_PATIENCE);
        let e = app_gives_up(&troubled(false), &mut since, "rs").expect("gives up");
        assert!(e.to_string().contains("while deploying"), "{e}");
        // Trouble gone: the clock starts again.
        assert!(app_gives_up(&Progress::default(), &mut since, "rs").is_none());
        assert!(since.is_none());
    }

    fn rayservice(generation: i64, observed: i64, active: &str, pending: Option<&str>) -> Value {
        let apps = serde_json::json!({"fruit": {"status": "RUNNING"}});
        let mut status = serde_json::json!({
            "observedGeneration": observed,
            "conditions": [{"type": "Ready", "status": "True"}],
            "numServeEndpoints": 3,
            "activeServiceStatus": {"rayClusterName": active, "applicationStatuses": apps},
        });
        if let Some(p) = pending {
            status["pendingServiceStatus"] = serde_json::json!({"rayClusterName": p, "applicationStatuses": {"fruit": {"status": "DEPLOYING"}}});
        }
        serde_json::json!({
            "metadata": {"name": "rs", "generation": generation},
            "spec": {"rayClusterConfig": {"workerGroupSpecs": [{"replicas": 1}]}},
            "status": status,
        })
    }

    #[test]
    fn a_status_of_the_previous_spec_is_no_progress() {
        let mut p = Progress::default();
        p.update_from_rayservice(&rayservice(3, 2, "rs-aaaaa", None));
        assert!(!p.observed);
        assert_eq!(p.done(), 0, "the old cluster's state right after an apply");
        p.update_from_rayservice(&rayservice(3, 3, "rs-aaaaa", None));
        assert!(p.observed && p.done() >= 1);
    }

    #[test]
    fn an_upgrade_is_followed_on_the_new_cluster_until_the_switch() {
        let mut p = Progress {
            head_ready: true,
            workers_ready: 1,
            ..Progress::default()
        };
        p.update_from_rayservice(&rayservice(4, 4, "rs-aaaaa", Some("rs-bbbbb")));
        assert_eq!(p.cluster_name.as_deref(), Some("rs-bbbbb"));
        assert_eq!(p.upgrading_from.as_deref(), Some("rs-aaaaa"));
        assert_eq!(
            p.apps_running, 0,
            "the new cluster's apps, not the old one's"
        );
        assert!(p.done() < STEPS.len(), "Ready only after the switch");
        p.update_from_rayservice(&rayservice(4, 4, "rs-bbbbb", None));
        assert_eq!(p.upgrading_from, None);
        assert_eq!(p.done(), STEPS.len());
    }
}
