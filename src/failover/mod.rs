//! `kubectl rayha failover NAME`: the guide's drill made repeatable. Preflight, a lock other
//! users can see, query load through the serve Service, the kill of one pod, a timeline of the
//! recovery followed through watches, a check that the state survived (worker pods and Serve
//! replica actors unchanged), and a verdict with an exit code a pipeline can gate on.
//!
//! The pieces, each readable alone: `preflight` (checks and confirmation), `lock` (the Lease),
//! `round` (load, kill, phases), `follow` (the watches and the timeline), `verdict` (what a round
//! is judged by), `report` (JSON, JUnit, text) and `target` (what is killed: one file a target).

mod follow;
mod lock;
mod preflight;
pub mod report;
mod round;
pub mod target;
mod verdict;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use lock::Lock;
pub use report::{
    Event, Phases, REPORT_SCHEMA_ID, Report, Round, RouteResult, Served, Serving, Stats, Survival,
    Update,
};
pub use report::{finish, junit, render_text};
use target::Target;

use crate::cli::{DrillRoute, FailoverArgs, GlobalArgs};
use crate::cluster::{self, Cluster};
use crate::error::{Error, Outcome, Result};
use crate::flags;
use crate::load::http::Url;
use crate::load::{RequestFlags, RequestSpec, StopHandle};

pub(crate) fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// The per-request timeout of the drill's queries unless `--request-timeout` sets one.
const QUERY_TIMEOUT: &str = "5s";

/// Where a round's load goes.
#[derive(Debug, Clone)]
pub(crate) enum Route {
    /// The API server's service proxy to `<name>-serve-svc`.
    Proxy,
    /// `--url`, in the proxy route's place.
    Url(Url),
    /// A tester pod in the namespace, through the Service and kube-proxy.
    Pod,
}

impl Route {
    /// The report's name of the route.
    pub fn id(&self) -> &'static str {
        match self {
            Route::Proxy => "proxy",
            Route::Url(_) => "url",
            Route::Pod => "pod",
        }
    }

    /// How the route's requests are connected, as the report says it.
    pub fn connection(&self, keep_alive: bool) -> &'static str {
        match (self, keep_alive) {
            (Route::Proxy, _) => "keep-alive to the API server",
            (Route::Url(_), true) => "keep-alive",
            (Route::Url(_), false) | (Route::Pod, _) => "fresh",
        }
    }
}

/// The drill's flags, checked.
pub(crate) struct Settings {
    warmup: Duration,
    settle: Duration,
    recovery_timeout: Duration,
    request: RequestSpec,
    /// Where the load goes, at once, in `--via`'s order.
    routes: Vec<Route>,
}

impl Settings {
    fn has_pod_route(&self) -> bool {
        self.routes.iter().any(|r| matches!(r, Route::Pod))
    }
}

/// `--via` with `--url` in the proxy route's place; a route named twice, and a `--url` that no
/// route would use, are refused.
fn routes(via: &[DrillRoute], url: Option<Url>) -> Result<Vec<Route>> {
    let mut routes = Vec::new();
    for (i, r) in via.iter().enumerate() {
        if via[..i].contains(r) {
            return Err(Error::usage(format!(
                "--via names {} twice",
                match r {
                    DrillRoute::Proxy => "proxy",
                    DrillRoute::Pod => "pod",
                }
            )));
        }
        routes.push(match r {
            DrillRoute::Proxy => url.clone().map_or(Route::Proxy, Route::Url),
            DrillRoute::Pod => Route::Pod,
        });
    }
    if url.is_some() && !via.contains(&DrillRoute::Proxy) {
        return Err(Error::usage(
            "--url takes the proxy route's place, and --via leaves that route out: add it (--via proxy,pod) or drop --url",
        ));
    }
    Ok(routes)
}

/// The flags that only shape the proxy and `--url` routes, refused when the tester pod is the
/// only route: its loop keeps one request in flight on a fresh connection each.
fn only_for_client_routes(args: &FailoverArgs, routes: &[Route]) -> Result<()> {
    if !routes.iter().all(|r| matches!(r, Route::Pod)) {
        return Ok(());
    }
    if args.concurrency != 1 {
        return Err(Error::usage(format!(
            "--concurrency {} cannot be used with --via pod alone: the tester pod keeps one request in flight (--via proxy,pod runs both)",
            args.concurrency
        )));
    }
    if args.keep_alive {
        return Err(Error::usage(
            "--keep-alive cannot be used with --via pod alone: the tester pod opens a fresh connection per request, like the guide's query.py",
        ));
    }
    Ok(())
}

impl Settings {
    fn from_args(args: &FailoverArgs, global: &GlobalArgs) -> Result<Settings> {
        crate::validate::object_name("NAME", &args.name)?;
        if args.rounds == 0 {
            return Err(Error::invalid("rounds", "must be at least 1"));
        }
        if args.concurrency == 0 {
            return Err(Error::invalid("concurrency", "must be at least 1"));
        }
        if let Some(r) = args.max_recovery
            && !(r.is_finite() && r > 0.0)
        {
            return Err(Error::invalid(
                "max-recovery",
                format!("must be a positive number of seconds (got {r})"),
            ));
        }
        let url = args
            .url
            .as_deref()
            .map(|raw| Url::parse(raw).map_err(|e| Error::invalid("url", e)))
            .transpose()?;
        // `--request-timeout` bounds the drill's queries too (kubectl's meaning: one request to
        // the server), with a shorter default: a drill counts a slow answer as a failure.
        let query_timeout = match global.request_timeout.as_deref() {
            Some(t) if flags::request_timeout(t)?.is_some() => t,
            _ => QUERY_TIMEOUT,
        };
        // The request flags mean what they mean for `query`.
        let request = RequestSpec::from_flags(&RequestFlags {
            method: "POST",
            path: args.path.as_deref(),
            data: args.data.as_deref(),
            expect: args.expect.as_deref(),
            timeout: query_timeout,
            url: url.as_ref(),
            ..RequestFlags::default()
        })?;
        let routes = routes(&args.via, url)?;
        only_for_client_routes(args, &routes)?;
        Ok(Settings {
            warmup: flags::duration("warmup", &args.warmup)?,
            settle: flags::duration("settle", &args.settle)?,
            recovery_timeout: match &args.recovery_timeout {
                Some(t) => flags::duration("recovery-timeout", t)?,
                None => target::of(args.target).default_recovery_timeout(),
            },
            request,
            routes,
        })
    }
}

/// What every part of a running drill reads.
pub(crate) struct Drill<'a> {
    cluster: &'a Cluster,
    args: &'a FailoverArgs,
    settings: &'a Settings,
    target: &'a dyn Target,
    lock: &'a Lock,
    /// Set on Ctrl-C.
    stop: &'a StopHandle,
}

pub fn run(args: FailoverArgs, global: &GlobalArgs) -> Result<Outcome> {
    let settings = Settings::from_args(&args, global)?;
    let target = target::for_args(&args)?;
    let runtime = cluster::runtime(true)?;
    runtime.block_on(drill(&args, global, &settings, target, None))
}

/// One round of `target`'s change under load, reported as a drill with what the update is
/// (`apply --load`).
pub async fn measure(
    args: &FailoverArgs,
    global: &GlobalArgs,
    target: Box<dyn Target>,
    update: Update,
) -> Result<Outcome> {
    let settings = Settings::from_args(args, global)?;
    drill(args, global, &settings, target, Some(update)).await
}

async fn drill(
    args: &FailoverArgs,
    global: &GlobalArgs,
    settings: &Settings,
    target: Box<dyn Target>,
    update: Option<Update>,
) -> Result<Outcome> {
    // Ctrl-C ends the drill through the stop handle from the preflight on (with -y; a
    // confirmation prompt keeps the terminal's Ctrl-C until it is answered), also while the lock
    // is being taken: the rounds then do not start, and the lock is released.
    let stop = StopHandle::default();
    let early = args.yes.then(|| stop.stop_on_ctrl_c());
    let cluster = cluster::connect(global).await?;
    let target = target.as_ref();
    let facts = tokio::select! {
        f = preflight::check(&cluster, args, settings, target) => f?,
        _ = stop.wait() => {
            eprintln!("interrupted during the preflight; nothing was changed");
            return Ok(Outcome::Interrupted);
        }
    };
    if !args.yes && !preflight::confirm(args, target, &facts)? {
        return Err(Error::failed("not confirmed; nothing was changed"));
    }
    let ctrl_c = early.unwrap_or_else(|| stop.stop_on_ctrl_c());
    let lock = Lock::acquire(&cluster, &args.name).await?;
    let d = Drill {
        cluster: &cluster,
        args,
        settings,
        target,
        lock: &lock,
        stop: &stop,
    };
    let mut report = Report::new(args, &cluster.namespace, target.id(), &settings.routes);
    report.versions = Some(facts.versions.clone());
    report.update = update;
    let result = rounds(&d, &mut report).await;
    lock.release().await;
    ctrl_c.abort();
    report.interrupted = stop.stopped();
    finish(&mut report);
    report::emit(&report, args)?;
    result?;
    Ok(report.outcome())
}

/// The rounds, each after the RayService is fully Ready again; the first error ends them.
async fn rounds(d: &Drill<'_>, report: &mut Report) -> Result<()> {
    for round in 1..=d.args.rounds {
        if d.stop.stopped() {
            break;
        }
        d.lock.renew().await;
        if round > 1 && !d.args.quiet {
            eprintln!(
                "waiting for rayservice/{} to be fully Ready before round {round}",
                d.args.name
            );
            let ns = &d.cluster.namespace;
            let ready =
                crate::wait::until_ready(d.cluster, ns, &d.args.name, d.settings.recovery_timeout);
            // Ctrl-C while waiting ends the drill like any other phase.
            tokio::select! {
                r = ready => { r?; }
                _ = d.stop.wait() => break,
            }
        }
        let mut r = round::run(d, round).await?;
        if !d.args.quiet {
            eprintln!(
                "round {round}: {} request(s), {} failure(s){}, recovery {}",
                r.requests.requests,
                r.requests.failures,
                r.route_counts(),
                r.recovery_s
                    .map_or("not reached".into(), |s| format!("{s:.1} s"))
            );
        }
        let unrecovered = r.recovery_s.is_none() && !d.stop.stopped();
        if unrecovered {
            r.diagnosis = diagnose(d).await;
            // The diagnosis is the drill's result: printed even with --quiet.
            if let Some(diag) = &r.diagnosis {
                eprint!("{}", diag.render());
            }
        }
        report.rounds.push(r);
        // A round that did not recover ends the drill: the next would only wait on the same
        // broken state (and kill what is left of it).
        if unrecovered {
            eprintln!("round {round} did not recover: no further rounds");
            break;
        }
    }
    Ok(())
}

/// Why the RayService did not come back, as `status` would say it.
async fn diagnose(d: &Drill<'_>) -> Option<crate::status::HeadDiagnosis> {
    let facts = crate::status::gather(d.cluster, &d.args.name).await.ok()?;
    crate::status::diagnose_head(d.cluster, &facts).await
}

#[cfg(test)]
mod test_support {
    use std::collections::BTreeMap;

    use k8s_openapi::api::core::v1::Pod;

    use crate::rayservice::Role;
    use crate::status::{Facts, PodFact};

    pub fn pod_fact(name: &str, role: Role, restarts: i32) -> PodFact {
        PodFact {
            name: name.into(),
            role,
            node: None,
            ip: None,
            phase: "Running".into(),
            ready: true,
            restarts,
            uid: format!("uid-{name}"),
            gcs_store: Some("redis".into()),
            labels: BTreeMap::new(),
        }
    }

    pub fn facts(pods: Vec<PodFact>) -> Facts {
        Facts {
            pods,
            ..Facts::default()
        }
    }

    pub fn pod(name: &str, labels: &[(&str, &str)], restarts: i32) -> Pod {
        serde_json::from_value(serde_json::json!({
            "metadata": {
                "name": name,
                "uid": format!("uid-{name}"),
                "labels": labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
            },
            "status": {
                "phase": "Running",
                "conditions": [{"type": "Ready", "status": "True"}],
                "containerStatuses": [{
                    "name": "c", "image": "i", "imageID": "", "ready": true,
                    "restartCount": restarts,
                }],
            },
        }))
        .unwrap()
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::{Route, Settings};
    use crate::cli::{Cli, Command, GlobalArgs};
    use crate::error::Error;

    fn settings(argv: &[&str]) -> Result<Settings, Error> {
        let cli = Cli::try_parse_from(["kubectl-rayha", "failover", "shop"].iter().chain(argv))
            .expect("arguments parse");
        let Command::Failover(args) = cli.command else {
            panic!("not failover")
        };
        Settings::from_args(&args, &GlobalArgs::default())
    }

    fn routes(argv: &[&str]) -> Vec<&'static str> {
        settings(argv)
            .expect("settings")
            .routes
            .iter()
            .map(Route::id)
            .collect()
    }

    fn usage_error(argv: &[&str]) -> String {
        match settings(argv) {
            Err(e @ Error::Usage(_)) => e.to_string(),
            Err(e) => panic!("{argv:?}: not a usage error: {e}"),
            Ok(_) => panic!("{argv:?}: accepted"),
        }
    }

    #[test]
    fn via_names_the_routes_at_once() {
        assert_eq!(routes(&[]), ["proxy"]);
        assert_eq!(routes(&["--via", "pod"]), ["pod"]);
        assert_eq!(routes(&["--via", "proxy,pod"]), ["proxy", "pod"]);
        assert_eq!(
            routes(&["--via", "pod", "--via", "proxy"]),
            ["pod", "proxy"]
        );
        // --url takes the proxy route's place.
        assert_eq!(routes(&["--url", "http://127.0.0.1:8000/fruit/"]), ["url"]);
        assert_eq!(
            routes(&[
                "--url",
                "http://127.0.0.1:8000/fruit/",
                "--via",
                "proxy,pod"
            ]),
            ["url", "pod"]
        );
        // --concurrency and --keep-alive shape the client routes beside a tester.
        assert_eq!(routes(&["--via", "proxy,pod", "-c", "4"]), ["proxy", "pod"]);
        let s = settings(&["--via", "pod"]).unwrap();
        assert!(s.has_pod_route());
        assert!(!settings(&[]).unwrap().has_pod_route());
    }

    #[test]
    fn via_refuses_what_no_route_would_use() {
        assert!(usage_error(&["--via", "pod,pod"]).contains("--via names pod twice"));
        let e = usage_error(&["--url", "http://127.0.0.1:8000/", "--via", "pod"]);
        assert!(e.contains("--url") && e.contains("--via proxy,pod"), "{e}");
        let e = usage_error(&["--via", "pod", "--concurrency", "4"]);
        assert!(
            e.contains("--concurrency 4") && e.contains("one request in flight"),
            "{e}"
        );
        let e = usage_error(&["--via", "pod", "--keep-alive"]);
        assert!(
            e.contains("--keep-alive") && e.contains("fresh connection"),
            "{e}"
        );
        // Not a route at all: clap says which values there are.
        let e = Cli::try_parse_from(["kubectl-rayha", "failover", "shop", "--via", "port-forward"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("proxy") && e.contains("pod"), "{e}");
    }
}
