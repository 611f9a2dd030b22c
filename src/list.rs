//! `kubectl rayha list` (alias `get`): the RayServices kubectl-rayha manages, one line each, with
//! Ready and the HA verdict of their live spec (the `lint` checks).

use kube::api::{Api, ListParams};
use kube::core::DynamicObject;
use serde::Serialize;
use serde_json::Value;

use crate::cli::{GlobalArgs, ListArgs, OutputFormat};
use crate::cluster::{self, KubeContext};
use crate::error::{Outcome, Result};
use crate::lint::{self, Level};
use crate::rayservice::RayService;

#[derive(Debug, Serialize)]
pub struct Row {
    pub namespace: String,
    pub name: String,
    pub ready: String,
    pub serve_endpoints: i64,
    /// The worst level of the lint checks on the live spec.
    pub ha: Level,
    pub failing: Vec<String>,
}

pub fn run(args: ListArgs, global: &GlobalArgs) -> Result<Outcome> {
    let runtime = crate::cluster::runtime(false)?;
    runtime.block_on(async {
        let cluster = cluster::connect(global).await?;
        let ar = cluster::rayservice_resource();
        let api: Api<DynamicObject> = if args.all_namespaces {
            Api::all_with(cluster.client.clone(), &ar)
        } else {
            Api::namespaced_with(cluster.client.clone(), &cluster.namespace, &ar)
        };
        let list = api
            .list(&ListParams::default().labels("app.kubernetes.io/managed-by=kubectl-rayha"))
            .await
            .context("cannot list rayservices")?;
        let rows: Vec<Row> = list
            .items
            .iter()
            .map(|o| row(&serde_json::to_value(o).unwrap_or(Value::Null)))
            .collect();
        match args.output {
            Some(OutputFormat::Json) => println!(
                "{}",
                serde_json::to_string_pretty(&rows).expect("rows serialise")
            ),
            Some(OutputFormat::Yaml) => print!(
                "{}",
                crate::yaml::to_yaml(&serde_json::to_value(&rows).expect("rows serialise"))
            ),
            None if rows.is_empty() => eprintln!("No RayServices managed by kubectl-rayha found."),
            None => print!(
                "{}",
                crate::redact::terminal(&table(&rows, args.all_namespaces))
            ),
        }
        Ok(Outcome::Passed)
    })
}

fn row(rs: &Value) -> Row {
    let view = RayService::from_value(rs);
    let ready = view
        .ready_condition()
        .and_then(|c| c["status"].as_str())
        .unwrap_or("Unknown")
        .to_string();
    let text = serde_json::to_string(rs).unwrap_or_default();
    let (ha, failing) = match lint::lint_text("live", &text) {
        Ok(report) => {
            let checks = &report.objects[0].checks;
            let worst = checks.iter().map(|c| c.level).max().unwrap_or(Level::Pass);
            let failing = checks
                .iter()
                .filter(|c| c.level == Level::Fail)
                .map(|c| c.id.to_string())
                .collect();
            (worst, failing)
        }
        Err(_) => (Level::Fail, vec!["unreadable".into()]),
    };
    Row {
        namespace: view.namespace,
        name: view.name,
        ready,
        serve_endpoints: view.num_serve_endpoints,
        ha,
        failing,
    }
}

fn table(rows: &[Row], with_namespace: bool) -> String {
    let mut out = String::new();
    let head = if with_namespace {
        format!("{:<20} ", "NAMESPACE")
    } else {
        String::new()
    };
    out.push_str(&format!(
        "{head}{:<32} {:<8} {:<16} {:<5} {}\n",
        "NAME", "READY", "SERVE-ENDPOINTS", "HA", "FAILING"
    ));
    for r in rows {
        let ns = if with_namespace {
            format!("{:<20} ", r.namespace)
        } else {
            String::new()
        };
        let ha = match r.ha {
            Level::Pass => "PASS",
            Level::Warn => "WARN",
            Level::Fail => "FAIL",
        };
        out.push_str(&format!(
            "{ns}{:<32} {:<8} {:<16} {:<5} {}\n",
            r.name,
            r.ready,
            r.serve_endpoints,
            ha,
            r.failing.join(",")
        ));
    }
    out
}
