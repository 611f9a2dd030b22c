//! An in-place Serve config update, rehearsed: one key added to (or bumped in) the
//! `user_config` of every deployment that has one. KubeRay sends the new config to the serving
//! cluster; Serve calls each replica's `reconfigure`, and no pod and no replica is replaced.

use futures::future::BoxFuture;
use kube::api::Patch;
use serde_json::Value;

use super::{
    PATCH_RAYSERVICES, Strike, StrikeAt, Target, Victim, ray_pods_selector, rehearsal_patch,
    round_mark,
};
use crate::cluster::{Cluster, KubeContext};
use crate::error::{Error, Result};
use crate::rayservice::{self, Role};
use crate::status::{self, Facts};

/// The `user_config` key a rehearsal sets (a new value each round). Apps read their own keys
/// from user_config; one they do not know is left alone by a `reconfigure` that looks keys up.
pub const KEY: &str = "rayha_rehearsal";

pub struct ServeConfig;

impl Target for ServeConfig {
    fn id(&self) -> &'static str {
        "serve-config"
    }

    fn word(&self) -> &'static str {
        "Serve config"
    }

    /// Nothing is replaced; the head is what must come through untouched, like every pod.
    fn role(&self) -> Role {
        Role::Head
    }

    fn verb(&self) -> &'static str {
        "updates in place"
    }

    fn permissions(&self) -> &'static [(&'static str, &'static str, &'static str, bool)] {
        &[PATCH_RAYSERVICES]
    }

    fn preflight_cluster<'a>(
        &'a self,
        cluster: &'a Cluster,
        facts: &'a Facts,
    ) -> BoxFuture<'a, Result<()>> {
        Box::pin(async move {
            let rs = rayservice::get_value(cluster, &facts.name).await?;
            bumped(&facts.name, &rs, "0").map(|_| ())
        })
    }

    fn describe(&self, facts: &Facts) -> Option<String> {
        Some(format!(
            "the Serve config (user_config key {KEY}) of rayservice/{}",
            facts.name
        ))
    }

    fn pick<'a>(&'a self, _: &'a Cluster, facts: &'a Facts) -> BoxFuture<'a, Result<Victim>> {
        Box::pin(async move {
            Ok(Victim {
                // Not a pod name (pods are lowercase): no pod is taken for the victim.
                name: "serveConfigV2".into(),
                follow: vec![ray_pods_selector(facts)],
                mark: round_mark(),
                ..Victim::default()
            })
        })
    }

    fn replaces_victim(&self) -> bool {
        false
    }

    fn probe<'a>(
        &'a self,
        cluster: &'a Cluster,
        facts: &'a Facts,
        victim: &'a Victim,
    ) -> Option<BoxFuture<'a, Result<bool>>> {
        let rc = facts.serving_cluster()?;
        let mark = victim.mark.as_deref()?;
        Some(Box::pin(async move {
            let patience = std::time::Duration::from_secs(5);
            Ok(status::serve_details(cluster, rc, patience)
                .await
                .is_ok_and(|v| applied(&v, mark)))
        }))
    }

    fn change(&self, victim: &Victim) -> Option<String> {
        Some(format!(
            "updated the Serve config in place ({KEY}={})",
            victim.mark.as_deref().unwrap_or_default()
        ))
    }

    fn strike<'a>(&'a self, s: StrikeAt<'a>) -> BoxFuture<'a, Result<Strike>> {
        Box::pin(async move {
            let name = &s.facts.name;
            let mark = s.victim.mark.as_deref().unwrap_or_default();
            let rs = rayservice::get_value(s.cluster, name).await?;
            let (config, deployments) = bumped(name, &rs, mark)?;
            // The resourceVersion makes it a compare-and-swap: a change made meanwhile is
            // refused (409), not overwritten.
            let patch = serde_json::json!({
                "metadata": {"resourceVersion": rs["metadata"]["resourceVersion"]},
                "spec": {"serveConfigV2": config},
            });
            rayservice::api(s.cluster)
                .patch(name, &rehearsal_patch(), &Patch::Merge(&patch))
                .await
                .context(format!("cannot patch rayservice/{name}"))?;
            Ok(Strike::done(format!(
                "patched rayservice/{name}: serveConfigV2 user_config {KEY}={mark} on {}",
                deployments.join(", ")
            )))
        })
    }
}

/// The RayService's serveConfigV2 with `KEY: mark` in the user_config of every deployment that
/// has one, and those deployments (`app/deployment`). Refused when there is none.
fn bumped(name: &str, rs: &Value, mark: &str) -> Result<(String, Vec<String>)> {
    let text = rs["spec"]["serveConfigV2"].as_str().ok_or_else(|| {
        Error::failed(format!(
            "rayservice/{name} has no spec.serveConfigV2: there is no Serve config to update"
        ))
    })?;
    let mut config = crate::yaml::parse_documents(text)
        .map_err(|e| Error::failed(format!("rayservice/{name} spec.serveConfigV2: {e}")))?
        .into_iter()
        .next()
        .unwrap_or(Value::Null);
    let mut touched = Vec::new();
    for app in config["applications"].as_array_mut().into_iter().flatten() {
        let app_name = app["name"].as_str().unwrap_or("default").to_string();
        for d in app["deployments"].as_array_mut().into_iter().flatten() {
            let dep = d["name"].as_str().unwrap_or_default().to_string();
            if let Some(user_config) = d.get_mut("user_config").and_then(Value::as_object_mut) {
                user_config.insert(KEY.into(), Value::String(mark.into()));
                touched.push(format!("{app_name}/{dep}"));
            }
        }
    }
    if touched.is_empty() {
        return Err(Error::failed(format!(
            "rayservice/{name}: no deployment in spec.serveConfigV2 has a user_config mapping; the serve-config rehearsal adds the key {KEY} to one (the deployment must have a reconfigure method)"
        )));
    }
    Ok((crate::yaml::to_yaml(&config), touched))
}

/// Whether Serve runs the config of this round: every app RUNNING, every deployment HEALTHY,
/// and each deployment that has the key has this round's value.
fn applied(details: &Value, mark: &str) -> bool {
    let Some(apps) = details["applications"].as_object() else {
        return false;
    };
    let mut marked = 0;
    for app in apps.values() {
        if app["status"] != "RUNNING" {
            return false;
        }
        for d in app["deployments"]
            .as_object()
            .into_iter()
            .flatten()
            .map(|(_, d)| d)
        {
            if d["status"] != "HEALTHY" {
                return false;
            }
            match d["deployment_config"]["user_config"][KEY].as_str() {
                Some(m) if m == mark => marked += 1,
                Some(_) => return false,
                None => {}
            }
        }
    }
    marked > 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const CONFIG: &str = "applications:\n- name: fruit_app\n  import_path: fruit.deployment_graph\n  deployments:\n  - name: MangoStand\n    num_replicas: 2\n    user_config:\n      price: 3\n  - name: FruitMarket\n    num_replicas: 2\n";

    #[test]
    fn the_key_goes_into_every_user_config_and_nowhere_else() {
        let rs = json!({"spec": {"serveConfigV2": CONFIG}});
        let (text, touched) = bumped("shop", &rs, "42").unwrap();
        assert_eq!(touched, ["fruit_app/MangoStand"]);
        let v = &crate::yaml::parse_documents(&text).unwrap()[0];
        let deps = &v["applications"][0]["deployments"];
        assert_eq!(deps[0]["user_config"], json!({"price": 3, KEY: "42"}));
        assert!(deps[1].get("user_config").is_none());
        assert_eq!(deps[1]["num_replicas"], 2);
        // A second round bumps the value.
        let rs = json!({"spec": {"serveConfigV2": text}});
        let (again, _) = bumped("shop", &rs, "43").unwrap();
        assert!(
            again.contains("'43'") || again.contains("\"43\""),
            "{again}"
        );
    }

    #[test]
    fn nothing_to_bump_is_refused_with_the_reason() {
        let none = json!({"spec": {}});
        let e = bumped("shop", &none, "1").unwrap_err().to_string();
        assert!(e.contains("no spec.serveConfigV2"), "{e}");
        let without = json!({"spec": {"serveConfigV2": "applications:\n- name: a\n  deployments:\n  - name: D\n"}});
        let e = bumped("shop", &without, "1").unwrap_err().to_string();
        assert!(
            e.contains("no deployment") && e.contains("user_config"),
            "{e}"
        );
    }

    #[test]
    fn serve_runs_the_new_config_only_when_every_marked_deployment_has_it() {
        let details = |mango: Option<&str>, status: &str| {
            let mut uc = json!({"price": 3});
            if let Some(m) = mango {
                uc[KEY] = json!(m);
            }
            json!({"applications": {"fruit_app": {"status": "RUNNING", "deployments": {
                "MangoStand": {"status": status, "deployment_config": {"user_config": uc}},
                "FruitMarket": {"status": "HEALTHY", "deployment_config": {}},
            }}}})
        };
        assert!(applied(&details(Some("7"), "HEALTHY"), "7"));
        assert!(
            !applied(&details(Some("6"), "HEALTHY"), "7"),
            "the previous round's value"
        );
        assert!(!applied(&details(None, "HEALTHY"), "7"), "not yet sent");
        assert!(!applied(&details(Some("7"), "UPDATING"), "7"));
        assert!(!applied(&json!({}), "7"));
    }
}
