//! Interactive contents: list menus and button messages (Evolution's `sendList` and
//! `sendButtons`). Stored in the history inside [`super::MessageContent`], so, like it, these
//! types must keep every field (postcard) and only grow at the end.

use serde::{Deserialize, Serialize};

/// A list menu: a button that opens sections of rows to pick one from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListMenu {
    pub title: String,
    pub description: Option<String>,
    pub button_text: String,
    pub footer_text: String,
    pub sections: Vec<ListSection>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListSection {
    pub title: String,
    pub rows: Vec<ListRow>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ListRow {
    pub title: String,
    pub description: Option<String>,
    pub row_id: String,
}

/// What pressing a button does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum ButtonAction {
    /// Sends `id` back as a reply.
    Reply {
        id: String,
    },
    Url {
        url: String,
    },
    Call {
        phone_number: String,
    },
    Copy {
        code: String,
    },
    /// A Brazilian PIX payment request.
    Pix {
        currency: String,
        name: String,
        key_type: String,
        key: String,
    },
}

impl ButtonAction {
    /// Evolution's `type` of the button.
    pub fn type_name(&self) -> &'static str {
        match self {
            ButtonAction::Reply { .. } => "reply",
            ButtonAction::Url { .. } => "url",
            ButtonAction::Call { .. } => "call",
            ButtonAction::Copy { .. } => "copy",
            ButtonAction::Pix { .. } => "pix",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Button {
    pub display_text: String,
    pub action: ButtonAction,
}

/// A message with buttons under it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ButtonsMessage {
    pub title: Option<String>,
    pub description: Option<String>,
    pub footer: Option<String>,
    pub buttons: Vec<Button>,
}
