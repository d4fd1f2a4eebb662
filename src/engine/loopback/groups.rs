//! LOOPBACK groups: the stand-in network keeps its groups in the `loopback.groups` tree
//! ([`table`]), so they survive restarts like the directory of numbers does.
//!
//! Rules, WhatsApp's: the creator is `superadmin`; only admins add, remove, promote or demote,
//! change settings and see or reset the invite code; a `locked` (restrict) group lets only
//! admins change subject and description, an `announcement` group lets only admins send. A
//! superadmin can be neither removed nor demoted. When the last admin leaves, the longest-standing
//! member becomes admin; when the last member leaves, the group is gone.
//!
//! Every change is durable before the operation answers, then announced to the members as a
//! [`GroupEvent`] (the author included, as WhatsApp notifies every member).

mod picture;
mod table;

use futures_util::future::BoxFuture;

use super::super::group::{
    Admin, GroupEvent, GroupInfo, GroupOps, GroupParticipant, GroupPicture, GroupSetting,
    GroupUpdate, NewGroup, ParticipantAction, ParticipantResult, check_description, check_subject,
    invite_code_of,
};
use super::super::jid::{USER_SERVER, to_jid, user_of};
use super::super::{
    Context, EngineError, EngineEvent, InboundMessage, MessageContent, MessageKey, MessageStatus,
    Receipt, SentMessage, new_message_id, unix_now,
};
use super::{LoopbackSession, Network};
pub(crate) use table::GroupTable;
use table::{StoredGroup, apply, invite_code};

fn bad_invite() -> EngineError {
    EngineError::NotFound("invite code not found or revoked".into())
}

fn user_jid(phone: &str) -> String {
    format!("{phone}@{USER_SERVER}")
}

impl Network {
    /// A number leaving the network (its instance logged out or deleted) leaves every group it
    /// was in; the remaining members are told.
    pub(super) fn leave_all_groups(&self, phone: &str) {
        let me = user_jid(phone);
        for g in self.groups.all() {
            if g.role_of(&me).is_none() {
                continue;
            }
            let left = self.groups.update(&g.info.id, |g| {
                let before = g.member_jids();
                g.info.participants.retain(|p| p.id != me);
                g.ensure_admin();
                Ok(before)
            });
            let before = match left {
                Ok(before) => before,
                Err(e) => {
                    tracing::warn!(group = %g.info.id, error = %e, "could not take a deleted number out of a group");
                    continue;
                }
            };
            let event = GroupEvent::Participants {
                group: g.info.id.clone(),
                author: Some(me.clone()),
                action: ParticipantAction::Remove,
                participants: vec![me.clone()],
            };
            for m in before.iter().filter(|m| **m != me) {
                self.push(user_of(m), EngineEvent::Group(event.clone()));
            }
        }
    }
}

impl LoopbackSession {
    fn me(&self) -> Result<String, EngineError> {
        self.own_phone().map(|p| user_jid(&p))
    }

    fn table(&self) -> &GroupTable {
        &self.net.groups
    }

    /// Makes a change durable before the operation answers.
    async fn durable(&self) -> Result<(), EngineError> {
        Ok(self.net.store.sync().await?)
    }

    /// Queues `event` for each of `members` (JIDs).
    fn announce(&self, members: &[String], event: GroupEvent) {
        for m in members {
            if !self.net.push(user_of(m), EngineEvent::Group(event.clone())) {
                tracing::warn!(member = %m, "member inbox full; group event dropped for it");
            }
        }
    }

    /// Applies a change of subject, description or settings, makes it durable and announces it.
    async fn update_info(
        &self,
        group: &str,
        change: impl FnOnce(&mut StoredGroup, &str) -> Result<GroupUpdate, EngineError>,
    ) -> Result<(), EngineError> {
        let me = self.me()?;
        let (update, members) = self.table().update(group, |g| {
            let update = change(g, &me)?;
            Ok((update, g.member_jids()))
        })?;
        self.durable().await?;
        self.announce(&members, GroupEvent::Updated(update));
        Ok(())
    }

    /// Sends to a group: every other member gets the message with the sender as `participant`.
    pub(super) async fn send_to_group(
        &self,
        from: &str,
        group: String,
        content: MessageContent,
        context: Context,
    ) -> Result<SentMessage, EngineError> {
        let me = user_jid(from);
        let stored = self.table().get(&group)?;
        let role = stored.member(&me)?;
        if stored.info.announce && role.is_none() {
            return Err(EngineError::Forbidden(format!(
                "only admins may send to {group}"
            )));
        }
        let sent = SentMessage {
            id: new_message_id(),
            remote_jid: group.clone(),
            timestamp: unix_now(),
            content: content.clone(),
        };
        // Members see keys of our messages as someone else's message in the group.
        // How member `viewer` sees a key: its author's messages are its own.
        let seen = |k: &MessageKey, viewer: &str| {
            let author = if k.from_me {
                Some(me.clone())
            } else {
                k.participant.clone()
            };
            let mine = author.as_deref() == Some(viewer);
            MessageKey {
                remote_jid: k.remote_jid.clone(),
                from_me: mine,
                id: k.id.clone(),
                participant: if mine { None } else { author },
            }
        };
        for p in stored.info.participants.iter().filter(|p| p.id != me) {
            let viewer = p.id.as_str();
            let content = match &content {
                MessageContent::Reaction { key, text } => MessageContent::Reaction {
                    key: seen(key, viewer),
                    text: text.clone(),
                },
                MessageContent::Revoke { key } => MessageContent::Revoke {
                    key: seen(key, viewer),
                },
                MessageContent::Edit { key, text } => MessageContent::Edit {
                    key: seen(key, viewer),
                    text: text.clone(),
                },
                other => other.clone(),
            };
            let context = Context {
                quoted: context.quoted.clone().map(|mut q| {
                    q.key = seen(&q.key, viewer);
                    q
                }),
                mentions: context.mentions.clone(),
            };
            let inbound = InboundMessage {
                id: sent.id.clone(),
                remote_jid: group.clone(),
                from_me: false,
                push_name: Some(self.name.clone()),
                timestamp: sent.timestamp,
                participant: Some(me.clone()),
                content,
                context,
            };
            if !self
                .net
                .push(user_of(&p.id), EngineEvent::Message(Box::new(inbound)))
            {
                tracing::warn!(group = %group, member = %p.id, "member inbox full; group message dropped for it");
            }
        }
        self.net.push(
            from,
            EngineEvent::Receipt(Receipt {
                id: sent.id.clone(),
                remote_jid: group,
                from_me: true,
                status: MessageStatus::ServerAck,
            }),
        );
        Ok(sent)
    }

    fn create_group(&self, new: NewGroup) -> Result<GroupInfo, EngineError> {
        let me = self.me()?;
        check_subject(&new.subject)?;
        let description = new.description.filter(|d| !d.is_empty());
        if let Some(d) = &description {
            check_description(d)?;
        }
        let now = unix_now();
        let mut participants = vec![GroupParticipant {
            id: me.clone(),
            admin: Some(Admin::SuperAdmin),
        }];
        for p in &new.participants {
            let Some(jid) = to_jid(p) else { continue };
            // Numbers that are not on the network are left out, as WhatsApp does.
            let Some(phone) = self.net.registered(user_of(&jid)) else {
                continue;
            };
            let jid = user_jid(&phone);
            if !participants.iter().any(|q| q.id == jid) {
                participants.push(GroupParticipant {
                    id: jid,
                    admin: None,
                });
            }
        }
        let info = GroupInfo {
            id: String::new(),
            subject: new.subject,
            subject_owner: Some(me.clone()),
            subject_time: Some(now),
            creation: Some(now),
            owner: Some(me),
            description_id: description.as_ref().map(|_| new_message_id()),
            description,
            announce: false,
            restrict: false,
            participants,
        };
        self.table().insert_new(StoredGroup {
            info,
            invite: None,
            picture: None,
        })
    }

    /// Applies participant changes; returns the results, who was a member before and the group
    /// after.
    fn change_participants(
        &self,
        me: &str,
        group: &str,
        action: ParticipantAction,
        targets: Vec<String>,
    ) -> Result<(Vec<ParticipantResult>, Vec<String>, GroupInfo), EngineError> {
        let net = &self.net;
        self.table().update(group, |g| {
            let before = g.member_jids();
            g.admin(me)?;
            let caller_super = g.role_of(me) == Some(Some(Admin::SuperAdmin));
            let mut results = Vec::with_capacity(targets.len());
            for t in targets {
                let jid = to_jid(&t).map_or(t, |j| {
                    let phone = user_of(&j);
                    user_jid(&net.registered(phone).unwrap_or_else(|| phone.to_string()))
                });
                let status = apply(g, action, &jid, caller_super, |j| {
                    net.owner_of(user_of(j)).is_some()
                });
                results.push(ParticipantResult {
                    jid,
                    status: status.to_string(),
                });
            }
            g.ensure_admin();
            Ok((results, before, g.info.clone()))
        })
    }
}

impl GroupOps for LoopbackSession {
    fn create(&self, group: NewGroup) -> BoxFuture<'_, Result<GroupInfo, EngineError>> {
        Box::pin(async move {
            let info = self.create_group(group)?;
            self.durable().await?;
            let members: Vec<String> = info.participants.iter().map(|p| p.id.clone()).collect();
            self.announce(&members, GroupEvent::Joined(info.clone()));
            Ok(info)
        })
    }

    fn info<'a>(&'a self, group: &'a str) -> BoxFuture<'a, Result<GroupInfo, EngineError>> {
        Box::pin(async move {
            let me = self.me()?;
            let g = self.table().get(group)?;
            g.member(&me)?;
            Ok(g.info)
        })
    }

    fn list(&self) -> BoxFuture<'_, Result<Vec<GroupInfo>, EngineError>> {
        Box::pin(async move {
            let me = self.me()?;
            Ok(self
                .table()
                .all()
                .into_iter()
                .filter(|g| g.role_of(&me).is_some())
                .map(|g| g.info)
                .collect())
        })
    }

    fn update_participants<'a>(
        &'a self,
        group: &'a str,
        action: ParticipantAction,
        participants: Vec<String>,
    ) -> BoxFuture<'a, Result<Vec<ParticipantResult>, EngineError>> {
        Box::pin(async move {
            let me = self.me()?;
            let (results, before, after) =
                self.change_participants(&me, group, action, participants)?;
            self.durable().await?;
            let changed: Vec<String> = results
                .iter()
                .filter(|r| r.status == "200")
                .map(|r| r.jid.clone())
                .collect();
            if !changed.is_empty() {
                let mut told = before;
                told.extend(
                    changed
                        .iter()
                        .filter(|j| !told.contains(j))
                        .cloned()
                        .collect::<Vec<_>>(),
                );
                self.announce(
                    &told,
                    GroupEvent::Participants {
                        group: group.to_string(),
                        author: Some(me),
                        action,
                        participants: changed.clone(),
                    },
                );
                if action == ParticipantAction::Add {
                    self.announce(&changed, GroupEvent::Joined(after));
                }
            }
            Ok(results)
        })
    }

    fn set_subject<'a>(
        &'a self,
        group: &'a str,
        subject: String,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async move {
            check_subject(&subject)?;
            self.update_info(group, |g, me| {
                g.may_edit_info(me)?;
                g.info.subject = subject.clone();
                g.info.subject_owner = Some(me.to_string());
                g.info.subject_time = Some(unix_now());
                Ok(GroupUpdate {
                    id: g.info.id.clone(),
                    author: Some(me.to_string()),
                    subject: Some(subject),
                    ..Default::default()
                })
            })
            .await
        })
    }

    fn set_description<'a>(
        &'a self,
        group: &'a str,
        description: Option<String>,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async move {
            let description = description.filter(|d| !d.is_empty());
            if let Some(d) = &description {
                check_description(d)?;
            }
            self.update_info(group, |g, me| {
                g.may_edit_info(me)?;
                g.info.description_id = description.as_ref().map(|_| new_message_id());
                g.info.description = description.clone();
                Ok(GroupUpdate {
                    id: g.info.id.clone(),
                    author: Some(me.to_string()),
                    description: Some(description),
                    ..Default::default()
                })
            })
            .await
        })
    }

    fn set_setting<'a>(
        &'a self,
        group: &'a str,
        setting: GroupSetting,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async move {
            self.update_info(group, |g, me| {
                g.admin(me)?;
                let mut update = GroupUpdate {
                    id: g.info.id.clone(),
                    author: Some(me.to_string()),
                    ..Default::default()
                };
                match setting {
                    GroupSetting::Announcement | GroupSetting::NotAnnouncement => {
                        g.info.announce = setting == GroupSetting::Announcement;
                        update.announce = Some(g.info.announce);
                    }
                    GroupSetting::Locked | GroupSetting::Unlocked => {
                        g.info.restrict = setting == GroupSetting::Locked;
                        update.restrict = Some(g.info.restrict);
                    }
                }
                Ok(update)
            })
            .await
        })
    }

    fn set_ephemeral<'a>(
        &'a self,
        group: &'a str,
        seconds: u32,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async move {
            self.update_info(group, |g, me| {
                if g.info.restrict {
                    g.admin(me)?;
                } else {
                    g.member(me)?;
                }
                Ok(GroupUpdate {
                    id: g.info.id.clone(),
                    author: Some(me.to_string()),
                    ephemeral: Some(seconds),
                    ..Default::default()
                })
            })
            .await
        })
    }

    fn invite_code<'a>(
        &'a self,
        group: &'a str,
        reset: bool,
    ) -> BoxFuture<'a, Result<String, EngineError>> {
        Box::pin(async move {
            let me = self.me()?;
            let code = self.table().update(group, |g| {
                g.admin(&me)?;
                match &g.invite {
                    Some(code) if !reset => Ok(code.clone()),
                    _ => {
                        let code = invite_code();
                        g.invite = Some(code.clone());
                        Ok(code)
                    }
                }
            })?;
            self.durable().await?;
            Ok(code)
        })
    }

    fn invite_info<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<GroupInfo, EngineError>> {
        Box::pin(async move {
            self.me()?;
            let code = invite_code_of(code).ok_or_else(bad_invite)?;
            let g = self.table().by_invite(code).ok_or_else(bad_invite)?;
            Ok(g.info)
        })
    }

    fn accept_invite<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<String, EngineError>> {
        Box::pin(async move {
            let me = self.me()?;
            let code = invite_code_of(code).ok_or_else(bad_invite)?;
            let id = self.table().by_invite(code).ok_or_else(bad_invite)?.info.id;
            let joined = self.table().update(&id, |g| {
                // The code may have been revoked meanwhile.
                if g.invite.as_deref() != Some(code) {
                    return Err(bad_invite());
                }
                if g.role_of(&me).is_some() {
                    return Ok(None);
                }
                g.info.participants.push(GroupParticipant {
                    id: me.clone(),
                    admin: None,
                });
                Ok(Some((g.member_jids(), g.info.clone())))
            })?;
            if let Some((members, info)) = joined {
                self.durable().await?;
                self.announce(
                    &members,
                    GroupEvent::Participants {
                        group: id.clone(),
                        author: Some(me.clone()),
                        action: ParticipantAction::Add,
                        participants: vec![me.clone()],
                    },
                );
                self.announce(&[me], GroupEvent::Joined(info));
            }
            Ok(id)
        })
    }

    fn leave<'a>(&'a self, group: &'a str) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(async move {
            let me = self.me()?;
            let before = self.table().update(group, |g| {
                g.member(&me)?;
                let before = g.member_jids();
                g.info.participants.retain(|p| p.id != me);
                g.ensure_admin();
                Ok(before)
            })?;
            self.durable().await?;
            self.announce(
                &before,
                GroupEvent::Participants {
                    group: group.to_string(),
                    author: Some(me.clone()),
                    action: ParticipantAction::Remove,
                    participants: vec![me],
                },
            );
            Ok(())
        })
    }

    fn set_picture<'a>(
        &'a self,
        group: &'a str,
        jpeg: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), EngineError>> {
        Box::pin(self.set_group_picture(group, jpeg))
    }

    fn picture_urls(
        &self,
        groups: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<GroupPicture>, EngineError>> {
        Box::pin(async move { self.group_picture_urls(groups) })
    }
}
