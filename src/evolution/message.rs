//! Evolution's message record from our message types, and back for the parts a client sends us
//! (media to download).
//!
//! Bytes are base64 strings and 64-bit integers decimal strings, as Evolution 2.2 wrote them
//! (protobufjs JSON); clients written against 2.3's index-keyed objects are accepted on input.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use serde_json::{Map, Value, json};
use uuid::Uuid;

use crate::engine::{ContactCard, Context, Media, MediaKind, MediaRef, MessageContent, MessageKey};
use crate::events::payload::SentRecord;
use crate::store::history::{Status, StoredMessage};

pub fn key_json(key: &MessageKey) -> Value {
    let mut k = json!({"remoteJid": key.remote_jid, "fromMe": key.from_me, "id": key.id});
    if let Some(p) = &key.participant {
        k["participant"] = json!(p);
    }
    k
}

/// Evolution's message record (what sends answer and `messages.upsert` carries) of a stored
/// message.
pub fn message_record(m: &StoredMessage, instance_id: &Uuid) -> Value {
    let (message, message_type) = message_json(&m.content);
    let mut key = key_json(&m.key);
    if m.status == Status::Deleted {
        key["deleted"] = json!(true);
    }
    json!({
        "key": key,
        "pushName": m.push_name,
        "status": m.status.as_str(),
        "message": message,
        "contextInfo": context_json(&m.context),
        "messageType": message_type,
        "messageTimestamp": m.timestamp,
        "instanceId": instance_id,
        "source": if m.key.id.starts_with("3EB0") { "web" } else { "unknown" },
    })
}

/// Baileys' raw `WAMessage` (`{key, message, messageTimestamp, status}`), which Evolution returns
/// for edits and deletes.
pub fn raw_message(sent: &SentRecord) -> Value {
    json!({
        "key": key_json(&sent.key),
        "message": message_json(&sent.content).0,
        "messageTimestamp": sent.timestamp.to_string(),
        "status": "PENDING",
    })
}

fn context_json(ctx: &Context) -> Value {
    if ctx.is_empty() {
        return Value::Null;
    }
    let mut c = Map::new();
    if let Some(q) = &ctx.quoted {
        c.insert("stanzaId".into(), json!(q.key.id));
        let participant = q
            .key
            .participant
            .clone()
            .unwrap_or_else(|| q.key.remote_jid.clone());
        c.insert("participant".into(), json!(participant));
        if let Some(text) = &q.text {
            c.insert("quotedMessage".into(), json!({"conversation": text}));
        }
    }
    c.insert("mentionedJid".into(), json!(ctx.mentions));
    Value::Object(c)
}

fn b64(bytes: &[u8]) -> Value {
    json!(B64.encode(bytes))
}

/// `(message, messageType)`.
pub fn message_json(content: &MessageContent) -> (Value, &'static str) {
    match content {
        MessageContent::Text { text } => (json!({"conversation": text}), "conversation"),
        MessageContent::Media(m) => {
            let b = &m.blob;
            let mut body = json!({
                "url": b.url,
                "mimetype": m.mimetype,
                "fileSha256": b64(&b.file_sha256),
                "fileLength": m.file_length.to_string(),
                "mediaKey": b64(&b.media_key),
                "fileEncSha256": b64(&b.file_enc_sha256),
                "directPath": b.direct_path,
                "mediaKeyTimestamp": b.media_key_timestamp.to_string(),
            });
            if let Some(c) = &m.caption {
                body["caption"] = json!(c);
            }
            if let Some(f) = &m.file_name {
                body["fileName"] = json!(f);
                body["title"] = json!(f);
            }
            if let Some(s) = m.seconds {
                body["seconds"] = json!(s);
            }
            if m.kind == MediaKind::Audio {
                body["ptt"] = json!(m.ptt);
            }
            let t = m.kind.message_type();
            (json!({ t: body }), t)
        }
        MessageContent::Location {
            latitude,
            longitude,
            name,
            address,
        } => (
            json!({"locationMessage": {"degreesLatitude": latitude, "degreesLongitude": longitude, "name": name, "address": address}}),
            "locationMessage",
        ),
        MessageContent::Contacts { contacts } => {
            let card = |c: &ContactCard| json!({"displayName": c.display_name, "vcard": c.vcard});
            match contacts.as_slice() {
                [one] => (json!({"contactMessage": card(one)}), "contactMessage"),
                many => (
                    json!({"contactsArrayMessage": {"displayName": format!("{} contacts", many.len()), "contacts": many.iter().map(card).collect::<Vec<_>>()}}),
                    "contactsArrayMessage",
                ),
            }
        }
        MessageContent::Reaction { key, text } => (
            json!({"reactionMessage": {"key": key_json(key), "text": text}}),
            "reactionMessage",
        ),
        MessageContent::Poll {
            name,
            options,
            selectable_count,
        } => (
            json!({"pollCreationMessageV3": {"name": name, "options": options.iter().map(|o| json!({"optionName": o})).collect::<Vec<_>>(), "selectableOptionsCount": selectable_count}}),
            "pollCreationMessageV3",
        ),
        MessageContent::Revoke { key } => (
            json!({"protocolMessage": {"key": key_json(key), "type": "REVOKE"}}),
            "protocolMessage",
        ),
        MessageContent::Edit { key, text } => (
            json!({"protocolMessage": {"key": key_json(key), "type": "MESSAGE_EDIT", "editedMessage": {"conversation": text}}}),
            "protocolMessage",
        ),
        MessageContent::List(l) => super::interactive::list_json(l),
        MessageContent::Buttons(b) => super::interactive::buttons_json(b),
        MessageContent::TextStatus {
            text,
            background_argb,
            font,
        } => (
            json!({"extendedTextMessage": {"text": text, "backgroundArgb": background_argb, "font": font}}),
            "extendedTextMessage",
        ),
    }
}

/// Longest media key or hash read from a client's message (WhatsApp's are 32 bytes).
pub const MAX_KEY_BYTES: usize = 64;
/// Longest `mimetype` or `fileName` kept from a client's message.
pub const MAX_NAME_LEN: usize = 255;
/// Longest caption kept from a client's message.
pub const MAX_CAPTION_LEN: usize = 8192;

/// Bytes as Evolution clients send them back: base64, a number array, or 2.3's `{"0":n,...}`;
/// `None` for anything else or longer than [`MAX_KEY_BYTES`] (checked before decoding).
fn bytes_of(v: &Value) -> Option<Vec<u8>> {
    let fits = |n: usize| n <= MAX_KEY_BYTES;
    match v {
        Value::String(s) if s.len() <= MAX_KEY_BYTES.div_ceil(3) * 4 => {
            B64.decode(s).ok().filter(|b| fits(b.len()))
        }
        Value::String(_) => None,
        Value::Array(a) if !fits(a.len()) => None,
        Value::Object(o) if !fits(o.len()) => None,
        Value::Array(a) => a
            .iter()
            .map(|n| n.as_u64().and_then(|n| u8::try_from(n).ok()))
            .collect(),
        Value::Object(o) => {
            let mut pairs: Vec<(usize, u8)> = o
                .iter()
                .map(|(k, n)| Some((k.parse().ok()?, u8::try_from(n.as_u64()?).ok()?)))
                .collect::<Option<_>>()?;
            pairs.sort_unstable();
            Some(pairs.into_iter().map(|(_, b)| b).collect())
        }
        _ => None,
    }
}

/// Integers as a number, a decimal string, or protobufjs' `{low, high}`.
fn int_of(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.parse().ok(),
        Value::Object(o) => {
            let low = o.get("low")?.as_i64()? & 0xffff_ffff;
            let high = o.get("high")?.as_i64()?;
            Some((high << 32) | low)
        }
        _ => None,
    }
}

/// The media of a record's `message`, if it has any.
pub fn media_from_message(message: &Value) -> Option<Media> {
    let obj = message.as_object()?;
    let (kind, body) = obj
        .iter()
        .find_map(|(k, v)| MediaKind::from_message_type(k).map(|kind| (kind, v)))
        .or_else(|| {
            // documentWithCaptionMessage wraps the document one level down.
            let inner = obj.get("documentWithCaptionMessage")?.get("message")?;
            Some((MediaKind::Document, inner.get("documentMessage")?))
        })?;
    // Strings over their cap are dropped, not cut: they are echoed back to the client.
    let s = |k: &str, max: usize| {
        body.get(k)
            .and_then(Value::as_str)
            .filter(|v| v.len() <= max)
            .map(str::to_string)
    };
    let bytes = |k: &str| body.get(k).and_then(bytes_of).unwrap_or_default();
    Some(Media {
        kind,
        mimetype: s("mimetype", MAX_NAME_LEN)
            .unwrap_or_else(|| kind.default_mimetype().to_string()),
        caption: s("caption", MAX_CAPTION_LEN),
        file_name: s("fileName", MAX_NAME_LEN),
        file_length: body
            .get("fileLength")
            .and_then(int_of)
            .and_then(|n| u64::try_from(n).ok())
            .unwrap_or(0),
        ptt: body.get("ptt").and_then(Value::as_bool).unwrap_or(false),
        seconds: body
            .get("seconds")
            .and_then(int_of)
            .and_then(|n| u32::try_from(n).ok()),
        blob: MediaRef {
            url: s("url", crate::engine::content::MAX_DIRECT_PATH).unwrap_or_default(),
            // Kept even when it is not a plain path, so the caller can say why it refuses.
            direct_path: body
                .get("directPath")?
                .as_str()?
                .chars()
                .take(crate::engine::content::MAX_DIRECT_PATH + 1)
                .collect(),
            media_key: bytes("mediaKey"),
            file_sha256: bytes("fileSha256"),
            file_enc_sha256: bytes("fileEncSha256"),
            media_key_timestamp: body.get("mediaKeyTimestamp").and_then(int_of).unwrap_or(0),
        },
    })
}

/// The text of a record, for quoting it.
pub fn text_of(record: &Value) -> Option<String> {
    let m = record.get("message")?;
    m.get("conversation")
        .or_else(|| m.get("extendedTextMessage").and_then(|e| e.get("text")))
        .or_else(|| m.as_object()?.values().find_map(|v| v.get("caption")))
        .and_then(Value::as_str)
        .map(str::to_string)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use proptest::prelude::*;

    /// Any JSON value, a few levels deep (what a client may put anywhere in a body).
    pub(crate) fn any_json() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::from),
            any::<i64>().prop_map(Value::from),
            any::<u64>().prop_map(Value::from),
            (-1e12f64..1e12).prop_map(Value::from),
            "\\PC{0,40}".prop_map(Value::from),
            "[A-Za-z0-9+/=]{0,120}".prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 48, 8, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..8).prop_map(Value::Array),
                prop::collection::btree_map("[a-zA-Z0-9]{0,10}", inner, 0..8)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// A media message whose every field is arbitrary, under a real media key name.
    fn media_message() -> impl Strategy<Value = Value> {
        let kind = prop::sample::select(vec![
            "imageMessage",
            "videoMessage",
            "audioMessage",
            "documentMessage",
            "stickerMessage",
        ]);
        let field = prop::sample::select(vec![
            "directPath",
            "mediaKey",
            "fileSha256",
            "fileEncSha256",
            "fileLength",
            "mediaKeyTimestamp",
            "mimetype",
            "caption",
            "fileName",
            "url",
            "seconds",
            "ptt",
        ]);
        let big = prop_oneof![
            any_json(),
            (0usize..20_000).prop_map(|n| Value::String("A".repeat(n))),
            (0usize..500).prop_map(|n| Value::Array(vec![Value::from(7); n])),
            (0usize..200).prop_map(|n| {
                Value::Object((0..n).map(|i| (i.to_string(), Value::from(1))).collect())
            }),
        ];
        (kind, prop::collection::vec((field, big), 0..12)).prop_map(|(kind, fields)| {
            let body: Map<String, Value> = fields
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect();
            json!({ kind: body })
        })
    }

    fn within_caps(m: &Media) -> bool {
        let b = &m.blob;
        [&b.media_key, &b.file_sha256, &b.file_enc_sha256]
            .iter()
            .all(|v| v.len() <= MAX_KEY_BYTES)
            && m.mimetype.len() <= MAX_NAME_LEN
            && m.file_name.as_ref().is_none_or(|f| f.len() <= MAX_NAME_LEN)
            && m.caption
                .as_ref()
                .is_none_or(|c| c.len() <= MAX_CAPTION_LEN)
            && b.direct_path.chars().count() <= crate::engine::content::MAX_DIRECT_PATH + 1
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// The decoder of a client's `{key, message}` (getBase64FromMediaMessage): any JSON
        /// never panics, and what it reads stays within its caps.
        #[test]
        fn any_message_decodes_safely(v in any_json()) {
            if let Some(m) = media_from_message(&v) {
                prop_assert!(within_caps(&m));
            }
            let _ = text_of(&v);
        }

        #[test]
        fn media_fields_of_any_shape_stay_capped(v in media_message()) {
            if let Some(m) = media_from_message(&v) {
                prop_assert!(within_caps(&m));
                if m.blob.plain_direct_path() {
                    prop_assert!(m.blob.direct_path.starts_with('/'));
                    prop_assert!(!m.blob.direct_path.contains("//"));
                }
            }
        }
    }

    #[test]
    fn media_survives_the_record() {
        let media = Media {
            kind: MediaKind::Document,
            mimetype: "application/pdf".into(),
            caption: Some("the file".into()),
            file_name: Some("a.pdf".into()),
            file_length: 1234,
            ptt: false,
            seconds: None,
            blob: MediaRef {
                url: "https://mmg.example/x".into(),
                direct_path: "/v/x".into(),
                media_key: vec![7; 32],
                file_sha256: vec![8; 32],
                file_enc_sha256: vec![9; 32],
                media_key_timestamp: 1_700_000_000,
            },
        };
        let (message, t) = message_json(&MessageContent::Media(media.clone()));
        assert_eq!(t, "documentMessage");
        assert_eq!(media_from_message(&message), Some(media));
    }

    #[test]
    fn evolution_23_encodings_are_read() {
        let message = json!({"imageMessage": {
            "directPath": "/v/y",
            "mediaKey": {"1": 2, "0": 1},
            "fileSha256": [3, 4],
            "fileEncSha256": "BQY=",
            "fileLength": {"low": 262748, "high": 0, "unsigned": true},
            "mediaKeyTimestamp": "17",
        }});
        let m = media_from_message(&message).expect("media");
        assert_eq!(m.kind, MediaKind::Image);
        assert_eq!(m.blob.media_key, vec![1, 2]);
        assert_eq!(m.blob.file_sha256, vec![3, 4]);
        assert_eq!(m.blob.file_enc_sha256, vec![5, 6]);
        assert_eq!(m.file_length, 262748);
        assert_eq!(m.blob.media_key_timestamp, 17);
        assert_eq!(m.mimetype, "image/jpeg");
    }
}
