//! DriveWealth event envelopes arrive on `POST /admin/events`: any body is an event or a reason,
//! never a panic; an accepted event has an id the de-duplication can keep (1 to 128 characters).

#![no_main]

use libfuzzer_sys::fuzz_target;
use omnigate::feeds::events::{parse_event, Event};

fuzz_target!(|data: &[u8]| {
    let (id, event) = match parse_event(data) {
        Ok(parsed) => parsed,
        Err(reason) => {
            // The reason is answered to the caller and logged: it must stay small.
            assert!(reason.len() <= 512, "a {}-byte reason", reason.len());
            return;
        }
    };
    assert!(
        !id.trim().is_empty() && id.len() <= 128,
        "an event was accepted with id {id:?}"
    );
    if let Event::Deposit(deposit) = &event {
        // `is_successful` decides whether omni cash moves; it must be a plain comparison.
        let _ = deposit.is_successful();
        let _ = deposit.deposit_status();
    }
    // Parsing is a pure function of the bytes.
    assert_eq!(parse_event(data), Ok((id, event)));
});
