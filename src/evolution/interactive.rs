//! Evolution's rendering of list menus (`listMessage`) and button messages (Evolution 2.3 sends
//! every kind of button as an `interactiveMessage` with native-flow buttons).

use serde_json::{Value, json};

use crate::engine::{ButtonAction, ButtonsMessage, ListMenu};

/// `(message, messageType)` of a list menu.
pub fn list_json(l: &ListMenu) -> (Value, &'static str) {
    let sections: Vec<Value> = l
        .sections
        .iter()
        .map(|s| {
            let rows: Vec<Value> = s
                .rows
                .iter()
                .map(|r| json!({"title": r.title, "description": r.description, "rowId": r.row_id}))
                .collect();
            json!({"title": s.title, "rows": rows})
        })
        .collect();
    (
        json!({"listMessage": {
            "title": l.title,
            "description": l.description,
            "buttonText": l.button_text,
            "footerText": l.footer_text,
            "listType": "SINGLE_SELECT",
            "sections": sections,
        }}),
        "listMessage",
    )
}

/// The native-flow name of a button and its parameters (a JSON string, as WhatsApp carries it).
fn native_button(display_text: &str, action: &ButtonAction) -> Value {
    let (name, params) = match action {
        ButtonAction::Reply { id } => (
            "quick_reply",
            json!({"display_text": display_text, "id": id}),
        ),
        ButtonAction::Url { url } => (
            "cta_url",
            json!({"display_text": display_text, "url": url, "merchant_url": url}),
        ),
        ButtonAction::Call { phone_number } => (
            "cta_call",
            json!({"display_text": display_text, "phone_number": phone_number}),
        ),
        ButtonAction::Copy { code } => (
            "cta_copy",
            json!({"display_text": display_text, "copy_code": code}),
        ),
        ButtonAction::Pix {
            currency,
            name,
            key_type,
            key,
        } => (
            "payment_info",
            json!({"currency": currency, "merchant_name": name, "key_type": key_type, "key": key}),
        ),
    };
    json!({"name": name, "buttonParamsJson": params.to_string()})
}

/// `(message, messageType)` of a button message.
pub fn buttons_json(b: &ButtonsMessage) -> (Value, &'static str) {
    let buttons: Vec<Value> = b
        .buttons
        .iter()
        .map(|x| native_button(&x.display_text, &x.action))
        .collect();
    (
        json!({"interactiveMessage": {
            "header": {"title": b.title, "hasMediaAttachment": false},
            "body": {"text": b.description},
            "footer": {"text": b.footer},
            "nativeFlowMessage": {"buttons": buttons},
        }}),
        "interactiveMessage",
    )
}
