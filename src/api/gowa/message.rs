//! `/message/{message_id}/*`: revoke, react, edit and read a message of the chat `phone`. The
//! message is looked up in this instance's history only.

use std::sync::Arc;

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use serde_json::json;

use super::Tag;
use super::auth::TokenInstance;
use super::error::{Envelope, GowaError, success};
use super::need;
use crate::api::message::is_one_emoji;
use crate::api::required::Required;
use crate::engine::{Context, MessageKey, Outgoing, OutgoingMessage};
use crate::instance::InstanceHandle;
use crate::state::AppState;

pub struct MessageActionsApi {
    pub state: Arc<AppState>,
}

/// The chat a message action is about.
#[derive(Object, Debug)]
#[oai(rename = "GowaPhoneBody")]
pub struct PhoneBody {
    /// The chat: an international number (no leading 0) or a JID.
    #[oai(validator(max_length = 128))]
    pub phone: Required<String>,
}

/// `POST /message/{message_id}/reaction`.
#[derive(Object, Debug)]
#[oai(rename = "GowaReactionBody")]
pub struct ReactionBody {
    #[oai(validator(max_length = 128))]
    pub phone: Required<String>,
    /// One emoji, or `""` to remove the reaction.
    #[oai(validator(max_length = 32))]
    pub emoji: Required<String>,
}

/// `POST /message/{message_id}/update`.
#[derive(Object, Debug)]
#[oai(rename = "GowaUpdateBody")]
pub struct UpdateBody {
    #[oai(validator(max_length = 128))]
    pub phone: Required<String>,
    /// The new text.
    #[oai(validator(max_length = 65536))]
    pub message: Required<String>,
}

/// The key of message `id` in chat `phone`; who wrote it comes from the stored copy when there
/// is one.
fn key_of(h: &InstanceHandle, id: &str, phone: &str) -> Result<(MessageKey, bool), GowaError> {
    let remote_jid = super::phone_jid(phone)?;
    let stored = h.message(id)?;
    let known = stored.is_some();
    let from_me = stored.as_ref().is_some_and(|m| m.key.from_me);
    let participant = stored.and_then(|m| m.key.participant);
    Ok((
        MessageKey {
            remote_jid,
            from_me,
            id: id.to_string(),
            participant,
        },
        known,
    ))
}

fn answer(status: String, id: &str) -> Json<Envelope> {
    success(
        status.clone(),
        Some(json!({"message_id": id, "status": status})),
    )
}

#[OpenApi(tag = "Tag::TokenScoped")]
impl MessageActionsApi {
    /// Delete one of this instance's messages for everyone.
    #[oai(
        path = "/message/:message_id/revoke",
        method = "post",
        operation_id = "gowa_revoke_message"
    )]
    async fn revoke(
        &self,
        token: TokenInstance,
        #[oai(validator(max_length = 128))] message_id: Path<String>,
        body: Json<PhoneBody>,
    ) -> Result<Json<Envelope>, GowaError> {
        let h = token.open()?;
        let (mut key, known) = key_of(&h, &message_id, &need(body.0.phone, "phone")?)?;
        if known && !key.from_me {
            return Err(GowaError::Validation(
                "only messages sent by this instance can be revoked".into(),
            ));
        }
        key.from_me = true;
        h.revoke(key).await?;
        Ok(answer(
            format!("Revoke success {}", message_id.0),
            &message_id,
        ))
    }

    /// React to a message (`""` removes the reaction).
    #[oai(
        path = "/message/:message_id/reaction",
        method = "post",
        operation_id = "gowa_react_message"
    )]
    async fn reaction(
        &self,
        token: TokenInstance,
        #[oai(validator(max_length = 128))] message_id: Path<String>,
        body: Json<ReactionBody>,
    ) -> Result<Json<Envelope>, GowaError> {
        let h = token.open()?;
        let b = body.0;
        let emoji = need(b.emoji, "emoji")?;
        if !emoji.is_empty() && !is_one_emoji(&emoji) {
            return Err(GowaError::Validation(
                "emoji must be a single emoji, or \"\" to remove it".into(),
            ));
        }
        let (key, _) = key_of(&h, &message_id, &need(b.phone, "phone")?)?;
        let to = key.remote_jid.clone();
        let sent = h
            .send(OutgoingMessage {
                to: to.clone(),
                content: Outgoing::Reaction { key, emoji },
                context: Context::default(),
            })
            .await?;
        Ok(answer(format!("Reaction sent to {to}"), &sent.key.id))
    }

    /// Edit the text of one of this instance's messages.
    #[oai(
        path = "/message/:message_id/update",
        method = "post",
        operation_id = "gowa_update_message"
    )]
    async fn update(
        &self,
        token: TokenInstance,
        #[oai(validator(max_length = 128))] message_id: Path<String>,
        body: Json<UpdateBody>,
    ) -> Result<Json<Envelope>, GowaError> {
        let h = token.open()?;
        let b = body.0;
        let message = need(b.message, "message")?;
        if message.trim().is_empty() {
            return Err(GowaError::Validation("message: cannot be blank.".into()));
        }
        let (mut key, known) = key_of(&h, &message_id, &need(b.phone, "phone")?)?;
        if known && !key.from_me {
            return Err(GowaError::Validation(
                "only messages sent by this instance can be edited".into(),
            ));
        }
        key.from_me = true;
        h.edit(key, message).await?;
        Ok(answer(
            format!("Update message success {}", message_id.0),
            &message_id,
        ))
    }

    /// Send a read receipt for a message.
    #[oai(
        path = "/message/:message_id/read",
        method = "post",
        operation_id = "gowa_read_message"
    )]
    async fn read(
        &self,
        token: TokenInstance,
        #[oai(validator(max_length = 128))] message_id: Path<String>,
        body: Json<PhoneBody>,
    ) -> Result<Json<Envelope>, GowaError> {
        let h = token.open()?;
        let (key, _) = key_of(&h, &message_id, &need(body.0.phone, "phone")?)?;
        h.mark_read(vec![key]).await?;
        Ok(answer(
            format!("Mark as read success {}", message_id.0),
            &message_id,
        ))
    }
}
