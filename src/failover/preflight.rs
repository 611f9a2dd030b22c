//! Checks before a drill touches anything, and the confirmation.

use super::Settings;
use super::target::Target;
use crate::cli::FailoverArgs;
use crate::cluster::{self, Cluster};
use crate::error::{Error, Result};
use crate::status::{self, Facts};

/// Reads the RayService and refuses what a drill cannot measure; returns the facts it starts
/// from.
pub async fn check(
    cluster: &Cluster,
    args: &FailoverArgs,
    settings: &Settings,
    target: &dyn Target,
) -> Result<Facts> {
    // What the user may do first: without it nothing else matters.
    may(cluster, target, settings.has_pod_route()).await?;
    let facts = status::gather(cluster, &args.name).await?;
    ready(&facts)?;
    fault_tolerant(&facts, args.force)?;
    target.preflight(&facts)?;
    target.preflight_cluster(cluster, &facts).await?;
    // The proxy and pod routes go through the serve Service (a --url may go anywhere).
    if args.url.is_none() || settings.has_pod_route() {
        serving_besides_the_head(&facts)?;
    }
    Ok(facts)
}

/// What the tester pod of the pod route needs in the namespace: its ConfigMap and pod created
/// and deleted, the pod read while it starts, its log followed.
const POD_ROUTE_PERMISSIONS: &[(&str, &str, &str, bool)] = &[
    ("create", "", "configmaps", false),
    ("delete", "", "configmaps", false),
    ("create", "", "pods", false),
    ("get", "", "pods", false),
    ("get", "", "pods/log", false),
];

/// The permissions a drill needs: what the target's strike needs, and the pod route's.
fn permissions(
    target: &dyn Target,
    pod_route: bool,
) -> Vec<(&'static str, &'static str, &'static str, bool)> {
    let route: &[_] = if pod_route {
        POD_ROUTE_PERMISSIONS
    } else {
        &[]
    };
    target.permissions().iter().chain(route).copied().collect()
}

/// Every permission the drill needs, each asked of the API server; every missing one is named
/// at once.
async fn may(cluster: &Cluster, target: &dyn Target, pod_route: bool) -> Result<()> {
    let mut missing = Vec::new();
    for (verb, group, resource, cluster_wide) in permissions(target, pod_route) {
        let ns = if cluster_wide {
            ""
        } else {
            cluster.namespace.as_str()
        };
        if !cluster::can_i(&cluster.client, verb, group, resource, ns).await? {
            missing.push(format!(
                "{verb} {resource}{}",
                if cluster_wide {
                    " (cluster-wide)".to_string()
                } else {
                    format!(" in namespace {ns}")
                }
            ));
        }
    }
    if missing.is_empty() {
        return Ok(());
    }
    Err(Error::failed(format!(
        "a {} drill{} needs permissions this user lacks: {} (SelfSubjectAccessReview); nothing was changed",
        target.id(),
        if pod_route { " with the pod route" } else { "" },
        missing.join(", ")
    )))
}

fn ready(facts: &Facts) -> Result<()> {
    let name = &facts.name;
    if !facts.ready().is_some_and(|c| c["status"] == "True") {
        return Err(Error::failed(format!(
            "rayservice/{name} is not Ready: wait for it (kubectl rayha status {name})"
        )));
    }
    Ok(())
}

/// Without GCS fault tolerance a drill measures a known outage; `--force` asks for exactly that.
fn fault_tolerant(facts: &Facts, force: bool) -> Result<()> {
    let ft = facts.spec_gcs_ft && facts.head().is_some_and(|h| h.gcs_store.is_some());
    if ft || force {
        return Ok(());
    }
    Err(Error::failed(format!(
        "rayservice/{} runs without GCS fault tolerance{}: when the head restarts, a new empty GCS makes the worker raylets exit, every Serve replica dies and the apps are redeployed, so requests fail; enable gcsFaultToleranceOptions (kubectl rayha generate), or pass --force to measure exactly that",
        facts.name,
        if facts.spec_gcs_ft {
            " on the running head pod"
        } else {
            ""
        }
    )))
}

fn serving_besides_the_head(facts: &Facts) -> Result<()> {
    let head_name = facts.head().map(|h| h.name.clone());
    let others = facts
        .serve_endpoints
        .iter()
        .filter(|e| e.ready && e.pod != head_name)
        .count();
    if others == 0 {
        return Err(Error::failed(format!(
            "{}-serve-svc has no ready endpoint besides the head: nothing would answer while it is down",
            facts.name
        )));
    }
    Ok(())
}

pub fn confirm(args: &FailoverArgs, target: &dyn Target, facts: &Facts) -> Result<bool> {
    let victim = target.describe(facts).unwrap_or_else(|| "a pod".into());
    cluster::confirm(
        &format!(
            "This {} {victim} of rayservice/{} in namespace {} {} time(s). Continue?",
            target.verb(),
            args.name,
            facts.namespace,
            args.rounds
        ),
        "change the cluster",
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failover::target::{self};

    #[test]
    fn the_pod_route_asks_for_its_tester_permissions_only_when_used() {
        let head = target::of(crate::cli::FailoverTarget::Head);
        let without = permissions(head, false);
        assert_eq!(without, vec![("delete", "", "pods", false)]);
        let with = permissions(head, true);
        for p in [
            ("create", "", "pods", false),
            ("create", "", "configmaps", false),
            ("delete", "", "configmaps", false),
            ("get", "", "pods/log", false),
        ] {
            assert!(with.contains(&p), "{p:?} in {with:?}");
        }
        assert_eq!(with[0], ("delete", "", "pods", false));
    }
}
