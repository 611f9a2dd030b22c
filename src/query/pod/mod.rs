//! The `pod` route, the guide's own way: a tester pod in the RayService's namespace runs the
//! one-in-flight loop (`templates/tester-query.py`, a fresh connection per request) against
//! `<name>-serve-svc`, prints one JSON line per request, and the plugin follows its log and feeds
//! each line into the same statistics as the other routes. The pod and its ConfigMap are deleted
//! afterwards: at the end, on an error and on Ctrl-C. `failover --via pod` runs the same tester
//! ([`TesterPod`]) for the length of each round, kept off the node the round takes down.
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::{ConfigMap, Pod};
use kube::api::{Api, DeleteParams, PostParams};
use serde_json::{Value, json};
use tokio::sync::mpsc;

use super::{Report, Setup};
use crate::cli::QueryArgs;
use crate::cluster::{self, Cluster, KubeContext, describe_kube_error};
use crate::error::{Error, Result};
use crate::load::{RequestSpec, Sample, Shape, StopHandle};
use crate::params::{DEFAULT_RAY_VERSION, EnvVar, SERVE_PORT, TesterParams};

mod log;

use log::follow;
pub use log::{PodSample, cause_of, is_done, parse_line};

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
    let tester = TesterPod::prepare(cluster, name, "query", request, shape, None).await?;
    setup.pod = Some(tester.name.clone());
    setup.note = Some(format!(
        "tester pod {} ({}) in namespace {}, its own latency measurement",
        tester.name, tester.image, cluster.namespace
    ));
    let result = create_and_follow(&tester, setup, args, &stop).await;
    let cleaned = tester.cleanup().await;
    ctrl_c.abort();
    if cleaned.is_ok() {
        eprintln!("deleted pod/{0} and configmap/{0}", tester.name);
    }
    let report = result?;
    cleaned?;
    Ok(report)
}

async fn create_and_follow(
    tester: &TesterPod<'_>,
    setup: Setup,
    args: &QueryArgs,
    stop: &StopHandle,
) -> Result<Report> {
    tester.create().await?;
    eprintln!("created pod/{}; waiting for it to run", tester.name);
    let (tx, rx) = mpsc::unbounded_channel();
    if !tester.wait_running(stop).await? {
        // Ctrl-C before the pod ran: an empty report.
        drop(tx);
        return Ok(super::collect(setup, rx, stop, args, Instant::now(), true).await);
    }
    let reader = tester.follow(tx, stop.clone());
    let report = super::collect(setup, rx, stop, args, Instant::now(), true).await;
    match reader.await {
        Ok(Ok(())) => Ok(report),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(Error::failed(format!(
            "internal: the log reader of pod/{} stopped: {e}",
            tester.name
        ))),
    }
}

/// A tester pod and its ConfigMap (both of one name) in the cluster's namespace: rendered by
/// [`TesterPod::prepare`], then created, waited for, followed and deleted. Whoever prepares one
/// calls [`TesterPod::cleanup`] however the run ends (it is a no-op for what was not created).
pub struct TesterPod<'c> {
    cluster: &'c Cluster,
    /// The pod's and the ConfigMap's name.
    pub name: String,
    /// The Ray image it runs (for its Python).
    pub image: String,
    configmap: ConfigMap,
    pod: Pod,
}

impl<'c> TesterPod<'c> {
    /// Renders the tester of rayservice `name` (its Ray image, its serve Service), named
    /// `<name>-rayha-<purpose>-<random>`; creates nothing. Its loop ends after `shape`'s count or
    /// duration, else runs until the pod is deleted. `avoid_node`: a node it must not run on
    /// (a required node affinity).
    pub async fn prepare(
        cluster: &'c Cluster,
        name: &str,
        purpose: &str,
        request: &RequestSpec,
        shape: &Shape,
        avoid_node: Option<&str>,
    ) -> Result<TesterPod<'c>> {
        let image = ray_image(cluster, name).await?;
        let pod_name = format!("{name}-rayha-{purpose}-{}", suffix());
        let (configmap, pod) = objects(
            &cluster.namespace,
            name,
            &pod_name,
            &image,
            request,
            shape,
            avoid_node,
        )?;
        Ok(TesterPod {
            cluster,
            name: pod_name,
            image,
            configmap,
            pod,
        })
    }

    fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.cluster.client.clone(), &self.cluster.namespace)
    }

    /// Creates the ConfigMap, then the pod.
    pub async fn create(&self) -> Result<()> {
        let ns = &self.cluster.namespace;
        let cms: Api<ConfigMap> = Api::namespaced(self.cluster.client.clone(), ns);
        cms.create(&PostParams::default(), &self.configmap)
            .await
            .context(format!("cannot create configmap/{} in {ns}", self.name))?;
        self.pods()
            .create(&PostParams::default(), &self.pod)
            .await
            .context(format!("cannot create pod/{} in {ns}", self.name))?;
        Ok(())
    }

    /// Waits until the pod runs (or already ran), at most `START_TIMEOUT`. False when `stop`
    /// came first; an error naming the pod's state and its last events when it cannot start.
    pub async fn wait_running(&self, stop: &StopHandle) -> Result<bool> {
        wait_running(self.cluster, &self.pods(), &self.name, stop).await
    }

    /// Follows the pod's log into `tx`, one sample per request, mapped onto this process's
    /// clock, until `stop` or the loop's last line; an error when the tester ends before it.
    pub fn follow(
        &self,
        tx: mpsc::UnboundedSender<Sample>,
        stop: StopHandle,
    ) -> tokio::task::JoinHandle<Result<()>> {
        tokio::spawn(follow(self.pods(), self.name.clone(), tx, stop))
    }

    /// Deletes the pod and its ConfigMap (what is not there is fine) and waits for the pod to
    /// be gone.
    pub async fn cleanup(&self) -> Result<()> {
        cleanup(self.cluster, &self.name).await
    }
}

/// The RayService's Ray image (the tester needs its Python), else the default one.
async fn ray_image(cluster: &Cluster, name: &str) -> Result<String> {
    let rs = crate::rayservice::get_value(cluster, name).await?;
    let image = rs["spec"]["rayClusterConfig"]["headGroupSpec"]["template"]["spec"]["containers"]
        [0]["image"]
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
    avoid_node: Option<&str>,
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
    let mut pod: Pod = serde_json::from_value(render("tester-pod.yaml.j2")?)
        .map_err(|e| Error::failed(format!("internal: tester pod: {e}")))?;
    if let Some(node) = avoid_node {
        keep_off(&mut pod, node);
    }
    Ok((configmap, pod))
}

/// A required node affinity that keeps the pod off `node`: by the node's name
/// (`matchFields: metadata.name`), which unlike the `kubernetes.io/hostname` label always is
/// the node's name.
fn keep_off(pod: &mut Pod, node: &str) {
    use k8s_openapi::api::core::v1::{
        Affinity, NodeAffinity, NodeSelector, NodeSelectorRequirement, NodeSelectorTerm,
    };
    let spec = pod.spec.get_or_insert_with(Default::default);
    spec.affinity = Some(Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_fields: Some(vec![NodeSelectorRequirement {
                        key: "metadata.name".into(),
                        operator: "NotIn".into(),
                        values: Some(vec![node.to_string()]),
                    }]),
                    match_expressions: None,
                }],
            }),
            preferred_during_scheduling_ignored_during_execution: None,
        }),
        ..Default::default()
    });
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
            None,
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
        // Placed wherever the scheduler likes unless told to avoid a node.
        assert!(pod["spec"]["affinity"].is_null());
    }

    #[test]
    fn a_drills_tester_stays_off_the_victims_node_and_runs_until_deleted() {
        let request = RequestSpec {
            method: "POST".into(),
            path: "/fruit/".into(),
            body: br#"["PEAR", 12]"#.to_vec(),
            headers: vec![],
            expect_status: None,
            expect_body: Some("12".into()),
            timeout: Duration::from_secs(5),
        };
        let shape = Shape {
            concurrency: 1,
            rate: None,
            count: None,
            duration: None,
        };
        let (_, pod) = objects(
            "ns1",
            "shop",
            "shop-rayha-failover-ab12c",
            "rayproject/ray:2.52.0",
            &request,
            &shape,
            Some("node-2"),
        )
        .unwrap();
        let pod = serde_json::to_value(&pod).unwrap();
        let terms = &pod["spec"]["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]
            ["nodeSelectorTerms"];
        assert_eq!(
            terms,
            &serde_json::json!([{"matchFields": [
                {"key": "metadata.name", "operator": "NotIn", "values": ["node-2"]}
            ]}])
        );
        // No count, no duration: the loop runs until the pod is deleted.
        let env: Vec<&str> = pod["spec"]["containers"][0]["env"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["name"].as_str().unwrap())
            .collect();
        assert!(!env.contains(&"RAYHA_COUNT") && !env.contains(&"RAYHA_DURATION"));
    }
}
