//! The bodies and answers of `/group/*` (Evolution §2.7), and `groupJid` handling.

use std::collections::HashMap;

use poem_openapi::Object;

use super::error::ApiError;
use super::required::Required;
use crate::engine::group::{GroupInfo, GroupParticipant, ParticipantResult};
use crate::instance::groups::{GroupView, KnownMember};

/// A group as Evolution (Baileys' `GroupMetadata`) shows it.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct GroupMetadataDto {
    pub id: String,
    pub subject: String,
    pub subject_owner: Option<String>,
    /// Unix seconds.
    pub subject_time: Option<u64>,
    /// The group's picture; null when it has none (or when not looked up: on create and
    /// inviteInfo).
    pub picture_url: Option<String>,
    pub size: usize,
    /// Unix seconds.
    pub creation: Option<u64>,
    pub owner: Option<String>,
    pub desc: Option<String>,
    pub desc_id: Option<String>,
    /// Only admins edit the group's info ("locked").
    pub restrict: bool,
    /// Only admins send messages.
    pub announce: bool,
    pub is_community: bool,
    pub is_community_announce: bool,
    pub linked_parent: Option<String>,
    /// Absent from `fetchAllGroups` unless `getParticipants=true`.
    #[oai(skip_serializing_if_is_none)]
    pub participants: Option<Vec<ParticipantDto>>,
}

#[derive(Object, Debug)]
pub struct ParticipantDto {
    pub id: String,
    /// `admin`, `superadmin`, or null.
    pub admin: Option<String>,
    /// The member's name from the stored contacts; null when unknown.
    pub name: Option<String>,
    /// The member's picture from the stored contacts; null when unknown.
    #[oai(rename = "imgUrl")]
    pub img_url: Option<String>,
}

impl GroupMetadataDto {
    /// A group as the engine gave it, without picture or member names.
    pub fn from_info(g: GroupInfo, with_participants: bool) -> GroupMetadataDto {
        GroupMetadataDto::from_view(
            GroupView {
                info: g,
                picture_url: None,
                members: HashMap::new(),
            },
            with_participants,
        )
    }

    pub fn from_view(v: GroupView, with_participants: bool) -> GroupMetadataDto {
        let g = v.info;
        let size = g.participants.len();
        GroupMetadataDto {
            id: g.id,
            subject: g.subject,
            subject_owner: g.subject_owner,
            subject_time: g.subject_time,
            picture_url: v.picture_url,
            size,
            creation: g.creation,
            owner: g.owner,
            desc: g.description,
            desc_id: g.description_id,
            restrict: g.restrict,
            announce: g.announce,
            is_community: false,
            is_community_announce: false,
            linked_parent: None,
            participants: with_participants.then(|| participants(g.participants, &v.members)),
        }
    }
}

pub fn participants(
    list: Vec<GroupParticipant>,
    known: &HashMap<String, KnownMember>,
) -> Vec<ParticipantDto> {
    list.into_iter()
        .map(|p| {
            let known = known.get(&p.id).cloned().unwrap_or_default();
            ParticipantDto {
                id: p.id,
                admin: p.admin.map(|a| a.as_str().to_string()),
                name: known.name,
                img_url: known.img_url,
            }
        })
        .collect()
}

#[derive(Object, Debug)]
pub struct ParticipantsDto {
    pub participants: Vec<ParticipantDto>,
}

/// `POST /group/sendInvite` body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SendInviteBody {
    #[oai(validator(max_length = 128))]
    pub group_jid: Option<String>,
    /// Text sent above the link.
    #[oai(validator(max_length = 2048))]
    pub description: Option<String>,
    /// Who gets the link: numbers or JIDs.
    #[oai(validator(max_items = 1024, max_length = 128))]
    pub numbers: Required<Vec<String>>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SentInviteDto {
    pub send: bool,
    pub invite_url: String,
}

/// `POST /group/create` body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct CreateGroupBody {
    #[oai(validator(max_length = 256))]
    pub subject: Required<String>,
    /// Numbers (digits) or JIDs; those not on WhatsApp are left out.
    #[oai(validator(max_items = 1024, max_length = 128))]
    pub participants: Required<Vec<String>>,
    #[oai(validator(max_length = 2048))]
    pub description: Option<String>,
    /// Make every participant an admin right after creating.
    pub promote_participants: Option<bool>,
}

/// `POST /group/updateParticipant` body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct UpdateParticipantBody {
    /// May come in the query instead.
    #[oai(validator(max_length = 128))]
    pub group_jid: Option<String>,
    /// `add`, `remove`, `promote` or `demote`.
    #[oai(validator(max_length = 32))]
    pub action: Required<String>,
    #[oai(validator(max_items = 1024, max_length = 128))]
    pub participants: Required<Vec<String>>,
}

#[derive(Object, Debug)]
pub struct ParticipantUpdateDto {
    /// WhatsApp's per-participant code: "200" done, "403" not allowed, "404" unknown or not a
    /// member, "409" already a member.
    pub status: String,
    pub jid: String,
}

impl From<ParticipantResult> for ParticipantUpdateDto {
    fn from(r: ParticipantResult) -> Self {
        ParticipantUpdateDto {
            status: r.status,
            jid: r.jid,
        }
    }
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct UpdateParticipantsDto {
    pub update_participants: Vec<ParticipantUpdateDto>,
}

/// `POST /group/updateGroupSubject` body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SubjectBody {
    #[oai(validator(max_length = 128))]
    pub group_jid: Option<String>,
    #[oai(validator(max_length = 256))]
    pub subject: Required<String>,
}

/// `POST /group/updateGroupPicture` body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct PictureBody {
    #[oai(validator(max_length = 128))]
    pub group_jid: Option<String>,
    /// A JPEG: a URL, or base64 (raw or a `data:` URI). Sent as given (no resizing).
    pub image: Required<String>,
}

/// `POST /group/updateGroupDescription` body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct DescriptionBody {
    #[oai(validator(max_length = 128))]
    pub group_jid: Option<String>,
    /// An empty string removes the description.
    #[oai(validator(max_length = 2048))]
    pub description: Required<String>,
}

/// `POST /group/updateSetting` body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SettingBody {
    #[oai(validator(max_length = 128))]
    pub group_jid: Option<String>,
    /// `announcement`, `not_announcement`, `locked` or `unlocked`.
    #[oai(validator(max_length = 32))]
    pub action: Required<String>,
}

/// `POST /group/toggleEphemeral` body.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct EphemeralBody {
    #[oai(validator(max_length = 128))]
    pub group_jid: Option<String>,
    /// Seconds a message lives: 0 (off), 86400, 604800 or 7776000.
    pub expiration: Required<i64>,
}

#[derive(Object, Debug)]
pub struct UpdateDto {
    /// Always `success`.
    pub update: String,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct InviteCodeDto {
    pub invite_url: String,
    pub invite_code: String,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct RevokedDto {
    pub revoked: bool,
    pub invite_code: String,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct AcceptedDto {
    pub accepted: bool,
    pub group_jid: String,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct LeaveDto {
    pub group_jid: String,
    pub leave: bool,
}

/// The `groupJid` of a request: from the body, else the query; `@g.us` is appended when
/// missing; it must then read `^[\d-]+@g.us$`.
pub fn group_jid(body: Option<String>, query: Option<String>) -> Result<String, ApiError> {
    let raw = body
        .filter(|s| !s.trim().is_empty())
        .or(query.filter(|s| !s.trim().is_empty()))
        .ok_or_else(|| {
            ApiError::BadRequest(
                "The group id needs to be informed in the query or the body (groupJid=120363...@g.us)"
                    .into(),
            )
        })?;
    let raw = raw.trim();
    let jid = if raw.contains('@') {
        raw.to_string()
    } else {
        format!("{raw}@g.us")
    };
    let valid = jid.strip_suffix("@g.us").is_some_and(|user| {
        !user.is_empty() && user.chars().all(|c| c.is_ascii_digit() || c == '-')
    });
    if valid {
        Ok(jid)
    } else {
        Err(ApiError::Validation(
            "groupJid does not match pattern \"^[\\d-]+@g.us$\"".into(),
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_jids_are_completed_and_checked() {
        assert_eq!(
            group_jid(Some("120363001".into()), None).ok().as_deref(),
            Some("120363001@g.us")
        );
        assert_eq!(
            group_jid(None, Some("1-2@g.us".into())).ok().as_deref(),
            Some("1-2@g.us")
        );
        assert_eq!(
            group_jid(Some(" ".into()), Some("9@g.us".into()))
                .ok()
                .as_deref(),
            Some("9@g.us")
        );
        assert!(group_jid(None, None).is_err());
        assert!(group_jid(Some("abc".into()), None).is_err());
        assert!(group_jid(Some("1@s.whatsapp.net".into()), None).is_err());
    }
}
