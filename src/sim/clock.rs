//! The simulator's clock: omnigate's own in-process (so `PUT /admin/clock` moves both), and for
//! `omnigate sim` with `simulator.clock_adjustable` one that `PUT /sim/clock` moves.

use std::sync::Arc;

use chrono::{DateTime, SecondsFormat, Utc};

use super::wire::{ApiError, JsonObject};
use crate::clock::{Clock, ShiftedClock};

pub struct SimClock {
    clock: Arc<dyn Clock>,
    /// The clock `PUT /sim/clock` moves, when it may.
    adjustable: Option<Arc<ShiftedClock>>,
}

impl SimClock {
    /// A clock read, never moved, by the simulator.
    pub fn shared(clock: Arc<dyn Clock>) -> SimClock {
        SimClock {
            clock,
            adjustable: None,
        }
    }

    /// A clock of the simulator's own, which `PUT /sim/clock` moves.
    pub fn adjustable() -> SimClock {
        let clock = Arc::new(ShiftedClock::new());
        SimClock {
            clock: clock.clone(),
            adjustable: Some(clock),
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        self.clock.now()
    }

    pub fn handle(&self) -> Arc<dyn Clock> {
        Arc::clone(&self.clock)
    }

    /// `GET /sim/clock`: the simulator's time.
    pub fn to_json(&self) -> String {
        let mut object = JsonObject::new();
        object.string(
            "now",
            &self.now().to_rfc3339_opts(SecondsFormat::Micros, true),
        );
        object.finish()
    }

    /// `PUT /sim/clock` `{now}`: moves the clock; it runs on in real time from there.
    pub fn set(&self, body: &[u8]) -> Result<String, ApiError> {
        let Some(clock) = &self.adjustable else {
            return Err(ApiError::plain(
                404,
                "E404",
                "the simulator's clock is not adjustable (simulator.clock_adjustable = false)",
            ));
        };
        #[derive(serde::Deserialize)]
        #[serde(deny_unknown_fields)]
        struct SetClock {
            now: DateTime<Utc>,
        }
        let set: SetClock = serde_json::from_slice(body)
            .map_err(|error| ApiError::invalid("now", "STRING", error.to_string()))?;
        clock.set(set.now);
        Ok(self.to_json())
    }
}
