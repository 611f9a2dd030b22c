//! `kubectl rayha delete NAME`: removes everything the tool created for a RayService, found by
//! its instance label. The RayService goes first and the Redis stays until KubeRay's Redis
//! cleanup (the `ray.io/gcs-ft-redis-cleanup-finalizer` on the RayCluster) has run, since that
//! cleanup needs Redis to delete the cluster's keys.

use std::time::{Duration, Instant};

use k8s_openapi::api::batch::v1::Job;
use kube::api::{Api, DeleteParams, ListParams};
use kube::core::DynamicObject;
use kube::discovery::ApiResource;

use crate::cli::{DeleteArgs, GlobalArgs};
use crate::cluster::{self, Cluster, KubeContext};
use crate::error::{Error, Outcome, Result};

/// Kinds the tool creates, in deletion order (RayService first, its Redis last).
const KINDS: &[(&str, &str, &str, &str)] = &[
    // (group, version, kind, plural)
    ("ray.io", "v1", "RayService", "rayservices"),
    ("", "v1", "Pod", "pods"),
    (
        "policy",
        "v1",
        "PodDisruptionBudget",
        "poddisruptionbudgets",
    ),
    ("apps", "v1", "Deployment", "deployments"),
    ("", "v1", "Service", "services"),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims"),
    ("", "v1", "ConfigMap", "configmaps"),
    ("", "v1", "Secret", "secrets"),
    // The lock of a failover drill that was killed before it could release it.
    ("coordination.k8s.io", "v1", "Lease", "leases"),
];

fn resource(group: &str, version: &str, kind: &str, plural: &str) -> ApiResource {
    ApiResource {
        group: group.into(),
        version: version.into(),
        api_version: if group.is_empty() {
            version.into()
        } else {
            format!("{group}/{version}")
        },
        kind: kind.into(),
        plural: plural.into(),
    }
}

/// One object to delete.
struct Target {
    api: Api<DynamicObject>,
    kind: String,
    name: String,
}

impl Target {
    fn label(&self) -> String {
        format!("{}/{}", self.kind.to_lowercase(), self.name)
    }
}

pub fn run(args: DeleteArgs, global: &GlobalArgs) -> Result<Outcome> {
    crate::validate::object_name("NAME", &args.name)?;
    let timeout = crate::flags::duration("timeout", &args.timeout)?;
    let runtime = cluster::runtime(true)?;
    runtime.block_on(delete(args, global, timeout))?;
    Ok(Outcome::Passed)
}

async fn delete(args: DeleteArgs, global: &GlobalArgs, timeout: Duration) -> Result<()> {
    let cluster = cluster::connect(global).await?;
    let ns = cluster.namespace.clone();
    let selector = format!(
        "app.kubernetes.io/managed-by=kubectl-rayha,app.kubernetes.io/instance={}",
        args.name
    );
    let mut targets = Vec::new();
    for (group, version, kind, plural) in KINDS {
        let api: Api<DynamicObject> = Api::namespaced_with(
            cluster.client.clone(),
            &ns,
            &resource(group, version, kind, plural),
        );
        let list = match api.list(&ListParams::default().labels(&selector)).await {
            Ok(list) => list,
            // No KubeRay installed: there can be no RayService of ours.
            Err(kube::Error::Api(s)) if s.code == 404 && *group == "ray.io" => continue,
            // Without the right to list Leases no drill of this user left one behind.
            Err(kube::Error::Api(s)) if s.code == 403 && *kind == "Lease" => continue,
            // Nor a budget: apply could not have made one without the rights on them.
            Err(kube::Error::Api(s)) if s.code == 403 && *kind == "PodDisruptionBudget" => {
                continue;
            }
            Err(e) => {
                return Err(cluster::kube_failure(
                    format!("cannot list {plural} in {ns}"),
                    &e,
                ));
            }
        };
        for o in list.items {
            targets.push(Target {
                api: api.clone(),
                kind: kind.to_string(),
                name: o.metadata.name.unwrap_or_default(),
            });
        }
    }
    if targets.is_empty() {
        return Err(Error::failed(format!(
            "nothing to delete: no object labelled app.kubernetes.io/instance={} and managed by kubectl-rayha in namespace {ns}",
            args.name
        )));
    }
    if !args.yes && !confirm(&targets, &ns)? {
        return Err(Error::failed("not confirmed; nothing was deleted"));
    }
    let deadline = Instant::now() + timeout;
    // The RayService (and with it the RayCluster) first; the Redis cleanup needs Redis.
    let (first, rest): (Vec<&Target>, Vec<&Target>) =
        targets.iter().partition(|t| t.kind == "RayService");
    for t in &first {
        delete_one(t).await?;
    }
    let mut notes = Vec::new();
    for t in &first {
        notes.extend(wait_for_cluster_cleanup(&cluster, &t.name, deadline).await?);
    }
    for t in &rest {
        delete_one(t).await?;
    }
    for note in notes {
        println!("{note}");
    }
    // Like `kubectl delete`, return only when the objects are gone: a Deployment deleted in the
    // foreground goes after its Redis pod, so nothing of the bundle still runs afterwards.
    wait_gone(&rest, deadline).await
}

/// Waits until none of `targets` exists any more.
async fn wait_gone(targets: &[&Target], deadline: Instant) -> Result<()> {
    for t in targets {
        loop {
            match t.api.get_opt(&t.name).await {
                Ok(None) => break,
                Ok(Some(_)) if Instant::now() >= deadline => {
                    return Err(Error::failed(format!(
                        "timed out waiting for {} to be gone (its deletion was requested)",
                        t.label()
                    )));
                }
                Ok(Some(_)) => tokio::time::sleep(Duration::from_millis(250)).await,
                Err(e) => {
                    return Err(cluster::kube_failure(
                        format!("cannot check whether {} is gone", t.label()),
                        &e,
                    ));
                }
            }
        }
    }
    Ok(())
}

fn confirm(targets: &[Target], ns: &str) -> Result<bool> {
    eprintln!("This deletes from namespace {ns}:");
    for t in targets {
        eprintln!("  {}", t.label());
    }
    cluster::confirm(
        &format!("Delete these {} objects?", targets.len()),
        "delete",
    )
}

async fn delete_one(t: &Target) -> Result<()> {
    // The RayService in the background (its RayCluster's cleanup is awaited on its own); the rest
    // in the foreground, so a Deployment stays until its pods are gone.
    let params = if t.kind == "RayService" {
        DeleteParams::background()
    } else {
        DeleteParams::foreground()
    };
    match t.api.delete(&t.name, &params).await {
        Ok(_) => {
            println!("{} deleted", t.label());
            Ok(())
        }
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(cluster::kube_failure(
            format!("cannot delete {}", t.label()),
            &e,
        )),
    }
}

/// How often the wait for the Redis cleanup asks why it is not over yet.
const LOOK_EVERY: Duration = Duration::from_secs(5);

/// The wait for the RayClusters ends: at the deadline, or at once when nothing will free them.
fn cleanup_failure(
    left: &[DynamicObject],
    stuck: &[crate::cleanup::StuckDeletion],
    timed_out: bool,
) -> Error {
    let names: Vec<String> = left
        .iter()
        .filter_map(|r| r.metadata.name.clone())
        .collect();
    let head = if timed_out {
        format!(
            "timed out waiting for raycluster(s) {} to be removed (KubeRay's Redis cleanup runs first)",
            names.join(", ")
        )
    } else {
        format!(
            "raycluster(s) {} will not be removed by waiting",
            names.join(", ")
        )
    };
    let why: Vec<String> = stuck.iter().map(|s| s.render()).collect();
    let why = if why.is_empty() {
        String::new()
    } else {
        format!(": {}", why.join("; "))
    };
    Error::failed(format!(
        "{head}{why}; Redis and its Secret were kept so the cleanup can finish"
    ))
}

/// Waits until no RayCluster of the RayService is left (KubeRay's finalizer runs the Redis
/// cleanup Job first); returns what happened to the Redis keys.
async fn wait_for_cluster_cleanup(
    cluster: &Cluster,
    name: &str,
    deadline: Instant,
) -> Result<Vec<String>> {
    let ns = &cluster.namespace;
    let rc_api: Api<DynamicObject> = Api::namespaced_with(
        cluster.client.clone(),
        ns,
        &resource("ray.io", "v1", "RayCluster", "rayclusters"),
    );
    let selector = format!("ray.io/originated-from-cr-name={name}");
    let jobs: Api<Job> = Api::namespaced(cluster.client.clone(), ns);
    // The cleanup Job is owned by the RayCluster and goes with it: remember what it did.
    let mut job_state: std::collections::BTreeMap<String, Option<bool>> = Default::default();
    let mut last_look = Instant::now();
    loop {
        let left = rc_api
            .list(&ListParams::default().labels(&selector))
            .await
            .context("cannot list rayclusters")?;
        for rc in &left.items {
            let rc_name = rc.metadata.name.clone().unwrap_or_default();
            let job_name = crate::cleanup::job_name(&rc_name);
            let state = job_state.entry(rc_name).or_insert(None);
            if let Ok(Some(job)) = jobs.get_opt(&job_name).await {
                let status = job.status.unwrap_or_default();
                if status.succeeded.unwrap_or(0) > 0 {
                    *state = Some(true);
                } else if status.failed.unwrap_or(0) > 0 {
                    *state = Some(false);
                }
            }
        }
        if left.items.is_empty() {
            break;
        }
        let timed_out = Instant::now() >= deadline;
        // Now and then, and at the deadline: is the finalizer waiting on something that ends?
        if timed_out || last_look.elapsed() >= LOOK_EVERY {
            last_look = Instant::now();
            let mut stuck = Vec::new();
            for rc in &left.items {
                let facts = crate::cleanup::gather(cluster, rc).await;
                stuck.extend(crate::cleanup::diagnose(&facts));
            }
            if timed_out || stuck.iter().any(|s| s.hopeless) {
                return Err(cleanup_failure(&left.items, &stuck, timed_out));
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    let notes = job_state
        .into_iter()
        .map(|(rc, state)| match state {
            Some(true) => format!("raycluster/{rc}: removed; KubeRay's cleanup job deleted its GCS keys from Redis"),
            Some(false) => format!("raycluster/{rc}: removed; KubeRay's Redis cleanup job failed, so its keys may remain in Redis"),
            None => format!("raycluster/{rc}: removed; no Redis cleanup job was seen finishing (GCS fault tolerance off, cleanup disabled in the operator, or it ran between checks)"),
        })
        .collect();
    Ok(notes)
}
