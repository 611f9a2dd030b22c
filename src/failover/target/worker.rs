//! One worker pod: its replicas are re-created elsewhere; the other workers, their replicas and
//! the head must come through.

use futures::future::BoxFuture;

use super::{Target, Victim, describe_ray_pod, ray_pod_victim};
use crate::cluster::Cluster;
use crate::error::Result;
use crate::failover::report::Survival;
use crate::rayservice::Role;
use crate::status::Facts;

pub struct Worker;

impl Target for Worker {
    fn id(&self) -> &'static str {
        "worker"
    }

    fn word(&self) -> &'static str {
        "worker"
    }

    fn role(&self) -> Role {
        Role::Worker
    }

    fn describe(&self, facts: &Facts) -> Option<String> {
        describe_ray_pod(facts, Role::Worker)
    }

    fn pick<'a>(&'a self, _: &'a Cluster, facts: &'a Facts) -> BoxFuture<'a, Result<Victim>> {
        Box::pin(async move { ray_pod_victim(facts, Role::Worker) })
    }

    /// The victim's replicas are re-created elsewhere; each deployment keeps the others and gets
    /// back to its replica count.
    fn replicas_kept(&self, s: &Survival) -> bool {
        !s.replicas_before.is_empty()
            && s.replicas_before.iter().all(|(d, ids)| {
                let after = s.replicas_after.get(d);
                let kept = ids
                    .iter()
                    .filter(|id| after.is_some_and(|a| a.contains(id)))
                    .count();
                let per_worker = ids.len().div_ceil(s.workers_before.len().max(1));
                kept + per_worker >= ids.len() && after.is_some_and(|a| a.len() >= ids.len())
            })
    }

    fn replicas_lost(&self) -> &'static str {
        "Serve replicas on the surviving workers were replaced, or a deployment did not get back to its replica count"
    }
}
