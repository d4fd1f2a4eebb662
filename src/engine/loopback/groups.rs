//! LOOPBACK groups: the stand-in network keeps its groups in the `loopback.groups` tree, so they
//! survive restarts like the directory of numbers does.
//!
//! Tree `loopback.groups`: key = group JID (`1203630<11 digits>@g.us`), value = version byte `1`
//! followed by the JSON of [`StoredGroup`]. Every change is a read-modify-write under one lock,
//! flushed (group-committed) before the operation answers.
//!
//! Rules, WhatsApp's: the creator is `superadmin`; only admins add, remove, promote or demote,
//! change settings and see or reset the invite code; a `locked` (restrict) group lets only
//! admins change subject and description, an `announcement` group lets only admins send. A
//! superadmin can be neither removed nor demoted. When the last admin leaves, the longest-standing
//! member becomes admin; when the last member leaves, the group is gone.
//!
//! Every change is announced to the members as a [`GroupEvent`] (the author included, as
//! WhatsApp notifies every member), once it is durable.

use std::sync::Mutex;

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::super::group::{
    Admin, GroupEvent, GroupInfo, GroupOps, GroupParticipant, GroupSetting, GroupUpdate, NewGroup,
    ParticipantAction, ParticipantResult, check_description, check_subject,
};
use super::super::jid::{USER_SERVER, to_jid, user_of};
use super::super::{
    EngineError, EngineEvent, InboundMessage, MessageContent, MessageStatus, Receipt, SentMessage,
    new_message_id, unix_now,
};
use super::LoopbackSession;
use crate::store::{Store, StoreError};

const TREE: &str = "loopback.groups";
const VERSION: u8 = 1;
const INVITE_LEN: usize = 22;

/// The network's groups.
pub(super) struct GroupTable {
    tree: sled::Tree,
    /// Serialises read-modify-write cycles; never held across an `.await`.
    lock: Mutex<()>,
}

/// One group as stored: what members see, plus the current invite code (made on first ask).
#[derive(Debug, Clone, Serialize, Deserialize)]
struct StoredGroup {
    info: GroupInfo,
    invite: Option<String>,
}

impl StoredGroup {
    fn member_jids(&self) -> Vec<String> {
        self.info
            .participants
            .iter()
            .map(|p| p.id.clone())
            .collect()
    }

    fn role_of(&self, jid: &str) -> Option<Option<Admin>> {
        self.info
            .participants
            .iter()
            .find(|p| p.id == jid)
            .map(|p| p.admin)
    }

    /// The caller's role; NotFound when it is not a member (it cannot see the group).
    fn member(&self, jid: &str) -> Result<Option<Admin>, EngineError> {
        self.role_of(jid).ok_or_else(|| not_found(&self.info.id))
    }

    fn admin(&self, jid: &str) -> Result<(), EngineError> {
        match self.member(jid)? {
            Some(_) => Ok(()),
            None => Err(EngineError::Forbidden(format!(
                "only admins of {} may do that",
                self.info.id
            ))),
        }
    }

    /// Subject and description: anyone unless the group is locked.
    fn may_edit_info(&self, jid: &str) -> Result<(), EngineError> {
        if self.info.restrict {
            self.admin(jid)
        } else {
            self.member(jid).map(|_| ())
        }
    }

    /// Keeps at least one admin while there are members.
    fn ensure_admin(&mut self) {
        let participants = &mut self.info.participants;
        if !participants.iter().any(|p| p.admin.is_some())
            && let Some(first) = participants.first_mut()
        {
            first.admin = Some(Admin::Admin);
        }
    }
}

fn not_found(group: &str) -> EngineError {
    EngineError::NotFound(format!("group {group} not found"))
}

fn user_jid(phone: &str) -> String {
    format!("{phone}@{USER_SERVER}")
}

impl GroupTable {
    pub(super) fn open(store: &Store) -> Result<GroupTable, StoreError> {
        Ok(GroupTable {
            tree: store.tree(TREE)?,
            lock: Mutex::new(()),
        })
    }

    fn decode(bytes: &[u8]) -> Option<StoredGroup> {
        match bytes.split_first() {
            Some((&VERSION, json)) => serde_json::from_slice(json).ok(),
            _ => None,
        }
    }

    fn encode(group: &StoredGroup) -> Result<Vec<u8>, EngineError> {
        let mut out = vec![VERSION];
        serde_json::to_writer(&mut out, group)
            .map_err(|e| EngineError::Unavailable(format!("could not encode group: {e}")))?;
        Ok(out)
    }

    fn get(&self, id: &str) -> Result<StoredGroup, EngineError> {
        let bytes = self
            .tree
            .get(id.as_bytes())
            .map_err(StoreError::from)?
            .ok_or_else(|| not_found(id))?;
        Self::decode(&bytes).ok_or_else(|| {
            tracing::error!(group = %id, "unreadable loopback group record");
            EngineError::Unavailable("unreadable group record".into())
        })
    }

    /// Applies `change` to the group under the lock and stores the result (removing the group
    /// when `change` leaves it without members).
    fn update<T>(
        &self,
        id: &str,
        change: impl FnOnce(&mut StoredGroup) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let _guard = self
            .lock
            .lock()
            .map_err(|_| EngineError::Unavailable("group table lock poisoned".into()))?;
        let mut group = self.get(id)?;
        let out = change(&mut group)?;
        if group.info.participants.is_empty() {
            self.tree.remove(id.as_bytes()).map_err(StoreError::from)?;
        } else {
            self.tree
                .insert(id.as_bytes(), Self::encode(&group)?)
                .map_err(StoreError::from)?;
        }
        Ok(out)
    }

    /// Stores a new group under a fresh id and returns it with that id.
    fn insert_new(&self, mut group: StoredGroup) -> Result<GroupInfo, EngineError> {
        loop {
            let n = u64::from_le_bytes(first_eight(Uuid::new_v4())) % 100_000_000_000;
            group.info.id = format!("1203630{n:011}@g.us");
            let swapped = self
                .tree
                .compare_and_swap(
                    group.info.id.as_bytes(),
                    None as Option<&[u8]>,
                    Some(Self::encode(&group)?),
                )
                .map_err(StoreError::from)?;
            if swapped.is_ok() {
                return Ok(group.info);
            }
        }
    }

    fn all(&self) -> Vec<StoredGroup> {
        let mut groups = Vec::new();
        for row in self.tree.iter() {
            match row {
                Ok((_, v)) => groups.extend(Self::decode(&v)),
                Err(e) => tracing::error!(error = %e, "reading loopback groups"),
            }
        }
        groups
    }
}

fn first_eight(id: Uuid) -> [u8; 8] {
    let b = id.into_bytes();
    [b[0], b[1], b[2], b[3], b[4], b[5], b[6], b[7]]
}

/// A 22-character invite code of letters and digits.
fn invite_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let bytes = [Uuid::new_v4().into_bytes(), Uuid::new_v4().into_bytes()].concat();
    bytes
        .iter()
        .take(INVITE_LEN)
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
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
        };
        for p in stored.info.participants.iter().filter(|p| p.id != me) {
            let inbound = InboundMessage {
                id: sent.id.clone(),
                remote_jid: group.clone(),
                from_me: false,
                push_name: Some(self.name.clone()),
                timestamp: sent.timestamp,
                content: content.clone(),
                participant: Some(me.clone()),
            };
            if !self.net.push(user_of(&p.id), EngineEvent::Message(inbound)) {
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
            let jid = user_jid(user_of(&jid));
            // Numbers that are not on the network are left out, as WhatsApp does.
            if self.net.owner_of(user_of(&jid)).is_some()
                && !participants.iter().any(|q| q.id == jid)
            {
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
        self.table().insert_new(StoredGroup { info, invite: None })
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
                let jid = to_jid(&t).map_or(t, |j| user_jid(user_of(&j)));
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

/// One participant change; returns WhatsApp's per-participant code.
fn apply(
    g: &mut StoredGroup,
    action: ParticipantAction,
    jid: &str,
    caller_super: bool,
    on_network: impl Fn(&str) -> bool,
) -> u16 {
    let parts = &mut g.info.participants;
    let pos = parts.iter().position(|p| p.id == jid);
    match (action, pos) {
        (ParticipantAction::Add, Some(_)) => 409,
        (ParticipantAction::Add, None) if !on_network(jid) => 404,
        (ParticipantAction::Add, None) => {
            parts.push(GroupParticipant {
                id: jid.to_string(),
                admin: None,
            });
            200
        }
        (_, None) => 404,
        (ParticipantAction::Remove | ParticipantAction::Demote, Some(i))
            if parts[i].admin == Some(Admin::SuperAdmin) && !caller_super =>
        {
            403
        }
        (ParticipantAction::Remove, Some(i)) => {
            parts.remove(i);
            200
        }
        (ParticipantAction::Promote, Some(i)) => {
            if parts[i].admin.is_none() {
                parts[i].admin = Some(Admin::Admin);
            }
            200
        }
        (ParticipantAction::Demote, Some(i)) => {
            parts[i].admin = None;
            200
        }
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
}

#[cfg(test)]
mod tests {
    use super::*;

    fn group() -> StoredGroup {
        let p = |id: &str, admin| GroupParticipant {
            id: id.into(),
            admin,
        };
        StoredGroup {
            info: GroupInfo {
                id: "1203630@g.us".into(),
                subject: "s".into(),
                subject_owner: None,
                subject_time: None,
                creation: None,
                owner: None,
                description: None,
                description_id: None,
                announce: false,
                restrict: false,
                participants: vec![
                    p("1@s.whatsapp.net", Some(Admin::SuperAdmin)),
                    p("2@s.whatsapp.net", None),
                ],
            },
            invite: None,
        }
    }

    #[test]
    fn participant_rules() {
        let mut g = group();
        let yes = |_: &str| true;
        let add = ParticipantAction::Add;
        assert_eq!(apply(&mut g, add, "2@s.whatsapp.net", true, yes), 409);
        assert_eq!(apply(&mut g, add, "3@s.whatsapp.net", true, |_| false), 404);
        assert_eq!(apply(&mut g, add, "3@s.whatsapp.net", true, yes), 200);
        let promote = ParticipantAction::Promote;
        assert_eq!(apply(&mut g, promote, "3@s.whatsapp.net", true, yes), 200);
        assert_eq!(g.role_of("3@s.whatsapp.net"), Some(Some(Admin::Admin)));
        // An admin cannot remove the creator.
        let remove = ParticipantAction::Remove;
        assert_eq!(apply(&mut g, remove, "1@s.whatsapp.net", false, yes), 403);
        assert_eq!(apply(&mut g, remove, "9@s.whatsapp.net", false, yes), 404);
        assert_eq!(apply(&mut g, remove, "2@s.whatsapp.net", false, yes), 200);
    }

    #[test]
    fn the_last_admin_leaving_hands_over() {
        let mut g = group();
        g.info.participants.remove(0);
        g.ensure_admin();
        assert_eq!(g.role_of("2@s.whatsapp.net"), Some(Some(Admin::Admin)));
        assert!(g.may_edit_info("2@s.whatsapp.net").is_ok());
        assert!(matches!(
            g.member("7@s.whatsapp.net"),
            Err(EngineError::NotFound(_))
        ));
    }

    #[test]
    fn invite_codes_are_22_alphanumerics() {
        let a = invite_code();
        assert_eq!(a.len(), INVITE_LEN);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_ne!(a, invite_code());
    }
}
