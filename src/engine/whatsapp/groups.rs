//! Groups on the real engine: [`GroupOps`] mapped onto whatsapp-rust's `client.groups()`
//! (`w:g2` IQs), with its metadata converted into our [`GroupInfo`]. Participants are shown by
//! their phone-number JID when WhatsApp (or the LID map) tells it, else by the JID it gave.
//! [`group_event`] turns the `w:gp2` notifications whatsapp-rust reports into [`GroupEvent`]s.

use futures_util::future::BoxFuture;
use whatsapp_rust::types::events::GroupUpdate as WaGroupUpdate;
use whatsapp_rust::wacore::iq::groups::{
    BATCH_PROFILE_PICTURES_LIMIT, GroupInfoResponse, PictureType,
};
use whatsapp_rust::wacore::protocol::ProtocolNode;
use whatsapp_rust::wacore::stanza::groups::{GroupNotificationAction, GroupParticipantInfo};
use whatsapp_rust::{
    GroupCreateOptions, GroupDescription, GroupError, GroupMetadata, GroupParticipantOptions,
    GroupSubject, IqError, Jid, ParticipantChangeResponse, ParticipantType, PreviousDescription,
};

use super::super::EngineError;
use super::super::group::{
    Admin, GroupEvent, GroupInfo, GroupOps, GroupParticipant, GroupPicture, GroupSetting,
    GroupUpdate, NewGroup, ParticipantAction, ParticipantResult, check_description, check_subject,
    invite_code_of, is_group_jid,
};
use super::{WaSession, parse_jid};

/// WhatsApp's answer to a group IQ, in our terms.
fn group_error(e: GroupError) -> EngineError {
    match e {
        GroupError::Iq(IqError::ServerError { code, text, .. }) => match code {
            404 | 406 | 410 => EngineError::NotFound(format!("group not found ({code} {text})")),
            401 | 403 => {
                EngineError::Forbidden(format!("not allowed in this group ({code} {text})"))
            }
            400 | 409 => EngineError::Invalid(format!("WhatsApp refused it ({code} {text})")),
            _ => EngineError::Unavailable(format!("group operation failed ({code} {text})")),
        },
        GroupError::Iq(IqError::NotConnected) => EngineError::NotConnected,
        GroupError::InvalidRequest(m) => EngineError::Invalid(m),
        GroupError::DescriptionConflict => EngineError::Invalid(
            "the group description changed meanwhile; read it and retry".into(),
        ),
        other => EngineError::Unavailable(format!("group operation failed: {other}")),
    }
}

fn group_jid(s: &str) -> Result<Jid, EngineError> {
    if !is_group_jid(s) {
        return Err(EngineError::Invalid(format!("{s} is not a group")));
    }
    parse_jid(s)
}

fn user_jids(participants: &[String]) -> Result<Vec<Jid>, EngineError> {
    participants.iter().map(|p| parse_jid(p)).collect()
}

/// whatsapp-rust's metadata as our [`GroupInfo`].
fn to_info(m: GroupMetadata) -> GroupInfo {
    let shown = |pn: Option<&Jid>, jid: Option<&Jid>| pn.or(jid).map(|j| j.to_string());
    GroupInfo {
        id: m.id.to_string(),
        subject: m.subject,
        subject_owner: shown(m.subject_owner_pn.as_ref(), m.subject_owner.as_ref()),
        subject_time: m.subject_time,
        creation: m.creation_time,
        owner: shown(m.creator_pn.as_ref(), m.creator.as_ref()),
        description: m.description,
        description_id: m.description_id,
        announce: m.is_announcement,
        restrict: m.is_locked,
        participants: m
            .participants
            .into_iter()
            .map(|p| GroupParticipant {
                id: p.phone_number.unwrap_or(p.jid).to_string(),
                admin: match p.participant_type {
                    ParticipantType::SuperAdmin => Some(Admin::SuperAdmin),
                    ParticipantType::Admin => Some(Admin::Admin),
                    ParticipantType::Member => None,
                },
            })
            .collect(),
    }
}

fn to_result(r: ParticipantChangeResponse) -> ParticipantResult {
    ParticipantResult {
        jid: r.phone_number.unwrap_or(r.jid).to_string(),
        status: r.error.unwrap_or_else(|| "200".to_string()),
    }
}

/// A `w:gp2` notification action as our [`GroupEvent`]; `None` for the actions we do not report.
pub(super) fn group_event(u: &WaGroupUpdate) -> Option<GroupEvent> {
    let group = u.group_jid.to_string();
    let author = u
        .participant_pn
        .as_ref()
        .or(u.participant.as_ref())
        .map(|j| j.to_string());
    let shown = |list: &[GroupParticipantInfo]| -> Vec<String> {
        list.iter()
            .map(|p| p.phone_number.as_ref().unwrap_or(&p.jid).to_string())
            .collect()
    };
    let participants = |action, list: &[GroupParticipantInfo]| GroupEvent::Participants {
        group: group.clone(),
        author: author.clone(),
        action,
        participants: shown(list),
    };
    let update = GroupUpdate {
        id: group.clone(),
        author: author.clone(),
        ..Default::default()
    };
    Some(match &u.action {
        GroupNotificationAction::Add {
            participants: p, ..
        } => participants(ParticipantAction::Add, p),
        GroupNotificationAction::Remove {
            participants: p, ..
        } => participants(ParticipantAction::Remove, p),
        GroupNotificationAction::Promote { participants: p } => {
            participants(ParticipantAction::Promote, p)
        }
        GroupNotificationAction::Demote { participants: p } => {
            participants(ParticipantAction::Demote, p)
        }
        GroupNotificationAction::Subject { subject, .. } => GroupEvent::Updated(GroupUpdate {
            subject: Some(subject.clone()),
            ..update
        }),
        GroupNotificationAction::Description { description, .. } => {
            GroupEvent::Updated(GroupUpdate {
                description: Some(description.clone()),
                ..update
            })
        }
        GroupNotificationAction::Locked { .. } | GroupNotificationAction::Unlocked => {
            GroupEvent::Updated(GroupUpdate {
                restrict: Some(matches!(u.action, GroupNotificationAction::Locked { .. })),
                ..update
            })
        }
        GroupNotificationAction::Ephemeral { expiration, .. } => GroupEvent::Updated(GroupUpdate {
            ephemeral: Some(*expiration),
            ..update
        }),
        GroupNotificationAction::Announce | GroupNotificationAction::NotAnnounce => {
            GroupEvent::Updated(GroupUpdate {
                announce: Some(matches!(u.action, GroupNotificationAction::Announce)),
                ..update
            })
        }
        GroupNotificationAction::Create { raw } => {
            let node = raw.get_optional_child("group")?;
            let parsed = GroupInfoResponse::try_from_node_ref(&node.as_node_ref()).ok()?;
            GroupEvent::Joined(to_info(GroupMetadata::from(parsed)))
        }
        _ => return None,
    })
}

impl GroupOps for WaSession {
    fn create(&self, group: NewGroup) -> BoxFuture<'_, Result<GroupInfo, EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            check_subject(&group.subject)?;
            let members = user_jids(&group.participants)?;
            let members = self.recipients.registered_forms(&client, members).await?;
            let mut options = GroupCreateOptions::new(group.subject).with_participants(
                members
                    .into_iter()
                    .map(GroupParticipantOptions::new)
                    .collect(),
            );
            if let Some(d) = group.description.filter(|d| !d.is_empty()) {
                check_description(&d)?;
                let d =
                    GroupDescription::new(d).map_err(|e| EngineError::Invalid(e.to_string()))?;
                options.description = Some(d);
            }
            let created = client
                .groups()
                .create_group(options)
                .await
                .map_err(group_error)?;
            Ok(to_info(created.metadata))
        })
    }

    fn info<'a>(&'a self, group: &'a str) -> BoxFuture<'a, Result<GroupInfo, EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let jid = group_jid(group)?;
            let meta = client
                .groups()
                .get_metadata(&jid)
                .await
                .map_err(group_error)?;
            Ok(to_info(meta))
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<GroupInfo>, EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let groups = client
                .groups()
                .get_participating()
                .await
                .map_err(group_error)?;
            let mut list: Vec<GroupInfo> = groups.into_values().map(to_info).collect();
            list.sort_by(|a, b| (a.creation, &a.id).cmp(&(b.creation, &b.id)));
            Ok(list)
        })
    }

    fn update_participants<'a>(
        &'a self,
        group: &'a str,
        action: ParticipantAction,
        participants: Vec<String>,
    ) -> BoxFuture<'a, Result<Vec<ParticipantResult>, EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let jid = group_jid(group)?;
            let who = user_jids(&participants)?;
            let who = self.recipients.registered_forms(&client, who).await?;
            let groups = client.groups();
            let results = match action {
                ParticipantAction::Add => groups.add_participants(jid, &who).await,
                ParticipantAction::Remove => groups.remove_participants(jid, &who).await,
                ParticipantAction::Promote => groups.promote_participants(jid, &who).await,
                ParticipantAction::Demote => groups.demote_participants(jid, &who).await,
            }
            .map_err(group_error)?;
            Ok(results.into_iter().map(to_result).collect())
        })
    }

    fn set_subject<'a>(
        &'a self,
        group: &'a str,
        subject: String,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let jid = group_jid(group)?;
            check_subject(&subject)?;
            let subject =
                GroupSubject::new(subject).map_err(|e| EngineError::Invalid(e.to_string()))?;
            client
                .groups()
                .set_subject(jid, subject)
                .await
                .map_err(group_error)
        })
    }

    fn set_description<'a>(
        &'a self,
        group: &'a str,
        description: Option<String>,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let jid = group_jid(group)?;
            let description = match description.filter(|d| !d.is_empty()) {
                Some(d) => {
                    check_description(&d)?;
                    Some(
                        GroupDescription::new(d)
                            .map_err(|e| EngineError::Invalid(e.to_string()))?,
                    )
                }
                None => None,
            };
            client
                .groups()
                .set_description(jid, description, PreviousDescription::Resolve)
                .await
                .map_err(group_error)
        })
    }

    fn set_setting<'a>(
        &'a self,
        group: &'a str,
        setting: GroupSetting,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let jid = group_jid(group)?;
            let groups = client.groups();
            match setting {
                GroupSetting::Announcement => groups.set_announce(jid, true).await,
                GroupSetting::NotAnnouncement => groups.set_announce(jid, false).await,
                GroupSetting::Locked => groups.set_locked(jid, true).await,
                GroupSetting::Unlocked => groups.set_locked(jid, false).await,
            }
            .map_err(group_error)
        })
    }

    fn set_ephemeral<'a>(
        &'a self,
        group: &'a str,
        seconds: u32,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let jid = group_jid(group)?;
            client
                .groups()
                .set_ephemeral(jid, seconds)
                .await
                .map_err(group_error)
        })
    }

    fn invite_code<'a>(
        &'a self,
        group: &'a str,
        reset: bool,
    ) -> BoxFuture<'a, Result<String, EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let jid = group_jid(group)?;
            let link = client
                .groups()
                .get_invite_link(jid, reset)
                .await
                .map_err(group_error)?;
            // whatsapp-rust answers the whole link; the code is its last segment.
            Ok(link.rsplit('/').next().unwrap_or(&link).to_string())
        })
    }

    fn invite_info<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<GroupInfo, EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let code = invite_code_of(code)
                .ok_or_else(|| EngineError::Invalid("invalid invite code".into()))?;
            let meta = client
                .groups()
                .get_invite_info(code)
                .await
                .map_err(group_error)?;
            Ok(to_info(meta))
        })
    }

    fn accept_invite<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<String, EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let code = invite_code_of(code)
                .ok_or_else(|| EngineError::Invalid("invalid invite code".into()))?;
            let joined = client
                .groups()
                .join_with_invite_code(code)
                .await
                .map_err(group_error)?;
            Ok(joined.group_jid().to_string())
        })
    }

    fn leave<'a>(&'a self, group: &'a str) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let jid = group_jid(group)?;
            client.groups().leave(jid).await.map_err(group_error)
        })
    }

    fn set_picture<'a>(
        &'a self,
        group: &'a str,
        jpeg: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let jid = group_jid(group)?;
            // An empty image would remove the picture; removal is not what was asked.
            if jpeg.is_empty() {
                return Err(EngineError::Invalid("the image is empty".into()));
            }
            client
                .groups()
                .set_profile_picture(jid, jpeg)
                .await
                .map(|_| ())
                .map_err(group_error)
        })
    }

    /// One batched IQ per thousand groups (WhatsApp's limit), the batches concurrently.
    fn picture_urls(
        &self,
        groups: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<GroupPicture>, EngineError>> {
        Box::pin(async move {
            let client = self.client()?;
            let jids = groups
                .iter()
                .map(|g| group_jid(g))
                .collect::<Result<Vec<_>, _>>()?;
            let client = &client;
            let batches = jids
                .chunks(BATCH_PROFILE_PICTURES_LIMIT)
                .map(|batch| async move {
                    client
                        .groups()
                        .get_profile_pictures(batch.to_vec(), PictureType::Image)
                        .await
                });
            let answers = futures_util::future::try_join_all(batches)
                .await
                .map_err(group_error)?;
            let mut urls: std::collections::HashMap<String, Option<String>> = answers
                .into_iter()
                .flatten()
                .map(|p| (p.group_jid.to_string(), p.url))
                .collect();
            Ok(groups
                .into_iter()
                .map(|group| {
                    let url = urls.remove(&group).flatten();
                    GroupPicture { group, url }
                })
                .collect())
        })
    }
}
