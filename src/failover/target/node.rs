//! A node drain: the node of a worker (the default), of the head (`--node-of head`) or one by
//! name (`--node`), cordoned, its pods evicted as `kubectl drain` evicts them (disruption
//! budgets honoured), and uncordoned when the round ends, however it ends. The node must hold
//! exactly one pod of the RayService, the victim, so that the round judges what it says: the
//! loss of that pod's node. The victim's role decides what must survive, as for its own target.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use futures::future::BoxFuture;
use k8s_openapi::api::core::v1::Pod;
use tokio::sync::mpsc;

use super::head::Head;
use super::worker::Worker;
use super::{Strike, StrikeAt, Target, Timed, Victim, ray_pods_selector};
use crate::cli::{FailoverArgs, NodeOf};
use crate::cluster::Cluster;
use crate::cluster::drain::{self, Evicted};
use crate::error::{Error, Result};
use crate::failover::report::Survival;
use crate::rayservice::{Role, label};
use crate::status::Facts;
use kube::Client;

pub struct Node {
    of: NodeOf,
    named: Option<String>,
    drain_timeout: Duration,
    /// The victim's role once known (from `--node-of`, or from the pod on `--node`).
    chosen: OnceLock<Role>,
}

/// `--target node` with its defaults (tests and `target::of`).
pub static NODE_OF_A_WORKER: Node = Node {
    of: NodeOf::Worker,
    named: None,
    drain_timeout: Duration::from_secs(120),
    chosen: OnceLock::new(),
};

impl Node {
    pub fn from_args(args: &FailoverArgs) -> Result<Node> {
        if let Some(n) = &args.node {
            crate::validate::object_name("node", n)?;
        }
        Ok(Node {
            of: args.node_of,
            named: args.node.clone(),
            drain_timeout: crate::flags::duration("drain-timeout", &args.drain_timeout)?,
            chosen: OnceLock::new(),
        })
    }

    /// The target whose rules judge the victim's loss.
    fn judge(&self) -> &'static dyn Target {
        match self.role() {
            Role::Head => &Head,
            _ => &Worker,
        }
    }

    /// Ray pods of the serving cluster that could be the victim, in order of preference.
    fn candidates<'f>(&self, facts: &'f Facts) -> Vec<&'f crate::status::PodFact> {
        facts
            .pods
            .iter()
            .filter(|p| match (&self.named, self.of) {
                (Some(n), _) => p.node.as_deref() == Some(n),
                (None, NodeOf::Head) => p.role == Role::Head,
                (None, NodeOf::Worker) => p.role == Role::Worker,
            })
            .collect()
    }
}

/// Whether a pod belongs to the RayService's bundle: a Ray pod of its serving cluster, or its
/// Redis.
fn of_the_rayservice(p: &Pod, facts: &Facts) -> bool {
    label(p, "ray.io/cluster") == facts.serving_cluster()
        || (label(p, "app.kubernetes.io/instance") == Some(facts.name.as_str())
            && label(p, "app.kubernetes.io/name") == Some("redis"))
}

impl Target for Node {
    fn id(&self) -> &'static str {
        "node"
    }

    fn word(&self) -> &'static str {
        "node"
    }

    fn role(&self) -> Role {
        self.chosen.get().copied().unwrap_or(match self.of {
            NodeOf::Head => Role::Head,
            NodeOf::Worker => Role::Worker,
        })
    }

    fn preflight(&self, facts: &Facts) -> Result<()> {
        let found = self.candidates(facts);
        if let Some(n) = &self.named {
            let [one] = found.as_slice() else {
                return Err(Error::failed(format!(
                    "node {n} runs {} Ray pod(s) of rayservice/{}: a node drill drains a node that runs exactly one",
                    found.len(),
                    facts.name
                )));
            };
            let _ = self.chosen.set(one.role);
        } else if found.iter().all(|p| p.node.is_none()) {
            return Err(Error::failed(format!(
                "no {} pod of rayservice/{} is on a node yet",
                self.role(),
                facts.name
            )));
        }
        self.judge().preflight(facts)
    }

    fn describe(&self, facts: &Facts) -> Option<String> {
        let p = self.candidates(facts).into_iter().next()?;
        Some(format!(
            "the pods of node {} (cordoned, drained, uncordoned; the node of {} pod {})",
            p.node.as_deref()?,
            p.role,
            p.name
        ))
    }

    fn pick<'a>(&'a self, cluster: &'a Cluster, facts: &'a Facts) -> BoxFuture<'a, Result<Victim>> {
        Box::pin(async move {
            let mut crowded = Vec::new();
            for p in self.candidates(facts) {
                let Some(node) = p.node.as_deref() else {
                    continue;
                };
                let ours: Vec<String> = drain::pods_on(&cluster.client, node)
                    .await?
                    .iter()
                    .filter(|q| of_the_rayservice(q, facts))
                    .filter_map(|q| q.metadata.name.clone())
                    .collect();
                if ours == [p.name.clone()] {
                    return Ok(Victim {
                        name: p.name.clone(),
                        uid: p.uid.clone(),
                        node: Some(node.to_string()),
                        follow: vec![ray_pods_selector(facts)],
                        mark: None,
                        data: None,
                    });
                }
                crowded.push(format!("{node} ({})", ours.join(", ")));
            }
            Err(Error::failed(format!(
                "no node runs the {} pod of rayservice/{} alone: {}; a drain would take more than one of its pods (spread them: kubectl rayha generate --spread node, then kubectl rayha status)",
                self.role(),
                facts.name,
                if crowded.is_empty() {
                    "none is scheduled".to_string()
                } else {
                    crowded.join("; ")
                }
            )))
        })
    }

    fn needs_serve_endpoints(&self) -> bool {
        self.judge().needs_serve_endpoints()
    }

    fn replicas_kept(&self, s: &Survival) -> bool {
        self.judge().replicas_kept(s)
    }

    fn replicas_lost(&self) -> &'static str {
        self.judge().replicas_lost()
    }

    fn permissions(&self) -> &'static [(&'static str, &'static str, &'static str, bool)] {
        &[
            super::DELETE_PODS,
            ("patch", "", "nodes", true),
            ("list", "", "pods", true),
            ("create", "", "pods/eviction", true),
        ]
    }

    fn strike<'a>(&'a self, s: StrikeAt<'a>) -> BoxFuture<'a, Result<Strike>> {
        Box::pin(async move {
            let node = s
                .facts
                .pods
                .iter()
                .find(|p| p.name == s.victim.name)
                .and_then(|p| p.node.clone())
                .ok_or_else(|| Error::failed(format!("pod {} is on no node", s.victim.name)))?;
            let client = s.cluster.client.clone();
            let cordoned = drain::cordon(&client, &node).await?;
            // The node's pods, and a client that shows a budget's refusals; a node cordoned
            // for nothing is uncordoned.
            let prepared = async {
                let pods = drain::pods_on(&client, &node).await?;
                Ok::<_, Error>((pods, s.cluster.client_without_retries().await?))
            };
            let (pods, evictor) = match prepared.await {
                Ok(p) => p,
                Err(e) => {
                    if cordoned {
                        let _ = drain::uncordon(&client, &node).await;
                    }
                    return Err(e);
                }
            };
            let names: Vec<String> = pods.iter().map(pod_ref).collect();
            let (tx, rx) = mpsc::unbounded_channel();
            let second = (self.role() == Role::Worker)
                .then(|| {
                    s.facts
                        .workers()
                        .find(|w| w.name != s.victim.name && w.node.as_deref() != Some(&node))
                        .map(|w| w.name.clone())
                })
                .flatten();
            let evictions = tokio::spawn(evict_all(
                evictor,
                pods,
                Instant::now() + self.drain_timeout,
                tx,
                Probe {
                    victim: s.victim.name.clone(),
                    namespace: s.cluster.namespace.clone(),
                    second,
                },
            ));
            let first = format!(
                "cordoned node {node}{}; evicting its {} pod(s): {}",
                if cordoned { "" } else { " (it already was)" },
                names.len(),
                names.join(", ")
            );
            let drained_node = Some(node.clone());
            let finish = async move {
                evictions.abort();
                let _ = evictions.await;
                let said = if !cordoned {
                    format!("node {node} was cordoned before the drill: left cordoned")
                } else {
                    match drain::uncordon(&client, &node).await {
                        Ok(()) => format!("uncordoned node {node}"),
                        Err(e) => format!("{e}: run kubectl uncordon {node}"),
                    }
                };
                vec![(Instant::now(), said)]
            };
            Ok(Strike {
                first,
                drained_node,
                events: Some(rx),
                finish: Some(Box::pin(finish)),
            })
        })
    }
}

fn pod_ref(p: &Pod) -> String {
    format!(
        "{}/{}",
        p.metadata.namespace.as_deref().unwrap_or(""),
        p.metadata.name.as_deref().unwrap_or("")
    )
}

/// After the victim's eviction: would a second worker's eviction be allowed now, while the
/// first replacement is not Ready? A budget must refuse it.
struct Probe {
    victim: String,
    namespace: String,
    second: Option<String>,
}

/// Evicts every pod at once (as `kubectl drain` does), each retried while a budget refuses,
/// reporting each outcome; probes the budget once the victim is evicted.
async fn evict_all(
    client: Client,
    pods: Vec<Pod>,
    deadline: Instant,
    tx: mpsc::UnboundedSender<Timed>,
    probe: Probe,
) {
    let say = |tx: &mpsc::UnboundedSender<Timed>, what: String| {
        let _ = tx.send((Instant::now(), what));
    };
    let one = |p: Pod| {
        let (client, tx, probe) = (client.clone(), tx.clone(), &probe);
        async move {
            let (ns, name) = (
                p.metadata.namespace.clone().unwrap_or_default(),
                p.metadata.name.clone().unwrap_or_default(),
            );
            let id = format!("{ns}/{name}");
            let refused = |m: &str| say(&tx, format!("eviction of pod {id} refused: {m}"));
            match drain::evict(&client, &ns, &name, deadline, refused).await {
                Evicted::Done => say(&tx, format!("evicted pod {id}")),
                Evicted::Gone => say(&tx, format!("pod {id} was gone before its eviction")),
                Evicted::Refused(m) => say(
                    &tx,
                    format!("pod {id} not evicted within the drain timeout: {m}"),
                ),
                Evicted::Failed(m) => say(&tx, format!("eviction of pod {id} failed: {m}")),
            }
            if name == probe.victim
                && ns == probe.namespace
                && let Some(second) = &probe.second
            {
                let verdict = match drain::would_evict(&client, &ns, second).await {
                    Ok(Some(m)) => format!(
                        "a second worker's eviction (pod {second}, dry run) is refused while the first is replaced: {m}"
                    ),
                    Ok(None) => format!(
                        "a second worker's eviction (pod {second}, dry run) would be allowed: no disruption budget keeps a drain from taking both workers"
                    ),
                    Err(e) => e.to_string(),
                };
                say(&tx, verdict);
            }
        }
    };
    futures::future::join_all(pods.into_iter().map(one)).await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failover::test_support::{facts, pod_fact};

    /// A head on n1, workers w1 on n2 and w2 on n1.
    fn layout() -> Facts {
        let on = |name: &str, role, node: &str| {
            let mut p = pod_fact(name, role, 0);
            p.node = Some(node.into());
            p
        };
        facts(vec![
            on("h", Role::Head, "n1"),
            on("w1", Role::Worker, "n2"),
            on("w2", Role::Worker, "n1"),
        ])
    }

    fn node(of: NodeOf, named: Option<&str>) -> Node {
        Node {
            of,
            named: named.map(String::from),
            drain_timeout: Duration::from_secs(1),
            chosen: OnceLock::new(),
        }
    }

    #[test]
    fn the_victims_role_follows_the_choice_of_node() {
        let f = layout();
        let by_worker = node(NodeOf::Worker, None);
        let names: Vec<&str> = by_worker
            .candidates(&f)
            .iter()
            .map(|p| p.name.as_str())
            .collect();
        assert_eq!(names, ["w1", "w2"]);
        assert_eq!(by_worker.role(), Role::Worker);
        assert_eq!(node(NodeOf::Head, None).role(), Role::Head);
        // A named node that runs only a worker: judged as a worker's loss.
        let named = node(NodeOf::Worker, Some("n2"));
        named.preflight(&f).unwrap();
        assert_eq!(named.role(), Role::Worker);
    }

    #[test]
    fn a_named_node_with_two_ray_pods_or_none_is_refused() {
        let f = layout();
        let err = node(NodeOf::Worker, Some("n1")).preflight(&f).unwrap_err();
        assert!(
            err.to_string().contains("node n1 runs 2 Ray pod(s)"),
            "{err}"
        );
        let err = node(NodeOf::Worker, Some("n9")).preflight(&f).unwrap_err();
        assert!(err.to_string().contains("runs 0 Ray pod(s)"), "{err}");
    }

    #[test]
    fn the_confirmation_names_the_node_and_the_pod() {
        let d = node(NodeOf::Head, None).describe(&layout()).unwrap();
        assert!(d.contains("node n1") && d.contains("head pod h"), "{d}");
    }
}
