//! The bundle's Redis pod: Ray's GCS exits when it loses Redis and its restart must read Ray's
//! state back, so that nothing else on the Ray side restarts or is redeployed.

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::{Pod, Service};
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
            // The bundle's Redis by its labels; any other (the guide's) through the Service the
            // head's RAY_REDIS_ADDRESS names.
            let mut selector = Role::Redis.selector("", &facts.name);
            let mut list = pods
                .list(&ListParams::default().labels(&selector))
                .await
                .context("cannot list the Redis pods")?;
            if list.items.is_empty()
                && let Some(found) = selector_of_redis_service(cluster, facts).await?
            {
                selector = found;
                list = pods
                    .list(&ListParams::default().labels(&selector))
                    .await
                    .context("cannot list the Redis pods")?;
            }
            let p = list.items.into_iter().next().ok_or_else(|| {
                Error::failed(
                    "no Redis pod in this namespace behind the head's RAY_REDIS_ADDRESS (an external Redis cannot be drilled here)",
                )
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

    /// The serve endpoints can include the head, whose GCS exits.
    fn needs_serve_endpoints(&self) -> bool {
        true
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

/// The label selector of the Service in this namespace that the head's RAY_REDIS_ADDRESS names
/// (KubeRay sets it from redisAddress), when there is one.
async fn selector_of_redis_service(cluster: &Cluster, facts: &Facts) -> Result<Option<String>> {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let heads = pods
        .list(&ListParams::default().labels(&format!(
            "{},ray.io/node-type=head",
            ray_pods_selector(facts)
        )))
        .await
        .context("cannot list the head pod")?;
    let address = heads
        .items
        .iter()
        .flat_map(|p| p.spec.iter().flat_map(|s| s.containers.iter()))
        .flat_map(|c| c.env.iter().flatten())
        .find(|e| e.name == "RAY_REDIS_ADDRESS")
        .and_then(|e| e.value.clone());
    let Some(address) = address else {
        return Ok(None);
    };
    let services: Api<Service> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let name = crate::validate::redis_service_label(address.split(',').next().unwrap_or(""));
    let Some(svc) = services
        .get_opt(name)
        .await
        .context(format!("cannot read service {name}"))?
    else {
        return Ok(None);
    };
    Ok(svc
        .spec
        .and_then(|s| s.selector)
        .filter(|sel| !sel.is_empty())
        .map(|sel| {
            sel.iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect::<Vec<_>>()
                .join(",")
        }))
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
