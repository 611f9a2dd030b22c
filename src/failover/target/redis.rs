//! The bundle's Redis pod: Ray's GCS exits when it loses Redis and its restart must read Ray's
//! state back, so that nothing else on the Ray side restarts or is redeployed.

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

use super::{Target, Victim, ray_pods_selector};
use crate::cluster::{Cluster, KubeContext};
use crate::error::{Error, Result};
use crate::failover::report::Survival;
use crate::rayservice::Role;
use crate::status::Facts;

pub struct Redis;

impl Target for Redis {
    fn id(&self) -> &'static str {
        "redis"
    }

    fn word(&self) -> &'static str {
        "Redis"
    }

    fn role(&self) -> Role {
        Role::Redis
    }

    fn describe(&self, facts: &Facts) -> Option<String> {
        facts
            .redis
            .as_ref()
            .map(|(n, _, _)| format!("the pod of deployment/{n}"))
    }

    fn pick<'a>(&'a self, cluster: &'a Cluster, facts: &'a Facts) -> BoxFuture<'a, Result<Victim>> {
        Box::pin(async move {
            let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
            let selector = Role::Redis.selector("", &facts.name);
            let list = pods
                .list(&ListParams::default().labels(&selector))
                .await
                .context("cannot list the Redis pods")?;
            let p = list.items.into_iter().next().ok_or_else(|| {
                Error::failed("no Redis pod of this bundle (external Redis cannot be drilled here)")
            })?;
            Ok(Victim {
                node: p.spec.as_ref().and_then(|s| s.node_name.clone()),
                data: Some(data_volume(&p)),
                name: p.metadata.name.unwrap_or_default(),
                uid: p.metadata.uid.unwrap_or_default(),
                // The GCS exits with its Redis connection: follow the Ray pods too.
                follow: vec![selector, ray_pods_selector(facts)],
                mark: None,
            })
        })
    }

    fn replicas_kept(&self, s: &Survival) -> bool {
        s.replicas_unchanged && s.serve_controller_kept() != Some(false)
    }

    fn replicas_lost(&self) -> &'static str {
        "Ray's state did not come back from Redis: the Serve controller or replicas were re-created (a restarted GCS reads only what the new Redis holds; Redis /data must outlive its pod)"
    }

    /// Ray's GCS exits when its Redis connection drops (ray#53475: up to Ray 2.52 with a
    /// SIGSEGV in its retry; a later fix reconnects): with Redis' data kept, the restarted GCS
    /// reads Ray's state back and nothing else restarts.
    fn gcs_exits(&self) -> bool {
        true
    }
}

/// Where the Redis pod keeps /data: the volume mounted there, or the container's own files.
fn data_volume(pod: &Pod) -> String {
    let Some(spec) = pod.spec.as_ref() else {
        return "unknown".into();
    };
    let mounted = spec
        .containers
        .iter()
        .flat_map(|c| c.volume_mounts.iter().flatten())
        .find(|m| m.mount_path.trim_end_matches('/') == "/data");
    let Some(m) = mounted else {
        return "the container's own filesystem (no volume at /data)".into();
    };
    let volume = spec.volumes.iter().flatten().find(|v| v.name == m.name);
    match volume {
        Some(v) if v.persistent_volume_claim.is_some() => format!(
            "persistentVolumeClaim {}",
            v.persistent_volume_claim
                .as_ref()
                .map_or("", |c| c.claim_name.as_str())
        ),
        Some(v) if v.empty_dir.is_some() => "emptyDir".into(),
        Some(v) if v.host_path.is_some() => "hostPath".into(),
        Some(v) => format!("volume {}", v.name),
        None => format!("volume {} (not in the pod)", m.name),
    }
}
