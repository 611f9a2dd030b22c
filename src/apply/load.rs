//! `apply --load`: the change applied while the load engine queries the running RayService,
//! followed as `failover` follows a rehearsal (`target::ApplyChange`), with the same report.
//! Nothing is applied unless the server's dry run shows a change, and an update KubeRay would
//! not roll out is refused before anything changes.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use kube::core::DynamicObject;
use serde_json::Value;

use super::Bundle;
use super::update::{self, UpdateKind};
use crate::cli::QueryOutput;
use crate::cli::{ApplyArgs, FailoverArgs, FailoverTarget, GlobalArgs, NodeOf, OutputFormat};
use crate::error::{Error, Outcome, Result};
use crate::failover::{self, Update, target::ApplyChange};

pub async fn run(
    bundle: Bundle,
    dry: Vec<DynamicObject>,
    args: &ApplyArgs,
    global: &GlobalArgs,
    timeout: Duration,
) -> Result<Outcome> {
    let output = report_format(args.output)?;
    let rs = the_rayservice(&bundle)?;
    let desired = serde_json::to_value(&dry[rs]).unwrap_or(Value::Null);
    let current = bundle.current().await?;
    let Some(running) = current[rs].clone() else {
        return Err(Error::failed(format!(
            "--load measures an update of a running RayService, and {} does not exist yet: apply it without --load first; nothing was changed",
            bundle.items[rs].label
        )));
    };
    let changed: Vec<&str> = bundle
        .items
        .iter()
        .zip(&current)
        .zip(&dry)
        .filter(|((_, now), want)| {
            now.as_ref().is_none_or(|n| {
                comparable(n) != comparable(&serde_json::to_value(want).unwrap_or_default())
            })
        })
        .map(|((item, _), _)| item.label.as_str())
        .collect();
    if changed.is_empty() {
        eprintln!(
            "no change: the cluster already has every object as given; nothing was applied and no load was run"
        );
        return Ok(Outcome::Passed);
    }
    let kind = update::classify(&running, &desired);
    if kind == UpdateKind::NotRolledOut {
        return Err(Error::failed(format!(
            "{} has upgradeStrategy None: KubeRay would not roll out this change of rayClusterConfig (the running RayCluster stays as it is); set upgradeStrategy NewCluster or switch clusters by hand; nothing was changed",
            bundle.items[rs].label
        )));
    }
    eprintln!(
        "changes: {}; KubeRay will make {}",
        changed.join(", "),
        kind.describe()
    );
    let bundle_namespace = bundle.items[rs].object["metadata"]["namespace"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let name = bundle.items[rs].object["metadata"]["name"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let drill = drill_args(args, name, output, timeout);
    let update = Update {
        kind: kind.id().into(),
        description: kind.describe().into(),
        changed: changed.iter().map(|c| c.to_string()).collect(),
    };
    let applied = Arc::new(AtomicBool::new(false));
    let target = ApplyChange {
        bundle,
        kind,
        desired,
        timeout,
        applied: applied.clone(),
    };
    // The drill reads the RayService where the apply put it (a file may name its namespace).
    let global = GlobalArgs {
        namespace: Some(bundle_namespace.clone()),
        ..global.clone()
    };
    let outcome = failover::measure(&drill, &global, Box::new(target), update).await?;
    if outcome == Outcome::Interrupted {
        if applied.load(Ordering::SeqCst) {
            eprintln!(
                "interrupted: the change is applied and KubeRay goes on rolling it out (kubectl rayha status {} -n {})",
                drill.name, bundle_namespace
            );
        } else {
            eprintln!("interrupted before the change was applied: nothing was changed");
        }
    }
    Ok(outcome)
}

/// `-o json` prints the report; the applied objects are not printed under load.
pub(super) fn report_format(output: Option<OutputFormat>) -> Result<QueryOutput> {
    match output {
        None => Ok(QueryOutput::Text),
        Some(OutputFormat::Json) => Ok(QueryOutput::Json),
        Some(OutputFormat::Yaml) => Err(Error::usage(
            "-o yaml cannot be used with --load: with --load, -o json prints the report",
        )),
    }
}

/// The one RayService whose rollout is measured.
fn the_rayservice(bundle: &Bundle) -> Result<usize> {
    let found: Vec<usize> = bundle
        .items
        .iter()
        .enumerate()
        .filter(|(_, i)| i.object["kind"] == "RayService")
        .map(|(n, _)| n)
        .collect();
    match found[..] {
        [one] => Ok(one),
        [] => Err(Error::usage(
            "--load measures a RayService's rollout, and there is no RayService to apply",
        )),
        _ => Err(Error::usage(format!(
            "--load follows one RayService, and there are {}: apply them one at a time",
            found.len()
        ))),
    }
}

/// An object without what the server sets on every write: equal before and after when the
/// apply changes nothing.
fn comparable(o: &Value) -> Value {
    let mut o = o.clone();
    if let Some(meta) = o["metadata"].as_object_mut() {
        for k in ["managedFields", "resourceVersion", "generation"] {
            meta.remove(k);
        }
    }
    if let Some(o) = o.as_object_mut() {
        o.remove("status");
    }
    o
}

/// The drill's flags for a measured apply: one round, no confirmation (apply asks none), no
/// fault-tolerance requirement (an upgrade is measured whatever the head does).
fn drill_args(
    args: &ApplyArgs,
    name: String,
    output: QueryOutput,
    timeout: Duration,
) -> FailoverArgs {
    FailoverArgs {
        name,
        yes: true,
        force: true,
        target: FailoverTarget::Head,
        node_of: NodeOf::Worker,
        node: None,
        drain_timeout: "2m".into(),
        grace_period: None,
        warmup: "5s".into(),
        settle: "10s".into(),
        recovery_timeout: Some(format!("{}s", timeout.as_secs().max(1))),
        max_failures: args.max_failures,
        max_recovery: None,
        rounds: 1,
        via: args.via.clone(),
        url: None,
        path: args.path.clone(),
        data: args.data.clone(),
        expect: args.expect.clone(),
        concurrency: 1,
        keep_alive: false,
        output,
        report: args.report.clone(),
        quiet: false,
        junit: args.junit.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn what_the_server_sets_on_a_write_is_not_a_change() {
        let before = json!({"metadata": {"name": "a", "resourceVersion": "1", "generation": 1,
            "managedFields": [{"manager": "x"}]}, "spec": {"a": 1}, "status": {"s": 1}});
        let same = json!({"metadata": {"name": "a", "resourceVersion": "2", "generation": 2},
            "spec": {"a": 1}, "status": {"s": 2}});
        assert_eq!(comparable(&before), comparable(&same));
        let changed = json!({"metadata": {"name": "a"}, "spec": {"a": 2}});
        assert_ne!(comparable(&before), comparable(&changed));
    }

    #[test]
    fn only_json_is_a_report_format() {
        assert_eq!(report_format(None).unwrap(), QueryOutput::Text);
        assert_eq!(
            report_format(Some(OutputFormat::Json)).unwrap(),
            QueryOutput::Json
        );
        let e = report_format(Some(OutputFormat::Yaml)).unwrap_err();
        assert!(
            matches!(e, Error::Usage(_)) && e.to_string().contains("-o json"),
            "{e}"
        );
    }
}
