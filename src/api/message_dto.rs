//! Request bodies of `/message/*` sends. Every text and array field has a cap, enforced by the
//! parser (400 with Evolution's validation envelope) and published in the OpenAPI document;
//! `media`, `audio` and `sticker` (URLs or base64) are bounded by the body limit instead.

use poem_openapi::payload::Json;
use poem_openapi::types::multipart::Upload;
use poem_openapi::{ApiRequest, Multipart, Object};

use super::message::{KeyBody, Meta};
use super::required::Required;

/// `POST /message/sendText` body.
#[derive(Object, Debug)]
pub struct SendTextBody {
    #[oai(validator(max_length = 65536))]
    pub text: Required<String>,
    #[oai(flatten)]
    pub meta: Meta,
}

/// `POST /message/sendMedia` JSON body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SendMediaBody {
    /// `image`, `video`, `audio` or `document`.
    #[oai(validator(max_length = 32))]
    pub mediatype: Option<String>,
    #[oai(validator(max_length = 255))]
    pub mimetype: Option<String>,
    #[oai(validator(max_length = 8192))]
    pub caption: Option<String>,
    /// A URL, or base64 (raw or a `data:` URI).
    pub media: Option<String>,
    #[oai(validator(max_length = 255))]
    pub file_name: Option<String>,
    #[oai(flatten)]
    pub meta: Meta,
}

/// `POST /message/sendMedia` as `multipart/form-data`, the file in `file`.
#[derive(Multipart, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SendMediaForm {
    #[oai(validator(max_length = 128))]
    pub number: Option<String>,
    #[oai(validator(max_length = 32))]
    pub mediatype: Option<String>,
    #[oai(validator(max_length = 255))]
    pub mimetype: Option<String>,
    #[oai(validator(max_length = 8192))]
    pub caption: Option<String>,
    #[oai(validator(max_length = 255))]
    pub file_name: Option<String>,
    pub delay: Option<i64>,
    pub file: Option<Upload>,
    /// Used when no `file` part is sent: a URL or base64.
    pub media: Option<String>,
}

#[derive(ApiRequest)]
pub enum SendMediaRequest {
    Json(Json<SendMediaBody>),
    Form(SendMediaForm),
}

#[derive(Object, Debug)]
pub struct SendAudioBody {
    /// A URL or base64; sent as a voice note without transcoding (send OGG/Opus).
    pub audio: Option<String>,
    /// Accepted for compatibility; zapgate never transcodes.
    pub encoding: Option<bool>,
    #[oai(flatten)]
    pub meta: Meta,
}

#[derive(Object, Debug)]
pub struct SendStickerBody {
    /// A WebP image: URL or base64.
    pub sticker: Option<String>,
    #[oai(flatten)]
    pub meta: Meta,
}

/// `POST /message/sendWhatsAppAudio` as `multipart/form-data`, the audio in `file`.
#[derive(Multipart, Debug)]
pub struct SendAudioForm {
    #[oai(validator(max_length = 128))]
    pub number: Option<String>,
    pub delay: Option<i64>,
    /// Accepted for compatibility; zapgate never transcodes.
    pub encoding: Option<bool>,
    pub file: Option<Upload>,
    /// Used when no `file` part is sent: a URL or base64.
    pub audio: Option<String>,
}

#[derive(ApiRequest)]
pub enum SendAudioRequest {
    Json(Json<SendAudioBody>),
    Form(SendAudioForm),
}

/// `POST /message/sendSticker` as `multipart/form-data`, the WebP image in `file`.
#[derive(Multipart, Debug)]
pub struct SendStickerForm {
    #[oai(validator(max_length = 128))]
    pub number: Option<String>,
    pub delay: Option<i64>,
    pub file: Option<Upload>,
    /// Used when no `file` part is sent: a URL or base64.
    pub sticker: Option<String>,
}

#[derive(ApiRequest)]
pub enum SendStickerRequest {
    Json(Json<SendStickerBody>),
    Form(SendStickerForm),
}

/// The send metadata a form carries: forms have no `quoted` or `mentioned`.
pub(crate) fn form_meta(number: Option<String>, delay: Option<i64>) -> Meta {
    Meta {
        number: Required(number.map(super::jid_text::JidText)),
        delay,
        ..Meta::default()
    }
}

#[derive(Object, Debug)]
pub struct SendLocationBody {
    pub latitude: Required<f64>,
    pub longitude: Required<f64>,
    #[oai(validator(max_length = 1024))]
    pub name: Required<String>,
    #[oai(validator(max_length = 1024))]
    pub address: Required<String>,
    #[oai(flatten)]
    pub meta: Meta,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct ContactBody {
    #[oai(validator(max_length = 256))]
    pub full_name: Option<String>,
    /// Digits of the contact's WhatsApp account, for the vCard's `waid`.
    #[oai(validator(max_length = 64))]
    pub wuid: Option<String>,
    #[oai(validator(max_length = 64))]
    pub phone_number: Option<String>,
    #[oai(validator(max_length = 256))]
    pub organization: Option<String>,
    #[oai(validator(max_length = 256))]
    pub email: Option<String>,
    #[oai(validator(max_length = 2048))]
    pub url: Option<String>,
}

#[derive(Object, Debug)]
pub struct SendContactBody {
    #[oai(validator(max_items = 100))]
    pub contact: Required<Vec<ContactBody>>,
    #[oai(flatten)]
    pub meta: Meta,
}

#[derive(Object, Debug)]
pub struct SendReactionBody {
    pub key: Required<KeyBody>,
    /// One emoji, or "" to remove the reaction.
    #[oai(validator(max_length = 64))]
    pub reaction: Required<String>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SendPollBody {
    #[oai(validator(max_length = 256))]
    pub name: Required<String>,
    pub selectable_count: Required<i64>,
    #[oai(validator(max_items = 12, max_length = 256))]
    pub values: Required<Vec<String>>,
    #[oai(flatten)]
    pub meta: Meta,
}

#[cfg(test)]
mod tests {
    use poem_openapi::types::ParseFromJSON;
    use proptest::prelude::*;
    use serde_json::{Value, json};

    use super::*;
    use crate::evolution::message::tests::any_json;

    /// Strings of any length up to twice the largest cap, or any JSON.
    fn field() -> impl Strategy<Value = Value> {
        prop_oneof![
            any_json(),
            (0usize..140_000).prop_map(|n| Value::String("x".repeat(n))),
            (0usize..2100).prop_map(|n| Value::Array(vec![Value::from("5511900000001"); n])),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]

        /// Any body parses or is refused, never panics; a parsed body is within every cap.
        #[test]
        fn send_bodies_parse_within_caps(
            text in field(), number in field(), mentioned in field(),
            caption in field(), values in field(), contact in field(), anything in any_json(),
        ) {
            let body = json!({"text": text, "number": number, "mentioned": mentioned});
            if let Ok(b) = SendTextBody::parse_from_json(Some(body)) {
                prop_assert!(b.text.0.is_none_or(|t| t.chars().count() <= 65536));
                prop_assert!(b.meta.number.0.is_none_or(|n| n.chars().count() <= 128));
                prop_assert!(b.meta.mentioned.is_none_or(|m| m.len() <= 1024
                    && m.iter().all(|j| j.chars().count() <= 128)));
            }
            let body = json!({"caption": caption, "media": "aGk=", "mediatype": "image"});
            if let Ok(b) = SendMediaBody::parse_from_json(Some(body)) {
                prop_assert!(b.caption.is_none_or(|c| c.chars().count() <= 8192));
            }
            let body = json!({"name": "q", "values": values});
            if let Ok(b) = SendPollBody::parse_from_json(Some(body)) {
                prop_assert!(b.values.0.is_none_or(|v| v.len() <= 12
                    && v.iter().all(|o| o.chars().count() <= 256)));
            }
            let body = json!({"contact": contact});
            if let Ok(b) = SendContactBody::parse_from_json(Some(body)) {
                prop_assert!(b.contact.0.is_none_or(|c| c.len() <= 100));
            }
            let _ = SendLocationBody::parse_from_json(Some(anything.clone()));
            let _ = SendReactionBody::parse_from_json(Some(anything));
        }
    }
}
