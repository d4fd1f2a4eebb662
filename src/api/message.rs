//! `/message/*`: sending. Every send answers 201 with the message record (Evolution §6).
//!
//! The bodies share Evolution's "metadata" fields (`number`, `delay`, `quoted`, `mentioned`),
//! handled once in [`Target::prepare`]; each handler adds its own content and calls
//! [`InstanceHandle::send`].

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Duration;

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::types::multipart::Upload;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde_json::Value;

use super::auth::ApiKey;
use super::error::ApiError;
use super::jid_text::JidText;
use super::media::sniff_mimetype;
use super::message_dto::*;
use super::required::Required;
use crate::engine::group::is_group_jid;
use crate::engine::jid::{to_jid, user_of};
use crate::engine::{
    ContactCard, Context, MediaKind, MessageKey, NewMedia, Outgoing, OutgoingMessage, Presence,
    Quote,
};
use crate::evolution::message::{message_record, text_of};
use crate::instance::InstanceHandle;
use crate::state::AppState;
use crate::store::history::StoredMessage;

/// Longest `delay` honoured; Evolution blocks the request for the whole delay.

#[derive(Tags)]
pub(crate) enum Tag {
    /// Sending messages.
    Message,
}

pub struct MessageApi {
    pub state: Arc<AppState>,
}

/// A message key as clients send it.
#[derive(Object, Debug, Clone)]
pub struct KeyBody {
    #[oai(validator(max_length = 128))]
    pub id: Option<String>,
    #[oai(rename = "remoteJid", validator(max_length = 128))]
    pub remote_jid: Option<String>,
    #[oai(rename = "fromMe")]
    pub from_me: Option<bool>,
    #[oai(validator(max_length = 128))]
    pub participant: Option<String>,
}

impl KeyBody {
    /// A full key; `remoteJid` accepts a number too.
    pub fn into_key(self) -> Result<MessageKey, ApiError> {
        let id = required(self.id, "key.id")?;
        let remote = required(self.remote_jid, "key.remoteJid")?;
        Ok(MessageKey {
            remote_jid: jid(&remote)?,
            from_me: self.from_me.unwrap_or(false),
            id,
            participant: self.participant.map(|p| jid(&p)).transpose()?,
        })
    }
}

#[derive(Object, Debug)]
pub struct Quoted {
    pub key: Option<KeyBody>,
    pub message: Option<Value>,
}

/// Evolution's shared send fields.
#[derive(Object, Debug, Default)]
#[oai(rename_all = "camelCase")]
pub struct Meta {
    /// Digits, a JID, or a group id.
    pub number: Required<JidText<128>>,
    /// Milliseconds of "composing" shown before sending; the request waits that long.
    pub delay: Option<i64>,
    pub quoted: Option<Quoted>,
    pub link_preview: Option<bool>,
    pub mentions_every_one: Option<bool>,
    #[oai(validator(max_items = 1024, max_length = 128))]
    pub mentioned: Option<Vec<String>>,
}

pub(crate) fn required<T>(v: impl super::required::Given<T>, name: &str) -> Result<T, ApiError> {
    v.given()
        .ok_or_else(|| ApiError::Validation(format!("instance requires property \"{name}\"")))
}

pub(crate) fn jid(number: &str) -> Result<String, ApiError> {
    to_jid(number).ok_or_else(|| {
        ApiError::Validation("number does not match pattern \"^\\d+[\\.@\\w-]+\"".into())
    })
}

/// `delay` in milliseconds, capped at `ZAPGATE_MAX_SEND_DELAY_MS`.
pub(crate) fn delay_ms(delay: Option<i64>, cap_ms: u64) -> Result<u64, ApiError> {
    match delay {
        Some(d) if d < 0 => Err(ApiError::Validation(
            "delay must be greater than or equal to 0".into(),
        )),
        Some(d) => Ok((d as u64).min(cap_ms)),
        None => Ok(0),
    }
}

/// The resolved metadata of one send.
pub(crate) struct Target {
    to: String,
    context: Context,
    delay: u64,
}

impl Target {
    /// Validates the shared fields; `presence` is what the delay shows (typing or recording).
    pub(crate) async fn prepare(
        h: &InstanceHandle,
        meta: Meta,
        delay_cap_ms: u64,
    ) -> Result<Target, ApiError> {
        let to = jid(&required(meta.number, "number")?)?;
        let delay = delay_ms(meta.delay, delay_cap_ms)?;
        let quoted = match meta.quoted.and_then(|q| q.key.map(|k| (k, q.message))) {
            Some((k, message)) => {
                let id = required(k.id, "quoted.key.id")?;
                let stored = h.message(&id)?;
                let text = message
                    .map(|m| serde_json::json!({ "message": m }))
                    .as_ref()
                    .and_then(text_of)
                    .or_else(|| stored.as_ref().and_then(|m| m.text()).map(str::to_owned));
                let from_me = k
                    .from_me
                    .unwrap_or_else(|| stored.as_ref().is_some_and(|m| m.key.from_me));
                let participant = stored.and_then(|m| m.key.participant);
                Some(Quote {
                    key: MessageKey {
                        remote_jid: k.remote_jid.map_or_else(|| Ok(to.clone()), |r| jid(&r))?,
                        from_me,
                        id,
                        participant,
                    },
                    text,
                })
            }
            None => None,
        };
        let mut mentions = meta
            .mentioned
            .unwrap_or_default()
            .iter()
            .map(|m| jid(m))
            .collect::<Result<Vec<_>, _>>()?;
        // Groups only, as in Evolution: every participant is mentioned.
        if meta.mentions_every_one == Some(true) && is_group_jid(&to) {
            let info = h.session()?.groups().info(&to).await?;
            for p in info.participants {
                if !mentions.contains(&p.id) {
                    mentions.push(p.id);
                }
            }
        }
        Ok(Target {
            to,
            context: Context { quoted, mentions },
            delay,
        })
    }

    /// Shows `presence` in the chat for the delay (the request waits, as Evolution's does).
    async fn wait(&self, h: &InstanceHandle, presence: Presence) -> Result<(), ApiError> {
        if self.delay > 0 {
            h.chat_presence(self.to.clone(), presence).await?;
            tokio::time::sleep(Duration::from_millis(self.delay)).await;
            h.chat_presence(self.to.clone(), Presence::Paused).await?;
        }
        Ok(())
    }

    pub(crate) async fn send(
        self,
        h: &InstanceHandle,
        content: Outgoing,
        presence: Presence,
    ) -> Result<SendResponse, ApiError> {
        let record = self.send_stored(h, content, presence).await?;
        Ok(SendResponse::Created(Json(message_record(
            &record,
            &h.id(),
        ))))
    }

    /// Sends after the delay and answers with the message as stored (each dialect shapes it).
    pub(crate) async fn send_stored(
        self,
        h: &InstanceHandle,
        content: Outgoing,
        presence: Presence,
    ) -> Result<StoredMessage, ApiError> {
        self.wait(h, presence).await?;
        Ok(h.send(OutgoingMessage {
            to: self.to,
            content,
            context: self.context,
        })
        .await?)
    }
}

#[derive(ApiResponse)]
pub(crate) enum SendResponse {
    /// The message record, status PENDING.
    #[oai(status = 201)]
    Created(Json<Value>),
}

fn media_kind(s: &str) -> Result<MediaKind, ApiError> {
    match MediaKind::parse(s) {
        Some(k) if k != MediaKind::Sticker => Ok(k),
        _ => Err(ApiError::BadRequest(
            "mediatype must be one of: image, document, video, audio".into(),
        )),
    }
}

/// Escapes a vCard value (RFC 6350 §3.4).
fn vcard_escape(s: &str) -> String {
    s.replace('\\', "\\\\")
        .replace(',', "\\,")
        .replace(';', "\\;")
        .replace('\n', "\\n")
}

pub(crate) fn vcard(c: &ContactBody, name: &str, phone: &str) -> String {
    let digits: String = phone.chars().filter(|c| c.is_ascii_digit()).collect();
    let waid = c
        .wuid
        .as_deref()
        .map(|w| user_of(w).to_string())
        .unwrap_or_else(|| digits.clone());
    let mut v = format!(
        "BEGIN:VCARD\nVERSION:3.0\nN:{n}\nFN:{n}\n",
        n = vcard_escape(name)
    );
    if let Some(o) = &c.organization {
        v.push_str(&format!("ORG:{};\n", vcard_escape(o)));
    }
    if let Some(e) = &c.email {
        v.push_str(&format!("EMAIL:{}\n", vcard_escape(e)));
    }
    if let Some(u) = &c.url {
        v.push_str(&format!("URL:{}\n", vcard_escape(u)));
    }
    v.push_str(&format!(
        "TEL;type=CELL;type=VOICE;waid={waid}:{}\nEND:VCARD",
        vcard_escape(phone)
    ));
    v
}

/// One emoji (possibly several code points joined), nothing else.
pub(crate) fn is_one_emoji(s: &str) -> bool {
    let n = s.chars().count();
    (1..=10).contains(&n)
        && s.chars().all(|c| !c.is_ascii() && !c.is_whitespace())
        && s.chars().any(|c| (c as u32) >= 0x2100)
}

/// The media of a send. Only a connected instance fetches a URL: a closed one answers its
/// not-connected 400 without the server making any request.
pub(crate) async fn media_bytes(
    state: &AppState,
    h: &InstanceHandle,
    key: &ApiKey,
    media: Option<String>,
    field: &str,
) -> Result<Vec<u8>, ApiError> {
    let media = required(media, field)?;
    h.session()?;
    state.media.resolve(&media, state.requester(key)).await
}

impl MessageApi {
    /// The media of a send. Only a connected instance fetches a URL: a closed one answers its
    /// not-connected 400 without the server making any request.
    async fn media_bytes(
        &self,
        h: &InstanceHandle,
        key: &ApiKey,
        media: Option<String>,
        field: &str,
    ) -> Result<Vec<u8>, ApiError> {
        media_bytes(&self.state, h, key, media, field).await
    }

    /// A form's media: the `file` part (and its file name) or, without one, the text field.
    async fn upload_or_media(
        &self,
        h: &InstanceHandle,
        key: &ApiKey,
        file: Option<Upload>,
        media: Option<String>,
        field: &str,
    ) -> Result<(Vec<u8>, Option<String>), ApiError> {
        let Some(file) = file else {
            return Ok((self.media_bytes(h, key, media, field).await?, None));
        };
        h.session()?;
        let file_name = file.file_name().map(str::to_string);
        let data = file
            .into_vec()
            .await
            .map_err(|e| ApiError::BadRequest(format!("could not read the file part: {e}")))?;
        if data.is_empty() {
            return Err(ApiError::BadRequest("the file part is empty".into()));
        }
        Ok((data, file_name))
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_media_parts(
        &self,
        h: &InstanceHandle,
        meta: Meta,
        mediatype: Option<String>,
        mimetype: Option<String>,
        caption: Option<String>,
        file_name: Option<String>,
        data: Vec<u8>,
    ) -> Result<SendResponse, ApiError> {
        let kind = media_kind(&required(mediatype, "mediatype")?)?;
        if kind == MediaKind::Document && file_name.is_none() {
            return Err(ApiError::BadRequest(
                "fileName is required for documents".into(),
            ));
        }
        let target = Target::prepare(h, meta, self.state.config.max_send_delay_ms).await?;
        let mimetype = mimetype
            .or_else(|| sniff_mimetype(&data).map(str::to_string))
            .unwrap_or_else(|| kind.default_mimetype().to_string());
        let content = Outgoing::Media(NewMedia {
            kind,
            data,
            mimetype,
            caption: caption.filter(|c| !c.is_empty() && kind != MediaKind::Audio),
            file_name,
            ptt: false,
        });
        let presence = if kind == MediaKind::Audio {
            Presence::Recording
        } else {
            Presence::Composing
        };
        target.send(h, content, presence).await
    }
}

#[OpenApi(tag = "Tag::Message")]
impl MessageApi {
    /// Send a text message.
    #[oai(
        path = "/message/sendText/:instanceName",
        method = "post",
        operation_id = "send_text"
    )]
    async fn send_text(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<SendTextBody>,
    ) -> Result<SendResponse, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let text = required(b.text, "text")?;
        if text.trim().is_empty() {
            return Err(ApiError::BadRequest("Text is required".into()));
        }
        let target = Target::prepare(&h, b.meta, self.state.config.max_send_delay_ms).await?;
        target
            .send(&h, Outgoing::Text(text), Presence::Composing)
            .await
    }

    /// Send an image, video, audio file or document (JSON with a URL or base64, or multipart).
    #[oai(
        path = "/message/sendMedia/:instanceName",
        method = "post",
        operation_id = "send_media"
    )]
    async fn send_media(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: SendMediaRequest,
    ) -> Result<SendResponse, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        match body {
            SendMediaRequest::Json(Json(b)) => {
                let data = self.media_bytes(&h, &key, b.media, "media").await?;
                self.send_media_parts(
                    &h,
                    b.meta,
                    b.mediatype,
                    b.mimetype,
                    b.caption,
                    b.file_name,
                    data,
                )
                .await
            }
            SendMediaRequest::Form(f) => {
                let (data, uploaded_name) = self
                    .upload_or_media(&h, &key, f.file, f.media, "file")
                    .await?;
                let file_name = f.file_name.or(uploaded_name);
                let meta = form_meta(f.number, f.delay);
                self.send_media_parts(
                    &h,
                    meta,
                    f.mediatype,
                    f.mimetype,
                    f.caption,
                    file_name,
                    data,
                )
                .await
            }
        }
    }

    /// Send a voice note (push-to-talk audio).
    #[oai(
        path = "/message/sendWhatsAppAudio/:instanceName",
        method = "post",
        operation_id = "send_whatsapp_audio"
    )]
    async fn send_audio(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: SendAudioRequest,
    ) -> Result<SendResponse, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let (meta, data) = match body {
            SendAudioRequest::Json(Json(b)) => {
                (b.meta, self.media_bytes(&h, &key, b.audio, "audio").await?)
            }
            SendAudioRequest::Form(f) => (
                form_meta(f.number, f.delay),
                self.upload_or_media(&h, &key, f.file, f.audio, "audio")
                    .await?
                    .0,
            ),
        };
        let target = Target::prepare(&h, meta, self.state.config.max_send_delay_ms).await?;
        let mimetype = sniff_mimetype(&data)
            .filter(|m| m.starts_with("audio/"))
            .unwrap_or(MediaKind::Audio.default_mimetype())
            .to_string();
        let content = Outgoing::Media(NewMedia {
            kind: MediaKind::Audio,
            data,
            mimetype,
            caption: None,
            file_name: None,
            ptt: true,
        });
        target.send(&h, content, Presence::Recording).await
    }

    /// Send a sticker (a WebP image; zapgate does not convert).
    #[oai(
        path = "/message/sendSticker/:instanceName",
        method = "post",
        operation_id = "send_sticker"
    )]
    async fn send_sticker(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: SendStickerRequest,
    ) -> Result<SendResponse, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let (meta, data) = match body {
            SendStickerRequest::Json(Json(b)) => (
                b.meta,
                self.media_bytes(&h, &key, b.sticker, "sticker").await?,
            ),
            SendStickerRequest::Form(f) => (
                form_meta(f.number, f.delay),
                self.upload_or_media(&h, &key, f.file, f.sticker, "sticker")
                    .await?
                    .0,
            ),
        };
        if sniff_mimetype(&data) != Some("image/webp") {
            return Err(ApiError::BadRequest(
                "sticker must be a WebP image (zapgate does not convert images)".into(),
            ));
        }
        let target = Target::prepare(&h, meta, self.state.config.max_send_delay_ms).await?;
        let content = Outgoing::Media(NewMedia {
            kind: MediaKind::Sticker,
            data,
            mimetype: "image/webp".into(),
            caption: None,
            file_name: None,
            ptt: false,
        });
        target.send(&h, content, Presence::Composing).await
    }

    /// Send a location pin.
    #[oai(
        path = "/message/sendLocation/:instanceName",
        method = "post",
        operation_id = "send_location"
    )]
    async fn send_location(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<SendLocationBody>,
    ) -> Result<SendResponse, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let latitude = required(b.latitude, "latitude")?;
        let longitude = required(b.longitude, "longitude")?;
        let name = required(b.name, "name")?;
        let address = required(b.address, "address")?;
        if !(-90.0..=90.0).contains(&latitude) || !(-180.0..=180.0).contains(&longitude) {
            return Err(ApiError::BadRequest(
                "latitude must be within ±90 and longitude within ±180".into(),
            ));
        }
        let target = Target::prepare(&h, b.meta, self.state.config.max_send_delay_ms).await?;
        let content = Outgoing::Location {
            latitude,
            longitude,
            name: Some(name),
            address: Some(address),
        };
        target.send(&h, content, Presence::Composing).await
    }

    /// Send one or more contact cards (vCards built here).
    #[oai(
        path = "/message/sendContact/:instanceName",
        method = "post",
        operation_id = "send_contact"
    )]
    async fn send_contact(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<SendContactBody>,
    ) -> Result<SendResponse, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let contacts = required(b.contact, "contact")?;
        if contacts.is_empty() {
            return Err(ApiError::Validation(
                "contact must contain at least 1 item".into(),
            ));
        }
        let mut cards = Vec::with_capacity(contacts.len());
        for c in &contacts {
            let name = c
                .full_name
                .clone()
                .filter(|n| !n.trim().is_empty())
                .ok_or_else(|| {
                    ApiError::Validation("contact requires property \"fullName\"".into())
                })?;
            let phone = c.phone_number.clone().ok_or_else(|| {
                ApiError::Validation("contact requires property \"phoneNumber\"".into())
            })?;
            if phone.chars().filter(char::is_ascii_digit).count() < 10 {
                return Err(ApiError::Validation(
                    "phoneNumber must have at least 10 digits".into(),
                ));
            }
            cards.push(ContactCard {
                vcard: vcard(c, &name, &phone),
                display_name: name,
            });
        }
        let target = Target::prepare(&h, b.meta, self.state.config.max_send_delay_ms).await?;
        target
            .send(&h, Outgoing::Contacts(cards), Presence::Composing)
            .await
    }

    /// React to a message with an emoji ("" removes the reaction).
    #[oai(
        path = "/message/sendReaction/:instanceName",
        method = "post",
        operation_id = "send_reaction"
    )]
    async fn send_reaction(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<SendReactionBody>,
    ) -> Result<SendResponse, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let target = required(b.key, "key")?.into_key()?;
        let emoji = required(b.reaction, "reaction")?;
        if !emoji.is_empty() && !is_one_emoji(&emoji) {
            return Err(ApiError::BadRequest(
                "reaction must be a single emoji, or \"\" to remove it".into(),
            ));
        }
        let to = target.remote_jid.clone();
        let record = h
            .send(OutgoingMessage {
                to,
                content: Outgoing::Reaction { key: target, emoji },
                context: Context::default(),
            })
            .await?;
        Ok(SendResponse::Created(Json(message_record(
            &record,
            &h.id(),
        ))))
    }

    /// Send a poll.
    #[oai(
        path = "/message/sendPoll/:instanceName",
        method = "post",
        operation_id = "send_poll"
    )]
    async fn send_poll(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<SendPollBody>,
    ) -> Result<SendResponse, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let poll_name = required(b.name, "name")?;
        let count = required(b.selectable_count, "selectableCount")?;
        let values = required(b.values, "values")?;
        if poll_name.trim().is_empty() {
            return Err(ApiError::BadRequest("name must not be empty".into()));
        }
        if !(2..=12).contains(&values.len()) {
            return Err(ApiError::BadRequest(
                "values must have between 2 and 12 options".into(),
            ));
        }
        if values.iter().collect::<HashSet<_>>().len() != values.len()
            || values.iter().any(|v| v.trim().is_empty())
        {
            return Err(ApiError::BadRequest(
                "values must be unique and not empty".into(),
            ));
        }
        if count < 0 || count as usize > values.len() {
            return Err(ApiError::BadRequest(format!(
                "selectableCount must be between 0 (any number) and {}",
                values.len()
            )));
        }
        let target = Target::prepare(&h, b.meta, self.state.config.max_send_delay_ms).await?;
        let content = Outgoing::Poll {
            name: poll_name,
            options: values,
            selectable_count: count as u32,
        };
        target.send(&h, content, Presence::Composing).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn emoji_check() {
        for ok in ["👍", "❤️", "👩‍💻", "🇧🇷"] {
            assert!(is_one_emoji(ok), "{ok}");
        }
        for bad in ["a", "ok", " ", "👍 ", "é"] {
            assert!(!is_one_emoji(bad), "{bad}");
        }
    }

    #[test]
    fn vcards_escape_and_carry_waid() {
        let c = ContactBody {
            full_name: Some("Ana; Maria".into()),
            wuid: None,
            phone_number: Some("+55 11 99999-0000".into()),
            organization: Some("ACME".into()),
            email: None,
            url: None,
        };
        let v = vcard(&c, "Ana; Maria", "+55 11 99999-0000");
        assert!(v.contains("FN:Ana\\; Maria\n"));
        assert!(v.contains("waid=5511999990000:"));
        assert!(v.starts_with("BEGIN:VCARD\n") && v.ends_with("END:VCARD"));
    }
}
