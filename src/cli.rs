//! Command-line types only: what the user can type. The logic lives in one module per subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};
use serde::Deserialize;

/// kubectl rayha: make Ray Serve on Kubernetes highly available, and prove it.
#[derive(Debug, Parser)]
#[command(
    name = "kubectl-rayha",
    bin_name = "kubectl rayha",
    version,
    about = "Make Ray Serve on Kubernetes highly available, and prove it",
    long_about = "kubectl rayha renders, checks and drills highly available RayServices \
                  (GCS fault tolerance on Redis, no Serve replicas on the head, two replicas \
                  of every deployment spread over workers)."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Command,
}

/// kubectl's connection flags. Accepted by every subcommand, used by those that talk to a cluster.
#[derive(Debug, Clone, Default, Args)]
pub struct GlobalArgs {
    /// Namespace for the objects (default: the context's namespace)
    #[arg(short = 'n', long, global = true, value_name = "NAMESPACE")]
    pub namespace: Option<String>,
    /// Name of the kubeconfig context to use
    #[arg(long, global = true, value_name = "CONTEXT")]
    pub context: Option<String>,
    /// Path to the kubeconfig file (default: $KUBECONFIG, then ~/.kube/config)
    #[arg(long, global = true, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// How long one API server request may take, e.g. 1m; 0 for no limit (failover: also its
    /// queries, 5s by default) [default: 30s]
    #[arg(long, global = true, value_name = "DURATION")]
    pub request_timeout: Option<String>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Render the HA bundle: Redis, password Secret, RayService with GCS fault tolerance, tester
    Generate(Box<GenerateArgs>),
    /// Check RayService manifests against the HA invariants and explain each miss
    Lint(LintArgs),
    /// Server-side apply the HA bundle (or -f FILE): preflight, dry run, ordered apply, wait for Ready
    Apply(Box<ApplyArgs>),
    /// Show a RayService live: conditions, pods, serve endpoints, Serve replicas, HA checks
    #[command(alias = "describe")]
    Status(StatusArgs),
    /// List the RayServices kubectl-rayha manages, with Ready and the HA verdict
    #[command(alias = "get")]
    List(ListArgs),
    /// Delete everything kubectl-rayha created for a RayService (by its instance label)
    Delete(DeleteArgs),
    /// The head-failure drill: query while the head pod is deleted, time the recovery, gate on it
    Failover(Box<FailoverArgs>),
    /// Send the guide's request in a loop (one in flight by default) and measure the answers
    Query(Box<QueryArgs>),
    /// Render a saved failover or query report (text, JSON, HTML), or compare two side by side
    Report(ReportArgs),
    /// Print a shell completion script
    Completion(CompletionArgs),
    /// Cobra-style completion protocol used by kubectl (kubectl_complete-rayha)
    #[command(name = "__complete", hide = true)]
    Complete(CompleteArgs),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum OutputFormat {
    #[default]
    Yaml,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum LintOutput {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Args)]
pub struct GenerateArgs {
    #[command(flatten)]
    pub options: GenerateOptions,
    /// YAML file with the same keys as the flags (e.g. `worker-replicas: 3`); flags win
    #[arg(long, value_name = "FILE")]
    pub values: Option<PathBuf>,
    /// Output format
    #[arg(short = 'o', long, value_enum, default_value_t = OutputFormat::Yaml)]
    pub output: OutputFormat,
    /// Write one file per object into DIR instead of printing the bundle
    #[arg(long, value_name = "DIR")]
    pub output_dir: Option<PathBuf>,
}

/// Every bundle parameter, settable by flag or by the same key in a `--values` file.
/// All fields are optional here; defaults are applied when the two sources are merged.
#[derive(Debug, Clone, Default, Args, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct GenerateOptions {
    /// RayService name (DNS-1035 label, at most 47 characters) [default: rayservice-ha]
    #[arg(long, value_name = "NAME")]
    pub name: Option<String>,
    /// Ray version; also picks the image tag unless --image is given [default: 2.52.0]
    #[arg(long, value_name = "X.Y.Z")]
    pub ray_version: Option<String>,
    /// Ray container image; its tag must match --ray-version [default: rayproject/ray:<ray-version>]
    #[arg(long, value_name = "IMAGE")]
    pub image: Option<String>,
    /// KubeRay operator version the bundle targets; below 1.3 the legacy ft-enabled annotation is used [default: 1.7.0]
    #[arg(long, value_name = "X.Y[.Z]")]
    pub kuberay_version: Option<String>,
    /// Worker pods (desired) [default: the largest replica count of any Serve deployment]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub worker_replicas: Option<i64>,
    /// Worker group minReplicas [default: worker replicas]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub min_workers: Option<i64>,
    /// Worker group maxReplicas [default: max(5, worker replicas)]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub max_workers: Option<i64>,
    /// CPU request and limit of the head pod [default: 1]
    #[arg(long, value_name = "QUANTITY")]
    pub head_cpu: Option<String>,
    /// Memory request of the head pod [default: 2Gi]
    #[arg(long, value_name = "QUANTITY")]
    pub head_memory: Option<String>,
    /// Memory limit of the head pod [default: 5Gi]
    #[arg(long, value_name = "QUANTITY")]
    pub head_memory_limit: Option<String>,
    /// CPU request and limit of each worker pod [default: 1]
    #[arg(long, value_name = "QUANTITY")]
    pub worker_cpu: Option<String>,
    /// Memory request and limit of each worker pod [default: 2Gi]
    #[arg(long, value_name = "QUANTITY")]
    pub worker_memory: Option<String>,
    /// Serve config file (the serveConfigV2 document); HA settings are enforced on every deployment
    #[arg(long, value_name = "FILE", conflicts_with_all = ["import_path", "working_dir", "deployments"])]
    pub serve_config: Option<PathBuf>,
    /// Import path of a single Serve application [default: the sample's fruit app]
    #[arg(long, value_name = "MODULE:ATTR")]
    pub import_path: Option<String>,
    /// runtime_env working_dir of the single application ("" for none) [default: the sample's zip]
    #[arg(long, value_name = "URI")]
    pub working_dir: Option<String>,
    /// Deployment names of the single application, comma separated [default: the fruit app's four]
    #[arg(long, value_name = "NAMES", value_delimiter = ',')]
    pub deployments: Option<Vec<String>>,
    /// Route prefix of the single application [default: /fruit]
    #[arg(long, value_name = "PATH")]
    pub route_prefix: Option<String>,
    /// Replicas of each deployment of the single application (at least 2 for HA) [default: 2]
    #[arg(long, value_name = "N", allow_negative_numbers = true)]
    pub serve_replicas: Option<i64>,
    /// Use an existing Redis at HOST:PORT; no Redis objects are emitted
    #[arg(long, value_name = "HOST:PORT")]
    pub redis_address: Option<String>,
    /// Use this existing Secret for the Redis password; no Secret is emitted
    #[arg(long, value_name = "NAME")]
    pub redis_password_secret: Option<String>,
    /// Key of the password inside the Secret [default: password]
    #[arg(long, value_name = "KEY")]
    pub redis_password_key: Option<String>,
    /// Redis image [default: redis:7.4.0]
    #[arg(long, value_name = "IMAGE")]
    pub redis_image: Option<String>,
    /// Size of the PersistentVolumeClaim that keeps Redis /data (and so the GCS state) across the
    /// loss of the Redis pod, or `none` for an emptyDir: then losing the pod loses every actor,
    /// and each worker restarts and each Serve replica is redeployed [default: 1Gi]
    #[arg(long, value_name = "QUANTITY|none")]
    pub redis_storage: Option<String>,
    /// StorageClass of the Redis PVC; its volumes must attach on any node Redis may move to
    /// (network block storage, not node-local disks) [default: the cluster's default class]
    #[arg(long, visible_alias = "storage-class", value_name = "NAME")]
    pub redis_storage_class: Option<String>,
    /// Redis speaks TLS only: a CA and a server certificate made for this bundle (ECDSA P-256,
    /// valid 5 years) go into the Secret <name>-redis-tls, Redis listens with TLS alone, and the
    /// GCS (and KubeRay's Redis cleanup Job) connects to rediss:// and checks the certificate
    /// against the CA (RAY_REDIS_CA_CERT); the Redis password no longer crosses the network in
    /// clear text
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub redis_tls: Option<bool>,
    /// Storage namespace for GCS state in Redis [default: chosen by KubeRay, the RayCluster UID]
    #[arg(long, value_name = "NAME")]
    pub external_storage_namespace: Option<String>,
    /// Spread the worker pods over Kubernetes nodes (node), over zones and nodes (zone: nodes
    /// need topology.kubernetes.io/zone) or not at all (none: a one-node cluster such as kind
    /// or minikube; Redis then may share the head's node) [default: node]
    #[arg(long, value_name = "MODE", value_parser = ["node", "zone", "none"])]
    pub spread: Option<String>,
    /// How long Redis stays on a node that is not ready or unreachable before it is deleted and
    /// replaced elsewhere, e.g. 30s (Kubernetes' default: 300s; Ray pods keep it, since KubeRay
    /// replaces a lost node's pod only once its object is gone) [default: 30s]
    #[arg(long, value_name = "DURATION")]
    pub node_loss_toleration: Option<String>,
    /// Also emit the tester pod and ConfigMap that run the one-in-flight query loop in the cluster
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub with_tester: Option<bool>,
    /// Generate even when the numbers cannot give HA (warns instead of refusing)
    #[arg(long, num_args = 0..=1, default_missing_value = "true", value_name = "BOOL")]
    pub allow_non_ha: Option<bool>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DryRun {
    None,
    Client,
    Server,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// Apply the objects of this file (`-` for standard input) instead of a generated bundle
    #[arg(
        short = 'f',
        long = "filename",
        value_name = "FILE",
        conflicts_with = "values"
    )]
    pub file: Option<PathBuf>,
    #[command(flatten)]
    pub options: GenerateOptions,
    /// YAML file with the same keys as the generate flags; flags win
    #[arg(long, value_name = "FILE")]
    pub values: Option<PathBuf>,
    /// Only show what would be applied: client (no cluster) or server (the API server validates it)
    #[arg(long, value_enum, num_args = 0..=1, default_missing_value = "client", default_value_t = DryRun::None)]
    pub dry_run: DryRun,
    /// Print the applied objects in this format instead of one line per object
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<OutputFormat>,
    /// Wait until the RayService is Ready
    #[arg(long, num_args = 0..=1, default_missing_value = "true", default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    pub wait: bool,
    /// How long to wait, e.g. 10m
    #[arg(long, default_value = "10m", value_name = "DURATION")]
    pub timeout: String,
    /// Take over fields another field manager owns
    #[arg(long)]
    pub force_conflicts: bool,
    /// Measure the rollout: query the running RayService while the change is applied and
    /// KubeRay rolls it out, then report as `failover` does (-o json prints the report)
    #[arg(long, conflicts_with = "dry_run")]
    pub load: bool,
    /// With --load: where the load comes from (proxy, pod, or both: proxy,pod)
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "proxy",
        value_name = "ROUTE[,ROUTE]",
        requires = "load"
    )]
    pub via: Vec<DrillRoute>,
    /// With --load: failed requests allowed for the verdict to pass
    #[arg(long, default_value_t = 0, value_name = "N", requires = "load")]
    pub max_failures: u64,
    /// With --load: request path
    #[arg(long, value_name = "PATH", requires = "load")]
    pub path: Option<String>,
    /// With --load: request body [default: the guide's ["PEAR", 12]]
    #[arg(long, value_name = "BODY", requires = "load")]
    pub data: Option<String>,
    /// With --load: body every reply must have [default: 12 for the guide's request]
    #[arg(long, value_name = "BODY", requires = "load")]
    pub expect: Option<String>,
    /// With --load: also write the report to FILE (HTML when it ends in .html, else JSON)
    #[arg(long, value_name = "FILE", requires = "load")]
    pub report: Option<PathBuf>,
    /// With --load: also write a JUnit XML file for CI systems
    #[arg(long, value_name = "FILE", requires = "load")]
    pub junit: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Name of the RayService
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Output format [default: text]
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<OutputFormat>,
    /// Print again whenever the RayService or its pods change (Ctrl-C to stop)
    #[arg(short = 'w', long)]
    pub watch: bool,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    /// List in every namespace
    #[arg(short = 'A', long)]
    pub all_namespaces: bool,
    /// Output format [default: a table]
    #[arg(short = 'o', long, value_enum)]
    pub output: Option<OutputFormat>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailoverTarget {
    /// Delete the Ray head pod (the guide's drill)
    Head,
    /// Delete one worker pod
    Worker,
    /// Delete the Redis pod of the bundle
    Redis,
    /// Drain a node as `kubectl drain` does (cordon, evict its pods, uncordon at the end): the
    /// node of a worker, of the head with --node-of head, or --node NAME
    Node,
    /// Rehearse a new-cluster upgrade: one annotation on the head's pod template makes KubeRay
    /// start a new RayCluster, switch the serve Service to it and delete the old one
    Upgrade,
    /// Rehearse an in-place Serve config update: a key in each deployment's user_config
    ServeConfig,
}

/// Whose node a node drill drains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum NodeOf {
    /// A worker's node that holds no other pod of the RayService
    Worker,
    /// The head's node
    Head,
}

/// Where a drill's load comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum DrillRoute {
    /// Through the API server's service proxy to <NAME>-serve-svc (or --url when given)
    Proxy,
    /// From a tester pod in the namespace through the Service and kube-proxy, a fresh connection
    /// per request and one in flight, like the guide's query.py
    Pod,
}

#[derive(Debug, Args)]
pub struct FailoverArgs {
    /// Name of the RayService
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Do not ask for confirmation
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// Run the drill even without GCS fault tolerance (to see what it costs)
    #[arg(long)]
    pub force: bool,
    /// What to kill
    #[arg(long, value_enum, default_value_t = FailoverTarget::Head)]
    pub target: FailoverTarget,
    /// With --target node: whose node to drain
    #[arg(long, value_enum, default_value_t = NodeOf::Worker)]
    pub node_of: NodeOf,
    /// With --target node: drain this node (it must run exactly one pod of the RayService)
    #[arg(long, value_name = "NAME", conflicts_with = "node_of")]
    pub node: Option<String>,
    /// With --target node: how long the drain keeps evicting (a disruption budget may refuse)
    #[arg(long, default_value = "2m", value_name = "DURATION")]
    pub drain_timeout: String,
    /// Grace period for the pod deletion in seconds [default: the pod's own]
    #[arg(long, value_name = "SECONDS")]
    pub grace_period: Option<u32>,
    /// Load before the kill
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    pub warmup: String,
    /// Load kept after full recovery
    #[arg(long, default_value = "10s", value_name = "DURATION")]
    pub settle: String,
    /// Longest wait for full recovery per round [default: 5m; 15m for --target upgrade, whose
    /// new cluster starts beside the old one]
    #[arg(long, value_name = "DURATION")]
    pub recovery_timeout: Option<String>,
    /// Failed requests allowed over all rounds for the verdict to pass
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub max_failures: u64,
    /// Recovery seconds allowed per round for the verdict to pass
    #[arg(long, value_name = "SECONDS", allow_negative_numbers = true)]
    pub max_recovery: Option<f64>,
    /// Repeat the drill N times, waiting for full recovery in between
    #[arg(long, default_value_t = 1, value_name = "N")]
    pub rounds: u32,
    /// Where the load comes from: proxy, pod (a tester pod in the cluster, kept off the node the
    /// round takes down), or both at once (proxy,pod), each reported apart and together
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "proxy",
        value_name = "ROUTE[,ROUTE]"
    )]
    pub via: Vec<DrillRoute>,
    /// Query this URL instead of <NAME>-serve-svc through the API server (takes the place of
    /// the proxy route)
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// Request path
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// Request body [default: the guide's ["PEAR", 12]]
    #[arg(long, short = 'd', value_name = "BODY")]
    pub data: Option<String>,
    /// Body every reply must have [default: 12 for the guide's request]
    #[arg(long, value_name = "BODY")]
    pub expect: Option<String>,
    /// Requests in flight at once on the proxy or --url route (the pod route keeps one)
    #[arg(long, short = 'c', default_value_t = 1, value_name = "N")]
    pub concurrency: usize,
    /// With --url: reuse connections (by default each request opens a fresh one; the pod route
    /// always does)
    #[arg(long)]
    pub keep_alive: bool,
    /// Output format of the report
    #[arg(short = 'o', long, value_enum, default_value_t = QueryOutput::Text)]
    pub output: QueryOutput,
    /// Also write the whole report to FILE: a self-contained HTML page when FILE ends in .html, else JSON
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// No live line on the terminal and no progress notes on stderr
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Also write a JUnit XML file (one test case per round) for CI systems
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct DeleteArgs {
    /// Name of the RayService (the bundle's instance label)
    #[arg(value_name = "NAME")]
    pub name: String,
    /// Do not ask for confirmation
    #[arg(short = 'y', long)]
    pub yes: bool,
    /// How long to wait for KubeRay's cleanup (RayCluster and Redis keys) and for every object
    /// (and the Redis and tester pods) to be gone, e.g. 5m
    #[arg(long, default_value = "5m", value_name = "DURATION")]
    pub timeout: String,
}

#[derive(Debug, Args)]
pub struct LintArgs {
    /// Manifest file with one or more YAML documents; `-` or nothing reads standard input
    #[arg(value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Output format
    #[arg(short = 'o', long, value_enum, default_value_t = LintOutput::Text)]
    pub output: LintOutput,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum QueryOutput {
    #[default]
    Text,
    Json,
}

/// How `query NAME` reaches the RayService's Serve port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum Via {
    /// Through the API server's service proxy to <NAME>-serve-svc (no port-forward, no ingress)
    #[default]
    Proxy,
    /// From a tester pod in the namespace against <NAME>-serve-svc, like the guide's query.py
    Pod,
    /// Port-forward to one pod's serve port (pins that pod and bypasses the Service)
    PortForward,
}

#[derive(Debug, Args)]
pub struct QueryArgs {
    /// RayService to query (the route is --via; default: the API server's service proxy)
    #[arg(value_name = "NAME")]
    pub name: Option<String>,
    /// Query this URL directly instead (ingress, load balancer, a local port)
    #[arg(long, value_name = "URL")]
    pub url: Option<String>,
    /// How to reach NAME: proxy, pod (a tester pod in the cluster) or port-forward (one pod) [default: proxy]
    #[arg(long, value_enum, value_name = "ROUTE", conflicts_with = "url")]
    pub via: Option<Via>,
    /// With --via port-forward: the pod to forward to [default: a ready worker pod of NAME]
    #[arg(long, value_name = "POD")]
    pub pod: Option<String>,
    /// Request path [default: /fruit/, or the path of --url]
    #[arg(long, value_name = "PATH")]
    pub path: Option<String>,
    /// HTTP method
    #[arg(long, short = 'X', default_value = "POST", value_name = "METHOD")]
    pub method: String,
    /// Request body [default: the guide's ["PEAR", 12]]
    #[arg(long, short = 'd', value_name = "BODY")]
    pub data: Option<String>,
    /// Request body from a file
    #[arg(long, value_name = "FILE")]
    pub data_file: Option<PathBuf>,
    /// Extra request header, repeatable
    #[arg(long, short = 'H', value_name = "NAME: VALUE")]
    pub header: Vec<String>,
    /// Body every reply must have, whitespace-trimmed [default: 12 for the guide's request]
    #[arg(long, value_name = "BODY")]
    pub expect: Option<String>,
    /// Status every reply must have [default: any 2xx]
    #[arg(long, value_name = "CODE")]
    pub expect_status: Option<u16>,
    /// Requests in flight at once [default: 1; 64 with --rate]
    #[arg(long, short = 'c', value_name = "N")]
    pub concurrency: Option<usize>,
    /// Open loop: send R requests per second whatever the replies take
    #[arg(long, value_name = "R", allow_negative_numbers = true)]
    pub rate: Option<f64>,
    /// Stop after N requests
    #[arg(long, value_name = "N")]
    pub count: Option<u64>,
    /// Stop after this long, e.g. 30s or 2m [default: run until Ctrl-C]
    #[arg(long, value_name = "DURATION")]
    pub duration: Option<String>,
    /// Per-request timeout
    #[arg(long, default_value = "5s", value_name = "DURATION")]
    pub timeout: String,
    /// Reuse connections (=false: a fresh one per request) [default: fresh, so a Service balances
    /// each request anew; kept with --via port-forward, which pins one pod anyway]
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", value_name = "BOOL")]
    pub keep_alive: Option<bool>,
    /// Print the guide's `req_index : N, num_fail: F` line for every request
    #[arg(long)]
    pub print_each: bool,
    /// Exit 1 when more than N requests fail
    #[arg(long, value_name = "N")]
    pub max_failures: Option<u64>,
    /// Output format of the summary
    #[arg(short = 'o', long, value_enum, default_value_t = QueryOutput::Text)]
    pub output: QueryOutput,
    /// Also write the whole report to FILE: a self-contained HTML page when FILE ends in .html, else JSON
    #[arg(long, value_name = "FILE")]
    pub report: Option<PathBuf>,
    /// No live line on the terminal
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum, Default)]
pub enum ReportOutput {
    #[default]
    Text,
    Json,
    /// One self-contained page: inline SVG charts, no script, nothing fetched
    Html,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// A saved report (failover or query, -o json or --report FILE.json); a second one compares them side by side
    #[arg(value_name = "FILE.json", required = true, num_args = 1..=2)]
    pub files: Vec<PathBuf>,
    /// Output format
    #[arg(short = 'o', long, value_enum, default_value_t = ReportOutput::Text)]
    pub output: ReportOutput,
    /// Write to FILE instead of standard output
    #[arg(long, value_name = "FILE")]
    pub output_file: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

#[derive(Debug, Args)]
pub struct CompletionArgs {
    /// Shell to print the completion script for
    #[arg(value_enum)]
    pub shell: Shell,
}

#[derive(Debug, Args)]
pub struct CompleteArgs {
    /// The words after `kubectl rayha`; the last one is the word being completed
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub words: Vec<String>,
}
