//! A new-cluster upgrade, rehearsed: one annotation on the head's pod template changes the
//! cluster spec without changing behaviour, so KubeRay starts a pending RayCluster, waits for its
//! apps, switches the serve Service to it and deletes the old one. What users do with an image
//! or resource change, measured without one.

use futures::future::BoxFuture;
use kube::api::Patch;

use super::{PATCH_RAYSERVICES, Strike, StrikeAt, Target, Victim, rehearsal_patch, round_mark};
use crate::cluster::{Cluster, KubeContext, capacity};
use crate::error::{Error, Result};
use crate::failover::report::Survival;
use crate::rayservice::{self, Role};
use crate::status::Facts;

/// The pod-template annotation a rehearsal sets (a new value each round).
pub const ANNOTATION: &str = "rayha.io/rehearsal";

/// Every Ray pod of the namespace: the new cluster's name is known only once KubeRay made it,
/// so the round follows all and keeps those of this RayService's clusters.
const RAY_PODS: &str = "ray.io/is-ray-node=yes";

pub struct Upgrade;

impl Target for Upgrade {
    fn id(&self) -> &'static str {
        "upgrade"
    }

    fn word(&self) -> &'static str {
        "head"
    }

    /// The new cluster's head replaces the old one's.
    fn role(&self) -> Role {
        Role::Head
    }

    fn verb(&self) -> &'static str {
        "upgrades (a new RayCluster replaces)"
    }

    /// The patch, and what the capacity preflight reads (nodes and the pods on them).
    fn permissions(&self) -> &'static [(&'static str, &'static str, &'static str, bool)] {
        const P: &[(&str, &str, &str, bool)] = &[
            PATCH_RAYSERVICES,
            capacity::PERMISSIONS[0],
            capacity::PERMISSIONS[1],
        ];
        P
    }

    fn preflight(&self, facts: &Facts) -> Result<()> {
        not_upgrading(facts)
    }

    fn preflight_cluster<'a>(
        &'a self,
        cluster: &'a Cluster,
        facts: &'a Facts,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let rs = rayservice::get_value(cluster, &facts.name).await?;
            upgrades_to_a_new_cluster(&facts.name, &rs["spec"]["upgradeStrategy"]["type"])?;
            room_for_a_second_cluster(cluster, &rs["spec"]["rayClusterConfig"]).await
        })
    }

    fn describe(&self, facts: &Facts) -> Option<String> {
        facts.serving_cluster().map(|rc| format!("RayCluster {rc}"))
    }

    fn pick<'a>(&'a self, _: &'a Cluster, facts: &'a Facts) -> BoxFuture<'a, Result<Victim>> {
        Box::pin(async move { old_head(facts, round_mark()) })
    }

    /// A whole new cluster starts beside the old one (on a small node, both compete), KubeRay
    /// waits for its apps, and deletes the old one a minute after the switch.
    fn default_recovery_timeout(&self) -> std::time::Duration {
        std::time::Duration::from_secs(900)
    }

    fn replaces_cluster(&self) -> bool {
        true
    }

    /// Every replica is new; each deployment must be back at its count.
    fn replicas_kept(&self, s: &Survival) -> bool {
        s.deployments_back_at_their_count()
    }

    fn replicas_lost(&self) -> &'static str {
        "a Serve deployment did not get back to its replica count on the new cluster"
    }

    fn change(&self, victim: &Victim) -> Option<String> {
        Some(format!(
            "upgraded to a new RayCluster (old head pod {})",
            victim.name
        ))
    }

    fn strike<'a>(&'a self, s: StrikeAt<'a>) -> BoxFuture<'a, Result<Strike>> {
        Box::pin(async move {
            let mark = s.victim.mark.clone().unwrap_or_default();
            let patch = serde_json::json!({"spec": {"rayClusterConfig": {"headGroupSpec": {
                "template": {"metadata": {"annotations": {ANNOTATION: mark}}}}}}});
            let name = &s.facts.name;
            rayservice::api(s.cluster)
                .patch(name, &rehearsal_patch(), &Patch::Merge(&patch))
                .await
                .context(format!("cannot patch rayservice/{name}"))?;
            Ok(Strike::done(format!(
                "patched rayservice/{name}: head pod template annotation {ANNOTATION}={mark} (a new-cluster upgrade of RayCluster {})",
                s.facts.serving_cluster().unwrap_or_default()
            )))
        })
    }
}

/// An upgrade already under way would be measured half-way.
pub(super) fn not_upgrading(facts: &Facts) -> Result<()> {
    match &facts.pending_cluster {
        Some(pending) => Err(Error::failed(format!(
            "rayservice/{} is already upgrading (pending RayCluster {pending}): wait until it is done (kubectl rayha status {}); nothing was changed",
            facts.name, facts.name
        ))),
        None => Ok(()),
    }
}

/// Both clusters run side by side until the switch: without room for the new one (`spec`, a
/// `rayClusterConfig`) its pods stay Pending and the upgrade never ends.
pub(super) async fn room_for_a_second_cluster(
    cluster: &Cluster,
    spec: &serde_json::Value,
) -> Result<()> {
    match capacity::room_for_new_cluster(cluster, spec)
        .await?
        .refusal()
    {
        Some(r) => Err(Error::failed(format!("{r}; nothing was changed"))),
        None => Ok(()),
    }
}

/// The serving cluster's head, which a new cluster's replaces; the round follows every Ray
/// pod of the namespace (the new cluster's name is known only once KubeRay made it).
pub(super) fn old_head(facts: &Facts, mark: Option<String>) -> Result<Victim> {
    let head = facts.head().ok_or_else(|| Error::failed("no head pod"))?;
    Ok(Victim {
        name: head.name.clone(),
        uid: head.uid.clone(),
        node: None,
        follow: vec![RAY_PODS.into()],
        mark,
        data: None,
    })
}

/// Refuses a strategy under which a spec change starts no new RayCluster, or one this
/// rehearsal does not follow.
fn upgrades_to_a_new_cluster(name: &str, strategy: &serde_json::Value) -> Result<()> {
    match strategy.as_str() {
        None | Some("NewCluster") => Ok(()),
        Some("None") => Err(Error::failed(format!(
            "rayservice/{name} has upgradeStrategy None: a change to its cluster spec starts no new RayCluster, so there is no upgrade to rehearse"
        ))),
        Some(other) => Err(Error::failed(format!(
            "rayservice/{name} has upgradeStrategy {other}: the upgrade rehearsal follows NewCluster upgrades only"
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_a_new_cluster_strategy_can_be_rehearsed() {
        assert!(upgrades_to_a_new_cluster("shop", &json!(null)).is_ok());
        assert!(upgrades_to_a_new_cluster("shop", &json!("NewCluster")).is_ok());
        let none = upgrades_to_a_new_cluster("shop", &json!("None"))
            .unwrap_err()
            .to_string();
        assert!(none.contains("upgradeStrategy None"), "{none}");
        let incremental =
            upgrades_to_a_new_cluster("shop", &json!("NewClusterWithIncrementalUpgrade"))
                .unwrap_err()
                .to_string();
        assert!(
            incremental.contains("NewCluster upgrades only"),
            "{incremental}"
        );
    }

    #[test]
    fn an_upgrade_under_way_is_refused() {
        let facts = Facts {
            name: "shop".into(),
            pending_cluster: Some("shop-abcde".into()),
            ..Facts::default()
        };
        let e = Upgrade.preflight(&facts).unwrap_err().to_string();
        assert!(
            e.contains("already upgrading") && e.contains("shop-abcde"),
            "{e}"
        );
        assert!(Upgrade.preflight(&Facts::default()).is_ok());
    }

    #[test]
    fn every_deployment_must_be_back_at_its_count() {
        let s = |before: &[(&str, usize)], after: &[(&str, usize)]| Survival {
            replicas_before: before
                .iter()
                .map(|(d, n)| (d.to_string(), (0..*n).map(|i| format!("old{i}")).collect()))
                .collect(),
            replicas_after: after
                .iter()
                .map(|(d, n)| (d.to_string(), (0..*n).map(|i| format!("new{i}")).collect()))
                .collect(),
            ..Survival::default()
        };
        assert!(Upgrade.replicas_kept(&s(&[("a/A", 2), ("a/B", 2)], &[("a/A", 2), ("a/B", 2)])));
        assert!(!Upgrade.replicas_kept(&s(&[("a/A", 2), ("a/B", 2)], &[("a/A", 2), ("a/B", 1)])));
        assert!(!Upgrade.replicas_kept(&s(&[("a/A", 2)], &[])));
        assert!(!Upgrade.replicas_kept(&s(&[], &[])));
    }
}
