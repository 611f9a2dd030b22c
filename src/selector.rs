//! Kubernetes label selectors (`matchLabels` and `matchExpressions`, as JSON) matched against a
//! pod's labels: lint matches them against pod templates, status against live pods.

use std::collections::BTreeMap;

use serde_json::Value;

pub type Labels = BTreeMap<String, String>;

/// The label KubeRay gives every pod of a RayCluster: the cluster's own name.
pub const CLUSTER_LABEL: &str = "ray.io/cluster";

/// Whether `selector` selects a pod with `labels`. A missing (null) selector selects nothing,
/// an empty one everything, as in a PodDisruptionBudget or a spread rule.
pub fn matches(selector: &Value, labels: &Labels) -> bool {
    matches_except(selector, labels, |_| false)
}

/// `matches`, leaving out the requirements on keys `skip` names (a value the manifest cannot
/// know, such as the generated RayCluster name).
pub fn matches_except(selector: &Value, labels: &Labels, skip: impl Fn(&str) -> bool) -> bool {
    let Some(sel) = selector.as_object() else {
        return false;
    };
    let wanted = sel
        .get("matchLabels")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .filter(|(k, _)| !skip(k));
    for (key, value) in wanted {
        if labels.get(key).map(String::as_str) != value.as_str() {
            return false;
        }
    }
    let expressions = sel
        .get("matchExpressions")
        .and_then(Value::as_array)
        .into_iter()
        .flatten();
    for e in expressions {
        let key = e["key"].as_str().unwrap_or_default();
        if skip(key) {
            continue;
        }
        let values: Vec<&str> = e["values"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let have = labels.get(key).map(String::as_str);
        let ok = match e["operator"].as_str() {
            Some("In") => have.is_some_and(|v| values.contains(&v)),
            Some("NotIn") => have.is_none_or(|v| !values.contains(&v)),
            Some("Exists") => have.is_some(),
            Some("DoesNotExist") => have.is_none(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Whether a selector names `key` (in matchLabels, or in an `In` expression).
pub fn names_key(selector: &Value, key: &str) -> bool {
    selector["matchLabels"].get(key).is_some()
        || selector["matchExpressions"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|e| e["key"] == key && e["operator"] == "In")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn labels(pairs: &[(&str, &str)]) -> Labels {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn labels_and_expressions_must_all_hold() {
        let pod = labels(&[("app", "a"), ("ray.io/node-type", "worker")]);
        assert!(matches(&json!({}), &pod));
        assert!(!matches(&Value::Null, &pod));
        assert!(matches(&json!({"matchLabels": {"app": "a"}}), &pod));
        assert!(!matches(&json!({"matchLabels": {"app": "b"}}), &pod));
        let expr = |op: &str, values: &[&str]| json!({"matchExpressions": [{"key": "ray.io/node-type", "operator": op, "values": values}]});
        assert!(matches(&expr("In", &["worker", "head"]), &pod));
        assert!(!matches(&expr("NotIn", &["worker"]), &pod));
        assert!(matches(&expr("Exists", &[]), &pod));
        assert!(!matches(&expr("DoesNotExist", &[]), &pod));
        assert!(!matches(&expr("Gt", &["1"]), &pod));
        let pinned = json!({"matchLabels": {"app": "a", "ray.io/cluster": "rs-x1"}});
        assert!(!matches(&pinned, &pod));
        assert!(matches_except(&pinned, &pod, |k| k == CLUSTER_LABEL));
        assert!(names_key(&pinned, CLUSTER_LABEL));
        assert!(!names_key(&expr("In", &[]), CLUSTER_LABEL));
    }
}
