//! The krew manifest template and its build script agree with the repository: every file the
//! manifest installs exists and is packed by krew/build.sh, and the plugin name matches the binary.

use std::path::Path;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// The template with its `${…}` placeholders filled in, as krew/build.sh does with envsubst.
fn manifest() -> serde_json::Value {
    let text = std::fs::read_to_string(root().join("krew/rayha.yaml.tmpl")).unwrap();
    let filled = text
        .replace("${VERSION}", "0.1.0")
        .replace("${HOMEPAGE}", "https://example.org/rayha")
        .replace(
            "${URI}",
            "https://example.org/rayha/kubectl-rayha-linux-amd64.tar.gz",
        )
        .replace("${SHA256}", &"0".repeat(64));
    assert!(
        !filled.contains("${"),
        "a placeholder build.sh does not fill"
    );
    let mut docs = rayha::yaml::parse_documents(&filled).expect("the manifest is YAML");
    assert_eq!(docs.len(), 1);
    docs.remove(0)
}

#[test]
fn manifest_installs_only_files_the_archive_holds() {
    let m = manifest();
    assert_eq!(m["kind"], "Plugin");
    assert_eq!(
        m["metadata"]["name"], "rayha",
        "krew name gives `kubectl rayha`"
    );
    assert_eq!(m["spec"]["version"], "v0.1.0");
    let build = std::fs::read_to_string(root().join("krew/build.sh")).unwrap();
    let platforms = m["spec"]["platforms"].as_array().expect("platforms");
    assert!(!platforms.is_empty());
    for p in platforms {
        assert_eq!(p["bin"], env!("CARGO_PKG_NAME"), "bin is the built binary");
        for f in p["files"].as_array().expect("files") {
            let from = f["from"].as_str().unwrap();
            let top = from.split('/').next().unwrap();
            assert!(
                build.contains(top),
                "krew/build.sh does not pack {from} into the archive"
            );
            if from == env!("CARGO_PKG_NAME") {
                continue; // built by cargo, not in the tree
            }
            let dir = root().join(top);
            assert!(dir.exists(), "{from} is listed but {top} does not exist");
            if from.ends_with("/*") {
                assert!(
                    std::fs::read_dir(&dir).unwrap().next().is_some(),
                    "{top}/ is empty"
                );
            }
        }
    }
}

#[test]
fn the_archive_carries_the_license_cargo_declares() {
    assert_eq!(env!("CARGO_PKG_LICENSE"), "Apache-2.0");
    let license = std::fs::read_to_string(root().join("LICENSE")).unwrap();
    assert!(license.contains("Apache License") && license.contains("Version 2.0"));
    let m = manifest();
    let files = &m["spec"]["platforms"][0]["files"];
    assert!(
        files
            .as_array()
            .unwrap()
            .iter()
            .any(|f| f["from"] == "LICENSE"),
        "krew's index requires the license in the archive"
    );
}
