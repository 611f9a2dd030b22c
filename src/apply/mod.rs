//! `kubectl rayha apply`: preflight (CRDs, permissions), a server-side dry run of the whole bundle
//! with strict field validation, then server-side apply in dependency order, then (by default)
//! following the RayService until it is Ready; with `--load`, measuring the rollout under load.

mod load;
mod storage;
pub mod update;

use std::collections::BTreeSet;
use std::time::Duration;

use kube::api::{Patch, PatchParams};
use kube::core::DynamicObject;
use serde_json::Value;

use crate::cli::{ApplyArgs, DryRun, GlobalArgs, OutputFormat};
use crate::cluster::{self, Cluster, KubeContext, describe_kube_error};
use crate::error::{self, Error, Result};
use crate::load::StopHandle;
use crate::{generate, wait, yaml};

pub const FIELD_MANAGER: &str = "kubectl-rayha";

/// One object of the bundle with where it goes.
#[derive(Debug, Clone)]
pub struct Item {
    pub object: Value,
    /// `kind/name` as kubectl prints it (lower-case kind).
    pub label: String,
}

/// What the server did with an object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    Created,
    Configured,
    Unchanged,
}

impl Change {
    fn word(self) -> &'static str {
        match self {
            Change::Created => "created",
            Change::Configured => "configured",
            Change::Unchanged => "unchanged",
        }
    }
}

/// Order in which kinds are applied: what others reference comes first.
fn rank(kind: &str) -> u8 {
    match kind {
        "Namespace" => 0,
        "Secret" => 1,
        "ConfigMap" => 2,
        "PersistentVolumeClaim" => 3,
        "Service" => 4,
        "Deployment" | "StatefulSet" => 5,
        // Before the RayService, so its first workers are already covered.
        "PodDisruptionBudget" => 6,
        "RayService" | "RayCluster" => 7,
        "Pod" => 8,
        _ => 9,
    }
}

fn label(o: &Value) -> String {
    format!(
        "{}/{}",
        o["kind"].as_str().unwrap_or("object").to_lowercase(),
        o["metadata"]["name"].as_str().unwrap_or("")
    )
}

/// The objects to apply: from `-f` or a freshly generated bundle, in apply order.
fn objects(args: &ApplyArgs, global: &GlobalArgs) -> Result<Vec<Item>> {
    let mut objects = match &args.file {
        Some(path) => {
            let (source, text) = read_file(path)?;
            let docs = yaml::parse_documents(&text)
                .map_err(|e| Error::failed(format!("{source}: {e}")))?;
            let docs = yaml::flatten_lists(docs);
            // kubectl's answer to an empty file: nothing applied is not a success.
            if docs.is_empty() {
                return Err(Error::failed(format!(
                    "{source}: no objects passed to apply"
                )));
            }
            for (i, d) in docs.iter().enumerate() {
                if !d["apiVersion"].is_string()
                    || !d["kind"].is_string()
                    || !d["metadata"]["name"].is_string()
                {
                    return Err(Error::failed(format!(
                        "{source}: document {} has no apiVersion, kind and metadata.name",
                        i + 1
                    )));
                }
            }
            docs
        }
        None => {
            let (params, warnings) =
                generate::resolve_options(&args.options, args.values.as_deref(), global)?;
            for w in warnings {
                eprintln!("warning: {w}");
            }
            generate::bundle(&params, &generate::new_password())?
        }
    };
    objects.sort_by_key(|o| rank(o["kind"].as_str().unwrap_or("")));
    Ok(objects
        .into_iter()
        .map(|object| Item {
            label: label(&object),
            object,
        })
        .collect())
}

fn read_file(path: &std::path::Path) -> Result<(String, String)> {
    use std::io::Read;
    if path.as_os_str() == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .map_err(|e| Error::failed(format!("cannot read standard input: {e}")))?;
        return Ok(("-".into(), text));
    }
    std::fs::read_to_string(path)
        .map(|t| (path.display().to_string(), t))
        .map_err(|e| Error::failed(format!("-f {}: cannot read: {e}", path.display())))
}

/// Runs the subcommand.
pub fn run(args: ApplyArgs, global: &GlobalArgs) -> Result<error::Outcome> {
    let timeout = crate::flags::duration("timeout", &args.timeout)?;
    if args.load {
        load::report_format(args.output)?;
    }
    let items = objects(&args, global)?;
    if args.dry_run == DryRun::Client {
        return print_result(&items, args.output, "(dry run)").map(|()| error::Outcome::Passed);
    }
    let runtime = crate::cluster::runtime(true)?;
    runtime.block_on(apply_all(items, &args, global, timeout))
}

fn print_result(items: &[Item], output: Option<OutputFormat>, suffix: &str) -> Result<()> {
    match output {
        Some(format) => {
            let objects: Vec<Value> = items.iter().map(|i| i.object.clone()).collect();
            print!("{}", generate::format_objects(&objects, format));
        }
        None => {
            for i in items {
                println!("{} created {suffix}", i.label);
            }
        }
    }
    Ok(())
}

async fn apply_all(
    mut items: Vec<Item>,
    args: &ApplyArgs,
    global: &GlobalArgs,
    timeout: Duration,
) -> Result<error::Outcome> {
    let cluster = cluster::connect(global).await?;
    for item in &mut items {
        if item.object["metadata"]["namespace"].is_null() {
            item.object["metadata"]["namespace"] = cluster.namespace.clone().into();
        }
    }
    let resolved = preflight(&cluster, &items).await?;
    storage::check_claims(&cluster, &items, &resolved).await?;
    keep_existing_secret_data(&mut items, &resolved).await?;

    // The whole bundle through the server first: nothing changes unless every object passes.
    let (dry, reclaim) = dry_run(&items, &resolved, args.force_conflicts).await?;
    if args.dry_run == DryRun::Server {
        return print_result(&items, args.output, "(server dry run)")
            .map(|()| error::Outcome::Passed);
    }
    let bundle = Bundle {
        items,
        resolved,
        force: args.force_conflicts,
        reclaim,
        print: args.output.is_none() && !args.load,
    };
    if args.load {
        return load::run(bundle, dry, args, global, timeout).await;
    }

    // From here Ctrl-C (or SIGTERM) lets the bundle be applied whole, then ends the command:
    // never a half-applied bundle, and a wait that ends within a moment.
    let stop = StopHandle::default();
    let signals = stop.stop_on_ctrl_c();
    bundle.apply().await?;
    if let Some(format) = args.output {
        let objects: Vec<Value> = bundle.items.iter().map(|i| i.object.clone()).collect();
        print!("{}", generate::format_objects(&objects, format));
    }
    let outcome = if args.wait {
        wait_for_rayservices(&cluster, &bundle.items, timeout, &stop).await
    } else {
        Ok(error::Outcome::Passed)
    };
    signals.abort();
    outcome
}

/// Every object through the server's dry run with strict field validation; every rejection is
/// named at once, and nothing is changed. Returns the objects as the server would store them,
/// and for each whether it takes fields back from a rehearsal (applied with force).
async fn dry_run(
    items: &[Item],
    resolved: &[Resolved],
    force: bool,
) -> Result<(Vec<DynamicObject>, Vec<bool>)> {
    let mut rejected = Vec::new();
    let mut accepted = Vec::new();
    let mut reclaim = Vec::new();
    for (item, res) in items.iter().zip(resolved) {
        let mut result = patch(res, item, force, true).await;
        let from_rehearsal = matches!(&result, Err(e) if only_rehearsal_conflicts(e));
        if from_rehearsal {
            eprintln!(
                "{}: taking back the fields a rehearsal changed (field manager {})",
                item.label,
                crate::failover::target::REHEARSAL_MANAGER
            );
            result = patch(res, item, true, true).await;
        }
        match result {
            Ok(o) => {
                accepted.push(o);
                reclaim.push(from_rehearsal);
            }
            Err(e) => rejected.push(format!(
                "{}: {}{}",
                item.label,
                e,
                undeclared_field_hint(&e)
            )),
        }
    }
    if !rejected.is_empty() {
        return Err(Error::failed(format!(
            "the server rejected the bundle, nothing was changed: {}",
            rejected.join("; ")
        )));
    }
    Ok((accepted, reclaim))
}

/// Whether a server-side apply was refused only for fields a `failover` change rehearsal set:
/// the server names each conflicting manager (`conflict with "NAME" using ray.io/v1`).
fn only_rehearsal_conflicts(e: &str) -> bool {
    let managers: Vec<&str> = e
        .split("conflict with \"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    !managers.is_empty()
        && managers
            .iter()
            .all(|m| *m == crate::failover::target::REHEARSAL_MANAGER)
}

/// A bundle the server accepted in its dry run, ready to be applied in order.
pub struct Bundle {
    pub items: Vec<Item>,
    resolved: Vec<Resolved>,
    force: bool,
    /// Per object: it takes fields back from a rehearsal, so it is applied with force.
    reclaim: Vec<bool>,
    /// Print `kind/name created|configured|unchanged` on standard output as kubectl does.
    print: bool,
}

impl Bundle {
    /// Each object as the cluster has it now (None where it does not exist).
    pub async fn current(&self) -> Result<Vec<Option<Value>>> {
        let mut out = Vec::new();
        for (item, res) in self.items.iter().zip(&self.resolved) {
            let now = res.api.get_opt(&res.name).await.context(&item.label)?;
            out.push(now.map(|o| serde_json::to_value(o).unwrap_or_default()));
        }
        Ok(out)
    }

    /// Applies every object in order; returns `kind/name configured` for each. An object the
    /// server refuses now (a change made meanwhile) ends it, naming those applied before.
    pub async fn apply(&self) -> Result<Vec<String>> {
        let mut applied = Vec::new();
        for ((item, res), reclaim) in self.items.iter().zip(&self.resolved).zip(&self.reclaim) {
            let before = res.api.get_opt(&res.name).await.context(&item.label)?;
            let force = self.force || *reclaim;
            let after = patch(res, item, force, false).await.map_err(|e| {
                Error::failed(format!(
                    "{}: {e} (objects before it were applied: {})",
                    item.label,
                    applied.join(", ")
                ))
            })?;
            let outcome = match before {
                None => Change::Created,
                Some(b) if b.metadata.resource_version == after.metadata.resource_version => {
                    Change::Unchanged
                }
                Some(_) => Change::Configured,
            };
            let line = format!("{} {}", item.label, outcome.word());
            if self.print {
                println!("{line}");
            }
            applied.push(line);
        }
        Ok(applied)
    }
}

/// Waits for each applied RayService to be Ready; Ctrl-C ends the wait (exit 130) and leaves the
/// rollout to KubeRay.
async fn wait_for_rayservices(
    cluster: &Cluster,
    items: &[Item],
    timeout: Duration,
    stop: &StopHandle,
) -> Result<error::Outcome> {
    for rs in items.iter().filter(|i| i.object["kind"] == "RayService") {
        let ns = rs.object["metadata"]["namespace"]
            .as_str()
            .unwrap_or(&cluster.namespace);
        let name = rs.object["metadata"]["name"].as_str().unwrap_or_default();
        tokio::select! {
            r = wait::until_ready(cluster, ns, name, timeout) => { r?; }
            _ = stop.wait() => {
                eprintln!(
                    "interrupted: the bundle is applied and rayservice/{name} goes on rolling out (kubectl rayha status {name} -n {ns})"
                );
                return Ok(error::Outcome::Interrupted);
            }
        }
    }
    Ok(error::Outcome::Passed)
}

/// An object with its dynamic API.
pub struct Resolved {
    pub api: kube::Api<DynamicObject>,
    pub name: String,
}

/// Checks, before anything changes, that the cluster serves every kind (KubeRay's CRDs) and that
/// the user may get, create and patch each of them.
async fn preflight(cluster: &Cluster, items: &[Item]) -> Result<Vec<Resolved>> {
    let mut resolved = Vec::new();
    let mut missing = BTreeSet::new();
    let mut checked = BTreeSet::new();
    for item in items {
        let (ar, caps) = match cluster::resource_for(&cluster.client, &item.object).await {
            Ok(found) => found,
            Err(e)
                if item.object["apiVersion"]
                    .as_str()
                    .is_some_and(|v| v.starts_with("ray.io/")) =>
            {
                return Err(Error::failed(format!(
                    "KubeRay's CRDs are not installed or do not serve {}: install the KubeRay operator (1.3 or newer) first ({e})",
                    item.object["apiVersion"].as_str().unwrap_or_default()
                )));
            }
            Err(e) => return Err(e),
        };
        let ns = item.object["metadata"]["namespace"]
            .as_str()
            .unwrap_or(&cluster.namespace)
            .to_string();
        if checked.insert((ar.group.clone(), ar.plural.clone(), ns.clone())) {
            for verb in ["get", "create", "patch"] {
                if !cluster::can_i(&cluster.client, verb, &ar.group, &ar.plural, &ns).await? {
                    let resource = if ar.group.is_empty() {
                        ar.plural.clone()
                    } else {
                        format!("{}.{}", ar.plural, ar.group)
                    };
                    missing.insert(format!("{verb} {resource} in namespace {ns}"));
                }
            }
        }
        if item.object["kind"] == "RayService" {
            check_crd_supports_ft_options(cluster, &item.object).await?;
        }
        resolved.push(Resolved {
            api: cluster::dynamic_api(&cluster.client, &ar, &caps, &ns),
            name: item.object["metadata"]["name"]
                .as_str()
                .unwrap_or_default()
                .to_string(),
        });
    }
    if !missing.is_empty() {
        return Err(Error::failed(format!(
            "not allowed to {} (SelfSubjectAccessReview); nothing was changed",
            missing.into_iter().collect::<Vec<_>>().join(", ")
        )));
    }
    Ok(resolved)
}

/// KubeRay before 1.3 has no gcsFaultToleranceOptions: its API server would prune them silently
/// (or refuse them with strict validation). Says which flag to use instead.
async fn check_crd_supports_ft_options(cluster: &Cluster, rs: &Value) -> Result<()> {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
    if rs["spec"]["rayClusterConfig"]["gcsFaultToleranceOptions"].is_null() {
        return Ok(());
    }
    let api: kube::Api<CustomResourceDefinition> = kube::Api::all(cluster.client.clone());
    // Reading CRDs needs a cluster-scoped permission many users lack: then the dry run decides.
    let Ok(crd) = api.get("rayservices.ray.io").await else {
        return Ok(());
    };
    let version = rs["apiVersion"]
        .as_str()
        .and_then(|v| v.split('/').nth(1))
        .unwrap_or("v1");
    let has_ft = crd
        .spec
        .versions
        .iter()
        .filter(|v| v.name == version)
        .any(|v| {
            serde_json::to_string(&v.schema).is_ok_and(|s| s.contains("gcsFaultToleranceOptions"))
        });
    if has_ft {
        Ok(())
    } else {
        Err(Error::failed(
            "the installed KubeRay CRD has no gcsFaultToleranceOptions (KubeRay older than 1.3): upgrade KubeRay or generate with --kuberay-version 1.2",
        ))
    }
}

/// A generated Secret that already exists keeps its data (the password, `--redis-tls`'s CA and
/// certificate): re-applying a bundle must never rotate them under a running Redis and GCS.
async fn keep_existing_secret_data(items: &mut [Item], resolved: &[Resolved]) -> Result<()> {
    for (item, res) in items.iter_mut().zip(resolved) {
        let ours = item.object["metadata"]["labels"]["app.kubernetes.io/managed-by"]
            == crate::apply::FIELD_MANAGER;
        if item.object["kind"] != "Secret" || !ours {
            continue;
        }
        let existing = res.api.get_opt(&res.name).await.context(&item.label)?;
        if let Some(existing) = existing {
            let data = existing.data.get("data").cloned().unwrap_or(Value::Null);
            let keys_present = item.object["data"]
                .as_object()
                .is_some_and(|want| want.keys().all(|k| data.get(k).is_some()));
            if keys_present {
                item.object["data"] = data;
                let what = if item.object["type"] == "kubernetes.io/tls" {
                    "certificates"
                } else {
                    "password"
                };
                eprintln!("{}: keeping the existing {what}", item.label);
            }
        }
    }
    Ok(())
}

async fn patch(
    res: &Resolved,
    item: &Item,
    force: bool,
    dry_run: bool,
) -> std::result::Result<DynamicObject, String> {
    let mut params = PatchParams::apply(FIELD_MANAGER).validation_strict();
    if force {
        params = params.force();
    }
    if dry_run {
        params = params.dry_run();
    }
    res.api
        .patch(&res.name, &params, &Patch::Apply(&item.object))
        .await
        .map_err(|e| describe_kube_error(&e))
}

/// A field the served CRD does not declare is most often a field of a newer KubeRay than the
/// operator whose CRDs the cluster runs: say so, and where to see that version.
fn undeclared_field_hint(e: &impl std::fmt::Display) -> &'static str {
    if e.to_string().contains("field not declared in schema") {
        " (the cluster's CRD does not have this field: its KubeRay CRDs may be older than the field; `kubectl rayha status` shows the operator's version)"
    } else {
        ""
    }
}

#[cfg(test)]
mod tests {
    use super::only_rehearsal_conflicts;

    #[test]
    fn only_a_rehearsals_fields_are_taken_back_without_force() {
        let ours = "Apply failed with 1 conflict: conflict with \"kubectl-rayha-rehearsal\" using ray.io/v1: .spec.serveConfigV2 (409)";
        assert!(only_rehearsal_conflicts(ours));
        let mixed = "Apply failed with 2 conflicts: conflict with \"kubectl-rayha-rehearsal\" using ray.io/v1: .spec.serveConfigV2\nconflict with \"kubectl-edit\" using ray.io/v1: .spec.upgradeStrategy (409)";
        assert!(!only_rehearsal_conflicts(mixed));
        let other = "Apply failed with 1 conflict: conflict with \"unknown\" using ray.io/v1: .spec.serveConfigV2 (409)";
        assert!(!only_rehearsal_conflicts(other));
        assert!(!only_rehearsal_conflicts("forbidden (403)"));
    }
}
