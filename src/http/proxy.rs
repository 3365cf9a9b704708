//! Forwarding to the upstream as an HTTP proxy must (RFC 9110 §7.6): end-to-end headers pass
//! unchanged, hop-by-hop headers (and those the `connection` header names) stop here, `host`
//! becomes the upstream's, and bodies stream in both directions.

use http::header::{
    HeaderName, CONNECTION, CONTENT_LENGTH, HOST, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, TE,
    TRAILER, TRANSFER_ENCODING, UPGRADE,
};
use http::{HeaderMap, Request, Response, Version};
use http_body_util::{BodyExt, Limited};
use hyper::body::Incoming;

use super::body::BodyLimits;
use super::respond::{self, GatewayError};
use crate::reject::Reject;
use crate::upstream::{ProxyBody, Upstream, UpstreamBody};

/// Headers that describe one connection, not the message (RFC 9110 §7.6.1), plus the old
/// `proxy-connection` that some clients still send. Names, not strings: removing by a string
/// parses it into a name first, nine times for every message forwarded each way.
static HOP_BY_HOP: [HeaderName; 9] = [
    // First: `strip_hop_by_hop` reads the names it lists.
    CONNECTION,
    HeaderName::from_static("keep-alive"),
    PROXY_AUTHENTICATE,
    PROXY_AUTHORIZATION,
    HeaderName::from_static("proxy-connection"),
    TE,
    TRAILER,
    TRANSFER_ENCODING,
    UPGRADE,
];

/// Removes hop-by-hop headers, including every header the `connection` header lists.
pub fn strip_hop_by_hop(headers: &mut HeaderMap) {
    // One pass over the names first: a removal hashes its name whether or not the map holds it,
    // and most messages hold none of these or only `connection`.
    let mut present = 0u16;
    for name in headers.keys() {
        if let Some(at) = HOP_BY_HOP.iter().position(|hop| hop == name) {
            present |= 1 << at;
        }
    }
    if present == 0 {
        return;
    }
    // HOP_BY_HOP[0] is `connection`. It usually lists only names removed below anyway (an
    // upstream's `keep-alive`); only another name must be parsed, at an allocation, to go.
    if present & 1 != 0 && listed_names(headers).any(|name| !is_hop_by_hop(name)) {
        let listed: Vec<HeaderName> = listed_names(headers)
            .filter_map(|name| HeaderName::from_bytes(name.as_bytes()).ok())
            .collect();
        for name in listed {
            headers.remove(name);
        }
    }
    for (at, name) in HOP_BY_HOP.iter().enumerate() {
        if present & (1 << at) != 0 {
            headers.remove(name);
        }
    }
}

/// The names the `connection` header lists: comma-separated, trimmed, in any case; a value
/// that is not visible ASCII is skipped.
fn listed_names(headers: &HeaderMap) -> impl Iterator<Item = &str> {
    headers
        .get_all(CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .filter(|name| !name.is_empty())
}

fn is_hop_by_hop(name: &str) -> bool {
    HOP_BY_HOP
        .iter()
        .any(|hop| name.eq_ignore_ascii_case(hop.as_str()))
}

/// The upstream request for an incoming request's head and a body.
pub fn upstream_request(
    upstream: &Upstream,
    mut parts: http::request::Parts,
    body: ProxyBody,
) -> Result<Request<ProxyBody>, GatewayError> {
    let uri = upstream
        .base()
        .origin_uri_for(parts.uri.path_and_query())
        .map_err(|error| {
            GatewayError::Internal(format!("cannot build the upstream URI: {error}"))
        })?;
    strip_hop_by_hop(&mut parts.headers);
    parts.headers.insert(HOST, upstream.host().clone());
    parts.uri = uri;
    parts.version = Version::HTTP_11;
    Ok(Request::from_parts(parts, body))
}

/// The upstream's answer as ours: hop-by-hop headers dropped, body streamed.
pub fn relay(response: Response<UpstreamBody>) -> Response<ProxyBody> {
    let (mut parts, body) = response.into_parts();
    strip_hop_by_hop(&mut parts.headers);
    Response::from_parts(parts, body.map_err(Into::into).boxed())
}

/// Forwards any request unchanged, streaming both bodies; the request body is still held to
/// `server.max_body_bytes`.
pub async fn forward(
    upstream: &Upstream,
    request: Request<Incoming>,
    limits: BodyLimits,
) -> Response<ProxyBody> {
    let (parts, body) = request.into_parts();
    let declared = parts
        .headers
        .get(CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|value| value.parse::<u64>().ok());
    if declared.is_some_and(|length| length > limits.max_bytes as u64) {
        return respond::rejected(
            &Reject::invalid(format!(
                "the request body is larger than the {} bytes allowed (server.max_body_bytes)",
                limits.max_bytes
            ))
            .with_status(413),
        );
    }
    let body = Limited::new(body, limits.max_bytes).boxed();
    let request = match upstream_request(upstream, parts, body) {
        Ok(request) => request,
        Err(error) => return error.into_response(),
    };
    match upstream.send(request).await {
        Ok(response) => relay(response),
        Err(error) => GatewayError::from(error).into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn hop_by_hop_headers_stop_here() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("authorization", "Bearer t"),
            ("dw-client-app-key", "k"),
            ("connection", "keep-alive, x-trace-hop"),
            ("x-trace-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("te", "trailers"),
            ("proxy-authorization", "Basic x"),
            ("upgrade", "h2c"),
        ] {
            headers.append(name, HeaderValue::from_static(value));
        }
        strip_hop_by_hop(&mut headers);
        let mut left: Vec<&str> = headers.keys().map(|name| name.as_str()).collect();
        left.sort_unstable();
        assert_eq!(left, ["authorization", "dw-client-app-key"]);
    }

    /// Each hop-by-hop name alone, beside end-to-end ones, goes; a message without any is left
    /// as it is.
    #[test]
    fn each_hop_by_hop_header_alone_stops_here() {
        let end_to_end = |headers: &mut HeaderMap| {
            headers.insert("content-type", HeaderValue::from_static("application/json"));
            headers.append("x-b", HeaderValue::from_static("1"));
            headers.append("x-b", HeaderValue::from_static("2"));
        };
        for hop in &HOP_BY_HOP {
            let mut headers = HeaderMap::new();
            end_to_end(&mut headers);
            headers.append(hop, HeaderValue::from_static("close"));
            headers.append(hop, HeaderValue::from_static("x-c"));
            strip_hop_by_hop(&mut headers);
            assert!(!headers.contains_key(hop), "{hop}");
            assert_eq!(headers.len(), 3, "{hop}: {headers:?}");
        }
        let mut untouched = HeaderMap::new();
        end_to_end(&mut untouched);
        let before = untouched.clone();
        strip_hop_by_hop(&mut untouched);
        assert_eq!(untouched, before);
    }

    /// What `connection` lists goes, in any case and spacing, whether it names only hop-by-hop
    /// headers (the common `keep-alive`) or end-to-end ones too; `close` names nothing present.
    #[test]
    fn what_connection_lists_stops_here() {
        for (listed, present, left) in [
            ("keep-alive", &["keep-alive", "x-b"][..], &["x-b"][..]),
            ("Keep-Alive ,TE", &["keep-alive", "te", "x-b"], &["x-b"]),
            ("keep-alive, X-B", &["keep-alive", "x-b", "x-c"], &["x-c"]),
            ("close", &["x-b"], &["x-b"]),
            (" , x-b,, ", &["x-b", "x-c"], &["x-c"]),
            ("upgrade,x-c", &["x-b", "x-c"], &["x-b"]),
        ] {
            let mut headers = HeaderMap::new();
            headers.insert(CONNECTION, HeaderValue::from_static(listed));
            for name in present {
                headers.append(*name, HeaderValue::from_static("1"));
            }
            strip_hop_by_hop(&mut headers);
            let mut kept: Vec<&str> = headers.keys().map(|name| name.as_str()).collect();
            kept.sort_unstable();
            assert_eq!(kept, left, "connection: {listed:?}");
        }
    }
}
