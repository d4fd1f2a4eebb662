//! `/send/contact|location|link|poll|presence|chat-presence`: the sends that carry no media,
//! and presence. Same path and answers as `send.rs`.

use std::collections::HashSet;
use std::sync::Arc;

use poem_openapi::OpenApi;
use poem_openapi::payload::Json;
use serde_json::json;

use super::Tag;
use super::auth::TokenInstance;
use super::error::{Envelope, GowaError, success};
use super::need;
use super::send::{sent, target};
use super::send_dto::*;
use crate::api::message::vcard;
use crate::api::message_dto::ContactBody;
use crate::engine::{ContactCard, Outgoing, Presence};
use crate::state::AppState;

pub struct SendMoreApi {
    pub state: Arc<AppState>,
}

#[OpenApi(tag = "Tag::TokenScoped")]
impl SendMoreApi {
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
        let target = target(&self.state, &h, &need(b.phone, "phone")?, None, None).await?;
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
        let target = target(&self.state, &h, &need(b.phone, "phone")?, None, None).await?;
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
        let target = target(&self.state, &h, &need(b.phone, "phone")?, None, None).await?;
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
        let target = target(&self.state, &h, &need(b.phone, "phone")?, None, None).await?;
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
