//! `kubectl rayha generate`: the HA bundle, rendered from the templates and checked.

use std::io::Write;
use std::path::Path;

use base64::Engine;
use rand::Rng;
use serde_json::{Value, json};

use crate::cli::{GenerateArgs, GenerateOptions, GlobalArgs, OutputFormat};
use crate::error::{Error, Outcome, Result};
use crate::params::{self, Params};
use crate::templates::{self, TESTER_SCRIPT};
use crate::yaml;

/// Length of a generated Redis password: 32 alphanumerics, about 190 bits.
const PASSWORD_LEN: usize = 32;

/// Runs the subcommand: prints the bundle or writes it to a directory.
pub fn run(args: GenerateArgs, global: &GlobalArgs) -> Result<Outcome> {
    let resolved = resolve_options(&args.options, args.values.as_deref(), global)?;
    for w in &resolved.1 {
        eprintln!("warning: {w}");
    }
    let objects = bundle(&resolved.0, &new_password())?;
    match &args.output_dir {
        Some(dir) => write_dir(dir, &objects, args.output)?,
        None => {
            let text = format_objects(&objects, args.output);
            std::io::stdout()
                .write_all(text.as_bytes())
                .map_err(|e| Error::failed(format!("cannot write output: {e}")))?
        }
    }
    Ok(Outcome::Passed)
}

/// Merges the flags over the values file and checks the result; returns parameters and
/// warnings. `apply` resolves its own flags the same way.
pub fn resolve_options(
    options: &GenerateOptions,
    values: Option<&Path>,
    global: &GlobalArgs,
) -> Result<(Params, Vec<String>)> {
    let from_file = match values {
        Some(path) => params::read_values_file(path)?,
        None => Default::default(),
    };
    let merged = options.clone().over(from_file);
    let resolved = params::resolve(merged, global.namespace.clone())?;
    Ok((resolved.params, resolved.warnings))
}

/// A fresh random password for Redis.
pub fn new_password() -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(PASSWORD_LEN)
        .map(char::from)
        .collect()
}

/// Every object of the bundle, in the order they must be applied: Secret, ConfigMaps, Redis,
/// the workers' disruption budget, RayService, tester.
pub fn bundle(params: &Params, password: &str) -> Result<Vec<Value>> {
    let mut p = params.clone();
    let mut names: Vec<&str> = Vec::new();
    if p.secret.emit {
        p.secret.password_b64 = Some(base64::engine::general_purpose::STANDARD.encode(password));
        names.push("secret.yaml.j2");
    }
    if let Some(tls) = p.redis.as_mut().and_then(|r| r.tls.as_mut()) {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s);
        let c = crate::tls::redis_certificates(&tls.names, crate::failover::now_unix() as u64)?;
        tls.material = Some(crate::params::TlsMaterial {
            ca_b64: b64(&c.ca_pem),
            cert_b64: b64(&c.cert_pem),
            key_b64: b64(&c.key_pem),
        });
        names.push("redis-tls-secret.yaml.j2");
    }
    if let Some(redis) = &p.redis {
        names.push("redis-configmap.yaml.j2");
        if redis.storage.is_some() {
            names.push("redis-pvc.yaml.j2");
        }
    }
    if p.tester.is_some() {
        names.push("tester-configmap.yaml.j2");
    }
    if p.redis.is_some() {
        names.extend(["redis-service.yaml.j2", "redis-deployment.yaml.j2"]);
    }
    names.extend(["worker-pdb.yaml.j2", "rayservice.yaml.j2"]);
    if p.tester.is_some() {
        names.push("tester-pod.yaml.j2");
    }
    names
        .into_iter()
        .map(|name| {
            let text = templates::render(
                name,
                minijinja::context! {
                    p => &p,
                    tester_script => TESTER_SCRIPT,
                    tls_dir => crate::params::REDIS_TLS_DIR,
                },
            )?;
            let mut docs = yaml::parse_documents(&text).map_err(|e| {
                Error::failed(format!("internal: template {name} is not YAML: {e}"))
            })?;
            match (docs.pop(), docs.is_empty()) {
                (Some(doc), true) => Ok(doc),
                _ => Err(Error::failed(format!(
                    "internal: template {name} must render one object"
                ))),
            }
        })
        .collect()
}

/// The bundle as text: YAML documents, or a JSON `List` like `kubectl get -o json`.
pub fn format_objects(objects: &[Value], format: OutputFormat) -> String {
    match format {
        OutputFormat::Yaml => yaml::to_yaml_documents(objects),
        OutputFormat::Json => {
            let list = json!({"apiVersion": "v1", "kind": "List", "items": objects});
            serde_json::to_string_pretty(&list).expect("JSON values serialise") + "\n"
        }
    }
}

/// `NN-kind-name.yaml` for each object, numbered in apply order.
pub fn file_name(index: usize, object: &Value, format: OutputFormat) -> String {
    let kind = object["kind"].as_str().unwrap_or("object").to_lowercase();
    let name = object["metadata"]["name"].as_str().unwrap_or("unnamed");
    let ext = match format {
        OutputFormat::Yaml => "yaml",
        OutputFormat::Json => "json",
    };
    format!("{:02}-{kind}-{name}.{ext}", index + 1)
}

/// Writes one file per object into `dir`, which must be new or empty: files of an earlier run
/// (an old Secret with another password) must not mix with this one. Each file is created new
/// (never through a symlink planted at its name, never over an existing file) and readable by
/// its owner only: the bundle holds the Redis password.
fn write_dir(dir: &Path, objects: &[Value], format: OutputFormat) -> Result<()> {
    let fail = |e: std::io::Error| Error::failed(format!("--output-dir {}: {e}", dir.display()));
    std::fs::create_dir_all(dir).map_err(fail)?;
    if std::fs::read_dir(dir).map_err(fail)?.next().is_some() {
        return Err(Error::failed(format!(
            "--output-dir {}: not empty; give a new or empty directory (files of another run would mix with this one)",
            dir.display()
        )));
    }
    for (i, object) in objects.iter().enumerate() {
        let text = match format {
            OutputFormat::Yaml => yaml::to_yaml(object),
            OutputFormat::Json => {
                serde_json::to_string_pretty(object).expect("JSON values serialise") + "\n"
            }
        };
        let path = dir.join(file_name(i, object, format));
        write_new_private(&path, text.as_bytes())
            .map_err(|e| Error::failed(format!("--output-dir: {}: {e}", path.display())))?;
        eprintln!("wrote {}", path.display());
    }
    Ok(())
}

/// Creates `path` with mode 0600 and writes `bytes`. `create_new` is O_CREAT|O_EXCL, which
/// fails on any existing name, a symlink included (it is not followed).
fn write_new_private(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut file = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    file.write_all(bytes)?;
    file.sync_all()
}
