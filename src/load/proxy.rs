//! The `proxy` route: requests go to `<name>-serve-svc` through the API server's service proxy,
//! so no port-forward or ingress is needed. The API server picks a ready endpoint of the Service
//! for every request, as the Service itself would.

use std::time::Duration;

use http_body_util::BodyExt;
use kube::Client;

use super::engine::{Cause, Requester};

/// The prepared request through the service proxy.
#[derive(Clone)]
pub struct ProxyTarget {
    pub client: Client,
    /// `/api/v1/namespaces/NS/services/NAME-serve-svc:8000/proxy/PATH`.
    pub uri: String,
    pub method: ::http::Method,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
    pub expect_status: Option<u16>,
    pub expect_body: Option<String>,
    pub timeout: Duration,
}

impl ProxyTarget {
    pub fn service_uri(namespace: &str, service: &str, port: u16, path: &str) -> String {
        let path = path.strip_prefix('/').unwrap_or(path);
        format!("/api/v1/namespaces/{namespace}/services/{service}:{port}/proxy/{path}")
    }

    async fn once(&self) -> Result<(), Cause> {
        let mut builder = ::http::Request::builder()
            .method(self.method.clone())
            .uri(&self.uri);
        for (k, v) in &self.headers {
            builder = builder.header(k, v);
        }
        if !self.body.is_empty()
            && !self
                .headers
                .iter()
                .any(|(k, _)| k.eq_ignore_ascii_case("content-type"))
        {
            builder = builder.header("content-type", "application/json");
        }
        let request = builder
            .body(kube::client::Body::from(self.body.clone()))
            .map_err(|e| Cause::Protocol(e.to_string()))?;
        let response = self
            .client
            .send(request)
            .await
            .map_err(|e| Cause::Connect(crate::cluster::describe_kube_error(&e)))?;
        let status = response.status().as_u16();
        let body = response
            .into_body()
            .collect()
            .await
            .map_err(|e| Cause::Io(e.to_string()))?
            .to_bytes();
        let status_ok = match self.expect_status {
            Some(s) => status == s,
            None => (200..300).contains(&status),
        };
        if !status_ok {
            return Err(Cause::Status(status));
        }
        if let Some(want) = &self.expect_body
            && String::from_utf8_lossy(&body).trim() != want.trim()
        {
            return Err(Cause::WrongBody);
        }
        Ok(())
    }
}

impl Requester for ProxyTarget {
    async fn request(&mut self) -> Result<(), Cause> {
        match tokio::time::timeout(self.timeout, self.once()).await {
            Ok(r) => r,
            Err(_) => Err(Cause::Timeout),
        }
    }
}
