//! The trials on the local test rig (rig/README.md): a real Kubernetes control plane, kwok
//! nodes and the real KubeRay operator, with real Ray Serve pods when the rig's node agent runs
//! them (rig part 2). One binary, one harness (harness.rs):
//!
//! - `checks::`: the rig's own checks (checks.rs);
//! - `oracle::`: kubectl-only drills on real Ray: the generated bundle applied with kubectl, the
//!   head killed, pod logs and port-forward (oracle.rs);
//! - `plugin::`: `kubectl rayha apply/status/delete/failover/query` on the rig (plugin.rs).
//!
//! Runs when `RAYHA_RIG_KUBECONFIG` names an existing kubeconfig (`eval "$(rig/rig env)"`
//! sets it); otherwise every trial is reported as ignored, with one line saying why. The rig's
//! kubectl is taken from `RAYHA_RIG_KUBECTL`, else from `rig/rig env`. Trials that need real
//! pods are reported as ignored unless `RAYHA_RIG_REAL_PODS=1` (`rig/rig env` says so when the
//! node agent runs). One trial at a time unless `--test-threads` says otherwise.

mod checks;
mod harness;
mod oracle;
mod plugin;

use libtest_mimic::{Arguments, Trial};

use harness::Rig;

fn main() {
    let mut args = Arguments::from_args();
    // One trial at a time unless asked otherwise: with part 2 the trials run real Ray clusters,
    // and two at once overload the rig's two cores and would time the drills on a starved machine.
    if args.test_threads.is_none() {
        args.test_threads = Some(1);
    }
    let rig = Rig::discover();
    if let Err(why) = &rig {
        println!("rig tests skipped (reported as ignored): {why}");
    }
    // Real Ray needs the rig's node agent: `rig/rig env` says RAYHA_RIG_REAL_PODS=1 when it runs.
    let real_pods = std::env::var("RAYHA_RIG_REAL_PODS").is_ok_and(|v| v == "1");
    if rig.is_ok() && !real_pods {
        println!(
            "rig Ray trials skipped (reported as ignored): the rig runs kwok's fake pods (RAYHA_RIG_REAL_PODS is not 1)"
        );
    }
    let trials = [checks::TRIALS, oracle::TRIALS, plugin::TRIALS]
        .into_iter()
        .flatten()
        .map(|check| match &rig {
            Ok(rig) if real_pods || !check.real_pods => {
                let (rig, run) = (rig.clone(), check.run);
                Trial::test(check.name, move || run(&rig))
            }
            _ => Trial::test(check.name, || Ok(())).with_ignored_flag(true),
        })
        .collect();
    libtest_mimic::run(&args, trials).exit();
}
