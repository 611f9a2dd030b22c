//! KubeRay's reference data in tests/data/kuberay: the files are the ones its SOURCE.md names,
//! byte for byte, and (when Go can fetch it) the RayService CRD of the operator the test rig runs
//! accepts the generated bundle too.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::*;
use serde_json::Value;
use sha2::{Digest, Sha256};

fn data_dir() -> PathBuf {
    kuberay_data("")
}

/// `(file, path in KubeRay, sha256)` rows of SOURCE.md's table.
fn provenance_rows() -> Vec<(String, String, String)> {
    let text = std::fs::read_to_string(data_dir().join("SOURCE.md")).unwrap();
    text.lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l
                .trim()
                .strip_prefix('|')?
                .strip_suffix('|')?
                .split('|')
                .map(str::trim)
                .collect();
            let [file, path, sum] = cells[..] else {
                return None;
            };
            (sum.len() == 64 && sum.bytes().all(|b| b.is_ascii_hexdigit()))
                .then(|| (file.into(), path.into(), sum.into()))
        })
        .collect()
}

fn sha256_hex(path: &Path) -> String {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn data_files_are_exactly_those_source_md_names_with_their_sha256() {
    let rows = provenance_rows();
    assert!(rows.len() >= 3, "SOURCE.md table has {} rows", rows.len());
    for (file, _, sum) in &rows {
        assert_eq!(
            &sha256_hex(&data_dir().join(file)),
            sum,
            "{file} differs from the sha256 in SOURCE.md: refresh it with refresh.sh and update the table"
        );
    }
    let listed: BTreeSet<&str> = rows.iter().map(|r| r.0.as_str()).collect();
    let present: BTreeSet<String> = std::fs::read_dir(data_dir())
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|n| n.ends_with(".yaml"))
        .collect();
    let present: BTreeSet<&str> = present.iter().map(String::as_str).collect();
    assert_eq!(
        listed, present,
        "data files without a SOURCE.md row, or rows without a file"
    );
}

/// Every KubeRay operator version the rig builds (rig/versions.env KUBERAY_VERSIONS).
fn rig_kuberay_versions() -> Vec<String> {
    let env =
        std::fs::read_to_string(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("rig/versions.env"))
            .unwrap();
    let list = env
        .lines()
        .find_map(|l| l.strip_prefix("KUBERAY_VERSIONS="))
        .expect("KUBERAY_VERSIONS in rig/versions.env");
    list.trim_matches('"')
        .split_whitespace()
        .map(String::from)
        .collect()
}

/// The folder of `github.com/ray-project/kuberay/ray-operator@version` in Go's module cache,
/// downloading it through the module proxy if needed; an error when Go or the module is unavailable.
fn kuberay_module_dir(version: &str) -> Result<PathBuf, String> {
    let scratch = tempfile::tempdir().map_err(|e| e.to_string())?;
    let out = Command::new("go")
        .args(["mod", "download", "-json"])
        .arg(format!(
            "github.com/ray-project/kuberay/ray-operator@{version}"
        ))
        .current_dir(scratch.path())
        .env("GOFLAGS", "-mod=mod")
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("go: {e}"))?;
    let info: Value = serde_json::from_slice(&out.stdout)
        .map_err(|_| format!("go mod download: {}", String::from_utf8_lossy(&out.stderr)))?;
    match info["Dir"].as_str() {
        Some(d) if out.status.success() => Ok(PathBuf::from(d)),
        _ => Err(format!("go mod download: {}", info["Error"])),
    }
}

/// Every property path of a schema (`spec.rayClusterConfig.headGroupSpec...`), arrays as `[]`.
fn schema_paths(schema: &Value, prefix: &str, out: &mut BTreeSet<String>) {
    if let Some(props) = schema["properties"].as_object() {
        for (k, v) in props {
            let p = if prefix.is_empty() {
                k.clone()
            } else {
                format!("{prefix}.{k}")
            };
            out.insert(p.clone());
            schema_paths(v, &p, out);
        }
    }
    if schema["items"].is_object() {
        schema_paths(&schema["items"], &format!("{prefix}[]"), out);
    }
}

fn v1_schema(crd_file: &Path) -> Value {
    let crd = yaml_file(crd_file).remove(0);
    crd["spec"]["versions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|v| v["name"] == "v1")
        .unwrap()["schema"]["openAPIV3Schema"]
        .clone()
}

#[test]
fn drift_against_the_rigs_kuberay_modules() {
    let versions = rig_kuberay_versions();
    assert!(!versions.is_empty());
    for version in versions {
        drift_against(&version);
    }
}

/// What the RayService CRD of KubeRay `version` has that ours lacks and the other way round
/// (printed), and that the default bundle and the newest-Ray bundle fit it (asserted).
fn drift_against(version: &str) {
    let dir = match kuberay_module_dir(version) {
        Ok(d) => d,
        Err(e) => {
            eprintln!("drift not checked: KubeRay module {version} unavailable ({e})");
            return;
        }
    };
    let theirs = dir.join("config/crd/bases/ray.io_rayservices.yaml");
    let ours = kuberay_data("ray.io_rayservices.yaml");
    let (mut a, mut b) = (BTreeSet::new(), BTreeSet::new());
    schema_paths(&v1_schema(&ours), "", &mut a);
    schema_paths(&v1_schema(&theirs), "", &mut b);
    let only_ours: Vec<_> = a.difference(&b).collect();
    let only_theirs: Vec<_> = b.difference(&a).collect();
    eprintln!(
        "RayService CRD drift, tests/data (see SOURCE.md) vs the rig's KubeRay {version}: \
         {} field(s) only in ours, {} only in the rig's",
        only_ours.len(),
        only_theirs.len()
    );
    for p in only_ours.iter().take(20) {
        eprintln!("  only in tests/data: {p}");
    }
    for p in only_theirs.iter().take(20) {
        eprintln!("  only in {version}: {p}");
    }
    for (file, path, _) in provenance_rows().iter().filter(|r| r.1.contains("samples")) {
        let same = std::fs::read(kuberay_data(file)).ok() == std::fs::read(dir.join(path)).ok();
        eprintln!("  {file}: {}", if same { "same" } else { "differs" });
    }
    // What matters: the rig's operators accept every field the bundles of the matrix set.
    let schema = strict_rayservice_schema(&theirs);
    let validator = jsonschema::validator_for(&schema).expect("CRD schema compiles");
    for args in [&[][..], &["--ray-version", "2.60.0"]] {
        let rs = find(&generate(args), "RayService").unwrap().clone();
        let errors: Vec<String> = validator.iter_errors(&rs).map(|e| e.to_string()).collect();
        assert!(
            errors.is_empty(),
            "the RayService of generate {args:?} does not fit KubeRay {version}'s CRD: {errors:?}"
        );
    }
}
