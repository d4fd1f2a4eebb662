//! `/group/*`: create, read and manage WhatsApp groups (Evolution §2.7). Handlers only parse,
//! call the open session's [`GroupOps`](crate::engine::group::GroupOps) and shape the answer;
//! the rules (who may do what) belong to the engines.

use std::sync::Arc;

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi, Tags};
use serde_json::{Value, json};

use super::auth::ApiKey;
use super::error::ApiError;
use super::group_dto::*;
use crate::engine::group::{
    EPHEMERAL_TIMERS, GroupSetting, NewGroup, ParticipantAction, invite_code_of,
};
use crate::engine::jid::to_jid;
use crate::engine::{Context, EngineError, Outgoing, OutgoingMessage};
use crate::state::AppState;

#[derive(Tags)]
pub(crate) enum Tag {
    /// WhatsApp groups.
    Group,
}

pub struct GroupApi {
    pub state: Arc<AppState>,
}

#[derive(ApiResponse)]
enum CreateResponse {
    /// The new group.
    #[oai(status = 201)]
    Created(Json<GroupMetadataDto>),
}

#[derive(ApiResponse)]
enum ParticipantsUpdated {
    /// One entry per participant asked for.
    #[oai(status = 201)]
    Created(Json<UpdateParticipantsDto>),
}

#[derive(ApiResponse)]
enum Updated {
    /// `{update: "success"}`.
    #[oai(status = 201)]
    Created(Json<UpdateDto>),
}

#[derive(ApiResponse)]
enum SettingUpdated {
    /// An empty object, as Evolution answers.
    #[oai(status = 201)]
    Created(Json<Value>),
}

#[derive(ApiResponse)]
enum Revoked {
    /// The old code no longer works; this is the new one.
    #[oai(status = 201)]
    Created(Json<RevokedDto>),
}

/// Reading a group the account does not know (or has left) is Evolution's 404.
pub(crate) fn group_not_found(e: EngineError) -> ApiError {
    match e {
        EngineError::NotFound(_) | EngineError::Forbidden(_) => {
            ApiError::NotFound("Group not found".into())
        }
        other => other.into(),
    }
}

pub(crate) fn required<T>(
    value: impl super::required::Given<T>,
    name: &str,
) -> Result<T, ApiError> {
    value
        .given()
        .ok_or_else(|| ApiError::Validation(format!("instance requires property \"{name}\"")))
}

/// User JIDs from `participants`; any entry that is not a number or JID is a 400.
pub(crate) fn participant_jids(list: Vec<String>) -> Result<Vec<String>, ApiError> {
    if list.is_empty() {
        return Err(ApiError::Validation(
            "participants must NOT have fewer than 1 items".into(),
        ));
    }
    list.iter()
        .map(|p| {
            to_jid(p)
                .filter(|j| !j.ends_with("@g.us"))
                .ok_or_else(|| ApiError::BadRequest(format!("\"{p}\" is not a phone number")))
        })
        .collect()
}

/// The `inviteCode` query: a code or a `https://chat.whatsapp.com/` link.
fn invite_code(code: Option<String>) -> Result<String, ApiError> {
    let code = code.ok_or_else(|| {
        ApiError::BadRequest("The invite code needs to be informed in the query".into())
    })?;
    invite_code_of(&code)
        .map(str::to_string)
        .ok_or_else(|| ApiError::BadRequest(format!("\"{code}\" is not an invite code")))
}

#[OpenApi(tag = "Tag::Group")]
impl GroupApi {
    /// Create a group with the instance's account as its superadmin.
    #[oai(
        path = "/group/create/:instanceName",
        method = "post",
        operation_id = "create_group"
    )]
    async fn create_group(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<CreateGroupBody>,
    ) -> Result<CreateResponse, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let subject = required(b.subject, "subject")?;
        let participants = participant_jids(required(b.participants, "participants")?)?;
        let session = h.connected_session()?;
        let groups = session.groups();
        let mut info = groups
            .create(NewGroup {
                subject,
                participants,
                description: b.description,
            })
            .await?;
        if b.promote_participants == Some(true) {
            let others: Vec<String> = info
                .participants
                .iter()
                .filter(|p| p.admin.is_none())
                .map(|p| p.id.clone())
                .collect();
            if !others.is_empty() {
                groups
                    .update_participants(&info.id, ParticipantAction::Promote, others)
                    .await?;
                info = groups.info(&info.id).await?;
            }
        }
        Ok(CreateResponse::Created(Json(GroupMetadataDto::from_info(
            info, true,
        ))))
    }

    /// Add, remove, promote or demote participants (admins only).
    #[oai(
        path = "/group/updateParticipant/:instanceName",
        method = "post",
        operation_id = "update_participant"
    )]
    async fn update_participant(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        #[oai(name = "groupJid")] group: Query<Option<String>>,
        body: Json<UpdateParticipantBody>,
    ) -> Result<ParticipantsUpdated, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let jid = group_jid(b.group_jid, group.0)?;
        let action = required(b.action, "action")?;
        let action = ParticipantAction::parse(&action).ok_or_else(|| {
            ApiError::Validation(
                "action must be equal to one of the allowed values: add, remove, promote, demote"
                    .into(),
            )
        })?;
        let who = participant_jids(required(b.participants, "participants")?)?;
        let results = h
            .connected_session()?
            .groups()
            .update_participants(&jid, action, who)
            .await?;
        Ok(ParticipantsUpdated::Created(Json(UpdateParticipantsDto {
            update_participants: results.into_iter().map(Into::into).collect(),
        })))
    }

    /// Change the subject (admins only when the group is locked).
    #[oai(
        path = "/group/updateGroupSubject/:instanceName",
        method = "post",
        operation_id = "update_group_subject"
    )]
    async fn update_group_subject(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        #[oai(name = "groupJid")] group: Query<Option<String>>,
        body: Json<SubjectBody>,
    ) -> Result<Updated, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let jid = group_jid(b.group_jid, group.0)?;
        let subject = required(b.subject, "subject")?;
        h.connected_session()?
            .groups()
            .set_subject(&jid, subject)
            .await?;
        Ok(Updated::Created(Json(UpdateDto {
            update: "success".into(),
        })))
    }

    /// Change or remove (empty string) the description (admins only when locked).
    #[oai(
        path = "/group/updateGroupDescription/:instanceName",
        method = "post",
        operation_id = "update_group_description"
    )]
    async fn update_group_description(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        #[oai(name = "groupJid")] group: Query<Option<String>>,
        body: Json<DescriptionBody>,
    ) -> Result<Updated, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let jid = group_jid(b.group_jid, group.0)?;
        let description = required(b.description, "description")?;
        h.connected_session()?
            .groups()
            .set_description(&jid, Some(description))
            .await?;
        Ok(Updated::Created(Json(UpdateDto {
            update: "success".into(),
        })))
    }

    /// Announcement (only admins send) and locked (only admins edit info) switches.
    #[oai(
        path = "/group/updateSetting/:instanceName",
        method = "post",
        operation_id = "update_group_setting"
    )]
    async fn update_setting(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        #[oai(name = "groupJid")] group: Query<Option<String>>,
        body: Json<SettingBody>,
    ) -> Result<SettingUpdated, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let jid = group_jid(b.group_jid, group.0)?;
        let action = required(b.action, "action")?;
        let setting = GroupSetting::parse(&action).ok_or_else(|| {
            ApiError::Validation(
                "action must be equal to one of the allowed values: announcement, not_announcement, locked, unlocked"
                    .into(),
            )
        })?;
        h.connected_session()?
            .groups()
            .set_setting(&jid, setting)
            .await?;
        Ok(SettingUpdated::Created(Json(json!({}))))
    }

    /// Disappearing messages: `expiration` 0 (off), 86400, 604800 or 7776000 seconds.
    #[oai(
        path = "/group/toggleEphemeral/:instanceName",
        method = "post",
        operation_id = "toggle_ephemeral"
    )]
    async fn toggle_ephemeral(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        #[oai(name = "groupJid")] group: Query<Option<String>>,
        body: Json<EphemeralBody>,
    ) -> Result<SettingUpdated, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let jid = group_jid(b.group_jid, group.0)?;
        let expiration = required(b.expiration, "expiration")?;
        let seconds = u32::try_from(expiration)
            .ok()
            .filter(|s| EPHEMERAL_TIMERS.contains(s))
            .ok_or_else(|| {
                ApiError::Validation(
                    "expiration must be equal to one of the allowed values: 0, 86400, 604800, 7776000"
                        .into(),
                )
            })?;
        h.connected_session()?
            .groups()
            .set_ephemeral(&jid, seconds)
            .await?;
        Ok(SettingUpdated::Created(Json(json!({"success": true}))))
    }

    /// The group's invite link (admins only).
    #[oai(
        path = "/group/inviteCode/:instanceName",
        method = "get",
        operation_id = "invite_code"
    )]
    async fn invite_code(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        #[oai(name = "groupJid")] group: Query<Option<String>>,
    ) -> Result<Json<InviteCodeDto>, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let jid = group_jid(None, group.0)?;
        let code = h
            .connected_session()?
            .groups()
            .invite_code(&jid, false)
            .await?;
        Ok(Json(InviteCodeDto {
            invite_url: format!("https://chat.whatsapp.com/{code}"),
            invite_code: code,
        }))
    }

    /// Send the group's invite link to numbers, as a text under an optional description.
    #[oai(
        path = "/group/sendInvite/:instanceName",
        method = "post",
        operation_id = "send_invite"
    )]
    async fn send_invite(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        #[oai(name = "groupJid")] group: Query<Option<String>>,
        body: Json<SendInviteBody>,
    ) -> Result<Json<SentInviteDto>, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let jid = group_jid(b.group_jid, group.0)?;
        let numbers = required(b.numbers, "numbers")?;
        if numbers.is_empty() {
            return Err(ApiError::Validation(
                "numbers must NOT have fewer than 1 items".into(),
            ));
        }
        let to = participant_jids(numbers)?;
        let code = h
            .connected_session()?
            .groups()
            .invite_code(&jid, false)
            .await?;
        let url = format!("https://chat.whatsapp.com/{code}");
        let text = match b.description.filter(|d| !d.trim().is_empty()) {
            Some(d) => format!("{d}\n\n{url}"),
            None => url.clone(),
        };
        for to in to {
            h.send(OutgoingMessage {
                to,
                content: Outgoing::Text(text.clone()),
                context: Context::default(),
            })
            .await?;
        }
        Ok(Json(SentInviteDto {
            send: true,
            invite_url: url,
        }))
    }

    /// Revoke the invite link and get a new one (admins only).
    #[oai(
        path = "/group/revokeInviteCode/:instanceName",
        method = "post",
        operation_id = "revoke_invite_code"
    )]
    async fn revoke_invite_code(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        #[oai(name = "groupJid")] group: Query<Option<String>>,
    ) -> Result<Revoked, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let jid = group_jid(None, group.0)?;
        let code = h
            .connected_session()?
            .groups()
            .invite_code(&jid, true)
            .await?;
        Ok(Revoked::Created(Json(RevokedDto {
            revoked: true,
            invite_code: code,
        })))
    }

    /// The group an invite code (22 characters, or the whole link) leads to, without joining.
    #[oai(
        path = "/group/inviteInfo/:instanceName",
        method = "get",
        operation_id = "invite_info"
    )]
    async fn invite_info(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        #[oai(name = "inviteCode")] code: Query<Option<String>>,
    ) -> Result<Json<GroupMetadataDto>, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let code = invite_code(code.0)?;
        let info = h.connected_session()?.groups().invite_info(&code).await?;
        Ok(Json(GroupMetadataDto::from_info(info, true)))
    }

    /// Join the group of an invite code.
    #[oai(
        path = "/group/acceptInviteCode/:instanceName",
        method = "get",
        operation_id = "accept_invite_code"
    )]
    async fn accept_invite_code(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        #[oai(name = "inviteCode")] code: Query<Option<String>>,
    ) -> Result<Json<AcceptedDto>, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let code = invite_code(code.0)?;
        let group_jid = h.connected_session()?.groups().accept_invite(&code).await?;
        Ok(Json(AcceptedDto {
            accepted: true,
            group_jid,
        }))
    }

    /// Leave the group.
    #[oai(
        path = "/group/leaveGroup/:instanceName",
        method = "delete",
        operation_id = "leave_group"
    )]
    async fn leave_group(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        #[oai(name = "groupJid")] group: Query<Option<String>>,
    ) -> Result<Json<LeaveDto>, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let jid = group_jid(None, group.0)?;
        h.connected_session()?.groups().leave(&jid).await?;
        Ok(Json(LeaveDto {
            group_jid: jid,
            leave: true,
        }))
    }
}
