//! The fleet store: one slot per instance, an index by name, counts by state kept incrementally,
//! and a filtered + sorted view rebuilt lazily (at most once per frame) only when it went stale.

use std::collections::{HashMap, VecDeque};

use super::query::{Filter, Sort};
use crate::msg::{Counters, EventKind, InstanceRow, State, StreamEvent, UnixSecs};

/// Transitions kept per instance for the detail's timeline.
const TIMELINE: usize = 16;
/// Flap timestamps kept per instance (enough to count the last hour of a noisy one).
const FLAPS: usize = 64;

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

#[derive(Debug, Clone)]
pub struct Transition {
    pub at: UnixSecs,
    pub state: State,
    pub reason: Option<u16>,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub info: InstanceRow,
    /// When this console saw the state begin (the server's `since` when it gave one).
    pub since: UnixSecs,
    pub flaps: VecDeque<UnixSecs>,
    pub timeline: VecDeque<Transition>,
    pub rate_in: Rate,
    pub rate_out: Rate,
    pub qr: Option<String>,
    pub pairing_code: Option<String>,
    /// The verb of a request still waiting for its answer.
    pub pending: Option<&'static str>,
    pub changed_at: UnixSecs,
}

impl Row {
    fn new(info: InstanceRow, now: UnixSecs) -> Row {
        let since = info.since.unwrap_or(now);
        let mut timeline = VecDeque::new();
        timeline.push_back(Transition {
            at: since,
            state: info.state,
            reason: None,
        });
        Row {
            info,
            since,
            flaps: VecDeque::new(),
            timeline,
            rate_in: Rate::default(),
            rate_out: Rate::default(),
            qr: None,
            pairing_code: None,
            pending: None,
            changed_at: now,
        }
    }

    pub fn flaps_last_hour(&self, now: UnixSecs) -> usize {
        let seen = self.flaps.iter().filter(|&&t| t + 3600 > now).count();
        let kept = self.info.counters.map_or(0, |c| c.flaps_last_hour as usize);
        seen.max(kept)
    }

    fn set_state(&mut self, state: State, reason: Option<u16>, at: UnixSecs) -> bool {
        if state == self.info.state {
            return false;
        }
        self.info.state = state;
        self.since = at;
        self.changed_at = at;
        if self.flaps.len() == FLAPS {
            self.flaps.pop_front();
        }
        self.flaps.push_back(at);
        if self.timeline.len() == TIMELINE {
            self.timeline.pop_front();
        }
        self.timeline.push_back(Transition { at, state, reason });
        if state != State::Connecting {
            self.qr = None;
        }
        true
    }
}

/// What applying one event did.
#[derive(Debug, PartialEq, Eq)]
pub enum Applied {
    Row,
    /// The event names an instance the console does not know: refetch.
    Unknown,
}

#[derive(Debug, Default)]
pub struct Fleet {
    rows: Vec<Option<Row>>,
    slot: HashMap<String, usize>,
    free: Vec<usize>,
    view: Vec<usize>,
    view_stale: bool,
    counts: [u32; 5],
}

impl Fleet {
    pub fn len(&self) -> usize {
        self.slot.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slot.is_empty()
    }

    pub fn count(&self, s: State) -> u32 {
        self.counts[s.rank()]
    }

    pub fn get(&self, name: &str) -> Option<&Row> {
        self.slot.get(name).and_then(|&i| self.rows[i].as_ref())
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Row> {
        let i = *self.slot.get(name)?;
        self.rows[i].as_mut()
    }

    pub fn mark_stale(&mut self) {
        self.view_stale = true;
    }

    fn insert(&mut self, info: InstanceRow, now: UnixSecs) {
        self.counts[info.state.rank()] += 1;
        let name = info.name.clone();
        let row = Some(Row::new(info, now));
        let i = match self.free.pop() {
            Some(i) => {
                self.rows[i] = row;
                i
            }
            None => {
                self.rows.push(row);
                self.rows.len() - 1
            }
        };
        self.slot.insert(name, i);
        self.view_stale = true;
    }

    pub fn remove(&mut self, name: &str) -> bool {
        let Some(i) = self.slot.remove(name) else {
            return false;
        };
        if let Some(r) = self.rows[i].take() {
            self.counts[r.info.state.rank()] -= 1;
        }
        self.free.push(i);
        self.view_stale = true;
        true
    }

    /// Diffs a snapshot by name: new rows appear, missing ones go, changed ones update in place
    /// (keeping their rates, flaps and timeline).
    pub fn reconcile(&mut self, snapshot: Vec<InstanceRow>, now: UnixSecs) {
        let mut seen = std::collections::HashSet::with_capacity(snapshot.len());
        for info in snapshot {
            seen.insert(info.name.clone());
            match self.slot.get(&info.name).copied() {
                Some(i) => {
                    let row = self.rows[i].as_mut().expect("indexed slot holds a row");
                    let old = row.info.state;
                    let at = info.since.unwrap_or(now);
                    if row.set_state(info.state, None, at) {
                        self.counts[old.rank()] -= 1;
                        self.counts[info.state.rank()] += 1;
                        self.view_stale = true;
                    }
                    let pending = row.pending;
                    row.info = info;
                    row.pending = pending;
                }
                None => self.insert(info, now),
            }
        }
        let gone: Vec<String> = self
            .slot
            .keys()
            .filter(|n| !seen.contains(*n))
            .cloned()
            .collect();
        for n in gone {
            self.remove(&n);
        }
    }

    /// O(1) per event: one slot and the counters.
    pub fn apply(&mut self, ev: &StreamEvent) -> Applied {
        if let EventKind::Deleted = ev.kind {
            self.remove(&ev.instance);
            return Applied::Row;
        }
        let Some(&i) = self.slot.get(&ev.instance) else {
            return Applied::Unknown;
        };
        let row = self.rows[i].as_mut().expect("indexed slot holds a row");
        match &ev.kind {
            EventKind::Connection { state, reason } => {
                let old = row.info.state;
                if row.set_state(*state, *reason, ev.at) {
                    self.counts[old.rank()] -= 1;
                    self.counts[state.rank()] += 1;
                    self.view_stale = true;
                }
            }
            EventKind::Qr { code, pairing_code } => {
                row.qr = code.clone();
                if pairing_code.is_some() {
                    row.pairing_code = pairing_code.clone();
                }
            }
            EventKind::MessageIn => {
                row.rate_in.bump(ev.at);
                let c = row.info.counters.get_or_insert_with(Counters::default);
                c.messages_in += 1;
            }
            EventKind::MessageOut => {
                row.rate_out.bump(ev.at);
                let c = row.info.counters.get_or_insert_with(Counters::default);
                c.messages_out += 1;
            }
            EventKind::Created | EventKind::Deleted | EventKind::Other(_) => {}
        }
        Applied::Row
    }

    /// The filtered and sorted view; rebuilt only when stale.
    pub fn view(&mut self, filter: &Filter, sort: Sort, now: UnixSecs) -> &[usize] {
        if self.view_stale {
            let rows = &self.rows;
            let mut view: Vec<usize> = self
                .slot
                .values()
                .copied()
                .filter(|&i| rows[i].as_ref().is_some_and(|r| filter.matches(r)))
                .collect();
            view.sort_by(|&a, &b| {
                let (a, b) = (rows[a].as_ref().unwrap(), rows[b].as_ref().unwrap());
                sort.cmp(a, b, now)
            });
            self.view = view;
            self.view_stale = false;
        }
        &self.view
    }

    /// The view as last built (the renderer calls [`Fleet::view`] first).
    pub fn current_view(&self) -> &[usize] {
        &self.view
    }

    pub fn row_at(&self, slot: usize) -> Option<&Row> {
        self.rows.get(slot).and_then(|r| r.as_ref())
    }

    pub fn rows(&self) -> impl Iterator<Item = &Row> {
        self.rows.iter().flatten()
    }
}
