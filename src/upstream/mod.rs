//! The pooled keep-alive client to DriveWealth (or the simulator), and how its failures read.
//!
//! The one distinction that matters for money is whether a request may have reached the
//! upstream. A failure to connect means it did not: nothing was sent, so nothing is reserved
//! (`502 UPSTREAM_UNAVAILABLE`). Any failure after that — a timeout, a reset, a half answer —
//! means it may have: the order is *in doubt* (`504 UPSTREAM_TIMEOUT`) and its reservation must
//! stay until the upstream's own record says otherwise.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use hyper::body::Incoming;
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use crate::config::UpstreamConfig;

pub mod auth;

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
#[derive(Clone)]
pub struct Upstream {
    /// Speaks plain HTTP to an `http://` upstream and TLS to an `https://` one.
    client: Client<HttpsConnector<HttpConnector>, ProxyBody>,
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
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_millis(config.pool_idle_timeout_ms))
            .pool_max_idle_per_host(config.pool_max_idle)
            .build(connector);
        let host = http::HeaderValue::from_str(base.authority().as_str())
            .map_err(|error| format!("upstream.url: the host cannot be a header: {error}"))?;
        Ok(Self {
            client,
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

    /// Sends a request whose URI is already the upstream's and waits for the answer's head.
    pub async fn send(
        &self,
        request: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        match tokio::time::timeout(self.timeout, self.send_untimed(request)).await {
            Err(_) => Err(self.no_answer_in_time()),
            Ok(answer) => answer,
        }
    }

    /// [`Upstream::send`] without its timeout, for a caller that bounds a longer exchange
    /// (the head and the whole body) with one timer instead of two.
    pub async fn send_untimed(
        &self,
        request: Request<ProxyBody>,
    ) -> Result<Response<Incoming>, UpstreamError> {
        match self.client.request(request).await {
            Ok(response) => Ok(response),
            Err(error) if error.is_connect() => Err(UpstreamError::Unavailable(describe(&error))),
            Err(error) => Err(UpstreamError::NoAnswer(describe(&error))),
        }
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
        response: Response<Incoming>,
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

/// The innermost cause is the useful part ("Connection refused (os error 111)").
fn describe(error: &(dyn std::error::Error + 'static)) -> String {
    let mut cause = error;
    while let Some(source) = cause.source() {
        cause = source;
    }
    cause.to_string()
}
