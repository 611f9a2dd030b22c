//! Following a RayService to Ready through watches (not polling), with progress: RayCluster
//! created, head pod Ready, workers Ready, Serve apps RUNNING, Ready with serve endpoints. On a
//! timeout it says where it got stuck and shows the last events of the objects involved.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::core::v1::{Event, Pod};
use kube::api::{Api, ListParams};
use kube::core::DynamicObject;
use kube::runtime::{WatchStreamExt, watcher};
use serde_json::Value;

use crate::cluster::{Cluster, describe_kube_error};
use crate::error::{Error, Result};

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
}

impl Progress {
    /// How many of the steps are done (a step counts only when the ones before it are).
    pub fn done(&self) -> usize {
        let flags = [
            self.cluster_name.is_some(),
            self.head_ready,
            self.workers_total > 0 && self.workers_ready >= self.workers_total,
            self.apps_total > 0 && self.apps_running >= self.apps_total,
            self.ready,
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

    fn update_from_rayservice(&mut self, rs: &Value) {
        let status = &rs["status"];
        let active = &status["activeServiceStatus"];
        let pending = &status["pendingServiceStatus"];
        let serving = if active["rayClusterName"].is_string() {
            active
        } else {
            pending
        };
        self.cluster_name = serving["rayClusterName"].as_str().map(str::to_string);
        let apps = serving["applicationStatuses"].as_object();
        self.apps_total = apps.map_or(0, |a| a.len());
        self.apps_running = apps.map_or(0, |a| {
            a.values().filter(|s| s["status"] == "RUNNING").count()
        });
        self.serve_endpoints = status["numServeEndpoints"].as_i64().unwrap_or(0);
        let ready = status["conditions"]
            .as_array()
            .and_then(|c| c.iter().find(|c| c["type"] == "Ready"));
        self.ready = ready.is_some_and(|c| c["status"] == "True");
        self.ready_reason = ready.and_then(|c| c["reason"].as_str()).map(str::to_string);
        let desired: i64 = rs["spec"]["rayClusterConfig"]["workerGroupSpecs"]
            .as_array()
            .map_or(0, |g| {
                g.iter().map(|g| g["replicas"].as_i64().unwrap_or(0)).sum()
            });
        self.workers_total = desired.max(0) as usize;
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
        let is_head = |p: &Pod| {
            p.metadata
                .labels
                .as_ref()
                .and_then(|l| l.get("ray.io/node-type"))
                .is_some_and(|t| t == "head")
        };
        self.head_ready = pods.iter().filter(ours).any(|p| is_head(p) && pod_ready(p));
        self.workers_ready = pods
            .iter()
            .filter(ours)
            .filter(|p| !is_head(p) && pod_ready(p))
            .count();
    }
}

pub fn pod_ready(p: &Pod) -> bool {
    p.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|c| c.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
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
            let line = format!(
                "[{:>5.1}s] {}",
                self.start.elapsed().as_secs_f64(),
                STEPS[self.printed]
            );
            match &self.bar {
                Some(b) => b.println(line),
                None => eprintln!("{line}"),
            }
            self.printed += 1;
        }
        if let Some(b) = &self.bar {
            let next = STEPS.get(done).copied().unwrap_or("done");
            b.set_message(format!("waiting: {next} ({})", p.detail()));
        }
    }

    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// Waits until the RayService is Ready, or fails after `timeout` saying where it got stuck.
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
            _ = &mut deadline => {
                reporter.finish();
                let stuck = STEPS.get(progress.done()).copied().unwrap_or("RayService Ready");
                let events = last_events(cluster, namespace, name, progress.cluster_name.as_deref()).await;
                return Err(Error::failed(format!(
                    "timed out after {} s waiting for rayservice/{name}: stuck at \"{stuck}\" ({}); last events: {}",
                    timeout.as_secs(), progress.detail(), if events.is_empty() { "none".into() } else { events.join(" | ") }
                )));
            }
        }
        let list: Vec<Pod> = pods.values().cloned().collect();
        progress.update_from_pods(&list);
        reporter.show(&progress);
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

/// The newest events about the RayService and its RayCluster, oldest first.
async fn last_events(
    cluster: &Cluster,
    namespace: &str,
    name: &str,
    cluster_name: Option<&str>,
) -> Vec<String> {
    let api: Api<Event> = Api::namespaced(cluster.client.clone(), namespace);
    let mut events: Vec<Event> = Vec::new();
    for object in std::iter::once(name).chain(cluster_name) {
        match api
            .list(&ListParams::default().fields(&format!("involvedObject.name={object}")))
            .await
        {
            Ok(list) => events.extend(list.items),
            Err(e) => return vec![format!("cannot list events: {}", describe_kube_error(&e))],
        }
    }
    let time = |e: &Event| {
        e.last_timestamp
            .as_ref()
            .map(|t| t.0)
            .or(e.event_time.as_ref().map(|t| t.0))
    };
    events.sort_by_key(time);
    events
        .iter()
        .rev()
        .take(5)
        .rev()
        .map(|e| {
            format!(
                "{} {}: {}",
                e.involved_object.kind.as_deref().unwrap_or(""),
                e.reason.as_deref().unwrap_or(""),
                e.message.as_deref().unwrap_or("").trim()
            )
        })
        .collect()
}
