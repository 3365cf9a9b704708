//! Request ids on every answer (SPEC §11): an answer relayed from DriveWealth keeps its
//! `dw-request-id`; an answer omnigate makes itself (a rejection, an error, an admin answer)
//! gets `x-omnigate-request-id`, unique in this process and across restarts (it starts with the
//! start time), so a router's or an operator's report can be found in the logs.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;

use http::{HeaderName, HeaderValue, Response};

use crate::clock::{Clock, SystemClock};

pub const OMNIGATE_REQUEST_ID: HeaderName = HeaderName::from_static("x-omnigate-request-id");
const DRIVEWEALTH_REQUEST_ID: HeaderName = HeaderName::from_static("dw-request-id");

static NEXT: AtomicU64 = AtomicU64::new(1);

/// `og-`, the milliseconds since the epoch when the process first numbered an answer (hex), `-`:
/// what every id of this process starts with.
fn prefix() -> &'static str {
    static PREFIX: OnceLock<String> = OnceLock::new();
    PREFIX.get_or_init(|| {
        // The operating system's clock, not the gateway's (which an operator may move): a label
        // that must not repeat across restarts, read by no rule.
        let started = u64::try_from(SystemClock.now().timestamp_millis()).unwrap_or_default();
        format!("og-{started:x}-")
    })
}

/// Gives `response` omnigate's own request id unless it carries DriveWealth's.
pub fn stamp<B>(mut response: Response<B>) -> Response<B> {
    if !response.headers().contains_key(DRIVEWEALTH_REQUEST_ID) {
        // Every answer that is not relayed (and every one from an upstream that sends no id)
        // passes here: the id is assembled in place, not formatted.
        let prefix = prefix().as_bytes();
        let mut serial = itoa::Buffer::new();
        let serial = serial
            .format(NEXT.fetch_add(1, Ordering::Relaxed))
            .as_bytes();
        let mut id = [0u8; 64];
        let length = prefix.len() + serial.len();
        if let Some(slot) = id.get_mut(..length) {
            slot[..prefix.len()].copy_from_slice(prefix);
            slot[prefix.len()..].copy_from_slice(serial);
            if let Ok(value) = HeaderValue::from_bytes(slot) {
                response.headers_mut().insert(OMNIGATE_REQUEST_ID, value);
            }
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
        let (first, second) = (id(&first), id(&second));
        let (first, second) = (first.to_str().unwrap(), second.to_str().unwrap());
        // og-<start, hex>-<serial>: one start for the process, serials counting up.
        let parts = |id: &str| -> (String, u64) {
            let (start, serial) = id
                .strip_prefix("og-")
                .and_then(|rest| rest.split_once('-'))
                .expect("og-<start>-<serial>");
            assert!(u64::from_str_radix(start, 16).is_ok(), "start {start}");
            (start.to_owned(), serial.parse().expect("serial"))
        };
        let (start, serial) = parts(first);
        let (start_again, later) = parts(second);
        assert_eq!(start, start_again);
        assert!(later > serial, "{first} then {second}");
    }
}
