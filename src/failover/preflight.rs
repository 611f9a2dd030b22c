//! Checks before a drill touches anything, and the confirmation.

use super::target::Target;
use crate::cli::FailoverArgs;
use crate::cluster::{self, Cluster};
use crate::error::{Error, Result};
use crate::status::{self, Facts};

/// Reads the RayService and refuses what a drill cannot measure; returns the facts it starts
/// from.
pub async fn check(cluster: &Cluster, args: &FailoverArgs, target: &dyn Target) -> Result<Facts> {
    // What the user may do first: without it nothing else matters.
    may(cluster, target).await?;
    let facts = status::gather(cluster, &args.name).await?;
    ready(&facts)?;
    fault_tolerant(&facts, args.force)?;
    target.preflight(&facts)?;
    if args.url.is_none() {
        serving_besides_the_head(&facts)?;
    }
    Ok(facts)
}

/// Deleting pods in the namespace, and what the target's strike needs besides, each asked of
/// the API server; every missing permission is named at once.
async fn may(cluster: &Cluster, target: &dyn Target) -> Result<()> {
    let mut missing = Vec::new();
    let delete_pods = ("delete", "", "pods", false);
    for &(verb, group, resource, cluster_wide) in
        std::iter::once(&delete_pods).chain(target.permissions())
    {
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
        "a {} drill needs permissions this user lacks: {} (SelfSubjectAccessReview); nothing was changed",
        target.id(),
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
            "This deletes {victim} of rayservice/{} in namespace {} {} time(s). Continue?",
            args.name, facts.namespace, args.rounds
        ),
        "delete a pod",
    )
}
