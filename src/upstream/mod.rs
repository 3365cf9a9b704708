//! The pooled keep-alive client to DriveWealth (or the simulator), and how its failures read.
//!
//! The one distinction that matters for money is whether a request may have reached the
//! upstream. A failure to connect means it did not: nothing was sent, so nothing is reserved
//! (`502 UPSTREAM_UNAVAILABLE`). Any failure after that — a timeout, a reset, a half answer —
//! means it may have: the order is *in doubt* (`504 UPSTREAM_TIMEOUT`) and its reservation must
//! stay until the upstream's own record says otherwise.

use std::time::Duration;

use bytes::Bytes;
use std::sync::Arc;

use http::{Request, Response, Uri};
use http_body_util::combinators::BoxBody;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;

use crate::config::UpstreamConfig;
use pool::{Pool, Sender};

pub mod auth;
mod pool;

pub use pool::UpstreamBody;

/// Errors a proxied body may carry.
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
/// A request or response body that omnigate streams through.
pub type ProxyBody = BoxBody<Bytes, BoxError>;

/// A whole body in memory.
pub fn full(bytes: impl Into<Bytes>) -> ProxyBody {
    use http_body_util::BodyExt;
    http_body_util::Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed()
}

/// No body.
pub fn empty() -> ProxyBody {
    full(Bytes::new())
}

pub use crate::config::UpstreamBase;

/// Why the upstream gave no usable answer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpstreamError {
    /// Nothing was sent: the connection could not be opened.
    #[error("DriveWealth could not be reached: {0}")]
    Unavailable(String),
    /// The request was (or may have been) sent, and no complete answer came back.
    #[error("DriveWealth did not answer: {0}")]
    NoAnswer(String),
}

/// The pooled client. Cheap to clone; clones share the pool.
///
/// It keeps HTTP/1 connections to its one upstream itself, over hyper's connection API, rather
/// than through hyper-util's general pool: that pool keys connections by host (a hash of the
/// authority per request) and spawns a task per answer to see its connection idle again, which
/// was most of the upstream client's cost per order. Here an answer's body gives its connection
/// back when read to its end ([`UpstreamBody`]).
#[derive(Clone)]
pub struct Upstream {
    /// Opens TCP connections, with TLS to an `https://` upstream.
    connector: HttpsConnector<HttpConnector>,
    pool: Arc<Pool>,
    /// What the connector is asked to connect to: the base's scheme and authority.
    connect_to: Uri,
    base: UpstreamBase,
    /// The `host` header every forwarded request carries: the base's authority, made once.
    host: http::HeaderValue,
    timeout: Duration,
}

impl Upstream {
    /// The client for `base`; `Err` names `upstream.ca_file` when it cannot be read.
    pub fn new(base: UpstreamBase, config: &UpstreamConfig) -> Result<Self, String> {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_millis(config.connect_timeout_ms)));
        connector.set_nodelay(true);
        // The TLS layer takes `https://` URIs; it hands plain `http://` ones through.
        connector.enforce_http(false);
        let tls = crate::tls::client_config(config.ca_file.as_deref())?;
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(connector);
        let pool = Pool::new(
            config.pool_max_idle,
            Duration::from_millis(config.pool_idle_timeout_ms),
        );
        let host = http::HeaderValue::from_str(base.authority().as_str())
            .map_err(|error| format!("upstream.url: the host cannot be a header: {error}"))?;
        let connect_to = base
            .uri_for(None)
            .map_err(|error| format!("upstream.url: {error}"))?;
        Ok(Self {
            connector,
            pool,
            connect_to,
            base,
            host,
            timeout: Duration::from_millis(config.timeout_ms),
        })
    }

    pub fn base(&self) -> &UpstreamBase {
        &self.base
    }

    /// The `host` header for a request to the upstream.
    pub fn host(&self) -> &http::HeaderValue {
        &self.host
    }

    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Sends a request whose URI is the upstream's (from [`UpstreamBase::uri_for`], or
    /// [`UpstreamBase::origin_uri_for`]) and waits for the answer's head.
    pub async fn send(
        &self,
        request: Request<ProxyBody>,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        match tokio::time::timeout(self.timeout, self.send_untimed(request)).await {
            Err(_) => Err(self.no_answer_in_time()),
            Ok(answer) => answer,
        }
    }

    /// [`Upstream::send`] without its timeout, for a caller that bounds a longer exchange
    /// (the head and the whole body) with one timer instead of two.
    ///
    /// A pooled connection the upstream has closed in the meantime is passed over, and a request
    /// it turned away before writing any of it is sent again on another: hyper hands back a
    /// request it did not start to write, so a retry never sends an order twice.
    pub async fn send_untimed(
        &self,
        request: Request<ProxyBody>,
    ) -> Result<Response<UpstreamBody>, UpstreamError> {
        debug_assert!(request
            .uri()
            .authority()
            .is_none_or(|authority| authority == self.base.authority()));
        let mut request = origin_form(request);
        // HTTP/1.1 requires one (RFC 9112 §3.2); omnigate's own calls may leave it out.
        if !request.headers().contains_key(http::header::HOST) {
            request
                .headers_mut()
                .insert(http::header::HOST, self.host.clone());
        }
        loop {
            let (mut sender, pooled) = match self.pool.take() {
                Some(sender) => (sender, true),
                // Boxed: a connect's state (TCP, TLS, handshake) is most of this future's size,
                // and every order's future holds this one and is moved whole, while a connect is
                // rare.
                None => (Box::pin(self.connect()).await?, false),
            };
            // Not waited for: a connection not ready now may never be (the caller's timeout would
            // then read as an answer lost after sending), and a new one costs only a connect.
            if pooled && !ready_now(&mut sender) {
                continue;
            }
            match sender.try_send_request(request).await {
                Ok(response) => {
                    let pool = self.pool.clone();
                    return Ok(response.map(|body| UpstreamBody::new(body, sender, pool)));
                }
                Err(mut failed) => match failed.take_message() {
                    Some(unsent) if pooled => request = unsent,
                    // Not one byte of it was written: as good as never connected.
                    Some(_) => return Err(UpstreamError::Unavailable(describe(failed.error()))),
                    None => return Err(UpstreamError::NoAnswer(describe(failed.error()))),
                },
            }
        }
    }

    /// A new connection, its task started on the current runtime. Every failure here is before
    /// anything was sent.
    async fn connect(&self) -> Result<Sender, UpstreamError> {
        use tower_service::Service;
        let mut connector = self.connector.clone();
        let unavailable =
            |error: &(dyn std::error::Error + 'static)| UpstreamError::Unavailable(describe(error));
        std::future::poll_fn(|cx| connector.poll_ready(cx))
            .await
            .map_err(|error| unavailable(&*error))?;
        let io = connector
            .call(self.connect_to.clone())
            .await
            .map_err(|error| unavailable(&*error))?;
        let (sender, connection) = hyper::client::conn::http1::handshake(io)
            .await
            .map_err(|error| unavailable(&error))?;
        tokio::spawn(async move {
            if let Err(error) = connection.await {
                tracing::debug!(%error, "upstream connection ended");
            }
        });
        Ok(sender)
    }

    /// No answer's head within the upstream timeout.
    pub fn no_answer_in_time(&self) -> UpstreamError {
        UpstreamError::NoAnswer(format!("no answer within {} ms", self.timeout.as_millis()))
    }
}

impl Upstream {
    /// The whole body of an answer to one of omnigate's own calls, at most `max_bytes`, within
    /// the upstream timeout; a cut, late or oversized answer is an error saying which.
    pub async fn read_body(
        &self,
        response: Response<UpstreamBody>,
        max_bytes: usize,
    ) -> Result<Bytes, String> {
        use http_body_util::{BodyExt, Limited};
        tokio::time::timeout(
            self.timeout,
            Limited::new(response.into_body(), max_bytes).collect(),
        )
        .await
        .map_err(|_| "the answer did not finish in time".to_owned())?
        .map(|collected| collected.to_bytes())
        .map_err(|error| error.to_string())
    }
}

/// Whether a pooled connection can take a request at once (one poll, no wait).
fn ready_now(sender: &mut Sender) -> bool {
    let waker = std::task::Waker::noop();
    let mut context = std::task::Context::from_waker(waker);
    matches!(
        sender.poll_ready(&mut context),
        std::task::Poll::Ready(Ok(()))
    )
}

/// `request` with its URI in origin form (`/path?query`), as HTTP/1 sends it to an origin server;
/// the connection already says which server.
fn origin_form(mut request: Request<ProxyBody>) -> Request<ProxyBody> {
    if request.uri().scheme().is_some() {
        let path = request.uri().path_and_query().cloned();
        let mut parts = http::uri::Parts::default();
        parts.path_and_query =
            Some(path.unwrap_or_else(|| http::uri::PathAndQuery::from_static("/")));
        if let Ok(uri) = Uri::from_parts(parts) {
            *request.uri_mut() = uri;
        }
    }
    request
}

/// The innermost cause is the useful part ("Connection refused (os error 111)").
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}

#[cfg(test)]
mod tests;
