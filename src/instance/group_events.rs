//! Group changes as Evolution's events: `groups.upsert` (Baileys `GroupMetadata[]`),
//! `groups.update` (`Partial<GroupMetadata>[]`) and `group-participants.update`
//! (`{id, author, participants, action, participantsData}`).

use serde_json::{Map, Value, json};

use crate::engine::group::{GroupEvent, GroupInfo};
use crate::engine::jid::user_of;
use crate::events::EventKind;

/// Baileys' `GroupMetadata` of a group.
fn metadata(g: &GroupInfo) -> Value {
    json!({
        "id": g.id,
        "subject": g.subject,
        "subjectOwner": g.subject_owner,
        "subjectTime": g.subject_time,
        "size": g.participants.len(),
        "creation": g.creation,
        "owner": g.owner,
        "desc": g.description,
        "descId": g.description_id,
        "restrict": g.restrict,
        "announce": g.announce,
        "participants": g.participants.iter().map(|p| json!({
            "id": p.id,
            "admin": p.admin.map(|a| a.as_str()),
        })).collect::<Vec<_>>(),
    })
}

/// The event kind and payload of one group change.
pub(super) fn evolution(ev: &GroupEvent) -> (EventKind, Value) {
    match ev {
        GroupEvent::Joined(g) => (EventKind::GroupsUpsert, json!([metadata(g)])),
        GroupEvent::Updated(u) => {
            let mut m = Map::new();
            m.insert("id".into(), json!(u.id));
            m.insert("author".into(), json!(u.author));
            if let Some(s) = &u.subject {
                m.insert("subject".into(), json!(s));
            }
            if let Some(d) = &u.description {
                m.insert("desc".into(), json!(d));
            }
            if let Some(a) = u.announce {
                m.insert("announce".into(), json!(a));
            }
            if let Some(e) = u.ephemeral {
                m.insert("ephemeralDuration".into(), json!(e));
            }
            if let Some(r) = u.restrict {
                m.insert("restrict".into(), json!(r));
            }
            (EventKind::GroupsUpdate, json!([Value::Object(m)]))
        }
        GroupEvent::Participants {
            group,
            author,
            action,
            participants,
        } => (
            EventKind::GroupParticipantsUpdate,
            json!({
                "id": group,
                "author": author,
                "participants": participants,
                "action": action.as_str(),
                "participantsData": participants.iter().map(|p| json!({
                    "jid": p,
                    "phoneNumber": user_of(p),
                })).collect::<Vec<_>>(),
            }),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::group::{GroupUpdate, ParticipantAction};

    #[test]
    fn payloads_follow_baileys() {
        let (kind, data) = evolution(&GroupEvent::Updated(GroupUpdate {
            id: "1@g.us".into(),
            subject: Some("s".into()),
            ..Default::default()
        }));
        assert_eq!(kind, EventKind::GroupsUpdate);
        assert_eq!(
            data,
            json!([{"id": "1@g.us", "author": null, "subject": "s"}])
        );
        let (kind, data) = evolution(&GroupEvent::Participants {
            group: "1@g.us".into(),
            author: Some("5@s.whatsapp.net".into()),
            action: ParticipantAction::Promote,
            participants: vec!["6@s.whatsapp.net".into()],
        });
        assert_eq!(kind, EventKind::GroupParticipantsUpdate);
        assert_eq!(data["action"], "promote");
        assert_eq!(data["participantsData"][0]["phoneNumber"], "6");
    }
}
