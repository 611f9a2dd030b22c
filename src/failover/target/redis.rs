//! The bundle's Redis pod: the GCS must not go down with it, and nothing on the Ray side may
//! restart or be redeployed.

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};

use super::{Target, Victim, ray_pods_selector};
use crate::cluster::{Cluster, KubeContext};
use crate::error::{Error, Result};
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
                name: p.metadata.name.unwrap_or_default(),
                uid: p.metadata.uid.unwrap_or_default(),
                // Losing Redis must not take the GCS down: follow the Ray pods too.
                follow: vec![selector, ray_pods_selector(facts)],
                mark: None,
            })
        })
    }

    /// The serve endpoints never depended on Redis.
    fn needs_serve_endpoints(&self) -> bool {
        false
    }

    fn head_restart_cause(&self) -> &'static str {
        " when it lost Redis, and a restarted GCS reads only what the new Redis holds"
    }
}
