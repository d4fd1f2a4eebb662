//! Bodies of `/send/*`, with GOWA's field names. Bounds are stated here so the document says
//! what the server refuses; fields take only their JSON type (`Required`/`Optional`), so a
//! `false` is never read as the text "false".

use poem_openapi::Object;

use crate::api::required::{Optional, Required};

/// `POST /send/message`.
#[derive(Object, Debug)]
#[oai(rename = "GowaSendMessageBody")]
pub struct SendMessageBody {
    /// The recipient: an international number (no leading 0) or a JID.
    #[oai(validator(max_length = 128))]
    pub phone: Required<String>,
    #[oai(validator(max_length = 65536))]
    pub message: Required<String>,
    /// A message of this instance to quote.
    #[oai(validator(max_length = 128))]
    pub reply_message_id: Optional<String>,
    /// Numbers to mention; `"@everyone"` mentions every member of a group.
    #[oai(validator(max_items = 1024, max_length = 128))]
    pub mentions: Optional<Vec<String>>,
}

/// Fields every media send has.
#[derive(Object, Debug)]
#[oai(rename = "GowaMediaBase")]
pub struct MediaBase {
    /// The recipient: an international number (no leading 0) or a JID.
    #[oai(validator(max_length = 128))]
    pub phone: Required<String>,
    /// A message of this instance to quote.
    #[oai(validator(max_length = 128))]
    pub reply_message_id: Optional<String>,
}

/// `POST /send/image`.
#[derive(Object, Debug)]
#[oai(rename = "GowaSendImageBody")]
pub struct SendImageBody {
    #[oai(flatten)]
    pub base: MediaBase,
    /// An http(s) URL or base64 (multipart uploads are not taken here).
    pub image_url: Optional<String>,
    #[oai(validator(max_length = 4096))]
    pub caption: Optional<String>,
}

/// `POST /send/file`.
#[derive(Object, Debug)]
#[oai(rename = "GowaSendFileBody")]
pub struct SendFileBody {
    #[oai(flatten)]
    pub base: MediaBase,
    /// An http(s) URL or base64.
    pub file_url: Optional<String>,
    #[oai(validator(max_length = 4096))]
    pub caption: Optional<String>,
    /// The document's file name ("file" when absent).
    #[oai(validator(max_length = 255))]
    pub file_name: Optional<String>,
}

/// `POST /send/video`.
#[derive(Object, Debug)]
#[oai(rename = "GowaSendVideoBody")]
pub struct SendVideoBody {
    #[oai(flatten)]
    pub base: MediaBase,
    /// An http(s) URL or base64.
    pub video_url: Optional<String>,
    #[oai(validator(max_length = 4096))]
    pub caption: Optional<String>,
}

/// `POST /send/audio`.
#[derive(Object, Debug)]
#[oai(rename = "GowaSendAudioBody")]
pub struct SendAudioBody {
    #[oai(flatten)]
    pub base: MediaBase,
    /// An http(s) URL or base64.
    pub audio_url: Optional<String>,
    /// Send as a voice note.
    pub ptt: Optional<bool>,
}

/// `POST /send/contact`.
#[derive(Object, Debug)]
#[oai(rename = "GowaSendContactBody")]
pub struct SendContactBody {
    #[oai(validator(max_length = 128))]
    pub phone: Required<String>,
    #[oai(validator(max_length = 256))]
    pub contact_name: Required<String>,
    #[oai(validator(max_length = 64))]
    pub contact_phone: Required<String>,
}

/// `POST /send/location`.
#[derive(Object, Debug)]
#[oai(rename = "GowaSendLocationBody")]
pub struct SendLocationBody {
    #[oai(validator(max_length = 128))]
    pub phone: Required<String>,
    /// Decimal degrees, within ±90.
    #[oai(validator(max_length = 32))]
    pub latitude: Required<String>,
    /// Decimal degrees, within ±180.
    #[oai(validator(max_length = 32))]
    pub longitude: Required<String>,
}

/// `POST /send/link`.
#[derive(Object, Debug)]
#[oai(rename = "GowaSendLinkBody")]
pub struct SendLinkBody {
    #[oai(validator(max_length = 128))]
    pub phone: Required<String>,
    #[oai(validator(max_length = 2048))]
    pub link: Required<String>,
    #[oai(validator(max_length = 4096))]
    pub caption: Required<String>,
}

/// `POST /send/poll`.
#[derive(Object, Debug)]
#[oai(rename = "GowaSendPollBody")]
pub struct SendPollBody {
    #[oai(validator(max_length = 128))]
    pub phone: Required<String>,
    #[oai(validator(max_length = 255))]
    pub question: Required<String>,
    /// 2 to 12 unique options.
    #[oai(validator(min_items = 2, max_items = 12, max_length = 100))]
    pub options: Required<Vec<String>>,
    /// How many options one person may pick.
    #[oai(validator(minimum(value = "1"), maximum(value = "12")))]
    pub max_answer: Required<u32>,
}

/// `POST /send/presence`.
#[derive(Object, Debug)]
#[oai(rename = "GowaPresenceBody")]
pub struct PresenceBody {
    #[oai(rename = "type", validator(pattern = "^(available|unavailable)$"))]
    pub presence_type: Required<String>,
}

/// `POST /send/chat-presence`.
#[derive(Object, Debug)]
#[oai(rename = "GowaChatPresenceBody")]
pub struct ChatPresenceBody {
    #[oai(validator(max_length = 128))]
    pub phone: Required<String>,
    /// `start` (typing) or `stop`.
    #[oai(validator(pattern = "^(start|stop)$"))]
    pub action: Required<String>,
}
