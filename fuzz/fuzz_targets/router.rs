//! The order listener's router (SPEC §3.0): whatever method, raw path and headers a client
//! sends, the route is decided without a panic, and
//! - nothing that a lenient HTTP stack would take for an order path (after decoding, dot-segment
//!   removal, slash collapsing, case folding) is ever proxied, nor a `CONNECT` or `TRACE`;
//! - an order is placed only on the one exact path, with `POST`;
//! - with router keys configured, a request without exactly one accepted key goes nowhere;
//! - a body framed with a transfer coding other than `chunked` goes nowhere.
//!
//! Input: the first byte picks whether router keys are configured; then the method up to the
//! first newline, the path up to the next, and `name: value` header lines (only inputs that
//! `http` itself accepts as a method, a request-target and headers are routed).

#![no_main]

use http::header::{HeaderName, HeaderValue, TRANSFER_ENCODING};
use http::{HeaderMap, Method, Uri};
use libfuzzer_sys::fuzz_target;
use omnigate::http::auth::{RouterKeys, APP_KEY_HEADER};
use omnigate::http::route::{
    is_order_path_to_a_lenient_reader, route_request, Refusal, Route, ORDERS_PATH,
};

const KEY: &str = "fuzz-router-key-0123456789";

fuzz_target!(|data: &[u8]| {
    let Some((&switch, rest)) = data.split_first() else {
        return;
    };
    let Ok(text) = std::str::from_utf8(rest) else {
        return;
    };
    let mut lines = text.split('\n');
    let (Some(method), Some(target)) = (lines.next(), lines.next()) else {
        return;
    };
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return;
    };
    let Ok(uri) = target.parse::<Uri>() else {
        return;
    };
    let mut headers = HeaderMap::new();
    for line in lines {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.trim().as_bytes()),
            HeaderValue::from_str(value.trim()),
        ) else {
            return;
        };
        headers.append(name, value);
    }
    let keys_on = switch & 1 == 1;
    let keys = if keys_on {
        RouterKeys::new(&[KEY.to_owned()]).expect("a valid key")
    } else {
        RouterKeys::default()
    };
    let path = uri.path();
    let route = route_request(&method, path, &headers, &keys);

    let presented: Vec<_> = headers.get_all(APP_KEY_HEADER).iter().collect();
    let known_router = !keys_on || (presented.len() == 1 && presented[0] == KEY);
    if !known_router {
        assert_eq!(
            route,
            Route::Refuse(Refusal::UnknownRouter),
            "{method} {path:?} from an unknown router was not refused"
        );
        return;
    }
    let mut codings = headers.get_all(TRANSFER_ENCODING).iter();
    let framed_oddly = match (codings.next(), codings.next()) {
        (None, _) => false,
        (Some(coding), None) => !coding.as_bytes().eq_ignore_ascii_case(b"chunked"),
        (Some(_), Some(_)) => true,
    };
    if framed_oddly {
        assert!(
            matches!(route, Route::Refuse(_)),
            "{method} {path:?} with transfer-encoding {:?} went through",
            headers.get(TRANSFER_ENCODING)
        );
    }
    match route {
        Route::Proxy => {
            assert!(
                !is_order_path_to_a_lenient_reader(path),
                "{method} {path:?} would be proxied, but a lenient reader takes it for an order path"
            );
            assert!(
                method != Method::CONNECT && method != Method::TRACE,
                "{method} proxied"
            );
        }
        Route::PlaceOrder => {
            assert_eq!(path, ORDERS_PATH);
            assert_eq!(method, Method::POST);
        }
        Route::ReadOrder => assert_eq!(method, Method::GET),
        Route::PatchOrder { order_id } => {
            assert_eq!(method, Method::PATCH);
            assert_eq!(path, format!("{ORDERS_PATH}/{order_id}"));
        }
        Route::Refuse(_) => {}
    }
});
