//! Evolution's event kinds. Configuration uses UPPER_SNAKE (`MESSAGES_UPSERT`), payloads the
//! dotted form (`messages.upsert`), by-events webhook URLs the kebab form (`messages-upsert`).

use serde::{Deserialize, Serialize};

macro_rules! event_kinds {
    ($($variant:ident => $upper:literal, $dotted:literal;)*) => {
        /// Every event Evolution declares, including the ones it never sends.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
        pub enum EventKind {
            $(#[serde(rename = $upper)] $variant,)*
        }

        impl EventKind {
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant,)*];

            /// The configuration name, e.g. `MESSAGES_UPSERT`.
            pub fn upper(self) -> &'static str {
                match self { $(EventKind::$variant => $upper,)* }
            }

            /// The payload name, e.g. `messages.upsert`.
            pub fn dotted(self) -> &'static str {
                match self { $(EventKind::$variant => $dotted,)* }
            }
        }
    };
}

event_kinds! {
    ApplicationStartup => "APPLICATION_STARTUP", "application.startup";
    InstanceCreate => "INSTANCE_CREATE", "instance.create";
    InstanceDelete => "INSTANCE_DELETE", "instance.delete";
    QrcodeUpdated => "QRCODE_UPDATED", "qrcode.updated";
    ConnectionUpdate => "CONNECTION_UPDATE", "connection.update";
    StatusInstance => "STATUS_INSTANCE", "status.instance";
    MessagesSet => "MESSAGES_SET", "messages.set";
    MessagesUpsert => "MESSAGES_UPSERT", "messages.upsert";
    MessagesEdited => "MESSAGES_EDITED", "messages.edited";
    MessagesUpdate => "MESSAGES_UPDATE", "messages.update";
    MessagesDelete => "MESSAGES_DELETE", "messages.delete";
    SendMessage => "SEND_MESSAGE", "send.message";
    SendMessageUpdate => "SEND_MESSAGE_UPDATE", "send.message.update";
    ContactsSet => "CONTACTS_SET", "contacts.set";
    ContactsUpsert => "CONTACTS_UPSERT", "contacts.upsert";
    ContactsUpdate => "CONTACTS_UPDATE", "contacts.update";
    PresenceUpdate => "PRESENCE_UPDATE", "presence.update";
    ChatsSet => "CHATS_SET", "chats.set";
    ChatsUpsert => "CHATS_UPSERT", "chats.upsert";
    ChatsUpdate => "CHATS_UPDATE", "chats.update";
    ChatsDelete => "CHATS_DELETE", "chats.delete";
    GroupsUpsert => "GROUPS_UPSERT", "groups.upsert";
    GroupsUpdate => "GROUP_UPDATE", "groups.update";
    GroupParticipantsUpdate => "GROUP_PARTICIPANTS_UPDATE", "group-participants.update";
    LabelsEdit => "LABELS_EDIT", "labels.edit";
    LabelsAssociation => "LABELS_ASSOCIATION", "labels.association";
    Call => "CALL", "call";
    TypebotStart => "TYPEBOT_START", "typebot.start";
    TypebotChangeStatus => "TYPEBOT_CHANGE_STATUS", "typebot.change-status";
    RemoveInstance => "REMOVE_INSTANCE", "remove.instance";
    LogoutInstance => "LOGOUT_INSTANCE", "logout.instance";
}

impl EventKind {
    /// Parses a configuration name. Both `GROUP_UPDATE` (Evolution's list) and `GROUPS_UPDATE`
    /// (what its payload name normalises to) mean `groups.update`; dotted names are accepted too.
    pub fn parse(name: &str) -> Option<EventKind> {
        let norm = name.trim().to_ascii_uppercase().replace(['.', '-'], "_");
        if norm == "GROUPS_UPDATE" {
            return Some(EventKind::GroupsUpdate);
        }
        EventKind::ALL.iter().copied().find(|k| k.upper() == norm)
    }

    /// Evolution's rule for what a webhook or transport stores as its events: none while
    /// disabled, every event when enabled with an empty list, else the list without repeats.
    pub fn subscription(
        enabled: bool,
        chosen: impl IntoIterator<Item = EventKind>,
    ) -> Vec<EventKind> {
        if !enabled {
            return Vec::new();
        }
        let mut seen = std::collections::HashSet::new();
        let kinds: Vec<EventKind> = chosen.into_iter().filter(|k| seen.insert(*k)).collect();
        if kinds.is_empty() {
            EventKind::ALL.to_vec()
        } else {
            kinds
        }
    }

    /// The suffix added to a by-events webhook URL, e.g. `messages-upsert`.
    pub fn kebab(self) -> String {
        self.dotted().replace('.', "-")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spellings_round_trip() {
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.upper()), Some(*k));
            assert_eq!(EventKind::parse(k.dotted()), Some(*k));
        }
        assert_eq!(
            EventKind::parse("GROUPS_UPDATE"),
            Some(EventKind::GroupsUpdate)
        );
        assert_eq!(
            EventKind::GroupParticipantsUpdate.kebab(),
            "group-participants-update"
        );
        assert_eq!(EventKind::SendMessageUpdate.kebab(), "send-message-update");
        assert_eq!(EventKind::parse("NOPE"), None);
    }
}
