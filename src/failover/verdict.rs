//! What a round is judged by: recovery in time, and what survived the kill besides what the
//! target allows to be lost.

use std::collections::BTreeMap;

use super::Drill;
use super::report::{GcsOutage, Survival};
use super::target::{Target, Victim};
use crate::rayservice::Role;
use crate::status::Facts;

/// Reasons the recovery itself fails the round.
pub fn recovery(d: &Drill, recovery_s: Option<f64>) -> Vec<String> {
    let mut reasons = Vec::new();
    match recovery_s {
        None if d.stop.stopped() => reasons.push("interrupted before recovery".to_string()),
        None => reasons.push(format!(
            "no full recovery within {} s",
            d.settings.recovery_timeout.as_secs()
        )),
        Some(r) => {
            if let Some(max) = d.args.max_recovery
                && r > max
            {
                reasons.push(format!(
                    "recovery took {r:.1} s, more than --max-recovery {max}"
                ));
            }
        }
    }
    reasons
}

/// Worker pods and Serve replica actors before and after.
pub fn survival(before: &Facts, after: &Facts, target: &dyn Target, victim: &str) -> Survival {
    let workers = |f: &Facts| -> BTreeMap<String, i32> {
        f.workers().map(|p| (p.name.clone(), p.restarts)).collect()
    };
    let replicas = |f: &Facts| -> BTreeMap<String, Vec<String>> {
        let mut m: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for r in f.replicas.iter().filter(|r| r.state == "RUNNING") {
            m.entry(format!("{}/{}", r.app, r.deployment))
                .or_default()
                .push(r.actor_id.clone());
        }
        m.values_mut().for_each(|v| v.sort());
        m
    };
    let (wb, wa) = (workers(before), workers(after));
    let victim_is_a_worker = target.role() == Role::Worker;
    let changed: Vec<String> = wb
        .iter()
        .filter(|(name, restarts)| {
            !(victim_is_a_worker && name.as_str() == victim)
                && wa.get(*name).is_none_or(|r| r > restarts)
        })
        .map(|(n, _)| n.clone())
        .collect();
    let (rb, ra) = (replicas(before), replicas(after));
    Survival {
        workers_before: wb,
        workers_after: wa,
        workers_restarted_or_replaced: changed,
        replicas_unchanged: !rb.is_empty() && rb == ra,
        replicas_checked: before.dashboard_error.is_none() && after.dashboard_error.is_none(),
        cluster_replaced: target.replaces_cluster(),
        replicas_before: rb,
        replicas_after: ra,
        serve_controller_before: before.serve_controller.clone(),
        serve_controller_after: after.serve_controller.clone(),
    }
}

/// What the kill took down besides its victim: (other) workers restarted or replaced for every
/// target, the head for a worker kill (replaced, or restarted unless the target makes the GCS
/// exit: a GCS that loses Redis exits and comes back from whatever the new Redis holds, which
/// the replicas then show), Serve replicas re-created where none should be.
pub fn collateral(
    target: &dyn Target,
    before: &Facts,
    after: &Facts,
    survival: &Survival,
) -> Vec<String> {
    let mut reasons = Vec::new();
    // An upgrade replaces every pod and replica: only the replica count is judged.
    if !target.replaces_cluster() && !survival.workers_restarted_or_replaced.is_empty() {
        reasons.push(format!(
            "{}worker pods restarted or replaced: {}",
            if target.role() == Role::Worker {
                "other "
            } else {
                ""
            },
            survival.workers_restarted_or_replaced.join(", ")
        ));
    }
    // The head must come through unless it is the victim (an in-place change has none).
    if target.role() != Role::Head || !target.replaces_victim() {
        reasons.extend(head_losses(target, before, after));
    }
    if !survival.replicas_checked {
        reasons.push(
            "Serve replicas not checked: the Ray dashboard did not answer before or after the round"
                .into(),
        );
    } else if !target.replicas_kept(survival) {
        reasons.push(target.replicas_lost().into());
    }
    reasons
}

/// How the GCS came through a target that makes it exit: whether the head restarted, how long
/// it was away, and whether Ray's state came back (the Serve controller and every replica kept
/// their actor ids, no worker restarted). None for other targets.
pub fn gcs_outage(
    target: &dyn Target,
    victim: &Victim,
    before: &Facts,
    after: &Facts,
    survival: &Survival,
    away_s: Option<f64>,
) -> Option<GcsOutage> {
    if !target.gcs_exits() {
        return None;
    }
    let head_restarts = |f: &Facts| -> i32 { heads(f).iter().map(|(_, r)| r).sum() };
    Some(GcsOutage {
        redis_data: victim.data.clone().unwrap_or_else(|| "unknown".into()),
        restarted: head_restarts(after) > head_restarts(before),
        away_s,
        // The target's own rule for the replicas (the Redis target's includes the controller).
        state_kept: survival.replicas_checked.then(|| {
            target.replicas_kept(survival) && survival.workers_restarted_or_replaced.is_empty()
        }),
    })
}

/// The head pods of `f` with their restart counts.
fn heads(f: &Facts) -> Vec<(String, i32)> {
    f.pods
        .iter()
        .filter(|p| p.role == Role::Head)
        .map(|p| (p.name.clone(), p.restarts))
        .collect()
}

fn head_losses(target: &dyn Target, before: &Facts, after: &Facts) -> Vec<String> {
    let mut reasons = Vec::new();
    for (name, restarts) in heads(before) {
        match heads(after).into_iter().find(|(n, _)| *n == name) {
            Some((_, r)) if r > restarts && !target.gcs_exits() => reasons.push(format!(
                "head pod {name} restarted (restarts {restarts} -> {r}): the GCS exited"
            )),
            None => reasons.push(format!("head pod {name} was replaced")),
            _ => {}
        }
    }
    reasons
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::FailoverTarget;
    use crate::failover::target;
    use crate::failover::test_support::{facts, pod_fact};

    /// A head `h` and workers with their restart counts.
    fn pods(head_restarts: i32, workers: &[(&str, i32)]) -> Facts {
        let mut pods = vec![pod_fact("h", Role::Head, head_restarts)];
        pods.extend(workers.iter().map(|(n, r)| pod_fact(n, Role::Worker, *r)));
        facts(pods)
    }

    #[test]
    fn losing_the_head_fails_a_worker_drill_and_a_redis_drill_judges_the_state() {
        let before = pods(0, &[("w1", 0), ("w2", 0)]);
        let after = pods(1, &[("w1", 1), ("w2", 0)]);
        let worker = target::of(FailoverTarget::Worker);
        let s = survival(&before, &after, worker, "w2");
        let reasons = collateral(worker, &before, &after, &s);
        assert!(
            reasons
                .iter()
                .any(|r| r.starts_with("head pod h restarted (restarts 0 -> 1)")),
            "{reasons:?}"
        );
        // Losing Redis makes the GCS exit: the head's restart is expected, what survived is
        // judged (here a worker restarted: the state did not come back).
        let redis = target::of(FailoverTarget::Redis);
        let s = survival(&before, &after, redis, "redis-x");
        let reasons = collateral(redis, &before, &after, &s);
        assert!(reasons.iter().any(|r| r.contains("worker pods restarted")));
        assert!(
            !reasons.iter().any(|r| r.starts_with("head pod")),
            "{reasons:?}"
        );
        let victim = Victim {
            data: Some("emptyDir".into()),
            ..Victim::default()
        };
        let gcs = gcs_outage(redis, &victim, &before, &after, &s, Some(20.0)).unwrap();
        assert!(gcs.restarted);
        assert_eq!(gcs.state_kept, Some(false));
        // The head target judges the head by recovery, not as collateral, and has no outage.
        let head = target::of(FailoverTarget::Head);
        let s = survival(&before, &after, head, "h");
        assert!(
            !collateral(head, &before, &after, &s)
                .iter()
                .any(|r| r.starts_with("head pod"))
        );
        assert!(gcs_outage(head, &victim, &before, &after, &s, None).is_none());
    }

    #[test]
    fn a_redis_drill_passes_when_the_restarted_gcs_kept_every_actor() {
        let with = |restarts: i32, controller: &str| {
            let mut f = pods(restarts, &[("w1", 0), ("w2", 0)]);
            f.serve_controller = Some(controller.into());
            f
        };
        let redis = target::of(FailoverTarget::Redis);
        let victim = Victim {
            data: Some("persistentVolumeClaim r-data".into()),
            ..Victim::default()
        };
        let (before, after) = (with(0, "c1"), with(1, "c1"));
        let mut s = survival(&before, &after, redis, "redis-x");
        s.replicas_before.insert("app/A".into(), vec!["a1".into()]);
        s.replicas_after = s.replicas_before.clone();
        s.replicas_unchanged = true;
        assert_eq!(collateral(redis, &before, &after, &s), Vec::<String>::new());
        let gcs = gcs_outage(redis, &victim, &before, &after, &s, Some(41.5)).unwrap();
        assert!(gcs.restarted && gcs.state_kept == Some(true), "{gcs:?}");
        assert!(gcs.line().contains("away 41.5 s"), "{}", gcs.line());
        // A new Serve controller: the GCS came back empty, even if replica ids were not read.
        let after = with(1, "c2");
        let s = Survival {
            serve_controller_after: after.serve_controller.clone(),
            ..s
        };
        let reasons = collateral(redis, &before, &after, &s);
        assert!(
            reasons
                .iter()
                .any(|r| r.contains("did not come back from Redis")),
            "{reasons:?}"
        );
    }

    #[test]
    fn a_worker_drill_expects_only_the_victims_replicas_to_change() {
        let before = pods(0, &[("w1", 0), ("w2", 0)]);
        let after = pods(0, &[("w2", 0), ("w3", 0)]);
        let worker = target::of(FailoverTarget::Worker);
        let mut s = survival(&before, &after, worker, "w1");
        s.replicas_before
            .insert("app/A".into(), vec!["a1".into(), "a2".into()]);
        s.replicas_after
            .insert("app/A".into(), vec!["a2".into(), "a3".into()]);
        assert_eq!(
            collateral(worker, &before, &after, &s),
            Vec::<String>::new()
        );
        // Both replicas new: the survivor's replica was lost too.
        s.replicas_after
            .insert("app/A".into(), vec!["a3".into(), "a4".into()]);
        assert_eq!(collateral(worker, &before, &after, &s).len(), 1);
        // Not back to two replicas.
        s.replicas_after.insert("app/A".into(), vec!["a2".into()]);
        assert_eq!(collateral(worker, &before, &after, &s).len(), 1);
    }

    #[test]
    fn replicas_unread_after_the_round_are_not_checked_rather_than_replaced() {
        let before = pods(0, &[("w1", 0)]);
        let mut after = pods(0, &[("w1", 0)]);
        after.dashboard_error = Some("no answer within 500ms".into());
        let head = target::of(FailoverTarget::Head);
        let s = survival(&before, &after, head, "h");
        assert!(!s.replicas_checked);
        assert!(s.summary().contains("not checked"), "{}", s.summary());
        let reasons = collateral(head, &before, &after, &s);
        assert!(
            reasons.iter().any(|r| r.contains("not checked"))
                && !reasons.iter().any(|r| r.contains("replaced")),
            "{reasons:?}"
        );
    }
}
