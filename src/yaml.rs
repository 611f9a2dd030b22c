//! YAML in and out, through serde-saphyr, with JSON values in between.

use serde_json::Value;

/// Parses every document of a (possibly multi-document) YAML text; empty documents are skipped.
/// Errors (`not valid YAML: …` or `input too large …`) quote no input (see `redact`).
pub fn parse_documents(text: &str) -> Result<Vec<Value>, String> {
    let docs: Vec<Value> = serde_saphyr::from_str_multiple(text).map_err(|e| {
        crate::redact::yaml_too_large(&e)
            .unwrap_or_else(|| format!("not valid YAML: {}", crate::redact::yaml_error(&e)))
    })?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}

/// `kind: List` documents (as `kubectl get -o yaml` prints) contribute their items.
pub fn flatten_lists(docs: Vec<Value>) -> Vec<Value> {
    docs.into_iter()
        .flat_map(|d| match (d["kind"].as_str(), d.get("items")) {
            (Some(k), Some(Value::Array(items))) if k.ends_with("List") => items.clone(),
            _ => vec![d],
        })
        .collect()
}

fn options() -> serde_saphyr::SerializerOptions {
    // Multi-line strings (serveConfigV2, scripts) as `|` blocks; never fold long single lines.
    serde_saphyr::ser_options! {
        indent_step: 2,
        compact_list_indent: true,
        prefer_block_scalars: true,
        folded_wrap_chars: usize::MAX / 2,
    }
}

/// One YAML document, ending in a newline.
pub fn to_yaml(value: &Value) -> String {
    // Serialising a JSON value cannot fail: every key is a string and there are no tags.
    serde_saphyr::to_string_with_options(value, options()).expect("JSON values serialise to YAML")
}

/// Several documents joined by `---` lines.
pub fn to_yaml_documents(values: &[Value]) -> String {
    values.iter().map(to_yaml).collect::<Vec<_>>().join("---\n")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn strings_that_look_like_other_scalars_stay_strings() {
        let v =
            json!({"num-cpus": "0", "a": "true", "b": "1.0", "c": "null", "d": "", "e": "12:30"});
        let back = parse_documents(&to_yaml(&v)).unwrap();
        assert_eq!(back, vec![v]);
    }

    #[test]
    fn multiline_strings_become_blocks_and_round_trip() {
        let v = json!({"serveConfigV2": "applications:\n- name: a\n  import_path: m:app\n"});
        let text = to_yaml(&v);
        assert!(text.starts_with("serveConfigV2: |"), "{text}");
        assert_eq!(parse_documents(&text).unwrap(), vec![v]);
    }

    #[test]
    fn documents_split_and_skip_empty_ones() {
        let docs = parse_documents("---\na: 1\n---\n---\nb: [1, 2]\n").unwrap();
        assert_eq!(docs, vec![json!({"a": 1}), json!({"b": [1, 2]})]);
    }
}
