//! What feeds the ledger besides orders (SPEC §5.2, §6): DriveWealth's events, the poller of open
//! orders, the settlement roll and the calendar's end. Each acts through the engine's methods, like the admin API;
//! the engine does not know them.

pub mod calendar;
pub mod events;
pub mod poller;
pub mod reconcile;
pub mod settlement;
