//! What a paired loopback session does besides connecting: sending every content kind, edits,
//! deletes, receipts, presence, profiles, privacy and blocking, with WhatsApp's rules; calls are in
//! `calls`.

use std::time::Duration;

use futures_util::future::BoxFuture;

use super::{LoopbackSession, PHONE_KEY};
use crate::engine::call::{Call, PlacedCall};
use crate::engine::group::{GroupOps, is_group_jid};
use crate::engine::jid::{USER_SERVER, to_jid, user_of};
use crate::engine::{
    Context, EngineError, EngineEvent, InboundMessage, Media, MessageContent, MessageKey,
    MessageStatus, NumberCheck, Outgoing, OutgoingMessage, Presence, Privacy, PrivacyValue,
    Profile, Receipt, SentMessage, Session, new_message_id, unix_now,
};

/// `key` as the other side of the chat sees it: the chat is the sender, ownership flips.
fn mirror(key: &MessageKey, sender_jid: &str) -> MessageKey {
    MessageKey {
        remote_jid: sender_jid.to_string(),
        from_me: !key.from_me,
        id: key.id.clone(),
        participant: None,
    }
}

fn mirror_content(content: &MessageContent, sender_jid: &str) -> MessageContent {
    match content {
        MessageContent::Reaction { key, text } => MessageContent::Reaction {
            key: mirror(key, sender_jid),
            text: text.clone(),
        },
        MessageContent::Revoke { key } => MessageContent::Revoke {
            key: mirror(key, sender_jid),
        },
        MessageContent::Edit { key, text } => MessageContent::Edit {
            key: mirror(key, sender_jid),
            text: text.clone(),
        },
        other => other.clone(),
    }
}

impl LoopbackSession {
    pub(super) fn own_jid(&self) -> Result<(String, String), EngineError> {
        let phone = self.own_phone()?;
        let jid = format!("{phone}@{USER_SERVER}");
        Ok((phone, jid))
    }

    pub(super) fn push_name(&self, phone: &str) -> String {
        self.net
            .book
            .display_name(phone)
            .unwrap_or_else(|| self.name.clone())
    }

    /// Sends to a group or to a person.
    async fn dispatch(
        &self,
        to: &str,
        content: MessageContent,
        context: Context,
    ) -> Result<SentMessage, EngineError> {
        if is_group_jid(to) {
            let from = self.own_phone()?;
            return self
                .send_to_group(&from, to.to_string(), content, context)
                .await;
        }
        self.deliver(to, content, context)
    }

    /// Hands `content` to the chat's other side and reports the receipts WhatsApp would.
    fn deliver(
        &self,
        to: &str,
        content: MessageContent,
        context: Context,
    ) -> Result<SentMessage, EngineError> {
        let (from, from_jid) = self.own_jid()?;
        let Some(to_phone) = self.net.registered(user_of(to)) else {
            return Err(EngineError::NotOnWhatsApp {
                jid: to.to_string(),
                number: user_of(to).to_string(),
            });
        };
        let sent = SentMessage {
            id: new_message_id(),
            remote_jid: format!("{to_phone}@{USER_SERVER}"),
            timestamp: unix_now(),
            content: content.clone(),
        };
        let receipt = |status| {
            EngineEvent::Receipt(Receipt {
                id: sent.id.clone(),
                remote_jid: sent.remote_jid.clone(),
                from_me: true,
                status,
            })
        };
        // A blocked sender still gets the server's ack, never a delivery (one grey tick).
        if !self.net.book.has_blocked(&to_phone, &from) {
            let quoted = context.quoted.map(|mut q| {
                q.key = mirror(&q.key, &from_jid);
                q
            });
            let inbound = InboundMessage {
                id: sent.id.clone(),
                remote_jid: from_jid.clone(),
                from_me: false,
                participant: None,
                push_name: Some(self.push_name(&from)),
                timestamp: sent.timestamp,
                content: mirror_content(&content, &from_jid),
                context: Context {
                    quoted,
                    mentions: context.mentions,
                },
            };
            self.net
                .push(&to_phone, EngineEvent::Message(Box::new(inbound)))
                .then_some(())
                .ok_or(EngineError::Busy)?;
            // Receipts come back through our own inbox, after the send has returned.
            self.net.push(&from, receipt(MessageStatus::ServerAck));
            if self.net.is_online(&to_phone) {
                self.net.push(&from, receipt(MessageStatus::DeliveryAck));
            }
        } else {
            self.net.push(&from, receipt(MessageStatus::ServerAck));
        }
        Ok(sent)
    }

    fn own_message(key: &MessageKey) -> Result<(), EngineError> {
        if key.from_me {
            Ok(())
        } else {
            Err(EngineError::Rejected(
                "only your own messages can be changed".into(),
            ))
        }
    }

    /// Reads `phone`'s card as `viewer` may see it.
    fn visible(&self, phone: &str, viewer: &str, pick: fn(&Privacy) -> PrivacyValue) -> bool {
        let Ok(card) = self.net.book.card(phone) else {
            return false;
        };
        phone == viewer
            || match pick(&card.privacy) {
                PrivacyValue::None => false,
                // The loopback network has no address books: "contacts" means nobody else.
                PrivacyValue::Contacts => false,
                _ => !card.blocked.iter().any(|b| b == viewer),
            }
    }
}

impl Session for LoopbackSession {
    fn send(&self, msg: OutgoingMessage) -> BoxFuture<'_, Result<SentMessage, EngineError>> {
        Box::pin(async move {
            self.own_phone()?;
            let (content, recipients) = match msg.content {
                Outgoing::Status {
                    content,
                    recipients,
                } => (*content, Some(recipients)),
                other => (other, None),
            };
            let content = match content.into_content() {
                Ok(content) => content,
                Err(media) => {
                    let blob = self.net.book.upload_expiring(&media.data)?;
                    let len = media.data.len() as u64;
                    MessageContent::Media(media.uploaded(blob, len))
                }
            };
            if let Some(recipients) = recipients {
                return self.post_status(content, &recipients);
            }
            self.dispatch(&msg.to, content, msg.context).await
        })
    }

    fn edit(
        &self,
        key: MessageKey,
        text: String,
    ) -> BoxFuture<'_, Result<SentMessage, EngineError>> {
        Box::pin(async move {
            Self::own_message(&key)?;
            let to = key.remote_jid.clone();
            self.dispatch(&to, MessageContent::Edit { key, text }, Context::default())
                .await
        })
    }

    fn revoke(&self, key: MessageKey) -> BoxFuture<'_, Result<SentMessage, EngineError>> {
        Box::pin(async move {
            Self::own_message(&key)?;
            let to = key.remote_jid.clone();
            let mut sent = self.deliver(
                &to,
                MessageContent::Revoke { key: key.clone() },
                Context::default(),
            )?;
            // A revoke is known by the id of the message it deletes.
            sent.id = key.id;
            Ok(sent)
        })
    }

    fn mark_read(&self, keys: Vec<MessageKey>) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move {
            let (phone, jid) = self.own_jid()?;
            let card = self.net.book.card(&phone)?;
            if card.privacy.readreceipts == PrivacyValue::None {
                return Ok(());
            }
            for k in keys.into_iter().filter(|k| !k.from_me) {
                // Only accounts on the network get a receipt: a key naming any other JID must
                // not leave an inbox behind for it.
                let to = user_of(&k.remote_jid);
                if self.net.owner_of(to).is_none() {
                    continue;
                }
                self.net.push(
                    to,
                    EngineEvent::Receipt(Receipt {
                        id: k.id,
                        remote_jid: jid.clone(),
                        from_me: true,
                        status: MessageStatus::Read,
                    }),
                );
            }
            Ok(())
        })
    }

    fn check_numbers(
        &self,
        numbers: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<NumberCheck>, EngineError>> {
        Box::pin(async move {
            self.own_phone()?;
            Ok(numbers
                .into_iter()
                .map(|n| {
                    let jid = to_jid(&n).unwrap_or_else(|| format!("{n}@{USER_SERVER}"));
                    let found = self.net.registered(user_of(&jid));
                    let exists = found.is_some();
                    let jid = found.map_or(jid, |p| format!("{p}@{USER_SERVER}"));
                    NumberCheck {
                        number: n,
                        jid,
                        exists,
                    }
                })
                .collect())
        })
    }

    fn set_presence(&self, _presence: Presence) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move { self.own_phone().map(|_| ()) })
    }

    fn chat_presence(
        &self,
        to: String,
        presence: Presence,
    ) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move {
            let (phone, jid) = self.own_jid()?;
            let to_phone = user_of(&to);
            // Presence is not queued for offline receivers, and blocked senders are invisible.
            if self.net.is_online(to_phone) && !self.net.book.has_blocked(to_phone, &phone) {
                self.net
                    .push(to_phone, EngineEvent::Presence { jid, presence });
            }
            Ok(())
        })
    }

    fn profile_picture_url(
        &self,
        jid: String,
    ) -> BoxFuture<'_, Result<Option<String>, EngineError>> {
        Box::pin(async move {
            let me = self.own_phone()?;
            let phone = user_of(&jid);
            if !self.visible(phone, &me, |p| p.profile) {
                return Ok(None);
            }
            let card = self.net.book.card(phone)?;
            Ok(card.picture.map(|path| format!("loopback://media{path}")))
        })
    }

    /// The stand-in network has no business accounts.
    fn business_profile(
        &self,
        _jid: String,
    ) -> BoxFuture<'_, Result<Option<crate::engine::BusinessProfile>, EngineError>> {
        Box::pin(async move { self.own_phone().map(|_| None) })
    }

    fn fetch_profile(&self, jid: String) -> BoxFuture<'_, Result<Profile, EngineError>> {
        Box::pin(async move {
            let me = self.own_phone()?;
            let phone = user_of(&jid).to_string();
            if self.net.owner_of(&phone).is_none() {
                return Ok(Profile {
                    jid,
                    ..Profile::default()
                });
            }
            let card = self.net.book.card(&phone)?;
            let picture_url = self.profile_picture_url(jid.clone()).await?;
            let name = self.net.book.display_name(&phone);
            Ok(Profile {
                jid,
                exists: true,
                name,
                status: card
                    .status
                    .filter(|_| self.visible(&phone, &me, |p| p.status)),
                picture_url,
                is_business: false,
            })
        })
    }

    fn download(&self, media: Media) -> BoxFuture<'_, Result<Vec<u8>, EngineError>> {
        Box::pin(async move {
            self.own_phone()?;
            self.net.book.download(&media.blob)
        })
    }

    fn set_blocked(&self, jid: String, blocked: bool) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move {
            let me = self.own_phone()?;
            let other = user_of(&jid).to_string();
            self.net.book.update(&me, |c| {
                c.blocked.retain(|b| *b != other);
                if blocked {
                    c.blocked.push(other);
                }
            })
        })
    }

    fn privacy(&self) -> BoxFuture<'_, Result<Privacy, EngineError>> {
        Box::pin(async move { Ok(self.net.book.card(&self.own_phone()?)?.privacy) })
    }

    fn set_privacy(&self, privacy: Privacy) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move {
            let me = self.own_phone()?;
            self.net.book.update(&me, |c| c.privacy = privacy)
        })
    }

    fn set_profile_name(&self, name: String) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move {
            let me = self.own_phone()?;
            self.net.book.update(&me, |c| c.name = Some(name))
        })
    }

    fn set_profile_status(&self, status: String) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move {
            let me = self.own_phone()?;
            self.net.book.update(&me, |c| c.status = Some(status))
        })
    }

    fn set_profile_picture(&self, jpeg: Option<Vec<u8>>) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move {
            let me = self.own_phone()?;
            let path = match jpeg {
                Some(bytes) => Some(self.net.book.upload(&bytes)?.direct_path),
                None => None,
            };
            self.net.book.update(&me, |c| c.picture = path)
        })
    }

    fn reject_call(&self, call: Call) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move { self.decline_call(&call) })
    }

    fn offer_call(
        &self,
        to: String,
        is_video: bool,
        ring: Duration,
    ) -> BoxFuture<'_, Result<PlacedCall, EngineError>> {
        Box::pin(async move { self.place_call(&to, is_video, ring) })
    }

    /// The stand-in network answers as long as the account is attached to it.
    fn ping(&self) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move {
            let phone = self.own_phone()?;
            if self.net.is_online(&phone) {
                Ok(())
            } else {
                Err(EngineError::NotConnected)
            }
        })
    }

    fn logout(&self) -> BoxFuture<'_, Result<(), EngineError>> {
        Box::pin(async move {
            let phone = self.phone.lock().clone();
            self.stop();
            if let Some(phone) = phone {
                self.net.release_phone(&phone);
            }
            let _ = self.keys.remove(PHONE_KEY);
            Ok(())
        })
    }

    fn close(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move { self.stop() })
    }

    fn groups(&self) -> &dyn GroupOps {
        self
    }
}
