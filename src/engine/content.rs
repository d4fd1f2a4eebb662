//! What a message holds, in our own terms: engines convert to and from their wire types, the
//! instance layer renders these into Evolution's records (`instance::record`).

use serde::{Deserialize, Serialize};

use super::interactive::{ButtonsMessage, ListMenu};

/// Which message in which chat (Evolution's `key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MessageKey {
    pub remote_jid: String,
    pub from_me: bool,
    pub id: String,
    /// The sender inside a group, when the message is not ours.
    pub participant: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MediaKind {
    Image,
    Video,
    Audio,
    Document,
    Sticker,
    /// A round video note (WhatsApp's "PTV"); stored last, as postcard numbers variants.
    Ptv,
}

impl MediaKind {
    pub fn parse(s: &str) -> Option<MediaKind> {
        Some(match s {
            "image" => MediaKind::Image,
            "video" => MediaKind::Video,
            "audio" => MediaKind::Audio,
            "document" => MediaKind::Document,
            "sticker" => MediaKind::Sticker,
            _ => return None,
        })
    }

    /// The proto field name Evolution uses as `messageType` and as the key under `message`.
    pub fn message_type(self) -> &'static str {
        match self {
            MediaKind::Image => "imageMessage",
            MediaKind::Video => "videoMessage",
            MediaKind::Audio => "audioMessage",
            MediaKind::Document => "documentMessage",
            MediaKind::Sticker => "stickerMessage",
            MediaKind::Ptv => "ptvMessage",
        }
    }

    pub fn from_message_type(s: &str) -> Option<MediaKind> {
        [
            MediaKind::Image,
            MediaKind::Video,
            MediaKind::Audio,
            MediaKind::Document,
            MediaKind::Sticker,
            MediaKind::Ptv,
        ]
        .into_iter()
        .find(|k| k.message_type() == s)
    }

    /// What WhatsApp assumes when the sender gives no mimetype.
    pub fn default_mimetype(self) -> &'static str {
        match self {
            MediaKind::Image => "image/jpeg",
            MediaKind::Video | MediaKind::Ptv => "video/mp4",
            MediaKind::Audio => "audio/ogg; codecs=opus",
            MediaKind::Document => "application/octet-stream",
            MediaKind::Sticker => "image/webp",
        }
    }
}

/// Where an uploaded (encrypted) blob lives and how to decrypt it: enough to download it again.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MediaRef {
    pub url: String,
    pub direct_path: String,
    pub media_key: Vec<u8>,
    pub file_sha256: Vec<u8>,
    pub file_enc_sha256: Vec<u8>,
    pub media_key_timestamp: i64,
}

/// Longest `directPath` accepted (WhatsApp's are a few hundred bytes, query string included).
pub const MAX_DIRECT_PATH: usize = 2048;

impl MediaRef {
    /// Whether `direct_path` can be appended to a media host without changing the host: it
    /// comes from a sender's message or a client's request, and the request that uses it
    /// carries the account's media auth token.
    pub fn plain_direct_path(&self) -> bool {
        is_plain_direct_path(&self.direct_path)
    }
}

/// A plain absolute path: starts with one `/`, bounded, printable ASCII, no `//`, `@`, `\`,
/// `..`, scheme or fragment, and no percent-encoded dot, slash, backslash or `@` (URL parsers
/// decode `%2e%2e` as `..`).
pub fn is_plain_direct_path(p: &str) -> bool {
    let lower = p.to_ascii_lowercase();
    p.len() <= MAX_DIRECT_PATH
        && p.starts_with('/')
        && !p.contains("//")
        && !p.contains("..")
        && !p.contains("://")
        && p.bytes()
            .all(|b| b.is_ascii_graphic() && !b"@\\#\"<>`{}|^[]".contains(&b))
        && !["%2e", "%2f", "%5c", "%40", "%00"]
            .iter()
            .any(|enc| lower.contains(enc))
}

/// A media message as sent or received.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Media {
    pub kind: MediaKind,
    pub mimetype: String,
    pub caption: Option<String>,
    pub file_name: Option<String>,
    pub file_length: u64,
    /// A voice note (audio only).
    pub ptt: bool,
    pub seconds: Option<u32>,
    pub blob: MediaRef,
}

/// One contact card of a contact message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactCard {
    pub display_name: String,
    pub vcard: String,
}

/// Message contents the engines understand. Stored as is in the history (postcard), so its serde
/// form must stay externally tagged and must not skip fields: a new variant goes at the end.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum MessageContent {
    Text {
        text: String,
    },
    Media(Media),
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
    },
    Contacts {
        contacts: Vec<ContactCard>,
    },
    /// An emoji on another message; an empty `text` takes the reaction back.
    Reaction {
        key: MessageKey,
        text: String,
    },
    Poll {
        name: String,
        options: Vec<String>,
        selectable_count: u32,
    },
    /// "Deleted for everyone".
    Revoke {
        key: MessageKey,
    },
    /// New text for an earlier message.
    Edit {
        key: MessageKey,
        text: String,
    },
    List(ListMenu),
    Buttons(ButtonsMessage),
    /// A text status: text on a coloured background (`0xAARRGGBB`) in one of WhatsApp's fonts.
    TextStatus {
        text: String,
        background_argb: u32,
        font: u32,
    },
}

/// Quote and mentions around a message (Evolution's `contextInfo`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Context {
    pub quoted: Option<Quote>,
    pub mentions: Vec<String>,
}

impl Context {
    pub fn is_empty(&self) -> bool {
        self.quoted.is_none() && self.mentions.is_empty()
    }
}

/// The message a reply quotes: its key and, when known, its text (shown in the reply bubble).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Quote {
    pub key: MessageKey,
    pub text: Option<String>,
}

/// Media to send, before upload.
#[derive(Debug, Clone)]
pub struct NewMedia {
    pub kind: MediaKind,
    pub data: Vec<u8>,
    pub mimetype: String,
    pub caption: Option<String>,
    pub file_name: Option<String>,
    pub ptt: bool,
}

impl NewMedia {
    /// The media message once its `file_length` bytes live at `blob` (the bytes themselves
    /// may have been moved into the upload).
    pub fn uploaded(self, blob: MediaRef, file_length: u64) -> Media {
        Media {
            kind: self.kind,
            mimetype: self.mimetype,
            caption: self.caption,
            file_name: self.file_name,
            file_length,
            ptt: self.ptt,
            seconds: None,
            blob,
        }
    }
}

/// What to send, before upload: media carries its bytes.
#[derive(Debug, Clone)]
pub enum Outgoing {
    Text(String),
    Media(NewMedia),
    Location {
        latitude: f64,
        longitude: f64,
        name: Option<String>,
        address: Option<String>,
    },
    Contacts(Vec<ContactCard>),
    Reaction {
        key: MessageKey,
        emoji: String,
    },
    Poll {
        name: String,
        options: Vec<String>,
        selectable_count: u32,
    },
    List(ListMenu),
    Buttons(ButtonsMessage),
    TextStatus {
        text: String,
        background_argb: u32,
        font: u32,
    },
    /// A status post (to `status@broadcast`) that only `recipients` (JIDs) receive.
    Status {
        content: Box<Outgoing>,
        recipients: Vec<String>,
    },
}

/// A message to send.
#[derive(Debug, Clone)]
pub struct OutgoingMessage {
    /// The chat's JID.
    pub to: String,
    pub content: Outgoing,
    pub context: Context,
}

impl Outgoing {
    /// The content as it will be sent, or the media an engine must upload first.
    pub fn into_content(self) -> Result<MessageContent, NewMedia> {
        Ok(match self {
            Outgoing::Text(text) => MessageContent::Text { text },
            Outgoing::Media(m) => return Err(m),
            Outgoing::Location {
                latitude,
                longitude,
                name,
                address,
            } => MessageContent::Location {
                latitude,
                longitude,
                name,
                address,
            },
            Outgoing::Contacts(contacts) => MessageContent::Contacts { contacts },
            Outgoing::Reaction { key, emoji } => MessageContent::Reaction { key, text: emoji },
            Outgoing::Poll {
                name,
                options,
                selectable_count,
            } => MessageContent::Poll {
                name,
                options,
                selectable_count,
            },
            Outgoing::List(l) => MessageContent::List(l),
            Outgoing::Buttons(b) => MessageContent::Buttons(b),
            Outgoing::TextStatus {
                text,
                background_argb,
                font,
            } => MessageContent::TextStatus {
                text,
                background_argb,
                font,
            },
            // Engines take the recipients first; what is posted is the content.
            Outgoing::Status { content, .. } => return content.into_content(),
        })
    }
}

impl OutgoingMessage {
    pub fn text(to: impl Into<String>, text: impl Into<String>) -> OutgoingMessage {
        OutgoingMessage {
            to: to.into(),
            content: Outgoing::Text(text.into()),
            context: Context::default(),
        }
    }
}

/// A profile as others see it (`/chat/fetchProfile`).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Profile {
    pub jid: String,
    pub exists: bool,
    pub name: Option<String>,
    pub status: Option<String>,
    pub picture_url: Option<String>,
    pub is_business: bool,
}

/// A WhatsApp Business account's public profile (Baileys' `WABusinessProfile`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BusinessProfile {
    pub jid: Option<String>,
    pub description: String,
    pub email: Option<String>,
    pub website: Vec<String>,
    /// The first category's name.
    pub category: Option<String>,
    pub address: Option<String>,
    pub timezone: Option<String>,
    pub hours: Vec<BusinessDayHours>,
}

/// One day of a business's opening hours.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BusinessDayHours {
    /// `sun`, `mon`, ... as WhatsApp names them.
    pub day_of_week: String,
    /// `open_24h`, `specific_hours` or `appointment_only`.
    pub mode: String,
    /// Minutes after midnight.
    pub open_time: Option<u32>,
    pub close_time: Option<u32>,
}

/// Who may see or do something (Evolution's privacy values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PrivacyValue {
    All,
    Contacts,
    ContactBlacklist,
    None,
    MatchLastSeen,
}

impl PrivacyValue {
    pub fn parse(s: &str) -> Option<PrivacyValue> {
        Some(match s {
            "all" => PrivacyValue::All,
            "contacts" => PrivacyValue::Contacts,
            "contact_blacklist" => PrivacyValue::ContactBlacklist,
            "none" => PrivacyValue::None,
            "match_last_seen" => PrivacyValue::MatchLastSeen,
            _ => return None,
        })
    }
}

/// Evolution's privacy settings object, one value per category.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Privacy {
    pub readreceipts: PrivacyValue,
    pub profile: PrivacyValue,
    pub status: PrivacyValue,
    pub online: PrivacyValue,
    pub last: PrivacyValue,
    pub groupadd: PrivacyValue,
}

impl Default for Privacy {
    /// WhatsApp's defaults for a new account.
    fn default() -> Privacy {
        Privacy {
            readreceipts: PrivacyValue::All,
            profile: PrivacyValue::All,
            status: PrivacyValue::All,
            online: PrivacyValue::All,
            last: PrivacyValue::All,
            groupadd: PrivacyValue::All,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn direct_paths() {
        for ok in [
            "/v/t62.7118-24/11969_n.enc?ccb=11-4&oh=01_Q5AaI&oe=6845&_nc_sid=5e03e0",
            "/loopback/0123abcd",
            "/",
        ] {
            assert!(is_plain_direct_path(ok), "{ok}");
        }
        let long = format!("/{}", "a".repeat(MAX_DIRECT_PATH));
        for bad in [
            "",
            "v/x",
            ".attacker.example/x",
            "//attacker.example/x",
            "/v//x",
            "@attacker.example/x",
            "/v@attacker/x",
            "/v/../x",
            "/v/%2E%2e/x",
            "/v/%2fx",
            "/v/x\\y",
            "/v/x y",
            "/v/x\ny",
            "/v/x\u{7f}",
            "/v/é",
            "/v#frag",
            "https://attacker.example/x",
            long.as_str(),
        ] {
            assert!(!is_plain_direct_path(bad), "{bad:?}");
        }
    }
}
