//! A minimal HTTP/1.1 client for the query loop: one prepared request, sent again and again, over
//! a kept-alive connection or a fresh one each time. Small and allocation-free in steady state, so
//! the tool measures the server and not itself.

use std::net::SocketAddr;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::engine::Cause;

/// What the server answered.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub body_matches: bool,
}

/// A parsed `http://host:port/path?query` URL.
#[derive(Debug, Clone)]
pub struct Url {
    pub host: String,
    pub port: u16,
    pub path_and_query: String,
}

impl Url {
    /// Parses `url`; errors quote it with any password as `***` (see `redact`).
    pub fn parse(url: &str) -> Result<Url, String> {
        if let Some(c) = crate::redact::control_char(url) {
            return Err(format!(
                "must not contain control characters (found {:?})",
                c
            ));
        }
        let shown = crate::redact::url(url);
        if shown != url {
            return Err(format!(
                "credentials in the URL are not supported (got {shown:?}); send them with -H"
            ));
        }
        let rest = url.strip_prefix("http://").ok_or_else(|| {
            if url.starts_with("https://") {
                "https is not supported by --url; use plain http (the serve port speaks http)"
                    .to_string()
            } else {
                format!("must start with http:// (got {url:?})")
            }
        })?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => (
                h.to_string(),
                p.parse::<u16>()
                    .map_err(|_| format!("port must be a number from 1 to 65535 (got {p:?})"))?,
            ),
            _ => (authority.to_string(), 80),
        };
        if host.is_empty() {
            return Err(format!("has no host (got {url:?})"));
        }
        Ok(Url {
            host,
            port,
            path_and_query: path.to_string(),
        })
    }
}

/// The request to send, serialised once.
#[derive(Debug, Clone)]
pub struct Prepared {
    bytes: Vec<u8>,
    expect_status: Option<u16>,
    expect_body: Option<Vec<u8>>,
}

impl Prepared {
    pub fn new(url: &Url, request: &super::RequestSpec, keep_alive: bool) -> Prepared {
        let (method, path, headers, body) = (
            &request.method,
            &request.path,
            &request.headers,
            &request.body,
        );
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}:{}\r\nUser-Agent: kubectl-rayha\r\n",
            url.host, url.port
        );
        let has = |name: &str| headers.iter().any(|(k, _)| k.eq_ignore_ascii_case(name));
        for (k, v) in headers {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        if !body.is_empty() || method != "GET" {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
        }
        if !body.is_empty() && !has("content-type") {
            head.push_str("Content-Type: application/json\r\n");
        }
        if !keep_alive {
            head.push_str("Connection: close\r\n");
        }
        head.push_str("\r\n");
        let mut bytes = head.into_bytes();
        bytes.extend_from_slice(body);
        Prepared {
            bytes,
            expect_status: request.expect_status,
            expect_body: request
                .expect_body
                .as_ref()
                .map(|b| b.trim().as_bytes().to_vec()),
        }
    }
}

/// One client connection slot: keeps its stream between requests when keep-alive is on.
pub struct Conn {
    addr: SocketAddr,
    keep_alive: bool,
    stream: Option<TcpStream>,
    buf: Vec<u8>,
}

impl Conn {
    pub fn new(addr: SocketAddr, keep_alive: bool) -> Conn {
        Conn {
            addr,
            keep_alive,
            stream: None,
            buf: Vec::with_capacity(4096),
        }
    }

    /// Sends the request and reads the reply within `timeout`.
    pub async fn send(&mut self, req: &Prepared, timeout: Duration) -> Result<Reply, Cause> {
        match tokio::time::timeout(timeout, self.exchange(req)).await {
            Ok(result) => {
                if result.is_err() || !self.keep_alive {
                    self.stream = None;
                }
                result
            }
            Err(_) => {
                self.stream = None;
                Err(Cause::Timeout)
            }
        }
    }

    async fn exchange(&mut self, req: &Prepared) -> Result<Reply, Cause> {
        let reused = self.stream.is_some();
        if self.stream.is_none() {
            let s = TcpStream::connect(self.addr)
                .await
                .map_err(|e| Cause::Connect(e.kind().to_string()))?;
            let _ = s.set_nodelay(true);
            self.stream = Some(s);
        }
        let stream = self.stream.as_mut().expect("connected above");
        if let Err(e) = stream.write_all(&req.bytes).await {
            // A kept-alive connection the server closed meanwhile: retry once on a new one.
            if reused {
                self.stream = None;
                return Box::pin(self.exchange(req)).await;
            }
            return Err(Cause::Io(e.kind().to_string()));
        }
        match read_response(stream, &mut self.buf).await {
            Ok((status, body, close)) => {
                if close {
                    self.stream = None;
                }
                let status_ok = match req.expect_status {
                    Some(s) => status == s,
                    None => (200..300).contains(&status),
                };
                if !status_ok {
                    return Err(Cause::Status(status));
                }
                let body_matches = req
                    .expect_body
                    .as_deref()
                    .is_none_or(|want| trim(&self.buf[body.clone()]) == want);
                if !body_matches {
                    return Err(Cause::WrongBody);
                }
                Ok(Reply {
                    status,
                    body_matches,
                })
            }
            Err(ReadError::ClosedBeforeReply) if reused => {
                self.stream = None;
                Box::pin(self.exchange(req)).await
            }
            Err(ReadError::ClosedBeforeReply) => {
                Err(Cause::Io("connection closed before a reply".into()))
            }
            Err(ReadError::Io(e)) => Err(Cause::Io(e)),
            Err(ReadError::Malformed(m)) => Err(Cause::Protocol(m)),
        }
    }
}

fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |i| i + 1);
    &b[start..end]
}

/// The most of a reply body that is read: the guide's answer is two bytes, and a server that
/// sends more than this (or claims to) is a failure, not a reason to hold unbounded memory.
pub const MAX_BODY: usize = 1024 * 1024;

fn body_too_large() -> ReadError {
    ReadError::Malformed(format!("reply body over {} KiB", MAX_BODY / 1024))
}

enum ReadError {
    ClosedBeforeReply,
    Io(String),
    Malformed(String),
}

/// Reads one response into `buf`; returns the status, the body's range in `buf` and whether
/// the server will close the connection.
async fn read_response<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
) -> Result<(u16, std::ops::Range<usize>, bool), ReadError> {
    buf.clear();
    // Each read looks only at what is new (and the 3 bytes before it): headers that arrive in
    // small pieces cost linear time, not quadratic.
    let mut scanned = 0;
    let header_end = loop {
        if let Some(i) = find(&buf[scanned..], b"\r\n\r\n") {
            break scanned + i + 4;
        }
        scanned = buf.len().saturating_sub(3);
        if buf.len() > 64 * 1024 {
            return Err(ReadError::Malformed("response headers over 64 KiB".into()));
        }
        if fill(stream, buf).await? == 0 {
            return Err(if buf.is_empty() {
                ReadError::ClosedBeforeReply
            } else {
                ReadError::Malformed("connection closed inside the headers".into())
            });
        }
    };
    let head = std::str::from_utf8(&buf[..header_end])
        .map_err(|_| ReadError::Malformed("headers are not text".into()))?;
    let mut lines = head.split("\r\n");
    let status_line = lines.next().unwrap_or("");
    let mut parts = status_line.split(' ');
    let version = parts.next().unwrap_or("");
    let status: u16 = parts
        .next()
        .and_then(|s| s.parse().ok())
        .filter(|_| version.starts_with("HTTP/1."))
        .ok_or_else(|| {
            // Quote only the start: every distinct detail is counted apart.
            let shown: String = status_line.chars().take(40).collect();
            ReadError::Malformed(format!("bad status line {shown:?}"))
        })?;
    let mut content_length: Option<usize> = None;
    let mut chunked = false;
    let mut close = version == "HTTP/1.0";
    for line in lines {
        let Some((k, v)) = line.split_once(':') else {
            continue;
        };
        let v = v.trim();
        if k.eq_ignore_ascii_case("content-length") {
            content_length = v.parse().ok();
        } else if k.eq_ignore_ascii_case("transfer-encoding") {
            chunked = v.eq_ignore_ascii_case("chunked");
        } else if k.eq_ignore_ascii_case("connection") {
            close = v.eq_ignore_ascii_case("close");
        }
    }
    if chunked {
        return read_chunked(stream, buf, header_end)
            .await
            .map(|r| (status, r, close));
    }
    match content_length {
        Some(n) if n > MAX_BODY => Err(body_too_large()),
        Some(n) => {
            while buf.len() < header_end + n {
                if fill(stream, buf).await? == 0 {
                    return Err(ReadError::Malformed(
                        "connection closed inside the body".into(),
                    ));
                }
            }
            Ok((status, header_end..header_end + n, close))
        }
        None if status == 204 || status == 304 || (100..200).contains(&status) => {
            Ok((status, header_end..header_end, close))
        }
        None => {
            // Body until the server closes.
            while fill(stream, buf).await? > 0 {
                if buf.len() - header_end > MAX_BODY {
                    return Err(body_too_large());
                }
            }
            Ok((status, header_end..buf.len(), true))
        }
    }
}

/// Decodes a chunked body in place at the end of `buf`; returns its range.
async fn read_chunked<S: AsyncRead + Unpin>(
    stream: &mut S,
    buf: &mut Vec<u8>,
    start: usize,
) -> Result<std::ops::Range<usize>, ReadError> {
    let mut body = Vec::new();
    let mut pos = start;
    loop {
        let line_end = loop {
            if let Some(i) = find(&buf[pos..], b"\r\n") {
                break pos + i;
            }
            if buf.len() - pos > 4096 {
                return Err(ReadError::Malformed("chunk size line over 4 KiB".into()));
            }
            if fill(stream, buf).await? == 0 {
                return Err(ReadError::Malformed(
                    "connection closed inside a chunk".into(),
                ));
            }
        };
        let size_text = std::str::from_utf8(&buf[pos..line_end]).unwrap_or("");
        let size = usize::from_str_radix(size_text.split(';').next().unwrap_or("").trim(), 16)
            .map_err(|_| {
                let shown: String = size_text.chars().take(20).collect();
                ReadError::Malformed(format!("bad chunk size {shown:?}"))
            })?;
        if size > MAX_BODY - body.len() {
            return Err(body_too_large());
        }
        pos = line_end + 2;
        while buf.len() < pos + size + 2 {
            if fill(stream, buf).await? == 0 {
                return Err(ReadError::Malformed(
                    "connection closed inside a chunk".into(),
                ));
            }
        }
        if size == 0 {
            break;
        }
        body.extend_from_slice(&buf[pos..pos + size]);
        pos += size + 2;
        // Drop the decoded framing now and then: tiny chunks carry several bytes of it per byte
        // of body, and it must not grow the buffer past the body bound.
        if pos - start > 64 * 1024 {
            buf.drain(start..pos);
            pos = start;
        }
    }
    let begin = buf.len();
    buf.extend_from_slice(&body);
    Ok(begin..buf.len())
}

async fn fill<S: AsyncRead + Unpin>(stream: &mut S, buf: &mut Vec<u8>) -> Result<usize, ReadError> {
    let len = buf.len();
    buf.resize(len + 4096, 0);
    match stream.read(&mut buf[len..]).await {
        Ok(n) => {
            buf.truncate(len + n);
            Ok(n)
        }
        Err(e) => {
            buf.truncate(len);
            Err(ReadError::Io(e.kind().to_string()))
        }
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls() {
        let u = Url::parse("http://127.0.0.1:8000/fruit/").unwrap();
        assert_eq!(
            (u.host.as_str(), u.port, u.path_and_query.as_str()),
            ("127.0.0.1", 8000, "/fruit/")
        );
        let u = Url::parse("http://svc").unwrap();
        assert_eq!((u.port, u.path_and_query.as_str()), (80, "/"));
        assert!(Url::parse("https://x/").is_err());
        assert!(Url::parse("ftp://x/").is_err());
        assert!(Url::parse("http://x:99999/").is_err());
        let e = Url::parse("http://user:PW@h:80/").unwrap_err();
        assert!(e.contains("user:***@h") && !e.contains("PW"), "{e}");
        assert!(Url::parse("http://h/\r\nX-Injected: 1").is_err());
    }

    /// Serves `reply` to one connection and returns where to send the request.
    async fn one_reply(reply: Vec<u8>) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = listener.accept().await.unwrap();
            let mut req = [0u8; 1024];
            let _ = s.read(&mut req).await;
            let _ = s.write_all(&reply).await;
        });
        addr
    }

    async fn send_to(reply: &[u8]) -> Result<Reply, Cause> {
        let addr = one_reply(reply.to_vec()).await;
        let url = Url::parse(&format!("http://{addr}/")).unwrap();
        let spec = super::super::RequestSpec {
            method: "GET".into(),
            path: "/".into(),
            body: vec![],
            headers: vec![],
            expect_status: None,
            expect_body: None,
            timeout: Duration::from_secs(5),
        };
        let prepared = Prepared::new(&url, &spec, false);
        Conn::new(addr, false)
            .send(&prepared, Duration::from_secs(5))
            .await
    }

    #[tokio::test]
    async fn hostile_replies_are_failures_with_a_cause() {
        let protocol = |r: Result<Reply, Cause>| match r {
            Err(Cause::Protocol(m)) => m,
            other => panic!("want a protocol failure, got {other:?}"),
        };
        // A chunk size that overflows the position arithmetic.
        let m = protocol(
            send_to(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nFFFFFFFFFFFFFFFF\r\nx")
                .await,
        );
        assert!(m.contains("body over"), "{m}");
        // A body claimed, or sent, beyond the bound.
        let m = protocol(send_to(b"HTTP/1.1 200 OK\r\nContent-Length: 99999999999\r\n\r\n").await);
        assert!(m.contains("body over"), "{m}");
        let mut until_close = b"HTTP/1.1 200 OK\r\n\r\n".to_vec();
        until_close.resize(until_close.len() + MAX_BODY + 10, b'x');
        assert!(protocol(send_to(&until_close).await).contains("body over"));
        let mut chunks = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
        for _ in 0..(MAX_BODY / 1000 + 2) {
            chunks.extend_from_slice(b"3E8\r\n");
            chunks.extend(std::iter::repeat_n(b'y', 1000));
            chunks.extend_from_slice(b"\r\n");
        }
        assert!(protocol(send_to(&chunks).await).contains("body over"));
        // A long bad status line is quoted only in part.
        let mut bad = b"HTTP/1.1 ".to_vec();
        bad.extend(std::iter::repeat_n(b'z', 10_000));
        bad.extend_from_slice(b"\r\n\r\n");
        assert!(protocol(send_to(&bad).await).len() < 80);
        // A normal chunked reply still reads.
        let ok =
            send_to(b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n12\r\n0\r\n\r\n")
                .await;
        assert!(ok.is_ok(), "{ok:?}");
    }

    #[test]
    fn request_bytes() {
        let u = Url::parse("http://h:8000/fruit/").unwrap();
        let req = super::super::RequestSpec {
            method: "POST".into(),
            path: "/fruit/".into(),
            body: br#"["PEAR", 12]"#.to_vec(),
            headers: vec![],
            expect_status: None,
            expect_body: Some("12".into()),
            timeout: Duration::from_secs(1),
        };
        let p = Prepared::new(&u, &req, false);
        let text = String::from_utf8(p.bytes.clone()).unwrap();
        assert!(text.starts_with("POST /fruit/ HTTP/1.1\r\nHost: h:8000\r\n"));
        assert!(text.contains("Content-Length: 12\r\n"));
        assert!(text.contains("Connection: close\r\n"));
        assert!(text.ends_with("\r\n\r\n[\"PEAR\", 12]"));
    }

    /// The reply reader fed from memory: (status, body) or the failure's words.
    fn read_bytes(reply: &[u8]) -> Result<(u16, Vec<u8>), String> {
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .unwrap();
        let mut stream = reply;
        let mut buf = Vec::new();
        rt.block_on(read_response(&mut stream, &mut buf))
            .map(|(status, body, _)| (status, buf[body].to_vec()))
            .map_err(|e| match e {
                ReadError::ClosedBeforeReply => "closed".to_string(),
                ReadError::Io(e) | ReadError::Malformed(e) => e,
            })
    }

    /// Replies made of HTTP's own pieces, so that the search reaches past the status line.
    fn reply_strategy() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let piece = prop_oneof![
            Just(b"HTTP/1.1 200 OK\r\n".to_vec()),
            Just(b"HTTP/1.0 204 No\r\n".to_vec()),
            Just(b"Transfer-Encoding: chunked\r\n".to_vec()),
            Just(b"Connection: close\r\n".to_vec()),
            Just(b"\r\n".to_vec()),
            Just(b"0\r\n\r\n".to_vec()),
            "[0-9a-fA-F]{1,17}".prop_map(|s| format!("{s}\r\n").into_bytes()),
            (0usize..20_000_000).prop_map(|n| format!("Content-Length: {n}\r\n").into_bytes()),
            proptest::collection::vec(any::<u8>(), 0..64),
        ];
        proptest::collection::vec(piece, 0..24).prop_map(|pieces| pieces.concat())
    }

    /// Well-formed heads with hostile framing: sizes at the edges of the integer types.
    fn framed_reply_strategy() -> impl proptest::strategy::Strategy<Value = Vec<u8>> {
        use proptest::prelude::*;
        let edge = prop_oneof![
            0u64..64,
            Just(u64::MAX),
            (0u64..4).prop_map(|d| u64::MAX - d),
            Just(MAX_BODY as u64),
            Just(MAX_BODY as u64 + 1),
            any::<u64>(),
        ];
        let chunk =
            (edge.clone(), proptest::collection::vec(any::<u8>(), 0..8)).prop_map(|(n, data)| {
                [format!("{n:X}\r\n").into_bytes(), data, b"\r\n".to_vec()].concat()
            });
        let chunked = proptest::collection::vec(chunk, 0..6).prop_map(|chunks| {
            [
                b"Transfer-Encoding: chunked\r\n\r\n".to_vec(),
                chunks.concat(),
            ]
            .concat()
        });
        let sized = (edge, proptest::collection::vec(any::<u8>(), 0..64)).prop_map(|(n, body)| {
            [format!("Content-Length: {n}\r\n\r\n").into_bytes(), body].concat()
        });
        prop_oneof![chunked, sized]
            .prop_map(|rest| [b"HTTP/1.1 200 OK\r\n".to_vec(), rest].concat())
    }

    proptest::proptest! {
        #![proptest_config(proptest::test_runner::Config {
            cases: 512,
            failure_persistence: None,
            ..Default::default()
        })]

        /// No reply makes the reader panic or hold more than the body bound.
        #[test]
        fn any_reply_reads_within_bounds(reply in reply_strategy()) {
            if let Ok((_, body)) = read_bytes(&reply) {
                proptest::prop_assert!(body.len() <= MAX_BODY);
            }
        }

        #[test]
        fn any_framing_reads_within_bounds(reply in framed_reply_strategy()) {
            if let Ok((_, body)) = read_bytes(&reply) {
                proptest::prop_assert!(body.len() <= MAX_BODY);
            }
        }

        #[test]
        fn any_bytes_read_within_bounds(reply in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..512)) {
            if let Ok((_, body)) = read_bytes(&reply) {
                proptest::prop_assert!(body.len() <= MAX_BODY);
            }
        }
    }
}
