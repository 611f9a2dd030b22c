//! What a drill kills. Each target is one file beside its siblings: how it picks its victim,
//! what it checks before, what recovery means for it and which losses it tolerates. The drill
//! itself (round, follow, verdict) asks the target, or the role of its victim, and never matches
//! on which target it is.

mod apply;
mod head;
mod node;
mod redis;
mod serve_config;
mod upgrade;
mod worker;

use std::time::Instant;

pub use apply::ApplyChange;

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams};
use tokio::sync::mpsc;

use super::report::Survival;
use crate::cli::{FailoverArgs, FailoverTarget};
use crate::cluster::{Cluster, KubeContext};
use crate::error::{Error, Result};
use crate::rayservice::Role;
use crate::status::Facts;

/// The pod a round deletes (for a change rehearsal: the pod the change replaces, if any).
#[derive(Debug, Clone, Default)]
pub struct Victim {
    pub name: String,
    pub uid: String,
    /// The node it runs on (when scheduled): the pod route's tester keeps off it.
    pub node: Option<String>,
    /// Label selectors of the pods the round follows; its replacement is among them.
    pub follow: Vec<String>,
    /// The value a change rehearsal writes, unique to the round: how its probe knows the
    /// change is through.
    pub mark: Option<String>,
    /// Where the victim keeps its data, when the round judges what survived (Redis' /data).
    pub data: Option<String>,
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
    /// Whether losing the victim makes the GCS exit (its Redis connection drops): the head
    /// container's restart is then expected, and the round judges and reports instead whether
    /// Ray's state came back from the store.
    fn gcs_exits(&self) -> bool {
        false
    }
    /// Permissions the strike needs: (verb, group, resource or resource/subresource,
    /// cluster-scoped), checked before anything is touched.
    fn permissions(&self) -> &'static [(&'static str, &'static str, &'static str, bool)] {
        &[DELETE_PODS]
    }
    /// How long a round waits for full recovery unless `--recovery-timeout` says.
    fn default_recovery_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(300)
    }
    /// What the confirmation says the drill does to its victim ("deletes").
    fn verb(&self) -> &'static str {
        "deletes"
    }
    /// Checks that read more of the cluster than the facts (room for a second RayCluster).
    fn preflight_cluster<'a>(
        &'a self,
        _cluster: &'a Cluster,
        _facts: &'a Facts,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async { Ok(()) })
    }
    /// Whether recovery waits for a pod that replaces the victim (an in-place change replaces
    /// none).
    fn replaces_victim(&self) -> bool {
        true
    }
    /// Whether the strike makes KubeRay replace the whole RayCluster (an upgrade): recovery
    /// then also waits for the serve Service to switch to the new cluster, and every pod and
    /// replica of the old one is expected to go.
    fn replaces_cluster(&self) -> bool {
        false
    }
    /// A check follow polls (every 2 s) until it holds; recovery waits for it too. For what
    /// no watch shows (Serve applied a new config).
    fn probe<'a>(
        &'a self,
        _cluster: &'a Cluster,
        _facts: &'a Facts,
        _victim: &'a Victim,
    ) -> Option<BoxFuture<'a, Result<bool>>> {
        None
    }
    /// What a round did, in place of "deleted pod X", for a strike that deletes no pod.
    fn change(&self, _victim: &Victim) -> Option<String> {
        None
    }
    /// The strike itself: deletes the victim pod. A target that does more (a node drain) says
    /// what it leaves running and what must be undone, however the round ends.
    fn strike<'a>(&'a self, s: StrikeAt<'a>) -> BoxFuture<'a, Result<Strike>> {
        Box::pin(async move {
            delete_pod(s.cluster, &s.victim.name, s.grace_period).await?;
            Ok(Strike::done(format!(
                "deleted {} pod {}",
                self.word(),
                s.victim.name
            )))
        })
    }
}

/// What deleting a pod needs.
pub const DELETE_PODS: (&str, &str, &str, bool) = ("delete", "", "pods", false);
/// What a change rehearsal's patch of the RayService needs.
pub const PATCH_RAYSERVICES: (&str, &str, &str, bool) = ("patch", "ray.io", "rayservices", false);

/// The field manager of a change rehearsal's patch. Not `apply`'s own: `apply` takes back what
/// a rehearsal changed (spec.serveConfigV2) without a conflict, and anyone else's server-side
/// apply is told who changed the field.
pub const REHEARSAL_MANAGER: &str = "kubectl-rayha-rehearsal";

/// A rehearsal's patch parameters: its field manager, the server's strict field validation.
fn rehearsal_patch() -> kube::api::PatchParams {
    kube::api::PatchParams {
        field_manager: Some(REHEARSAL_MANAGER.into()),
        ..Default::default()
    }
    .validation_strict()
}

/// The value a change rehearsal writes: new each round (unix seconds).
fn round_mark() -> Option<String> {
    Some(format!("{:.0}", crate::failover::now_unix()))
}

/// What a strike acts on.
pub struct StrikeAt<'a> {
    pub cluster: &'a Cluster,
    pub facts: &'a Facts,
    pub victim: &'a Victim,
    pub grace_period: Option<u32>,
}

/// A timeline entry of a strike, timed when it happened.
pub type Timed = (Instant, String);

/// What a strike did, reports while the round follows the recovery, and leaves to finish.
pub struct Strike {
    /// The timeline's first entry.
    pub first: String,
    /// The node a drain took out of service.
    pub drained_node: Option<String>,
    /// Entries as they happen (a drain's evictions, refusals by a budget).
    pub events: Option<mpsc::UnboundedReceiver<Timed>>,
    /// Ends what still runs and undoes what must not outlive the round (uncordon); run
    /// whether the round recovered, failed or was interrupted.
    pub finish: Option<BoxFuture<'static, Vec<Timed>>>,
}

impl Strike {
    /// A strike with nothing left running (a pod deletion).
    pub fn done(first: String) -> Strike {
        Strike {
            first,
            drained_node: None,
            events: None,
            finish: None,
        }
    }

    /// Runs the finish, then collects every entry the strike reported.
    pub async fn end(mut self) -> Vec<Timed> {
        let mut out = Vec::new();
        if let Some(f) = self.finish.take() {
            out.extend(f.await);
        }
        if let Some(rx) = &mut self.events {
            while let Ok(e) = rx.try_recv() {
                out.push(e);
            }
        }
        out
    }
}

async fn delete_pod(cluster: &Cluster, pod: &str, grace_period: Option<u32>) -> Result<()> {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let mut dp = DeleteParams::default();
    if let Some(g) = grace_period {
        dp = dp.grace_period(g);
    }
    pods.delete(pod, &dp)
        .await
        .context(format!("cannot delete pod {pod}"))?;
    Ok(())
}

/// The target the flag names, with its defaults.
pub fn of(target: FailoverTarget) -> &'static dyn Target {
    match target {
        FailoverTarget::Head => &head::Head,
        FailoverTarget::Worker => &worker::Worker,
        FailoverTarget::Redis => &redis::Redis,
        FailoverTarget::Node => &node::NODE_OF_A_WORKER,
        FailoverTarget::Upgrade => &upgrade::Upgrade,
        FailoverTarget::ServeConfig => &serve_config::ServeConfig,
    }
}

/// The target of a drill's flags (a node drill's choice of node and drain timeout).
pub fn for_args(args: &FailoverArgs) -> Result<Box<dyn Target>> {
    Ok(match args.target {
        FailoverTarget::Node => Box::new(node::Node::from_args(args)?),
        FailoverTarget::Head => Box::new(head::Head),
        FailoverTarget::Worker => Box::new(worker::Worker),
        FailoverTarget::Redis => Box::new(redis::Redis),
        FailoverTarget::Upgrade => Box::new(upgrade::Upgrade),
        FailoverTarget::ServeConfig => Box::new(serve_config::ServeConfig),
    })
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
        node: p.node.clone(),
        follow: vec![ray_pods_selector(facts)],
        mark: None,
        data: None,
    })
}

fn describe_ray_pod(facts: &Facts, role: Role) -> Option<String> {
    facts
        .pods
        .iter()
        .find(|p| p.role == role)
        .map(|p| format!("{role} pod {}", p.name))
}
