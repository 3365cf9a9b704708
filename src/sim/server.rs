//! HTTP/1.1 serving for the simulator: accept loop, keep-alive connections, routing, and the
//! faults that act on a connection rather than on an answer (hold it, reset it).

use std::io;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, Semaphore};

use super::faults::Fault;
use super::wire::{self, ApiError};
use super::{stopped_signalled, Simulator};

/// Largest request body read; a larger one is answered 413.
pub const BODY_BYTES_MAX: usize = 1024 * 1024;
/// Open connections; further ones wait in the kernel's accept backlog.
pub const CONNECTIONS_MAX: usize = 10_000;
/// How long in-flight answers may take to finish once shutdown is signalled. Held (timed-out)
/// requests and latency sleeps end at once; this only bounds answers already being written.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// Why a request gets no answer: hyper closes the connection when a service fails.
#[derive(Debug)]
struct NoAnswer(&'static str);

impl std::fmt::Display for NoAnswer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for NoAnswer {}

type Answer = Result<Response<Full<Bytes>>, NoAnswer>;

pub(super) async fn serve(
    sim: Arc<Simulator>,
    listener: TcpListener,
    mut shutdown: watch::Receiver<bool>,
) {
    let permits = Arc::new(Semaphore::new(CONNECTIONS_MAX));
    loop {
        let permit = tokio::select! {
            permit = Arc::clone(&permits).acquire_owned() => match permit {
                Ok(permit) => permit,
                Err(_) => break, // the semaphore is never closed
            },
            _ = shutdown_signalled(&mut shutdown) => break,
        };
        let (stream, _peer) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(accepted) => accepted,
                Err(error) => {
                    // Out of file descriptors and the like: back off instead of spinning.
                    tracing::warn!(%error, "simulator: accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = shutdown_signalled(&mut shutdown) => break,
        };
        let sim = Arc::clone(&sim);
        tokio::spawn(async move {
            serve_connection(sim, stream).await;
            drop(permit);
        });
    }
    sim.stopped.send_replace(true);
    // Every connection task holds a permit until it ends: having them all back means every
    // connection is closed.
    let all = CONNECTIONS_MAX as u32;
    if tokio::time::timeout(
        SHUTDOWN_GRACE + Duration::from_secs(1),
        permits.acquire_many(all),
    )
    .await
    .is_err()
    {
        tracing::warn!("simulator: connections still open after the shutdown grace period");
    }
}

/// Resolves when `shutdown` turns true; never, when its sender is gone.
async fn shutdown_signalled(shutdown: &mut watch::Receiver<bool>) {
    if shutdown.wait_for(|stop| *stop).await.is_err() {
        std::future::pending::<()>().await;
    }
}

async fn serve_connection(sim: Arc<Simulator>, stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let reset = Arc::new(AtomicBool::new(false));
    let io = TokioIo::new(FaultableStream {
        stream,
        reset: Arc::clone(&reset),
    });
    let service = {
        let sim = Arc::clone(&sim);
        service_fn(move |request| handle(Arc::clone(&sim), Arc::clone(&reset), request))
    };
    let connection = http1::Builder::new()
        .keep_alive(true)
        .serve_connection(io, service);
    let mut connection = std::pin::pin!(connection);
    let mut stopped = sim.stopped.subscribe();
    tokio::select! {
        result = connection.as_mut() => {
            if let Err(error) = result {
                tracing::debug!(%error, "simulator: connection ended");
            }
        }
        _ = stopped_signalled(&mut stopped) => {
            connection.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, connection).await;
        }
    }
}

async fn handle(sim: Arc<Simulator>, reset: Arc<AtomicBool>, request: Request<Incoming>) -> Answer {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let upstream_path = path == "/back-office" || path.starts_with("/back-office/");
    // Everything but the simulator's own control paths counts as reaching "DriveWealth", so a
    // test can see a request that should have gone nowhere, whatever its path.
    let request_no = sim.count_request(!path.starts_with("/sim/"));
    let (fault, latency_ms) = if upstream_path {
        sim.roll_fault()
    } else {
        (Fault::None, 0)
    };

    let (parts, body) = request.into_parts();
    let body = match Limited::new(body, BODY_BYTES_MAX).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => {
            return Ok(error_response(
                request_no,
                &ApiError::body_too_large(BODY_BYTES_MAX),
            ));
        }
        Err(_) => return Err(NoAnswer("request body could not be read")),
    };

    let mut stopped = sim.stopped.subscribe();
    if latency_ms > 0 {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(latency_ms)) => {}
            _ = stopped_signalled(&mut stopped) => return Err(NoAnswer("shutting down")),
        }
    }
    match fault {
        Fault::None => {}
        Fault::Timeout => {
            tracing::debug!(%method, %path, "simulator: fault timeout, holding the request");
            stopped_signalled(&mut stopped).await;
            return Err(NoAnswer("fault: timeout"));
        }
        Fault::Reset => {
            tracing::debug!(%method, %path, "simulator: fault reset");
            reset.store(true, Ordering::Relaxed);
            return Err(NoAnswer("fault: reset"));
        }
        Fault::Error => {
            tracing::debug!(%method, %path, "simulator: fault 503");
            let error = ApiError::unavailable("Service temporarily unavailable (simulated fault)");
            return Ok(error_response(request_no, &error));
        }
    }

    let outcome = route(&sim, &method, &path, &parts.headers, &body);
    Ok(match outcome {
        Ok(json) => json_response(request_no, StatusCode::OK, json),
        Err(error) => error_response(request_no, &error),
    })
}

fn route(
    sim: &Arc<Simulator>,
    method: &Method,
    path: &str,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<String, ApiError> {
    if path.starts_with("/back-office/") {
        if *method == Method::POST && path == "/back-office/auth/tokens" {
            return sim.tokens.issue(body, sim.clock.now());
        }
        sim.tokens.check(headers, sim.clock.now())?;
    }
    if let Some(rest) = path.strip_prefix("/back-office/orders/") {
        if let Some(order_no) = rest.strip_prefix("byOrderNo/") {
            if *method == Method::GET && !order_no.is_empty() && !order_no.contains('/') {
                return sim.order_status_by_no(order_no);
            }
        } else if !rest.is_empty() && !rest.contains('/') {
            match *method {
                Method::GET => return sim.order_status(rest),
                Method::PATCH => return sim.cancel_order(rest, body),
                _ => {}
            }
        }
        return Err(ApiError::no_route(method.as_str(), path));
    }
    if let Some(account_id) = path
        .strip_prefix("/back-office/accounts/")
        .and_then(|rest| rest.strip_suffix("/summary/orders"))
    {
        if *method == Method::GET && !account_id.is_empty() && !account_id.contains('/') {
            return Ok(sim.resting_orders_json(account_id));
        }
        return Err(ApiError::no_route(method.as_str(), path));
    }
    if let Some(symbol) = path.strip_prefix("/sim/instruments/") {
        if *method == Method::POST && !symbol.is_empty() && !symbol.contains('/') {
            return sim.set_instrument_status(symbol, body);
        }
        return Err(ApiError::no_route(method.as_str(), path));
    }
    match (method, path) {
        (&Method::POST, "/back-office/orders") => sim.create_order(body, header_pairs(headers)),
        (&Method::GET, "/sim/instruments") => Ok(sim.listings.to_json()),
        (&Method::GET, "/sim/prices") => Ok(sim.prices.to_json()),
        (&Method::POST, "/sim/deposits") => sim.deposit(body),
        (&Method::GET, "/sim/omni") => Ok(sim.funds.to_json()),
        (&Method::GET, "/sim/events") => Ok(sim.outbox.to_json()),
        (&Method::GET, "/sim/orders") => Ok(sim.orders_json()),
        (&Method::GET, "/sim/requests/count") => Ok(sim.requests_count_json()),
        (&Method::POST, "/sim/prices") => sim.set_prices(wire::parse_prices(body)?),
        (&Method::GET, "/sim/fills") => Ok(sim.fills_json()),
        (&Method::PUT, "/sim/fills") => Ok(sim.update_fills(wire::parse_fills(body)?)),
        (&Method::GET, "/sim/faults") => Ok(sim.faults_json()),
        (&Method::PUT, "/sim/faults") => Ok(sim.update_faults(wire::parse_faults(body)?)),
        (&Method::GET, "/sim/clock") => Ok(sim.clock.to_json()),
        (&Method::PUT, "/sim/clock") => sim.set_clock(body),
        _ => Err(ApiError::no_route(method.as_str(), path)),
    }
}

/// Headers as received, in order, names lower-case (as `http` keeps them); a repeated header's
/// values are joined with `", "`. Bytes that are not UTF-8 become U+FFFD.
fn header_pairs(headers: &HeaderMap) -> Vec<(String, String)> {
    headers
        .keys()
        .map(|name| {
            let values: Vec<String> = headers
                .get_all(name)
                .iter()
                .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned())
                .collect();
            (name.as_str().to_owned(), values.join(", "))
        })
        .collect()
}

fn json_response(request_no: u64, status: StatusCode, json: String) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from(json)));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        http::header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    // DriveWealth puts a request id on every response.
    headers.insert("dw-request-id", HeaderValue::from(request_no));
    response
}

fn error_response(request_no: u64, error: &ApiError) -> Response<Full<Bytes>> {
    let status = StatusCode::from_u16(error.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    json_response(request_no, status, error.body())
}

/// The connection's socket, with a switch that turns its close into a reset: when a request
/// draws the reset fault, the service sets `reset` and fails, hyper drops the connection, and
/// the drop closes the socket with `SO_LINGER` 0, which sends RST instead of FIN.
struct FaultableStream {
    stream: TcpStream,
    reset: Arc<AtomicBool>,
}

impl FaultableStream {
    fn resetting(&self) -> bool {
        self.reset.load(Ordering::Relaxed)
    }
}

fn reset_error() -> io::Error {
    io::Error::new(io::ErrorKind::ConnectionReset, "simulated reset")
}

impl Drop for FaultableStream {
    fn drop(&mut self) {
        if self.resetting() {
            // With a zero linger, close() does not block: it discards the send buffer and
            // sends RST.
            let _ = self.stream.set_zero_linger();
        }
    }
}

impl AsyncRead for FaultableStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.resetting() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut this.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for FaultableStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.resetting() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut this.stream).poll_write(cx, buf)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.resetting() {
            return Poll::Ready(Err(reset_error()));
        }
        Pin::new(&mut this.stream).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        if this.resetting() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.stream).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        // A FIN before the RST would read as a clean close; skip it.
        if this.resetting() {
            return Poll::Ready(Ok(()));
        }
        Pin::new(&mut this.stream).poll_shutdown(cx)
    }
}
