//! Bad input: each case exits 1 or 2 with exactly one `error:` line that names the field, and
//! never panics.

mod common;

use common::*;

struct Case {
    args: Vec<String>,
    code: i32,
    /// Words the error line must contain: the field and what is allowed.
    mentions: &'static [&'static str],
}

fn case(args: &[&str], code: i32, mentions: &'static [&'static str]) -> Case {
    Case {
        args: args.iter().map(|s| s.to_string()).collect(),
        code,
        mentions,
    }
}

#[test]
fn each_bad_input_gets_one_clear_error_line() {
    let dir = tempfile::tempdir().unwrap();
    let p = |name: &str, text: &str| {
        let path = dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path.display().to_string()
    };
    let bad_yaml = p("bad.yaml", "applications: [\n  - name: x\n");
    let unknown_key = p("unknown.yaml", "name: a\nworker-replica: 3\n");
    let wrong_type = p("type.yaml", "worker-replicas: three\n");
    let headonly = p(
        "headonly.yaml",
        "proxy_location: HeadOnly\napplications:\n- import_path: m:app\n  deployments: [{name: D}]\n",
    );
    let no_deployments = p(
        "nodeps.yaml",
        "applications:\n- name: x\n  import_path: m:app\n",
    );
    let pg = p(
        "pg.yaml",
        "applications:\n- import_path: m:app\n  deployments:\n  - {name: D, placement_group_bundles: [{CPU: 1}]}\n",
    );
    let both = p(
        "both.yaml",
        "applications:\n- import_path: m:app\n  deployments:\n  - {name: D, num_replicas: 2, autoscaling_config: {min_replicas: 2}}\n",
    );
    let missing = dir.path().join("missing.yaml").display().to_string();
    let binary_body = dir.path().join("body.bin");
    std::fs::write(&binary_body, [0xff, 0xfe, 0x00]).unwrap();
    let binary_body = binary_body.display().to_string();
    let configmap_only = p(
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
    );

    let cases = vec![
        case(
            &["generate", "--name", "Bad_Name"],
            2,
            &["name", "DNS-1035"],
        ),
        case(
            &["generate", "--name", "1abc"],
            2,
            &["name", "starting with a letter"],
        ),
        case(&["generate", "--name", &"a".repeat(48)], 2, &["name", "47"]),
        case(
            &["generate", "--worker-replicas", "0"],
            2,
            &["worker-replicas", "at least 1"],
        ),
        case(
            &["generate", "--worker-replicas", "-3"],
            2,
            &["worker-replicas"],
        ),
        case(
            &["generate", "--worker-replicas", "two"],
            2,
            &["--worker-replicas", "invalid digit"],
        ),
        case(
            &["generate", "--worker-replicas", "1"],
            2,
            &["worker-replicas", "--allow-non-ha"],
        ),
        case(
            &[
                "generate",
                "--min-workers",
                "4",
                "--max-workers",
                "3",
                "--worker-replicas",
                "3",
            ],
            2,
            &["min-workers", "max-workers"],
        ),
        case(
            &["generate", "--worker-replicas", "6", "--max-workers", "5"],
            2,
            &["worker-replicas", "between"],
        ),
        case(
            &["generate", "--serve-replicas", "1"],
            2,
            &["serve-replicas", "at least 2"],
        ),
        case(
            &["generate", "--serve-replicas", "0", "--allow-non-ha"],
            2,
            &["serve-replicas", "at least 1"],
        ),
        case(
            &[
                "generate",
                "--serve-config",
                &bad_yaml,
                "--import-path",
                "m:app",
            ],
            2,
            &["--serve-config", "--import-path"],
        ),
        case(
            &["generate", "--serve-config", &missing],
            1,
            &["--serve-config", "cannot read"],
        ),
        case(
            &["generate", "--serve-config", &bad_yaml],
            2,
            &["--serve-config", "not a Serve config"],
        ),
        case(
            &["generate", "--serve-config", &headonly],
            2,
            &["proxy_location", "EveryNode"],
        ),
        case(
            &["generate", "--serve-config", &no_deployments],
            2,
            &["deployments", "must list every deployment"],
        ),
        case(
            &["generate", "--serve-config", &pg],
            2,
            &["placement_group_bundles"],
        ),
        case(
            &["generate", "--serve-config", &both],
            2,
            &["num_replicas", "autoscaling_config"],
        ),
        case(
            &["generate", "--values", &missing],
            1,
            &["--values", "cannot read"],
        ),
        case(
            &["generate", "--values", &unknown_key],
            2,
            &["--values", "worker-replica"],
        ),
        case(
            &["generate", "--values", &wrong_type],
            2,
            &["--values", "worker-replicas"],
        ),
        case(
            &["generate", "--image", "rayproject/ray:2.41.0"],
            2,
            &["image", "2.41.0", "2.52.0"],
        ),
        case(
            &["generate", "--ray-version", "latest"],
            2,
            &["ray-version", "X.Y.Z"],
        ),
        case(
            &["generate", "--kuberay-version", "0.6.0"],
            2,
            &["kuberay-version", "1.0"],
        ),
        case(
            &["generate", "--kuberay-version", "new"],
            2,
            &["kuberay-version"],
        ),
        case(
            &["generate", "--redis-address", "redis"],
            2,
            &["redis-address", "HOST:PORT"],
        ),
        case(
            &["generate", "--redis-address", "redis:70000"],
            2,
            &["redis-address", "65535"],
        ),
        case(
            &[
                "generate",
                "--redis-address",
                "r:6379",
                "--redis-storage",
                "1Gi",
            ],
            2,
            &["--redis-storage", "--redis-address"],
        ),
        case(
            &["generate", "--redis-storage", "lots"],
            2,
            &["redis-storage", "1Gi"],
        ),
        case(
            &["generate", "--head-cpu", "one"],
            2,
            &["head-cpu", "quantity"],
        ),
        case(
            &["generate", "--worker-memory", "2 GB"],
            2,
            &["worker-memory", "quantity"],
        ),
        case(
            &["generate", "--route-prefix", "fruit"],
            2,
            &["route-prefix", "start with '/'"],
        ),
        case(
            &["generate", "--import-path", "noattr"],
            2,
            &["import-path", "module"],
        ),
        case(
            &["generate", "--deployments", "A,A", "--import-path", "m:app"],
            2,
            &["deployments", "distinct"],
        ),
        case(
            &["generate", "--redis-password-secret", "Not Valid"],
            2,
            &["redis-password-secret", "DNS-1123"],
        ),
        case(&["generate", "-n", "Prod"], 2, &["namespace", "DNS-1123"]),
        case(&["generate", "-o", "xml"], 2, &["xml", "yaml"]),
        case(&["generate", "--no-such-flag"], 2, &["--no-such-flag"]),
        case(&["lint", &missing], 1, &["cannot read", "missing.yaml"]),
        case(&["lint", &bad_yaml], 1, &["not valid YAML"]),
        case(&["lint", &configmap_only], 1, &["no RayService"]),
        case(&["completion", "tcsh"], 2, &["tcsh", "bash"]),
        // query routes: what the tester pod cannot do, and flags that belong to another route.
        case(
            &["query", "shop", "--via", "pod", "--concurrency", "4"],
            2,
            &["--concurrency", "--via pod"],
        ),
        case(
            &["query", "shop", "--via", "pod", "--rate", "10"],
            2,
            &["--rate", "--via pod"],
        ),
        case(
            &["query", "shop", "--via", "pod", "--keep-alive"],
            2,
            &["--keep-alive", "--via pod"],
        ),
        case(
            &["query", "shop", "--via", "pod", "--data-file", &binary_body],
            2,
            &["--data-file", "UTF-8"],
        ),
        case(
            &["query", "--url", "http://127.0.0.1:9/", "--via", "pod"],
            2,
            &["--via", "--url"],
        ),
        case(&["query", "--via", "pod"], 2, &["NAME"]),
        case(
            &["query", "shop", "--pod", "p1"],
            2,
            &["--pod", "port-forward"],
        ),
        case(
            &["query", "shop", "--via", "pod", "--pod", "p1"],
            2,
            &["--pod", "port-forward"],
        ),
        case(
            &["query", "shop", "--via", "tunnel"],
            2,
            &["tunnel", "port-forward"],
        ),
        case(&["frobnicate"], 2, &["frobnicate"]),
    ];
    assert!(cases.len() >= 20);
    for c in cases {
        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        let out = run(&args);
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(c.code), "{args:?}: {err}");
        assert!(
            !err.contains("panicked") && !err.contains("RUST_BACKTRACE"),
            "{args:?} panicked: {err}"
        );
        let error_lines: Vec<&str> = err.lines().filter(|l| l.starts_with("error:")).collect();
        assert_eq!(error_lines.len(), 1, "{args:?}: {err}");
        for word in c.mentions {
            assert!(
                error_lines[0].contains(word),
                "{args:?}: {:?} lacks {word:?}",
                error_lines[0]
            );
        }
        assert!(out.stdout.is_empty(), "{args:?} printed a partial bundle");
    }
}
