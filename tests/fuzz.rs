//! Bounded property runs (a few seconds in `cargo test`) over lint's YAML front door: whatever
//! the text, lint ends in a report or one error, never a panic, and no error quotes a secret
//! from the input. (The HTTP reply reader has its own in `src/load/http.rs`.)

mod common;

use proptest::prelude::*;

const SECRET: &str = "S3CRET-f00d";

/// A generated bundle with the Secret's data and a Redis password line holding `SECRET`.
fn bundle() -> String {
    let out = common::run(&["generate"]);
    assert!(out.status.success());
    let text = common::stdout(&out);
    let line = text
        .lines()
        .find(|l| l.trim_start().starts_with("password: "))
        .expect("the Secret's data line")
        .to_string();
    text.replacen(
        &line,
        &format!("  password: {SECRET}\n  token: {SECRET}"),
        1,
    )
}

/// Lines that YAML parsers and lint's checks care about.
fn fragment() -> impl Strategy<Value = String> {
    prop_oneof![
        Just(format!("requirepass {SECRET}")),
        Just(format!("token: {SECRET}")),
        Just(format!("client-key-data: \"{SECRET}")),
        Just(format!("- {SECRET}: [")),
        Just("---".to_string()),
        Just("serveConfigV2: 7".to_string()),
        Just("proxy_location: 7".to_string()),
        Just("replicas: 9223372036854775807".to_string()),
        Just("numOfHosts: 99999999999999999999".to_string()),
        Just("minReplicas: -1".to_string()),
        Just("kind: RayService".to_string()),
        Just("apiVersion: ray.io/v1".to_string()),
        Just("a: &x [*x]".to_string()),
        Just("!!int x".to_string()),
        Just("? complex".to_string()),
        Just("\u{1b}]0;title\u{7}".to_string()),
        "[ -~]{0,40}",
    ]
}

#[derive(Debug, Clone)]
enum Edit {
    Insert(usize, usize, String),
    Delete(usize),
    Indent(usize, usize),
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        (any::<usize>(), 0usize..10, fragment()).prop_map(|(i, n, f)| Edit::Insert(i, n, f)),
        any::<usize>().prop_map(Edit::Delete),
        (any::<usize>(), 0usize..5).prop_map(|(i, n)| Edit::Indent(i, n)),
    ]
}

fn apply(text: &str, edits: &[Edit]) -> String {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    for e in edits {
        let at = |i: usize| i % (lines.len() + 1);
        match e {
            Edit::Insert(i, n, f) => {
                let i = at(*i);
                lines.insert(i, format!("{}{f}", " ".repeat(*n)));
            }
            Edit::Delete(i) if !lines.is_empty() => {
                let i = *i % lines.len();
                lines.remove(i);
            }
            Edit::Indent(i, n) if !lines.is_empty() => {
                let i = *i % lines.len();
                lines[i] = format!("{}{}", " ".repeat(*n), lines[i].trim_start());
            }
            _ => {}
        }
    }
    lines.join("\n")
}

fn check(text: &str) -> Result<(), TestCaseError> {
    if let Err(e) = rayha::lint::lint_text("fuzz.yaml", text) {
        let msg = e.to_string();
        prop_assert!(!msg.contains(SECRET), "secret in {msg:?}");
        prop_assert!(!msg.contains('\n'), "{msg:?}");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 256,
        failure_persistence: None,
        ..ProptestConfig::default()
    })]

    #[test]
    fn an_edited_bundle_lints_or_fails_without_quoting_secrets(edits in proptest::collection::vec(edit(), 1..6)) {
        thread_local!(static BUNDLE: String = bundle());
        let text = BUNDLE.with(|b| apply(b, &edits));
        check(&text)?;
    }

    #[test]
    fn any_line_soup_lints_or_fails_without_quoting_secrets(
        lines in proptest::collection::vec((0usize..8, fragment()), 0..40)
    ) {
        let text: String = lines
            .iter()
            .map(|(n, f)| format!("{}{f}\n", " ".repeat(*n)))
            .collect();
        check(&text)?;
    }
}
