//! Fields of a RayService that the API server dropped: a CRD prunes what its schema lacks, so
//! a manifest written for a newer KubeRay (say `gcsFaultToleranceOptions` on a KubeRay 1.2 CRD,
//! or 1.7's `backend` on 1.6) is stored without them, silently unless the client asked for
//! strict validation. `kubectl apply` (client side) keeps what it sent in an annotation; what is
//! there and not in the stored spec is what the served CRD lacks.

use serde_json::Value;

const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// At most this many paths are kept: the first ones say enough, and memory stays bounded.
const MAX_PATHS: usize = 20;

/// `spec.…` paths set by the last client-side `kubectl apply` but absent from the stored object.
pub fn fields_dropped_by_the_server(stored: &Value) -> Vec<String> {
    let Some(applied) = stored["metadata"]["annotations"][LAST_APPLIED]
        .as_str()
        .and_then(|a| serde_json::from_str::<Value>(a).ok())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    missing(&applied["spec"], &stored["spec"], "spec", &mut out);
    out
}

fn missing(applied: &Value, stored: &Value, path: &str, out: &mut Vec<String>) {
    match (applied, stored) {
        (Value::Object(a), Value::Object(s)) => {
            for (key, value) in a.iter().filter(|(_, v)| !v.is_null()) {
                if out.len() >= MAX_PATHS {
                    return;
                }
                let here = format!("{path}.{key}");
                match s.get(key) {
                    None => out.push(here),
                    Some(kept) => missing(value, kept, &here, out),
                }
            }
        }
        // Pruning works inside elements; it never removes one, so they pair up by index.
        (Value::Array(a), Value::Array(s)) => {
            for (i, (value, kept)) in a.iter().zip(s).enumerate() {
                missing(value, kept, &format!("{path}[{i}]"), out);
            }
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn stored_with(applied: Value, spec: Value) -> Value {
        json!({
            "metadata": {"annotations": {LAST_APPLIED: applied.to_string()}},
            "spec": spec,
        })
    }

    #[test]
    fn a_field_the_crd_lacks_is_named_with_its_path() {
        let rs = stored_with(
            json!({"spec": {"rayClusterConfig": {
                "rayVersion": "2.52.0",
                "gcsFaultToleranceOptions": {"backend": "redis", "redisAddress": "r:6379"},
                "workerGroupSpecs": [{"groupName": "w", "replicas": 2, "newField": 1}],
            }}}),
            json!({"rayClusterConfig": {
                "rayVersion": "2.52.0",
                "gcsFaultToleranceOptions": {"redisAddress": "r:6379"},
                "workerGroupSpecs": [{"groupName": "w", "replicas": 2, "minReplicas": 2}],
            }}),
        );
        assert_eq!(
            fields_dropped_by_the_server(&rs),
            [
                "spec.rayClusterConfig.gcsFaultToleranceOptions.backend",
                "spec.rayClusterConfig.workerGroupSpecs[0].newField",
            ]
        );
    }

    #[test]
    fn defaults_added_by_the_server_and_nulls_are_not_drops() {
        let rs = stored_with(
            json!({"spec": {"a": {"b": 1, "gone": null}, "list": [{"x": 1}]}}),
            json!({"a": {"b": 1, "defaulted": true}, "list": [{"x": 1, "y": 2}]}),
        );
        assert!(fields_dropped_by_the_server(&rs).is_empty());
    }

    #[test]
    fn without_the_annotation_or_with_a_bad_one_nothing_is_claimed() {
        assert!(fields_dropped_by_the_server(&json!({"spec": {"a": 1}})).is_empty());
        let bad = json!({"metadata": {"annotations": {LAST_APPLIED: "{not json"}}, "spec": {}});
        assert!(fields_dropped_by_the_server(&bad).is_empty());
    }

    #[test]
    fn the_list_is_bounded() {
        let many: serde_json::Map<String, Value> =
            (0..100).map(|i| (format!("f{i:03}"), json!(1))).collect();
        let rs = stored_with(json!({"spec": many}), json!({}));
        assert_eq!(fields_dropped_by_the_server(&rs).len(), MAX_PATHS);
    }
}
