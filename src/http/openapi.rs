//! `GET /admin/openapi.json` (SPEC §7): an OpenAPI 3.0 description of the admin API and of the
//! order API's answers, served as is and without a token (it holds no data).
//!
//! The document is `openapi.json` beside this file, kept by hand: a route added to
//! [`super::admin`] or a code added to [`crate::reject`] goes into it too. `tests/openapi.rs`
//! holds the two together: it compares the document's admin paths with the router's arms both
//! ways, calls every documented admin route, checks every rejection code's status, and runs the
//! `openapi-spec-validator` over it.

use http::StatusCode;

use super::admin::Answer;
use super::respond;

/// The document, pretty-printed JSON.
const DOCUMENT: &str = include_str!("openapi.json");

/// The document, `content-type: application/json`.
pub(super) fn document() -> Answer {
    respond::json(StatusCode::OK, DOCUMENT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn openapi_document_is_json_of_openapi_3_0() {
        let document: serde_json::Value =
            serde_json::from_str(DOCUMENT).expect("src/http/openapi.json is JSON");
        assert_eq!(document["openapi"], "3.0.3");
        assert_eq!(document["info"]["version"], env!("CARGO_PKG_VERSION"));
        assert!(document["paths"]["/admin/openapi.json"]["get"].is_object());
    }

    #[test]
    fn openapi_document_is_served_as_json() {
        let answer = document();
        assert_eq!(answer.status(), StatusCode::OK);
        assert_eq!(
            answer.headers()[http::header::CONTENT_TYPE],
            "application/json"
        );
    }
}
