//! `kubectl rayha query`: the guide's query loop (one request in flight, fresh connection each
//! time), measured: counts, failures by cause, latency percentiles, failure windows, and an exit
//! code that can gate a pipeline.

pub mod pod;

use std::io::Write;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;

use crate::cli::{GlobalArgs, QueryArgs, QueryOutput, Via};
use crate::error::{Error, Outcome, Result};
use crate::load::http::Url;
use crate::load::series::{Series, SeriesData};
use crate::load::stats::{Recorder, Summary};
use crate::load::{
    self, RequestFlags, RequestSpec, Requesters, Shape, StopHandle, port_forward, proxy,
};
use crate::params::SERVE_PORT;

/// The most samples the recorder takes from the load at once.
const SAMPLE_BATCH: usize = 256;

/// In-flight requests for an open-loop run when --concurrency is not given.
const OPEN_LOOP_DEFAULT_CONCURRENCY: usize = 64;

/// Everything the report says about how the load was made.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Setup {
    pub route: String,
    pub url: String,
    pub method: String,
    /// "keep-alive" or "fresh" (a new TCP connection per request).
    pub connection: String,
    pub concurrency: usize,
    pub rate_per_s: Option<f64>,
    pub count: Option<u64>,
    pub duration_s: Option<f64>,
    pub timeout_s: f64,
    pub expect_status: Option<u16>,
    pub expect_body: Option<String>,
    /// The pod the requests come from (`pod`) or go to (`port-forward`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pod: Option<String>,
    /// What the route means for the numbers, for the report.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Verdict {
    pub max_failures: Option<u64>,
    pub passed: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Report {
    pub setup: Setup,
    pub summary: Summary,
    /// Requests per time bucket, t = 0 at the start of the run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub series: Option<SeriesData>,
    pub verdict: Verdict,
    pub interrupted: bool,
}

/// Where the requests go.
enum Route {
    Url {
        url: Url,
        addr: SocketAddr,
    },
    /// `<name>-serve-svc` through the API server's service proxy.
    Proxy {
        name: String,
    },
    /// A tester pod in the namespace runs the loop against `<name>-serve-svc`.
    Pod {
        name: String,
    },
    /// A port-forward to one pod's serve port.
    PortForward {
        name: String,
        pod: Option<String>,
    },
}

struct Plan {
    request: RequestSpec,
    route: Route,
    shape: Shape,
    keep_alive: bool,
}

/// The request flags of `query`, for the load layer.
fn request_flags<'a>(args: &'a QueryArgs, url: Option<&'a Url>) -> RequestFlags<'a> {
    RequestFlags {
        method: &args.method,
        path: args.path.as_deref(),
        data: args.data.as_deref(),
        data_file: args.data_file.as_deref(),
        headers: &args.header,
        expect: args.expect.as_deref(),
        expect_status: args.expect_status,
        timeout: &args.timeout,
        url,
    }
}

/// The load flags of `query`.
fn shape_from(args: &QueryArgs) -> Result<Shape> {
    let duration = args
        .duration
        .as_deref()
        .map(crate::flags::parse_duration)
        .transpose()
        .map_err(|e| Error::invalid("duration", e))?;
    if let Some(rate) = args.rate
        && !(rate.is_finite() && rate > 0.0)
    {
        return Err(Error::invalid(
            "rate",
            format!("must be a positive number of requests per second (got {rate})"),
        ));
    }
    let concurrency = match (args.concurrency, args.rate) {
        (Some(0), _) => return Err(Error::invalid("concurrency", "must be at least 1")),
        (Some(n), _) => n,
        (None, Some(_)) => OPEN_LOOP_DEFAULT_CONCURRENCY,
        (None, None) => 1,
    };
    if args.count == Some(0) {
        return Err(Error::invalid("count", "must be at least 1"));
    }
    // Like --count 0: a run that sends nothing cannot pass or fail.
    if duration.is_some_and(|d| d.is_zero()) {
        return Err(Error::invalid("duration", "must be more than 0"));
    }
    Ok(Shape {
        concurrency,
        rate: args.rate,
        count: args.count,
        duration,
    })
}

fn plan(args: &QueryArgs) -> Result<Plan> {
    if let Some(name) = &args.name {
        crate::validate::object_name("NAME", name)?;
    }
    if let Some(pod) = &args.pod {
        crate::validate::object_name("pod", pod)?;
    }
    let url = args
        .url
        .as_deref()
        .map(|raw| Url::parse(raw).map_err(|e| Error::invalid("url", e)))
        .transpose()?;
    let request = RequestSpec::from_flags(&request_flags(args, url.as_ref()))?;
    let shape = shape_from(args)?;
    let route = match (&args.url, &args.name) {
        (Some(_), Some(_)) => {
            return Err(Error::usage(
                "give either a RayService NAME (through the API server) or --url, not both",
            ));
        }
        (None, None) => {
            return Err(Error::usage(
                "give a RayService NAME to query through the API server, or --url URL",
            ));
        }
        (Some(_), None) => {
            let url = url.expect("parsed above");
            let addr = load::resolve(&url)?;
            Route::Url { url, addr }
        }
        (None, Some(name)) => match args.via.unwrap_or_default() {
            Via::Proxy => Route::Proxy { name: name.clone() },
            Via::Pod => {
                pod::check_args(args, &request)?;
                Route::Pod { name: name.clone() }
            }
            Via::PortForward => Route::PortForward {
                name: name.clone(),
                pod: args.pod.clone(),
            },
        },
    };
    if args.pod.is_some() && !matches!(route, Route::PortForward { .. }) {
        return Err(Error::usage(
            "--pod only applies to --via port-forward (the pod to forward to)",
        ));
    }
    // A port-forward pins one pod, so there is nothing to balance: a fresh port-forward stream
    // per request would measure the stream's setup rather than Serve.
    let keep_alive = args
        .keep_alive
        .unwrap_or(matches!(route, Route::PortForward { .. }));
    Ok(Plan {
        request,
        route,
        shape,
        keep_alive,
    })
}

impl Plan {
    fn setup(&self, namespace: &str) -> Setup {
        let fresh_or_kept = if self.keep_alive {
            "keep-alive"
        } else {
            "fresh"
        };
        let (route, url, connection) = match &self.route {
            Route::Url { url, .. } => (
                "url",
                format!("http://{}:{}{}", url.host, url.port, self.request.path),
                if self.keep_alive {
                    "keep-alive"
                } else {
                    "fresh"
                },
            ),
            Route::Proxy { name } => (
                "proxy",
                proxy::ProxyTarget::service_uri(
                    namespace,
                    &format!("{name}-serve-svc"),
                    SERVE_PORT,
                    &self.request.path,
                ),
                // The API server keeps its connection to us; it opens its own to the pods.
                "keep-alive to the API server",
            ),
            Route::Pod { name } => (
                "pod",
                pod::service_url(name, namespace, &self.request.path),
                // The tester's loop opens a fresh TCP connection per request, like query.py.
                "fresh",
            ),
            // The local address is known once the listener is bound; the route fills it in.
            Route::PortForward { .. } => ("port-forward", String::new(), fresh_or_kept),
        };
        Setup {
            route: route.into(),
            url,
            method: self.request.method.clone(),
            connection: connection.into(),
            concurrency: self.shape.concurrency,
            rate_per_s: self.shape.rate,
            count: self.shape.count,
            duration_s: self.shape.duration.map(|d| d.as_secs_f64()),
            timeout_s: self.request.timeout.as_secs_f64(),
            expect_status: self.request.expect_status,
            expect_body: self.request.expect_body.clone(),
            pod: None,
            note: None,
        }
    }
}

/// Runs the subcommand; returns how it ended (verdict, or interrupted by Ctrl-C).
pub fn run(args: QueryArgs, global: &GlobalArgs) -> Result<Outcome> {
    let plan = plan(&args)?;
    // One thread, whatever the concurrency: the work per request is a few syscalls, and a second
    // scheduler thread only adds cross-thread wake-ups and takes a core from the server when it
    // runs on the same machine (bench/query.sh, 64 in flight on 2 cores: 0.60-0.69x wrk with two
    // threads, 0.84-0.99x with one).
    let runtime = crate::cluster::runtime(false)?;
    let report = runtime.block_on(async {
        match &plan.route {
            Route::Url { url, addr } => {
                let requesters = Requesters::url(
                    url,
                    *addr,
                    &plan.request,
                    plan.keep_alive,
                    plan.shape.concurrency,
                );
                Ok(drive(plan.setup(""), plan.shape.clone(), requesters, &args).await)
            }
            Route::Proxy { name } => {
                let cluster = crate::cluster::connect(global).await?;
                let requesters = Requesters::proxy(
                    &cluster.client,
                    &cluster.namespace,
                    name,
                    &plan.request,
                    plan.shape.concurrency,
                )?;
                Ok::<Report, Error>(
                    drive(
                        plan.setup(&cluster.namespace),
                        plan.shape.clone(),
                        requesters,
                        &args,
                    )
                    .await,
                )
            }
            Route::Pod { name } => {
                let cluster = crate::cluster::connect(global).await?;
                let setup = plan.setup(&cluster.namespace);
                pod::run(&cluster, name, &plan.request, &plan.shape, setup, &args).await
            }
            Route::PortForward { name, pod } => {
                let cluster = crate::cluster::connect(global).await?;
                let target = port_forward::pick_pod(&cluster, name, pod.as_deref()).await?;
                let forwarder = port_forward::Forwarder::start(&cluster, &target).await?;
                let url = Url {
                    host: "127.0.0.1".into(),
                    port: forwarder.addr.port(),
                    path_and_query: plan.request.path.clone(),
                };
                let mut setup = plan.setup(&cluster.namespace);
                setup.url = format!("http://127.0.0.1:{}{}", url.port, plan.request.path);
                setup.pod = Some(target.clone());
                setup.note = Some(format!(
                    "port-forward to pod/{target}:{SERVE_PORT}: pins one pod and bypasses the Service (not a failover measurement)"
                ));
                let requesters = Requesters::url(
                    &url,
                    forwarder.addr,
                    &plan.request,
                    plan.keep_alive,
                    plan.shape.concurrency,
                );
                let report = drive(setup, plan.shape.clone(), requesters, &args).await;
                forwarder.finish();
                Ok(report)
            }
        }
    })?;
    print_report(&report, args.output);
    if let Some(path) = &args.report {
        crate::render::write_report(path, &crate::render::Saved::Query(Box::new(report.clone())))?;
    }
    let bounded = args.count.is_some() || args.duration.is_some();
    Ok(ending(report.interrupted, bounded, report.verdict.passed))
}

/// An unbounded run ends with Ctrl-C by design, so its verdict decides; a bounded one that Ctrl-C
/// cut short did not finish what was asked.
fn ending(interrupted: bool, bounded: bool, passed: bool) -> Outcome {
    if interrupted && bounded {
        Outcome::Interrupted
    } else if passed {
        Outcome::Passed
    } else {
        Outcome::Failed
    }
}

async fn drive(setup: Setup, shape: Shape, requesters: Requesters, args: &QueryArgs) -> Report {
    let stop = StopHandle::default();
    let ctrl_c = stop.stop_on_ctrl_c();
    let (tx, rx) = mpsc::unbounded_channel();
    let start = Instant::now();
    let load = requesters.spawn(shape, tx, stop.clone());
    let report = collect(setup, rx, &stop, args, start, false).await;
    let _ = load.await;
    ctrl_c.abort();
    report
}

/// Turns samples into the report until the sender is gone: `--print-each` lines, the live line
/// on a terminal, the summary. The run ends now, or with `end_at_last_sample` when its last
/// sample finished (the pod route, whose samples arrive through its log).
async fn collect(
    setup: Setup,
    mut rx: mpsc::UnboundedReceiver<load::Sample>,
    stop: &StopHandle,
    args: &QueryArgs,
    start: Instant,
    end_at_last_sample: bool,
) -> Report {
    let live = crate::load::live::Live::wanted(args.quiet) && !args.print_each;
    let mut recorder = Recorder::new(start);
    let mut series = Series::new(start);
    let mut last_finished: Option<Instant> = None;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut stdout = std::io::stdout().lock();
    // Taken in batches: at tens of thousands of samples a second, one select per sample costs
    // more than recording it.
    let mut batch = Vec::with_capacity(SAMPLE_BATCH);
    loop {
        tokio::select! {
            n = rx.recv_many(&mut batch, SAMPLE_BATCH) => {
                if n == 0 {
                    break;
                }
                for s in batch.drain(..) {
                    let failed = s.outcome.is_err();
                    recorder.record(&s);
                    series.record(&s);
                    last_finished = Some(last_finished.map_or(s.finished, |l| l.max(s.finished)));
                    if args.print_each {
                        // The guide's query.py line, then what went wrong.
                        let _ = writeln!(stdout, "req_index : {}, num_fail: {}", recorder.requests() - 1, recorder.failures());
                        if failed && let Err(cause) = &s.outcome {
                            let _ = writeln!(stdout, "failed: {cause}");
                        }
                    }
                }
            }
            _ = tick.tick(), if live => print_live(&recorder, start),
        }
    }
    drop(stdout);
    let end = match (end_at_last_sample, last_finished) {
        (true, Some(last)) => last.max(start),
        _ => Instant::now(),
    };
    recorder.finish(end);
    if live {
        eprint!("\r\x1b[2K");
    }
    let summary = recorder.summary();
    let passed = args.max_failures.is_none_or(|max| summary.failures <= max);
    Report {
        setup,
        summary,
        series: Some(series.data(start)),
        verdict: Verdict {
            max_failures: args.max_failures,
            passed,
        },
        interrupted: stop.stopped(),
    }
}

fn print_live(r: &Recorder, start: Instant) {
    let elapsed = start.elapsed().as_secs_f64().max(1e-9);
    let p = |q| {
        r.percentile_ms(q)
            .map_or("-".to_string(), |v| format!("{v:.2}ms"))
    };
    eprint!(
        "\r\x1b[2K{:.0} s  requests {}  failures {}  rate {:.0}/s  p50 {}  p99 {}",
        start.elapsed().as_secs_f64(),
        r.requests(),
        r.failures(),
        r.requests() as f64 / elapsed,
        p(0.5),
        p(0.99)
    );
}

fn print_report(report: &Report, output: QueryOutput) {
    match output {
        QueryOutput::Json => println!(
            "{}",
            serde_json::to_string_pretty(report).expect("report serialises")
        ),
        QueryOutput::Text => print!("{}", render_text(report)),
    }
}

/// The human summary.
pub fn render_text(report: &Report) -> String {
    let (su, s) = (&report.setup, &report.summary);
    let mut out = String::new();
    let shape = match su.rate_per_s {
        Some(r) => format!("open loop at {r}/s, up to {} in flight", su.concurrency),
        None => format!("{} in flight", su.concurrency),
    };
    let conn = match su.connection.as_str() {
        "fresh" => "a fresh connection per request",
        "keep-alive" => "kept-alive connections",
        other => other,
    };
    out.push_str(&format!("{} {} ({shape}, {conn})\n", su.method, su.url));
    if let Some(note) = &su.note {
        out.push_str(&format!("route {}: {note}\n", su.route));
    }
    out.push_str(&format!(
        "requests {}, successes {}, failures {} in {:.2} s ({:.1} req/s){}\n",
        s.requests,
        s.successes,
        s.failures,
        s.duration_s,
        s.rate_per_s,
        if report.interrupted {
            ", interrupted"
        } else {
            ""
        }
    ));
    if let Some(l) = &s.latency_ms {
        out.push_str(&format!(
            "latency ms: min {:.2}  p50 {:.2}  p90 {:.2}  p99 {:.2}  p99.9 {:.2}  max {:.2}\n",
            l.min, l.p50, l.p90, l.p99, l.p999, l.max
        ));
    }
    if s.failures > 0 {
        out.push_str(&format!("failures by cause: {}\n", s.causes()));
        out.push_str(&format!(
            "first failure at {:.3} s, last at {:.3} s\n",
            s.first_failure_s.unwrap_or(0.0),
            s.last_failure_s.unwrap_or(0.0)
        ));
        for w in s.failure_windows.iter().take(10) {
            let causes: Vec<String> = w.causes.iter().map(|(k, v)| format!("{k} {v}")).collect();
            out.push_str(&format!(
                "  failing {:.3}–{:.3} s: {} request(s), {}\n",
                w.start_s,
                w.end_s,
                w.failures,
                causes.join(", ")
            ));
        }
        if s.failure_windows.len() > 10 {
            out.push_str(&format!(
                "  … {} more window(s) in -o json\n",
                s.failure_windows.len() - 10
            ));
        }
    }
    out.push_str(&format!(
        "longest without a success: {:.3} s\n",
        s.longest_without_success_s
    ));
    if let Some(max) = report.verdict.max_failures {
        out.push_str(&format!(
            "verdict: {} ({} failure(s), at most {max} allowed)\n",
            if report.verdict.passed {
                "PASS"
            } else {
                "FAIL"
            },
            s.failures
        ));
    }
    out
}

#[cfg(test)]
mod tests {
    fn plan_of(argv: &[&str]) -> super::Plan {
        use clap::Parser;
        let cli =
            crate::cli::Cli::try_parse_from(["kubectl-rayha", "query"].iter().chain(argv.iter()))
                .expect("arguments parse");
        let crate::cli::Command::Query(args) = cli.command else {
            panic!("not query")
        };
        super::plan(&args).expect("a plan")
    }

    #[test]
    fn connections_are_fresh_except_through_a_port_forward() {
        assert!(!plan_of(&["shop"]).keep_alive);
        assert!(!plan_of(&["--url", "http://127.0.0.1:8000/"]).keep_alive);
        assert!(plan_of(&["shop", "--via", "port-forward"]).keep_alive);
        assert!(!plan_of(&["shop", "--via", "port-forward", "--keep-alive=false"]).keep_alive);
        assert!(plan_of(&["shop", "--keep-alive"]).keep_alive);
        assert!(!plan_of(&["shop", "--via", "pod", "--keep-alive=false"]).keep_alive);
    }

    #[test]
    fn ctrl_c_is_the_normal_end_only_of_an_unbounded_run() {
        use super::{Outcome, ending};
        assert_eq!(ending(true, false, true), Outcome::Passed);
        assert_eq!(ending(true, false, false), Outcome::Failed);
        assert_eq!(ending(true, true, true), Outcome::Interrupted);
        assert_eq!(ending(false, true, false), Outcome::Failed);
        assert_eq!(ending(false, true, true), Outcome::Passed);
    }
}
