//! `kubectl rayha failover NAME`: the guide's drill made repeatable. Preflight, a lock other
//! users can see, query load through the serve Service, the kill of one pod, a timeline of the
//! recovery followed through watches, a check that the state survived (worker pods and Serve
//! replica actors unchanged), and a verdict with an exit code a pipeline can gate on.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures::{StreamExt, TryStreamExt};
use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::api::discovery::v1::EndpointSlice;
use kube::api::{Api, DeleteParams, ListParams, PostParams};
use kube::core::DynamicObject;
use kube::runtime::{WatchStreamExt, watcher};
use serde::Serialize;
use serde_json::Value;
use tokio::sync::mpsc;

use crate::cli::{FailoverArgs, FailoverTarget, GlobalArgs, QueryArgs, QueryOutput};
use crate::cluster::{self, Cluster, describe_kube_error};
use crate::error::{Error, Result};
use crate::query::engine::{self, Sample, Shape, StopHandle};
use crate::query::http::Url;
use crate::query::stats::{Recorder, Summary};
use crate::query::{self, parse_duration};
use crate::status::{self, Facts};

/// How the drill ended (the same outcomes and exit codes as `query`).
pub use crate::query::Ending;

/// One entry of the timeline, in seconds from the kill (negative before it).
#[derive(Debug, Clone, Serialize)]
pub struct Event {
    pub t_s: f64,
    pub event: String,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Phases {
    pub before: Option<Summary>,
    pub during: Option<Summary>,
    pub after: Option<Summary>,
}

/// Did the cluster keep its state through the kill?
#[derive(Debug, Clone, Serialize, Default)]
pub struct Survival {
    /// Worker pods (name → restarts) before and after.
    pub workers_before: BTreeMap<String, i32>,
    pub workers_after: BTreeMap<String, i32>,
    /// Worker pods that restarted a container or were replaced.
    pub workers_restarted_or_replaced: Vec<String>,
    /// Serve replica actor ids (deployment → sorted ids) before and after.
    pub replicas_before: BTreeMap<String, Vec<String>>,
    pub replicas_after: BTreeMap<String, Vec<String>>,
    pub replicas_unchanged: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct Round {
    pub round: u32,
    pub killed_pod: String,
    pub killed_uid: String,
    pub replacement_pod: Option<String>,
    /// Unix seconds of the kill.
    pub killed_at_unix: f64,
    pub timeline: Vec<Event>,
    /// Seconds from the kill to full recovery; None when it did not recover in time.
    pub recovery_s: Option<f64>,
    pub requests: Summary,
    pub phases: Phases,
    pub survival: Survival,
    pub passed: bool,
    pub reasons: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Stats {
    pub min: f64,
    pub median: f64,
    pub max: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema: &'static str,
    pub rayservice: String,
    pub namespace: String,
    pub target: String,
    pub route: String,
    pub connection: String,
    pub started_unix: f64,
    pub rounds: Vec<Round>,
    pub total_requests: u64,
    pub total_failures: u64,
    pub recovery_s: Option<Stats>,
    pub max_failures: u64,
    pub max_recovery_s: Option<f64>,
    pub passed: bool,
    pub reasons: Vec<String>,
    pub interrupted: bool,
}

pub const REPORT_SCHEMA_ID: &str = "kubectl-rayha/failover-report/v1";

fn now_unix() -> f64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

struct Settings {
    warmup: Duration,
    settle: Duration,
    recovery_timeout: Duration,
    request: query::Request,
}

fn settings(args: &FailoverArgs) -> Result<Settings> {
    let d = |field: &str, v: &str| parse_duration(v).map_err(|e| Error::invalid(field, e));
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
    // The request flags mean what they mean for `query`.
    let q = QueryArgs {
        name: None,
        url: args.url.clone(),
        via: None,
        pod: None,
        path: args.path.clone(),
        method: "POST".into(),
        data: args.data.clone(),
        data_file: None,
        header: vec![],
        expect: args.expect.clone(),
        expect_status: None,
        concurrency: Some(args.concurrency),
        rate: None,
        count: None,
        duration: None,
        timeout: args.request_timeout.clone(),
        keep_alive: Some(args.keep_alive),
        print_each: false,
        max_failures: None,
        output: QueryOutput::Text,
    };
    let mut request = query::request_from(&q)?;
    if let Some(url) = &args.url {
        let parsed = Url::parse(url).map_err(|e| Error::invalid("url", e))?;
        if args.path.is_none() {
            request.path = parsed.path_and_query.clone();
        }
    }
    Ok(Settings {
        warmup: d("warmup", &args.warmup)?,
        settle: d("settle", &args.settle)?,
        recovery_timeout: d("recovery-timeout", &args.recovery_timeout)?,
        request,
    })
}

pub fn run(args: FailoverArgs, global: &GlobalArgs) -> Result<Ending> {
    let settings = settings(&args)?;
    let runtime = crate::cluster::runtime(true)?;
    runtime.block_on(drill(args, global, settings))
}

/// Checks before touching anything; returns the facts the drill starts from.
async fn preflight(cluster: &Cluster, args: &FailoverArgs) -> Result<Facts> {
    let facts = status::gather(cluster, &args.name).await?;
    let name = &args.name;
    let ready = facts
        .conditions
        .iter()
        .any(|c| c["type"] == "Ready" && c["status"] == "True");
    if !ready {
        return Err(Error::failed(format!(
            "rayservice/{name} is not Ready: wait for it (kubectl rayha status {name})"
        )));
    }
    let head = facts.pods.iter().find(|p| p.role == "head");
    let ft = facts.spec_gcs_ft && head.is_some_and(|h| h.gcs_ft_env);
    if !ft && !args.force {
        return Err(Error::failed(format!(
            "rayservice/{name} runs without GCS fault tolerance{}: when the head restarts, a new empty GCS makes the worker raylets exit, every Serve replica dies and the apps are redeployed, so requests fail; enable gcsFaultToleranceOptions (kubectl rayha generate), or pass --force to measure exactly that",
            if facts.spec_gcs_ft {
                " on the running head pod"
            } else {
                ""
            }
        )));
    }
    if args.target == FailoverTarget::Head {
        let head_ip = head.and_then(|h| h.ip.clone());
        if facts.dashboard_error.is_none()
            && facts
                .replicas
                .iter()
                .any(|r| Some(&r.node_ip) == head_ip.as_ref())
        {
            return Err(Error::failed(format!(
                "rayservice/{name} has Serve replicas on its head pod, which die with it: start the head with num-cpus: \"0\" (kubectl rayha lint)"
            )));
        }
    }
    let head_name = head.map(|h| h.name.clone());
    let others = facts
        .serve_endpoints
        .iter()
        .filter(|e| e.ready && e.pod != head_name)
        .count();
    if others == 0 && args.url.is_none() {
        return Err(Error::failed(format!(
            "{name}-serve-svc has no ready endpoint besides the head: nothing would answer while it is down"
        )));
    }
    if !cluster::can_i(&cluster.client, "delete", "", "pods", &cluster.namespace).await? {
        return Err(Error::failed(format!(
            "not allowed to delete pods in namespace {} (SelfSubjectAccessReview)",
            cluster.namespace
        )));
    }
    Ok(facts)
}

/// A Lease other users can see: who runs a drill on this RayService, until when.
struct Lock {
    api: Api<Lease>,
    name: String,
    holder: String,
}

const LOCK_SECONDS: i32 = 60;

impl Lock {
    async fn acquire(cluster: &Cluster, rayservice: &str) -> Result<Lock> {
        let api: Api<Lease> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
        let name = format!("{rayservice}-rayha-failover");
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
        let user = std::env::var("USER").unwrap_or_else(|_| "unknown".into());
        let holder = format!("{user}@{} pid {}", host.trim(), std::process::id());
        let lease = Lease {
            metadata: kube::core::ObjectMeta {
                name: Some(name.clone()),
                labels: Some(BTreeMap::from([
                    (
                        "app.kubernetes.io/managed-by".to_string(),
                        "kubectl-rayha".to_string(),
                    ),
                    (
                        "app.kubernetes.io/instance".to_string(),
                        rayservice.to_string(),
                    ),
                ])),
                ..Default::default()
            },
            spec: Some(lease_spec(&holder)),
        };
        match api.create(&PostParams::default(), &lease).await {
            Ok(_) => return Ok(Lock { api, name, holder }),
            Err(kube::Error::Api(s)) if s.code == 409 => {}
            Err(e) => {
                return Err(Error::failed(format!(
                    "cannot take the drill lock (lease {name}): {}",
                    describe_kube_error(&e)
                )));
            }
        }
        let existing = api.get(&name).await.map_err(|e| {
            Error::failed(format!(
                "cannot read lease {name}: {}",
                describe_kube_error(&e)
            ))
        })?;
        let spec = existing.spec.clone().unwrap_or_default();
        let expires = spec.renew_time.as_ref().map(|t| {
            t.0.as_second() + i64::from(spec.lease_duration_seconds.unwrap_or(LOCK_SECONDS))
        });
        let now = now_unix() as i64;
        if expires.is_some_and(|e| e > now) {
            return Err(Error::failed(format!(
                "another failover drill on rayservice/{rayservice} is running: held by {} until {} s from now (lease {name})",
                spec.holder_identity.as_deref().unwrap_or("unknown"),
                expires.unwrap_or(now) - now
            )));
        }
        // An expired lock of a drill that died: take it over.
        let mut taken = existing;
        taken.spec = Some(lease_spec(&holder));
        api.replace(&name, &PostParams::default(), &taken)
            .await
            .map_err(|e| {
                Error::failed(format!(
                    "cannot take over the expired lease {name}: {}",
                    describe_kube_error(&e)
                ))
            })?;
        Ok(Lock { api, name, holder })
    }

    async fn renew(&self) {
        if let Ok(mut lease) = self.api.get(&self.name).await {
            lease.spec = Some(lease_spec(&self.holder));
            let _ = self
                .api
                .replace(&self.name, &PostParams::default(), &lease)
                .await;
        }
    }

    async fn release(&self) {
        let _ = self.api.delete(&self.name, &DeleteParams::default()).await;
    }
}

fn lease_spec(holder: &str) -> LeaseSpec {
    let now = k8s_openapi::jiff::Timestamp::now();
    LeaseSpec {
        holder_identity: Some(holder.to_string()),
        lease_duration_seconds: Some(LOCK_SECONDS),
        acquire_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
            now,
        )),
        renew_time: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime(
            now,
        )),
        ..Default::default()
    }
}

async fn drill(args: FailoverArgs, global: &GlobalArgs, settings: Settings) -> Result<Ending> {
    let cluster = cluster::connect(global).await?;
    let facts = preflight(&cluster, &args).await?;
    if !args.yes && !confirm(&args, &facts)? {
        return Err(Error::failed("not confirmed; nothing was deleted"));
    }
    let lock = Lock::acquire(&cluster, &args.name).await?;
    let stop_all = StopHandle::default();
    let ctrl_c = {
        let stop = stop_all.clone();
        tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_ok() {
                stop.stop();
            }
        })
    };
    let mut report = Report {
        schema: REPORT_SCHEMA_ID,
        rayservice: args.name.clone(),
        namespace: cluster.namespace.clone(),
        target: format!("{:?}", args.target).to_lowercase(),
        route: if args.url.is_some() {
            "url".into()
        } else {
            "proxy".into()
        },
        connection: match (&args.url, args.keep_alive) {
            (None, _) => "keep-alive to the API server".into(),
            (Some(_), true) => "keep-alive".into(),
            (Some(_), false) => "fresh".into(),
        },
        started_unix: now_unix(),
        rounds: Vec::new(),
        total_requests: 0,
        total_failures: 0,
        recovery_s: None,
        max_failures: args.max_failures,
        max_recovery_s: args.max_recovery,
        passed: false,
        reasons: Vec::new(),
        interrupted: false,
    };
    let mut result = Ok(());
    for round in 1..=args.rounds {
        if stop_all.stopped() {
            break;
        }
        lock.renew().await;
        if round > 1 {
            eprintln!(
                "waiting for rayservice/{} to be fully Ready before round {round}",
                args.name
            );
            if let Err(e) = crate::wait::until_ready(
                &cluster,
                &cluster.namespace,
                &args.name,
                settings.recovery_timeout,
            )
            .await
            {
                result = Err(e);
                break;
            }
        }
        match run_round(&cluster, &args, &settings, round, &lock, &stop_all).await {
            Ok(r) => {
                eprintln!(
                    "round {round}: {} request(s), {} failure(s), recovery {}",
                    r.requests.requests,
                    r.requests.failures,
                    r.recovery_s
                        .map_or("not reached".into(), |s| format!("{s:.1} s"))
                );
                report.rounds.push(r);
            }
            Err(e) => {
                result = Err(e);
                break;
            }
        }
    }
    lock.release().await;
    ctrl_c.abort();
    report.interrupted = stop_all.stopped();
    finish(&mut report);
    emit(&report, &args)?;
    result?;
    Ok(if report.interrupted {
        Ending::Interrupted
    } else if report.passed {
        Ending::Passed
    } else {
        Ending::Failed
    })
}

fn confirm(args: &FailoverArgs, facts: &Facts) -> Result<bool> {
    let victim = pick_victim_name(args.target, facts).unwrap_or_else(|| "a pod".into());
    cluster::confirm(
        &format!(
            "This deletes {victim} of rayservice/{} in namespace {} {} time(s). Continue?",
            args.name, facts.namespace, args.rounds
        ),
        "delete a pod",
    )
}

fn pick_victim_name(target: FailoverTarget, facts: &Facts) -> Option<String> {
    match target {
        FailoverTarget::Head => facts
            .pods
            .iter()
            .find(|p| p.role == "head")
            .map(|p| format!("head pod {}", p.name)),
        FailoverTarget::Worker => facts
            .pods
            .iter()
            .find(|p| p.role == "worker")
            .map(|p| format!("worker pod {}", p.name)),
        FailoverTarget::Redis => facts
            .redis
            .as_ref()
            .map(|(n, _, _)| format!("the pod of deployment/{n}")),
    }
}

/// Requesters for either route.
enum Load {
    Proxy(Vec<query::proxy::ProxyTarget>),
    Url(Vec<query::HttpRequester>),
}

fn load_for(cluster: &Cluster, args: &FailoverArgs, settings: &Settings) -> Result<Load> {
    match &args.url {
        None => Ok(Load::Proxy(query::proxy_requesters(
            &cluster.client,
            &cluster.namespace,
            &args.name,
            &settings.request,
            args.concurrency,
        )?)),
        Some(raw) => {
            let url = Url::parse(raw).map_err(|e| Error::invalid("url", e))?;
            let addr = query::resolve(&url)?;
            Ok(Load::Url(query::url_requesters(
                &url,
                addr,
                &settings.request,
                args.keep_alive,
                args.concurrency,
            )))
        }
    }
}

/// Phase boundaries, set by the drill, read by the sample consumer.
#[derive(Default)]
struct Boundaries {
    kill: Option<Instant>,
    recovered: Option<Instant>,
}

struct Recorders {
    all: Recorder,
    before: Recorder,
    during: Recorder,
    after: Recorder,
    during_used: bool,
    after_used: bool,
}

fn consume(
    mut rx: mpsc::UnboundedReceiver<Sample>,
    start: Instant,
    bounds: Arc<Mutex<Boundaries>>,
) -> tokio::task::JoinHandle<Recorders> {
    tokio::spawn(async move {
        let mut r = Recorders {
            all: Recorder::new(start),
            before: Recorder::new(start),
            during: Recorder::new(start),
            after: Recorder::new(start),
            during_used: false,
            after_used: false,
        };
        while let Some(s) = rx.recv().await {
            r.all.record(&s);
            let b = bounds.lock().expect("boundaries lock");
            match (b.kill, b.recovered) {
                (Some(k), _) if s.intended < k => r.before.record(&s),
                (None, _) => r.before.record(&s),
                (Some(_), Some(rec)) if s.intended >= rec => {
                    r.after_used = true;
                    r.after.record(&s)
                }
                _ => {
                    r.during_used = true;
                    r.during.record(&s)
                }
            }
        }
        r
    })
}

/// What the watches have seen since the kill.
#[derive(Default)]
struct Observed {
    old_terminating: bool,
    old_gone: bool,
    new_pod: Option<(String, String)>,
    new_running: bool,
    new_ready: bool,
    endpoints_ready: Option<usize>,
    rs_ready: Option<bool>,
    apps_running: Option<bool>,
    worker_restarts: BTreeMap<String, i32>,
    /// Head pods (name → restarts) when the head is not the victim: a GCS that exits shows here.
    head_restarts: BTreeMap<String, i32>,
}

async fn run_round(
    cluster: &Cluster,
    args: &FailoverArgs,
    settings: &Settings,
    round: u32,
    lock: &Lock,
    stop_all: &StopHandle,
) -> Result<Round> {
    let before = status::gather(cluster, &args.name).await?;
    let rc = before
        .active_cluster
        .clone()
        .or(before.pending_cluster.clone())
        .ok_or_else(|| Error::failed("no RayCluster"))?;
    let victim = pick_victim(cluster, args.target, &before).await?;
    let (victim_name, victim_uid, victim_labels) = victim;

    // Load first, then the warm-up, then the kill.
    let (tx, rx) = mpsc::unbounded_channel();
    let start = Instant::now();
    let bounds: Arc<Mutex<Boundaries>> = Arc::default();
    let consumer = consume(rx, start, bounds.clone());
    let load_stop = StopHandle::default();
    let shape = Shape {
        concurrency: args.concurrency,
        rate: None,
        count: None,
        duration: None,
    };
    let load = match load_for(cluster, args, settings)? {
        Load::Proxy(r) => tokio::spawn(engine::run(shape, r, tx, load_stop.clone())),
        Load::Url(r) => tokio::spawn(engine::run(shape, r, tx, load_stop.clone())),
    };
    sleep_or_stop(settings.warmup, stop_all).await;

    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let mut timeline = Vec::new();
    let kill_at = Instant::now();
    let killed_at_unix = now_unix();
    bounds.lock().expect("boundaries lock").kill = Some(kill_at);
    let mut dp = DeleteParams::default();
    if let Some(g) = args.grace_period {
        dp = dp.grace_period(g);
    }
    if !stop_all.stopped() {
        pods.delete(&victim_name, &dp).await.map_err(|e| {
            Error::failed(format!(
                "cannot delete pod {victim_name}: {}",
                describe_kube_error(&e)
            ))
        })?;
        timeline.push(Event {
            t_s: 0.0,
            event: format!("deleted {} pod {victim_name}", args.target_word()),
        });
    }

    let expected_endpoints = before.serve_endpoints.iter().filter(|e| e.ready).count();
    let (recovered, replacement) = if stop_all.stopped() {
        (None, None)
    } else {
        follow(
            cluster,
            args,
            &rc,
            &victim_name,
            &victim_uid,
            &victim_labels,
            expected_endpoints,
            &before,
            kill_at,
            settings.recovery_timeout,
            settings.settle,
            &bounds,
            &mut timeline,
            lock,
            stop_all,
        )
        .await?
    };
    if let Some(t) = recovered {
        timeline.push(Event {
            t_s: secs(kill_at, t),
            event: "fully recovered".into(),
        });
        // The watches kept following through the settle time: keep the timeline in order.
        timeline.sort_by(|a, b| a.t_s.total_cmp(&b.t_s));
    }
    load_stop.stop();
    let _ = load.await;
    let mut recorders = consumer
        .await
        .map_err(|e| Error::failed(format!("internal: {e}")))?;
    let end = Instant::now();
    for r in [
        &mut recorders.all,
        &mut recorders.before,
        &mut recorders.during,
        &mut recorders.after,
    ] {
        r.finish(end);
    }

    let after = status::gather(cluster, &args.name).await?;
    let survival = survival(&before, &after, args.target, &victim_name);
    let requests = recorders.all.summary();
    let recovery_s = recovered.map(|t| secs(kill_at, t));
    let mut reasons = Vec::new();
    if recovered.is_none() {
        reasons.push(if stop_all.stopped() {
            "interrupted before recovery".to_string()
        } else {
            format!(
                "no full recovery within {} s",
                settings.recovery_timeout.as_secs()
            )
        });
    }
    if let (Some(max), Some(r)) = (args.max_recovery, recovery_s)
        && r > max
    {
        reasons.push(format!(
            "recovery took {r:.1} s, more than --max-recovery {max}"
        ));
    }
    reasons.extend(collateral(args.target, &before, &after, &survival));
    Ok(Round {
        round,
        killed_pod: victim_name,
        killed_uid: victim_uid,
        replacement_pod: replacement,
        killed_at_unix,
        timeline,
        recovery_s,
        requests,
        phases: Phases {
            before: Some(recorders.before.summary()),
            during: recorders.during_used.then(|| recorders.during.summary()),
            after: recorders.after_used.then(|| recorders.after.summary()),
        },
        survival,
        passed: reasons.is_empty(),
        reasons,
    })
}

impl FailoverArgs {
    fn target_word(&self) -> &'static str {
        match self.target {
            FailoverTarget::Head => "head",
            FailoverTarget::Worker => "worker",
            FailoverTarget::Redis => "Redis",
        }
    }
}

fn secs(from: Instant, to: Instant) -> f64 {
    to.saturating_duration_since(from).as_secs_f64()
}

async fn sleep_or_stop(d: Duration, stop: &StopHandle) {
    let deadline = Instant::now() + d;
    while Instant::now() < deadline && !stop.stopped() {
        tokio::time::sleep(
            Duration::from_millis(100).min(deadline.saturating_duration_since(Instant::now())),
        )
        .await;
    }
}

/// The pod to delete: (name, uid, labels that find its replacement).
async fn pick_victim(
    cluster: &Cluster,
    target: FailoverTarget,
    facts: &Facts,
) -> Result<(String, String, String)> {
    match target {
        FailoverTarget::Head | FailoverTarget::Worker => {
            let role = if target == FailoverTarget::Head {
                "head"
            } else {
                "worker"
            };
            let p = facts
                .pods
                .iter()
                .find(|p| p.role == role)
                .ok_or_else(|| Error::failed(format!("no {role} pod")))?;
            let rc = facts
                .active_cluster
                .clone()
                .or(facts.pending_cluster.clone())
                .unwrap_or_default();
            Ok((
                p.name.clone(),
                p.uid.clone(),
                format!("ray.io/cluster={rc},ray.io/node-type={role}"),
            ))
        }
        FailoverTarget::Redis => {
            let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
            let selector = format!(
                "app.kubernetes.io/instance={},app.kubernetes.io/name=redis",
                facts.name
            );
            let list = pods
                .list(&ListParams::default().labels(&selector))
                .await
                .map_err(|e| Error::failed(describe_kube_error(&e)))?;
            let p = list.items.into_iter().next().ok_or_else(|| {
                Error::failed("no Redis pod of this bundle (external Redis cannot be drilled here)")
            })?;
            Ok((
                p.metadata.name.unwrap_or_default(),
                p.metadata.uid.unwrap_or_default(),
                selector,
            ))
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn follow(
    cluster: &Cluster,
    args: &FailoverArgs,
    rc: &str,
    victim: &str,
    victim_uid: &str,
    replacement_selector: &str,
    expected_endpoints: usize,
    before: &Facts,
    kill_at: Instant,
    timeout: Duration,
    settle: Duration,
    bounds: &Arc<Mutex<Boundaries>>,
    timeline: &mut Vec<Event>,
    lock: &Lock,
    stop: &StopHandle,
) -> Result<(Option<Instant>, Option<String>)> {
    // After full recovery the watches go on for `settle`, under load: what breaks late (a GCS
    // that exits when the old Redis pod is finally killed, raylets that follow) shows too.
    let mut recovered_at: Option<Instant> = None;
    let ns = &cluster.namespace;
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), ns);
    let slices: Api<EndpointSlice> = Api::namespaced(cluster.client.clone(), ns);
    let rs_api: Api<DynamicObject> =
        Api::namespaced_with(cluster.client.clone(), ns, &cluster::rayservice_resource());
    let pod_selector = if args.target == FailoverTarget::Redis {
        replacement_selector.to_string()
    } else {
        format!("ray.io/cluster={rc}")
    };
    let mut pod_events = watcher(
        pods.clone(),
        watcher::Config::default().labels(&pod_selector),
    )
    .default_backoff()
    .boxed();
    if args.target == FailoverTarget::Redis {
        // Losing Redis must not take the GCS down: follow the Ray pods too.
        let ray = watcher(
            pods,
            watcher::Config::default().labels(&format!("ray.io/cluster={rc}")),
        )
        .default_backoff()
        .boxed();
        pod_events = futures::stream::select(pod_events, ray).boxed();
    }
    let mut slice_events = watcher(
        slices,
        watcher::Config::default().labels(&format!(
            "kubernetes.io/service-name={}-serve-svc",
            args.name
        )),
    )
    .default_backoff()
    .boxed();
    let mut rs_events = watcher(
        rs_api,
        watcher::Config::default().fields(&format!("metadata.name={}", args.name)),
    )
    .default_backoff()
    .boxed();
    let mut seen = Observed::default();
    for p in before.pods.iter().filter(|p| p.role == "worker") {
        seen.worker_restarts.insert(p.name.clone(), p.restarts);
    }
    if args.target != FailoverTarget::Head {
        for p in before.pods.iter().filter(|p| p.role == "head") {
            seen.head_restarts.insert(p.name.clone(), p.restarts);
        }
    }
    let role = if args.target == FailoverTarget::Redis {
        None
    } else {
        Some(if args.target == FailoverTarget::Head {
            "head"
        } else {
            "worker"
        })
    };
    let deadline = tokio::time::sleep(timeout);
    tokio::pin!(deadline);
    let mut renew = tokio::time::interval(Duration::from_secs(20));
    let mut slices_state: BTreeMap<String, usize> = BTreeMap::new();
    let mut slices_listing: Option<BTreeMap<String, usize>> = None;
    loop {
        let now = Instant::now();
        let t = secs(kill_at, now);
        tokio::select! {
            ev = pod_events.try_next() => {
                // A broken stream is re-listed by the watcher: keep following.
                let Ok(ev) = ev else { continue };
                for (pod, deleted) in flatten_pod_event(ev) {
                    observe_pod(&pod, deleted, victim, victim_uid, role, &mut seen, t, timeline);
                }
            }
            ev = slice_events.try_next() => {
                let Ok(Some(ev)) = ev else { continue };
                let n = apply_slice_event(&mut slices_state, &mut slices_listing, ev);
                if let Some(n) = n && seen.endpoints_ready != Some(n) {
                    if seen.endpoints_ready.is_some() || n != expected_endpoints {
                        timeline.push(Event { t_s: t, event: format!("serve endpoints ready: {n}/{expected_endpoints}") });
                    }
                    seen.endpoints_ready = Some(n);
                }
            }
            ev = rs_events.try_next() => {
                if let Ok(Some(watcher::Event::Apply(o) | watcher::Event::InitApply(o))) = ev {
                    let v = serde_json::to_value(&o).unwrap_or(Value::Null);
                    observe_rayservice(&v, &mut seen, t, timeline);
                }
            }
            _ = renew.tick() => lock.renew().await,
            _ = &mut deadline, if recovered_at.is_none() => return Ok((None, seen.new_pod.map(|p| p.0))),
            _ = tokio::time::sleep(Duration::from_millis(200)) => {
                if stop.stopped() { return Ok((recovered_at, seen.new_pod.map(|p| p.0))); }
            }
        }
        // Also for Redis: the old pod keeps serving the GCS' open connection until it is gone.
        let replaced = seen.new_ready && seen.old_gone;
        let endpoints_ok = args.target == FailoverTarget::Redis
            || seen
                .endpoints_ready
                .is_some_and(|n| n >= expected_endpoints);
        if recovered_at.is_none()
            && replaced
            && endpoints_ok
            && seen.rs_ready != Some(false)
            && seen.apps_running != Some(false)
        {
            let now = Instant::now();
            recovered_at = Some(now);
            bounds.lock().expect("boundaries lock").recovered = Some(now);
        }
        if let Some(r) = recovered_at
            && r.elapsed() >= settle
        {
            return Ok((recovered_at, seen.new_pod.map(|p| p.0)));
        }
    }
}

fn flatten_pod_event(ev: Option<watcher::Event<Pod>>) -> Vec<(Pod, bool)> {
    match ev {
        Some(watcher::Event::Apply(p) | watcher::Event::InitApply(p)) => vec![(p, false)],
        Some(watcher::Event::Delete(p)) => vec![(p, true)],
        _ => vec![],
    }
}

/// Applies one EndpointSlice watch event; returns the ready endpoints over all slices when that
/// is a state the cluster was in. A (re-)list is collected from `Init` to `InitDone` and only
/// then replaces the state, so the empty list at the start of a watch is not reported as
/// "0 ready".
fn apply_slice_event(
    state: &mut BTreeMap<String, usize>,
    listing: &mut Option<BTreeMap<String, usize>>,
    ev: watcher::Event<EndpointSlice>,
) -> Option<usize> {
    match ev {
        watcher::Event::Init => {
            *listing = Some(BTreeMap::new());
            return None;
        }
        watcher::Event::InitApply(s) => {
            let name = s.metadata.name.clone().unwrap_or_default();
            listing
                .get_or_insert_with(BTreeMap::new)
                .insert(name, ready_endpoints(&s));
            return None;
        }
        watcher::Event::InitDone => *state = listing.take().unwrap_or_default(),
        watcher::Event::Apply(s) => {
            state.insert(
                s.metadata.name.clone().unwrap_or_default(),
                ready_endpoints(&s),
            );
        }
        watcher::Event::Delete(s) => {
            state.remove(&s.metadata.name.clone().unwrap_or_default());
        }
    }
    Some(state.values().sum())
}

fn ready_endpoints(s: &EndpointSlice) -> usize {
    s.endpoints
        .iter()
        .filter(|e| e.conditions.as_ref().and_then(|c| c.ready).unwrap_or(false))
        .map(|e| e.addresses.len())
        .sum()
}

#[allow(clippy::too_many_arguments)]
fn observe_pod(
    pod: &Pod,
    deleted: bool,
    victim: &str,
    victim_uid: &str,
    role: Option<&str>,
    seen: &mut Observed,
    t: f64,
    timeline: &mut Vec<Event>,
) {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let uid = pod.metadata.uid.clone().unwrap_or_default();
    let labels = pod.metadata.labels.clone().unwrap_or_default();
    let pod_role = labels.get("ray.io/node-type").map(String::as_str);
    let is_redis = labels.get("app.kubernetes.io/name").map(String::as_str) == Some("redis");
    if uid == victim_uid {
        if deleted && !seen.old_gone {
            seen.old_gone = true;
            timeline.push(Event {
                t_s: t,
                event: format!("old pod {victim} gone"),
            });
        } else if pod.metadata.deletion_timestamp.is_some() && !seen.old_terminating {
            seen.old_terminating = true;
            timeline.push(Event {
                t_s: t,
                event: format!("old pod {victim} terminating"),
            });
        }
        return;
    }
    if deleted || pod.metadata.deletion_timestamp.is_some() {
        if (pod_role == Some("worker") && role != Some("worker"))
            || (pod_role == Some("head") && role != Some("head"))
        {
            timeline.push(Event {
                t_s: t,
                event: format!("{} pod {name} deleted", pod_role.unwrap_or_default()),
            });
        }
        return;
    }
    let is_replacement = match role {
        Some(r) => pod_role == Some(r) && !seen.worker_restarts.contains_key(&name),
        // The Redis drill also follows the Ray pods; only a Redis pod replaces Redis.
        None => is_redis && pod_role.is_none(),
    };
    if is_replacement {
        if seen.new_pod.as_ref().is_none_or(|(_, u)| *u != uid) && seen.new_pod.is_none() {
            seen.new_pod = Some((name.clone(), uid.clone()));
            timeline.push(Event {
                t_s: t,
                event: format!("new pod {name} created"),
            });
        }
        let phase = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        if phase == "Running" && !seen.new_running {
            seen.new_running = true;
            timeline.push(Event {
                t_s: t,
                event: format!("new pod {name} Running"),
            });
        }
        if crate::wait::pod_ready(pod) && !seen.new_ready {
            seen.new_ready = true;
            timeline.push(Event {
                t_s: t,
                event: format!("new pod {name} Ready"),
            });
        }
        return;
    }
    if pod_role == Some("worker") || pod_role == Some("head") {
        let restarts: i32 = pod
            .status
            .as_ref()
            .and_then(|s| s.container_statuses.as_ref())
            .map_or(0, |c| c.iter().map(|c| c.restart_count).sum());
        let known = if pod_role == Some("worker") {
            &mut seen.worker_restarts
        } else {
            &mut seen.head_restarts
        };
        if let Some(prev) = known.get(&name).copied()
            && restarts > prev
        {
            timeline.push(Event {
                t_s: t,
                event: format!(
                    "{} pod {name} restarted a container (restarts {restarts})",
                    pod_role.unwrap_or_default()
                ),
            });
            known.insert(name, restarts);
        }
    }
}

fn observe_rayservice(v: &Value, seen: &mut Observed, t: f64, timeline: &mut Vec<Event>) {
    let status = &v["status"];
    let ready = status["conditions"]
        .as_array()
        .and_then(|c| c.iter().find(|c| c["type"] == "Ready"))
        .cloned();
    let is_ready = ready.as_ref().is_some_and(|c| c["status"] == "True");
    if seen.rs_ready.is_some_and(|r| r != is_ready) {
        let reason = ready
            .as_ref()
            .and_then(|c| c["reason"].as_str())
            .unwrap_or("");
        timeline.push(Event {
            t_s: t,
            event: format!(
                "RayService Ready {} ({reason})",
                if is_ready { "True" } else { "False" }
            ),
        });
    }
    seen.rs_ready = Some(is_ready);
    let serving = if status["activeServiceStatus"]["rayClusterName"].is_string() {
        &status["activeServiceStatus"]
    } else {
        &status["pendingServiceStatus"]
    };
    let apps = serving["applicationStatuses"].as_object();
    let running =
        apps.is_some_and(|a| !a.is_empty() && a.values().all(|s| s["status"] == "RUNNING"));
    if seen.apps_running.is_some_and(|r| r != running) {
        timeline.push(Event {
            t_s: t,
            event: if running {
                "Serve apps RUNNING again".into()
            } else {
                "Serve apps not RUNNING".into()
            },
        });
    }
    seen.apps_running = Some(running);
}

/// What the kill took down besides its victim: (other) workers restarted or replaced for every
/// target, the head for a worker or Redis kill (a GCS that loses Redis exits and comes back
/// from whatever the new Redis holds), Serve replicas re-created where none should be.
fn collateral(
    target: FailoverTarget,
    before: &Facts,
    after: &Facts,
    survival: &Survival,
) -> Vec<String> {
    let mut reasons = Vec::new();
    if !survival.workers_restarted_or_replaced.is_empty() {
        reasons.push(format!(
            "{}worker pods restarted or replaced: {}",
            if target == FailoverTarget::Worker {
                "other "
            } else {
                ""
            },
            survival.workers_restarted_or_replaced.join(", ")
        ));
    }
    if target != FailoverTarget::Head {
        let heads = |f: &Facts| -> Vec<(String, i32)> {
            f.pods
                .iter()
                .filter(|p| p.role == "head")
                .map(|p| (p.name.clone(), p.restarts))
                .collect()
        };
        for (name, restarts) in heads(before) {
            match heads(after).into_iter().find(|(n, _)| *n == name) {
                Some((_, r)) if r > restarts => reasons.push(format!(
                    "head pod {name} restarted (restarts {restarts} -> {r}): the GCS exited{}",
                    if target == FailoverTarget::Redis {
                        " when it lost Redis, and a restarted GCS reads only what the new Redis holds"
                    } else {
                        ""
                    }
                )),
                None => reasons.push(format!("head pod {name} was replaced")),
                _ => {}
            }
        }
    }
    let replicas_kept = match target {
        FailoverTarget::Head | FailoverTarget::Redis => survival.replicas_unchanged,
        // The victim's replicas are re-created elsewhere; each deployment keeps the others.
        FailoverTarget::Worker => {
            !survival.replicas_before.is_empty()
                && survival.replicas_before.iter().all(|(d, ids)| {
                    let after = survival.replicas_after.get(d);
                    let kept = ids
                        .iter()
                        .filter(|id| after.is_some_and(|a| a.contains(id)))
                        .count();
                    let per_worker = ids.len().div_ceil(survival.workers_before.len().max(1));
                    kept + per_worker >= ids.len() && after.is_some_and(|a| a.len() >= ids.len())
                })
        }
    };
    if !replicas_kept {
        reasons.push(match target {
            FailoverTarget::Worker => "Serve replicas on the surviving workers were replaced, or a deployment did not get back to its replica count".into(),
            _ => "Serve replicas were replaced (actor ids changed): the apps were redeployed".into(),
        });
    }
    reasons
}

fn survival(before: &Facts, after: &Facts, target: FailoverTarget, victim: &str) -> Survival {
    let workers = |f: &Facts| -> BTreeMap<String, i32> {
        f.pods
            .iter()
            .filter(|p| p.role == "worker")
            .map(|p| (p.name.clone(), p.restarts))
            .collect()
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
    let changed: Vec<String> = wb
        .iter()
        .filter(|(name, restarts)| {
            !(target == FailoverTarget::Worker && name.as_str() == victim)
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
        replicas_before: rb,
        replicas_after: ra,
    }
}

/// Totals, recovery statistics and the verdict over all rounds.
pub fn finish(report: &mut Report) {
    report.total_requests = report.rounds.iter().map(|r| r.requests.requests).sum();
    report.total_failures = report.rounds.iter().map(|r| r.requests.failures).sum();
    let mut rec: Vec<f64> = report.rounds.iter().filter_map(|r| r.recovery_s).collect();
    rec.sort_by(|a, b| a.total_cmp(b));
    report.recovery_s = (!rec.is_empty()).then(|| Stats {
        min: rec[0],
        median: if rec.len() % 2 == 1 {
            rec[rec.len() / 2]
        } else {
            (rec[rec.len() / 2 - 1] + rec[rec.len() / 2]) / 2.0
        },
        max: rec[rec.len() - 1],
    });
    let mut reasons = Vec::new();
    if report.total_failures > report.max_failures {
        reasons.push(format!(
            "{} failed request(s), more than --max-failures {}",
            report.total_failures, report.max_failures
        ));
    }
    for r in &report.rounds {
        for reason in &r.reasons {
            reasons.push(format!("round {}: {reason}", r.round));
        }
    }
    if report.rounds.is_empty() {
        reasons.push("no round completed".into());
    }
    if report.interrupted {
        reasons.push("interrupted".into());
    }
    report.passed = reasons.is_empty();
    report.reasons = reasons;
}

fn emit(report: &Report, args: &FailoverArgs) -> Result<()> {
    let json = serde_json::to_string_pretty(report).expect("report serialises") + "\n";
    if let Some(path) = &args.report {
        std::fs::write(path, &json)
            .map_err(|e| Error::failed(format!("--report {}: {e}", path.display())))?;
    }
    if let Some(path) = &args.junit {
        std::fs::write(path, junit(report))
            .map_err(|e| Error::failed(format!("--junit {}: {e}", path.display())))?;
    }
    match args.output {
        QueryOutput::Json => print!("{json}"),
        QueryOutput::Text => print!("{}", render_text(report)),
    }
    Ok(())
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// One test suite, one test case per round.
pub fn junit(report: &Report) -> String {
    let failures = report.rounds.iter().filter(|r| !r.passed).count()
        + usize::from(
            report.total_failures > report.max_failures && report.rounds.iter().all(|r| r.passed),
        );
    let mut out = format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuite name=\"kubectl-rayha failover {}\" tests=\"{}\" failures=\"{failures}\">\n",
        xml_escape(&report.rayservice),
        report.rounds.len()
    );
    for r in &report.rounds {
        out.push_str(&format!(
            "  <testcase classname=\"failover.{}\" name=\"round {}: delete {}\" time=\"{:.3}\">\n",
            xml_escape(&report.target),
            r.round,
            xml_escape(&r.killed_pod),
            r.requests.duration_s
        ));
        let mut problems = r.reasons.clone();
        if r.requests.failures > report.max_failures {
            problems.push(format!("{} failed request(s)", r.requests.failures));
        }
        if !problems.is_empty() {
            out.push_str(&format!(
                "    <failure message=\"{}\"/>\n",
                xml_escape(&problems.join("; "))
            ));
        }
        out.push_str(&format!(
            "    <system-out>requests {} failures {} recovery_s {}</system-out>\n  </testcase>\n",
            r.requests.requests,
            r.requests.failures,
            r.recovery_s.map_or("none".into(), |s| format!("{s:.3}"))
        ));
    }
    out.push_str("</testsuite>\n");
    out
}

/// The human report.
pub fn render_text(report: &Report) -> String {
    let mut out = format!(
        "failover drill on rayservice/{} -n {}: target {}, load via {} ({})\n",
        report.rayservice, report.namespace, report.target, report.route, report.connection
    );
    for r in &report.rounds {
        out.push_str(&format!(
            "round {}: deleted pod {}\n",
            r.round, r.killed_pod
        ));
        for e in &r.timeline {
            out.push_str(&format!("  {:>+8.2} s  {}\n", e.t_s, e.event));
        }
        out.push_str(&format!(
            "  recovery: {}\n",
            r.recovery_s
                .map_or("not reached".into(), |s| format!("{s:.2} s"))
        ));
        for (phase, s) in [
            ("before", &r.phases.before),
            ("during", &r.phases.during),
            ("after", &r.phases.after),
        ] {
            if let Some(s) = s {
                let causes: Vec<String> = s
                    .failures_by_cause
                    .iter()
                    .map(|(k, v)| format!("{k} {v}"))
                    .collect();
                out.push_str(&format!(
                    "  {phase:<7} requests {:>6}  failures {:>4}{}  p50 {}  p99 {}\n",
                    s.requests,
                    s.failures,
                    if causes.is_empty() {
                        String::new()
                    } else {
                        format!(" ({})", causes.join(", "))
                    },
                    s.latency_ms
                        .as_ref()
                        .map_or("-".into(), |l| format!("{:.1} ms", l.p50)),
                    s.latency_ms
                        .as_ref()
                        .map_or("-".into(), |l| format!("{:.1} ms", l.p99)),
                ));
            }
        }
        out.push_str(&format!(
            "  longest without a success: {:.2} s\n",
            r.requests.longest_without_success_s
        ));
        out.push_str(&format!(
            "  workers restarted or replaced: {}; Serve replica actors unchanged: {}\n",
            if r.survival.workers_restarted_or_replaced.is_empty() {
                "none".into()
            } else {
                r.survival.workers_restarted_or_replaced.join(", ")
            },
            if r.survival.replicas_unchanged {
                "yes"
            } else {
                "no"
            }
        ));
    }
    if let Some(s) = &report.recovery_s {
        out.push_str(&format!(
            "recovery seconds over {} round(s): min {:.2}, median {:.2}, max {:.2}\n",
            report.rounds.len(),
            s.min,
            s.median,
            s.max
        ));
    }
    out.push_str(&format!(
        "total: {} request(s), {} failure(s) (at most {} allowed)\nverdict: {}{}\n",
        report.total_requests,
        report.total_failures,
        report.max_failures,
        if report.passed { "PASS" } else { "FAIL" },
        if report.reasons.is_empty() {
            String::new()
        } else {
            format!(" — {}", report.reasons.join("; "))
        }
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::status::PodFact;

    fn pod_fact(name: &str, role: &str, restarts: i32) -> PodFact {
        PodFact {
            name: name.into(),
            role: role.into(),
            node: None,
            ip: None,
            phase: "Running".into(),
            ready: true,
            restarts,
            uid: format!("uid-{name}"),
            gcs_ft_env: true,
        }
    }

    fn facts(pods: Vec<PodFact>) -> Facts {
        Facts {
            pods,
            ..Facts::default()
        }
    }

    fn slice(name: &str, ready: &[bool]) -> EndpointSlice {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": name},
            "addressType": "IPv4",
            "endpoints": ready.iter().enumerate().map(|(i, r)| serde_json::json!({
                "addresses": [format!("10.0.0.{i}")],
                "conditions": {"ready": r},
            })).collect::<Vec<_>>(),
        }))
        .unwrap()
    }

    fn pod(name: &str, labels: &[(&str, &str)], restarts: i32) -> Pod {
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

    #[test]
    fn the_start_of_a_slice_watch_is_not_zero_endpoints() {
        let (mut state, mut listing) = (BTreeMap::new(), None);
        assert_eq!(
            apply_slice_event(&mut state, &mut listing, watcher::Event::Init),
            None
        );
        let s = slice("svc-abc", &[true, true, false]);
        assert_eq!(
            apply_slice_event(&mut state, &mut listing, watcher::Event::InitApply(s)),
            None
        );
        assert_eq!(
            apply_slice_event(&mut state, &mut listing, watcher::Event::InitDone),
            Some(2)
        );
        let s = slice("svc-abc", &[true, true, true]);
        assert_eq!(
            apply_slice_event(&mut state, &mut listing, watcher::Event::Apply(s)),
            Some(3)
        );
        // A re-list replaces the state: a slice gone meanwhile does not linger.
        apply_slice_event(&mut state, &mut listing, watcher::Event::Init);
        let s = slice("svc-def", &[true]);
        apply_slice_event(&mut state, &mut listing, watcher::Event::InitApply(s));
        assert_eq!(
            apply_slice_event(&mut state, &mut listing, watcher::Event::InitDone),
            Some(1)
        );
    }

    #[test]
    fn the_redis_drill_follows_the_head_but_only_redis_replaces_redis() {
        let mut seen = Observed::default();
        seen.head_restarts.insert("rc-head-x".into(), 0);
        seen.worker_restarts.insert("rc-worker-a".into(), 0);
        let mut timeline = Vec::new();
        let head = [("ray.io/cluster", "rc"), ("ray.io/node-type", "head")];
        let redis = [
            ("app.kubernetes.io/name", "redis"),
            ("app.kubernetes.io/instance", "svc"),
        ];
        for (p, t) in [
            (pod("rc-head-x", &head, 0), 0.5),
            (pod("svc-redis-new", &redis, 0), 2.0),
            (pod("rc-head-x", &head, 1), 31.0),
        ] {
            observe_pod(
                &p,
                false,
                "svc-redis-old",
                "uid-svc-redis-old",
                None,
                &mut seen,
                t,
                &mut timeline,
            );
        }
        assert_eq!(seen.new_pod.as_ref().unwrap().0, "svc-redis-new");
        let events: Vec<&str> = timeline.iter().map(|e| e.event.as_str()).collect();
        assert!(!events.iter().any(|e| e.contains("new pod rc-head-x")));
        assert!(events.contains(&"head pod rc-head-x restarted a container (restarts 1)"));
    }

    #[test]
    fn losing_the_head_fails_a_redis_or_worker_drill() {
        let before = facts(vec![
            pod_fact("h", "head", 0),
            pod_fact("w1", "worker", 0),
            pod_fact("w2", "worker", 0),
        ]);
        let after = facts(vec![
            pod_fact("h", "head", 1),
            pod_fact("w1", "worker", 1),
            pod_fact("w2", "worker", 0),
        ]);
        let s = survival(&before, &after, FailoverTarget::Redis, "redis-x");
        let reasons = collateral(FailoverTarget::Redis, &before, &after, &s);
        assert!(reasons.iter().any(|r| r.contains("worker pods restarted")));
        assert!(
            reasons
                .iter()
                .any(|r| r.starts_with("head pod h restarted (restarts 0 -> 1)")),
            "{reasons:?}"
        );
        // The head target judges the head by recovery, not as collateral.
        let s = survival(&before, &after, FailoverTarget::Head, "h");
        assert!(
            !collateral(FailoverTarget::Head, &before, &after, &s)
                .iter()
                .any(|r| r.starts_with("head pod"))
        );
    }

    #[test]
    fn a_worker_drill_expects_only_the_victims_replicas_to_change() {
        let before = facts(vec![
            pod_fact("h", "head", 0),
            pod_fact("w1", "worker", 0),
            pod_fact("w2", "worker", 0),
        ]);
        let after = facts(vec![
            pod_fact("h", "head", 0),
            pod_fact("w2", "worker", 0),
            pod_fact("w3", "worker", 0),
        ]);
        let mut s = survival(&before, &after, FailoverTarget::Worker, "w1");
        s.replicas_before
            .insert("app/A".into(), vec!["a1".into(), "a2".into()]);
        s.replicas_after
            .insert("app/A".into(), vec!["a2".into(), "a3".into()]);
        assert_eq!(
            collateral(FailoverTarget::Worker, &before, &after, &s),
            Vec::<String>::new()
        );
        // Both replicas new: the survivor's replica was lost too.
        s.replicas_after
            .insert("app/A".into(), vec!["a3".into(), "a4".into()]);
        assert_eq!(
            collateral(FailoverTarget::Worker, &before, &after, &s).len(),
            1
        );
        // Not back to two replicas.
        s.replicas_after.insert("app/A".into(), vec!["a2".into()]);
        assert_eq!(
            collateral(FailoverTarget::Worker, &before, &after, &s).len(),
            1
        );
    }
}
