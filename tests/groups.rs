//! `/group/*` on LOOPBACK instances, black-box: three paired instances make a group, manage it,
//! talk in it, leave it; a restart keeps it.

mod common;

use common::team::{ANA, BIA, CAIO, create_team, info, jid, role, three_paired};
use common::{KEY, TestServer, expect_event};
use serde_json::{Value, json};

fn listed(groups: &Value, id: &str) -> bool {
    groups
        .as_array()
        .expect("array")
        .iter()
        .any(|g| g["id"] == id)
}

async fn all_groups(s: &TestServer, who: &str) -> Value {
    let (status, list) = s
        .get(
            &format!("/group/fetchAllGroups/{who}?getParticipants=false"),
            Some(KEY),
        )
        .await;
    assert_eq!(status, 200, "{list}");
    list
}

async fn update_participant(
    s: &TestServer,
    by: &str,
    group: &str,
    action: &str,
    who: &str,
) -> (u16, Value) {
    s.post(
        &format!("/group/updateParticipant/{by}?groupJid={group}"),
        Some(KEY),
        json!({"action": action, "participants": [who]}),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn create_read_and_manage_a_group() {
    let s = three_paired().await;
    let g = create_team(&s).await;

    // Members read it.
    let (status, seen) = info(&s, "bia", &g).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["id"], g.as_str());
    assert_eq!(seen["subject"], "Team");
    assert_eq!(seen["size"], 3);
    assert_eq!(seen["pictureUrl"], Value::Null);
    assert_eq!(seen["isCommunity"], false);
    let (status, p) = s
        .get(&format!("/group/participants/caio?groupJid={g}"), Some(KEY))
        .await;
    assert_eq!(status, 200, "{p}");
    assert_eq!(p["participants"].as_array().unwrap().len(), 3);
    assert_eq!(role(&p["participants"], ANA), "superadmin");

    let list = all_groups(&s, "caio").await;
    assert_eq!(list.as_array().unwrap().len(), 1);
    assert_eq!(list[0]["id"], g.as_str());
    assert!(
        list[0].get("participants").is_none(),
        "no participants unless asked: {list}"
    );
    let (status, list) = s
        .get("/group/fetchAllGroups/ana?getParticipants=true", Some(KEY))
        .await;
    assert_eq!(status, 200);
    assert_eq!(list[0]["participants"].as_array().unwrap().len(), 3);
    let (status, body) = s.get("/group/fetchAllGroups/ana", Some(KEY)).await;
    assert_eq!(status, 400, "getParticipants is required: {body}");
    let (status, _) = s
        .get("/group/fetchAllGroups/ana?getParticipants=maybe", Some(KEY))
        .await;
    assert_eq!(status, 400);

    // Unknown group, missing and malformed groupJid.
    let (status, body) = info(&s, "ana", "120363099999999999@g.us").await;
    assert_eq!(status, 404, "{body}");
    assert_eq!(body["status"], 404);
    let (status, _) = s.get("/group/findGroupInfos/ana", Some(KEY)).await;
    assert_eq!(status, 400);
    let (status, _) = info(&s, "ana", "not-a-group").await;
    assert_eq!(status, 400);
    // groupJid without @g.us is completed.
    let digits = g.trim_end_matches("@g.us");
    assert_eq!(info(&s, "ana", digits).await.0, 200);

    // Promote, demote, remove, add back.
    let (status, r) = update_participant(&s, "ana", &g, "promote", BIA).await;
    assert_eq!(status, 201, "{r}");
    assert_eq!(
        r["updateParticipants"],
        json!([{"status": "200", "jid": jid(BIA)}])
    );
    assert_eq!(
        role(&info(&s, "caio", &g).await.1["participants"], BIA),
        "admin"
    );
    // An admin cannot remove the superadmin.
    let (status, r) = update_participant(&s, "bia", &g, "remove", ANA).await;
    assert_eq!(status, 201);
    assert_eq!(r["updateParticipants"][0]["status"], "403");
    let (status, _) = update_participant(&s, "ana", &g, "demote", BIA).await;
    assert_eq!(status, 201);
    assert_eq!(
        role(&info(&s, "caio", &g).await.1["participants"], BIA),
        Value::Null
    );
    // A plain member may not change participants.
    let (status, body) = update_participant(&s, "bia", &g, "remove", CAIO).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"], "Forbidden");
    let (status, r) = update_participant(&s, "ana", &g, "remove", CAIO).await;
    assert_eq!(status, 201);
    assert_eq!(r["updateParticipants"][0]["status"], "200");
    assert!(!listed(&all_groups(&s, "caio").await, &g));
    assert_eq!(info(&s, "caio", &g).await.0, 404);
    let (_, r) = update_participant(&s, "ana", &g, "remove", CAIO).await;
    assert_eq!(r["updateParticipants"][0]["status"], "404");
    let (_, r) = update_participant(&s, "ana", &g, "add", CAIO).await;
    assert_eq!(r["updateParticipants"][0]["status"], "200");
    let (_, r) = update_participant(&s, "ana", &g, "add", CAIO).await;
    assert_eq!(r["updateParticipants"][0]["status"], "409");
    assert!(listed(&all_groups(&s, "caio").await, &g));
    // Bad input.
    let (status, _) = update_participant(&s, "ana", &g, "kick", CAIO).await;
    assert_eq!(status, 400);
    let (status, _) = update_participant(&s, "ana", &g, "add", "not a number").await;
    assert_eq!(status, 400);

    // Subject and description, seen by members; groupJid in the body without @g.us.
    let (status, body) = s
        .post(
            "/group/updateGroupSubject/ana",
            Some(KEY),
            json!({"groupJid": digits, "subject": "Team 2"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body, json!({"update": "success"}));
    let (status, body) = s
        .post(
            &format!("/group/updateGroupDescription/ana?groupJid={g}"),
            Some(KEY),
            json!({"description": "second"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (_, seen) = info(&s, "bia", &g).await;
    assert_eq!(seen["subject"], "Team 2");
    assert_eq!(seen["desc"], "second");
    let (status, _) = s
        .post(
            &format!("/group/updateGroupSubject/ana?groupJid={g}"),
            Some(KEY),
            json!({"subject": "x".repeat(101)}),
        )
        .await;
    assert_eq!(status, 400, "a subject over 100 characters");

    // Locked: only admins edit the info.
    let set = |who: &'static str, action: &'static str| {
        let path = format!("/group/updateSetting/{who}?groupJid={g}");
        let s = &s;
        async move { s.post(&path, Some(KEY), json!({"action": action})).await }
    };
    let (status, body) = set("ana", "locked").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body, json!({}));
    assert_eq!(info(&s, "bia", &g).await.1["restrict"], true);
    let (status, body) = s
        .post(
            &format!("/group/updateGroupSubject/bia?groupJid={g}"),
            Some(KEY),
            json!({"subject": "mine"}),
        )
        .await;
    assert_eq!(status, 403, "a non-admin renaming a locked group: {body}");
    assert_eq!(body["status"], 403);
    assert!(
        body["response"]["message"][0]
            .as_str()
            .unwrap()
            .contains("admin")
    );
    assert_eq!(
        set("bia", "unlocked").await.0,
        403,
        "settings are for admins"
    );
    assert_eq!(set("ana", "unlocked").await.0, 201);
    let (status, _) = s
        .post(
            &format!("/group/updateGroupSubject/bia?groupJid={g}"),
            Some(KEY),
            json!({"subject": "mine"}),
        )
        .await;
    assert_eq!(status, 201, "anyone renames an unlocked group");
    let (_, seen) = info(&s, "caio", &g).await;
    assert_eq!(seen["subject"], "mine");
    assert_eq!(seen["subjectOwner"], jid(BIA));
    assert_eq!(seen["restrict"], false);
    assert_eq!(set("ana", "announcement").await.0, 201);
    assert_eq!(info(&s, "caio", &g).await.1["announce"], true);
    let (status, _) = s
        .post(
            "/message/sendText/bia",
            Some(KEY),
            json!({"number": g, "text": "may I?"}),
        )
        .await;
    assert_eq!(status, 403, "only admins send to an announcement group");
    assert_eq!(set("ana", "not_announcement").await.0, 201);
    assert_eq!(set("ana", "open").await.0, 400);

    // Invite code: stable until revoked; admins only.
    let (status, inv) = s
        .get(&format!("/group/inviteCode/ana?groupJid={g}"), Some(KEY))
        .await;
    assert_eq!(status, 200, "{inv}");
    let code = inv["inviteCode"].as_str().unwrap().to_string();
    assert_eq!(code.len(), 22);
    assert_eq!(
        inv["inviteUrl"],
        format!("https://chat.whatsapp.com/{code}")
    );
    let (_, again) = s
        .get(&format!("/group/inviteCode/ana?groupJid={g}"), Some(KEY))
        .await;
    assert_eq!(again["inviteCode"], code.as_str());
    let (status, rev) = s
        .post(
            &format!("/group/revokeInviteCode/ana?groupJid={g}"),
            Some(KEY),
            json!({}),
        )
        .await;
    assert_eq!(status, 201, "{rev}");
    assert_eq!(rev["revoked"], true);
    let new_code = rev["inviteCode"].as_str().unwrap();
    assert_eq!(new_code.len(), 22);
    assert_ne!(new_code, code);
    let (_, now) = s
        .get(&format!("/group/inviteCode/ana?groupJid={g}"), Some(KEY))
        .await;
    assert_eq!(now["inviteCode"], new_code);
    let (status, _) = s
        .get(&format!("/group/inviteCode/bia?groupJid={g}"), Some(KEY))
        .await;
    assert_eq!(status, 403);

    // Leave.
    let (status, body) = s
        .delete(&format!("/group/leaveGroup/caio?groupJid={g}"), Some(KEY))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"groupJid": g, "leave": true}));
    assert!(!listed(&all_groups(&s, "caio").await, &g));
    assert!(listed(&all_groups(&s, "bia").await, &g));
    let (_, seen) = info(&s, "bia", &g).await;
    assert_eq!(seen["size"], 2);
    let (status, _) = s
        .delete(&format!("/group/leaveGroup/caio?groupJid={g}"), Some(KEY))
        .await;
    assert_eq!(status, 404, "leaving twice");
    // The superadmin leaves: bia, the one left, becomes admin.
    let (status, _) = s
        .delete(&format!("/group/leaveGroup/ana?groupJid={g}"), Some(KEY))
        .await;
    assert_eq!(status, 200);
    let (_, seen) = info(&s, "bia", &g).await;
    assert_eq!(seen["size"], 1);
    assert_eq!(role(&seen["participants"], BIA), "admin");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_text_to_the_group_reaches_every_other_member() {
    let s = three_paired().await;
    let g = create_team(&s).await;
    let mut bia = s.events("instance=bia&events=MESSAGES_UPSERT").await;
    let mut caio = s.events("instance=caio&events=MESSAGES_UPSERT").await;
    let mut ana = s
        .events("instance=ana&events=MESSAGES_UPSERT,SEND_MESSAGE,MESSAGES_UPDATE")
        .await;

    let (status, sent) = s
        .post(
            "/message/sendText/ana",
            Some(KEY),
            json!({"number": g, "text": "hello team"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["key"]["remoteJid"], g.as_str());
    let id = sent["key"]["id"].as_str().unwrap().to_string();

    for (rx, who) in [(&mut bia, "bia"), (&mut caio, "caio")] {
        let got = expect_event(rx, |e| {
            e["event"] == "messages.upsert" && e["data"]["key"]["id"] == id.as_str()
        })
        .await;
        assert_eq!(got["instance"], who);
        assert_eq!(got["data"]["key"]["remoteJid"], g.as_str());
        assert_eq!(got["data"]["key"]["participant"], jid(ANA));
        assert_eq!(got["data"]["key"]["fromMe"], false);
        assert_eq!(got["data"]["message"]["conversation"], "hello team");
        assert_eq!(got["data"]["pushName"], "ana");
    }
    // The sender gets its own echo and a server ack, not an upsert of its own message.
    let ack = expect_event(&mut ana, |e| {
        e["event"] == "messages.update" && e["data"]["keyId"] == id.as_str()
    })
    .await;
    assert_eq!(ack["data"]["status"], "SERVER_ACK");

    // A reply from a member reaches the creator, keyed by its sender.
    let (status, _) = s
        .post(
            "/message/sendText/caio",
            Some(KEY),
            json!({"number": g.trim_end_matches("@g.us"), "text": "hi ana"}),
        )
        .await;
    assert_eq!(status, 201);
    let got = expect_event(&mut ana, |e| e["event"] == "messages.upsert").await;
    assert_eq!(got["data"]["key"]["participant"], jid(CAIO));
    assert_eq!(got["data"]["key"]["remoteJid"], g.as_str());
    assert_eq!(got["data"]["message"]["conversation"], "hi ana");
    // bia got it too (and never its own messages: she sent none).
    let got = expect_event(&mut bia, |e| e["event"] == "messages.upsert").await;
    assert_eq!(got["data"]["message"]["conversation"], "hi ana");

    // Someone outside the group cannot post to it.
    s.paired_loopback("dani", "15550003004").await;
    let (status, body) = s
        .post(
            "/message/sendText/dani",
            Some(KEY),
            json!({"number": g, "text": "let me in"}),
        )
        .await;
    assert_eq!(status, 404, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn group_changes_reach_members_as_events() {
    let s = three_paired().await;
    let filter = "events=GROUPS_UPSERT,GROUP_UPDATE,GROUP_PARTICIPANTS_UPDATE";
    let mut bia = s.events(&format!("instance=bia&{filter}")).await;
    let mut caio = s.events(&format!("instance=caio&{filter}")).await;
    let g = create_team(&s).await;

    let joined = expect_event(&mut bia, |e| e["event"] == "groups.upsert").await;
    assert_eq!(joined["data"][0]["id"], g.as_str());
    assert_eq!(joined["data"][0]["subject"], "Team");
    assert_eq!(
        joined["data"][0]["participants"].as_array().unwrap().len(),
        3
    );

    let (status, _) = s
        .post(
            &format!("/group/updateGroupSubject/ana?groupJid={g}"),
            Some(KEY),
            json!({"subject": "Renamed"}),
        )
        .await;
    assert_eq!(status, 201);
    let upd = expect_event(&mut caio, |e| e["event"] == "groups.update").await;
    assert_eq!(
        upd["data"],
        json!([{"id": g, "author": jid(ANA), "subject": "Renamed"}])
    );
    let (status, _) = s
        .post(
            &format!("/group/updateSetting/ana?groupJid={g}"),
            Some(KEY),
            json!({"action": "announcement"}),
        )
        .await;
    assert_eq!(status, 201);
    let upd = expect_event(&mut caio, |e| e["event"] == "groups.update").await;
    assert_eq!(upd["data"][0]["announce"], true);

    let (status, _) = update_participant(&s, "ana", &g, "promote", BIA).await;
    assert_eq!(status, 201);
    let p = expect_event(&mut caio, |e| e["event"] == "group-participants.update").await;
    assert_eq!(p["data"]["id"], g.as_str());
    assert_eq!(p["data"]["action"], "promote");
    assert_eq!(p["data"]["author"], jid(ANA));
    assert_eq!(p["data"]["participants"], json!([jid(BIA)]));
    assert_eq!(p["data"]["participantsData"][0]["phoneNumber"], BIA);

    // caio leaves: the others hear it; added back, caio hears of the group again.
    let (status, _) = s
        .delete(&format!("/group/leaveGroup/caio?groupJid={g}"), Some(KEY))
        .await;
    assert_eq!(status, 200);
    let p = expect_event(&mut bia, |e| {
        e["event"] == "group-participants.update" && e["data"]["action"] == "remove"
    })
    .await;
    assert_eq!(p["data"]["participants"], json!([jid(CAIO)]));
    let (status, _) = update_participant(&s, "ana", &g, "add", CAIO).await;
    assert_eq!(status, 201);
    let again = expect_event(&mut caio, |e| e["event"] == "groups.upsert").await;
    assert_eq!(again["data"][0]["subject"], "Renamed");
    assert_eq!(again["data"][0]["announce"], true);
}

#[tokio::test(flavor = "multi_thread")]
async fn joining_by_invite_code() {
    let s = three_paired().await;
    s.paired_loopback("dani", "15550003004").await;
    let g = create_team(&s).await;
    let mut bia = s
        .events("instance=bia&events=GROUP_PARTICIPANTS_UPDATE")
        .await;
    let mut dani = s.events("instance=dani&events=GROUPS_UPSERT").await;
    let (_, inv) = s
        .get(&format!("/group/inviteCode/ana?groupJid={g}"), Some(KEY))
        .await;
    let code = inv["inviteCode"].as_str().expect("inviteCode").to_string();

    let (status, seen) = s
        .get(
            &format!("/group/inviteInfo/dani?inviteCode={code}"),
            Some(KEY),
        )
        .await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["id"], g.as_str());
    assert_eq!(seen["subject"], "Team");
    assert_eq!(seen["size"], 3);
    let (status, body) = s
        .get(
            &format!("/group/acceptInviteCode/dani?inviteCode={code}"),
            Some(KEY),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"accepted": true, "groupJid": g}));
    assert!(listed(&all_groups(&s, "dani").await, &g));
    let p = expect_event(&mut bia, |e| e["event"] == "group-participants.update").await;
    assert_eq!(p["data"]["action"], "add");
    assert_eq!(p["data"]["participants"], json!([jid("15550003004")]));
    let joined = expect_event(&mut dani, |e| e["event"] == "groups.upsert").await;
    assert_eq!(joined["data"][0]["id"], g.as_str());
    assert_eq!(joined["data"][0]["size"], 4);

    // A revoked code leads nowhere; the new one works, also as a link.
    let (_, rev) = s
        .post(
            &format!("/group/revokeInviteCode/ana?groupJid={g}"),
            Some(KEY),
            json!({}),
        )
        .await;
    let new_code = rev["inviteCode"].as_str().expect("inviteCode").to_string();
    let (status, _) = s
        .get(
            &format!("/group/inviteInfo/caio?inviteCode={code}"),
            Some(KEY),
        )
        .await;
    assert_eq!(status, 404);
    let (status, _) = s
        .delete(&format!("/group/leaveGroup/caio?groupJid={g}"), Some(KEY))
        .await;
    assert_eq!(status, 200);
    let (status, _) = s
        .get(
            &format!("/group/acceptInviteCode/caio?inviteCode={code}"),
            Some(KEY),
        )
        .await;
    assert_eq!(status, 404, "the revoked code");
    let link = format!("https://chat.whatsapp.com/{new_code}");
    let (status, body) = s
        .get(
            &format!("/group/acceptInviteCode/caio?inviteCode={link}"),
            Some(KEY),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert!(listed(&all_groups(&s, "caio").await, &g));

    let (status, _) = s.get("/group/inviteInfo/caio", Some(KEY)).await;
    assert_eq!(status, 400, "inviteCode is required");
    let (status, _) = s
        .get("/group/acceptInviteCode/caio?inviteCode=a%20b", Some(KEY))
        .await;
    assert_eq!(status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deleted_instance_leaves_its_groups() {
    let s = three_paired().await;
    let g = create_team(&s).await;
    let mut bia = s
        .events("instance=bia&events=GROUP_PARTICIPANTS_UPDATE")
        .await;
    let (status, body) = s.delete("/instance/delete/caio", Some(KEY)).await;
    assert_eq!(status, 200, "{body}");
    let p = expect_event(&mut bia, |e| e["event"] == "group-participants.update").await;
    assert_eq!(p["data"]["action"], "remove");
    assert_eq!(p["data"]["participants"], json!([jid(CAIO)]));
    let (_, seen) = info(&s, "bia", &g).await;
    assert_eq!(seen["size"], 2);
    assert!(
        seen["participants"]
            .as_array()
            .unwrap()
            .iter()
            .all(|p| p["id"] != jid(CAIO))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_ignore_drops_group_messages_only() {
    let s = three_paired().await;
    let g = create_team(&s).await;
    let (status, body) = s
        .post(
            "/settings/set/caio",
            Some(KEY),
            json!({"rejectCall": false, "groupsIgnore": true, "alwaysOnline": false,
                   "readMessages": false, "readStatus": false, "syncFullHistory": false}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let mut bia = s.events("instance=bia&events=MESSAGES_UPSERT").await;
    let mut caio = s.events("instance=caio&events=MESSAGES_UPSERT").await;
    let (status, _) = s
        .post(
            "/message/sendText/ana",
            Some(KEY),
            json!({"number": g, "text": "to the group"}),
        )
        .await;
    assert_eq!(status, 201);
    // Sent after the group text, so it reaches caio after it: caio's first upsert being the
    // direct one shows the group text was dropped.
    let (status, _) = s
        .post(
            "/message/sendText/ana",
            Some(KEY),
            json!({"number": CAIO, "text": "just to you"}),
        )
        .await;
    assert_eq!(status, 201);
    let got = expect_event(&mut bia, |e| e["event"] == "messages.upsert").await;
    assert_eq!(got["data"]["message"]["conversation"], "to the group");
    let got = expect_event(&mut caio, |e| e["event"] == "messages.upsert").await;
    assert_eq!(got["data"]["message"]["conversation"], "just to you");
    assert_eq!(got["data"]["key"]["remoteJid"], jid(ANA));
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_survive_a_restart() {
    let s = three_paired().await;
    let g = create_team(&s).await;
    let (status, _) = update_participant(&s, "ana", &g, "promote", CAIO).await;
    assert_eq!(status, 201);
    let dir = s.stop().await;

    let s = TestServer::start_in(&dir.path, &[]).await;
    for who in ["ana", "bia", "caio"] {
        s.wait_state(who, "open").await;
    }
    let (status, seen) = info(&s, "bia", &g).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["subject"], "Team");
    assert_eq!(seen["desc"], "first");
    assert_eq!(role(&seen["participants"], ANA), "superadmin");
    assert_eq!(role(&seen["participants"], CAIO), "admin");
    assert!(listed(&all_groups(&s, "caio").await, &g));

    // Killed right after a change: the change was durable before the 201.
    let (status, _) = s
        .post(
            &format!("/group/updateGroupSubject/ana?groupJid={g}"),
            Some(KEY),
            json!({"subject": "After kill"}),
        )
        .await;
    assert_eq!(status, 201);
    let dir = s.kill().await;
    let s = TestServer::start_in(&dir.path, &[]).await;
    s.wait_state("bia", "open").await;
    assert_eq!(info(&s, "bia", &g).await.1["subject"], "After kill");
}

#[tokio::test(flavor = "multi_thread")]
async fn group_routes_need_auth_input_and_a_connection() {
    let s = TestServer::start(&[]).await;
    let token = s.create_loopback("solo").await;
    let (status, _) = s
        .get("/group/fetchAllGroups/solo?getParticipants=true", None)
        .await;
    assert_eq!(status, 401);
    let (status, _) = s
        .get(
            "/group/fetchAllGroups/nobody?getParticipants=true",
            Some(KEY),
        )
        .await;
    assert_eq!(status, 404);
    let (status, body) = s
        .get(
            "/group/fetchAllGroups/solo?getParticipants=true",
            Some(&token),
        )
        .await;
    assert_eq!(status, 400, "not connected: {body}");
    s.paired_loopback("duo", "15550003010").await;
    let (status, body) = s
        .post(
            "/group/create/duo",
            Some(KEY),
            json!({"participants": [ANA]}),
        )
        .await;
    assert_eq!(status, 400, "subject is required: {body}");
    let (status, _) = s
        .post(
            "/group/create/duo",
            Some(KEY),
            json!({"subject": "x", "participants": []}),
        )
        .await;
    assert_eq!(status, 400, "at least one participant");
    let (status, _) = s
        .post(
            "/group/create/duo",
            Some(KEY),
            json!({"subject": " ", "participants": ["15550003011"]}),
        )
        .await;
    assert_eq!(status, 400, "blank subject");
    // promoteParticipants makes everyone admin.
    s.paired_loopback("trio", "15550003011").await;
    let (status, g) = s
        .post(
            "/group/create/duo",
            Some(KEY),
            json!({"subject": "x", "participants": ["15550003011"], "promoteParticipants": true}),
        )
        .await;
    assert_eq!(status, 201, "{g}");
    assert_eq!(role(&g["participants"], "15550003011"), "admin");
    assert_eq!(role(&g["participants"], "15550003010"), "superadmin");
}

/// The participant `who` of a group's `participants`.
fn member<'a>(group: &'a Value, who: &str) -> &'a Value {
    group["participants"]
        .as_array()
        .expect("participants array")
        .iter()
        .find(|p| p["id"] == jid(who))
        .unwrap_or_else(|| panic!("{who} not in {group}"))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_group_picture_shows_and_members_carry_their_names() {
    use base64::Engine as _;
    let s = three_paired().await;
    let g = create_team(&s).await;
    let jpeg = b"\xFF\xD8\xFF\xE0 a small group picture".to_vec();
    let image = base64::engine::general_purpose::STANDARD.encode(&jpeg);

    let (status, seen) = info(&s, "ana", &g).await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["pictureUrl"], Value::Null);
    let (status, body) = s
        .post(
            &format!("/group/updateGroupPicture/ana?groupJid={g}"),
            Some(KEY),
            json!({"image": image}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body, json!({"update": "success"}));

    // Every member sees it, the setter at once (its cached "no picture" is forgotten).
    let (_, seen) = info(&s, "ana", &g).await;
    let url = seen["pictureUrl"]
        .as_str()
        .expect("a picture URL")
        .to_string();
    assert!(url.starts_with("loopback://media/"), "{url}");
    let (_, seen) = info(&s, "bia", &g).await;
    assert_eq!(seen["pictureUrl"], url.as_str());
    let list = all_groups(&s, "caio").await;
    assert_eq!(list[0]["pictureUrl"], url.as_str());

    // A locked group takes a picture from admins only; bad input is a 400.
    let (status, _) = s
        .post(
            &format!("/group/updateSetting/ana?groupJid={g}"),
            Some(KEY),
            json!({"action": "locked"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, body) = s
        .post(
            "/group/updateGroupPicture/bia",
            Some(KEY),
            json!({"groupJid": g, "image": image}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    for bad in [
        json!({"groupJid": g}),
        json!({"groupJid": g, "image": "not an image!"}),
        json!({"image": image}),
    ] {
        let (status, body) = s
            .post("/group/updateGroupPicture/ana", Some(KEY), bad.clone())
            .await;
        assert_eq!(status, 400, "{bad} -> {body}");
    }

    // Once bia has heard from ana, bia's view of the group names ana; unknown members show
    // null name and picture.
    let mut bia = s.events("instance=bia&events=MESSAGES_UPSERT").await;
    let (status, _) = s
        .post(
            "/message/sendText/ana",
            Some(KEY),
            json!({"number": g, "text": "hello"}),
        )
        .await;
    assert_eq!(status, 201);
    expect_event(&mut bia, |e| e["event"] == "messages.upsert").await;
    let seen = s
        .wait_for(&format!("/group/findGroupInfos/bia?groupJid={g}"), |v| {
            member(v, ANA)["name"] == "ana"
        })
        .await;
    let caio = member(&seen, CAIO);
    assert_eq!(caio["name"], Value::Null);
    assert_eq!(caio["imgUrl"], Value::Null);
    let p = s
        .wait_for(&format!("/group/participants/bia?groupJid={g}"), |_| true)
        .await;
    assert_eq!(member(&p, ANA)["name"], "ana");
    let (_, list) = s
        .get("/group/fetchAllGroups/bia?getParticipants=true", Some(KEY))
        .await;
    assert_eq!(member(&list[0], ANA)["name"], "ana");
}
