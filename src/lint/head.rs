//! The head: no Serve replica on it, and a start that survives a busy node.

use serde_json::Value;

use super::{Check, Ctx, Level, miss, pass};

pub(super) fn check_head_cpus(ctx: &Ctx) -> Check {
    const ID: &str = "head-no-replicas";
    const WHY: &str = "Serve replicas scheduled on the head die with it; with num-cpus \"0\" the head runs only the GCS, dashboard and its proxy";
    let excluded = ctx.rs["spec"]["excludeHeadPodFromServeSvc"] == true;
    match ctx.head_param("num-cpus") {
        Some(Value::String(s)) if s == "0" => pass(ID, "head rayStartParams num-cpus: \"0\""),
        Some(v) if v.as_f64() == Some(0.0) => miss(
            ID,
            Level::Fail,
            "rayStartParams num-cpus is the number 0, not the string \"0\"",
            "rayStartParams values are strings in the CRD; the API server rejects a number",
            "write num-cpus: \"0\"",
        ),
        _ if excluded => pass(
            ID,
            "head excluded from the serve Service (excludeHeadPodFromServeSvc); num-cpus \"0\" would also keep replicas off it",
        ),
        other => miss(
            ID,
            Level::Fail,
            match other {
                Some(v) => format!("head rayStartParams num-cpus is {v}, not \"0\""),
                None => "head rayStartParams has no num-cpus: \"0\"".to_string(),
            },
            WHY,
            "set headGroupSpec.rayStartParams.num-cpus: \"0\"",
        ),
    }
}

/// The env var that bounds how long Ray's dashboard waits for each subprocess module at start.
pub const DASHBOARD_MODULE_TIMEOUT_ENV: &str = "RAY_DASHBOARD_SUBPROCESS_MODULE_WAIT_READY_TIMEOUT";
/// Below this a restarted head on a busy node can lose its dashboard (Ray's default is 30 s).
const DASHBOARD_MODULE_TIMEOUT_MIN_S: f64 = 120.0;

pub(super) fn check_head_start_timeout(ctx: &Ctx) -> Check {
    const ID: &str = "head-start-timeout";
    const WHY: &str = "Ray's dashboard exits when a module takes longer than 30 s to start, as on a busy node after a head restart; the head's readiness probe is served by the dashboard, so the new head stays un-Ready until the liveness probe restarts it minutes later";
    let fix = format!(
        "set env {DASHBOARD_MODULE_TIMEOUT_ENV}: \"180\" on the head container (kubectl rayha generate does)"
    );
    let value = ctx
        .head_env(DASHBOARD_MODULE_TIMEOUT_ENV)
        .map(|e| e["value"].as_str().unwrap_or("").to_string());
    match value {
        None => miss(
            ID,
            Level::Warn,
            format!("the head has no {DASHBOARD_MODULE_TIMEOUT_ENV} (Ray's default: 30 s)"),
            WHY,
            fix,
        ),
        Some(v) => match v.trim().parse::<f64>() {
            Ok(s) if s >= DASHBOARD_MODULE_TIMEOUT_MIN_S => pass(
                ID,
                format!("the head's dashboard modules may take {v} s to start"),
            ),
            _ => miss(
                ID,
                Level::Warn,
                format!(
                    "the head's {DASHBOARD_MODULE_TIMEOUT_ENV} is {v:?}, want a number of seconds >= {DASHBOARD_MODULE_TIMEOUT_MIN_S}"
                ),
                WHY,
                fix,
            ),
        },
    }
}
