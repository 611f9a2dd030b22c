//! A user's own change, measured: `apply --load` strikes with the server-side apply of the
//! bundle and follows what KubeRay makes of it, a new-cluster upgrade (as `--target upgrade`)
//! or an in-place update (as `--target serve-config`, judged by Serve running the new config).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use futures::future::BoxFuture;
use serde_json::Value;

use super::{Strike, StrikeAt, Target, Victim, ray_pods_selector, upgrade};
use crate::apply::Bundle;
use crate::apply::update::UpdateKind;
use crate::cluster::{Cluster, capacity};
use crate::error::Result;
use crate::failover::report::Survival;
use crate::rayservice::Role;
use crate::status::{self, Facts};

pub struct ApplyChange {
    /// The checked bundle, applied by the strike.
    pub bundle: Bundle,
    pub kind: UpdateKind,
    /// The RayService as the server will store it (the dry run's answer).
    pub desired: Value,
    /// How long the round waits for the rollout (apply's --timeout).
    pub timeout: std::time::Duration,
    /// Set once the strike applied the bundle (Ctrl-C in the warm-up applies nothing).
    pub applied: Arc<AtomicBool>,
}

impl ApplyChange {
    fn new_cluster(&self) -> bool {
        self.kind == UpdateKind::NewCluster
    }

    /// The desired Serve config, when the update sends one to the serving cluster.
    fn sent_serve_config(&self) -> Option<Value> {
        if !matches!(
            self.kind,
            UpdateKind::InPlace {
                serve_config: true,
                ..
            }
        ) {
            return None;
        }
        let text = self.desired["spec"]["serveConfigV2"].as_str()?;
        crate::yaml::parse_documents(text).ok()?.into_iter().next()
    }
}

impl Target for ApplyChange {
    fn id(&self) -> &'static str {
        "apply"
    }

    fn word(&self) -> &'static str {
        "head"
    }

    /// A new cluster's head replaces the old one's; in place, the head must come through.
    fn role(&self) -> Role {
        Role::Head
    }

    fn verb(&self) -> &'static str {
        "applies a change to"
    }

    /// Apply checked what patching the bundle needs; a new cluster needs the capacity reads.
    fn permissions(&self) -> &'static [(&'static str, &'static str, &'static str, bool)] {
        if self.new_cluster() {
            capacity::PERMISSIONS
        } else {
            &[]
        }
    }

    fn preflight(&self, facts: &Facts) -> Result<()> {
        upgrade::not_upgrading(facts)
    }

    /// Both clusters run side by side until the switch: the new one must fit beside the old.
    fn preflight_cluster<'a>(
        &'a self,
        cluster: &'a Cluster,
        _facts: &'a Facts,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            if !self.new_cluster() {
                return Ok(());
            }
            let spec = &self.desired["spec"]["rayClusterConfig"];
            upgrade::room_for_a_second_cluster(cluster, spec).await
        })
    }

    fn describe(&self, facts: &Facts) -> Option<String> {
        Some(format!(
            "the bundle ({}) to RayCluster {}",
            self.kind.describe(),
            facts.serving_cluster().unwrap_or("?")
        ))
    }

    fn pick<'a>(&'a self, _: &'a Cluster, facts: &'a Facts) -> BoxFuture<'a, Result<Victim>> {
        Box::pin(async move {
            if !self.new_cluster() {
                return Ok(Victim {
                    // Not a pod name: an in-place update replaces no pod.
                    name: "spec".into(),
                    follow: vec![ray_pods_selector(facts)],
                    ..Victim::default()
                });
            }
            upgrade::old_head(facts, None)
        })
    }

    fn default_recovery_timeout(&self) -> std::time::Duration {
        self.timeout
    }

    fn replaces_victim(&self) -> bool {
        self.new_cluster()
    }

    fn replaces_cluster(&self) -> bool {
        self.new_cluster()
    }

    /// In place, recovery is Serve running the new config (the apps' deployed config holds
    /// every field the spec gives them), every app RUNNING and deployment HEALTHY.
    fn probe<'a>(
        &'a self,
        cluster: &'a Cluster,
        facts: &'a Facts,
        _victim: &'a Victim,
    ) -> Option<BoxFuture<'a, Result<bool>>> {
        let config = self.sent_serve_config()?;
        let rc = facts.serving_cluster()?;
        Some(Box::pin(async move {
            let patience = std::time::Duration::from_secs(5);
            Ok(status::serve_details(cluster, rc, patience)
                .await
                .is_ok_and(|v| runs_config(&v, &config)))
        }))
    }

    /// A change may set other replica counts or drop a deployment: what is judged is that the
    /// apps serve again, with at least one replica running.
    fn replicas_kept(&self, s: &Survival) -> bool {
        s.replicas_after.values().any(|ids| !ids.is_empty())
    }

    fn replicas_lost(&self) -> &'static str {
        "no Serve replica runs after the change"
    }

    fn change(&self, _victim: &Victim) -> Option<String> {
        Some(if self.applied.load(Ordering::SeqCst) {
            format!("applied the bundle: {}", self.kind.describe())
        } else {
            "nothing applied: interrupted before the change".to_string()
        })
    }

    fn strike<'a>(&'a self, s: StrikeAt<'a>) -> BoxFuture<'a, Result<Strike>> {
        Box::pin(async move {
            let applied = self.bundle.apply().await?;
            self.applied.store(true, Ordering::SeqCst);
            let rc = s.facts.serving_cluster().unwrap_or_default();
            Ok(Strike::done(format!(
                "applied {} ({} update of RayCluster {rc})",
                applied_line(&applied),
                self.kind.id()
            )))
        })
    }
}

/// `rayservice/x configured (5 other objects unchanged)`: what changed, and how many did not.
fn applied_line(applied: &[String]) -> String {
    let (same, changed): (Vec<&String>, Vec<&String>) =
        applied.iter().partition(|l| l.ends_with(" unchanged"));
    let changed: Vec<&str> = changed.iter().map(|l| l.as_str()).collect();
    match (changed.is_empty(), same.len()) {
        (true, _) => "the bundle (every object unchanged)".into(),
        (false, 0) => changed.join(", "),
        (false, n) => format!(
            "{} ({n} other object{} unchanged)",
            changed.join(", "),
            if n == 1 { "" } else { "s" }
        ),
    }
}

/// Whether Serve runs `config`: each of its applications RUNNING with every deployment
/// HEALTHY, and its deployed config holding every field the desired one gives.
fn runs_config(details: &Value, config: &Value) -> bool {
    let Some(wanted) = config["applications"].as_array() else {
        return false;
    };
    let apps = &details["applications"];
    !wanted.is_empty()
        && wanted.iter().all(|want| {
            let app = &apps[want["name"].as_str().unwrap_or("default")];
            app["status"] == "RUNNING"
                && app["deployments"]
                    .as_object()
                    .is_some_and(|d| d.values().all(|d| d["status"] == "HEALTHY"))
                && holds(&app["deployed_app_config"], want)
        })
}

/// Whether `have` holds every field of `want` (objects by key, arrays element by element,
/// numbers by value: YAML's 1 is JSON's 1.0).
fn holds(have: &Value, want: &Value) -> bool {
    match (have, want) {
        (Value::Object(h), Value::Object(w)) => w
            .iter()
            .all(|(k, v)| h.get(k).is_some_and(|hv| holds(hv, v))),
        (Value::Array(h), Value::Array(w)) => {
            h.len() == w.len() && h.iter().zip(w).all(|(a, b)| holds(a, b))
        }
        (Value::Number(h), Value::Number(w)) => h.as_f64() == w.as_f64(),
        _ => have == want,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn details(price: f64, status: &str) -> Value {
        json!({"applications": {"fruit_app": {
            "status": "RUNNING",
            "deployed_app_config": {"name": "fruit_app", "import_path": "fruit:g",
                "deployments": [{"name": "MangoStand", "user_config": {"price": price}}]},
            "deployments": {"MangoStand": {"status": status}},
        }}})
    }

    fn config(price: i64) -> Value {
        json!({"applications": [{"name": "fruit_app", "import_path": "fruit:g",
            "deployments": [{"name": "MangoStand", "user_config": {"price": price}}]}]})
    }

    #[test]
    fn the_timeline_names_what_changed_and_counts_the_rest() {
        let lines = |l: &[&str]| l.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            applied_line(&lines(&[
                "secret/p unchanged",
                "deployment/redis unchanged",
                "rayservice/shop configured"
            ])),
            "rayservice/shop configured (2 other objects unchanged)"
        );
        assert_eq!(
            applied_line(&lines(&["rayservice/shop configured"])),
            "rayservice/shop configured"
        );
        assert_eq!(
            applied_line(&lines(&["secret/p unchanged"])),
            "the bundle (every object unchanged)"
        );
    }

    #[test]
    fn serve_runs_the_config_when_every_field_is_deployed() {
        assert!(runs_config(&details(4.0, "HEALTHY"), &config(4)));
        assert!(!runs_config(&details(3.0, "HEALTHY"), &config(4)), "old");
        assert!(!runs_config(&details(4.0, "UPDATING"), &config(4)));
        assert!(!runs_config(&json!({}), &config(4)));
        let mut other = config(4);
        other["applications"][0]["name"] = json!("other_app");
        assert!(!runs_config(&details(4.0, "HEALTHY"), &other));
    }
}
