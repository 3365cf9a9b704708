//! The risk dashboard (SPEC §11.2).

use super::admin::Answer;
use super::respond;

pub(super) fn page() -> Answer {
    respond::json(http::StatusCode::OK, "{}")
}
