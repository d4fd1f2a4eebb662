//! The event log: a bounded ring of what the stream said, with follow/pause and a filter.

use std::collections::VecDeque;

use crate::msg::{StreamEvent, UnixSecs};

/// Lines kept; the oldest go first.
pub const CAPACITY: usize = 10_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogLine {
    pub at: UnixSecs,
    pub instance: String,
    pub text: String,
}

#[derive(Debug)]
pub struct EventLog {
    lines: VecDeque<LogLine>,
    /// Follow the tail; when paused, `back` lines from the end stay put as new ones arrive.
    pub follow: bool,
    pub back: usize,
    /// Substring of the instance or the event text.
    pub filter: String,
    /// Events seen in the current and the previous second, for the header's rate.
    rate: (UnixSecs, u32, u32),
}

impl Default for EventLog {
    fn default() -> Self {
        EventLog {
            lines: VecDeque::new(),
            follow: true,
            back: 0,
            filter: String::new(),
            rate: (0, 0, 0),
        }
    }
}

impl EventLog {
    pub fn push(&mut self, ev: &StreamEvent) {
        if self.lines.len() == CAPACITY {
            self.lines.pop_front();
        }
        self.lines.push_back(LogLine {
            at: ev.at,
            instance: ev.instance.clone(),
            text: ev.kind.describe(),
        });
        if !self.follow {
            self.back = (self.back + 1).min(self.lines.len().saturating_sub(1));
        }
        let (sec, cur, prev) = self.rate;
        self.rate = match ev.at {
            t if t == sec => (sec, cur + 1, prev),
            t if t == sec + 1 => (t, 1, cur),
            t if t > sec => (t, 1, 0),
            _ => (sec, cur, prev),
        };
    }

    /// Events per second over the last full second.
    pub fn per_sec(&self, now: UnixSecs) -> u32 {
        let (sec, cur, prev) = self.rate;
        match now {
            t if t == sec + 1 => cur,
            t if t == sec => prev,
            _ => 0,
        }
    }

    pub fn len(&self) -> usize {
        self.lines.len()
    }

    pub fn is_empty(&self) -> bool {
        self.lines.is_empty()
    }

    pub fn scroll(&mut self, by: i64) {
        self.follow = false;
        let max = self.lines.len().saturating_sub(1) as i64;
        self.back = (self.back as i64 - by).clamp(0, max) as usize;
        if self.back == 0 && by > 0 {
            self.follow = true;
        }
    }

    fn wants(&self, l: &LogLine) -> bool {
        self.filter.is_empty() || l.instance.contains(&self.filter) || l.text.contains(&self.filter)
    }

    /// The last `n` matching lines ending `back` lines from the tail, oldest first.
    pub fn window(&self, n: usize, only: Option<&str>) -> Vec<&LogLine> {
        let skip = if self.follow { 0 } else { self.back };
        let mut out: Vec<&LogLine> = self
            .lines
            .iter()
            .rev()
            .filter(|l| self.wants(l) && only.is_none_or(|o| l.instance == o))
            .skip(skip)
            .take(n)
            .collect();
        out.reverse();
        out
    }
}
