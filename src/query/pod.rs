//! The `pod` route, the guide's own way: a tester pod in the RayService's namespace runs the
//! one-in-flight loop (`templates/tester-query.py`, a fresh connection per request) against
//! `<name>-serve-svc`, prints one JSON line per request, and the plugin follows its log and feeds
//! each line into the same statistics as the other routes. The pod and its ConfigMap are deleted
//! afterwards: at the end, on an error and on Ctrl-C.

use std::collections::VecDeque;
use std::time::{Duration, Instant};

use futures::{AsyncBufRead, AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, DynamicObject, LogParams, PostParams};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{Report, Setup};
use crate::cli::QueryArgs;
use crate::cluster::{self, Cluster, KubeContext, describe_kube_error};
use crate::error::{Error, Result};
use crate::load::{Cause, RequestSpec, Sample, Shape, StopHandle};
use crate::params::{DEFAULT_RAY_VERSION, EnvVar, SERVE_PORT, TesterParams};

/// `app.kubernetes.io/component` of the query pods (and their ConfigMaps).
pub const COMPONENT: &str = "query";
/// How long the tester pod may take to start (scheduling, pulling the Ray image).
const START_TIMEOUT: Duration = Duration::from_secs(300);
/// How long to wait for the deleted pod to be gone.
const GONE_TIMEOUT: Duration = Duration::from_secs(60);
/// The container of the tester pod.
const CONTAINER: &str = "tester";
/// How often a followed log checks whether the tester's container has ended (some log streams
/// stay open after the container exits).
const EXIT_CHECK: Duration = Duration::from_secs(2);
/// How long a log that is not served yet is asked for again after the container started.
const LOG_START_GRACE: Duration = Duration::from_secs(15);

/// The in-cluster URL the tester pod queries.
pub fn service_url(name: &str, namespace: &str, path: &str) -> String {
    format!("http://{name}-serve-svc.{namespace}.svc.cluster.local:{SERVE_PORT}{path}")
}

/// Refuses what the tester's loop cannot do (one request in flight, fresh connections, text
/// bodies), naming the flag.
pub fn check_args(args: &QueryArgs, request: &RequestSpec) -> Result<()> {
    if let Some(n) = args.concurrency.filter(|&n| n != 1) {
        return Err(Error::usage(format!(
            "--concurrency {n} cannot be used with --via pod: the tester pod keeps one request in flight (use --via proxy or port-forward)"
        )));
    }
    if args.rate.is_some() {
        return Err(Error::usage(
            "--rate cannot be used with --via pod: the tester pod runs a closed loop, one request in flight",
        ));
    }
    if args.keep_alive == Some(true) {
        return Err(Error::usage(
            "--keep-alive cannot be used with --via pod: the tester pod opens a fresh connection per request, like the guide's query.py",
        ));
    }
    if std::str::from_utf8(&request.body).is_err() {
        return Err(Error::usage(
            "--data-file cannot be used with --via pod when it is not UTF-8 text: the body goes to the tester pod in its environment",
        ));
    }
    Ok(())
}

/// One line of the tester's log, parsed.
#[derive(Debug, Clone, PartialEq)]
pub struct PodSample {
    pub index: u64,
    /// Wall-clock send time in the pod (Unix seconds).
    pub t: f64,
    pub latency_ms: f64,
    pub outcome: std::result::Result<(), Cause>,
}

/// Parses one JSON line of the tester (`RAYHA_FORMAT=json`); anything else (a traceback, a cut
/// line, a number) is None.
pub fn parse_line(line: &str) -> Option<PodSample> {
    let line = line.trim();
    if !line.starts_with('{') {
        return None;
    }
    let v: Value = serde_json::from_str(line).ok()?;
    let index = v.get("req_index")?.as_u64()?;
    let t = v.get("t")?.as_f64().filter(|t| t.is_finite())?;
    let latency_ms = v
        .get("latency_ms")?
        .as_f64()
        .filter(|l| l.is_finite() && *l >= 0.0)?;
    let outcome = match v.get("error") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::String(e)) => Err(cause_of(e)),
        Some(_) => return None,
    };
    Some(PodSample {
        index,
        t,
        latency_ms,
        outcome,
    })
}

/// The tester's cause text (`connect: …`, `timeout`, `status 503`, `wrong body`, `io: …`,
/// `protocol: …`) as the engine's cause.
pub fn cause_of(error: &str) -> Cause {
    let (class, detail) = match error.split_once(':') {
        Some((c, d)) => (c.trim(), d.trim().to_string()),
        None => (error.trim(), String::new()),
    };
    match class {
        "timeout" => Cause::Timeout,
        "wrong body" => Cause::WrongBody,
        "connect" => Cause::Connect(detail),
        "io" => Cause::Io(detail),
        "protocol" => Cause::Protocol(detail),
        c => match c
            .strip_prefix("status ")
            .and_then(|s| s.trim().parse().ok())
        {
            Some(status) => Cause::Status(status),
            None => Cause::Io(error.trim().to_string()),
        },
    }
}

/// Maps the pod's clock onto ours: the first request finished when its line arrived.
#[derive(Debug, Clone, Copy)]
struct Anchor {
    t0: f64,
    at: Instant,
}

impl Anchor {
    fn at_first(s: &PodSample, arrived: Instant) -> Anchor {
        let latency = Duration::from_secs_f64(s.latency_ms / 1000.0);
        Anchor {
            t0: s.t,
            at: arrived.checked_sub(latency).unwrap_or(arrived),
        }
    }

    fn sample(&self, s: &PodSample) -> Sample {
        let offset = s.t - self.t0;
        let intended = if offset >= 0.0 {
            self.at + Duration::from_secs_f64(offset)
        } else {
            self.at
                .checked_sub(Duration::from_secs_f64(-offset))
                .unwrap_or(self.at)
        };
        Sample {
            index: s.index,
            intended,
            finished: intended + Duration::from_secs_f64(s.latency_ms / 1000.0),
            outcome: s.outcome.clone(),
        }
    }
}

/// Runs the route: creates the pod, follows its log into the report, deletes the pod.
pub async fn run(
    cluster: &Cluster,
    name: &str,
    request: &RequestSpec,
    shape: &Shape,
    mut setup: Setup,
    args: &QueryArgs,
) -> Result<Report> {
    let stop = StopHandle::default();
    let ctrl_c = stop.stop_on_ctrl_c();
    let image = ray_image(cluster, name).await?;
    let pod_name = format!("{name}-rayha-query-{}", suffix());
    setup.pod = Some(pod_name.clone());
    setup.note = Some(format!(
        "tester pod {pod_name} ({image}) in namespace {}, its own latency measurement",
        cluster.namespace
    ));
    let (configmap, pod) = objects(&cluster.namespace, name, &pod_name, &image, request, shape)?;
    let result = create_and_follow(cluster, &pod_name, configmap, pod, setup, args, &stop).await;
    let cleaned = cleanup(cluster, &pod_name).await;
    ctrl_c.abort();
    let report = result?;
    cleaned?;
    Ok(report)
}

async fn create_and_follow(
    cluster: &Cluster,
    pod_name: &str,
    configmap: ConfigMap,
    pod: Pod,
    setup: Setup,
    args: &QueryArgs,
    stop: &StopHandle,
) -> Result<Report> {
    let ns = &cluster.namespace;
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), ns);
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), ns);
    cms.create(&PostParams::default(), &configmap)
        .await
        .context(format!("cannot create configmap/{pod_name} in {ns}"))?;
    pods.create(&PostParams::default(), &pod)
        .await
        .context(format!("cannot create pod/{pod_name} in {ns}"))?;
    eprintln!("created pod/{pod_name}; waiting for it to run");
    let (tx, rx) = mpsc::unbounded_channel();
    if !wait_running(cluster, &pods, pod_name, stop).await? {
        // Ctrl-C before the pod ran: an empty report.
        drop(tx);
        return Ok(super::collect(setup, rx, stop, args, Instant::now(), true).await);
    }
    let reader = tokio::spawn(follow(pods.clone(), pod_name.to_string(), tx, stop.clone()));
    let report = super::collect(setup, rx, stop, args, Instant::now(), true).await;
    match reader.await {
        Ok(Ok(())) => Ok(report),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(Error::failed(format!(
            "internal: the log reader of pod/{pod_name} stopped: {e}"
        ))),
    }
}

/// The RayService's Ray image (the tester needs its Python), else the default one.
async fn ray_image(cluster: &Cluster, name: &str) -> Result<String> {
    let api: Api<DynamicObject> = Api::namespaced_with(
        cluster.client.clone(),
        &cluster.namespace,
        &cluster::rayservice_resource(),
    );
    let rs = api
        .get_opt(name)
        .await
        .context(format!("cannot read rayservice/{name}"))?;
    let rs = rs.ok_or_else(|| {
        Error::failed(format!(
            "rayservice/{name} not found in namespace {}",
            cluster.namespace
        ))
    })?;
    let image = rs.data["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]
        ["containers"][0]["image"]
        .as_str()
        .filter(|i| !i.is_empty())
        .map(str::to_string);
    Ok(image.unwrap_or_else(|| format!("rayproject/ray:{DEFAULT_RAY_VERSION}")))
}

/// Five random lowercase letters and digits, for a unique pod name.
fn suffix() -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..5)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// The ConfigMap (the loop's script) and the pod, from the generator's tester templates.
fn objects(
    namespace: &str,
    name: &str,
    pod_name: &str,
    image: &str,
    request: &RequestSpec,
    shape: &Shape,
) -> Result<(ConfigMap, Pod)> {
    let env = |n: &str, v: String| EnvVar {
        name: n.into(),
        value: v,
    };
    let mut extra = vec![
        env("RAYHA_FORMAT", "json".into()),
        env(
            "RAYHA_TIMEOUT",
            format!("{}", request.timeout.as_secs_f64()),
        ),
    ];
    if let Some(c) = shape.count {
        extra.push(env("RAYHA_COUNT", c.to_string()));
    }
    if let Some(d) = shape.duration {
        extra.push(env("RAYHA_DURATION", format!("{}", d.as_secs_f64())));
    }
    if let Some(s) = request.expect_status {
        extra.push(env("RAYHA_EXPECT_STATUS", s.to_string()));
    }
    if !request.headers.is_empty() {
        extra.push(env(
            "RAYHA_HEADERS",
            serde_json::to_string(&request.headers).expect("headers serialise"),
        ));
    }
    let tester = TesterParams {
        name: pod_name.to_string(),
        component: COMPONENT.into(),
        restart_policy: "Never".into(),
        url: service_url(name, namespace, &request.path),
        method: request.method.clone(),
        data: String::from_utf8_lossy(&request.body).into_owned(),
        expect: request.expect_body.as_ref().map(|b| b.trim().to_string()),
        env: extra,
    };
    let p = json!({
        "name": name,
        "namespace": namespace,
        "image": image,
        "tester": tester,
    });
    let render = |template: &str| -> Result<Value> {
        let text = crate::templates::render(
            template,
            minijinja::context! { p => &p, tester_script => crate::templates::TESTER_SCRIPT },
        )?;
        crate::yaml::parse_documents(&text)
            .ok()
            .and_then(|mut d| d.pop())
            .ok_or_else(|| Error::failed(format!("internal: template {template} is not YAML")))
    };
    let configmap: ConfigMap = serde_json::from_value(render("tester-configmap.yaml.j2")?)
        .map_err(|e| Error::failed(format!("internal: tester ConfigMap: {e}")))?;
    let pod: Pod = serde_json::from_value(render("tester-pod.yaml.j2")?)
        .map_err(|e| Error::failed(format!("internal: tester pod: {e}")))?;
    Ok((configmap, pod))
}

/// Waits until the pod runs (or already ran). False when Ctrl-C came first; an error naming the
/// pod's state and its last events when it cannot start.
async fn wait_running(
    cluster: &Cluster,
    pods: &Api<Pod>,
    pod_name: &str,
    stop: &StopHandle,
) -> Result<bool> {
    let deadline = Instant::now() + START_TIMEOUT;
    loop {
        if stop.stopped() {
            return Ok(false);
        }
        let pod = pods
            .get_opt(pod_name)
            .await
            .context(format!("cannot read pod/{pod_name}"))?;
        let pod = pod.ok_or_else(|| {
            Error::failed(format!(
                "pod/{pod_name} disappeared before it ran (deleted by someone else?)"
            ))
        })?;
        let phase = pod
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Pending".into());
        if matches!(phase.as_str(), "Running" | "Succeeded" | "Failed") {
            return Ok(true);
        }
        let waiting = waiting_reason(&pod);
        let stuck = waiting.as_ref().is_some_and(|(reason, _)| {
            matches!(
                reason.as_str(),
                "ErrImagePull"
                    | "ImagePullBackOff"
                    | "InvalidImageName"
                    | "CreateContainerConfigError"
                    | "CreateContainerError"
            )
        });
        if stuck || Instant::now() >= deadline {
            let state = match &waiting {
                Some((r, m)) if m.is_empty() => format!("phase {phase}, waiting: {r}"),
                Some((r, m)) => format!("phase {phase}, waiting: {r} ({m})"),
                None => format!("phase {phase}"),
            };
            let events = cluster::last_events(cluster, &cluster.namespace, &[pod_name], 3).await;
            let why = if stuck {
                "cannot start".to_string()
            } else {
                format!("did not run within {} s", START_TIMEOUT.as_secs())
            };
            return Err(Error::failed(format!(
                "tester pod/{pod_name} {why}: {state}; last events: {}",
                if events.is_empty() {
                    "none".to_string()
                } else {
                    events.join("; ")
                }
            )));
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

fn waiting_reason(pod: &Pod) -> Option<(String, String)> {
    let statuses = pod.status.as_ref()?.container_statuses.as_ref()?;
    let w = statuses
        .iter()
        .find_map(|c| c.state.as_ref()?.waiting.as_ref())?;
    Some((
        w.reason.clone().unwrap_or_default(),
        w.message.clone().unwrap_or_default(),
    ))
}

/// Whether the line is the tester's last (`{"done": true, …}`, after --count or --duration).
pub fn is_done(line: &str) -> bool {
    let line = line.trim();
    line.starts_with('{')
        && serde_json::from_str::<Value>(line)
            .is_ok_and(|v| v.get("done") == Some(&Value::Bool(true)))
}

/// Lines of the tester into samples for the report.
struct Feed {
    tx: mpsc::UnboundedSender<Sample>,
    next_index: u64,
    anchor: Option<Anchor>,
    /// The last lines that were not results: a traceback explains an early exit.
    other: VecDeque<String>,
}

enum Flow {
    More,
    /// The loop's last line, or nobody reads the samples any more.
    End,
}

impl Feed {
    fn line(&mut self, line: &str) -> Flow {
        match parse_line(line) {
            // Seen already (a log opened again).
            Some(s) if s.index < self.next_index => Flow::More,
            Some(s) => {
                self.next_index = s.index + 1;
                let a = *self
                    .anchor
                    .get_or_insert_with(|| Anchor::at_first(&s, Instant::now()));
                if self.tx.send(a.sample(&s)).is_err() {
                    Flow::End
                } else {
                    Flow::More
                }
            }
            None if is_done(line) => Flow::End,
            None if !line.trim().is_empty() => {
                if self.other.len() == 5 {
                    self.other.pop_front();
                }
                self.other.push_back(line.trim().to_string());
                Flow::More
            }
            None => Flow::More,
        }
    }
}

/// Follows the pod's log into samples until its loop ends or `stop`; a broken stream while the
/// pod still runs is opened again (requests already seen are skipped by index). A container that
/// ended without the loop's last line is an error, also when its log stream stays open.
async fn follow(
    pods: Api<Pod>,
    pod_name: String,
    tx: mpsc::UnboundedSender<Sample>,
    stop: StopHandle,
) -> Result<()> {
    let mut feed = Feed {
        tx,
        next_index: 0,
        anchor: None,
        other: VecDeque::new(),
    };
    let mut reopened = 0;
    loop {
        let params = LogParams {
            container: Some(CONTAINER.into()),
            follow: true,
            ..Default::default()
        };
        let reader = match open_log(&pods, &pod_name, &params, &stop).await? {
            Some(reader) => reader,
            None => return Ok(()), // Ctrl-C while waiting for the log
        };
        let mut lines = reader.lines();
        let mut poll = tokio::time::interval(Duration::from_millis(200));
        let mut next_exit_check = Instant::now() + EXIT_CHECK;
        // Once the container is seen ended, its last lines get one more check period.
        let mut seen_ended = false;
        loop {
            tokio::select! {
                line = lines.next() => match line {
                    Some(Ok(line)) => {
                        if let Flow::End = feed.line(&line) {
                            return Ok(());
                        }
                    }
                    Some(Err(_)) | None => break,
                },
                _ = poll.tick() => {
                    if stop.stopped() {
                        return Ok(());
                    }
                    if Instant::now() >= next_exit_check {
                        next_exit_check = Instant::now() + EXIT_CHECK;
                        let check = ended_early(&pods, &pod_name, &feed).await;
                        if seen_ended {
                            check?;
                        } else {
                            seen_ended = check.is_err();
                        }
                    }
                }
            }
        }
        if stop.stopped() {
            return Ok(());
        }
        // The stream ended before the loop's last line: it failed, or the stream broke.
        ended_early(&pods, &pod_name, &feed).await?;
        if reopened == 5 {
            return Err(Error::failed(format!(
                "the log of pod/{pod_name} kept breaking off ({reopened} times)"
            )));
        }
        reopened += 1;
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

/// Opens the tester's log stream. Right after the container started its log may not be
/// served yet (the API server answers 400): that is retried for `LOG_START_GRACE`. `None` on
/// Ctrl-C meanwhile.
async fn open_log(
    pods: &Api<Pod>,
    pod_name: &str,
    params: &LogParams,
    stop: &StopHandle,
) -> Result<Option<impl AsyncBufRead + use<>>> {
    let first_try = Instant::now();
    loop {
        match pods.log_stream(pod_name, params).await {
            Ok(reader) => return Ok(Some(reader)),
            Err(kube::Error::Api(s)) if s.code == 400 && first_try.elapsed() < LOG_START_GRACE => {
                if stop.stopped() {
                    return Ok(None);
                }
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => {
                return Err(cluster::kube_failure(
                    format!(
                        "cannot follow the log of pod/{pod_name} (--via pod reads the tester's results from it, as `kubectl logs -f` does)"
                    ),
                    &e,
                ));
            }
        }
    }
}

/// An error when the tester's container has ended (or the pod is gone); Ok while it runs.
async fn ended_early(pods: &Api<Pod>, pod_name: &str, feed: &Feed) -> Result<()> {
    let pod = pods.get_opt(pod_name).await.ok().flatten();
    let terminated = pod
        .as_ref()
        .and_then(|p| {
            p.status
                .as_ref()?
                .container_statuses
                .as_ref()?
                .first()
                .cloned()
        })
        .and_then(|c| c.state?.terminated);
    match (pod, terminated) {
        (_, Some(t)) => Err(Error::failed(format!(
            "tester pod/{pod_name} exited with code {} before its loop ended{}",
            t.exit_code,
            feed.other
                .back()
                .map(|l| format!(": {l}"))
                .unwrap_or_default()
        ))),
        (None, None) => Err(Error::failed(format!(
            "tester pod/{pod_name} was deleted while it ran"
        ))),
        (Some(_), None) => Ok(()),
    }
}

/// Deletes the pod and its ConfigMap and waits for the pod to be gone.
async fn cleanup(cluster: &Cluster, pod_name: &str) -> Result<()> {
    let ns = &cluster.namespace;
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), ns);
    let cms: Api<ConfigMap> = Api::namespaced(cluster.client.clone(), ns);
    // The loop keeps no state: one second is plenty (its script exits on SIGTERM).
    let params = DeleteParams {
        grace_period_seconds: Some(1),
        ..Default::default()
    };
    let mut problems = Vec::new();
    let gone = |e: &kube::Error| matches!(e, kube::Error::Api(s) if s.code == 404);
    if let Err(e) = pods.delete(pod_name, &params).await
        && !gone(&e)
    {
        problems.push(format!("pod/{pod_name}: {}", describe_kube_error(&e)));
    }
    if let Err(e) = cms.delete(pod_name, &DeleteParams::default()).await
        && !gone(&e)
    {
        problems.push(format!("configmap/{pod_name}: {}", describe_kube_error(&e)));
    }
    if problems.is_empty() {
        let deadline = Instant::now() + GONE_TIMEOUT;
        loop {
            match pods.get_opt(pod_name).await {
                Ok(None) => break,
                _ if Instant::now() >= deadline => {
                    problems.push(format!(
                        "pod/{pod_name} still there {} s after its deletion",
                        GONE_TIMEOUT.as_secs()
                    ));
                    break;
                }
                _ => tokio::time::sleep(Duration::from_millis(250)).await,
            }
        }
    }
    if problems.is_empty() {
        eprintln!("deleted pod/{pod_name} and configmap/{pod_name}");
        Ok(())
    } else {
        Err(Error::failed(format!(
            "cannot clean up the tester in {ns} (remove it with `kubectl delete pod,configmap -l app.kubernetes.io/component={COMPONENT} -n {ns}`): {}",
            problems.join("; ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn success_lines() {
        let s = parse_line(r#"{"req_index": 3, "num_fail": 0, "t": 1700000000.25, "latency_ms": 12.5, "status": 200, "error": null, "body": "12"}"#).unwrap();
        assert_eq!(s.index, 3);
        assert_eq!(s.latency_ms, 12.5);
        assert_eq!(s.outcome, Ok(()));
        // A line without the error key succeeded too.
        let s = parse_line(r#"{"req_index": 0, "t": 1.0, "latency_ms": 0}"#).unwrap();
        assert_eq!(s.outcome, Ok(()));
    }

    #[test]
    fn failure_lines_keep_their_cause() {
        let cause = |e: &str| {
            parse_line(&format!(
                r#"{{"req_index": 1, "t": 2.0, "latency_ms": 3.0, "error": {}}}"#,
                serde_json::to_string(e).unwrap()
            ))
            .unwrap()
            .outcome
            .unwrap_err()
        };
        assert_eq!(cause("timeout"), Cause::Timeout);
        assert_eq!(cause("status 503"), Cause::Status(503));
        assert_eq!(cause("wrong body"), Cause::WrongBody);
        assert_eq!(
            cause("connect: Connection refused"),
            Cause::Connect("Connection refused".into())
        );
        assert_eq!(
            cause("io: connection closed before a reply"),
            Cause::Io("connection closed before a reply".into())
        );
        assert_eq!(
            cause("protocol: BadStatusLine"),
            Cause::Protocol("BadStatusLine".into())
        );
        assert_eq!(cause("something else"), Cause::Io("something else".into()));
        assert_eq!(cause("status x"), Cause::Io("status x".into()));
        assert_eq!(cause("status 503").class(), "http_status");
    }

    #[test]
    fn garbage_and_partial_lines_are_not_samples() {
        for line in [
            "",
            "Traceback (most recent call last):",
            "req_index : 0, num_fail: 0",
            "response: 12",
            r#"{"req_index": 3, "t": 1.0, "latency_"#,
            r#"{"req_index": -1, "t": 1.0, "latency_ms": 1}"#,
            r#"{"req_index": 1, "t": "soon", "latency_ms": 1}"#,
            r#"{"req_index": 1, "t": 1.0, "latency_ms": -5}"#,
            r#"{"req_index": 1, "t": 1.0}"#,
            r#"{"t": 1.0, "latency_ms": 1}"#,
            r#"{"req_index": 1, "t": 1.0, "latency_ms": 1, "error": 7}"#,
            "[1, 2]",
            "12",
            r#"{"done": true, "requests": 500, "num_fail": 0}"#,
        ] {
            assert_eq!(parse_line(line), None, "{line:?}");
        }
    }

    #[test]
    fn the_last_line_ends_the_loop() {
        assert!(is_done(r#"{"done": true, "requests": 500, "num_fail": 0}"#));
        for line in [
            r#"{"done": false}"#,
            r#"{"req_index": 1, "t": 1.0, "latency_ms": 1}"#,
            r#"{"done": tr"#,
            "done",
        ] {
            assert!(!is_done(line), "{line:?}");
        }
        // The feed passes samples on, skips what it saw, keeps other lines, stops at the end.
        let (tx, mut rx) = mpsc::unbounded_channel();
        let mut feed = Feed {
            tx,
            next_index: 0,
            anchor: None,
            other: VecDeque::new(),
        };
        let lines = [
            r#"{"req_index": 0, "t": 1.0, "latency_ms": 1, "error": null}"#,
            "Traceback (most recent call last):",
            r#"{"req_index": 1, "t": 1.1, "latency_ms": 1, "error": "status 503"}"#,
            r#"{"req_index": 0, "t": 1.0, "latency_ms": 1, "error": null}"#,
            r#"{"req_index": 2, "t": 1.2, "latency_"#,
        ];
        for l in lines {
            assert!(matches!(feed.line(l), Flow::More), "{l}");
        }
        assert!(matches!(
            feed.line(r#"{"done": true, "requests": 2, "num_fail": 1}"#),
            Flow::End
        ));
        let got: Vec<(u64, bool)> = std::iter::from_fn(|| rx.try_recv().ok())
            .map(|s| (s.index, s.outcome.is_ok()))
            .collect();
        assert_eq!(got, vec![(0, true), (1, false)]);
        assert_eq!(feed.other.len(), 2);
        assert_eq!(feed.next_index, 2);
    }

    #[test]
    fn the_pods_clock_maps_onto_ours() {
        let first = parse_line(r#"{"req_index": 0, "t": 100.0, "latency_ms": 10}"#).unwrap();
        let arrived = Instant::now();
        let a = Anchor::at_first(&first, arrived);
        let s0 = a.sample(&first);
        assert_eq!(s0.finished, arrived);
        assert_eq!(s0.latency(), Duration::from_millis(10));
        let later = parse_line(r#"{"req_index": 1, "t": 100.5, "latency_ms": 20}"#).unwrap();
        let s1 = a.sample(&later);
        assert_eq!(
            s1.intended.duration_since(s0.intended),
            Duration::from_millis(500)
        );
        assert_eq!(s1.latency(), Duration::from_millis(20));
    }

    #[test]
    fn the_tester_pod_comes_from_the_generators_templates() {
        let request = RequestSpec {
            method: "POST".into(),
            path: "/fruit/".into(),
            body: br#"["PEAR", 12]"#.to_vec(),
            headers: vec![("X-Trace".into(), "1".into())],
            expect_status: None,
            expect_body: Some("12".into()),
            timeout: Duration::from_millis(2500),
        };
        let shape = Shape {
            concurrency: 1,
            rate: None,
            count: Some(500),
            duration: None,
        };
        let (cm, pod) = objects(
            "ns1",
            "shop",
            "shop-rayha-query-ab12c",
            "rayproject/ray:2.52.0",
            &request,
            &shape,
        )
        .unwrap();
        let pod = serde_json::to_value(&pod).unwrap();
        let cm = serde_json::to_value(&cm).unwrap();
        for o in [&pod, &cm] {
            assert_eq!(o["metadata"]["name"], "shop-rayha-query-ab12c");
            assert_eq!(o["metadata"]["namespace"], "ns1");
            let labels = &o["metadata"]["labels"];
            assert_eq!(labels["app.kubernetes.io/component"], COMPONENT);
            assert_eq!(labels["app.kubernetes.io/instance"], "shop");
            assert_eq!(labels["app.kubernetes.io/managed-by"], "kubectl-rayha");
            assert!(o["metadata"]["ownerReferences"].is_null());
        }
        assert!(
            cm["data"]["query.py"]
                .as_str()
                .unwrap()
                .contains("RAYHA_FORMAT")
        );
        assert_eq!(pod["spec"]["restartPolicy"], "Never");
        assert_eq!(pod["spec"]["containers"][0]["name"], CONTAINER);
        assert_eq!(
            pod["spec"]["containers"][0]["image"],
            "rayproject/ray:2.52.0"
        );
        let env: std::collections::BTreeMap<String, String> = pod["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| {
                (
                    e["name"].as_str().unwrap().to_string(),
                    e["value"].as_str().unwrap().to_string(),
                )
            })
            .collect();
        assert_eq!(
            env["RAYHA_URL"],
            "http://shop-serve-svc.ns1.svc.cluster.local:8000/fruit/"
        );
        assert_eq!(env["RAYHA_DATA"], r#"["PEAR", 12]"#);
        assert_eq!(env["RAYHA_EXPECT"], "12");
        assert_eq!(env["RAYHA_FORMAT"], "json");
        assert_eq!(env["RAYHA_COUNT"], "500");
        assert_eq!(env["RAYHA_TIMEOUT"], "2.5");
        assert_eq!(env["RAYHA_HEADERS"], r#"[["X-Trace","1"]]"#);
        assert!(!env.contains_key("RAYHA_DURATION"));
        assert!(!env.contains_key("RAYHA_RESULTS_PORT"));
    }
}
