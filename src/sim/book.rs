//! The simulator's order book: every accepted order in arrival order, found by `orderId` and by
//! `orderNo`, with ids that never repeat, not even across restarts.

use std::sync::Arc;

use dashmap::DashMap;
use parking_lot::{Mutex, RwLock};

use super::faults::mix64;
use super::instruments::Listing;
use super::order::Order;
use super::wire::ApiError;

/// Most orders kept. Order numbers end in six digits, so this is also the last order
/// number; beyond it a create answers 503 rather than growing without end.
pub const ORDERS_MAX: usize = 999_999;

/// An accepted order with the request that placed it.
pub struct SimOrder {
    /// The create body exactly as received.
    pub request_body: String,
    /// The create request's headers, lower-case names, repeated values joined by `", "`.
    pub request_headers: Vec<(String, String)>,
    /// The instrument it trades: its price and status are read from here.
    pub listing: Arc<Listing>,
    pub state: Mutex<Order>,
}

pub struct Book {
    /// Mixed into order ids, so runs with different seeds do not share ids.
    seed: u64,
    /// Drawn at random at start and mixed into order ids and numbers, so a restarted
    /// simulator never issues an id it issued before (DriveWealth's ids are unique forever,
    /// and omnigate refuses an id already bound to an open order).
    epoch: u64,
    /// Two letters of `epoch` that start every order number (`SM` + these + six digits).
    order_no_prefix: String,
    /// The index is the order number minus one.
    orders: RwLock<Vec<Arc<SimOrder>>>,
    /// Lookups by `orderId` and `orderNo`; a `DashMap` so that GETs never wait on creates.
    by_id: DashMap<String, Arc<SimOrder>>,
    by_order_no: DashMap<String, Arc<SimOrder>>,
}

impl Book {
    pub fn new(seed: u64, epoch: u64) -> Book {
        let letter = |n: u64| char::from(b'A' + (n % 26) as u8);
        Book {
            seed,
            epoch,
            order_no_prefix: [letter(epoch), letter(epoch / 26)].iter().collect(),
            orders: RwLock::new(Vec::new()),
            by_id: DashMap::new(),
            by_order_no: DashMap::new(),
        }
    }

    /// `SM.` and 32 hex digits. The low half is a bijection of the order number for a given
    /// seed and epoch, so ids never repeat within a run, and the random epoch keeps a restarted
    /// simulator's ids apart from its earlier runs'.
    fn order_id(&self, sequence: u64) -> String {
        let low = mix64(sequence ^ mix64(self.seed ^ self.epoch));
        let high = mix64(low ^ self.seed.rotate_left(32));
        format!("SM.{high:016x}{low:016x}")
    }

    /// Files a new order: `build` gets its id and number and makes the record.
    pub fn add(
        &self,
        build: impl FnOnce(String, String) -> SimOrder,
    ) -> Result<Arc<SimOrder>, ApiError> {
        let mut orders = self.orders.write();
        if orders.len() >= ORDERS_MAX {
            return Err(ApiError::unavailable(format!(
                "Simulator order book is full ({ORDERS_MAX} orders)"
            )));
        }
        let sequence = orders.len() as u64 + 1;
        let id = self.order_id(sequence);
        let order_no = format!("SM{}{sequence:06}", self.order_no_prefix);
        let record = Arc::new(build(id.clone(), order_no.clone()));
        self.by_id.insert(id, Arc::clone(&record));
        self.by_order_no.insert(order_no, Arc::clone(&record));
        orders.push(Arc::clone(&record));
        Ok(record)
    }

    pub fn by_id(&self, id: &str) -> Result<Arc<SimOrder>, ApiError> {
        self.by_id
            .get(id)
            .map(|entry| Arc::clone(entry.value()))
            .ok_or_else(|| ApiError::order_not_found(id))
    }

    pub fn by_order_no(&self, order_no: &str) -> Result<Arc<SimOrder>, ApiError> {
        self.by_order_no
            .get(order_no)
            .map(|entry| Arc::clone(entry.value()))
            .ok_or_else(|| ApiError::order_not_found(order_no))
    }

    /// Every order in arrival order. Holds the list lock only to copy the handles, so creates
    /// go on while a large list is written.
    pub fn all(&self) -> Vec<Arc<SimOrder>> {
        self.orders.read().clone()
    }
}
