//! The load layer every command that sends requests builds on (`query`, `failover`, later
//! drills): a plain request description checked from raw flag values, the routes that send it
//! (the API server's service proxy, a URL, a port-forward), the engine that paces the requests and
//! the statistics it feeds. Commands build a [`RequestFlags`] from their own flags; none builds
//! another command's flags.

pub mod engine;
pub mod http;
pub mod live;
pub mod port_forward;
pub mod proxy;
pub mod series;
pub mod stats;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::mpsc;

pub use engine::{Cause, Requester, Sample, Shape, StopHandle};
use http::{Conn, Prepared, Url};

use crate::error::{Error, Result};
use crate::params::{FRUIT_ANSWER, FRUIT_REQUEST, FRUIT_ROUTE, SERVE_PORT};

/// The request flags as given, before checking.
#[derive(Debug, Clone, Copy, Default)]
pub struct RequestFlags<'a> {
    pub method: &'a str,
    pub path: Option<&'a str>,
    pub data: Option<&'a str>,
    pub data_file: Option<&'a Path>,
    pub headers: &'a [String],
    pub expect: Option<&'a str>,
    pub expect_status: Option<u16>,
    pub timeout: &'a str,
    /// `--url`: its path is the request's unless `path` overrides it.
    pub url: Option<&'a Url>,
}

/// The request every route sends, checked.
#[derive(Debug, Clone)]
pub struct RequestSpec {
    pub method: String,
    pub path: String,
    pub body: Vec<u8>,
    pub headers: Vec<(String, String)>,
    pub expect_status: Option<u16>,
    pub expect_body: Option<String>,
    pub timeout: Duration,
}

impl RequestSpec {
    /// Checks the flags in small steps, each naming its flag when it refuses.
    pub fn from_flags(f: &RequestFlags) -> Result<RequestSpec> {
        Ok(RequestSpec {
            method: method(f.method)?,
            path: path(f)?,
            body: body(f)?,
            headers: headers(f.headers)?,
            expect_status: f.expect_status,
            expect_body: expected_body(f),
            timeout: timeout(f.timeout)?,
        })
    }
}

fn body(f: &RequestFlags) -> Result<Vec<u8>> {
    match (f.data, f.data_file) {
        (Some(_), Some(_)) => Err(Error::usage("--data cannot be used with --data-file")),
        (Some(d), None) => Ok(d.as_bytes().to_vec()),
        (None, Some(file)) => std::fs::read(file).map_err(|e| {
            Error::failed(format!("--data-file {}: cannot read: {e}", file.display()))
        }),
        (None, None) => Ok(FRUIT_REQUEST.as_bytes().to_vec()),
    }
}

/// The guide's answer is only expected for the guide's request.
fn expected_body(f: &RequestFlags) -> Option<String> {
    let guide_request = f.data.is_none() && f.data_file.is_none();
    match (f.expect, guide_request) {
        (Some(b), _) => Some(b.to_string()),
        (None, true) => Some(FRUIT_ANSWER.to_string()),
        (None, false) => None,
    }
}

/// `-H 'Name: value'`: a token name and a value without control characters, which would end
/// the header and start another (header injection). Errors do not quote the value: it is often a
/// credential.
fn headers(raw: &[String]) -> Result<Vec<(String, String)>> {
    raw.iter().map(|h| header(h)).collect()
}

fn header(h: &str) -> Result<(String, String)> {
    let (name, value) = h
        .split_once(':')
        .map(|(k, v)| (k.trim(), v.trim()))
        .filter(|(k, _)| !k.is_empty() && k.bytes().all(is_token_byte))
        .ok_or_else(|| {
            let name = h.split(':').next().unwrap_or_default();
            Error::invalid(
                "header",
                format!(
                    "must be 'Name: value' with a name of letters, digits and !#$%&'*+-.^_`|~ (got name {:?})",
                    crate::redact::terminal(name)
                ),
            )
        })?;
    if let Some(c) = crate::redact::control_char(value) {
        return Err(Error::invalid(
            "header",
            format!("the value of {name} must not contain control characters (found {c:?})"),
        ));
    }
    Ok((name.to_string(), value.to_string()))
}

/// RFC 9110's `tchar`: the bytes a header name is made of.
fn is_token_byte(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn method(raw: &str) -> Result<String> {
    let method = raw.to_uppercase();
    if method.is_empty() || !method.chars().all(|c| c.is_ascii_alphabetic()) {
        return Err(Error::invalid(
            "method",
            format!("must be an HTTP method such as GET or POST (got {raw:?})"),
        ));
    }
    Ok(method)
}

fn timeout(raw: &str) -> Result<Duration> {
    let timeout = crate::flags::duration("timeout", raw)?;
    if timeout.is_zero() {
        return Err(Error::invalid("timeout", "must be more than 0"));
    }
    Ok(timeout)
}

fn path(f: &RequestFlags) -> Result<String> {
    let path = match (f.path, f.url) {
        (Some(p), _) => p.to_string(),
        (None, Some(url)) => url.path_and_query.clone(),
        (None, None) => format!("{FRUIT_ROUTE}/"),
    };
    if !path.starts_with('/') {
        return Err(Error::invalid(
            "path",
            format!("must start with '/' (got {path:?})"),
        ));
    }
    // The path goes into the request line: a space or line break would end it.
    if let Some(c) = path.chars().find(|c| c.is_control() || *c == ' ') {
        return Err(Error::invalid(
            "path",
            format!(
                "must not contain spaces or control characters (found {c:?}); percent-encode them"
            ),
        ));
    }
    Ok(path)
}

/// Resolved once: the loop measures the server, not the resolver.
pub fn resolve(url: &Url) -> Result<SocketAddr> {
    use std::net::ToSocketAddrs;
    let host = url.host.trim_start_matches('[').trim_end_matches(']');
    (host, url.port)
        .to_socket_addrs()
        .map_err(|e| Error::failed(format!("cannot resolve {}: {e}", url.host)))?
        .next()
        .ok_or_else(|| Error::failed(format!("cannot resolve {}: no address", url.host)))
}

/// One loop's requester over the raw HTTP client.
pub struct HttpRequester {
    conn: Conn,
    prepared: Arc<Prepared>,
    timeout: Duration,
}

impl Requester for HttpRequester {
    async fn request(&mut self) -> std::result::Result<(), Cause> {
        self.conn
            .send(&self.prepared, self.timeout)
            .await
            .map(|_| ())
    }
}

/// One requester per loop, for either route the engine drives directly.
pub enum Requesters {
    /// `<name>-serve-svc` through the API server's service proxy.
    Proxy(Vec<proxy::ProxyTarget>),
    /// Plain HTTP to an address (`--url`, or a local port-forward listener).
    Url(Vec<HttpRequester>),
}

impl Requesters {
    /// Through the API server's service proxy to `<name>-serve-svc`.
    pub fn proxy(
        client: &kube::Client,
        namespace: &str,
        name: &str,
        spec: &RequestSpec,
        n: usize,
    ) -> Result<Requesters> {
        let method = ::http::Method::from_bytes(spec.method.as_bytes()).map_err(|_| {
            Error::invalid("method", format!("{:?} is not an HTTP method", spec.method))
        })?;
        let target = proxy::ProxyTarget {
            client: client.clone(),
            uri: proxy::ProxyTarget::service_uri(
                namespace,
                &format!("{name}-serve-svc"),
                SERVE_PORT,
                &spec.path,
            ),
            method,
            body: spec.body.clone(),
            headers: spec.headers.clone(),
            expect_status: spec.expect_status,
            expect_body: spec.expect_body.clone(),
            timeout: spec.timeout,
        };
        Ok(Requesters::Proxy(vec![target; n]))
    }

    /// To `addr`, each loop with its own connection slot.
    pub fn url(
        url: &Url,
        addr: SocketAddr,
        spec: &RequestSpec,
        keep_alive: bool,
        n: usize,
    ) -> Requesters {
        let prepared = Arc::new(Prepared::new(url, spec, keep_alive));
        Requesters::Url(
            (0..n)
                .map(|_| HttpRequester {
                    conn: Conn::new(addr, keep_alive),
                    prepared: prepared.clone(),
                    timeout: spec.timeout,
                })
                .collect(),
        )
    }

    /// Starts the engine; samples go to `tx` until the shape is done or `stop` is set.
    pub fn spawn(
        self,
        shape: Shape,
        tx: mpsc::UnboundedSender<Sample>,
        stop: StopHandle,
    ) -> tokio::task::JoinHandle<()> {
        match self {
            Requesters::Proxy(r) => tokio::spawn(engine::run(shape, r, tx, stop)),
            Requesters::Url(r) => tokio::spawn(engine::run(shape, r, tx, stop)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(f: RequestFlags) -> Result<RequestSpec> {
        RequestSpec::from_flags(&RequestFlags {
            method: if f.method.is_empty() {
                "POST"
            } else {
                f.method
            },
            timeout: if f.timeout.is_empty() {
                "10s"
            } else {
                f.timeout
            },
            ..f
        })
    }

    #[test]
    fn the_guide_request_is_the_default_and_expects_its_answer() {
        let s = spec(RequestFlags::default()).unwrap();
        assert_eq!(s.body, FRUIT_REQUEST.as_bytes());
        assert_eq!(s.expect_body.as_deref(), Some(FRUIT_ANSWER));
        assert_eq!(s.path, format!("{FRUIT_ROUTE}/"));
        let own = spec(RequestFlags {
            data: Some("x"),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(own.expect_body, None);
    }

    #[test]
    fn a_url_gives_its_path_unless_path_is_given() {
        let url = Url::parse("http://127.0.0.1:8000/a?b=1").unwrap();
        let from_url = spec(RequestFlags {
            url: Some(&url),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(from_url.path, "/a?b=1");
        let overridden = spec(RequestFlags {
            url: Some(&url),
            path: Some("/c"),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(overridden.path, "/c");
    }

    #[test]
    fn bad_flags_name_their_flag() {
        let err = |f: RequestFlags| spec(f).unwrap_err().to_string();
        assert!(
            err(RequestFlags {
                method: "G T",
                ..Default::default()
            })
            .contains("method")
        );
        assert!(
            err(RequestFlags {
                timeout: "0s",
                ..Default::default()
            })
            .contains("timeout")
        );
        assert!(
            err(RequestFlags {
                path: Some("x"),
                ..Default::default()
            })
            .contains("path")
        );
        let bad_header = ["NoColon".to_string()];
        assert!(
            err(RequestFlags {
                headers: &bad_header,
                ..Default::default()
            })
            .contains("header")
        );
    }
}
