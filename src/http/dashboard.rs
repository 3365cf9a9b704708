//! `GET /admin/dashboard` (the page: no token, no data) and `GET /admin/dashboard/data` (what
//! it shows, with the admin token) — SPEC §11.2.

use http::header::{HeaderValue, CACHE_CONTROL, CONTENT_TYPE};
use http::{Response, StatusCode};

use super::admin::{Admin, Answer};
use super::respond;

/// The page. Its policy lets it talk to this origin only and run only its own inline code.
pub(super) fn page() -> Answer {
    let mut response = Response::new(respond::full(crate::dashboard::PAGE));
    let headers = response.headers_mut();
    headers.insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    headers.insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(
        "content-security-policy",
        HeaderValue::from_static(
            "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; \
             img-src data:; connect-src 'self'; form-action 'none'; frame-ancestors 'none'",
        ),
    );
    response
}

impl Admin {
    pub(super) async fn dashboard_data(&self) -> Answer {
        let (engine, history) = (self.engine.clone(), self.history.clone());
        // A pass over every customer and three charts: not for an async worker.
        match tokio::task::spawn_blocking(move || crate::dashboard::data(&engine, &history)).await {
            Ok(data) => {
                let mut response = respond::json_value(StatusCode::OK, &data);
                response
                    .headers_mut()
                    .insert(CACHE_CONTROL, HeaderValue::from_static("no-store"));
                response
            }
            Err(error) => respond::error_body(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                &error.to_string(),
            ),
        }
    }
}
