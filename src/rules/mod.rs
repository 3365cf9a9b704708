//! The DriveWealth rules an order must pass before it may leave (SPEC §4).
//!
//! Each rule is a pure function of the order's fields, the configuration and an injected `now`:
//! no I/O, no OS clock, and no allocation unless it rejects.

pub mod client_id;
pub mod market_hours;
