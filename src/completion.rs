//! Shell completion: static scripts per shell, and the Cobra `__complete` protocol that kubectl
//! (>= 1.26) speaks to a plugin's `kubectl_complete-<name>` executable.

use std::io::Write;

use clap::{Arg, ArgAction, Command, CommandFactory, ValueHint};
use clap_complete::Shell as ClapShell;

use crate::cli::{Cli, Shell};

/// Cobra's directives, printed as the last line `:N`.
const DIRECTIVE_DEFAULT: u32 = 0; // let the shell complete file names
const DIRECTIVE_NO_FILE: u32 = 4;

/// The completion script for `shell`, for the executable `kubectl-rayha`.
pub fn script(shell: Shell) -> String {
    let mut cmd = Cli::command();
    let mut out = Vec::new();
    let shell = match shell {
        Shell::Bash => ClapShell::Bash,
        Shell::Zsh => ClapShell::Zsh,
        Shell::Fish => ClapShell::Fish,
        Shell::Powershell => ClapShell::PowerShell,
    };
    clap_complete::generate(shell, &mut cmd, "kubectl-rayha", &mut out);
    String::from_utf8(out).expect("completion scripts are UTF-8")
}

/// File name of the script for `shell` in `completions/`.
pub fn script_file_name(shell: Shell) -> &'static str {
    match shell {
        Shell::Bash => "kubectl-rayha.bash",
        Shell::Zsh => "_kubectl-rayha",
        Shell::Fish => "kubectl-rayha.fish",
        Shell::Powershell => "kubectl-rayha.ps1",
    }
}

/// `kubectl rayha completion SHELL`.
pub fn run(shell: Shell) -> crate::Result<crate::Outcome> {
    print_script(shell)
        .map(|()| crate::Outcome::Passed)
        .map_err(|e| crate::Error::failed(format!("cannot write completion script: {e}")))
}

/// kubectl's completion request (`__complete WORDS…`), answered on standard output.
pub fn run_complete(words: &[String]) -> crate::Result<crate::Outcome> {
    print!("{}", complete(words));
    Ok(crate::Outcome::Passed)
}

pub fn print_script(shell: Shell) -> std::io::Result<()> {
    std::io::stdout().write_all(script(shell).as_bytes())
}

/// Answers kubectl's completion request: `words` are the arguments after `kubectl rayha`, the
/// last being the (possibly empty) word under the cursor. Returns candidate lines
/// (`value\tdescription`) followed by `:directive`.
pub fn complete(words: &[String]) -> String {
    let root = Cli::command();
    let (to_complete, before) = match words.split_last() {
        Some((last, before)) => (last.as_str(), before),
        None => ("", &[][..]),
    };
    let (cmd, pending_flag) = walk(&root, before);
    let mut candidates: Vec<(String, String)> = Vec::new();
    let directive;
    if let Some(flag) = pending_flag {
        (candidates, directive) = value_candidates(&flag);
    } else if to_complete.starts_with('-') {
        candidates = flags(&root, &cmd)
            .into_iter()
            .filter(|(name, _)| name.starts_with(to_complete))
            .collect();
        directive = DIRECTIVE_NO_FILE;
    } else if cmd.has_subcommands() {
        candidates = cmd
            .get_subcommands()
            .filter(|s| !s.is_hide_set())
            .map(|s| (s.get_name().to_string(), about(s.get_about())))
            .collect();
        directive = DIRECTIVE_NO_FILE;
    } else {
        match cmd.get_positionals().next() {
            Some(arg) => (candidates, directive) = value_candidates(arg),
            None => directive = DIRECTIVE_NO_FILE,
        }
    }
    let mut out = String::new();
    for (value, help) in candidates
        .into_iter()
        .filter(|(v, _)| v.starts_with(to_complete))
    {
        if help.is_empty() {
            out.push_str(&format!("{value}\n"));
        } else {
            out.push_str(&format!("{value}\t{help}\n"));
        }
    }
    out.push_str(&format!(":{directive}\n"));
    out
}

fn about(s: Option<&clap::builder::StyledStr>) -> String {
    s.map(|s| s.to_string()).unwrap_or_default()
}

/// Descends through subcommands named in `words`; returns the command reached and, when the last
/// word is a flag still waiting for its value, that flag.
fn walk(root: &Command, words: &[String]) -> (Command, Option<Arg>) {
    let mut cmd = root.clone();
    let mut pending: Option<Arg> = None;
    for word in words {
        if pending.take().is_some() {
            continue;
        }
        if let Some(flag) = word.strip_prefix("--") {
            if !flag.contains('=') {
                pending = find_flag(root, &cmd, |a| a.get_long() == Some(flag)).filter(takes_value);
            }
        } else if let Some(short) = word.strip_prefix('-').filter(|s| s.len() == 1) {
            let c = short.chars().next();
            pending = find_flag(root, &cmd, |a| a.get_short() == c).filter(takes_value);
        } else if let Some(sub) = cmd.find_subcommand(word).cloned() {
            cmd = sub;
        }
    }
    (cmd, pending)
}

fn takes_value(a: &Arg) -> bool {
    matches!(a.get_action(), ArgAction::Set | ArgAction::Append)
        && a.get_num_args().is_none_or(|n| n.min_values() > 0)
}

fn find_flag(root: &Command, cmd: &Command, pred: impl Fn(&Arg) -> bool) -> Option<Arg> {
    cmd.get_arguments()
        .chain(root.get_arguments().filter(|a| a.is_global_set()))
        .find(|a| pred(a))
        .cloned()
}

fn flags(root: &Command, cmd: &Command) -> Vec<(String, String)> {
    let mut out: Vec<(String, String)> = cmd
        .get_arguments()
        .chain(root.get_arguments().filter(|a| a.is_global_set()))
        .filter(|a| !a.is_hide_set() && !a.is_positional())
        .filter_map(|a| {
            a.get_long()
                .map(|l| (format!("--{l}"), about(a.get_help())))
        })
        .collect();
    out.push(("--help".into(), "Print help".into()));
    out.sort();
    out.dedup_by(|a, b| a.0 == b.0);
    out
}

fn value_candidates(arg: &Arg) -> (Vec<(String, String)>, u32) {
    let values = arg.get_possible_values();
    if !values.is_empty() {
        let list = values
            .iter()
            .filter(|v| !v.is_hide_set())
            .map(|v| (v.get_name().to_string(), about(v.get_help())))
            .collect();
        return (list, DIRECTIVE_NO_FILE);
    }
    let names_a_path = matches!(
        arg.get_value_hint(),
        ValueHint::FilePath | ValueHint::DirPath | ValueHint::AnyPath
    ) || arg
        .get_value_names()
        .is_some_and(|n| n.iter().any(|n| n == "FILE" || n == "DIR"));
    let directive = if names_a_path {
        DIRECTIVE_DEFAULT
    } else {
        DIRECTIVE_NO_FILE
    };
    (Vec::new(), directive)
}
