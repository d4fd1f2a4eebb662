//! Messages per minute per instance, in fixed memory.

use crate::msg::UnixSecs;

/// Messages per minute: 60 one-second buckets, advanced lazily.
#[derive(Debug, Clone)]
pub struct Rate {
    buckets: [u16; 60],
    last: UnixSecs,
}

impl Default for Rate {
    fn default() -> Self {
        Rate {
            buckets: [0; 60],
            last: 0,
        }
    }
}

impl Rate {
    fn advance(&mut self, now: UnixSecs) {
        if now <= self.last {
            return;
        }
        let gap = (now - self.last).min(60);
        for s in 1..=gap {
            self.buckets[((self.last + s) % 60) as usize] = 0;
        }
        self.last = now;
    }

    pub fn bump(&mut self, at: UnixSecs) {
        self.advance(at);
        let b = &mut self.buckets[(at % 60) as usize];
        *b = b.saturating_add(1);
    }

    /// Events in the minute ending at `now`.
    pub fn per_min(&self, now: UnixSecs) -> u32 {
        if now >= self.last + 60 {
            return 0;
        }
        let stale = now.saturating_sub(self.last) as usize;
        (0..60 - stale)
            .map(|back| self.buckets[((self.last + 60 - back as u64) % 60) as usize] as u32)
            .sum()
    }
}
