//! The order listener's router (SPEC §3.0): whatever method and raw path a client sends, the
//! route is decided without a panic, and nothing that a lenient HTTP stack would take for an
//! order path (after decoding, dot-segment removal, slash collapsing, case folding) is ever
//! proxied. An order is placed only on the one exact path, with `POST`.
//!
//! Input: the first line is the method, the rest the path (as `http` would hand them over: only
//! inputs `http` itself accepts as a method and a request-target are routed).

#![no_main]

use http::{Method, Uri};
use libfuzzer_sys::fuzz_target;
use omnigate::http::route::{is_order_path_to_a_lenient_reader, route, Route, ORDERS_PATH};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let (method, target) = text.split_once('\n').unwrap_or(("GET", text));
    let Ok(method) = Method::from_bytes(method.as_bytes()) else {
        return;
    };
    let Ok(uri) = target.parse::<Uri>() else {
        return;
    };
    let path = uri.path();
    match route(&method, path) {
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
