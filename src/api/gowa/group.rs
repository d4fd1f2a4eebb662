//! `/group*`: create, join by link, leave, read, and manage participants. The participant
//! actions that would collide with Evolution's `GET /group/participants/{instanceName}` live
//! under `/gowa/group/participants/*` (see the module doc of `api::gowa`).

use std::sync::Arc;

use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use serde_json::{Value, json};

use super::Tag;
use super::auth::TokenInstance;
use super::error::{Envelope, GowaError, success};
use super::need;
use crate::api::group::{group_not_found, participant_jids};
use crate::api::group_dto::group_jid;
use crate::api::required::Required;
use crate::engine::group::{Admin, GroupInfo, NewGroup, ParticipantAction, invite_code_of};
use crate::state::AppState;

pub struct GroupApi {
    pub state: Arc<AppState>,
}

/// `POST /group`.
#[derive(Object, Debug)]
#[oai(rename = "GowaCreateGroupBody")]
pub struct CreateGroupBody {
    #[oai(validator(max_length = 100))]
    pub title: Required<String>,
    /// Numbers or JIDs of the first members.
    #[oai(validator(min_items = 1, max_items = 1024, max_length = 128))]
    pub participants: Required<Vec<String>>,
}

/// `POST /group/join-with-link`.
#[derive(Object, Debug)]
#[oai(rename = "GowaJoinBody")]
pub struct JoinBody {
    /// `https://chat.whatsapp.com/<code>` or the code.
    #[oai(validator(max_length = 256))]
    pub link: Required<String>,
}

/// A body naming a group.
#[derive(Object, Debug)]
#[oai(rename = "GowaGroupIdBody")]
pub struct GroupIdBody {
    /// `120363…@g.us` (the `@g.us` may be left out).
    #[oai(validator(max_length = 128))]
    pub group_id: Required<String>,
}

/// A body naming a group and some of its (future) members.
#[derive(Object, Debug)]
#[oai(rename = "GowaParticipantsBody")]
pub struct ParticipantsBody {
    #[oai(validator(max_length = 128))]
    pub group_id: Required<String>,
    #[oai(validator(min_items = 1, max_items = 1024, max_length = 128))]
    pub participants: Required<Vec<String>>,
}

fn participant_json(p: &crate::engine::group::GroupParticipant) -> Value {
    json!({
        "jid": p.id,
        "phone_number": p.id.split(['@', ':']).next().unwrap_or_default(),
        "is_admin": p.admin.is_some(),
        "is_super_admin": p.admin == Some(Admin::SuperAdmin),
    })
}

/// A group, with GOWA's names where it has them.
pub(crate) fn group_json(g: &GroupInfo) -> Value {
    json!({
        "jid": g.id,
        "name": g.subject,
        "topic": g.description,
        "owner": g.owner,
        "created_at": g.creation,
        "is_announce": g.announce,
        "is_locked": g.restrict,
        "participants": g.participants.iter().map(participant_json).collect::<Vec<_>>(),
    })
}

fn group_id(raw: &str) -> Result<String, GowaError> {
    Ok(group_jid(Some(raw.to_string()), None)?)
}

impl GroupApi {
    async fn update(
        &self,
        token: TokenInstance,
        body: ParticipantsBody,
        action: ParticipantAction,
    ) -> Result<Json<Envelope>, GowaError> {
        let h = token.open()?;
        let jid = group_id(&need(body.group_id, "group_id")?)?;
        let who = participant_jids(need(body.participants, "participants")?)?;
        let results = h
            .session()?
            .groups()
            .update_participants(&jid, action, who)
            .await?;
        let rows: Vec<Value> = results
            .into_iter()
            .map(|r| {
                let ok = r.status == "200";
                json!({
                    "participant": r.jid,
                    "status": if ok { "success" } else { "error" },
                    "message": if ok {
                        format!("{} done", action.as_str())
                    } else {
                        format!("{} refused ({})", action.as_str(), r.status)
                    },
                })
            })
            .collect();
        Ok(success(
            format!("Success {} participants", action.as_str()),
            Some(Value::Array(rows)),
        ))
    }
}

#[OpenApi(tag = "Tag::TokenScoped")]
impl GroupApi {
    /// Create a group with this instance's account as its superadmin.
    #[oai(path = "/group", method = "post", operation_id = "gowa_create_group")]
    async fn create(
        &self,
        token: TokenInstance,
        body: Json<CreateGroupBody>,
    ) -> Result<Json<Envelope>, GowaError> {
        let h = token.open()?;
        let b = body.0;
        let participants = participant_jids(need(b.participants, "participants")?)?;
        let info = h
            .session()?
            .groups()
            .create(NewGroup {
                subject: need(b.title, "title")?,
                participants,
                description: None,
            })
            .await?;
        Ok(success(
            format!("Success created group with id {}", info.id),
            Some(json!({"group_id": info.id})),
        ))
    }

    /// Join a group by its invite link.
    #[oai(
        path = "/group/join-with-link",
        method = "post",
        operation_id = "gowa_join_group"
    )]
    async fn join(
        &self,
        token: TokenInstance,
        body: Json<JoinBody>,
    ) -> Result<Json<Envelope>, GowaError> {
        let h = token.open()?;
        let code = invite_code_of(&need(body.0.link, "link")?)
            .ok_or_else(|| GowaError::Validation("link is not a group invite link".into()))?
            .to_string();
        let group_id = h.session()?.groups().accept_invite(&code).await?;
        Ok(success(
            format!("Success joined group {group_id}"),
            Some(json!({"group_id": group_id})),
        ))
    }

    /// Leave a group.
    #[oai(
        path = "/group/leave",
        method = "post",
        operation_id = "gowa_leave_group"
    )]
    async fn leave(
        &self,
        token: TokenInstance,
        body: Json<GroupIdBody>,
    ) -> Result<Json<Envelope>, GowaError> {
        let h = token.open()?;
        let jid = group_id(&need(body.0.group_id, "group_id")?)?;
        h.session()?.groups().leave(&jid).await?;
        Ok(success("Success leave group", None))
    }

    /// A group's metadata and members.
    #[oai(path = "/group/info", method = "get", operation_id = "gowa_group_info")]
    async fn info(
        &self,
        token: TokenInstance,
        #[oai(validator(max_length = 128))] group_id: Query<String>,
    ) -> Result<Json<Envelope>, GowaError> {
        let h = token.open()?;
        let jid = self::group_id(&group_id)?;
        let info = h
            .session()?
            .groups()
            .info(&jid)
            .await
            .map_err(group_not_found)?;
        Ok(success("Success get group info", Some(group_json(&info))))
    }

    /// A group's members and their roles.
    #[oai(
        path = "/group/participants",
        method = "get",
        operation_id = "gowa_group_participants"
    )]
    async fn participants(
        &self,
        token: TokenInstance,
        #[oai(validator(max_length = 128))] group_id: Query<String>,
    ) -> Result<Json<Envelope>, GowaError> {
        let h = token.open()?;
        let jid = self::group_id(&group_id)?;
        let info = h
            .session()?
            .groups()
            .info(&jid)
            .await
            .map_err(group_not_found)?;
        let participants: Vec<Value> = info.participants.iter().map(participant_json).collect();
        Ok(success(
            "Success get group participants",
            Some(json!({"group_id": info.id, "name": info.subject, "participants": participants})),
        ))
    }

    /// Add participants (admins only).
    #[oai(
        path = "/group/participants",
        method = "post",
        operation_id = "gowa_add_participants"
    )]
    async fn add(
        &self,
        token: TokenInstance,
        body: Json<ParticipantsBody>,
    ) -> Result<Json<Envelope>, GowaError> {
        self.update(token, body.0, ParticipantAction::Add).await
    }

    /// Remove participants (admins only). GOWA's `/group/participants/remove`.
    #[oai(
        path = "/gowa/group/participants/remove",
        method = "post",
        operation_id = "gowa_remove_participants"
    )]
    async fn remove(
        &self,
        token: TokenInstance,
        body: Json<ParticipantsBody>,
    ) -> Result<Json<Envelope>, GowaError> {
        self.update(token, body.0, ParticipantAction::Remove).await
    }

    /// Make participants admins. GOWA's `/group/participants/promote`.
    #[oai(
        path = "/gowa/group/participants/promote",
        method = "post",
        operation_id = "gowa_promote_participants"
    )]
    async fn promote(
        &self,
        token: TokenInstance,
        body: Json<ParticipantsBody>,
    ) -> Result<Json<Envelope>, GowaError> {
        self.update(token, body.0, ParticipantAction::Promote).await
    }

    /// Take admin rights away. GOWA's `/group/participants/demote`.
    #[oai(
        path = "/gowa/group/participants/demote",
        method = "post",
        operation_id = "gowa_demote_participants"
    )]
    async fn demote(
        &self,
        token: TokenInstance,
        body: Json<ParticipantsBody>,
    ) -> Result<Json<Envelope>, GowaError> {
        self.update(token, body.0, ParticipantAction::Demote).await
    }
}
