//! What a drill kills. Each target is one file beside its siblings: how it picks its victim,
//! what it checks before, what recovery means for it and which losses it tolerates. The drill
//! itself (round, follow, verdict) asks the target, or the role of its victim, and never matches
//! on which target it is.

mod head;
mod redis;
mod worker;

use futures::future::BoxFuture;

use super::report::Survival;
use crate::cli::FailoverTarget;
use crate::cluster::Cluster;
use crate::error::{Error, Result};
use crate::rayservice::Role;
use crate::status::Facts;

/// The pod a round deletes.
#[derive(Debug, Clone)]
pub struct Victim {
    pub name: String,
    pub uid: String,
    /// Label selectors of the pods the round follows; its replacement is among them.
    pub follow: Vec<String>,
}

pub trait Target: Sync {
    /// The report's `target`.
    fn id(&self) -> &'static str;
    /// The victim's kind in messages ("head", "worker", "Redis").
    fn word(&self) -> &'static str;
    /// The role of the victim and of its replacement.
    fn role(&self) -> Role;
    /// Checks only this target needs, before anything is touched.
    fn preflight(&self, _facts: &Facts) -> Result<()> {
        Ok(())
    }
    /// The victim as the confirmation names it.
    fn describe(&self, facts: &Facts) -> Option<String>;
    /// Picks the pod to delete.
    fn pick<'a>(&'a self, cluster: &'a Cluster, facts: &'a Facts) -> BoxFuture<'a, Result<Victim>>;
    /// Whether full recovery waits for the serve endpoints to be back.
    fn needs_serve_endpoints(&self) -> bool {
        true
    }
    /// Whether the Serve replicas came through as this target requires.
    fn replicas_kept(&self, s: &Survival) -> bool {
        s.replicas_unchanged
    }
    /// The verdict's reason when they did not.
    fn replicas_lost(&self) -> &'static str {
        "Serve replicas were replaced (actor ids changed): the apps were redeployed"
    }
    /// What a restart of the head means after this target's loss ("" when nothing to add).
    fn head_restart_cause(&self) -> &'static str {
        ""
    }
}

/// The target the flag names.
pub fn of(target: FailoverTarget) -> &'static dyn Target {
    match target {
        FailoverTarget::Head => &head::Head,
        FailoverTarget::Worker => &worker::Worker,
        FailoverTarget::Redis => &redis::Redis,
    }
}

/// The Ray pods of the serving cluster, which every round follows.
pub fn ray_pods_selector(facts: &Facts) -> String {
    format!(
        "ray.io/cluster={}",
        facts.serving_cluster().unwrap_or_default()
    )
}

/// The first Ray pod of `role` of the serving cluster.
fn ray_pod_victim(facts: &Facts, role: Role) -> Result<Victim> {
    let p = facts
        .pods
        .iter()
        .find(|p| p.role == role)
        .ok_or_else(|| Error::failed(format!("no {role} pod")))?;
    Ok(Victim {
        name: p.name.clone(),
        uid: p.uid.clone(),
        follow: vec![ray_pods_selector(facts)],
    })
}

fn describe_ray_pod(facts: &Facts, role: Role) -> Option<String> {
    facts
        .pods
        .iter()
        .find(|p| p.role == role)
        .map(|p| format!("{role} pod {}", p.name))
}
