//! kubectl-rayha: parse, dispatch, map errors to exit codes. The logic lives in the library.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;
use rayha::cli::{Cli, Command};
use rayha::{
    Error, Outcome, apply, completion, delete, failover, generate, lint, list, query, report,
    status,
};

fn main() -> ExitCode {
    let cli = match Cli::try_parse_from(arguments()) {
        Ok(cli) => cli,
        Err(e) => return usage_error(e),
    };
    let result = dispatch(cli);
    if std::env::var_os("RAYHA_API_COUNT").is_some() {
        eprintln!("api requests: {}", rayha::cluster::api_requests());
    }
    match result {
        Ok(outcome) => ExitCode::from(outcome.exit_code()),
        Err(e) => {
            // Errors quote input; a terminal must not act on what it holds.
            eprintln!("error: {}", rayha::redact::terminal(&e.to_string()));
            ExitCode::from(e.exit_code() as u8)
        }
    }
}

/// When run as `kubectl_complete-rayha` (a link to this binary), answer kubectl's completion
/// request as `__complete` would.
fn arguments() -> Vec<OsString> {
    let mut args: Vec<OsString> = std::env::args_os().collect();
    let invoked_as = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name().map(|f| f.to_owned()));
    if invoked_as.is_some_and(|f| f.to_string_lossy().starts_with("kubectl_complete-rayha")) {
        args.insert(1, "__complete".into());
    }
    args
}

/// Runs the command; every command ends in one `Outcome` (or an error).
fn dispatch(cli: Cli) -> Result<Outcome, Error> {
    let global = &cli.global;
    match cli.command {
        Command::Generate(args) => generate::run(*args, global),
        Command::Lint(args) => lint::run(args),
        Command::Apply(args) => apply::run(*args, global),
        Command::Status(args) => status::run(args, global),
        Command::List(args) => list::run(args, global),
        Command::Delete(args) => delete::run(args, global),
        Command::Failover(args) => failover::run(*args, global),
        Command::Query(args) => query::run(*args, global),
        Command::Report(args) => report::run(args),
        Command::Completion(args) => completion::run(args.shell),
        Command::Complete(args) => completion::run_complete(&args.words),
    }
}

/// clap's errors as kubectl shows them: one `error:` line and a pointer to help; help and
/// version requests print normally.
fn usage_error(e: clap::Error) -> ExitCode {
    use clap::error::ErrorKind;
    if matches!(
        e.kind(),
        ErrorKind::DisplayHelp
            | ErrorKind::DisplayVersion
            | ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand
    ) {
        let _ = e.print();
        return if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
            ExitCode::from(2)
        } else {
            ExitCode::SUCCESS
        };
    }
    // clap's first paragraph, folded into one line (it holds the allowed values and tips).
    let rendered = e.render().to_string();
    let paragraph: Vec<&str> = rendered
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect();
    let joined = paragraph.join(" ");
    let first = if joined.starts_with("error:") {
        joined
    } else {
        format!("error: {joined}")
    };
    eprintln!("{first}");
    eprintln!("See 'kubectl rayha --help' for usage.");
    ExitCode::from(2)
}
