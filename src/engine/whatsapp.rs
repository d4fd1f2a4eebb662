//! The real WhatsApp Web engine on whatsapp-rust (`WHATSAPP-BAILEYS` instances).
//!
//! Each session owns one [`supervisor`] task on the shared tokio runtime; the supervisor builds
//! a whatsapp-rust client over the instance's sled backend ([`SledBackend`], trees
//! `i/<id>/session...`), runs it, and rebuilds it on our own reconnect schedule. The [`bridge`]
//! turns the client's events into [`EngineEvent`]s; inbound messages go through the [`durable`]
//! hook, so the crate acks them only once the instance has stored them. This file holds the engine, its
//! configuration and the [`Session`] operations, which act on whichever client is current;
//! [`convert`] maps our message types to and from the crate's protobuf; [`history`] converts
//! history-sync batches and address-book contacts; [`groups`] holds the group operations.

mod backoff;
mod bridge;
mod business;
mod calls;
pub mod cert_probe;
mod convert;
mod durable;
mod groups;
mod history;
pub mod media_http;
mod recipients;
mod supervisor;

use std::sync::Arc;

use parking_lot::Mutex;
use std::time::Duration;

use futures_util::future::BoxFuture;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use whatsapp_rust::download::DownloadParams;
use whatsapp_rust::http::UreqHttpClient;
use whatsapp_rust::wacore::iq::keepalive::KeepaliveSpec;
use whatsapp_rust::wacore::iq::privacy::{PrivacyCategory, PrivacyValue as WaPrivacyValue};
use whatsapp_rust::wacore::proto_helpers::MessageBuilderExt;
use whatsapp_rust::waproto::whatsapp as wa;
use whatsapp_rust::{
    Client, Jid, RevokeType, StatusPrivacySetting, StatusSendOptions, UploadOptions,
};

pub use backoff::Backoff;
use recipients::Recipients;
use supervisor::{Stop, Supervisor};

use super::call::{Call, PlacedCall};
use super::jid::STATUS_BROADCAST;
use super::{
    Context, Engine, EngineError, Media, MediaKind, MediaRef, MessageContent, MessageKey,
    NumberCheck, Outgoing, OutgoingMessage, Presence, Privacy, PrivacyValue, Profile, SentMessage,
    Session, SessionContext, unix_now,
};
use crate::store::signal::SledBackend;

/// WhatsApp's own endpoint, the default of `ZAPGATE_WA_URL`.
pub const DEFAULT_WA_URL: &str = "wss://web.whatsapp.com/ws/chat";

/// `close`/`logout` return within this, whatever the network does.
const CLOSE_DEADLINE: Duration = Duration::from_secs(5);
/// How long a health-check ping waits for WhatsApp's pong.
const PING_DEADLINE: Duration = Duration::from_secs(10);

/// Engine settings, from [`crate::config::Config`].
pub struct WaConfig {
    /// WebSocket endpoint (`ZAPGATE_WA_URL`).
    pub url: String,
    /// WA Web version announced at login; `None` lets whatsapp-rust fetch it (network).
    pub version: Option<(u32, u32, u32)>,
    /// Delay schedule between failed attempts.
    pub backoff: Backoff,
    /// Consecutive failed attempts before the session reports `Failed`.
    pub max_attempts: u32,
    /// A connected session silent for longer than this is reconnected (2x keepalive).
    pub watchdog: Duration,
    /// Shared by every client: clones share one connection pool.
    pub http: UreqHttpClient,
}

/// Parses `2.3000.1026131876` into the version triple.
pub fn parse_version(s: &str) -> Option<(u32, u32, u32)> {
    let mut it = s.trim().split('.').map(|p| p.parse::<u32>().ok());
    let v = (it.next()??, it.next()??, it.next()??);
    it.next().is_none().then_some(v)
}

pub struct WhatsAppEngine {
    config: Arc<WaConfig>,
}

impl WhatsAppEngine {
    pub fn new(config: WaConfig) -> WhatsAppEngine {
        WhatsAppEngine {
            config: Arc::new(config),
        }
    }
}

impl Engine for WhatsAppEngine {
    fn start(&self, ctx: SessionContext) -> Result<Arc<dyn Session>, EngineError> {
        let backend = SledBackend::open(&ctx.store, ctx.instance_id)?.into_arc();
        let (stop_tx, stop_rx) = watch::channel(Stop::Running);
        let current = Arc::new(Mutex::new(None));
        let supervisor = Supervisor {
            config: self.config.clone(),
            instance: ctx.instance_name.clone(),
            backend,
            events: ctx.events,
            pairing_phone: ctx.pairing_phone,
            sync_full_history: ctx.sync_full_history,
            stop: stop_rx,
            current: current.clone(),
        };
        let task = tokio::spawn(supervisor.run());
        Ok(Arc::new(WaSession {
            name: ctx.instance_name,
            stop: stop_tx,
            current,
            task: Mutex::new(Some(task)),
            recipients: Recipients::default(),
        }))
    }
}

/// One instance's session. Dropping it stops the supervisor (its `watch` sender goes away).
struct WaSession {
    name: String,
    stop: watch::Sender<Stop>,
    /// The client of the current attempt, `None` between attempts.
    current: Arc<Mutex<Option<Arc<Client>>>>,
    task: Mutex<Option<JoinHandle<()>>>,
    recipients: Recipients,
}

impl WaSession {
    fn client(&self) -> Result<Arc<Client>, EngineError> {
        self.current
            .lock()
            .clone()
            .filter(|c| c.is_logged_in())
            .ok_or(EngineError::NotConnected)
    }

    /// Asks the supervisor to stop and waits for it, at most [`CLOSE_DEADLINE`].
    async fn stop_with(&self, how: Stop) {
        let _ = self.stop.send(how);
        let task = self.task.lock().take();
        if let Some(mut task) = task
            && tokio::time::timeout(CLOSE_DEADLINE, &mut task)
                .await
                .is_err()
        {
            tracing::warn!(instance = %self.name, "session did not stop in time; aborting it");
            task.abort();
        }
    }
}

fn parse_jid(s: &str) -> Result<Jid, EngineError> {
    s.parse::<Jid>()
        .map_err(|e| EngineError::Rejected(format!("invalid JID {s}: {e}")))
}

/// A network or protocol failure of one operation, worded for the API caller.
fn failed(what: &str) -> impl FnOnce(String) -> EngineError + '_ {
    move |e| EngineError::Unavailable(format!("{what} failed: {e}"))
}

fn privacy_value(v: PrivacyValue) -> WaPrivacyValue {
    match v {
        PrivacyValue::All => WaPrivacyValue::All,
        PrivacyValue::Contacts => WaPrivacyValue::Contacts,
        PrivacyValue::ContactBlacklist => WaPrivacyValue::ContactBlacklist,
        PrivacyValue::None => WaPrivacyValue::None,
        PrivacyValue::MatchLastSeen => WaPrivacyValue::MatchLastSeen,
    }
}

fn our_privacy_value(v: &WaPrivacyValue) -> Option<PrivacyValue> {
    Some(match v {
        WaPrivacyValue::All => PrivacyValue::All,
        WaPrivacyValue::Contacts => PrivacyValue::Contacts,
        WaPrivacyValue::ContactBlacklist => PrivacyValue::ContactBlacklist,
        WaPrivacyValue::None => PrivacyValue::None,
        WaPrivacyValue::MatchLastSeen => PrivacyValue::MatchLastSeen,
        _ => return None,
    })
}

impl WaSession {
    async fn upload(
        &self,
        client: &Client,
        kind: MediaKind,
        data: Vec<u8>,
    ) -> Result<MediaRef, EngineError> {
        let up = client
            .upload(data, convert::media_type(kind), UploadOptions::default())
            .await
            .map_err(|e| failed("media upload")(e.to_string()))?;
        Ok(MediaRef {
            url: up.url,
            direct_path: up.direct_path,
            media_key: up.media_key.to_vec(),
            file_sha256: up.file_sha256.to_vec(),
            file_enc_sha256: up.file_enc_sha256.to_vec(),
            media_key_timestamp: up.media_key_timestamp,
        })
    }
}

impl WaSession {
    /// Posts a status that only `recipients` (JIDs) receive.
    async fn post_status(
        &self,
        content: Outgoing,
        recipients: &[String],
    ) -> Result<SentMessage, EngineError> {
        let client = self.client()?;
        // Looked up as for a send: the number's registered form, and its LID learned on the way.
        let mut jids = Vec::with_capacity(recipients.len());
        for r in recipients {
            jids.push(self.recipients.resolve(&client, parse_jid(r)?).await?);
        }
        let content = match content.into_content() {
            Ok(content) => content,
            Err(mut media) => {
                let data = std::mem::take(&mut media.data);
                let len = data.len() as u64;
                let blob = self.upload(&client, media.kind, data).await?;
                MessageContent::Media(media.uploaded(blob, len))
            }
        };
        let options = StatusSendOptions {
            privacy: StatusPrivacySetting::AllowList,
            ..Default::default()
        };
        let sent = client
            .status()
            .send_raw(
                convert::to_wa(&content, &Context::default()),
                &jids,
                options,
            )
            .await
            .map_err(|e| failed("status")(e.to_string()))?;
        Ok(SentMessage {
            id: sent.message_id,
            remote_jid: STATUS_BROADCAST.to_string(),
            timestamp: unix_now(),
            content,
        })
    }
}

impl Session for WaSession {
    fn send(&self, msg: OutgoingMessage) -> BoxFuture<'_, Result<SentMessage, EngineError>> {
        Box::pin(async move {
            if matches!(msg.content, Outgoing::List(_) | Outgoing::Buttons(_)) {
                return Err(EngineError::Invalid(
                    "list and button messages are not supported on this engine yet".into(),
                ));
            }
            let msg = match msg.content {
                Outgoing::Status {
                    content,
                    recipients,
                } => return self.post_status(*content, &recipients).await,
                content => OutgoingMessage { content, ..msg },
            };
            let client = self.client()?;
            let jid = self
                .recipients
                .resolve(&client, parse_jid(&msg.to)?)
                .await?;
            let to = jid.to_string();
            let content = match msg.content {
                Outgoing::Reaction { key, emoji } => {
                    let sent = client
                        .send_reaction(jid, convert::key_to_wa(&key), &emoji)
                        .await
                        .map_err(|e| failed("reaction")(e.to_string()))?;
                    return Ok(SentMessage {
                        id: sent.message_id,
                        remote_jid: to.clone(),
                        timestamp: unix_now(),
                        content: MessageContent::Reaction { key, text: emoji },
                    });
                }
                Outgoing::Poll {
                    name,
                    options,
                    selectable_count,
                } => {
                    let (sent, _secret) = client
                        .polls()
                        .create(jid, &name, &options, selectable_count)
                        .await
                        .map_err(|e| failed("poll")(e.to_string()))?;
                    return Ok(SentMessage {
                        id: sent.message_id,
                        remote_jid: to.clone(),
                        timestamp: unix_now(),
                        content: MessageContent::Poll {
                            name,
                            options,
                            selectable_count,
                        },
                    });
                }
                other => match other.into_content() {
                    Ok(content) => content,
                    Err(mut media) => {
                        let data = std::mem::take(&mut media.data);
                        let len = data.len() as u64;
                        let blob = self.upload(&client, media.kind, data).await?;
                        MessageContent::Media(media.uploaded(blob, len))
                    }
                },
            };
            let message = convert::to_wa(&content, &msg.context);
            let sent = client
                .send_message(jid, message)
                .await
                .map_err(|e| failed("send")(e.to_string()))?;
            Ok(SentMessage {
                id: sent.message_id,
                remote_jid: to.clone(),
                timestamp: unix_now(),
                content,
            })
        })
    }

    fn edit(
        &self,
        key: MessageKey,
        text: String,
    ) -> BoxFuture<'_, Result<SentMessage, EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let jid = parse_jid(&key.remote_jid)?;
            let id = client
                .edit_message(jid, key.id.clone(), wa::Message::text(text.clone()))
                .await
                .map_err(|e| failed("edit")(e.to_string()))?;
            Ok(SentMessage {
                id,
                remote_jid: key.remote_jid.clone(),
                timestamp: unix_now(),
                content: MessageContent::Edit { key, text },
            })
        })
    }

    fn revoke(&self, key: MessageKey) -> BoxFuture<'_, Result<SentMessage, EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let jid = parse_jid(&key.remote_jid)?;
            let how = match (&key.participant, key.from_me) {
                (Some(p), false) => RevokeType::Admin {
                    original_sender: parse_jid(p)?,
                },
                _ => RevokeType::Sender,
            };
            client
                .revoke_message(jid, key.id.clone(), how)
                .await
                .map_err(|e| failed("delete")(e.to_string()))?;
            Ok(SentMessage {
                id: key.id.clone(),
                remote_jid: key.remote_jid.clone(),
                timestamp: unix_now(),
                content: MessageContent::Revoke { key },
            })
        })
    }

    fn mark_read(&self, keys: Vec<MessageKey>) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let batches = receipt_batches(keys);
            for ((chat, sender), ids) in batches {
                let chat = parse_jid(&chat)?;
                let sender = sender.as_deref().map(parse_jid).transpose()?;
                let ids: Vec<&str> = ids.iter().map(String::as_str).collect();
                client
                    .mark_as_read(&chat, sender.as_ref(), &ids)
                    .await
                    .map_err(|e| failed("read receipt")(e.to_string()))?;
            }
            Ok(())
        })
    }

    fn check_numbers(
        &self,
        numbers: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<NumberCheck>, EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            self.recipients.check(&client, numbers).await
        })
    }

    fn set_presence(&self, presence: Presence) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let r = match presence {
                Presence::Unavailable => client.presence().set_unavailable().await,
                // Typing states need a chat; the global presence they imply is "available".
                _ => client.presence().set_available().await,
            };
            r.map_err(|e| failed("presence")(e.to_string()))
        })
    }

    fn chat_presence(
        &self,
        to: String,
        presence: Presence,
    ) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let jid = parse_jid(&to)?;
            let r = match presence {
                Presence::Composing => client.chatstate().send_composing(&jid).await,
                Presence::Recording => client.chatstate().send_recording(&jid).await,
                Presence::Paused => client.chatstate().send_paused(&jid).await,
                Presence::Available | Presence::Unavailable => {
                    return self.set_presence(presence).await;
                }
            };
            r.map_err(|e| failed("chat presence")(e.to_string()))
        })
    }

    fn profile_picture_url(
        &self,
        jid: String,
    ) -> BoxFuture<'_, Result<Option<String>, EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let jid = parse_jid(&jid)?;
            let pic = client
                .contacts()
                .get_profile_picture(&jid, false)
                .await
                .map_err(|e| failed("profile picture")(e.to_string()))?;
            Ok(pic.map(|p| p.url))
        })
    }

    fn business_profile(
        &self,
        jid: String,
    ) -> BoxFuture<'_, Result<Option<super::BusinessProfile>, EngineError>> {
        Box::pin(async move { business::profile(&*self.client()?, &jid).await })
    }

    fn fetch_profile(&self, jid: String) -> BoxFuture<'_, Result<Profile, EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let target = parse_jid(&jid)?;
            let own = client.pn().map(|j| j.to_non_ad());
            let is_self = own.as_ref().is_some_and(|o| o.user == target.user);
            let info = client
                .contacts()
                .get_user_info(std::slice::from_ref(&target))
                .await
                .map_err(|e| failed("user info")(e.to_string()))?;
            let info = info.into_iter().find(|(j, _)| j.user == target.user);
            let picture_url = self.profile_picture_url(jid.clone()).await.unwrap_or(None);
            Ok(Profile {
                exists: info.is_some() || is_self,
                name: if is_self {
                    Some(client.push_name()).filter(|n| !n.is_empty())
                } else {
                    None
                },
                status: info.as_ref().and_then(|(_, i)| i.status.clone()),
                is_business: info.as_ref().is_some_and(|(_, i)| i.is_business),
                picture_url,
                jid,
            })
        })
    }

    fn download(&self, media: Media) -> BoxFuture<'_, Result<Vec<u8>, EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let b = &media.blob;
            if b.direct_path.is_empty() || b.media_key.is_empty() {
                return Err(EngineError::Rejected(
                    "the message carries no downloadable media".into(),
                ));
            }
            if !b.plain_direct_path() {
                return Err(EngineError::Rejected(
                    "directPath must be a plain path".into(),
                ));
            }
            let params = DownloadParams::encrypted(
                b.direct_path.clone(),
                &b.media_key,
                &b.file_sha256,
                &b.file_enc_sha256,
                media.file_length,
                convert::media_type(media.kind),
            );
            client
                .download(&params)
                .await
                .map_err(|e| failed("media download")(e.to_string()))
        })
    }

    fn set_blocked(&self, jid: String, blocked: bool) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let jid = parse_jid(&jid)?;
            let r = if blocked {
                client.blocking().block(&jid).await
            } else {
                client.blocking().unblock(&jid).await
            };
            r.map_err(|e| failed("block")(e.to_string()))
        })
    }

    fn privacy(&self) -> BoxFuture<'_, Result<Privacy, EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let got = client
                .fetch_privacy_settings()
                .await
                .map_err(|e| failed("privacy settings")(e.to_string()))?;
            let mut p = Privacy::default();
            let read = |c: PrivacyCategory, slot: &mut PrivacyValue| {
                if let Some(v) = got.get_value(&c).and_then(our_privacy_value) {
                    *slot = v;
                }
            };
            read(PrivacyCategory::ReadReceipts, &mut p.readreceipts);
            read(PrivacyCategory::Profile, &mut p.profile);
            read(PrivacyCategory::Status, &mut p.status);
            read(PrivacyCategory::Online, &mut p.online);
            read(PrivacyCategory::Last, &mut p.last);
            read(PrivacyCategory::GroupAdd, &mut p.groupadd);
            Ok(p)
        })
    }

    fn set_privacy(&self, p: Privacy) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            for (c, v) in [
                (PrivacyCategory::ReadReceipts, p.readreceipts),
                (PrivacyCategory::Profile, p.profile),
                (PrivacyCategory::Status, p.status),
                (PrivacyCategory::Online, p.online),
                (PrivacyCategory::Last, p.last),
                (PrivacyCategory::GroupAdd, p.groupadd),
            ] {
                client
                    .set_privacy_setting(c, privacy_value(v))
                    .await
                    .map_err(|e| failed("privacy update")(e.to_string()))?;
            }
            Ok(())
        })
    }

    fn set_profile_name(&self, name: String) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            client
                .profile()
                .set_push_name(&name)
                .await
                .map_err(|e| failed("profile name")(e.to_string()))
        })
    }

    fn set_profile_status(&self, status: String) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            client
                .profile()
                .set_status_text(&status)
                .await
                .map_err(|e| failed("profile status")(e.to_string()))
        })
    }

    fn set_profile_picture(&self, jpeg: Option<Vec<u8>>) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let r = match jpeg {
                Some(bytes) => client.profile().set_profile_picture(bytes).await,
                None => client.profile().remove_profile_picture().await,
            };
            r.map(|_| ())
                .map_err(|e| failed("profile picture")(e.to_string()))
        })
    }

    fn reject_call(&self, call: Call) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            calls::reject(&client, &call).await
        })
    }

    /// Placing a call needs whatsapp-rust's `voip` feature (WebRTC, Opus), which zapgate
    /// leaves out.
    fn offer_call(
        &self,
        _to: String,
        _is_video: bool,
        _ring: Duration,
    ) -> BoxFuture<'_, Result<PlacedCall, EngineError>> {
        Box::pin(async move {
            self.client()?;
            Err(EngineError::Unavailable(
                "Placing calls is not available on the WHATSAPP-BAILEYS engine".into(),
            ))
        })
    }

    fn ping(&self) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            client
                .execute(KeepaliveSpec::with_timeout(PING_DEADLINE))
                .await
                .map_err(|e| failed("ping")(e.to_string()))
        })
    }

    fn logout(&self) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move {
            self.stop_with(Stop::Logout).await;
            Ok(())
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.stop_with(Stop::Close))
    }

    fn groups(&self) -> &dyn super::group::GroupOps {
        self
    }
}

/// (chat, sender in a group) a read receipt goes to.
type ReceiptChat = (String, Option<String>);

/// One receipt per (chat, sender), as WhatsApp Web batches them, in first-seen order; our own
/// messages get none. Linear in the number of keys.
fn receipt_batches(keys: Vec<MessageKey>) -> Vec<(ReceiptChat, Vec<String>)> {
    let mut index: std::collections::HashMap<ReceiptChat, usize> = Default::default();
    let mut batches: Vec<(ReceiptChat, Vec<String>)> = Vec::new();
    for k in keys.into_iter().filter(|k| !k.from_me) {
        let chat = (k.remote_jid, k.participant);
        match index.get(&chat) {
            Some(&i) => batches[i].1.push(k.id),
            None => {
                index.insert(chat.clone(), batches.len());
                batches.push((chat, vec![k.id]));
            }
        }
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse() {
        assert_eq!(
            parse_version("2.3000.1026131876"),
            Some((2, 3000, 1026131876))
        );
        assert_eq!(parse_version("2.3000"), None);
        assert_eq!(parse_version("2.3000.1.4"), None);
        assert_eq!(parse_version("a.b.c"), None);
    }

    #[test]
    fn receipts_group_by_chat_and_sender_in_one_pass() {
        let key = |chat: &str, p: Option<&str>, id: &str, from_me: bool| MessageKey {
            remote_jid: chat.into(),
            from_me,
            id: id.into(),
            participant: p.map(str::to_string),
        };
        let keys = vec![
            key("a@s.whatsapp.net", None, "1", false),
            key("g@g.us", Some("b@s.whatsapp.net"), "2", false),
            key("a@s.whatsapp.net", None, "3", false),
            key("a@s.whatsapp.net", None, "4", true),
            key("g@g.us", Some("c@s.whatsapp.net"), "5", false),
        ];
        let b = receipt_batches(keys);
        assert_eq!(b.len(), 3);
        assert_eq!(b[0].1, vec!["1", "3"]);
        assert_eq!(b[1].1, vec!["2"]);
        assert_eq!(b[2].0.1.as_deref(), Some("c@s.whatsapp.net"));
        // 50 000 keys in distinct chats: the old pairwise search took quadratic time here.
        let many = (0..50_000)
            .map(|i| key(&format!("{i}@s.whatsapp.net"), None, "x", false))
            .collect();
        assert_eq!(receipt_batches(many).len(), 50_000);
    }
}
