//! NATS (async-nats) with Evolution's subjects: `{instance}.{event}` per instance,
//! `{NATS_PREFIX_KEY}.{event}` (or the event alone) for global events, the dotted event
//! lower-cased as Evolution does.
//!
//! JetStream mode (the default, `ZAPGATE_NATS_STREAM=EVOLUTION`): every message is published
//! through JetStream with `Nats-Msg-Id` set to the row's id, and a row leaves the outbox once
//! the stream has acked it. The ack means the message is stored (and replicated, per the
//! stream); the header lets JetStream drop the repeat when a crash makes us publish a row
//! twice within the stream's duplicate window. Core subscribers on the subject receive the
//! messages as well, so Evolution's consumers need no change.
//!
//! Core mode (`ZAPGATE_NATS_STREAM=` empty): plain publishes, then one flush per batch; a
//! returned flush means the server has processed every publish before it (handed it to the
//! subscriptions connected then). That is all core NATS can promise, so it is the fallback
//! for servers without JetStream, not the default.

use std::time::Duration;

use async_nats::jetstream::context::PublishErrorKind;
use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::{self, stream};
use bytes::Bytes;
use tokio::sync::Mutex;

use super::{Outcome, Publisher, TransportSettings, prefixed, settings};
use crate::events::EventKind;
use crate::store::outbox::{OutboxRow, TargetKind};

/// How long the stream zapgate creates keeps messages.
const STREAM_MAX_AGE: Duration = Duration::from_secs(7 * 86_400);

pub(super) struct Nats {
    uri: String,
    /// The JetStream stream; `None` in core mode.
    stream: Option<String>,
    /// Subjects the stream must capture besides `*.{event}`: the global ones when their
    /// prefix is empty or has more than one token.
    global_subjects: Vec<String>,
    timeout: Duration,
    live: Mutex<Option<Live>>,
}

struct Live {
    client: async_nats::Client,
    js: Option<jetstream::Context>,
}

impl Nats {
    pub(super) fn new(s: &TransportSettings) -> Nats {
        let prefix = s.nats_prefix_key.as_str();
        let global_subjects =
            if s.nats_global_enabled && (prefix.is_empty() || prefix.contains('.')) {
                settings::switched_on("NATS_EVENTS_")
                    .into_iter()
                    .map(|k| prefixed(prefix, k.dotted()))
                    .collect()
            } else {
                Vec::new()
            };
        Nats {
            uri: s.nats_uri.clone(),
            stream: Some(s.nats_stream.trim().to_string()).filter(|s| !s.is_empty()),
            global_subjects,
            timeout: s.timeout(),
            live: Mutex::new(None),
        }
    }

    async fn connect(&self) -> Result<Live, String> {
        let client = async_nats::ConnectOptions::new()
            .name("zapgate")
            .connection_timeout(self.timeout)
            // Once connected, the client reconnects by itself for as long as it takes.
            .max_reconnects(None)
            .connect(self.uri.as_str())
            .await
            .map_err(|e| format!("NATS: {e}"))?;
        let js = match &self.stream {
            None => None,
            Some(name) => {
                let mut js = jetstream::new(client.clone());
                js.set_timeout(self.timeout);
                self.ensure_stream(&js, name).await;
                Some(js)
            }
        };
        Ok(Live { client, js })
    }

    /// Creates the stream when it does not exist; an existing one is used as it is. A failure
    /// (say, another stream already captures these subjects) is logged: publishes still go
    /// through JetStream, and a subject no stream captures is refused per message, with why.
    async fn ensure_stream(&self, js: &jetstream::Context, name: &str) {
        let mut subjects: Vec<String> = EventKind::ALL
            .iter()
            .map(|k| format!("*.{}", k.dotted()))
            .collect();
        subjects.extend(self.global_subjects.iter().cloned());
        let config = stream::Config {
            name: name.to_string(),
            subjects,
            max_age: STREAM_MAX_AGE,
            storage: stream::StorageType::File,
            ..Default::default()
        };
        if let Err(e) = js.get_or_create_stream(config).await {
            tracing::warn!(stream = name, error = %e, "could not create the JetStream stream; publishing anyway");
        }
    }
}

#[async_trait::async_trait]
impl Publisher for Nats {
    async fn publish(&self, rows: &[OutboxRow]) -> Vec<Outcome> {
        let mut guard = self.live.lock().await;
        if guard.is_none() {
            match tokio::time::timeout(self.timeout, self.connect()).await {
                Ok(Ok(live)) => *guard = Some(live),
                Ok(Err(why)) => return vec![Outcome::Unavailable(why); rows.len()],
                Err(_) => {
                    return vec![
                        Outcome::Unavailable("NATS: connecting timed out".into());
                        rows.len()
                    ];
                }
            }
        }
        let Some(live) = guard.as_ref() else {
            return vec![Outcome::Unavailable("NATS: no connection".into()); rows.len()];
        };
        match &live.js {
            Some(js) => self.publish_jetstream(js, rows).await,
            None => self.publish_core(&live.client, rows).await,
        }
    }
}

impl Nats {
    async fn publish_jetstream(&self, js: &jetstream::Context, rows: &[OutboxRow]) -> Vec<Outcome> {
        let mut out: Vec<Option<Outcome>> = vec![None; rows.len()];
        let mut acks = Vec::with_capacity(rows.len());
        for (i, row) in rows.iter().enumerate() {
            let subject = match subject(row) {
                Ok(s) => s,
                Err(why) => {
                    out[i] = Some(Outcome::Rejected(why));
                    continue;
                }
            };
            let message = PublishMessage::build()
                .payload(Bytes::from(row.body.clone()))
                .message_id(row.webhook_id())
                .header("Content-Type", "application/json");
            match js.send_publish(subject.clone(), message).await {
                Ok(ack) => acks.push((i, subject, ack)),
                Err(e) if e.kind() == PublishErrorKind::MaxPayloadExceeded => {
                    out[i] = Some(Outcome::Rejected(format!("NATS: {e}")));
                }
                Err(e) => {
                    out[i] = Some(Outcome::Unavailable(format!("NATS: {e}")));
                }
            }
        }
        // Awaited together: each ack carries its own timeout from when it is awaited, so one at
        // a time a batch of 256 to a broker that stopped answering took 256 timeouts (minutes)
        // before the outage was seen.
        let settled = futures_util::future::join_all(
            acks.into_iter()
                .map(|(i, subject, ack)| async move { (i, subject, ack.await) }),
        )
        .await;
        for (i, subject, result) in settled {
            out[i] = Some(match result {
                Ok(_) => Outcome::Confirmed,
                Err(e) => match e.kind() {
                    PublishErrorKind::StreamNotFound => Outcome::Rejected(format!(
                        "NATS: no JetStream stream captures the subject {subject} (create one, \
                         or set ZAPGATE_NATS_STREAM empty for core publishes)"
                    )),
                    PublishErrorKind::WrongLastMessageId
                    | PublishErrorKind::WrongLastSequence
                    | PublishErrorKind::MaxPayloadExceeded => {
                        Outcome::Rejected(format!("NATS: {e}"))
                    }
                    _ => Outcome::Unavailable(format!("NATS: {e}")),
                },
            });
        }
        out.into_iter()
            .map(|o| o.unwrap_or_else(|| Outcome::Unavailable("NATS: not published".into())))
            .collect()
    }

    async fn publish_core(&self, client: &async_nats::Client, rows: &[OutboxRow]) -> Vec<Outcome> {
        let mut out: Vec<Option<Outcome>> = vec![None; rows.len()];
        for (i, row) in rows.iter().enumerate() {
            let subject = match subject(row) {
                Ok(s) => s,
                Err(why) => {
                    out[i] = Some(Outcome::Rejected(why));
                    continue;
                }
            };
            if let Err(e) = client.publish(subject, Bytes::from(row.body.clone())).await {
                out[i] = Some(Outcome::Unavailable(format!("NATS: {e}")));
            }
        }
        let flushed = match tokio::time::timeout(self.timeout, client.flush()).await {
            Ok(Ok(())) => Outcome::Confirmed,
            Ok(Err(e)) => Outcome::Unavailable(format!("NATS: flush failed: {e}")),
            Err(_) => Outcome::Unavailable("NATS: flush timed out".into()),
        };
        out.into_iter()
            .map(|o| o.unwrap_or_else(|| flushed.clone()))
            .collect()
    }
}

/// The row's subject, checked the way the server would (a bad one would close the connection).
fn subject(row: &OutboxRow) -> Result<String, String> {
    let TargetKind::Nats { subject_prefix } = &row.target.kind else {
        return Err(format!("not a NATS target: {:?}", row.target.kind));
    };
    let subject = prefixed(subject_prefix, &row.event.to_lowercase());
    let valid = subject.split('.').all(|t| {
        !t.is_empty()
            && t != "*"
            && t != ">"
            && !t.chars().any(|c| c.is_whitespace() || c.is_control())
    });
    if valid {
        Ok(subject)
    } else {
        Err(format!("NATS: \"{subject}\" is not a valid subject"))
    }
}
