//! At-least-once inbound: whatsapp-rust's [`InboundDurabilityHook`], registered on every client
//! the supervisor builds.
//!
//! Without a hook the crate acks a message to the server as soon as it is decrypted, so a crash
//! (or a full instance queue) before the instance stored it loses it for good. With this hook
//! the crate first buffers the decrypted batch in the pending-inbound table of our sled backend
//! ([`crate::store::signal`]), then calls [`on_messages`](DurableInbound::on_messages), and
//! acks only when it returns `Ok`. The hook hands the converted batch to the instance actor as
//! [`EngineEvent::DurableMessages`] and waits for the actor's signal that the records are stored
//! and the outbox rows flushed (`Store::sync`). If the actor is gone, the flush failed, or the
//! wait exceeds [`COMMIT_WAIT`], it returns `Err`: no ack, and the server redelivers the batch on
//! the next connection (the crate replays it from its buffered copy), which the supervisor
//! opens at once (with backoff while it keeps happening). The actor skips ids it
//! already stored, so a replay is harmless.
//!
//! The crate then dispatches the same batch as `Event::Messages` with `hook_committed` set; the
//! [`bridge`](super::bridge) ignores such batches so nothing reaches the instance twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use anyhow::anyhow;
use tokio::sync::{Notify, mpsc, oneshot};
use whatsapp_rust::Client;
use whatsapp_rust::types::durability_hook::{InboundDurabilityHook, InboundMessage as WaInbound};

use super::convert;
use crate::engine::{EngineEvent, InboundMessage};

/// How long a batch may wait for the instance to store it before the ack is withheld. The hook
/// runs inside the client's receive pipeline, so this also bounds how long one slow instance
/// holds up its own inbound stream.
const COMMIT_WAIT: Duration = Duration::from_secs(30);

pub(super) struct DurableInbound {
    pub instance: String,
    pub events: mpsc::Sender<EngineEvent>,
    /// Told when an ack is withheld: the supervisor then reconnects, because the server only
    /// redelivers on a new connection.
    pub withheld: Arc<Notify>,
    /// Set when a batch is stored, so the supervisor tells a broken store from a slow one.
    pub committed: Arc<AtomicBool>,
}

/// Our view of one decrypted message, `None` for kinds we do not handle (those are acked
/// without being stored, as before).
pub(super) fn inbound(m: &WaInbound) -> Option<InboundMessage> {
    let (content, context) = convert::from_wa(&m.message)?;
    let src = &m.info.source;
    Some(InboundMessage {
        id: m.info.id.to_string(),
        remote_jid: src.chat.to_non_ad().to_string(),
        from_me: src.is_from_me,
        participant: src.is_group.then(|| src.sender.to_non_ad().to_string()),
        push_name: Some(m.info.push_name.clone()).filter(|n| !n.is_empty()),
        timestamp: u64::try_from(m.info.timestamp.timestamp()).unwrap_or(0),
        content,
        context,
    })
}

impl DurableInbound {
    /// Hands `messages` to the instance and waits until they are durable.
    async fn commit(&self, messages: Vec<InboundMessage>) -> anyhow::Result<()> {
        let (done, stored) = oneshot::channel();
        self.events
            .send(EngineEvent::DurableMessages { messages, done })
            .await
            .map_err(|_| anyhow!("instance {} is gone", self.instance))?;
        stored
            .await
            .map_err(|_| anyhow!("instance {} did not make the batch durable", self.instance))
    }
}

#[async_trait::async_trait]
impl InboundDurabilityHook for DurableInbound {
    async fn on_messages(&self, _client: Arc<Client>, batch: &[WaInbound]) -> anyhow::Result<()> {
        let messages: Vec<InboundMessage> = batch
            .iter()
            .filter_map(|m| {
                let ours = inbound(m);
                if ours.is_none() {
                    tracing::debug!(instance = %self.instance, id = %m.info.id, "message kind not handled; skipped");
                }
                ours
            })
            .collect();
        if messages.is_empty() {
            return Ok(());
        }
        let n = messages.len();
        let result = tokio::time::timeout(COMMIT_WAIT, self.commit(messages)).await;
        if matches!(result, Ok(Ok(()))) {
            self.committed.store(true, Ordering::Relaxed);
        } else {
            self.withheld.notify_one();
        }
        match result {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => {
                tracing::warn!(instance = %self.instance, messages = n, error = %e, "inbound batch not stored; withholding the ack");
                Err(e)
            }
            Err(_) => {
                tracing::warn!(instance = %self.instance, messages = n, wait = ?COMMIT_WAIT, "inbound batch not stored in time; withholding the ack");
                Err(anyhow!(
                    "instance {} did not store the batch in time",
                    self.instance
                ))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Context, MessageContent};

    fn hook() -> (DurableInbound, mpsc::Receiver<EngineEvent>) {
        let (events, rx) = mpsc::channel(4);
        let hook = DurableInbound {
            instance: "t".into(),
            events,
            withheld: Arc::new(Notify::new()),
            committed: Arc::new(AtomicBool::new(false)),
        };
        (hook, rx)
    }

    fn message(id: &str) -> InboundMessage {
        InboundMessage {
            id: id.into(),
            remote_jid: "15550000001@s.whatsapp.net".into(),
            from_me: false,
            participant: None,
            push_name: None,
            timestamp: 1,
            content: MessageContent::Text { text: "hi".into() },
            context: Context::default(),
        }
    }

    #[tokio::test]
    async fn ok_only_once_the_instance_signals_durable() {
        let (hook, mut rx) = hook();
        let actor = tokio::spawn(async move {
            match rx.recv().await {
                Some(EngineEvent::DurableMessages { messages, done }) => {
                    assert_eq!(messages.len(), 1);
                    let _ = done.send(());
                }
                other => panic!("unexpected {other:?}"),
            }
        });
        hook.commit(vec![message("a")]).await.expect("committed");
        actor.await.expect("actor");
    }

    #[tokio::test]
    async fn err_when_the_flush_fails_or_the_instance_is_gone() {
        let (hook, mut rx) = hook();
        let actor = tokio::spawn(async move {
            // A failed flush drops the acknowledgement unsent.
            if let Some(EngineEvent::DurableMessages { done, .. }) = rx.recv().await {
                drop(done);
            }
        });
        assert!(hook.commit(vec![message("a")]).await.is_err());
        actor.await.expect("actor");
        assert!(
            hook.commit(vec![message("b")]).await.is_err(),
            "instance gone"
        );
    }
}
