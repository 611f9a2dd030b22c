//! The one rule for what an error or report may quote from its input. Kubeconfigs hold tokens and
//! client keys, bundles hold Redis passwords, URLs can carry a password: so a message names
//! *where* (file, line, column; the URL with its password as `***`) and never shows the text
//! around the problem; and anything echoed to a terminal has its control characters escaped.

use std::fmt::Write;

/// A YAML parse error as `line L, column C: message`: the parser's message in its user wording,
/// without the source lines it would quote (they may hold a secret) and with any quoted
/// string replaced by `"…"`.
pub fn yaml_error(e: &serde_saphyr::Error) -> String {
    if let Some(too_large) = yaml_too_large(e) {
        return too_large;
    }
    let formatter = serde_saphyr::UserMessageFormatter;
    let options = serde_saphyr::render_options! {
        formatter: &formatter,
        snippets: serde_saphyr::SnippetMode::Off,
    };
    let rendered = one_line(&e.render_with_options(options));
    let message = match e.location() {
        Some(at) => {
            let suffix = format!(" at line {}, column {}", at.line(), at.column());
            let bare = rendered.strip_suffix(&suffix).unwrap_or(&rendered);
            format!("line {}, column {}: {bare}", at.line(), at.column())
        }
        None => rendered,
    };
    without_quoted(&message)
}

/// When the YAML reader stopped at one of its limits (they bound the memory and time one input
/// can take): which, as `input too large (limit: …)`. Valid YAML can hit them; it is not invalid.
pub fn yaml_too_large(e: &serde_saphyr::Error) -> Option<String> {
    use serde_saphyr::budget::BudgetBreach;
    let serde_saphyr::Error::Budget { breach, .. } = e.without_snippet() else {
        return None;
    };
    let limits = serde_saphyr::budget::Budget::default();
    let limit = match breach {
        BudgetBreach::Documents { .. } => format!("{} documents", limits.max_documents),
        BudgetBreach::Nodes { .. } => format!("{} nodes", limits.max_nodes),
        BudgetBreach::Depth { .. } => format!("nesting {} deep", limits.max_depth),
        BudgetBreach::Events { .. } => format!("{} parser events", limits.max_events),
        BudgetBreach::Aliases { .. } => format!("{} aliases", limits.max_aliases),
        BudgetBreach::ScalarBytes { .. } => {
            format!("{} MiB of scalars", limits.max_total_scalar_bytes >> 20)
        }
        _ => "the YAML reader's budget".to_string(),
    };
    Some(format!("input too large (limit: {limit})"))
}

/// `yaml_error` plus the key of the line the error is on, when `text` is the parsed input and
/// `is_known` accepts that key: a key can be a secret too (a map of users to passwords), so only
/// keys the caller knows as field names are shown.
pub fn yaml_error_naming(
    e: &serde_saphyr::Error,
    text: &str,
    is_known: impl Fn(&str) -> bool,
) -> String {
    if let Some(too_large) = yaml_too_large(e) {
        return too_large;
    }
    let key = e
        .location()
        .and_then(|at| text.lines().nth((at.line() as usize).checked_sub(1)?))
        .and_then(key_of)
        .filter(|k| is_known(k));
    match key {
        Some(key) => format!("{} (key {key})", yaml_error(e)),
        None => yaml_error(e),
    }
}

/// The plain key of a `key: value` (or `- key: value`) line.
fn key_of(line: &str) -> Option<&str> {
    let line = line.trim_start();
    let line = line.strip_prefix("- ").unwrap_or(line);
    let (key, _) = line.split_once(':')?;
    let plain = !key.is_empty()
        && key.len() <= 64
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b));
    plain.then_some(key)
}

/// Replaces the inside of every `"…"` in `message`: a parser quotes scalars, and a scalar may be
/// a token.
fn without_quoted(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut parts = message.split('"');
    if let Some(first) = parts.next() {
        out.push_str(first);
    }
    for (i, part) in parts.enumerate() {
        if i % 2 == 0 {
            out.push_str("\"…\"");
        } else {
            out.push_str(part);
        }
    }
    out
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// A URL (`scheme://user:password@host/…`, or a bare `user:password@host:port`) with the password
/// replaced by `***`; anything else unchanged.
pub fn url(text: &str) -> String {
    let (scheme, rest) = match text.find("://") {
        Some(i) => text.split_at(i + 3),
        None => ("", text),
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return text.to_string();
    };
    let userinfo = &authority[..at];
    let shown_user = match userinfo.split_once(':') {
        Some((user, _password)) => format!("{user}:***"),
        // A lone userinfo part is a password for Redis (`redis://secret@host`): hide it too.
        None => "***".to_string(),
    };
    format!("{scheme}{shown_user}{}", &rest[at..])
}

/// Whether a URL carries credentials (a userinfo part before the host).
pub fn has_userinfo(text: &str) -> bool {
    url(text) != text
}

/// Text for a terminal: control characters other than newline and tab become `\u{..}` escapes,
/// so input cannot move the cursor, retitle the window or hide what follows.
pub fn terminal(text: &str) -> String {
    if !text.chars().any(is_unsafe_control) {
        return text.to_string();
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        if is_unsafe_control(c) {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

fn is_unsafe_control(c: char) -> bool {
    c.is_control() && c != '\n' && c != '\t'
}

/// The first control character of a value that goes into a request line, header or YAML scalar,
/// for the error naming it.
pub fn control_char(text: &str) -> Option<char> {
    text.chars().find(|c| c.is_control())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_error(text: &str) -> String {
        let e = serde_saphyr::from_str::<serde_json::Value>(text).unwrap_err();
        yaml_error(&e)
    }

    #[test]
    fn yaml_errors_give_the_place_but_not_the_lines() {
        let msg = parse_error("users:\n- user:\n    token: SECRETTOKEN\n   bad: x\n");
        assert!(!msg.contains("SECRETTOKEN"), "{msg}");
        assert!(msg.starts_with("line 4, column 4: "), "{msg}");
        assert!(!msg.contains('\n'));
    }

    #[test]
    fn yaml_errors_name_the_key_of_their_line() {
        let text = "a: 1\nworker-replicas: [x\n";
        let e = serde_saphyr::from_str::<serde_json::Value>(text).unwrap_err();
        let msg = yaml_error_naming(&e, text, |k| k == "worker-replicas");
        assert!(msg.contains("(key worker-replicas)"), "{msg}");
        let msg = yaml_error_naming(&e, text, |_| false);
        assert!(!msg.contains("worker-replicas"), "{msg}");
        assert_eq!(key_of("  - name: x"), Some("name"));
        assert_eq!(key_of("token SECRET"), None);
        assert_eq!(key_of("\"a b\": c"), None);
    }

    #[test]
    fn inputs_over_the_reader_limits_are_too_large_not_invalid() {
        let many = "---\na: 1\n".repeat(1100);
        let e = serde_saphyr::from_str_multiple::<serde_json::Value, Vec<_>>(&many).unwrap_err();
        assert_eq!(yaml_error(&e), "input too large (limit: 1024 documents)");
    }

    #[test]
    fn yaml_errors_carry_no_library_advice() {
        let msg = parse_error("a: 1\na: 2\n");
        assert!(!msg.contains("DuplicateKeyPolicy"), "{msg}");
        assert!(msg.contains("duplicate"), "{msg}");
    }

    #[test]
    fn quoted_scalars_are_hidden() {
        assert_eq!(
            without_quoted(r#"invalid type: string "s3cret", expected u16"#),
            r#"invalid type: string "…", expected u16"#
        );
        assert_eq!(without_quoted("no quotes"), "no quotes");
    }

    #[test]
    fn url_passwords_become_stars() {
        assert_eq!(
            url("redis://user:PW@host:6379"),
            "redis://user:***@host:6379"
        );
        assert_eq!(url("http://u:p@h/x?y=a@b"), "http://u:***@h/x?y=a@b");
        assert_eq!(url("redis://PW@host"), "redis://***@host");
        assert_eq!(url("user:PW@host:6379"), "user:***@host:6379");
        assert_eq!(url("http://host:80/a@b"), "http://host:80/a@b");
        assert_eq!(url("redis:6379"), "redis:6379");
        assert!(has_userinfo("http://u:p@h/"));
        assert!(!has_userinfo("http://h/"));
    }

    #[test]
    fn terminal_escapes_control_characters() {
        assert_eq!(terminal("a\x1b]0;x\x07b\n\tc"), "a\\u{1b}]0;x\\u{7}b\n\tc");
        assert_eq!(terminal("plain"), "plain");
        assert_eq!(control_char("a\r\nb"), Some('\r'));
        assert_eq!(control_char("ab"), None);
    }
}
