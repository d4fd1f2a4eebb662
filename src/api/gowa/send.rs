//! `/send/message|image|file|video|audio`: sending (the rest is in `send_more.rs`), GOWA's field names over the Evolution send path ([`Target`]): every send
//! answers `{message_id, status}`, the id usable in `/message/{message_id}/*`.

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
use crate::api::message::{KeyBody, Meta, Quoted, Target, media_bytes};
use crate::api::required::Required;
use crate::engine::{MediaKind, NewMedia, Outgoing, Presence};
use crate::instance::InstanceHandle;
use crate::state::AppState;
use crate::store::history::StoredMessage;

pub struct SendApi {
    pub state: Arc<AppState>,
}

/// The answer to a send: the message id and a sentence saying where it went.
pub(super) fn sent(what: &str, m: &StoredMessage) -> Json<Envelope> {
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

/// The target of a send: GOWA's `phone` (international), the quoted message by id (looked
/// up in this instance's history only), mentions.
pub(super) async fn target(
    state: &AppState,
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
    Ok(Target::prepare(h, meta, state.config.max_send_delay_ms).await?)
}

impl SendApi {
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
        let target = target(
            &self.state,
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
        let target = target(
            &self.state,
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
}
