//! How a change to the cluster spec rolls out (`spec.upgradeStrategy`, KubeRay 1.3+): KubeRay
//! starts a second RayCluster and switches the serve Service once its apps run (NewCluster, the
//! default), shifts traffic step by step through the Gateway API (KubeRay 1.7's
//! NewClusterWithIncrementalUpgrade), or does nothing (None).

use super::{Check, Ctx, Level, miss, pass};

pub(super) fn check_upgrade_strategy(ctx: &Ctx) -> Check {
    const ID: &str = "upgrade-strategy";
    let strategy = &ctx.rs["spec"]["upgradeStrategy"];
    match strategy["type"].as_str() {
        None => pass(
            ID,
            "not set: KubeRay's default NewCluster (a new RayCluster, traffic switched once its apps run)",
        ),
        Some("NewCluster") => pass(
            ID,
            "NewCluster: a change to the cluster spec starts a new RayCluster and switches traffic once its apps run",
        ),
        Some("NewClusterWithIncrementalUpgrade") => {
            let gateway = strategy["clusterUpgradeOptions"]["gatewayClassName"].as_str();
            match gateway.filter(|g| !g.is_empty()) {
                Some(g) => pass(
                    ID,
                    format!(
                        "NewClusterWithIncrementalUpgrade through the Gateway API (gatewayClassName {g}; KubeRay 1.7+ with its incremental-upgrade feature gate)"
                    ),
                ),
                None => miss(
                    ID,
                    Level::Fail,
                    "NewClusterWithIncrementalUpgrade without upgradeStrategy.clusterUpgradeOptions.gatewayClassName",
                    "the incremental upgrade shifts traffic through a Gateway; without one KubeRay rejects the RayService",
                    "set clusterUpgradeOptions (gatewayClassName, stepSizePercent, intervalSeconds), or use type: NewCluster",
                ),
            }
        }
        Some("None") => miss(
            ID,
            Level::Warn,
            "upgradeStrategy None: a change to the cluster spec does not start a new RayCluster",
            "an image, Ray version or pod template change then never reaches the running cluster, or needs a manual switch with downtime",
            "use type: NewCluster (the cluster then needs room for a second RayCluster during the upgrade)",
        ),
        Some(other) => miss(
            ID,
            Level::Fail,
            format!("upgradeStrategy.type {other:?} is not one KubeRay knows"),
            "KubeRay rejects the RayService",
            "use NewCluster, NewClusterWithIncrementalUpgrade or None",
        ),
    }
}
