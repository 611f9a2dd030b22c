//! Why a RayCluster's deletion waits on KubeRay's Redis cleanup finalizer
//! (`ray.io/gcs-ft-redis-cleanup-finalizer`), and the way out. With GCS fault tolerance on Redis,
//! KubeRay deletes a RayCluster only after a Job (`<cluster>-redis-cleanup`, no retries, 300 s
//! deadline in KubeRay 1.5) has deleted the cluster's keys; when the Job ends, succeeded or
//! failed, the finalizer goes. It never goes when the Job cannot be made (a terminating
//! namespace) or nobody acts on it (no operator). KubeRay 1.7 also removes it after
//! `ray.io/gcs-ft-deletion-timeout` seconds (300 by default).

use std::time::Duration;

use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Namespace, Service};
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, ListParams};
use kube::core::DynamicObject;
use serde::Serialize;
use serde_json::Value;

use crate::cluster::Cluster;

pub const FINALIZER: &str = "ray.io/gcs-ft-redis-cleanup-finalizer";
/// How long a failed cleanup may leave the finalizer before the operator counts as not acting.
const OPERATOR_PATIENCE: Duration = Duration::from_secs(30);

/// What is known about one deleting RayCluster.
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub namespace: String,
    pub cluster: String,
    /// Since its deletion was requested.
    pub deleting_for: Duration,
    pub has_finalizer: bool,
    pub namespace_terminating: bool,
    pub job: Option<JobState>,
    /// The Redis Service named by the cluster's redisAddress: None when the address names none
    /// in this namespace; Some(0) when it has no ready endpoint (or is gone: `redis_gone`).
    pub redis_ready: Option<usize>,
    pub redis_gone: bool,
    pub redis_host: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct JobState {
    pub active: bool,
    pub failed: bool,
    pub succeeded: bool,
    pub running_for: Option<Duration>,
}

/// Why the deletion waits, and how to end the wait.
#[derive(Debug, Clone, Serialize, serde::Deserialize, PartialEq)]
pub struct StuckDeletion {
    pub cluster: String,
    pub cause: String,
    pub fix: String,
    /// Waiting will not end it.
    pub hopeless: bool,
}

impl StuckDeletion {
    pub fn render(&self) -> String {
        format!(
            "raycluster/{} is held by {FINALIZER}: {}; {}",
            self.cluster, self.cause, self.fix
        )
    }
}

/// The command that frees the RayCluster (its GCS keys then stay in Redis).
fn remove_finalizer(f: &Facts) -> String {
    format!(
        "to free it now: kubectl patch raycluster {} -n {} --type json -p '[{{\"op\":\"remove\",\"path\":\"/metadata/finalizers\"}}]' (the cluster's GCS keys then stay in Redis)",
        f.cluster, f.namespace
    )
}

/// The diagnosis, or None when nothing holds the deletion (no finalizer) or it is just starting.
pub fn diagnose(f: &Facts) -> Option<StuckDeletion> {
    if !f.has_finalizer {
        return None;
    }
    let stuck = |cause: String, hopeless: bool| {
        Some(StuckDeletion {
            cluster: f.cluster.clone(),
            cause,
            fix: remove_finalizer(f),
            hopeless,
        })
    };
    let redis = f.redis_host.as_deref().unwrap_or("Redis");
    let redis_down = if f.redis_gone {
        format!("; Redis ({redis}) is gone, so the Job cannot reach it")
    } else if f.redis_ready == Some(0) {
        format!("; Redis ({redis}) has no ready endpoint, so the Job cannot reach it")
    } else {
        String::new()
    };
    match &f.job {
        None if f.namespace_terminating => stuck(
            format!(
                "namespace {} is terminating, and KubeRay cannot create the Redis cleanup Job in a terminating namespace, so the finalizer never goes",
                f.namespace
            ),
            true,
        ),
        Some(j) if (j.failed || j.succeeded) && f.deleting_for > OPERATOR_PATIENCE => stuck(
            format!(
                "the Redis cleanup Job {} but the finalizer is still there: is the KubeRay operator running?",
                if j.failed { "failed" } else { "succeeded" }
            ),
            true,
        ),
        Some(j) if j.active => stuck(
            format!(
                "the Redis cleanup Job has been running for {}{redis_down}; KubeRay removes the finalizer when the Job ends (it gives up after its 300 s deadline)",
                j.running_for
                    .map_or("a while".to_string(), |d| format!("{} s", d.as_secs()))
            ),
            false,
        ),
        None if f.deleting_for > OPERATOR_PATIENCE => stuck(
            format!(
                "no Redis cleanup Job after {} s: is the KubeRay operator running (and its Redis cleanup enabled)?{redis_down}",
                f.deleting_for.as_secs()
            ),
            false,
        ),
        _ => None,
    }
}

/// Reads what `diagnose` needs about the deleting RayCluster `rc`. What cannot be read stays
/// unknown: a diagnosis must not fail the command it explains.
pub async fn gather(cluster: &Cluster, rc: &DynamicObject) -> Facts {
    let ns = cluster.namespace.clone();
    let name = rc.metadata.name.clone().unwrap_or_default();
    let deleting_for = rc
        .metadata
        .deletion_timestamp
        .as_ref()
        .map(|t| age(&t.0))
        .unwrap_or_default();
    let mut f = Facts {
        namespace: ns.clone(),
        cluster: name.clone(),
        deleting_for,
        has_finalizer: rc
            .metadata
            .finalizers
            .as_ref()
            .is_some_and(|fs| fs.iter().any(|f| f == FINALIZER)),
        ..Facts::default()
    };
    let namespaces: Api<Namespace> = Api::all(cluster.client.clone());
    if let Ok(n) = namespaces.get(&ns).await {
        f.namespace_terminating = n.status.and_then(|s| s.phase).as_deref() == Some("Terminating");
    }
    let jobs: Api<Job> = Api::namespaced(cluster.client.clone(), &ns);
    if let Ok(Some(job)) = jobs.get_opt(&job_name(&name)).await {
        f.job = Some(job_state(&job));
    }
    f.redis_host = redis_service(&rc.data);
    if let Some(host) = &f.redis_host {
        let services: Api<Service> = Api::namespaced(cluster.client.clone(), &ns);
        match services.get_opt(host).await {
            Ok(None) => {
                f.redis_gone = true;
                f.redis_ready = Some(0);
            }
            Ok(Some(_)) => f.redis_ready = ready_endpoints(cluster, host).await,
            Err(_) => {}
        }
    }
    f
}

/// For a RayService that is gone: its RayClusters still being deleted, and why (one line each),
/// or None when none is left.
pub async fn leftovers(cluster: &Cluster, rayservice: &str) -> Option<String> {
    let api: Api<DynamicObject> = Api::namespaced_with(
        cluster.client.clone(),
        &cluster.namespace,
        &crate::cluster::raycluster_resource(),
    );
    let selector = format!("ray.io/originated-from-cr-name={rayservice}");
    let list = api
        .list(&ListParams::default().labels(&selector))
        .await
        .ok()?;
    let mut lines = Vec::new();
    for rc in list
        .items
        .iter()
        .filter(|r| r.metadata.deletion_timestamp.is_some())
    {
        let facts = gather(cluster, rc).await;
        lines.push(match diagnose(&facts) {
            Some(d) => d.render(),
            None => format!("raycluster/{} is being deleted", facts.cluster),
        });
    }
    (!lines.is_empty()).then(|| lines.join("; "))
}

/// KubeRay's name for the cleanup Job of a cluster.
pub fn job_name(cluster: &str) -> String {
    format!("{cluster}-redis-cleanup")
        .chars()
        .take(63)
        .collect()
}

fn job_state(job: &Job) -> JobState {
    let s = job.status.clone().unwrap_or_default();
    JobState {
        active: s.active.unwrap_or(0) > 0,
        failed: s.failed.unwrap_or(0) > 0,
        succeeded: s.succeeded.unwrap_or(0) > 0,
        running_for: s.start_time.map(|t| age(&t.0)),
    }
}

fn age(t: &k8s_openapi::jiff::Timestamp) -> Duration {
    let secs = k8s_openapi::jiff::Timestamp::now().as_second() - t.as_second();
    Duration::from_secs(secs.max(0).unsigned_abs())
}

/// The Service name in the cluster's redisAddress ("redis:6379", "redis://:pw@redis.ns.svc:6379"),
/// when it is a name of this namespace.
fn redis_service(spec: &Value) -> Option<String> {
    let addr = spec["spec"]["gcsFaultToleranceOptions"]["redisAddress"].as_str()?;
    let first = crate::validate::redis_service_label(addr);
    // "svc" or "svc.<this ns>..." only; an IP or another namespace's name is not ours to check.
    (!first.is_empty() && !first.chars().all(|c| c.is_ascii_digit())).then(|| first.to_string())
}

async fn ready_endpoints(cluster: &Cluster, service: &str) -> Option<usize> {
    let slices: Api<EndpointSlice> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let list = slices
        .list(&ListParams::default().labels(&format!("kubernetes.io/service-name={service}")))
        .await
        .ok()?;
    Some(
        list.items
            .iter()
            .flat_map(|s| &s.endpoints)
            .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(false))
            .count(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn held(deleting_s: u64) -> Facts {
        Facts {
            namespace: "ns".into(),
            cluster: "rs-abc".into(),
            deleting_for: Duration::from_secs(deleting_s),
            has_finalizer: true,
            ..Facts::default()
        }
    }

    #[test]
    fn each_cause_is_named_with_the_way_out() {
        // A terminating namespace: no Job can be made, waiting is hopeless.
        let mut f = held(5);
        f.namespace_terminating = true;
        let d = diagnose(&f).unwrap();
        assert!(d.hopeless && d.cause.contains("terminating"), "{d:?}");
        assert!(d.fix.contains("kubectl patch raycluster rs-abc -n ns"));
        // The Job runs against a Redis that is gone: it will give up, so not hopeless.
        let mut f = held(60);
        f.job = Some(JobState {
            active: true,
            running_for: Some(Duration::from_secs(42)),
            ..JobState::default()
        });
        f.redis_gone = true;
        f.redis_host = Some("rs-redis".into());
        let d = diagnose(&f).unwrap();
        assert!(!d.hopeless, "{d:?}");
        assert!(
            d.cause.contains("42 s") && d.cause.contains("rs-redis") && d.cause.contains("gone")
        );
        // The Job ended long ago and the finalizer stayed: nobody acts on it.
        let mut f = held(120);
        f.job = Some(JobState {
            failed: true,
            ..JobState::default()
        });
        assert!(diagnose(&f).unwrap().cause.contains("operator running"));
        // No Job at all after a while.
        assert!(
            diagnose(&held(90))
                .unwrap()
                .cause
                .contains("no Redis cleanup Job")
        );
    }

    #[test]
    fn nothing_to_say_without_the_finalizer_or_at_the_start() {
        let mut f = held(500);
        f.has_finalizer = false;
        assert_eq!(diagnose(&f), None);
        assert_eq!(diagnose(&held(3)), None);
    }

    #[test]
    fn the_redis_service_comes_from_the_address() {
        let spec = |a: &str| serde_json::json!({"spec": {"gcsFaultToleranceOptions": {"redisAddress": a}}});
        assert_eq!(
            redis_service(&spec("rs-redis:6379")).as_deref(),
            Some("rs-redis")
        );
        assert_eq!(
            redis_service(&spec("redis://:pw@r.ns.svc.cluster.local:6379")).as_deref(),
            Some("r")
        );
        assert_eq!(redis_service(&spec("10.0.0.5:6379")), None);
        assert_eq!(redis_service(&serde_json::json!({})), None);
    }
}
