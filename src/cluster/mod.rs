//! Reaching a cluster the way kubectl does: `--kubeconfig`, else `$KUBECONFIG` (merged paths),
//! else `~/.kube/config`, else the in-cluster service account; `--context`; `-n`, else the
//! context's namespace. Plus the small API helpers the commands share.

pub mod capacity;
mod deadline;
pub mod drain;

use std::time::Duration;

use kube::api::{Api, DynamicObject};
use kube::config::{KubeConfigOptions, Kubeconfig, KubeconfigError};
use kube::core::GroupVersionKind;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use kube::{Client, Config};
use serde_json::Value;

use crate::cli::GlobalArgs;
use crate::error::{Error, Result};

/// How long connecting may take before we name the server and give up.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// `--request-timeout` when not given: long enough for a busy API server, short enough that a
/// stalled one ends the command.
pub const DEFAULT_REQUEST_TIMEOUT: &str = "30s";

/// A client with the namespace the command works in.
#[derive(Clone)]
pub struct Cluster {
    pub client: Client,
    pub namespace: String,
    /// The API server URL, for messages.
    pub server: String,
    /// What the client was built from, for another client of other habits.
    config: Config,
    limit: Option<Duration>,
}

impl Cluster {
    /// A client that hands a 429 back at once: kube's client retries it (with the server's
    /// Retry-After) by default, but a drain must see a disruption budget's refusal, say so, and
    /// decide itself when to try again.
    pub async fn client_without_retries(&self) -> Result<Client> {
        let mut config = self.config.clone();
        config.default_retry = false;
        build_client(config, self.limit, &self.server).await
    }
}

/// Builds the client config from the flags, naming the source on failure.
pub async fn config(global: &GlobalArgs) -> Result<Config> {
    let options = KubeConfigOptions {
        context: global.context.clone(),
        cluster: None,
        user: None,
    };
    let context_hint = || {
        global
            .context
            .as_deref()
            .map(|c| format!(" (context {c:?})"))
            .unwrap_or_default()
    };
    if let Some(path) = &global.kubeconfig {
        let kc = Kubeconfig::read_from(path).map_err(|e| {
            Error::failed(format!(
                "--kubeconfig {}: {}",
                path.display(),
                kubeconfig_error(&e)
            ))
        })?;
        return Config::from_custom_kubeconfig(kc, &options)
            .await
            .map_err(|e| {
                Error::failed(format!(
                    "--kubeconfig {}{}: {}",
                    path.display(),
                    context_hint(),
                    kubeconfig_error(&e)
                ))
            });
    }
    let has_file = std::env::var_os("KUBECONFIG").is_some_and(|v| !v.is_empty())
        || home_kubeconfig().is_some_and(|p| p.exists());
    if has_file {
        return Config::from_kubeconfig(&options).await.map_err(|e| {
            Error::failed(format!(
                "kubeconfig{}: {}",
                context_hint(),
                kubeconfig_error(&e)
            ))
        });
    }
    if global.context.is_some() {
        return Err(Error::failed(format!(
            "no kubeconfig found for --context {:?} ($KUBECONFIG unset, no ~/.kube/config)",
            global.context.as_deref().unwrap_or_default()
        )));
    }
    Config::incluster().map_err(|_| {
        Error::failed("no cluster configured: no --kubeconfig, $KUBECONFIG or ~/.kube/config, and not running in a pod")
    })
}

/// A kubeconfig that cannot be read or used, without quoting it: its lines hold tokens and keys.
fn kubeconfig_error(e: &KubeconfigError) -> String {
    match e {
        KubeconfigError::Parse(yaml) => {
            format!(
                "failed to parse kubeconfig YAML: {}",
                crate::redact::yaml_error(yaml)
            )
        }
        other => one_line(other),
    }
}

fn home_kubeconfig() -> Option<std::path::PathBuf> {
    std::env::var_os("HOME").map(|h| std::path::Path::new(&h).join(".kube/config"))
}

fn one_line(e: &dyn std::fmt::Display) -> String {
    e.to_string()
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// API requests sent so far by this process (`RAYHA_API_COUNT=1` prints it at exit).
static API_REQUESTS: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn count_request<B>(request: http::Request<B>) -> http::Request<B> {
    API_REQUESTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    request
}

/// How many API requests this process has sent.
pub fn api_requests() -> usize {
    API_REQUESTS.load(std::sync::atomic::Ordering::Relaxed)
}

/// Connects and checks that the API server answers. Every request then has `--request-timeout`
/// as its deadline, and so has building the client (it runs the exec credential plugin).
pub async fn connect(global: &GlobalArgs) -> Result<Cluster> {
    let limit = crate::flags::request_timeout(
        global
            .request_timeout
            .as_deref()
            .unwrap_or(DEFAULT_REQUEST_TIMEOUT),
    )?;
    let mut config = config(global).await?;
    // A kubeconfig may put credentials in the URL: messages show it with the password as ***.
    let server = crate::redact::url(&config.cluster_url.to_string());
    config.connect_timeout = Some(CONNECT_TIMEOUT);
    // No read timeout: watches stay quiet for minutes; the deadline layer bounds the rest.
    config.read_timeout = None;
    let namespace = global
        .namespace
        .clone()
        .unwrap_or_else(|| config.default_namespace.clone());
    crate::validate::namespace(&namespace)?;
    let client = build_client(config.clone(), limit, &server).await?;
    match tokio::time::timeout(CONNECT_TIMEOUT, client.apiserver_version()).await {
        Ok(Ok(_)) => {}
        Ok(Err(e)) => {
            return Err(kube_failure(
                format!("cannot reach the cluster at {server}"),
                &e,
            ));
        }
        Err(_) => {
            return Err(Error::failed(format!(
                "cannot reach the cluster at {server}: {}",
                connect_timed_out()
            )));
        }
    }
    Ok(Cluster {
        client,
        namespace,
        server,
        config,
        limit,
    })
}

/// A client for `config` that counts its requests and gives each `limit` to answer.
async fn build_client(config: Config, limit: Option<Duration>, server: &str) -> Result<Client> {
    let builder = client_builder(config, limit)
        .await
        .map_err(|e| Error::failed(format!("cannot set up a client for {server}: {e}")))?
        .with_layer(&tower::util::MapRequestLayer::new(count_request));
    Ok(match limit {
        Some(limit) => builder
            .with_layer(&deadline::DeadlineLayer { limit })
            .build(),
        None => builder.build(),
    })
}

/// kube's default service stack (its `GenericService`, which it does not export).
type KubeService = tower::util::BoxService<
    http::Request<kube::client::Body>,
    http::Response<Box<kube::client::DynBody>>,
    tower::BoxError,
>;

/// kube's client stack for `config`. Building it runs the exec credential plugin, a blocking
/// call kube makes in place: it runs on its own thread so that a plugin that never returns ends
/// the command at the deadline (the thread is left behind; the process exits).
async fn client_builder(
    config: Config,
    limit: Option<Duration>,
) -> std::result::Result<kube::client::ClientBuilder<KubeService>, String> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let runtime = tokio::runtime::Handle::current();
    std::thread::Builder::new()
        .name("kube-client-setup".into())
        .spawn(move || {
            let _entered = runtime.enter();
            let _ = tx.send(kube::client::ClientBuilder::try_from(config));
        })
        .map_err(|e| format!("cannot start a thread: {e}"))?;
    let built = match limit {
        Some(limit) => tokio::time::timeout(limit, rx).await.map_err(|_| {
            format!(
                "the exec credential plugin gave no answer within {} (--request-timeout)",
                crate::flags::show_duration(limit)
            )
        })?,
        None => rx.await,
    };
    built
        .map_err(|_| "the client setup ended without an answer".to_string())?
        .map_err(|e| describe_kube_error(&e))
}

/// The innermost cause of a client error, which is what the user can act on.
pub fn describe_kube_error(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => return format!("{} ({})", status.message, status.code),
        kube::Error::Auth(auth) => return auth_error(auth),
        kube::Error::InferKubeconfig(k) => return kubeconfig_error(k),
        _ => {}
    }
    let mut msg = one_line(e);
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        if is_elapsed(s) {
            return connect_timed_out();
        }
        msg = one_line(&s);
        source = s.source();
    }
    msg
}

/// The connect timeout (TCP and TLS) ends as tokio's bare "deadline has elapsed", inside an I/O
/// error or not.
fn is_elapsed(e: &(dyn std::error::Error + 'static)) -> bool {
    let inner = e
        .downcast_ref::<std::io::Error>()
        .and_then(|io| io.get_ref())
        .map(|inner| inner as &(dyn std::error::Error + 'static));
    e.is::<tokio::time::error::Elapsed>()
        || inner.is_some_and(|i| i.is::<tokio::time::error::Elapsed>())
}

/// The words for a server that took no connection or TLS handshake within `CONNECT_TIMEOUT`,
/// the same whether it speaks TLS or not.
fn connect_timed_out() -> String {
    format!("no answer within {} s", CONNECT_TIMEOUT.as_secs())
}

/// An exec credential plugin's failure without its output (which holds the credential when the
/// plugin printed one before failing) or its command line (which may hold a secret).
fn auth_error(e: &kube::client::AuthError) -> String {
    use kube::client::AuthError;
    match e {
        AuthError::AuthExecRun { out, .. } => format!(
            "the exec credential plugin failed ({}); its output is not shown as it may hold credentials",
            out.status
        ),
        AuthError::AuthExecParse(_) => {
            "the exec credential plugin's output is not an ExecCredential (not shown: it may hold credentials)".to_string()
        }
        other => one_line(other),
    }
}

/// A failed API call as one error: what was being done, then the innermost cause.
pub fn kube_failure(doing: impl std::fmt::Display, e: &kube::Error) -> Error {
    Error::failed(format!("{doing}: {}", describe_kube_error(e)))
}

/// `.context("cannot read pod x")?` on a client result: the error says what was being done.
pub trait KubeContext<T> {
    fn context(self, doing: impl std::fmt::Display) -> Result<T>;
}

impl<T> KubeContext<T> for std::result::Result<T, kube::Error> {
    fn context(self, doing: impl std::fmt::Display) -> Result<T> {
        self.map_err(|e| kube_failure(doing, &e))
    }
}

/// The newest `n` events about the named objects in `namespace`, oldest first, as
/// `Kind Reason: message`.
pub async fn last_events(
    cluster: &Cluster,
    namespace: &str,
    objects: &[&str],
    n: usize,
) -> Vec<String> {
    use k8s_openapi::api::core::v1::Event;
    let api: Api<Event> = Api::namespaced(cluster.client.clone(), namespace);
    let mut events: Vec<Event> = Vec::new();
    for object in objects {
        let params =
            kube::api::ListParams::default().fields(&format!("involvedObject.name={object}"));
        match api.list(&params).await {
            Ok(list) => events.extend(list.items),
            Err(e) => return vec![format!("cannot list events: {}", describe_kube_error(&e))],
        }
    }
    events.sort_by_key(|e| {
        e.last_timestamp
            .as_ref()
            .map(|t| t.0)
            .or(e.event_time.as_ref().map(|t| t.0))
    });
    let skip = events.len().saturating_sub(n);
    events[skip..]
        .iter()
        .map(|e| {
            format!(
                "{} {}: {}",
                e.involved_object.kind.as_deref().unwrap_or(""),
                e.reason.as_deref().unwrap_or(""),
                e.message.as_deref().unwrap_or("").trim()
            )
        })
        .collect()
}

/// The API resource of an object's apiVersion and kind, found by discovery.
pub async fn resource_for(
    client: &Client,
    object: &Value,
) -> Result<(ApiResource, ApiCapabilities)> {
    let api_version = object["apiVersion"].as_str().unwrap_or_default();
    let kind = object["kind"].as_str().unwrap_or_default();
    let (group, version) = match api_version.split_once('/') {
        Some((g, v)) => (g, v),
        None => ("", api_version),
    };
    let gvk = GroupVersionKind::gvk(group, version, kind);
    kube::discovery::pinned_kind(client, &gvk)
        .await
        .context(format!(
            "the cluster does not serve {kind} in {api_version}"
        ))
}

/// A dynamic API for the resource, in `namespace` when it is namespaced.
pub fn dynamic_api(
    client: &Client,
    ar: &ApiResource,
    caps: &ApiCapabilities,
    namespace: &str,
) -> Api<DynamicObject> {
    match caps.scope {
        Scope::Namespaced => Api::namespaced_with(client.clone(), namespace, ar),
        Scope::Cluster => Api::all_with(client.clone(), ar),
    }
}

/// Whether the current user may `verb` the resource in `namespace` (SelfSubjectAccessReview).
pub async fn can_i(
    client: &Client,
    verb: &str,
    group: &str,
    resource: &str,
    namespace: &str,
) -> Result<bool> {
    use k8s_openapi::api::authorization::v1::{
        ResourceAttributes, SelfSubjectAccessReview, SelfSubjectAccessReviewSpec,
    };
    // "pods/eviction": a subresource.
    let (resource, subresource) = match resource.split_once('/') {
        Some((r, s)) => (r, Some(s.to_string())),
        None => (resource, None),
    };
    let review = SelfSubjectAccessReview {
        spec: SelfSubjectAccessReviewSpec {
            resource_attributes: Some(ResourceAttributes {
                verb: Some(verb.into()),
                group: Some(group.into()),
                resource: Some(resource.into()),
                subresource,
                namespace: Some(namespace.into()),
                ..Default::default()
            }),
            ..Default::default()
        },
        ..Default::default()
    };
    let api: Api<SelfSubjectAccessReview> = Api::all(client.clone());
    let answer = api
        .create(&Default::default(), &review)
        .await
        .context("cannot check permissions")?;
    Ok(answer.status.is_some_and(|s| s.allowed))
}

/// The RayService resource (ray.io/v1), without a discovery round trip.
pub fn rayservice_resource() -> ApiResource {
    ApiResource {
        group: "ray.io".into(),
        version: "v1".into(),
        api_version: "ray.io/v1".into(),
        kind: "RayService".into(),
        plural: "rayservices".into(),
    }
}

/// The RayCluster resource (ray.io/v1).
pub fn raycluster_resource() -> ApiResource {
    ApiResource {
        kind: "RayCluster".into(),
        plural: "rayclusters".into(),
        ..rayservice_resource()
    }
}

/// The async runtime a cluster command runs on.
pub fn runtime(multi_thread: bool) -> Result<tokio::runtime::Runtime> {
    let mut builder = if multi_thread {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(2);
        b
    } else {
        tokio::runtime::Builder::new_current_thread()
    };
    builder
        .enable_all()
        .build()
        .map_err(|e| Error::failed(format!("cannot start the runtime: {e}")))
}

/// Asks `question` on the terminal; refuses (naming `-y`) when standard input is not one.
pub fn confirm(question: &str, what: &str) -> Result<bool> {
    use std::io::{BufRead, IsTerminal, Write};
    if !std::io::stdin().is_terminal() {
        return Err(Error::usage(format!(
            "refusing to {what} without confirmation: pass -y (standard input is not a terminal)"
        )));
    }
    eprint!("{question} [y/N] ");
    let _ = std::io::stderr().flush();
    let mut answer = String::new();
    std::io::stdin()
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Error::failed(format!("cannot read the answer: {e}")))?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}
