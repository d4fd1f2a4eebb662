//! Group invites sent as texts and disappearing-message timers, on LOOPBACK instances,
//! black-box.

mod common;

use common::team::{ANA, create_team, info, jid, role, three_paired};
use common::{KEY, expect_event};
use serde_json::{Value, json};

#[tokio::test]
async fn invites_sent_as_texts_let_the_reader_join() {
    const DORA: &str = "15550003004";
    let s = three_paired().await;
    s.paired_loopback("dora", DORA).await;
    let id = create_team(&s).await;
    let mut dora = s.events("instance=dora&events=MESSAGES_UPSERT").await;

    let (status, sent) = s
        .post(
            "/group/sendInvite/ana",
            Some(KEY),
            json!({"groupJid": id, "description": "Join us", "numbers": [DORA]}),
        )
        .await;
    assert_eq!(status, 200, "{sent}");
    assert_eq!(sent["send"], true);
    let url = sent["inviteUrl"].as_str().expect("inviteUrl").to_string();
    assert!(url.starts_with("https://chat.whatsapp.com/"), "{url}");
    let got = expect_event(&mut dora, |e| e["event"] == "messages.upsert").await;
    assert_eq!(got["data"]["key"]["remoteJid"], jid(ANA));
    assert_eq!(
        got["data"]["message"]["conversation"],
        format!("Join us\n\n{url}")
    );

    // dora follows the link she read.
    let (status, body) = s
        .get(
            &format!("/group/acceptInviteCode/dora?inviteCode={url}"),
            Some(KEY),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let (status, group) = info(&s, "dora", &id).await;
    assert_eq!(status, 200, "{group}");
    assert_eq!(role(&group["participants"], DORA), Value::Null);

    let (status, err) = s
        .post(
            "/group/sendInvite/ana",
            Some(KEY),
            json!({"groupJid": id, "numbers": []}),
        )
        .await;
    assert_eq!(status, 400, "{err}");
}

#[tokio::test]
async fn disappearing_messages_are_announced_and_guarded() {
    let s = three_paired().await;
    let id = create_team(&s).await;
    let mut bia = s.events("instance=bia&events=GROUP_UPDATE").await;
    let toggle = |who: &'static str, expiration: Value| {
        let s = &s;
        let id = id.clone();
        async move {
            s.post(
                &format!("/group/toggleEphemeral/{who}?groupJid={id}"),
                Some(KEY),
                json!({"expiration": expiration}),
            )
            .await
        }
    };

    let (status, body) = toggle("ana", json!(604_800)).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body, json!({"success": true}));
    let seen = expect_event(&mut bia, |e| e["event"] == "groups.update").await;
    assert_eq!(seen["data"][0]["id"], id.as_str());
    assert_eq!(seen["data"][0]["ephemeralDuration"], 604_800);
    assert_eq!(seen["data"][0]["author"], jid(ANA));

    let (status, body) = toggle("ana", json!(123)).await;
    assert_eq!(status, 400, "{body}");

    // Once the info is locked, only admins may change the timer.
    let (status, _) = s
        .post(
            &format!("/group/updateSetting/ana?groupJid={id}"),
            Some(KEY),
            json!({"action": "locked"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = toggle("bia", json!(0)).await;
    assert_eq!(status, 403, "{body}");
}
