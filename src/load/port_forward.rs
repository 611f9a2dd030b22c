//! The `port-forward` route: a local listener on 127.0.0.1 whose every accepted connection is
//! carried by its own port-forward stream (kube's `Api::<Pod>::portforward`, through the API
//! server and the node's kubelet) to one pod's serve port. The engine queries the local address
//! as it would any URL. It pins one pod and bypasses the Service, so it measures that pod's Serve
//! proxy, not a failover.

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, ListParams};
use tokio::net::TcpListener;

use crate::cluster::{Cluster, KubeContext, describe_kube_error};
use crate::error::{Error, Result};
use crate::params::SERVE_PORT;
use crate::rayservice::{Role, pod_ready};

/// The pod to forward to: `chosen`, else a ready worker pod of the RayService's cluster (the
/// first by name).
pub async fn pick_pod(cluster: &Cluster, name: &str, chosen: Option<&str>) -> Result<String> {
    let pods: Api<Pod> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
    let ns = &cluster.namespace;
    if let Some(pod) = chosen {
        let p = pods
            .get_opt(pod)
            .await
            .context(format!("--pod {pod}: cannot read it"))?;
        let p =
            p.ok_or_else(|| Error::failed(format!("--pod {pod}: not found in namespace {ns}")))?;
        let phase = p
            .status
            .as_ref()
            .and_then(|s| s.phase.clone())
            .unwrap_or_default();
        if phase != "Running" {
            return Err(Error::failed(format!(
                "--pod {pod}: not running (phase {})",
                if phase.is_empty() { "unknown" } else { &phase }
            )));
        }
        return Ok(pod.to_string());
    }
    let rs = crate::rayservice::get(cluster, name).await?;
    let rc = rs.serving_cluster().ok_or_else(|| {
        Error::failed(format!(
            "rayservice/{name} has no RayCluster yet: nothing to port-forward to (or name a pod with --pod)"
        ))
    })?;
    let list = pods
        .list(&ListParams::default().labels(&Role::Worker.selector(rc, name)))
        .await
        .context(format!("cannot list the pods of {rc}"))?;
    let mut ready: Vec<String> = list
        .items
        .iter()
        .filter(|p| pod_ready(p) && p.metadata.deletion_timestamp.is_none())
        .filter_map(|p| p.metadata.name.clone())
        .collect();
    ready.sort();
    ready.into_iter().next().ok_or_else(|| {
        Error::failed(format!(
            "no ready worker pod of rayservice/{name} (cluster {rc}); name one with --pod"
        ))
    })
}

/// A local listener forwarding each connection to the pod's serve port.
pub struct Forwarder {
    pub addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
    first_error: Arc<Mutex<Option<String>>>,
}

impl Forwarder {
    /// Checks that the pod answers through a port-forward (one `GET /-/healthz`, any HTTP
    /// reply will do), then listens on 127.0.0.1 on a free port.
    pub async fn start(cluster: &Cluster, pod: &str) -> Result<Forwarder> {
        let api: Api<Pod> = Api::namespaced(cluster.client.clone(), &cluster.namespace);
        probe(&api, pod).await.map_err(|why| {
            Error::failed(format!(
                "--via port-forward: no reply from pod/{pod}:{SERVE_PORT} through a port-forward (the API server reaches the pod through its node's kubelet): {why}"
            ))
        })?;
        let listener = TcpListener::bind(("127.0.0.1", 0)).await.map_err(|e| {
            Error::failed(format!(
                "--via port-forward: cannot listen on 127.0.0.1: {e}"
            ))
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::failed(format!("--via port-forward: {e}")))?;
        let first_error = Arc::new(Mutex::new(None));
        let task = tokio::spawn(accept(listener, api, pod.to_string(), first_error.clone()));
        Ok(Forwarder {
            addr,
            task,
            first_error,
        })
    }

    /// Stops listening; says on stderr when a connection could not be forwarded.
    pub fn finish(self) {
        self.task.abort();
        if let Some(e) = self.first_error.lock().ok().and_then(|e| e.clone()) {
            eprintln!("warning: port-forward: some connections could not be forwarded: {e}");
        }
    }
}

impl Drop for Forwarder {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// One HTTP request through a port-forward; the reason when no HTTP reply comes back.
async fn probe(api: &Api<Pod>, pod: &str) -> std::result::Result<(), String> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut forwarder = api
        .portforward(pod, &[SERVE_PORT])
        .await
        .map_err(|e| describe_kube_error(&e))?;
    let mut stream = forwarder
        .take_stream(SERVE_PORT)
        .ok_or("no stream for the port")?;
    let error = forwarder.take_error(SERVE_PORT);
    let exchange = async {
        stream
            .write_all(b"GET /-/healthz HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")
            .await?;
        let mut head = Vec::new();
        let mut buf = [0u8; 256];
        while head.len() < 8 {
            let n = stream.read(&mut buf).await?;
            if n == 0 {
                break;
            }
            head.extend_from_slice(&buf[..n]);
        }
        Ok::<bool, std::io::Error>(head.starts_with(b"HTTP/1."))
    };
    let outcome = tokio::time::timeout(std::time::Duration::from_secs(10), exchange).await;
    let remote_error = async {
        match error {
            Some(e) => tokio::time::timeout(std::time::Duration::from_secs(1), e)
                .await
                .ok()
                .flatten(),
            None => None,
        }
    };
    let result = match outcome {
        Ok(Ok(true)) => Ok(()),
        Ok(Ok(false)) => Err(remote_error
            .await
            .unwrap_or_else(|| "the stream closed without an HTTP reply".into())),
        Ok(Err(e)) => Err(remote_error.await.unwrap_or_else(|| e.to_string())),
        Err(_) => Err(remote_error
            .await
            .unwrap_or_else(|| "no reply within 10 s".into())),
    };
    forwarder.abort();
    result
}

async fn accept(
    listener: TcpListener,
    api: Api<Pod>,
    pod: String,
    first_error: Arc<Mutex<Option<String>>>,
) {
    while let Ok((mut local, _)) = listener.accept().await {
        let _ = local.set_nodelay(true);
        let (api, pod, first_error) = (api.clone(), pod.clone(), first_error.clone());
        tokio::spawn(async move {
            let note = |e: String| {
                if let Ok(mut slot) = first_error.lock() {
                    slot.get_or_insert(e);
                }
            };
            match api.portforward(&pod, &[SERVE_PORT]).await {
                Ok(mut forwarder) => {
                    if let Some(mut remote) = forwarder.take_stream(SERVE_PORT)
                        && let Err(e) = tokio::io::copy_bidirectional(&mut local, &mut remote).await
                    {
                        note(e.to_string());
                    }
                    forwarder.abort();
                }
                // The engine then sees the connection close before a reply.
                Err(e) => note(describe_kube_error(&e)),
            }
        });
    }
}
