//! Request ids on every answer (SPEC §11): an answer relayed from DriveWealth keeps its
//! `dw-request-id`; an answer omnigate makes itself (a rejection, an error, an admin answer)
//! gets `x-omnigate-request-id`, unique in this process and across restarts (it starts with the
//! start time), so a router's or an operator's report can be found in the logs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use http::{HeaderName, HeaderValue, Response};

use crate::clock::{Clock, SystemClock};

pub const OMNIGATE_REQUEST_ID: HeaderName = HeaderName::from_static("x-omnigate-request-id");
const DRIVEWEALTH_REQUEST_ID: &str = "dw-request-id";

static NEXT: AtomicU64 = AtomicU64::new(1);

/// Milliseconds since the epoch when the process first numbered an answer.
fn started() -> u64 {
    static STARTED: OnceLock<u64> = OnceLock::new();
    // The operating system's clock, not the gateway's (which an operator may move): a label
    // that must not repeat across restarts, read by no rule.
    *STARTED.get_or_init(|| u64::try_from(SystemClock.now().timestamp_millis()).unwrap_or_default())
}

/// Gives `response` omnigate's own request id unless it carries DriveWealth's.
pub fn stamp<B>(mut response: Response<B>) -> Response<B> {
    if !response.headers().contains_key(DRIVEWEALTH_REQUEST_ID) {
        let id = format!(
            "og-{:x}-{}",
            started(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        if let Ok(value) = HeaderValue::from_str(&id) {
            response.headers_mut().insert(OMNIGATE_REQUEST_ID, value);
        }
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relayed_answers_keep_drivewealths_id_and_ours_get_a_fresh_one() {
        let relayed = Response::builder()
            .header(DRIVEWEALTH_REQUEST_ID, "12345")
            .body(())
            .unwrap();
        let relayed = stamp(relayed);
        assert!(!relayed.headers().contains_key(OMNIGATE_REQUEST_ID));
        let first = stamp(Response::new(()));
        let second = stamp(Response::new(()));
        let id = |response: &Response<()>| response.headers()[OMNIGATE_REQUEST_ID].clone();
        assert_ne!(id(&first), id(&second));
        assert!(id(&first).to_str().unwrap().starts_with("og-"));
    }
}
