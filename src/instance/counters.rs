//! Per-instance counters the instance keeps for operators (the console, `fetchInstances`'
//! `zapgate.counters`, `GET /instance/summary`): messages in and out, failed sends, reconnects,
//! flaps in the last hour and the last activity. Updated from the events the instance publishes,
//! so every path that publishes counts without knowing about counters.

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};

use crate::events::EventKind;
use crate::events::payload::{ConnectionChange, Payload};
use crate::instance::ConnectionState;
use chrono::{DateTime, TimeZone, Utc};

/// Flap times kept: enough to count an hour of a badly flapping session.
const FLAPS_KEPT: usize = 256;
const HOUR_MS: i64 = 3_600_000;

#[derive(Default)]
pub struct Counters {
    messages_in: AtomicU64,
    messages_out: AtomicU64,
    send_errors: AtomicU64,
    reconnects: AtomicU64,
    /// Milliseconds since the epoch of the last message either way; 0 for none yet.
    last_activity_ms: AtomicI64,
    /// Milliseconds of each state change out of `open` (a flap), oldest first.
    flaps: Mutex<VecDeque<i64>>,
    open: AtomicBool,
    ever_open: AtomicBool,
}

/// A reading of [`Counters`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CountersView {
    pub messages_in: u64,
    pub messages_out: u64,
    pub send_errors: u64,
    pub reconnects: u64,
    pub flaps_last_hour: u64,
    pub last_activity: Option<DateTime<Utc>>,
}

impl Counters {
    /// Counts one published event.
    pub fn observe(&self, kind: EventKind, payload: &Payload) {
        self.observe_at(kind, payload, Utc::now().timestamp_millis());
    }

    fn observe_at(&self, kind: EventKind, payload: &Payload, now_ms: i64) {
        match kind {
            EventKind::MessagesUpsert if payload.from_me() == Some(true) => {
                self.messages_out.fetch_add(1, Ordering::Relaxed);
                self.last_activity_ms.store(now_ms, Ordering::Relaxed);
            }
            EventKind::MessagesUpsert => {
                self.messages_in.fetch_add(1, Ordering::Relaxed);
                self.last_activity_ms.store(now_ms, Ordering::Relaxed);
            }
            EventKind::SendMessage => {
                self.messages_out.fetch_add(1, Ordering::Relaxed);
                self.last_activity_ms.store(now_ms, Ordering::Relaxed);
            }
            EventKind::ConnectionUpdate => {
                let Payload::Connection(ConnectionChange { state, .. }) = payload else {
                    return;
                };
                let open = *state == ConnectionState::Open;
                let was_open = self.open.swap(open, Ordering::Relaxed);
                if open && self.ever_open.swap(true, Ordering::Relaxed) && !was_open {
                    self.reconnects.fetch_add(1, Ordering::Relaxed);
                }
                if was_open && !open {
                    let mut flaps = self.flaps.lock().unwrap_or_else(|p| p.into_inner());
                    if flaps.len() == FLAPS_KEPT {
                        flaps.pop_front();
                    }
                    flaps.push_back(now_ms);
                }
            }
            _ => {}
        }
    }

    /// A send the caller asked for did not reach WhatsApp.
    pub fn send_failed(&self) {
        self.send_errors.fetch_add(1, Ordering::Relaxed);
    }

    /// Drops out of `open` in the last `window` (at most the last 256 are remembered).
    pub fn flaps_within(&self, window: std::time::Duration) -> u64 {
        let since = Utc::now().timestamp_millis() - window.as_millis() as i64;
        let flaps = self.flaps.lock().unwrap_or_else(|p| p.into_inner());
        flaps.iter().filter(|&&t| t > since).count() as u64
    }

    pub fn read(&self) -> CountersView {
        self.read_at(Utc::now().timestamp_millis())
    }

    fn read_at(&self, now_ms: i64) -> CountersView {
        let flaps = self.flaps.lock().unwrap_or_else(|p| p.into_inner());
        let last = self.last_activity_ms.load(Ordering::Relaxed);
        CountersView {
            messages_in: self.messages_in.load(Ordering::Relaxed),
            messages_out: self.messages_out.load(Ordering::Relaxed),
            send_errors: self.send_errors.load(Ordering::Relaxed),
            reconnects: self.reconnects.load(Ordering::Relaxed),
            flaps_last_hour: flaps.iter().filter(|&&t| t > now_ms - HOUR_MS).count() as u64,
            last_activity: (last > 0)
                .then(|| Utc.timestamp_millis_opt(last).single())
                .flatten(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Context, MessageContent, MessageKey};
    use crate::store::history::{Origin, Status, StoredMessage};

    fn state(c: &Counters, s: ConnectionState, at: i64) {
        let change = ConnectionChange {
            state: s,
            reason: 200,
            owner: None,
        };
        c.observe_at(
            EventKind::ConnectionUpdate,
            &Payload::Connection(change),
            at,
        );
    }

    fn message(from_me: bool) -> Payload {
        Payload::Message(Box::new(StoredMessage {
            key: MessageKey {
                remote_jid: "5511@s.whatsapp.net".into(),
                from_me,
                id: "M".into(),
                participant: None,
            },
            push_name: None,
            content: MessageContent::Text { text: "hi".into() },
            context: Context::default(),
            status: Status::DeliveryAck,
            timestamp: 1,
            origin: Origin::Live,
        }))
    }

    #[test]
    fn messages_both_ways_and_the_last_activity() {
        let c = Counters::default();
        c.observe_at(EventKind::MessagesUpsert, &message(false), 1_000);
        c.observe_at(EventKind::MessagesUpsert, &message(true), 2_000);
        c.observe_at(EventKind::SendMessage, &message(true), 3_000);
        c.observe_at(EventKind::ChatsUpsert, &Payload::Nothing, 4_000);
        c.send_failed();
        let v = c.read_at(5_000);
        assert_eq!((v.messages_in, v.messages_out, v.send_errors), (1, 2, 1));
        assert_eq!(v.last_activity.unwrap().timestamp_millis(), 3_000);
    }

    #[test]
    fn the_first_open_is_no_reconnect_and_flaps_age_out_after_an_hour() {
        let c = Counters::default();
        state(&c, ConnectionState::Connecting, 0);
        state(&c, ConnectionState::Open, 1_000);
        assert_eq!(c.read_at(1_000).reconnects, 0);
        state(&c, ConnectionState::Connecting, 2_000);
        state(&c, ConnectionState::Open, 3_000);
        state(&c, ConnectionState::Close, 4_000);
        let v = c.read_at(5_000);
        assert_eq!((v.reconnects, v.flaps_last_hour), (1, 2));
        assert_eq!(c.read_at(2_000 + HOUR_MS).flaps_last_hour, 1);
        assert_eq!(c.read_at(4_000 + HOUR_MS).flaps_last_hour, 0);
        assert_eq!(c.read_at(5_000).last_activity, None);
    }
}
