//! Groups as the engines offer them: our own types and the [`GroupOps`] a session exposes
//! through [`super::Session::groups`]. Engines convert their own group metadata into these; the
//! HTTP layer shapes them into Evolution's (Baileys') `GroupMetadata`. Nothing here talks to a
//! network or to storage.

use futures_util::future::BoxFuture;
use serde::{Deserialize, Serialize};

use super::EngineError;

/// WhatsApp's limit on a group subject, in characters.
pub const SUBJECT_MAX_CHARS: usize = 100;
/// WhatsApp's limit on a group description, in characters.
pub const DESCRIPTION_MAX_CHARS: usize = 2048;

/// Server part of group JIDs.
pub const GROUP_SERVER: &str = "g.us";

/// A group as one member sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupInfo {
    /// `1203630...@g.us`.
    pub id: String,
    pub subject: String,
    /// Who set the subject last.
    pub subject_owner: Option<String>,
    /// When the subject was set (unix seconds).
    pub subject_time: Option<u64>,
    /// When the group was created (unix seconds).
    pub creation: Option<u64>,
    /// The creator.
    pub owner: Option<String>,
    pub description: Option<String>,
    /// Id of the current description (WhatsApp's optimistic-concurrency token).
    pub description_id: Option<String>,
    /// Only admins may send messages.
    pub announce: bool,
    /// Only admins may edit the group's info (subject, description); WhatsApp calls it "locked".
    pub restrict: bool,
    pub participants: Vec<GroupParticipant>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupParticipant {
    /// The member's JID (`<digits>@s.whatsapp.net`, or `@lid` in LID-addressed groups).
    pub id: String,
    pub admin: Option<Admin>,
}

/// Evolution's `admin` values: `"admin"`, `"superadmin"` (absent for plain members).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Admin {
    Admin,
    SuperAdmin,
}

impl Admin {
    pub fn as_str(self) -> &'static str {
        match self {
            Admin::Admin => "admin",
            Admin::SuperAdmin => "superadmin",
        }
    }
}

/// What `/group/updateParticipant` does.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParticipantAction {
    Add,
    Remove,
    Promote,
    Demote,
}

impl ParticipantAction {
    pub fn as_str(self) -> &'static str {
        match self {
            ParticipantAction::Add => "add",
            ParticipantAction::Remove => "remove",
            ParticipantAction::Promote => "promote",
            ParticipantAction::Demote => "demote",
        }
    }

    pub fn parse(s: &str) -> Option<ParticipantAction> {
        Some(match s {
            "add" => ParticipantAction::Add,
            "remove" => ParticipantAction::Remove,
            "promote" => ParticipantAction::Promote,
            "demote" => ParticipantAction::Demote,
            _ => return None,
        })
    }
}

/// The outcome for one participant of an update: WhatsApp's per-participant code as a string
/// (`"200"` done, `"403"` not allowed, `"404"` unknown or not a member, `"409"` already so).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParticipantResult {
    pub jid: String,
    pub status: String,
}

/// What `/group/updateSetting` switches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSetting {
    /// Only admins send messages.
    Announcement,
    NotAnnouncement,
    /// Only admins edit the group's info.
    Locked,
    Unlocked,
}

impl GroupSetting {
    pub fn parse(s: &str) -> Option<GroupSetting> {
        Some(match s {
            "announcement" => GroupSetting::Announcement,
            "not_announcement" => GroupSetting::NotAnnouncement,
            "locked" => GroupSetting::Locked,
            "unlocked" => GroupSetting::Unlocked,
            _ => return None,
        })
    }
}

/// A change to a group the account is in, reported by the engine as it learns of it (the
/// account's own changes included, as WhatsApp notifies every member).
#[derive(Debug, Clone)]
pub enum GroupEvent {
    /// The account created or joined a group (Evolution's `groups.upsert`).
    Joined(GroupInfo),
    /// Subject, description or a setting changed (`groups.update`).
    Updated(GroupUpdate),
    /// Members were added, removed, promoted or demoted (`group-participants.update`).
    Participants {
        group: String,
        /// Who made the change.
        author: Option<String>,
        action: ParticipantAction,
        participants: Vec<String>,
    },
}

/// What changed in a group; fields left `None` did not change.
#[derive(Debug, Clone, Default)]
pub struct GroupUpdate {
    pub id: String,
    pub author: Option<String>,
    pub subject: Option<String>,
    /// `Some(None)`: the description was removed.
    pub description: Option<Option<String>>,
    pub announce: Option<bool>,
    pub restrict: Option<bool>,
    /// Disappearing messages: seconds a message lives, 0 = off.
    pub ephemeral: Option<u32>,
}

/// The disappearing-message timers WhatsApp offers (off, 24 h, 7 days, 90 days).
pub const EPHEMERAL_TIMERS: [u32; 4] = [0, 86_400, 604_800, 7_776_000];

/// A group to create. Participants are user JIDs; those not on WhatsApp are left out.
#[derive(Debug, Clone)]
pub struct NewGroup {
    pub subject: String,
    pub participants: Vec<String>,
    pub description: Option<String>,
}

/// The group operations of a connected session. Every JID argument is a full group JID
/// (`...@g.us`) or user JID; engines answer [`EngineError::NotFound`] for a group the account
/// does not know (or is not in) and [`EngineError::Forbidden`] for what its role does not allow.
pub trait GroupOps: Send + Sync {
    fn create(&self, group: NewGroup) -> BoxFuture<'_, Result<GroupInfo, EngineError>>;
    fn info<'a>(&'a self, group: &'a str) -> BoxFuture<'a, Result<GroupInfo, EngineError>>;
    /// The groups the account participates in.
    fn list(&self) -> BoxFuture<'_, Result<Vec<GroupInfo>, EngineError>>;
    fn update_participants<'a>(
        &'a self,
        group: &'a str,
        action: ParticipantAction,
        participants: Vec<String>,
    ) -> BoxFuture<'a, Result<Vec<ParticipantResult>, EngineError>>;
    fn set_subject<'a>(
        &'a self,
        group: &'a str,
        subject: String,
    ) -> BoxFuture<'a, Result<(), EngineError>>;
    /// `None` or an empty string removes the description.
    fn set_description<'a>(
        &'a self,
        group: &'a str,
        description: Option<String>,
    ) -> BoxFuture<'a, Result<(), EngineError>>;
    fn set_setting<'a>(
        &'a self,
        group: &'a str,
        setting: GroupSetting,
    ) -> BoxFuture<'a, Result<(), EngineError>>;
    /// The invite code (the part after `https://chat.whatsapp.com/`); `reset` revokes the old
    /// one and returns the new one.
    fn invite_code<'a>(
        &'a self,
        group: &'a str,
        reset: bool,
    ) -> BoxFuture<'a, Result<String, EngineError>>;
    /// Disappearing messages for the group: one of [`EPHEMERAL_TIMERS`] (admins only when the
    /// group's info is locked).
    fn set_ephemeral<'a>(
        &'a self,
        group: &'a str,
        seconds: u32,
    ) -> BoxFuture<'a, Result<(), EngineError>>;
    fn leave<'a>(&'a self, group: &'a str) -> BoxFuture<'a, Result<(), EngineError>>;
    /// The group an invite code (or `https://chat.whatsapp.com/<code>` link) leads to, without
    /// joining it.
    fn invite_info<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<GroupInfo, EngineError>>;
    /// Joins the group of an invite code; returns the group's JID.
    fn accept_invite<'a>(&'a self, code: &'a str) -> BoxFuture<'a, Result<String, EngineError>>;
    /// Sets the group's picture: a JPEG, sent as given (admins only when the info is locked).
    fn set_picture<'a>(
        &'a self,
        group: &'a str,
        jpeg: Vec<u8>,
    ) -> BoxFuture<'a, Result<(), EngineError>>;
    /// The picture URL of each of `groups`, in order; `None` when it has none (or the account
    /// may not see it).
    fn picture_urls(
        &self,
        groups: Vec<String>,
    ) -> BoxFuture<'_, Result<Vec<GroupPicture>, EngineError>>;
}

/// A group's picture URL, as [`GroupOps::picture_urls`] answers it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupPicture {
    pub group: String,
    pub url: Option<String>,
}

/// The code of an invite code or link (`https://chat.whatsapp.com/<code>`); `None` when empty.
pub fn invite_code_of(code_or_link: &str) -> Option<&str> {
    let code = code_or_link.trim().trim_end_matches('/');
    let code = code.rsplit('/').next().unwrap_or(code);
    (!code.is_empty() && code.chars().all(|c| c.is_ascii_alphanumeric())).then_some(code)
}

/// Checks a subject against WhatsApp's rules.
pub fn check_subject(subject: &str) -> Result<(), EngineError> {
    if subject.trim().is_empty() {
        return Err(EngineError::Invalid("the group subject is empty".into()));
    }
    if subject.chars().count() > SUBJECT_MAX_CHARS {
        return Err(EngineError::Invalid(format!(
            "the group subject exceeds {SUBJECT_MAX_CHARS} characters"
        )));
    }
    Ok(())
}

/// Checks a description against WhatsApp's rules.
pub fn check_description(description: &str) -> Result<(), EngineError> {
    if description.chars().count() > DESCRIPTION_MAX_CHARS {
        return Err(EngineError::Invalid(format!(
            "the group description exceeds {DESCRIPTION_MAX_CHARS} characters"
        )));
    }
    Ok(())
}

/// Whether a JID names a group.
pub fn is_group_jid(jid: &str) -> bool {
    jid.rsplit_once('@')
        .is_some_and(|(user, server)| server == GROUP_SERVER && !user.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_parse() {
        assert_eq!(
            ParticipantAction::parse("promote"),
            Some(ParticipantAction::Promote)
        );
        assert_eq!(ParticipantAction::parse("Promote"), None);
        assert_eq!(
            GroupSetting::parse("not_announcement"),
            Some(GroupSetting::NotAnnouncement)
        );
        assert_eq!(GroupSetting::parse("open"), None);
        assert!(is_group_jid("120363025246125486@g.us"));
        assert!(!is_group_jid("5511@s.whatsapp.net"));
        assert!(check_subject(" ").is_err());
        assert!(check_subject(&"a".repeat(101)).is_err());
        assert!(check_subject(&"a".repeat(100)).is_ok());
        assert_eq!(
            invite_code_of("https://chat.whatsapp.com/AbC123"),
            Some("AbC123")
        );
        assert_eq!(invite_code_of("AbC123"), Some("AbC123"));
        assert_eq!(invite_code_of(" "), None);
        assert_eq!(invite_code_of("a b"), None);
    }
}
