//! The OpenAPI description (SPEC §7).

use super::admin::Answer;
use super::respond;

pub(super) fn document() -> Answer {
    respond::json(http::StatusCode::OK, "{}")
}
