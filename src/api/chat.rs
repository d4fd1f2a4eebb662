//! `/chat/*`: what is done to chats and messages besides sending (read receipts, edits,
//! deletes, presence, media download, profiles, privacy, blocking). Shapes follow Evolution §2.6.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde_json::{Value, json};

use super::auth::ApiKey;
use super::error::ApiError;
use super::jid_text::JidText;
use super::message::{KeyBody, delay_ms, jid, required};
use super::required::{Optional, Required};
use crate::engine::{MessageKey, Presence, Privacy, PrivacyValue};
use crate::evolution::message::{media_from_message, raw_message};
use crate::state::AppState;

#[derive(Tags)]
pub(crate) enum Tag {
    /// Chats, messages, profiles and privacy.
    Chat,
}

pub struct ChatApi {
    pub state: Arc<AppState>,
}

#[derive(ApiResponse)]
enum Answer {
    #[oai(status = 200)]
    Ok(Json<Value>),
    #[oai(status = 201)]
    Created(Json<Value>),
}

#[derive(Object, Debug)]
pub struct NumbersBody {
    #[oai(validator(min_items = 1, max_items = 500, max_length = 128))]
    pub numbers: Required<Vec<String>>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct ReadBody {
    #[oai(validator(max_items = 1000))]
    pub read_messages: Required<Vec<KeyBody>>,
}

/// `DELETE /chat/deleteMessageForEveryone` body: the key itself.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct DeleteBody {
    #[oai(validator(max_length = 128))]
    pub id: Required<String>,
    #[oai(validator(max_length = 128))]
    pub remote_jid: Required<String>,
    pub from_me: Required<bool>,
    #[oai(validator(max_length = 128))]
    pub participant: Option<String>,
}

#[derive(Object, Debug)]
pub struct UpdateMessageBody {
    #[oai(validator(max_length = 128))]
    pub number: Option<String>,
    pub key: Required<KeyBody>,
    #[oai(validator(max_length = 65536))]
    pub text: Required<String>,
}

#[derive(Object, Debug)]
pub struct ChatPresenceBody {
    pub number: Required<JidText<128>>,
    #[oai(validator(max_length = 32))]
    pub presence: Required<String>,
    pub delay: Required<i64>,
}

/// `fetchProfile`: the number, or the account itself when absent.
#[derive(Object, Debug)]
pub struct NumberBody {
    pub number: Optional<JidText<128>>,
}

/// `fetchProfilePictureUrl`: the number is required.
#[derive(Object, Debug)]
pub struct RequiredNumberBody {
    pub number: Required<JidText<128>>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct Base64Body {
    /// `{key:{id}}` to use the stored message, or a full `{key, message}`.
    pub message: Required<Value>,
    /// Accepted for compatibility; zapgate does not transcode.
    pub convert_to_mp4: Option<bool>,
}

#[derive(Object, Debug)]
pub struct BlockBody {
    pub number: Required<JidText<128>>,
    /// `block` or `unblock`.
    #[oai(validator(max_length = 32))]
    pub status: Required<String>,
}

#[derive(Object, Debug)]
pub struct PrivacyBody {
    #[oai(validator(pattern = "^(all|none)$", max_length = 32))]
    pub readreceipts: Required<String>,
    #[oai(validator(pattern = "^(all|contacts|contact_blacklist|none)$", max_length = 32))]
    pub profile: Required<String>,
    #[oai(validator(pattern = "^(all|contacts|contact_blacklist|none)$", max_length = 32))]
    pub status: Required<String>,
    #[oai(validator(pattern = "^(all|match_last_seen)$", max_length = 32))]
    pub online: Required<String>,
    #[oai(validator(pattern = "^(all|contacts|contact_blacklist|none)$", max_length = 32))]
    pub last: Required<String>,
    #[oai(validator(pattern = "^(all|contacts|contact_blacklist|none)$", max_length = 32))]
    pub groupadd: Required<String>,
}

#[derive(Object, Debug)]
pub struct ProfileNameBody {
    /// 1 to 25 characters, not only blanks.
    #[oai(validator(pattern = r"\S", max_length = 25))]
    pub name: Required<String>,
}

#[derive(Object, Debug)]
pub struct ProfileStatusBody {
    #[oai(validator(max_length = 139))]
    pub status: Required<String>,
}

#[derive(Object, Debug)]
pub struct ProfilePictureBody {
    /// A URL or base64 JPEG.
    pub picture: Required<String>,
}

fn privacy_value(
    v: Required<String>,
    name: &str,
    allowed: &[PrivacyValue],
) -> Result<PrivacyValue, ApiError> {
    let v = required(v, name)?;
    PrivacyValue::parse(&v)
        .filter(|p| allowed.contains(p))
        .ok_or_else(|| {
            let names: Vec<String> = allowed
                .iter()
                .map(|a| {
                    serde_json::to_value(a)
                        .ok()
                        .and_then(|v| v.as_str().map(str::to_string))
                        .unwrap_or_default()
                })
                .collect();
            ApiError::Validation(format!("{name} must be one of: {}", names.join(", ")))
        })
}

const UPDATED: &str = "success";

#[OpenApi(tag = "Tag::Chat")]
impl ChatApi {
    /// Which numbers have WhatsApp.
    #[oai(
        path = "/chat/whatsappNumbers/:instanceName",
        method = "post",
        operation_id = "whatsapp_numbers"
    )]
    async fn whatsapp_numbers(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<NumbersBody>,
    ) -> Result<Answer, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let numbers = required(body.0.numbers, "numbers")?;
        if numbers.is_empty() {
            return Err(ApiError::Validation(
                "numbers must contain at least 1 item".into(),
            ));
        }
        let checks = h.session()?.check_numbers(numbers).await?;
        let rows: Vec<Value> = checks
            .into_iter()
            .map(|c| json!({"jid": c.jid, "exists": c.exists, "number": c.number}))
            .collect();
        Ok(Answer::Ok(Json(Value::Array(rows))))
    }

    /// Send read receipts.
    #[oai(
        path = "/chat/markMessageAsRead/:instanceName",
        method = "post",
        operation_id = "mark_message_as_read"
    )]
    async fn mark_read(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<ReadBody>,
    ) -> Result<Answer, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let keys = required(body.0.read_messages, "readMessages")?
            .into_iter()
            .map(KeyBody::into_key)
            .collect::<Result<Vec<_>, _>>()?;
        h.mark_read(keys).await?;
        Ok(Answer::Created(Json(
            json!({"message": "Read messages", "read": "success"}),
        )))
    }

    /// Delete a message for everyone.
    #[oai(
        path = "/chat/deleteMessageForEveryone/:instanceName",
        method = "delete",
        operation_id = "delete_message_for_everyone"
    )]
    async fn delete_for_everyone(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<DeleteBody>,
    ) -> Result<Answer, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let target = KeyBody {
            id: b.id.into_option(),
            remote_jid: b.remote_jid.into_option(),
            from_me: Some(required(b.from_me, "fromMe")?),
            participant: b.participant,
        }
        .into_key()?;
        let revoke = h.revoke(target).await?;
        Ok(Answer::Created(Json(raw_message(&revoke))))
    }

    /// Edit the text or caption of one of your messages.
    #[oai(
        path = "/chat/updateMessage/:instanceName",
        method = "post",
        operation_id = "update_message"
    )]
    async fn update_message(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<UpdateMessageBody>,
    ) -> Result<Answer, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let text = required(b.text, "text")?;
        if text.trim().is_empty() {
            return Err(ApiError::BadRequest("Text is required".into()));
        }
        let mut kb = required(b.key, "key")?;
        if kb.remote_jid.is_none() {
            kb.remote_jid = Some(required(b.number, "number")?);
        }
        let target: MessageKey = kb.into_key()?;
        // The stored copy, when there is one, says who wrote it better than the body does.
        let stored_from_me = h.message(&target.id)?.map(|m| m.key.from_me);
        if !target.from_me || stored_from_me == Some(false) {
            return Err(ApiError::BadRequest(
                "only messages sent by this instance (fromMe) can be edited".into(),
            ));
        }
        let edit = h.edit(target, text).await?;
        Ok(Answer::Ok(Json(raw_message(&edit))))
    }

    /// Show typing or recording in a chat for `delay` ms (the request waits that long).
    #[oai(
        path = "/chat/sendPresence/:instanceName",
        method = "post",
        operation_id = "send_presence"
    )]
    async fn send_presence(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<ChatPresenceBody>,
    ) -> Result<Answer, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let to = jid(&required(b.number, "number")?)?;
        let raw = required(b.presence, "presence")?;
        let presence = Presence::parse(&raw).ok_or_else(|| {
            ApiError::Validation(
                "presence must be one of: available, unavailable, composing, recording, paused"
                    .into(),
            )
        })?;
        let delay = delay_ms(
            Some(required(b.delay, "delay")?),
            self.state.config.max_send_delay_ms,
        )?;
        h.chat_presence(to.clone(), presence).await?;
        if delay > 0 {
            tokio::time::sleep(Duration::from_millis(delay)).await;
            if matches!(presence, Presence::Composing | Presence::Recording) {
                h.chat_presence(to, Presence::Paused).await?;
            }
        }
        Ok(Answer::Created(Json(json!({"presence": raw}))))
    }

    /// The URL of a profile picture, or null.
    #[oai(
        path = "/chat/fetchProfilePictureUrl/:instanceName",
        method = "post",
        operation_id = "fetch_profile_picture_url"
    )]
    async fn profile_picture_url(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<RequiredNumberBody>,
    ) -> Result<Answer, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let target = jid(&required(body.0.number, "number")?)?;
        let url = h.profile_picture_url(&target).await?;
        Ok(Answer::Ok(Json(
            json!({"wuid": target, "profilePictureUrl": url}),
        )))
    }

    /// A profile (yours when `number` is omitted).
    #[oai(
        path = "/chat/fetchProfile/:instanceName",
        method = "post",
        operation_id = "fetch_profile"
    )]
    async fn fetch_profile(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<NumberBody>,
    ) -> Result<Answer, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let target = match body.0.number.0 {
            Some(n) => jid(&n)?,
            None => h.view().record.owner_jid.clone().ok_or_else(|| {
                ApiError::BadRequest(format!("The \"{}\" instance is not connected", h.name()))
            })?,
        };
        let p = h.session()?.fetch_profile(target).await?;
        Ok(Answer::Ok(Json(json!({
            "wuid": p.jid,
            "name": p.name,
            "numberExists": p.exists,
            "picture": p.picture_url,
            "status": p.status.map(|s| json!({"status": s})),
            "isBusiness": p.is_business,
        }))))
    }

    /// Download the media of a message, as base64.
    #[oai(
        path = "/chat/getBase64FromMediaMessage/:instanceName",
        method = "post",
        operation_id = "get_base64_from_media_message"
    )]
    async fn media_base64(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<Base64Body>,
    ) -> Result<Answer, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let given = required(body.0.message, "message")?;
        let media = match given.get("message") {
            Some(m) => media_from_message(m),
            None => {
                let id = given["key"]["id"].as_str().ok_or_else(|| {
                    ApiError::Validation(
                        "message requires property \"key.id\" or \"message\"".into(),
                    )
                })?;
                let stored = h
                    .message(id)?
                    .ok_or_else(|| ApiError::NotFound(format!("Message {id} not found")))?;
                stored.media().cloned()
            }
        }
        .ok_or_else(|| ApiError::BadRequest("The message is not a media message".into()))?;
        // Empty: a sender's path we refused when the message came in (the engine says so).
        if !media.blob.direct_path.is_empty() && !media.blob.plain_direct_path() {
            return Err(ApiError::BadRequest(
                "directPath must be a plain path (/v/...)".into(),
            ));
        }
        let data = h.session()?.download(media.clone()).await?;
        Ok(Answer::Created(Json(json!({
            "mediaType": media.kind.message_type(),
            "fileName": media.file_name,
            "caption": media.caption,
            "size": {"fileLength": data.len().to_string()},
            "mimetype": media.mimetype,
            "base64": B64.encode(&data),
            "buffer": null,
        }))))
    }

    /// Block or unblock a contact.
    #[oai(
        path = "/chat/updateBlockStatus/:instanceName",
        method = "post",
        operation_id = "update_block_status"
    )]
    async fn block(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<BlockBody>,
    ) -> Result<Answer, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let target = jid(&required(b.number, "number")?)?;
        let blocked = match required(b.status, "status")?.as_str() {
            "block" => true,
            "unblock" => false,
            _ => {
                return Err(ApiError::Validation(
                    "status must be one of: block, unblock".into(),
                ));
            }
        };
        h.session()?.set_blocked(target, blocked).await?;
        Ok(Answer::Created(Json(json!({"block": "success"}))))
    }

    /// Your privacy settings.
    #[oai(
        path = "/chat/fetchPrivacySettings/:instanceName",
        method = "get",
        operation_id = "fetch_privacy_settings"
    )]
    async fn privacy(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
    ) -> Result<Answer, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let p = h.session()?.privacy().await?;
        Ok(Answer::Ok(Json(
            serde_json::to_value(p).unwrap_or(Value::Null),
        )))
    }

    /// Change every privacy setting at once.
    #[oai(
        path = "/chat/updatePrivacySettings/:instanceName",
        method = "post",
        operation_id = "update_privacy_settings"
    )]
    async fn set_privacy(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<PrivacyBody>,
    ) -> Result<Answer, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        use PrivacyValue::*;
        let lists = [All, Contacts, ContactBlacklist, None];
        let p = Privacy {
            readreceipts: privacy_value(b.readreceipts, "readreceipts", &[All, None])?,
            profile: privacy_value(b.profile, "profile", &lists)?,
            status: privacy_value(b.status, "status", &lists)?,
            online: privacy_value(b.online, "online", &[All, MatchLastSeen])?,
            last: privacy_value(b.last, "last", &lists)?,
            groupadd: privacy_value(b.groupadd, "groupadd", &lists)?,
        };
        h.session()?.set_privacy(p).await?;
        Ok(Answer::Created(Json(json!({
            "update": UPDATED,
            "data": serde_json::to_value(p).unwrap_or(Value::Null),
        }))))
    }

    /// Change your profile name.
    #[oai(
        path = "/chat/updateProfileName/:instanceName",
        method = "post",
        operation_id = "update_profile_name"
    )]
    async fn profile_name(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<ProfileNameBody>,
    ) -> Result<Answer, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let new = required(body.0.name, "name")?;
        if new.trim().is_empty() || new.chars().count() > 25 {
            return Err(ApiError::BadRequest(
                "name must have between 1 and 25 characters".into(),
            ));
        }
        h.session()?.set_profile_name(new).await?;
        Ok(Answer::Ok(Json(json!({"update": UPDATED}))))
    }

    /// Change your "about" text.
    #[oai(
        path = "/chat/updateProfileStatus/:instanceName",
        method = "post",
        operation_id = "update_profile_status"
    )]
    async fn profile_status(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<ProfileStatusBody>,
    ) -> Result<Answer, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let status = required(body.0.status, "status")?;
        if status.chars().count() > 139 {
            return Err(ApiError::BadRequest(
                "status must have at most 139 characters".into(),
            ));
        }
        h.session()?.set_profile_status(status).await?;
        Ok(Answer::Ok(Json(json!({"update": UPDATED}))))
    }

    /// Change your profile picture (a JPEG, URL or base64).
    #[oai(
        path = "/chat/updateProfilePicture/:instanceName",
        method = "post",
        operation_id = "update_profile_picture"
    )]
    async fn profile_picture(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<ProfilePictureBody>,
    ) -> Result<Answer, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        // Connected first: a closed instance fetches nothing.
        let session = h.session()?;
        let data = self
            .state
            .media
            .resolve(
                &required(body.0.picture, "picture")?,
                self.state.requester(&key),
            )
            .await?;
        session.set_profile_picture(Some(data)).await?;
        Ok(Answer::Ok(Json(json!({"update": UPDATED}))))
    }

    /// Remove your profile picture.
    #[oai(
        path = "/chat/removeProfilePicture/:instanceName",
        method = "delete",
        operation_id = "remove_profile_picture"
    )]
    async fn remove_profile_picture(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
    ) -> Result<Answer, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        h.session()?.set_profile_picture(None).await?;
        Ok(Answer::Ok(Json(json!({"update": UPDATED}))))
    }
}
