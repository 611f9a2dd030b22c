//! `--request-timeout`: one deadline for every API request, from sending it to the last byte of
//! its reply, as a layer around the client. A server that answers `/version` and then stalls
//! ends the command with an error naming the deadline instead of a wait for ever. Watches and
//! followed logs are streams meant to stay quiet for minutes: only their reply head is bounded.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use http::{Request, Response};
use http_body::{Body, Frame, SizeHint};
use tokio::time::{Instant, Sleep};
use tower::{BoxError, Layer, Service};

/// The error a request ends with when its deadline passes.
#[derive(Debug, thiserror::Error)]
#[error("no answer within {} (--request-timeout)", crate::flags::show_duration(*.0))]
pub struct TimedOut(pub Duration);

/// Bounds every request of the client by `limit`.
#[derive(Clone, Copy)]
pub struct DeadlineLayer {
    pub limit: Duration,
}

impl<S> Layer<S> for DeadlineLayer {
    type Service = DeadlineService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DeadlineService {
            inner,
            limit: self.limit,
        }
    }
}

#[derive(Clone)]
pub struct DeadlineService<S> {
    inner: S,
    limit: Duration,
}

/// A watch (`watch=true`) or a followed log (`follow=true`) streams for as long as it is read.
fn is_stream(uri: &http::Uri) -> bool {
    uri.query().is_some_and(|q| {
        q.split('&')
            .any(|kv| matches!(kv, "watch=true" | "watch=1" | "follow=true" | "follow=1"))
    })
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for DeadlineService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    ResBody: Body,
    ResBody::Error: Into<BoxError>,
{
    type Response = Response<DeadlineBody<ResBody>>;
    type Error = BoxError;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, BoxError>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), BoxError>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, request: Request<ReqBody>) -> Self::Future {
        let limit = self.limit;
        let deadline = Instant::now() + limit;
        let body_deadline = (!is_stream(request.uri())).then_some(deadline);
        let reply = self.inner.call(request);
        Box::pin(async move {
            let response = tokio::time::timeout_at(deadline, reply)
                .await
                .map_err(|_| TimedOut(limit))?
                .map_err(Into::into)?;
            Ok(response.map(|inner| DeadlineBody {
                inner: Box::pin(inner),
                sleep: body_deadline.map(|d| Box::pin(tokio::time::sleep_until(d))),
                limit,
            }))
        })
    }
}

/// A reply body that fails with `TimedOut` when its deadline passes before its end.
pub struct DeadlineBody<B> {
    inner: Pin<Box<B>>,
    sleep: Option<Pin<Box<Sleep>>>,
    limit: Duration,
}

impl<B> Body for DeadlineBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = B::Data;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, BoxError>>> {
        let this = self.get_mut();
        if let Poll::Ready(frame) = this.inner.as_mut().poll_frame(cx) {
            return Poll::Ready(frame.map(|f| f.map_err(Into::into)));
        }
        let expired = this
            .sleep
            .as_mut()
            .is_some_and(|sleep| sleep.as_mut().poll(cx).is_ready());
        if expired {
            return Poll::Ready(Some(Err(TimedOut(this.limit).into())));
        }
        Poll::Pending
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watches_and_followed_logs_are_streams() {
        let uri = |s: &str| s.parse::<http::Uri>().unwrap();
        assert!(is_stream(&uri("/api/v1/pods?watch=true&labelSelector=a")));
        assert!(is_stream(&uri(
            "/api/v1/namespaces/n/pods/p/log?follow=true"
        )));
        assert!(!is_stream(&uri("/api/v1/pods?labelSelector=watch%3Dtrue")));
        assert!(!is_stream(&uri("/version")));
    }
}
