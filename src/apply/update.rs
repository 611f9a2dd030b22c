//! What kind of update KubeRay makes of a change to a RayService, told from the spec it runs
//! and the spec the server would store (the dry run's answer), the way KubeRay's RayService
//! controller decides: a changed cluster spec starts a new RayCluster unless only worker counts
//! changed or worker groups were appended (the running cluster is updated in place); a changed
//! Serve config alone is sent to the serving cluster.

use serde_json::Value;

/// KubeRay's choice for one change of a RayService.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateKind {
    /// The RayService's spec is unchanged (other objects of the bundle may change).
    Unchanged,
    /// The serving cluster is kept: its Serve config is updated, its worker counts or groups
    /// changed, or both.
    InPlace { serve_config: bool, cluster: bool },
    /// A pending RayCluster is started, the serve Service switched to it once its apps run,
    /// the old cluster deleted (KubeRay's zero-downtime upgrade).
    NewCluster,
    /// A cluster change KubeRay does not roll out: `upgradeStrategy` is `None`.
    NotRolledOut,
}

impl UpdateKind {
    /// The report's name of the kind.
    pub fn id(&self) -> &'static str {
        match self {
            UpdateKind::Unchanged => "unchanged",
            UpdateKind::InPlace { .. } => "in-place",
            UpdateKind::NewCluster => "new-cluster",
            UpdateKind::NotRolledOut => "not-rolled-out",
        }
    }

    /// What KubeRay does, in words.
    pub fn describe(&self) -> &'static str {
        match self {
            UpdateKind::Unchanged => "the RayService is unchanged",
            UpdateKind::InPlace {
                serve_config: true,
                cluster: false,
            } => "an in-place update: KubeRay sends the new Serve config to the serving RayCluster",
            UpdateKind::InPlace {
                serve_config: true,
                cluster: true,
            } => {
                "an in-place update: KubeRay changes the serving RayCluster's worker groups and sends it the new Serve config"
            }
            UpdateKind::InPlace { .. } => {
                "an in-place update: KubeRay changes the serving RayCluster's worker counts or appends worker groups"
            }
            UpdateKind::NewCluster => {
                "a new-cluster upgrade: KubeRay starts a pending RayCluster, switches the serve Service to it once its apps run and deletes the old one"
            }
            UpdateKind::NotRolledOut => {
                "no rollout: upgradeStrategy None makes KubeRay leave the running RayCluster as it is"
            }
        }
    }
}

/// The kind of update from the RayService as it is (`current`) to as it will be (`desired`).
pub fn classify(current: &Value, desired: &Value) -> UpdateKind {
    let (now, want) = (&current["spec"], &desired["spec"]);
    if now == want {
        return UpdateKind::Unchanged;
    }
    let serve_config = serve_config(now) != serve_config(want);
    let (a, b) = (&now["rayClusterConfig"], &want["rayClusterConfig"]);
    let cluster = if a == b {
        false
    } else if hashed(a) == hashed(b) || appended_groups_only(a, b) {
        true
    } else if want["upgradeStrategy"]["type"] == "None" {
        return UpdateKind::NotRolledOut;
    } else {
        return UpdateKind::NewCluster;
    };
    if !serve_config && !cluster {
        // Only fields KubeRay does not roll out (the upgrade strategy, a service's settings):
        // nothing to follow beyond the apply itself.
        return UpdateKind::InPlace {
            serve_config: false,
            cluster: false,
        };
    }
    UpdateKind::InPlace {
        serve_config,
        cluster,
    }
}

/// The Serve config parsed (spacing and quoting in the YAML string change nothing).
fn serve_config(spec: &Value) -> Value {
    spec["serveConfigV2"]
        .as_str()
        .and_then(|t| crate::yaml::parse_documents(t).ok())
        .and_then(|docs| docs.into_iter().next())
        .unwrap_or(Value::Null)
}

/// The cluster spec without what KubeRay leaves out of its hash: worker counts, workers to
/// delete, tolerations and scheduling gates (added by schedulers like Kueue), the cluster's
/// own upgrade strategy.
fn hashed(cluster: &Value) -> Value {
    let mut c = cluster.clone();
    strip_pod_scheduling(&mut c["headGroupSpec"]);
    if let Some(groups) = c["workerGroupSpecs"].as_array_mut() {
        for g in groups {
            if let Some(g) = g.as_object_mut() {
                for k in ["replicas", "minReplicas", "maxReplicas"] {
                    g.remove(k);
                }
            }
            if let Some(s) = g["scaleStrategy"].as_object_mut() {
                s.remove("workersToDelete");
                if s.is_empty() {
                    g.as_object_mut().map(|g| g.remove("scaleStrategy"));
                }
            }
            strip_pod_scheduling(g);
        }
    }
    if let Some(c) = c.as_object_mut() {
        c.remove("upgradeStrategy");
    }
    c
}

fn strip_pod_scheduling(group: &mut Value) {
    if let Some(spec) = group["template"]["spec"].as_object_mut() {
        spec.remove("tolerations");
        spec.remove("schedulingGates");
    }
}

/// The running cluster's groups unchanged (but for counts) and new groups after them: KubeRay
/// adds the groups to the running cluster.
fn appended_groups_only(now: &Value, want: &Value) -> bool {
    let (Some(old), Some(new)) = (
        now["workerGroupSpecs"].as_array(),
        want["workerGroupSpecs"].as_array(),
    ) else {
        return false;
    };
    if new.len() <= old.len() {
        return false;
    }
    let mut cut = want.clone();
    cut["workerGroupSpecs"] = Value::Array(new[..old.len()].to_vec());
    hashed(now) == hashed(&cut)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn rs(image: &str, replicas: u32, serve: &str) -> Value {
        json!({"spec": {
            "upgradeStrategy": {"type": "NewCluster"},
            "serveConfigV2": serve,
            "rayClusterConfig": {
                "headGroupSpec": {"template": {"spec": {"containers": [{"image": image}]}}},
                "workerGroupSpecs": [{
                    "groupName": "small", "replicas": replicas, "minReplicas": 1,
                    "template": {"spec": {"containers": [{"image": image}]}},
                }],
            },
        }})
    }

    const APP: &str = "applications:\n  - name: fruit\n    import_path: fruit:app\n";

    #[test]
    fn the_same_spec_is_unchanged() {
        assert_eq!(
            classify(&rs("ray:2.52.0", 2, APP), &rs("ray:2.52.0", 2, APP)),
            UpdateKind::Unchanged
        );
    }

    #[test]
    fn a_new_image_starts_a_new_cluster() {
        let k = classify(&rs("ray:2.52.0", 2, APP), &rs("ray:2.52.1", 2, APP));
        assert_eq!(k, UpdateKind::NewCluster);
        assert_eq!(k.id(), "new-cluster");
        // A new Serve config along with it goes to the new cluster.
        let other = "applications:\n  - name: fruit\n    import_path: fruit:app2\n";
        assert_eq!(
            classify(&rs("ray:2.52.0", 2, APP), &rs("ray:2.52.1", 2, other)),
            UpdateKind::NewCluster
        );
    }

    #[test]
    fn a_serve_config_change_is_in_place_and_reformatting_is_no_change() {
        let other = "applications:\n  - name: fruit\n    import_path: fruit:app2\n";
        assert_eq!(
            classify(&rs("ray:2.52.0", 2, APP), &rs("ray:2.52.0", 2, other)),
            UpdateKind::InPlace {
                serve_config: true,
                cluster: false
            }
        );
        let respaced = "applications:\n- {name: fruit, import_path: 'fruit:app'}\n";
        assert_eq!(
            classify(&rs("ray:2.52.0", 2, APP), &rs("ray:2.52.0", 2, respaced)),
            UpdateKind::InPlace {
                serve_config: false,
                cluster: false
            }
        );
    }

    #[test]
    fn worker_counts_and_appended_groups_are_in_place() {
        assert_eq!(
            classify(&rs("ray:2.52.0", 2, APP), &rs("ray:2.52.0", 3, APP)),
            UpdateKind::InPlace {
                serve_config: false,
                cluster: true
            }
        );
        let mut more = rs("ray:2.52.0", 3, APP);
        let group = json!({"groupName": "big", "replicas": 1, "template": {}});
        more["spec"]["rayClusterConfig"]["workerGroupSpecs"]
            .as_array_mut()
            .unwrap()
            .push(group.clone());
        assert_eq!(
            classify(&rs("ray:2.52.0", 2, APP), &more),
            UpdateKind::InPlace {
                serve_config: false,
                cluster: true
            }
        );
        // A group put first changes the running groups: a new cluster.
        let mut first = rs("ray:2.52.0", 2, APP);
        first["spec"]["rayClusterConfig"]["workerGroupSpecs"]
            .as_array_mut()
            .unwrap()
            .insert(0, group);
        assert_eq!(
            classify(&rs("ray:2.52.0", 2, APP), &first),
            UpdateKind::NewCluster
        );
        // Tolerations are left out of KubeRay's hash.
        let mut tolerating = rs("ray:2.52.0", 2, APP);
        tolerating["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["tolerations"] =
            json!([{"key": "a", "operator": "Exists"}]);
        assert!(matches!(
            classify(&rs("ray:2.52.0", 2, APP), &tolerating),
            UpdateKind::InPlace { .. }
        ));
    }

    #[test]
    fn upgrade_strategy_none_rolls_nothing_out() {
        let mut want = rs("ray:2.52.1", 2, APP);
        want["spec"]["upgradeStrategy"]["type"] = json!("None");
        assert_eq!(
            classify(&rs("ray:2.52.0", 2, APP), &want),
            UpdateKind::NotRolledOut
        );
    }
}
