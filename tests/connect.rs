//! Without a reachable cluster, commands that need one fail fast with one `error:` line that names
//! the server or the context.

mod common;

use std::time::{Duration, Instant};

use common::*;

fn kubeconfig(dir: &std::path::Path, server: &str) -> std::path::PathBuf {
    let path = dir.join("config");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: {server}\n    insecure-skip-tls-verify: true\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: ctx\n  context: {{cluster: c, user: u, namespace: team}}\ncurrent-context: ctx\n"
        ),
    )
    .unwrap();
    path
}

fn one_error_line(args: &[&str], must_name: &str) {
    let start = Instant::now();
    let out = run(args);
    let took = start.elapsed();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{args:?}: {err}");
    let lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
    assert_eq!(lines.len(), 1, "{args:?}: {err}");
    assert!(
        lines[0].contains(must_name),
        "{args:?}: {:?} lacks {must_name:?}",
        lines[0]
    );
    assert!(took < Duration::from_secs(15), "{args:?} took {took:?}");
}

#[test]
fn server_down_names_the_server() {
    let dir = tempfile::tempdir().unwrap();
    // Nothing listens on port 1 of loopback: the connection is refused at once.
    let kc = kubeconfig(dir.path(), "https://127.0.0.1:1");
    for cmd in [vec!["apply", "--wait=false"], vec!["delete", "x", "-y"]] {
        let mut args = cmd.clone();
        args.extend(["--kubeconfig", kc.to_str().unwrap()]);
        one_error_line(&args, "https://127.0.0.1:1");
    }
}

#[test]
fn wrong_context_names_the_context() {
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(dir.path(), "https://127.0.0.1:1");
    one_error_line(
        &[
            "apply",
            "--kubeconfig",
            kc.to_str().unwrap(),
            "--context",
            "nope",
        ],
        "nope",
    );
}

#[test]
fn unreadable_kubeconfig_names_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing");
    one_error_line(
        &[
            "delete",
            "x",
            "-y",
            "--kubeconfig",
            missing.to_str().unwrap(),
        ],
        "missing",
    );
    let garbage = dir.path().join("garbage");
    std::fs::write(&garbage, "clusters: [ {").unwrap();
    one_error_line(
        &[
            "delete",
            "x",
            "-y",
            "--kubeconfig",
            garbage.to_str().unwrap(),
        ],
        "garbage",
    );
}

#[test]
fn kubeconfig_env_is_used_and_merged() {
    let dir = tempfile::tempdir().unwrap();
    let kc = kubeconfig(dir.path(), "https://127.0.0.1:1");
    let other = dir.path().join("other");
    std::fs::write(&other, "apiVersion: v1\nkind: Config\n").unwrap();
    let out = std::process::Command::new(bin())
        .args(["delete", "x", "-y"])
        .env(
            "KUBECONFIG",
            format!("{}:{}", other.display(), kc.display()),
        )
        .output()
        .unwrap();
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(1));
    assert!(err.contains("https://127.0.0.1:1"), "{err}");
}
