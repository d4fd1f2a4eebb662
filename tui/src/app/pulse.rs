//! The pulse: the fleet over the last two minutes, one sample a second (events per second,
//! instances open, instances in trouble). Fixed memory; sampled on the clock tick.

use std::collections::VecDeque;

use crate::msg::UnixSecs;

/// Seconds kept.
pub const SAMPLES: usize = 120;

#[derive(Debug, Default)]
pub struct Pulse {
    pub events: VecDeque<u64>,
    pub open: VecDeque<u64>,
    pub problems: VecDeque<u64>,
    /// Events since the last sample.
    pending: u64,
    last: UnixSecs,
}

impl Pulse {
    pub fn count_event(&mut self) {
        self.pending += 1;
    }

    /// One sample per second of clock; a repeated second adds nothing.
    pub fn sample(&mut self, now: UnixSecs, open: u64, problems: u64) {
        if now <= self.last {
            return;
        }
        for (ring, v) in [
            (&mut self.events, self.pending),
            (&mut self.open, open),
            (&mut self.problems, problems),
        ] {
            if ring.len() == SAMPLES {
                ring.pop_front();
            }
            ring.push_back(v);
        }
        self.pending = 0;
        self.last = now;
    }
}
