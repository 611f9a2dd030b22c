//! A node drain as `kubectl drain` does it: cordon, evict every pod through the Eviction API
//! (so disruption budgets are honoured: a 429 is retried until the drain's deadline), skipping
//! DaemonSet and mirror pods, and uncordon at the end.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{Node, Pod};
use kube::api::{Api, EvictParams, ListParams, Patch, PatchParams, PostParams};
use kube::{Client, ResourceExt};

use super::KubeContext;
use crate::error::Result;

/// How often a refused eviction is tried again (kubectl drain waits 5 s).
const RETRY_EVERY: Duration = Duration::from_secs(2);

/// Cordons `node`; false when it already was (then the drill must leave it cordoned).
pub async fn cordon(client: &Client, node: &str) -> Result<bool> {
    let nodes: Api<Node> = Api::all(client.clone());
    let n = nodes
        .get(node)
        .await
        .context(format!("cannot read node {node}"))?;
    if n.spec.and_then(|s| s.unschedulable).unwrap_or(false) {
        return Ok(false);
    }
    set_unschedulable(&nodes, node, true).await?;
    Ok(true)
}

pub async fn uncordon(client: &Client, node: &str) -> Result<()> {
    set_unschedulable(&Api::all(client.clone()), node, false).await
}

async fn set_unschedulable(nodes: &Api<Node>, node: &str, on: bool) -> Result<()> {
    let patch = serde_json::json!({"spec": {"unschedulable": on}});
    nodes
        .patch(node, &PatchParams::default(), &Patch::Merge(&patch))
        .await
        .context(format!(
            "cannot {} node {node}",
            if on { "cordon" } else { "uncordon" }
        ))?;
    Ok(())
}

/// The pods a drain evicts from `node`, in every namespace: not DaemonSet pods (their
/// controller ignores cordons), not mirror pods (the kubelet owns them), not finished ones.
pub async fn pods_on(client: &Client, node: &str) -> Result<Vec<Pod>> {
    let pods: Api<Pod> = Api::all(client.clone());
    let list = pods
        .list(&ListParams::default().fields(&format!("spec.nodeName={node}")))
        .await
        .context(format!("cannot list the pods on node {node}"))?;
    Ok(list.items.into_iter().filter(evictable).collect())
}

fn evictable(p: &Pod) -> bool {
    let daemon = p
        .owner_references()
        .iter()
        .any(|o| o.kind == "DaemonSet" && o.controller == Some(true));
    let mirror = p.annotations().contains_key("kubernetes.io/config.mirror");
    let finished = p
        .status
        .as_ref()
        .and_then(|s| s.phase.as_deref())
        .is_some_and(|ph| ph == "Succeeded" || ph == "Failed");
    !(daemon || mirror || finished || p.metadata.deletion_timestamp.is_some())
}

/// How one eviction ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Evicted {
    /// The API server accepted it.
    Done,
    /// The pod was gone already.
    Gone,
    /// Refused (a budget) until the deadline; the server's last word.
    Refused(String),
    /// Another error, which retrying does not fix.
    Failed(String),
}

/// Evicts `ns/name`, trying again while a disruption budget refuses (429) until `deadline`;
/// `on_refusal` hears the first refusal, once.
pub async fn evict(
    client: &Client,
    ns: &str,
    name: &str,
    deadline: Instant,
    mut on_refusal: impl FnMut(&str),
) -> Evicted {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let mut told = false;
    loop {
        match pods.evict(name, &EvictParams::default()).await {
            Ok(_) => return Evicted::Done,
            Err(kube::Error::Api(e)) if e.code == 404 => return Evicted::Gone,
            Err(kube::Error::Api(e)) if e.code == 429 => {
                if !told {
                    on_refusal(&e.message);
                    told = true;
                }
                if Instant::now() + RETRY_EVERY > deadline {
                    return Evicted::Refused(e.message);
                }
                tokio::time::sleep(RETRY_EVERY).await;
            }
            Err(e) => return Evicted::Failed(super::describe_kube_error(&e)),
        }
    }
}

/// Whether the API server would evict `ns/name` now (a dry run: nothing is evicted); the
/// refusal's message when it would not.
pub async fn would_evict(client: &Client, ns: &str, name: &str) -> Result<Option<String>> {
    let pods: Api<Pod> = Api::namespaced(client.clone(), ns);
    let params = EvictParams {
        post_options: PostParams {
            dry_run: true,
            ..PostParams::default()
        },
        ..EvictParams::default()
    };
    match pods.evict(name, &params).await {
        Ok(_) => Ok(None),
        Err(kube::Error::Api(e)) if e.code == 429 => Ok(Some(e.message)),
        Err(e) => Err(crate::error::Error::failed(format!(
            "cannot ask for the eviction of pod {name}: {}",
            super::describe_kube_error(&e)
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pod(v: serde_json::Value) -> Pod {
        serde_json::from_value(v).unwrap()
    }

    #[test]
    fn daemonset_mirror_finished_and_terminating_pods_are_left_alone() {
        let plain = pod(json!({"metadata": {"name": "a"}, "status": {"phase": "Running"}}));
        assert!(evictable(&plain));
        let daemon = pod(json!({"metadata": {"name": "d", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "DaemonSet", "name": "ds", "uid": "1", "controller": true}
        ]}}));
        let mirror = pod(json!({"metadata": {"name": "m",
            "annotations": {"kubernetes.io/config.mirror": "x"}}}));
        let done = pod(json!({"metadata": {"name": "j"}, "status": {"phase": "Succeeded"}}));
        let going = pod(json!({"metadata": {"name": "g",
            "deletionTimestamp": "2026-11-30T00:00:00Z"}}));
        for p in [daemon, mirror, done, going] {
            assert!(!evictable(&p), "{:?}", p.metadata.name);
        }
        // A ReplicaSet's pod is evicted.
        let rs = pod(json!({"metadata": {"name": "r", "ownerReferences": [
            {"apiVersion": "apps/v1", "kind": "ReplicaSet", "name": "x", "uid": "2", "controller": true}
        ]}}));
        assert!(evictable(&rs));
    }
}
