//! `/message/*`: sending. Every send answers 201 with the message record (Evolution §6).

use std::sync::Arc;
use std::time::Duration;

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde_json::Value;

use super::auth::ApiKey;
use super::error::ApiError;
use crate::engine::Presence;
use crate::engine::jid::to_jid;
use crate::state::AppState;

/// Longest `delay` honoured; Evolution blocks the request for the whole delay.
const MAX_DELAY_MS: u64 = 5 * 60 * 1000;

#[derive(Tags)]
enum Tag {
    /// Sending messages.
    Message,
}

pub struct MessageApi {
    pub state: Arc<AppState>,
}

#[derive(Object, Debug)]
pub struct QuotedKey {
    pub id: Option<String>,
    #[oai(rename = "remoteJid")]
    pub remote_jid: Option<String>,
    #[oai(rename = "fromMe")]
    pub from_me: Option<bool>,
}

#[derive(Object, Debug)]
pub struct Quoted {
    pub key: Option<QuotedKey>,
    pub message: Option<Value>,
}

/// `POST /message/sendText` body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SendTextBody {
    /// Digits, a JID, or a group id.
    pub number: Option<String>,
    pub text: Option<String>,
    /// Milliseconds of "composing" shown before sending; the request waits that long.
    pub delay: Option<i64>,
    pub quoted: Option<Quoted>,
    pub link_preview: Option<bool>,
    pub mentions_every_one: Option<bool>,
    pub mentioned: Option<Vec<String>>,
}

#[derive(ApiResponse)]
enum SendResponse {
    /// The message record, status PENDING.
    #[oai(status = 201)]
    Created(Json<Value>),
}

#[OpenApi(tag = "Tag::Message")]
impl MessageApi {
    /// Send a text message.
    #[oai(
        path = "/message/sendText/:instanceName",
        method = "post",
        operation_id = "send_text"
    )]
    async fn send_text(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<SendTextBody>,
    ) -> Result<SendResponse, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let number = b
            .number
            .ok_or_else(|| ApiError::Validation("instance requires property \"number\"".into()))?;
        let text = b
            .text
            .ok_or_else(|| ApiError::Validation("instance requires property \"text\"".into()))?;
        if text.trim().is_empty() {
            return Err(ApiError::BadRequest("Text is required".into()));
        }
        let to = to_jid(&number).ok_or_else(|| {
            ApiError::Validation("number does not match pattern \"^\\d+[\\.@\\w-]+\"".into())
        })?;
        let delay = match b.delay {
            Some(d) if d < 0 => {
                return Err(ApiError::Validation(
                    "delay must be greater than or equal to 0".into(),
                ));
            }
            Some(d) => (d as u64).min(MAX_DELAY_MS),
            None => 0,
        };
        if delay > 0 {
            h.set_presence(Presence::Composing).await?;
            tokio::time::sleep(Duration::from_millis(delay)).await;
        }
        let quoted_id = b.quoted.and_then(|q| q.key).and_then(|k| k.id);
        let record = h
            .send_text(to, text, quoted_id, b.mentioned.unwrap_or_default())
            .await?;
        Ok(SendResponse::Created(Json(record)))
    }
}
