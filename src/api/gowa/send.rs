//! `/send/*`: sending, GOWA's field names over the Evolution send path ([`Target`]): every send
//! answers `{message_id, status}`, the id usable in `/message/{message_id}/*`.

use std::collections::HashSet;
use std::sync::Arc;

use poem_openapi::OpenApi;
use poem_openapi::payload::Json;
use serde_json::json;

use super::Tag;
use super::auth::TokenInstance;
use super::error::{Envelope, GowaError, success};
use super::need;
use super::send_dto::*;
use crate::api::auth::ApiKey;
use crate::api::jid_text::JidText;
use crate::api::media::sniff_mimetype;
use crate::api::message::{KeyBody, Meta, Quoted, Target, media_bytes, vcard};
use crate::api::message_dto::ContactBody;
use crate::api::required::Required;
use crate::engine::{ContactCard, MediaKind, NewMedia, Outgoing, Presence};
use crate::instance::InstanceHandle;
use crate::state::AppState;
use crate::store::history::StoredMessage;

pub struct SendApi {
    pub state: Arc<AppState>,
}

/// The answer to a send: the message id and a sentence saying where it went.
fn sent(what: &str, m: &StoredMessage) -> Json<Envelope> {
    let at = chrono::DateTime::from_timestamp(m.timestamp as i64, 0)
        .map(|t| t.to_rfc3339())
        .unwrap_or_default();
    let status = format!(
        "{what} sent to {} (server timestamp: {at})",
        m.key.remote_jid
    );
    success(
        status.clone(),
        Some(json!({"message_id": m.key.id, "status": status})),
    )
}

impl SendApi {
    /// The target of a send: GOWA's `phone` (international), the quoted message by id (looked
    /// up in this instance's history only), mentions.
    async fn target(
        &self,
        h: &InstanceHandle,
        phone: &str,
        reply_to: Option<String>,
        mentions: Option<Vec<String>>,
    ) -> Result<Target, GowaError> {
        let to = super::phone_jid(phone)?;
        let mut mentioned = Vec::new();
        let mut everyone = false;
        for m in mentions.unwrap_or_default() {
            if m == "@everyone" {
                everyone = true;
            } else {
                mentioned.push(super::phone_jid(&m)?);
            }
        }
        let quoted = reply_to.filter(|r| !r.is_empty()).map(|id| Quoted {
            key: Some(KeyBody {
                id: Some(id),
                remote_jid: Some(to.clone()),
                from_me: None,
                participant: None,
            }),
            message: None,
        });
        let meta = Meta {
            number: Required(Some(JidText(to))),
            quoted,
            mentions_every_one: Some(everyone),
            mentioned: Some(mentioned),
            ..Meta::default()
        };
        Ok(Target::prepare(h, meta, self.state.config.max_send_delay_ms).await?)
    }

    /// Media from `*_url` (an http(s) URL or base64), fetched as a token holder would.
    async fn media(
        &self,
        h: &InstanceHandle,
        url: Option<String>,
        field: &str,
    ) -> Result<Vec<u8>, GowaError> {
        let url = url
            .filter(|u| !u.trim().is_empty())
            .ok_or_else(|| GowaError::Validation(format!("{field} is required")))?;
        Ok(media_bytes(&self.state, h, &ApiKey(None), Some(url), field).await?)
    }

    #[allow(clippy::too_many_arguments)]
    async fn send_media(
        &self,
        h: &InstanceHandle,
        kind: MediaKind,
        base: MediaBase,
        data: Vec<u8>,
        caption: Option<String>,
        file_name: Option<String>,
        ptt: bool,
    ) -> Result<StoredMessage, GowaError> {
        let target = self
            .target(
                h,
                &need(base.phone, "phone")?,
                base.reply_message_id.0,
                None,
            )
            .await?;
        let mimetype = sniff_mimetype(&data)
            .unwrap_or(kind.default_mimetype())
            .to_string();
        let content = Outgoing::Media(NewMedia {
            kind,
            data,
            mimetype,
            caption: caption.filter(|c| !c.is_empty()),
            file_name,
            ptt,
        });
        let presence = if kind == MediaKind::Audio {
            Presence::Recording
        } else {
            Presence::Composing
        };
        Ok(target.send_stored(h, content, presence).await?)
    }
}

#[OpenApi(tag = "Tag::TokenScoped")]
impl SendApi {
    /// Send a text. `@<number>` mentions go in `mentions` (`"@everyone"` in a group).
    #[oai(
        path = "/send/message",
        method = "post",
        operation_id = "gowa_send_message"
    )]
    async fn message(
        &self,
        token: TokenInstance,
        body: Json<SendMessageBody>,
    ) -> Result<Json<Envelope>, GowaError> {
        let (h, b) = (token.open()?, body.0);
        let message = need(b.message, "message")?;
        if message.trim().is_empty() {
            return Err(GowaError::Validation("message: cannot be blank.".into()));
        }
        let target = self
            .target(
                &h,
                &need(b.phone, "phone")?,
                b.reply_message_id.0,
                b.mentions.0,
            )
            .await?;
        let m = target
            .send_stored(&h, Outgoing::Text(message), Presence::Composing)
            .await?;
        Ok(sent("Message", &m))
    }

    /// Send an image from `image_url` (an http(s) URL or base64).
    #[oai(
        path = "/send/image",
        method = "post",
        operation_id = "gowa_send_image"
    )]
    async fn image(
        &self,
        token: TokenInstance,
        body: Json<SendImageBody>,
    ) -> Result<Json<Envelope>, GowaError> {
        let (h, b) = (token.open()?, body.0);
        let data = self.media(&h, b.image_url.0, "image_url").await?;
        let m = self
            .send_media(&h, MediaKind::Image, b.base, data, b.caption.0, None, false)
            .await?;
        Ok(sent("Image", &m))
    }

    /// Send a document from `file_url` (an http(s) URL or base64).
    #[oai(path = "/send/file", method = "post", operation_id = "gowa_send_file")]
    async fn file(
        &self,
        token: TokenInstance,
        body: Json<SendFileBody>,
    ) -> Result<Json<Envelope>, GowaError> {
        let (h, b) = (token.open()?, body.0);
        let data = self.media(&h, b.file_url.0, "file_url").await?;
        let name = b.file_name.0.unwrap_or_else(|| "file".into());
        let m = self
            .send_media(
                &h,
                MediaKind::Document,
                b.base,
                data,
                b.caption.0,
                Some(name),
                false,
            )
            .await?;
        Ok(sent("Document", &m))
    }

    /// Send a video from `video_url` (an http(s) URL or base64).
    #[oai(
        path = "/send/video",
        method = "post",
        operation_id = "gowa_send_video"
    )]
    async fn video(
        &self,
        token: TokenInstance,
        body: Json<SendVideoBody>,
    ) -> Result<Json<Envelope>, GowaError> {
        let (h, b) = (token.open()?, body.0);
        let data = self.media(&h, b.video_url.0, "video_url").await?;
        let m = self
            .send_media(&h, MediaKind::Video, b.base, data, b.caption.0, None, false)
            .await?;
        Ok(sent("Video", &m))
    }

    /// Send audio from `audio_url` (an http(s) URL or base64); `ptt` makes it a voice note.
    #[oai(
        path = "/send/audio",
        method = "post",
        operation_id = "gowa_send_audio"
    )]
    async fn audio(
        &self,
        token: TokenInstance,
        body: Json<SendAudioBody>,
    ) -> Result<Json<Envelope>, GowaError> {
        let (h, b) = (token.open()?, body.0);
        let data = self.media(&h, b.audio_url.0, "audio_url").await?;
        let ptt = b.ptt.0.unwrap_or(false);
        let m = self
            .send_media(&h, MediaKind::Audio, b.base, data, None, None, ptt)
            .await?;
        Ok(sent("Audio", &m))
    }

    /// Send a contact card.
    #[oai(
        path = "/send/contact",
        method = "post",
        operation_id = "gowa_send_contact"
    )]
    async fn contact(
        &self,
        token: TokenInstance,
        body: Json<SendContactBody>,
    ) -> Result<Json<Envelope>, GowaError> {
        let (h, b) = (token.open()?, body.0);
        let contact_name = need(b.contact_name, "contact_name")?;
        let contact_phone = need(b.contact_phone, "contact_phone")?;
        if contact_name.trim().is_empty() {
            return Err(GowaError::Validation(
                "contact_name: cannot be blank.".into(),
            ));
        }
        if contact_phone.chars().filter(char::is_ascii_digit).count() < 5 {
            return Err(GowaError::Validation(
                "contact_phone must be a phone number".into(),
            ));
        }
        let card = ContactBody {
            full_name: Some(contact_name.clone()),
            wuid: None,
            phone_number: Some(contact_phone.clone()),
            organization: None,
            email: None,
            url: None,
        };
        let cards = vec![ContactCard {
            vcard: vcard(&card, &contact_name, &contact_phone),
            display_name: contact_name,
        }];
        let target = self
            .target(&h, &need(b.phone, "phone")?, None, None)
            .await?;
        let m = target
            .send_stored(&h, Outgoing::Contacts(cards), Presence::Composing)
            .await?;
        Ok(sent("Contact", &m))
    }

    /// Send a location; `latitude` and `longitude` are decimal strings.
    #[oai(
        path = "/send/location",
        method = "post",
        operation_id = "gowa_send_location"
    )]
    async fn location(
        &self,
        token: TokenInstance,
        body: Json<SendLocationBody>,
    ) -> Result<Json<Envelope>, GowaError> {
        let (h, b) = (token.open()?, body.0);
        let parse = |s: &str, max: f64, name: &str| {
            s.trim()
                .parse::<f64>()
                .ok()
                .filter(|v| v.is_finite() && v.abs() <= max)
                .ok_or_else(|| {
                    GowaError::Validation(format!("{name} must be a number within ±{max}"))
                })
        };
        let latitude = parse(&need(b.latitude, "latitude")?, 90.0, "latitude")?;
        let longitude = parse(&need(b.longitude, "longitude")?, 180.0, "longitude")?;
        let target = self
            .target(&h, &need(b.phone, "phone")?, None, None)
            .await?;
        let content = Outgoing::Location {
            latitude,
            longitude,
            name: None,
            address: None,
        };
        let m = target.send_stored(&h, content, Presence::Composing).await?;
        Ok(sent("Location", &m))
    }

    /// Send a link with a caption (as one text message).
    #[oai(path = "/send/link", method = "post", operation_id = "gowa_send_link")]
    async fn link(
        &self,
        token: TokenInstance,
        body: Json<SendLinkBody>,
    ) -> Result<Json<Envelope>, GowaError> {
        let (h, b) = (token.open()?, body.0);
        let link = need(b.link, "link")?;
        let caption = need(b.caption, "caption")?;
        let lower = link.to_ascii_lowercase();
        if !(lower.starts_with("http://") || lower.starts_with("https://")) {
            return Err(GowaError::Validation("link must be an http(s) URL".into()));
        }
        let text = if caption.trim().is_empty() {
            link
        } else {
            format!("{caption}\n{link}")
        };
        let target = self
            .target(&h, &need(b.phone, "phone")?, None, None)
            .await?;
        let m = target
            .send_stored(&h, Outgoing::Text(text), Presence::Composing)
            .await?;
        Ok(sent("Link", &m))
    }

    /// Send a poll: unique, non-empty options; `1 ≤ max_answer ≤ options`.
    #[oai(path = "/send/poll", method = "post", operation_id = "gowa_send_poll")]
    async fn poll(
        &self,
        token: TokenInstance,
        body: Json<SendPollBody>,
    ) -> Result<Json<Envelope>, GowaError> {
        let (h, b) = (token.open()?, body.0);
        let question = need(b.question, "question")?;
        let options = need(b.options, "options")?;
        let max_answer = need(b.max_answer, "max_answer")?;
        if question.trim().is_empty() {
            return Err(GowaError::Validation("question: cannot be blank.".into()));
        }
        let unique = options.iter().collect::<HashSet<_>>().len() == options.len();
        if !unique || options.iter().any(|o| o.trim().is_empty()) {
            return Err(GowaError::Validation(
                "options must be unique and not empty".into(),
            ));
        }
        if max_answer < 1 || max_answer as usize > options.len() {
            return Err(GowaError::Validation(format!(
                "max_answer must be between 1 and {}",
                options.len()
            )));
        }
        let target = self
            .target(&h, &need(b.phone, "phone")?, None, None)
            .await?;
        let content = Outgoing::Poll {
            name: question,
            options,
            selectable_count: max_answer,
        };
        let m = target.send_stored(&h, content, Presence::Composing).await?;
        Ok(sent("Poll", &m))
    }

    /// Show the account as `available` or `unavailable`.
    #[oai(
        path = "/send/presence",
        method = "post",
        operation_id = "gowa_send_presence"
    )]
    async fn presence(
        &self,
        token: TokenInstance,
        body: Json<PresenceBody>,
    ) -> Result<Json<Envelope>, GowaError> {
        let presence = match need(body.0.presence_type, "type")?.as_str() {
            "available" => Presence::Available,
            _ => Presence::Unavailable,
        };
        token.open()?.set_presence(presence).await?;
        let status = format!("Send presence success {}", presence.as_str());
        Ok(success(
            status.clone(),
            Some(json!({"message_id": "presence", "status": status})),
        ))
    }

    /// Show typing in a chat (`start`) or stop showing it (`stop`).
    #[oai(
        path = "/send/chat-presence",
        method = "post",
        operation_id = "gowa_send_chat_presence"
    )]
    async fn chat_presence(
        &self,
        token: TokenInstance,
        body: Json<ChatPresenceBody>,
    ) -> Result<Json<Envelope>, GowaError> {
        let b = body.0;
        let action = need(b.action, "action")?;
        let to = super::phone_jid(&need(b.phone, "phone")?)?;
        let presence = if action == "start" {
            Presence::Composing
        } else {
            Presence::Paused
        };
        token.open()?.chat_presence(to.clone(), presence).await?;
        let status = format!("Send chat presence {} success to {to}", action);
        Ok(success(
            status.clone(),
            Some(json!({"message_id": format!("chat-presence-{}", action), "status": status})),
        ))
    }
}
