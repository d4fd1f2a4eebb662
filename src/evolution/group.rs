//! Group changes as Evolution renders them: `groups.upsert` (Baileys `GroupMetadata[]`),
//! `groups.update` (`Partial<GroupMetadata>[]`) and `group-participants.update`
//! (`{id, author, participants, action, participantsData}`).

use serde_json::{Map, Value, json};

use crate::engine::group::{GroupEvent, GroupInfo};
use crate::engine::jid::user_of;

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

/// The payload of one group change's event.
pub fn group_event(ev: &GroupEvent) -> Value {
    match ev {
        GroupEvent::Joined(g) => json!([metadata(g)]),
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
            json!([Value::Object(m)])
        }
        GroupEvent::Participants {
            group,
            author,
            action,
            participants,
        } => json!({
                "id": group,
                "author": author,
                "participants": participants,
                "action": action.as_str(),
                "participantsData": participants.iter().map(|p| json!({
                    "jid": p,
                    "phoneNumber": user_of(p),
                })).collect::<Vec<_>>(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::group::{GroupUpdate, ParticipantAction};

    #[test]
    fn payloads_follow_baileys() {
        let data = group_event(&GroupEvent::Updated(GroupUpdate {
            id: "1@g.us".into(),
            subject: Some("s".into()),
            ..Default::default()
        }));
        assert_eq!(
            data,
            json!([{"id": "1@g.us", "author": null, "subject": "s"}])
        );
        let data = group_event(&GroupEvent::Participants {
            group: "1@g.us".into(),
            author: Some("5@s.whatsapp.net".into()),
            action: ParticipantAction::Promote,
            participants: vec!["6@s.whatsapp.net".into()],
        });
        assert_eq!(data["action"], "promote");
        assert_eq!(data["participantsData"][0]["phoneNumber"], "6");
    }
}
