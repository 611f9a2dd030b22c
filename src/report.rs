//! `kubectl rayha report FILE.json [B.json]`: renders a saved failover or query report as text,
//! JSON or one self-contained HTML page, so CI can keep the JSON and render it later; with two
//! files, compares the runs side by side (A then B).

use std::io::Write;
use std::path::Path;

use crate::cli::{ReportArgs, ReportOutput};
use crate::error::{Error, Outcome, Result};
use crate::render::{self, Digest, Saved};

pub fn run(args: ReportArgs) -> Result<Outcome> {
    let reports = args
        .files
        .iter()
        .map(|p| Saved::read(p).map(|s| (p.display().to_string(), s)))
        .collect::<Result<Vec<_>>>()?;
    let out = match reports.as_slice() {
        [(_, one)] => single(one, args.output)?,
        [(fa, a), (fb, b)] => compare((fa, a), (fb, b), args.output)?,
        _ => return Err(Error::usage("give one report to render or two to compare")),
    };
    write(args.output_file.as_deref(), &out)?;
    Ok(Outcome::Passed)
}

fn single(saved: &Saved, output: ReportOutput) -> Result<String> {
    Ok(match output {
        ReportOutput::Text => saved.text(),
        ReportOutput::Json => saved.json(),
        ReportOutput::Html => render::html(saved)?,
    })
}

fn compare(a: (&str, &Saved), b: (&str, &Saved), output: ReportOutput) -> Result<String> {
    let (da, db) = (Digest::of(a.0, a.1), Digest::of(b.0, b.1));
    Ok(match output {
        ReportOutput::Text => render::compare_text(&da, &db),
        ReportOutput::Json => {
            serde_json::to_string_pretty(&serde_json::json!({ "a": da, "b": db }))
                .map_err(|e| Error::failed(format!("internal: {e}")))?
                + "\n"
        }
        ReportOutput::Html => render::compare_html(a, b)?,
    })
}

/// To `--output-file`, else standard output.
fn write(path: Option<&Path>, content: &str) -> Result<()> {
    match path {
        Some(p) => std::fs::write(p, content)
            .map_err(|e| Error::failed(format!("--output-file {}: {e}", p.display()))),
        None => std::io::stdout()
            .write_all(content.as_bytes())
            .map_err(|e| Error::failed(format!("cannot write the report: {e}"))),
    }
}
