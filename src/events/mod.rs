//! The event model: every Evolution event kind with its two spellings (UPPER_SNAKE in
//! configuration, dotted in payloads), the [`Event`] an instance publishes, and the bus that
//! fans events out to live subscribers.

pub mod dispatcher;
pub mod kind;
pub mod payload;
pub mod retry;
pub mod sign;
pub mod sweep;
pub mod transport;
pub mod webhook;

use std::sync::{Arc, OnceLock};

use chrono::{SecondsFormat, Utc};
use serde_json::{Value, json};
use tokio::sync::broadcast;
use uuid::Uuid;

pub use kind::EventKind;
pub use payload::Payload;

/// One thing that happened to one instance.
#[derive(Debug, Clone)]
pub struct Event {
    pub kind: EventKind,
    pub instance: String,
    pub instance_id: Uuid,
    pub payload: Payload,
    /// Evolution's `data`, rendered the first time a writer asks (once per event, however many
    /// webhooks, transports and streams carry it).
    data: OnceLock<Value>,
    /// The instance's own JID, once known (Evolution omits `sender` before the first login).
    pub sender: Option<String>,
    /// RFC 3339 UTC with milliseconds, taken when the event happened.
    pub date_time: String,
}

impl Event {
    pub fn new(
        kind: EventKind,
        instance: &str,
        instance_id: Uuid,
        sender: Option<String>,
        payload: Payload,
    ) -> Event {
        Event {
            kind,
            instance: instance.to_string(),
            instance_id,
            payload,
            data: OnceLock::new(),
            sender,
            date_time: Utc::now().to_rfc3339_opts(SecondsFormat::Millis, true),
        }
    }

    /// Evolution's `data` of this event.
    pub fn data(&self) -> &Value {
        self.data.get_or_init(|| {
            crate::evolution::event::event_data(&self.payload, &self.instance, &self.instance_id)
        })
    }

    /// Evolution's envelope. `destination` is the webhook URL for webhooks, absent for streams;
    /// `apikey` is the instance token only when the operator asked to expose it.
    pub fn envelope(
        &self,
        destination: Option<&str>,
        server_url: &str,
        apikey: Option<&str>,
    ) -> Value {
        let mut env = json!({
            "event": self.kind.dotted(),
            "instance": self.instance,
            "data": self.data(),
            "date_time": self.date_time,
            "server_url": server_url,
            "apikey": apikey,
        });
        if let Some(d) = destination {
            env["destination"] = Value::String(d.to_string());
        }
        if let Some(s) = &self.sender {
            env["sender"] = Value::String(s.clone());
        }
        env
    }
}

/// Fan-out to live subscribers (the `/events` stream, the console). A subscriber that falls
/// more than the channel's capacity behind is told so and dropped; publishing never waits.
#[derive(Clone)]
pub struct EventBus {
    tx: broadcast::Sender<Arc<Event>>,
}

impl EventBus {
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity);
        EventBus { tx }
    }

    pub fn publish(&self, event: Event) {
        // No receiver is fine: nobody is watching.
        let _ = self.tx.send(Arc::new(event));
    }

    pub fn subscribe(&self) -> broadcast::Receiver<Arc<Event>> {
        self.tx.subscribe()
    }
}
