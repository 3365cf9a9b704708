//! A background task's beat: a tick every period until shutdown. A tick missed while the task
//! was busy is delayed, not bunched up, so a slow round is never followed by a burst.

use std::time::Duration;

use tokio::sync::watch;
use tokio::time::{Interval, MissedTickBehavior};

pub struct Beat {
    ticker: Interval,
    shutdown: watch::Receiver<bool>,
}

impl Beat {
    /// The first tick comes at once.
    pub fn new(period: Duration, shutdown: watch::Receiver<bool>) -> Beat {
        let mut ticker = tokio::time::interval(period);
        ticker.set_missed_tick_behavior(MissedTickBehavior::Delay);
        Beat { ticker, shutdown }
    }

    /// Waits for the next tick: true, or false once shutdown is signalled (or its sender is
    /// gone), when the task should end.
    pub async fn next(&mut self) -> bool {
        tokio::select! {
            _ = self.ticker.tick() => true,
            _ = self.shutdown.wait_for(|stop| *stop) => false,
        }
    }

    /// Whether shutdown has been signalled, for a task to stop between the steps of a round.
    pub fn stopping(&self) -> bool {
        *self.shutdown.borrow()
    }
}
