//! What a request on the order listener is, decided in one function from its method and raw
//! path (SPEC §3.0 "No side doors").
//!
//! A proxy is only as strict as the most lenient reader behind it. Many HTTP stacks route
//! `//back-office/orders`, `/back-office/./orders`, `/back-office/%6Frders`,
//! `/back-office%2Forders`, `/back-office/orders/` or `/back-office/orders;x=1` to the order
//! endpoint, and some match paths case-insensitively; if omnigate streamed those through its
//! transparent proxy, an order would reach DriveWealth undecided. So [`route`] answers
//! [`Route::Refuse`] for every path that is not in canonical form, whatever it names, and for
//! case variants of the order paths; everything that is canonical and not an order path is
//! [`Route::Proxy`]. The fuzz target `router` checks the property that matters: nothing that
//! normalises to an order path is ever proxied.
//!
//! Canonical, here, is stricter than RFC 3986 §6 normalisation: a path is canonical when it
//! starts with `/`, has no empty, `.` or `..` segment, no trailing `/` (the root `/` aside), no
//! `;`, no `\`, and percent-encodes only what must be encoded, in upper-case hex, never `/`,
//! `\`, `;`, `%`'s own malformations or a control character.
//!
//! | path (canonical) | method | route |
//! | --- | --- | --- |
//! | `/back-office/orders` | `POST` | [`Route::PlaceOrder`] |
//! | `/back-office/orders/{id}` | `GET` | [`Route::ReadOrder`] |
//! | `/back-office/orders/{id}` | `PATCH` | [`Route::PatchOrder`] |
//! | `/back-office/orders/byOrderNo/{orderNo}` | `GET` | [`Route::ReadOrder`] |
//! | any of the above | any other | 405 |
//! | deeper under `/back-office/orders/` | any | 400 (no such order path) |
//! | a case variant of `/back-office/orders…` | any | 400 |
//! | anything else | `CONNECT`, `TRACE` | 405 |
//! | anything else | any other | [`Route::Proxy`] |

use http::{HeaderMap, Method};

use super::auth::RouterKeys;

/// The collection path of DriveWealth's order API.
pub const ORDERS_PATH: &str = "/back-office/orders";
const ORDERS_SEGMENTS: [&str; 2] = ["back-office", "orders"];
const BY_ORDER_NO: &str = "byOrderNo";

/// What to do with a request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Route<'p> {
    /// `POST /back-office/orders`: decide, then forward.
    PlaceOrder,
    /// A GET of one order (by id or by order number): forward, learn from the answer.
    ReadOrder,
    /// `PATCH /back-office/orders/{id}`: check a cancel's cut-off, then forward.
    PatchOrder { order_id: &'p str },
    /// Not an order path: stream it upstream unchanged.
    Proxy,
    /// Answer it here; forward nothing.
    Refuse(Refusal),
}

/// Why a request is answered here.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// `401 UNAUTHORIZED`: `server.router_app_keys` is set and the app key is not one of them.
    UnknownRouter,
    /// `400 INVALID_REQUEST`: the body is framed in a way omnigate does not read.
    Framing(&'static str),
    /// `400 INVALID_REQUEST`, with the reason.
    NotCanonical(&'static str),
    /// `405 METHOD_NOT_ALLOWED`; the methods the path does allow (`Allow`).
    MethodNotAllowed { allow: &'static str },
}

/// Routes a whole request: a known router first (any path), then one framing of the body, then
/// [`route`] on the method and raw path. This is the order listener's one answer to "what is
/// this request?".
pub fn route_request<'p>(
    method: &Method,
    path: &'p str,
    headers: &HeaderMap,
    router_keys: &RouterKeys,
) -> Route<'p> {
    if !router_keys.admits(headers) {
        return Route::Refuse(Refusal::UnknownRouter);
    }
    if let Err(reason) = check_framing(headers) {
        return Route::Refuse(Refusal::Framing(reason));
    }
    route(method, path)
}

/// A body must be framed one way only (RFC 9112 §6.3), or a proxy and its upstream may split
/// the bytes into different requests. hyper already reads a body by its transfer-encoding when
/// both headers come (dropping content-length and closing the connection after the answer) and
/// refuses differing content-lengths; what it lets through, and this refuses on every path, is
/// a transfer coding other than plain `chunked` (omnigate would forward bytes coded in a way it
/// did not read). The other arms hold the line should the HTTP layer ever pass more through.
pub fn check_framing(headers: &HeaderMap) -> Result<(), &'static str> {
    let lengths = headers.get_all(http::header::CONTENT_LENGTH).iter().count();
    let mut codings = headers.get_all(http::header::TRANSFER_ENCODING).iter();
    match (lengths, codings.next(), codings.next()) {
        (0 | 1, None, _) => Ok(()),
        (0, Some(coding), None) if coding.as_bytes().eq_ignore_ascii_case(b"chunked") => Ok(()),
        (0, Some(_), _) => Err("transfer-encoding other than chunked is not accepted"),
        (_, Some(_), _) => Err("the request has both content-length and transfer-encoding"),
        _ => Err("the request has more than one content-length"),
    }
}

/// Routes a request by its method and raw path (`uri.path()`, as the client sent it: no
/// decoding has happened).
pub fn route<'p>(method: &Method, path: &'p str) -> Route<'p> {
    if let Err(reason) = check_canonical(path) {
        return Route::Refuse(Refusal::NotCanonical(reason));
    }
    let mut segments = path[1..].split('/');
    let head = (segments.next(), segments.next());
    let is_orders = |(first, second): (Option<&str>, Option<&str>), exact: bool| {
        let matches = |segment: Option<&str>, expected: &str| {
            segment.is_some_and(|segment| {
                if exact {
                    segment == expected
                } else {
                    segment.eq_ignore_ascii_case(expected)
                }
            })
        };
        matches(first, ORDERS_SEGMENTS[0]) && matches(second, ORDERS_SEGMENTS[1])
    };
    if !is_orders(head, false) {
        return if method == Method::CONNECT || method == Method::TRACE {
            Route::Refuse(Refusal::MethodNotAllowed { allow: "" })
        } else {
            Route::Proxy
        };
    }
    if !is_orders(head, true) {
        return Route::Refuse(Refusal::NotCanonical(
            "order paths are spelled /back-office/orders, in this case",
        ));
    }
    let rest: [Option<&str>; 3] = [segments.next(), segments.next(), segments.next()];
    match rest {
        [None, _, _] => only(method, &[Method::POST], "POST", Route::PlaceOrder),
        [Some(segment), None, _] if segment.eq_ignore_ascii_case(BY_ORDER_NO) => {
            // `/back-office/orders/byOrderNo` with no number: not an order id DriveWealth
            // could have issued, and too close to the lookup path to pass on.
            Route::Refuse(Refusal::NotCanonical(
                "byOrderNo needs an order number: /back-office/orders/byOrderNo/{orderNo}",
            ))
        }
        [Some(order_id), None, _] => {
            if method == Method::GET {
                Route::ReadOrder
            } else if method == Method::PATCH {
                Route::PatchOrder { order_id }
            } else {
                Route::Refuse(Refusal::MethodNotAllowed {
                    allow: "GET, PATCH",
                })
            }
        }
        [Some(segment), Some(_), None] if segment == BY_ORDER_NO => {
            only(method, &[Method::GET], "GET", Route::ReadOrder)
        }
        [Some(segment), Some(_), None] if segment.eq_ignore_ascii_case(BY_ORDER_NO) => {
            Route::Refuse(Refusal::NotCanonical(
                "order paths are spelled /back-office/orders/byOrderNo/{orderNo}, in this case",
            ))
        }
        _ => Route::Refuse(Refusal::NotCanonical(
            "no such order path: /back-office/orders, /back-office/orders/{id} and /back-office/orders/byOrderNo/{orderNo} are",
        )),
    }
}

fn only<'p>(
    method: &Method,
    allowed: &[Method],
    allow: &'static str,
    route: Route<'p>,
) -> Route<'p> {
    if allowed.contains(method) {
        route
    } else {
        Route::Refuse(Refusal::MethodNotAllowed { allow })
    }
}

/// `Ok` when `path` is in canonical form (see the module doc), else why not.
pub fn check_canonical(path: &str) -> Result<(), &'static str> {
    let bytes = path.as_bytes();
    if bytes.first() != Some(&b'/') {
        return Err("the path must start with /");
    }
    if path == "/" {
        return Ok(());
    }
    if bytes.ends_with(b"/") {
        return Err("the path ends with /");
    }
    let mut at = 0;
    while at < bytes.len() {
        match bytes[at] {
            b';' => return Err("the path has ; parameters"),
            b'\\' => return Err("the path has a \\"),
            b'%' => {
                let decoded = bytes
                    .get(at + 1..at + 3)
                    .and_then(|hex| Some(hex_value(hex[0])? << 4 | hex_value(hex[1])?))
                    .ok_or("the path has a % that is not followed by two hex digits")?;
                if bytes[at + 1..at + 3]
                    .iter()
                    .any(|digit| digit.is_ascii_lowercase())
                {
                    return Err("the path's percent-encoding is not in upper-case hex");
                }
                // Delimiters: a stack that decodes before it splits would read them as `/`, a path
                // parameter, a query or a fragment, and see another path than ours.
                if matches!(decoded, b'/' | b'\\' | b';' | b'?' | b'#') {
                    return Err("the path has an encoded delimiter (/ \\ ; ? #)");
                }
                if is_unreserved(decoded) {
                    return Err("the path percent-encodes a character that needs no encoding");
                }
                if decoded < 0x20 || decoded == 0x7f {
                    return Err("the path has an encoded control character");
                }
                // `%25` followed by hex is an encoded escape: a stack that decodes twice would
                // read a different path than one that decodes once.
                if decoded == b'%'
                    && bytes.get(at + 3..at + 5).is_some_and(|hex| {
                        hex_value(hex[0]).is_some() && hex_value(hex[1]).is_some()
                    })
                {
                    return Err(
                        "the path has an encoded percent-encoding (%25 and two hex digits)",
                    );
                }
                at += 3;
                continue;
            }
            _ => {}
        }
        at += 1;
    }
    for segment in path[1..].split('/') {
        match segment {
            "" => return Err("the path has an empty segment (//)"),
            "." | ".." => return Err("the path has a . or .. segment"),
            _ => {}
        }
    }
    Ok(())
}

/// RFC 3986 §2.3: characters that are never percent-encoded in a canonical URI.
fn is_unreserved(byte: u8) -> bool {
    byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~')
}

fn hex_value(digit: u8) -> Option<u8> {
    match digit {
        b'0'..=b'9' => Some(digit - b'0'),
        b'a'..=b'f' => Some(digit - b'a' + 10),
        b'A'..=b'F' => Some(digit - b'A' + 10),
        _ => None,
    }
}

/// What `path` means to the most lenient reader: percent-decoded (repeatedly, as a double-
/// decoding stack would), `\` read as `/`, `;` parameters dropped, empty and `.` segments
/// removed, `..` applied, a trailing `/` dropped, lower case. Only for checking [`route`] (the
/// fuzz target and tests): a path that normalises to an order path must never be proxied.
pub fn lenient_normal_form(path: &str) -> String {
    let mut bytes: Vec<u8> = path.as_bytes().to_vec();
    for _ in 0..4 {
        let mut decoded = Vec::with_capacity(bytes.len());
        let mut at = 0;
        while at < bytes.len() {
            if bytes[at] == b'%' {
                if let Some(value) = bytes
                    .get(at + 1..at + 3)
                    .and_then(|hex| Some(hex_value(hex[0])? << 4 | hex_value(hex[1])?))
                {
                    decoded.push(value);
                    at += 3;
                    continue;
                }
            }
            decoded.push(bytes[at]);
            at += 1;
        }
        if decoded == bytes {
            break;
        }
        bytes = decoded;
    }
    let text = String::from_utf8_lossy(&bytes).replace('\\', "/");
    // A decoded `?` or `#` ends the path for such a reader.
    let text = text.split(['?', '#']).next().unwrap_or("");
    let mut kept: Vec<String> = Vec::new();
    for segment in text.split('/') {
        let segment = segment.split(';').next().unwrap_or("");
        match segment {
            "" | "." => {}
            ".." => {
                kept.pop();
            }
            other => kept.push(other.to_ascii_lowercase()),
        }
    }
    format!("/{}", kept.join("/"))
}

/// True when a lenient reader would take `path` for an order path.
pub fn is_order_path_to_a_lenient_reader(path: &str) -> bool {
    let normal = lenient_normal_form(path);
    normal == "/back-office/orders" || normal.starts_with("/back-office/orders/")
}

#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn bodies_are_framed_one_way_only() {
        let headers = |pairs: &[(&'static str, &'static str)]| {
            let mut map = HeaderMap::new();
            for (name, value) in pairs {
                map.append(*name, HeaderValue::from_static(value));
            }
            map
        };
        assert!(check_framing(&headers(&[])).is_ok());
        assert!(check_framing(&headers(&[("content-length", "5")])).is_ok());
        assert!(check_framing(&headers(&[("transfer-encoding", "Chunked")])).is_ok());
        for bad in [
            &[("content-length", "5"), ("transfer-encoding", "chunked")][..],
            &[("content-length", "5"), ("content-length", "5")],
            &[("transfer-encoding", "gzip, chunked")],
            &[
                ("transfer-encoding", "chunked"),
                ("transfer-encoding", "chunked"),
            ],
        ] {
            assert!(check_framing(&headers(bad)).is_err(), "{bad:?}");
        }
    }

    fn refused(method: &Method, path: &str) -> bool {
        matches!(route(method, path), Route::Refuse(Refusal::NotCanonical(_)))
    }

    #[test]
    fn order_paths_route_to_their_handlers() {
        assert_eq!(
            route(&Method::POST, "/back-office/orders"),
            Route::PlaceOrder
        );
        assert_eq!(
            route(&Method::GET, "/back-office/orders/EF.1"),
            Route::ReadOrder
        );
        assert_eq!(
            route(&Method::PATCH, "/back-office/orders/EF.1"),
            Route::PatchOrder { order_id: "EF.1" }
        );
        assert_eq!(
            route(&Method::GET, "/back-office/orders/byOrderNo/GB.123"),
            Route::ReadOrder
        );
        assert_eq!(
            route(&Method::GET, "/back-office/accounts/a/summary/orders"),
            Route::Proxy
        );
        assert_eq!(route(&Method::GET, "/"), Route::Proxy);
        assert_eq!(route(&Method::GET, "/back-office/ordersX"), Route::Proxy);
        assert_eq!(
            route(&Method::GET, "/back-office/instruments/AAPL%20X"),
            Route::Proxy
        );
    }

    #[test]
    fn every_non_canonical_variant_is_refused() {
        for path in [
            "//back-office/orders",
            "/back-office//orders",
            "/back-office/orders/",
            "/back-office/./orders",
            "/back-office/x/../orders",
            "/back-office/%6Frders",
            "/back-office/%6frders",
            "/back-office%2Forders",
            "/back-office%2forders",
            "/back-office/orders;x=1",
            "/back-office/orders/EF.1;v=2",
            "/back-office\\orders",
            "/back-office/orders%5C",
            "/back-office/orders%",
            "/back-office/orders%4",
            "/back-office/orders%zz",
            "/x/%00",
            "/BACK-OFFICE/ORDERS",
            "/Back-Office/Orders/EF.1",
            "/back-office/orders/BYORDERNO/1",
            "/back-office/orders/byOrderNo",
            "/back-office/orders/a/b",
            "/back-office/orders/byOrderNo/1/x",
            "back-office/orders",
            "*",
            "/accounts/",
            "/a/./b",
            "/back-office%255Corders",
            "/back-office%252Forders",
            "/%3B/back-office/orders/%3B",
            "/back-office/orders%3Fx",
            "/back-office/orders%23x",
        ] {
            for method in [Method::GET, Method::POST, Method::PATCH] {
                assert!(
                    refused(&method, path),
                    "{method} {path} was {:?}",
                    route(&method, path)
                );
            }
        }
    }

    #[test]
    fn other_methods_on_order_paths_are_not_allowed() {
        let not_allowed = |method: &str, path: &str| {
            let method = Method::from_bytes(method.as_bytes()).unwrap();
            matches!(
                route(&method, path),
                Route::Refuse(Refusal::MethodNotAllowed { .. })
            )
        };
        for method in [
            "GET", "PUT", "DELETE", "PATCH", "HEAD", "OPTIONS", "post", "Post",
        ] {
            assert!(not_allowed(method, "/back-office/orders"), "{method}");
        }
        for method in ["POST", "PUT", "DELETE", "HEAD", "patch", "get"] {
            assert!(not_allowed(method, "/back-office/orders/EF.1"), "{method}");
        }
        for method in ["POST", "PATCH", "DELETE"] {
            assert!(
                not_allowed(method, "/back-office/orders/byOrderNo/7"),
                "{method}"
            );
        }
        for path in ["/", "/back-office/accounts", "/anything"] {
            assert!(
                not_allowed("CONNECT", path) && not_allowed("TRACE", path),
                "{path}"
            );
            assert!(!not_allowed("GET", path));
        }
    }

    #[test]
    fn needed_encodings_are_canonical() {
        for path in [
            "/a%20b",
            "/a%2Cb",
            "/a%40b",
            "/a%25b",
            "/a%25",
            "/a%C3%A9",
            "/a~b_c-d.e",
        ] {
            assert_eq!(check_canonical(path), Ok(()), "{path}");
        }
    }

    #[test]
    fn the_lenient_reader_sees_what_a_careless_stack_would() {
        for path in [
            "//back-office/orders",
            "/back-office/%6Frders",
            "/back-office%2Forders",
            "/back-office/x/../orders/",
            "/BACK-OFFICE/ORDERS;x=1",
            "/back-office%255Corders",
            "/%3B/back-office/orders/%3B",
            "/back-office/orders%3Fx",
        ] {
            assert!(is_order_path_to_a_lenient_reader(path), "{path}");
        }
        assert!(!is_order_path_to_a_lenient_reader("/back-office/ordersx"));
    }
}
