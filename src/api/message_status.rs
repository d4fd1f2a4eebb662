//! `POST /message/sendStatus/{i}`: a status post (text on a colour, image, video or voice) to
//! `status@broadcast`, seen only by the listed JIDs (or every known contact with a push name).

use std::sync::Arc;

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::auth::ApiKey;
use super::error::ApiError;
use super::media::sniff_mimetype;
use super::message::{SendResponse, Tag, jid, media_bytes, required};
use super::required::Required;
use crate::engine::jid::{STATUS_BROADCAST, USER_SERVER};
use crate::engine::{Context, MediaKind, NewMedia, Outgoing, OutgoingMessage};
use crate::evolution::message::message_record;
use crate::instance::InstanceHandle;
use crate::state::AppState;
use crate::store::history::Page;

/// Most viewers one post is encrypted for (allContacts stops there too).
const MAX_VIEWERS: usize = 1024;
/// Evolution's fonts, 0 to 5.
const MAX_FONT: i64 = 5;

/// `POST /message/sendStatus` body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SendStatusBody {
    /// `text`, `image`, `video` or `audio`.
    #[oai(rename = "type", validator(max_length = 16))]
    pub kind: Required<String>,
    /// The text, or the media as a URL or base64.
    pub content: Required<String>,
    #[oai(validator(max_length = 8192))]
    pub caption: Option<String>,
    /// Text posts: `#RRGGBB` or `#AARRGGBB`.
    #[oai(validator(max_length = 16))]
    pub background_color: Option<String>,
    /// Text posts: 0 to 5.
    pub font: Option<i64>,
    /// Who sees the post: numbers or JIDs.
    #[oai(validator(max_items = 1024, max_length = 128))]
    pub status_jid_list: Option<Vec<String>>,
    /// Every known contact with a push name sees it (up to 1024).
    pub all_contacts: Option<bool>,
}

pub struct MessageStatusApi {
    pub state: Arc<AppState>,
}

fn bad(msg: impl Into<String>) -> ApiError {
    ApiError::BadRequest(msg.into())
}

/// `#RRGGBB` (opaque) or `#AARRGGBB` as `0xAARRGGBB`.
fn argb(color: &str) -> Result<u32, ApiError> {
    let hex = color.strip_prefix('#').unwrap_or(color);
    let value = u32::from_str_radix(hex, 16)
        .ok()
        .filter(|_| hex.chars().all(|c| c.is_ascii_hexdigit()) && matches!(hex.len(), 6 | 8));
    match (value, hex.len()) {
        (Some(v), 6) => Ok(0xFF00_0000 | v),
        (Some(v), _) => Ok(v),
        (None, _) => Err(bad("backgroundColor must be #RRGGBB or #AARRGGBB")),
    }
}

/// The viewers: the listed JIDs, or every personal contact with a push name.
fn viewers(
    h: &InstanceHandle,
    list: Option<Vec<String>>,
    all: bool,
) -> Result<Vec<String>, ApiError> {
    let mut out = list
        .unwrap_or_default()
        .iter()
        .map(|n| jid(n))
        .collect::<Result<Vec<_>, _>>()?;
    if all {
        let page = Page {
            number: 1,
            size: MAX_VIEWERS as u64,
        };
        for (j, c) in h.find_contacts(None, page)? {
            if c.push_name.is_some() && j.ends_with(USER_SERVER) && !out.contains(&j) {
                out.push(j);
            }
        }
        if out.is_empty() {
            return Err(bad("Contacts not found"));
        }
    }
    if out.is_empty() {
        return Err(bad("StatusJidList is required"));
    }
    out.truncate(MAX_VIEWERS);
    Ok(out)
}

#[OpenApi(tag = "Tag::Message")]
impl MessageStatusApi {
    /// Post a status (story) that the listed contacts see.
    #[oai(
        path = "/message/sendStatus/:instanceName",
        method = "post",
        operation_id = "send_status"
    )]
    async fn send_status(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<SendStatusBody>,
    ) -> Result<SendResponse, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let kind = required(b.kind, "type")?;
        let content = required(b.content, "content")?;
        if content.trim().is_empty() {
            return Err(bad("Content is required"));
        }
        let post = match kind.as_str() {
            "text" => {
                let color = b
                    .background_color
                    .ok_or_else(|| bad("Background color is required"))?;
                let font = b.font.ok_or_else(|| bad("Font is required"))?;
                if !(0..=MAX_FONT).contains(&font) {
                    return Err(bad(format!("font must be between 0 and {MAX_FONT}")));
                }
                if content.chars().count() > 65536 {
                    return Err(bad("content is longer than 65536 characters"));
                }
                Outgoing::TextStatus {
                    text: content,
                    background_argb: argb(&color)?,
                    font: font as u32,
                }
            }
            "image" | "video" | "audio" => {
                let media_kind = MediaKind::parse(&kind).unwrap_or(MediaKind::Image);
                let data = media_bytes(&self.state, &h, &key, Some(content), "content").await?;
                let mimetype = sniff_mimetype(&data)
                    .unwrap_or(media_kind.default_mimetype())
                    .to_string();
                let audio = media_kind == MediaKind::Audio;
                Outgoing::Media(NewMedia {
                    kind: media_kind,
                    data,
                    mimetype,
                    caption: b.caption.filter(|c| !c.is_empty() && !audio),
                    file_name: None,
                    ptt: audio,
                })
            }
            _ => return Err(bad("type must be one of: text, image, video, audio")),
        };
        let recipients = viewers(&h, b.status_jid_list, b.all_contacts == Some(true))?;
        let record = h
            .send(OutgoingMessage {
                to: STATUS_BROADCAST.to_string(),
                content: Outgoing::Status {
                    content: Box::new(post),
                    recipients,
                },
                context: Context::default(),
            })
            .await?;
        Ok(SendResponse::Created(Json(message_record(
            &record,
            &h.id(),
        ))))
    }
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ParseFromJSON;
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;
    use crate::evolution::message::tests::any_json;

    #[test]
    fn colours() {
        assert_eq!(argb("#112233").unwrap(), 0xFF11_2233);
        assert_eq!(argb("80112233").unwrap(), 0x8011_2233);
        for bad in [
            "",
            "#",
            "#12",
            "#1122334",
            "#GG2233",
            "#+12233",
            "#1122334455",
        ] {
            assert!(argb(bad).is_err(), "{bad}");
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any body parses or is refused, never panics; a parsed body is within its caps.
        #[test]
        fn status_bodies_parse_within_caps(list in any_json(), color in any_json(), any in any_json()) {
            let body = json!({"type": "text", "content": "x", "statusJidList": list, "backgroundColor": color});
            if let Ok(b) = SendStatusBody::parse_from_json(Some(body)) {
                prop_assert!(b.status_jid_list.is_none_or(|l| l.len() <= 1024
                    && l.iter().all(|j| j.chars().count() <= 128)));
                prop_assert!(b.background_color.is_none_or(|c| c.chars().count() <= 16));
            }
            let _ = SendStatusBody::parse_from_json(Some(any));
        }
    }
}
