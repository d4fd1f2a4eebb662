//! The fleet store: one slot per instance, an index by name, counts by state kept incrementally,
//! and a filtered + sorted view rebuilt lazily (at most once per frame) only when it went stale.

use std::collections::{HashMap, HashSet, VecDeque};

use super::query::{Filter, Sort, SortKey};
pub use super::rate::Rate;
use crate::msg::{
    Counters, EventKind, InstanceRow, State, StreamEvent, SummaryRow, UnixSecs, WebhookBrief,
};

/// Transitions kept per instance for the detail's timeline.
const TIMELINE: usize = 16;
/// Flap timestamps kept per instance (enough to count the last hour of a noisy one).
const FLAPS: usize = 64;

#[derive(Debug, Clone)]
pub struct Transition {
    pub at: UnixSecs,
    pub state: State,
    pub reason: Option<u16>,
}

#[derive(Debug, Clone)]
pub struct Row {
    pub info: InstanceRow,
    /// The name in lower case, made once: the filter matches against it on every keystroke.
    pub name_lc: String,
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
            name_lc: info.name.to_lowercase(),
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
    /// Every live slot in the current sort order. Typing into the filter only re-filters this
    /// list (O(n), no sort); it is re-sorted when a row's sort key, the set of rows, or the sort
    /// changes (and on every rebuild for the sorts that move with the clock).
    order: Vec<usize>,
    order_stale: bool,
    order_sort: Option<Sort>,
    /// The operator changed the filter or the sort: rebuild even when frozen.
    view_asked: bool,
    /// Freeze: data keeps flowing into the rows but the view keeps its order and membership
    /// until the operator changes the filter or sort (free slots are not reused meanwhile, so a
    /// frozen view never shows another instance in a slot it holds).
    pub frozen: bool,
    counts: [u32; 5],
}

impl Fleet {
    pub fn len(&self) -> usize {
        self.slot.len()
    }

    /// Events waiting across every instance's webhook, and how many of those webhooks are
    /// failing; `None` when no row reports a webhook (plain Evolution, or none configured).
    pub fn webhook_totals(&self) -> Option<(u64, usize)> {
        let hooks = self.rows.iter().flatten().filter_map(|r| r.info.webhook);
        hooks.fold(None, |acc, w| {
            let (backlog, failing) = acc.unwrap_or((0, 0));
            Some((backlog + w.backlog, failing + usize::from(w.is_problem())))
        })
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

    /// The operator changed what the view shows: rebuild it, frozen or not.
    pub fn mark_stale(&mut self) {
        self.view_stale = true;
        self.view_asked = true;
    }

    /// A row came, went, or changed a sort key.
    fn changed(&mut self) {
        self.view_stale = true;
        self.order_stale = true;
    }

    /// The slot holding `name`.
    pub fn slot_of(&self, name: &str) -> Option<usize> {
        self.slot.get(name).copied()
    }

    fn insert(&mut self, info: InstanceRow, now: UnixSecs) {
        self.counts[info.state.rank()] += 1;
        let name = info.name.clone();
        let row = Some(Row::new(info, now));
        let reuse = if self.frozen { None } else { self.free.pop() };
        let i = match reuse {
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
        self.changed();
    }

    pub fn remove(&mut self, name: &str) -> bool {
        let Some(i) = self.slot.remove(name) else {
            return false;
        };
        if let Some(r) = self.rows[i].take() {
            self.counts[r.info.state.rank()] -= 1;
        }
        self.free.push(i);
        self.changed();
        true
    }

    /// Diffs a snapshot by name: new rows appear, missing ones go, changed ones update in place
    /// (keeping their rates, flaps and timeline).
    pub fn reconcile(&mut self, snapshot: Vec<InstanceRow>, now: UnixSecs) {
        let seen = self.upsert(snapshot, now);
        self.remove_unseen(&seen);
    }

    /// Adds or updates these rows; nothing is removed. Returns the names seen.
    pub fn upsert(&mut self, rows: Vec<InstanceRow>, now: UnixSecs) -> HashSet<String> {
        let mut seen = HashSet::with_capacity(rows.len());
        for info in rows {
            seen.insert(info.name.clone());
            match self.slot.get(&info.name).copied() {
                Some(i) => {
                    let mut info = info;
                    info.state = self.listed_state(i, info.state, info.since, now);
                    let row = self.rows[i].as_mut().expect("indexed slot holds a row");
                    // A row without counters (plain Evolution, or an older server) keeps the
                    // ones the summary or the stream gave.
                    let counters = info.counters.or(row.info.counters);
                    row.info = info;
                    row.info.counters = counters;
                }
                None => self.insert(info, now),
            }
        }
        seen
    }

    /// Merges zapgate's compact summary: state, counters and last error; number, engine and
    /// profile stay as fetchInstances gave them. A name not known yet gets a row at once (its
    /// identity fields follow in [`crate::msg::Msg::Rows`]).
    pub fn merge_summary(&mut self, rows: Vec<SummaryRow>, complete: bool, now: UnixSecs) {
        let mut seen = HashSet::with_capacity(if complete { rows.len() } else { 0 });
        for s in rows {
            if complete {
                seen.insert(s.name.clone());
            }
            match self.slot.get(&s.name).copied() {
                Some(i) => {
                    self.listed_state(i, s.state, s.since, now);
                    let row = self.rows[i].as_mut().expect("indexed slot holds a row");
                    row.info.counters = Some(s.counters);
                    row.info.last_error = s.last_error;
                    let failing = |w: Option<WebhookBrief>| w.is_some_and(|w| w.is_problem());
                    let resort = failing(row.info.webhook) != failing(s.webhook);
                    row.info.webhook = s.webhook;
                    // A webhook that starts or stops failing moves its row (problems first).
                    if resort {
                        self.changed();
                    }
                }
                None => self.insert(
                    InstanceRow {
                        name: s.name,
                        state: s.state,
                        since: s.since,
                        number: None,
                        owner_jid: None,
                        profile_name: None,
                        engine: "-".into(),
                        last_error: s.last_error,
                        messages: 0,
                        counters: Some(s.counters),
                        webhook: s.webhook,
                    },
                    now,
                ),
            }
        }
        if complete {
            self.remove_unseen(&seen);
        }
    }

    /// Applies a listed state, unless the row's state began after the listing's (an event got
    /// here first): a listing made before that event would undo it and count a false flap.
    /// Returns the state the row keeps.
    fn listed_state(
        &mut self,
        i: usize,
        state: State,
        since: Option<UnixSecs>,
        now: UnixSecs,
    ) -> State {
        let row = self.rows[i].as_ref().expect("indexed slot holds a row");
        if since.is_some_and(|s| s < row.since) {
            return row.info.state;
        }
        self.change_state(i, state, since.unwrap_or(now));
        state
    }

    fn change_state(&mut self, i: usize, state: State, at: UnixSecs) {
        let row = self.rows[i].as_mut().expect("indexed slot holds a row");
        let old = row.info.state;
        if row.set_state(state, None, at) {
            self.counts[old.rank()] -= 1;
            self.counts[state.rank()] += 1;
            self.changed();
        }
    }

    fn remove_unseen(&mut self, seen: &HashSet<String>) {
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
                    self.changed();
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
        if self.view_asked || (self.view_stale && !self.frozen) {
            let clocked = !matches!(sort.key, SortKey::State | SortKey::Name);
            if self.order_stale || self.order_sort != Some(sort) || clocked {
                let rows = &self.rows;
                self.order.clear();
                self.order.extend(self.slot.values().copied());
                self.order.sort_by(|&a, &b| match (&rows[a], &rows[b]) {
                    (Some(a), Some(b)) => sort.cmp(a, b, now),
                    _ => std::cmp::Ordering::Equal,
                });
                self.order_stale = false;
                self.order_sort = Some(sort);
            }
            let rows = &self.rows;
            self.view.clear();
            self.view.extend(
                self.order
                    .iter()
                    .copied()
                    .filter(|&i| rows[i].as_ref().is_some_and(|r| filter.matches(r))),
            );
            self.view_stale = false;
            self.view_asked = false;
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
