//! Groups (`w:g2`) of unmodified whatsapp-rust clients against wa-mock.

mod common;

use common::{pair, wait_for};
use wa_mock::WaMock;
use wacore::stanza::groups::GroupNotificationAction;
use wacore::types::events::Event;
use whatsapp_rust::{
    GroupCreateOptions, GroupDescription, GroupError, GroupParticipantOptions, GroupSubject,
    IqError, Jid, ParticipantType, PreviousDescription,
};

fn role(meta: &whatsapp_rust::GroupMetadata, phone: &str) -> Option<ParticipantType> {
    meta.participants
        .iter()
        .find(|p| p.jid.user == phone)
        .map(|p| p.participant_type)
}

fn server_code(e: GroupError) -> u16 {
    match e {
        GroupError::Iq(IqError::ServerError { code, .. }) => code,
        other => panic!("expected a server error, got {other}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_manage_and_leave_a_group() {
    let mock = WaMock::start(0).await.unwrap();
    let ((a, pa), (b, pb)) = tokio::join!(
        pair(&mock, Some("15551240001")),
        pair(&mock, Some("15551240002"))
    );
    let ga = a.client.groups();
    let gb = b.client.groups();

    let mut options = GroupCreateOptions::new("Mock team")
        .with_participant(GroupParticipantOptions::new(Jid::pn(pb.as_str())));
    options.description = Some(GroupDescription::new("first").unwrap());
    let created = ga.create_group(options).await.expect("create").metadata;
    let id = created.id.clone();
    assert!(id.user.starts_with("1203630"), "{id}");
    assert_eq!(created.subject, "Mock team");
    assert_eq!(created.participants.len(), 2);
    assert_eq!(role(&created, &pa), Some(ParticipantType::SuperAdmin));
    assert_eq!(role(&created, &pb), Some(ParticipantType::Member));
    assert_eq!(created.description.as_deref(), Some("first"));

    // The member hears of it (a w:gp2 `create` notification) and sees it in its list and by query.
    let created_for_b = wait_for(&b.events, "create notification", |e| match e {
        Event::GroupUpdate(u) if matches!(u.action, GroupNotificationAction::Create { .. }) => {
            Some(u.group_jid.clone())
        }
        _ => None,
    })
    .await;
    assert_eq!(created_for_b, id);
    let listed = gb.get_participating().await.expect("participating");
    assert!(listed.contains_key(&id), "{listed:?}");
    let meta = gb.get_metadata(&id).await.expect("metadata");
    assert_eq!(
        meta.creator.as_ref().map(|c| c.user.to_string()),
        Some(pa.clone())
    );

    // Admin-only changes: refused to the member, done by the creator.
    let err = gb
        .promote_participants(id.clone(), &[Jid::pn(pb.as_str())])
        .await
        .unwrap_err();
    assert_eq!(server_code(err), 403);
    let r = ga
        .promote_participants(id.clone(), &[Jid::pn(pb.as_str())])
        .await
        .expect("promote");
    assert!(r.iter().all(|r| r.is_ok()), "{r:?}");
    assert_eq!(
        role(&gb.get_metadata(&id).await.unwrap(), &pb),
        Some(ParticipantType::Admin)
    );
    let r = ga
        .demote_participants(id.clone(), &[Jid::pn(pb.as_str())])
        .await
        .expect("demote");
    assert!(r[0].is_ok());
    let r = ga
        .add_participants(id.clone(), &[Jid::pn(pb.as_str()), Jid::pn("15551249999")])
        .await
        .expect("add");
    assert_eq!(r[0].error.as_deref(), Some("409"), "already a member");
    assert!(r[1].is_ok());
    let r = ga
        .remove_participants(id.clone(), &[Jid::pn("15551249999")])
        .await
        .expect("remove");
    assert!(r[0].is_ok());

    // Subject, description, settings.
    ga.set_subject(id.clone(), GroupSubject::new("Renamed").unwrap())
        .await
        .expect("subject");
    ga.set_description(
        id.clone(),
        Some(GroupDescription::new("second").unwrap()),
        PreviousDescription::Resolve,
    )
    .await
    .expect("description");
    ga.set_locked(id.clone(), true).await.expect("lock");
    ga.set_announce(id.clone(), true).await.expect("announce");
    let (subject, author) = wait_for(&b.events, "subject notification", |e| match e {
        Event::GroupUpdate(u) => match &u.action {
            GroupNotificationAction::Subject { subject, .. } => {
                Some((subject.clone(), u.participant.clone()))
            }
            _ => None,
        },
        _ => None,
    })
    .await;
    assert_eq!(subject, "Renamed");
    assert_eq!(author.map(|a| a.user.to_string()), Some(pa.clone()));
    wait_for(&b.events, "announcement notification", |e| match e {
        Event::GroupUpdate(u) => {
            matches!(u.action, GroupNotificationAction::Announce).then_some(())
        }
        _ => None,
    })
    .await;
    let meta = gb.get_metadata(&id).await.unwrap();
    assert_eq!(meta.subject, "Renamed");
    assert_eq!(meta.description.as_deref(), Some("second"));
    assert!(meta.is_locked && meta.is_announcement);
    let err = gb
        .set_subject(id.clone(), GroupSubject::new("mine").unwrap())
        .await
        .unwrap_err();
    assert_eq!(server_code(err), 403, "locked: admins only");

    // Invite links: stable until reset.
    let link = ga.get_invite_link(id.clone(), false).await.expect("invite");
    assert!(link.starts_with("https://chat.whatsapp.com/"), "{link}");
    assert_eq!(ga.get_invite_link(id.clone(), false).await.unwrap(), link);
    let reset = ga.get_invite_link(id.clone(), true).await.unwrap();
    assert_ne!(reset, link);
    assert_eq!(
        server_code(gb.get_invite_link(id.clone(), false).await.unwrap_err()),
        403
    );

    // Leave.
    gb.leave(id.clone()).await.expect("leave");
    assert!(!gb.get_participating().await.unwrap().contains_key(&id));
    assert_eq!(server_code(gb.get_metadata(&id).await.unwrap_err()), 403);
    assert_eq!(ga.get_metadata(&id).await.unwrap().participants.len(), 1);
    // Back in by the invite code; the old (reset) link leads nowhere.
    let code = reset.rsplit('/').next().unwrap().to_string();
    let info = gb.get_invite_info(&code).await.expect("invite info");
    assert_eq!(info.id, id);
    assert_eq!(info.subject, "Renamed");
    assert_eq!(
        server_code(gb.get_invite_info(&link).await.unwrap_err()),
        404
    );
    let joined = gb.join_with_invite_code(&reset).await.expect("join");
    assert_eq!(joined.group_jid(), &id);
    assert!(gb.get_participating().await.unwrap().contains_key(&id));
    gb.leave(id.clone()).await.expect("leave again");

    let unknown: Jid = "120363000000000001@g.us".parse().unwrap();
    assert_eq!(
        server_code(ga.get_metadata(&unknown).await.unwrap_err()),
        404
    );

    a.handle.shutdown().await;
    b.handle.shutdown().await;
    mock.shutdown().await;
}
