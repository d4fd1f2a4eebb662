//! The table behind LOOPBACK groups and its rules.
//!
//! Tree `loopback.groups`: key = group JID (`1203630<11 digits>@g.us`), value = version byte `1`
//! followed by the JSON of [`StoredGroup`]. Every change is a read-modify-write under one lock;
//! the caller flushes (group-committed) before it answers.

use parking_lot::Mutex;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

use crate::engine::EngineError;
use crate::engine::group::{Admin, GroupInfo, GroupParticipant, ParticipantAction};
use crate::store::{Store, StoreError};

const TREE: &str = "loopback.groups";
const VERSION: u8 = 1;
const INVITE_LEN: usize = 22;

/// The network's groups.
pub(crate) struct GroupTable {
    tree: sled::Tree,
    /// Serialises read-modify-write cycles; never held across an `.await`.
    lock: Mutex<()>,
}

/// One group as stored: what members see, plus the current invite code (made on first ask).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct StoredGroup {
    pub(super) info: GroupInfo,
    pub(super) invite: Option<String>,
    /// The picture's path in the network's media store; absent in groups stored before it.
    #[serde(default)]
    pub(super) picture: Option<String>,
}

impl StoredGroup {
    pub(super) fn member_jids(&self) -> Vec<String> {
        self.info
            .participants
            .iter()
            .map(|p| p.id.clone())
            .collect()
    }

    pub(super) fn role_of(&self, jid: &str) -> Option<Option<Admin>> {
        self.info
            .participants
            .iter()
            .find(|p| p.id == jid)
            .map(|p| p.admin)
    }

    /// The caller's role; NotFound when it is not a member (it cannot see the group).
    pub(super) fn member(&self, jid: &str) -> Result<Option<Admin>, EngineError> {
        self.role_of(jid).ok_or_else(|| not_found(&self.info.id))
    }

    pub(super) fn admin(&self, jid: &str) -> Result<(), EngineError> {
        match self.member(jid)? {
            Some(_) => Ok(()),
            None => Err(EngineError::Forbidden(format!(
                "only admins of {} may do that",
                self.info.id
            ))),
        }
    }

    /// Subject and description: anyone unless the group is locked.
    pub(super) fn may_edit_info(&self, jid: &str) -> Result<(), EngineError> {
        if self.info.restrict {
            self.admin(jid)
        } else {
            self.member(jid).map(|_| ())
        }
    }

    /// Keeps at least one admin while there are members.
    pub(super) fn ensure_admin(&mut self) {
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

impl GroupTable {
    pub(crate) fn open(store: &Store) -> Result<GroupTable, StoreError> {
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

    pub(super) fn get(&self, id: &str) -> Result<StoredGroup, EngineError> {
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
    pub(super) fn update<T>(
        &self,
        id: &str,
        change: impl FnOnce(&mut StoredGroup) -> Result<T, EngineError>,
    ) -> Result<T, EngineError> {
        let _guard = self.lock.lock();
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
    pub(super) fn insert_new(&self, mut group: StoredGroup) -> Result<GroupInfo, EngineError> {
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

    /// The group whose current invite code is `code`.
    pub(super) fn by_invite(&self, code: &str) -> Option<StoredGroup> {
        self.all()
            .into_iter()
            .find(|g| g.invite.as_deref() == Some(code))
    }

    pub(super) fn all(&self) -> Vec<StoredGroup> {
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
pub(super) fn invite_code() -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let bytes = [Uuid::new_v4().into_bytes(), Uuid::new_v4().into_bytes()].concat();
    bytes
        .iter()
        .take(INVITE_LEN)
        .map(|b| ALPHABET[(*b as usize) % ALPHABET.len()] as char)
        .collect()
}
/// One participant change; returns WhatsApp's per-participant code.
pub(super) fn apply(
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
            picture: None,
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
