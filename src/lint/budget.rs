//! The workers' PodDisruptionBudget: a drain takes at most one worker at a time and is never
//! blocked by the budget.

use serde_json::Value;

use super::placement::{ray_pod_labels, worker_groups};
use super::{Check, Ctx, Level, miss, pass};
use crate::selector;

const ID: &str = "disruption-budget";

/// The budgets of the input in the RayService's namespace.
fn budgets<'a>(ctx: &Ctx<'a>) -> Vec<&'a Value> {
    let ns = ctx.rs["metadata"]["namespace"].as_str();
    ctx.docs
        .iter()
        .filter(|d| d["kind"] == "PodDisruptionBudget")
        .filter(|d| {
            let theirs = d["metadata"]["namespace"].as_str();
            ns.is_none() || theirs.is_none() || ns == theirs
        })
        .collect()
}

pub(super) fn check_disruption_budget(ctx: &Ctx) -> Check {
    if ctx.docs.iter().all(|d| d["kind"] == "RayService") {
        return pass(
            ID,
            "not checkable: the input holds only the RayService (lint the whole bundle to check the workers' PodDisruptionBudget)",
        );
    }
    let budgets = budgets(ctx);
    let groups: Vec<(&str, selector::Labels, i64)> = worker_groups(ctx)
        .into_iter()
        .map(|(name, g)| {
            let replicas = g["replicas"].as_i64().unwrap_or(1);
            (name, ray_pod_labels(g, "worker", name), replicas)
        })
        .collect();
    let mut checked = vec![];
    for (name, labels, _) in &groups {
        let covering: Vec<&&Value> = budgets
            .iter()
            .filter(|b| selector::matches(&b["spec"]["selector"], labels))
            .collect();
        if covering.len() > 1 {
            let names: Vec<&str> = covering
                .iter()
                .map(|b| b["metadata"]["name"].as_str().unwrap_or_default())
                .collect();
            return miss(
                ID,
                Level::Fail,
                format!(
                    "the pods of worker group {name} are selected by several PodDisruptionBudgets ({})",
                    names.join(", ")
                ),
                "the eviction API refuses to evict a pod that more than one budget selects, so every drain of a worker's node blocks",
                "keep one budget over the worker pods",
            );
        }
        let Some(budget) = covering.first() else {
            return miss(
                ID,
                Level::Fail,
                format!("no PodDisruptionBudget selects the pods of worker group {name}"),
                "a node drain (a node upgrade, a scale-down) may evict every worker at once, and with them both replicas of each deployment",
                "add a policy/v1 PodDisruptionBudget with minAvailable: <workers - 1> and unhealthyPodEvictionPolicy: AlwaysAllow whose selector matches the worker pod template's labels, without ray.io/cluster (kubectl rayha generate emits one)",
            );
        };
        // Every worker the budget selects counts towards it.
        let workers: i64 = groups
            .iter()
            .filter(|(_, l, _)| selector::matches(&budget["spec"]["selector"], l))
            .map(|(_, _, r)| r)
            .sum();
        if let Some(problem) = budget_problem(budget, workers) {
            return problem;
        }
        checked.push(format!(
            "{} ({name})",
            budget["metadata"]["name"].as_str().unwrap_or_default()
        ));
    }
    pass(
        ID,
        format!("one worker down at a time: {}", checked.join(", ")),
    )
}

/// What is wrong with a budget over `workers` worker pods, if anything.
fn budget_problem(budget: &Value, workers: i64) -> Option<Check> {
    const FIX: &str =
        "give the budget an integer minAvailable of the workers less one, and no maxUnavailable";
    let name = budget["metadata"]["name"].as_str().unwrap_or_default();
    let spec = &budget["spec"];
    if !spec["maxUnavailable"].is_null() || spec["minAvailable"].is_string() {
        return Some(miss(
            ID,
            Level::Fail,
            format!("PodDisruptionBudget {name} uses maxUnavailable or a percentage"),
            "the disruption controller counts the pods for those through their owner's scale subresource, which a RayCluster lacks: the budget then allows no eviction, and every drain of a worker's node blocks",
            FIX,
        ));
    }
    let Some(min) = spec["minAvailable"].as_i64() else {
        return Some(miss(
            ID,
            Level::Fail,
            format!("PodDisruptionBudget {name} sets no minAvailable"),
            "without a bound the budget does not limit how many workers a drain evicts",
            FIX,
        ));
    };
    if min >= workers {
        return Some(miss(
            ID,
            Level::Fail,
            format!(
                "PodDisruptionBudget {name}: minAvailable {min} of {workers} worker(s) allows no eviction"
            ),
            "a drain of any node that runs a worker then waits forever",
            FIX,
        ));
    }
    if min < workers - 1 {
        return Some(miss(
            ID,
            Level::Fail,
            format!(
                "PodDisruptionBudget {name}: minAvailable {min} of {workers} workers lets a drain take {} at once",
                workers - min
            ),
            "two workers evicted together may hold both replicas of a deployment",
            FIX,
        ));
    }
    None
}
