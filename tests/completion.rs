//! Shell completion: the committed scripts are current, and kubectl itself finds the plugin and
//! its completion executable.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::*;
use rayha::cli::Shell;
use rayha::completion::{script, script_file_name};

fn completions_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("completions")
}

#[test]
fn committed_completion_scripts_are_current() {
    // Regenerate with: for s in bash zsh fish powershell; do kubectl-rayha completion $s > …; done
    // (or run this test with RAYHA_UPDATE_COMPLETIONS=1).
    let update = std::env::var_os("RAYHA_UPDATE_COMPLETIONS").is_some();
    for shell in [Shell::Bash, Shell::Zsh, Shell::Fish, Shell::Powershell] {
        let path = completions_dir().join(script_file_name(shell));
        let fresh = script(shell);
        if update {
            std::fs::write(&path, &fresh).unwrap();
        }
        let committed = std::fs::read_to_string(&path).unwrap_or_default();
        assert!(
            committed == fresh,
            "{} is stale: run RAYHA_UPDATE_COMPLETIONS=1 cargo test --test completion",
            path.display()
        );
        // The CLI prints the same script.
        let printed = run(&["completion", &format!("{shell:?}").to_lowercase()]);
        assert_eq!(stdout(&printed), fresh);
    }
}

/// kubectl ($RAYHA_KUBECTL, else the machine's), with only the built binary and our completion
/// script on PATH.
fn kubectl(args: &[&str]) -> Option<std::process::Output> {
    let from_env = std::env::var_os("RAYHA_KUBECTL").map(PathBuf::from);
    let kubectl = from_env
        .into_iter()
        .chain(["/usr/bin/kubectl", "/usr/local/bin/kubectl"].map(PathBuf::from))
        .find(|p| Path::new(p).exists())?;
    let path = format!(
        "{}:{}:/usr/bin:/bin",
        bin().parent().unwrap().display(),
        completions_dir().display()
    );
    Some(
        Command::new(kubectl)
            .args(args)
            .env_clear()
            .env("PATH", path)
            .env("HOME", std::env::temp_dir())
            .output()
            .unwrap(),
    )
}

#[test]
fn kubectl_discovers_the_plugin() {
    let Some(out) = kubectl(&["rayha", "--help"]) else {
        panic!("no kubectl: install one or set RAYHA_KUBECTL (the rig builds one: rig/rig env)");
    };
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("Usage: kubectl rayha"), "{text}");
    assert!(text.contains("generate") && text.contains("lint"));
    let list = kubectl(&["plugin", "list"]).unwrap();
    assert!(stdout(&list).contains("kubectl-rayha"), "{}", stdout(&list));
}

fn candidates(out: &std::process::Output) -> (Vec<String>, String) {
    let text = stdout(out);
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let directive = lines.pop().unwrap_or_default();
    (
        lines
            .into_iter()
            .map(|l| l.split('\t').next().unwrap().to_string())
            .collect(),
        directive,
    )
}

#[test]
fn kubectl_completes_subcommands_flags_and_values_through_kubectl_complete_rayha() {
    let (subs, directive) = candidates(&kubectl(&["__complete", "rayha", ""]).unwrap());
    assert_eq!(
        subs,
        [
            "generate",
            "lint",
            "apply",
            "status",
            "list",
            "delete",
            "failover",
            "query",
            "report",
            "completion"
        ]
    );
    assert_eq!(directive, ":4");
    let (flags, _) =
        candidates(&kubectl(&["__complete", "rayha", "generate", "--redis-"]).unwrap());
    for f in [
        "--redis-address",
        "--redis-password-secret",
        "--redis-storage",
    ] {
        assert!(flags.contains(&f.to_string()), "{flags:?}");
    }
    assert!(flags.iter().all(|f| f.starts_with("--redis-")));
    let (globals, _) = candidates(&kubectl(&["__complete", "rayha", "lint", "--n"]).unwrap());
    assert_eq!(globals, ["--namespace"]);
    let (values, _) = candidates(&kubectl(&["__complete", "rayha", "generate", "-o", ""]).unwrap());
    assert_eq!(values, ["yaml", "json"]);
    // A file argument hands over to the shell's file completion.
    let (none, directive) =
        candidates(&kubectl(&["__complete", "rayha", "generate", "--values", ""]).unwrap());
    assert!(none.is_empty());
    assert_eq!(directive, ":0");
}

#[test]
fn binary_answers_completion_when_invoked_as_kubectl_complete_rayha() {
    let dir = tempfile::tempdir().unwrap();
    let link = dir.path().join("kubectl_complete-rayha");
    std::os::unix::fs::symlink(bin(), &link).unwrap();
    let out = Command::new(&link)
        .args(["completion", ""])
        .output()
        .unwrap();
    let (values, directive) = candidates(&out);
    assert_eq!(values, ["bash", "zsh", "fish", "powershell"]);
    assert_eq!(directive, ":4");
}
