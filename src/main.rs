//! kubectl-rayha: parse, dispatch, map errors to exit codes. The logic lives in the library.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Parser;
use rayha::cli::{Cli, Command};
use rayha::{Error, apply, completion, delete, failover, generate, lint, list, query, status};

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
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e}");
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

fn dispatch(cli: Cli) -> Result<ExitCode, Error> {
    match cli.command {
        Command::Generate(args) => generate::run(*args, &cli.global).map(|_| ExitCode::SUCCESS),
        Command::Lint(args) => lint::run(args).map(|ok| {
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }),
        Command::Apply(args) => apply::run(*args, &cli.global).map(|_| ExitCode::SUCCESS),
        Command::Status(args) => status::run(args, &cli.global).map(|ok| {
            if ok {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }),
        Command::List(args) => list::run(args, &cli.global).map(|_| ExitCode::SUCCESS),
        Command::Delete(args) => delete::run(args, &cli.global).map(|_| ExitCode::SUCCESS),
        Command::Failover(args) => failover::run(*args, &cli.global).map(exit_code),
        Command::Query(args) => query::run(*args, &cli.global).map(exit_code),
        Command::Completion(args) => completion::print_script(args.shell)
            .map(|_| ExitCode::SUCCESS)
            .map_err(|e| Error::failed(format!("cannot write completion script: {e}"))),
        Command::Complete(args) => {
            print!("{}", completion::complete(&args.words));
            Ok(ExitCode::SUCCESS)
        }
    }
}

/// clap's errors as kubectl shows them: one `error:` line and a pointer to help; help and
/// version requests print normally.
/// A query's or drill's ending as its exit code; 130 is the shell's code for Ctrl-C.
fn exit_code(ending: query::Ending) -> ExitCode {
    match ending {
        query::Ending::Passed => ExitCode::SUCCESS,
        query::Ending::Failed => ExitCode::FAILURE,
        query::Ending::Interrupted => ExitCode::from(130),
    }
}

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
