//! End to end against wa-mock (`tests/wa-mock`, a loopback WhatsApp Web peer): the real server
//! binary runs `WHATSAPP-BAILEYS` instances on whatsapp-rust, pointed at the mock. QR -> scan ->
//! open -> sendText to a second instance -> received; then a remote logout -> `close`, with the
//! keys wiped and the history kept. And a SIGKILL of the server: the restarted server logs the
//! instances in again from the sled keys and their Signal sessions still work; an API logout
//! unlinks the device on the phone. And groups through `client.groups()` (wa-mock answers `w:g2`).
//!
//! Needs the `wa-mock-peer` feature (the mock cannot sign WhatsApp's certificate chain):
//! `cargo test --features wa-mock-peer --test wa_e2e`.

#![cfg(feature = "wa-mock-peer")]

mod common;

use std::time::Duration;

use common::real::{LOGIN, paired};
use common::{KEY, TestServer, expect_event};
use serde_json::{Value, json};
use wa_mock::WaMock;
use zapgate::store::Store;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_pair_send_receive_then_remote_logout_wipes_keys_keeps_history() {
    let mock = WaMock::start(0).await.expect("wa-mock");
    let url = mock.url();
    let s = TestServer::start(&[("ZAPGATE_WA_URL", url.as_str())]).await;
    let mut lifecycle = s
        .events("instance=alice&events=QRCODE_UPDATED,CONNECTION_UPDATE")
        .await;
    let (alice_id, _bob_id) = tokio::join!(
        paired(&s, &mock, "alice", "15557770001"),
        paired(&s, &mock, "bob", "15557770002"),
    );
    let (_, st) = s.get("/instance/connectionState/alice", Some(KEY)).await;
    assert_eq!(st["instance"]["state"], "open");
    // The real engine's lifecycle, as webhooks and streams see it, in order.
    let connecting = expect_event(&mut lifecycle, |e| e["event"] == "connection.update").await;
    assert_eq!(connecting["data"]["state"], "connecting", "{connecting}");
    let qr = expect_event(&mut lifecycle, |e| e["event"] == "qrcode.updated").await;
    assert!(qr["data"]["qrcode"]["code"].is_string(), "{qr}");
    assert!(
        qr["data"]["qrcode"]["base64"]
            .as_str()
            .is_some_and(|b| b.starts_with("data:image/png;base64,")),
        "{qr}"
    );
    let open = expect_event(&mut lifecycle, |e| e["event"] == "connection.update").await;
    assert_eq!(open["data"]["state"], "open", "{open}");
    assert_eq!(open["data"]["wuid"], "15557770001@s.whatsapp.net", "{open}");
    let (_, list) = s.get("/instance/fetchInstances", Some(KEY)).await;
    let alice = list
        .as_array()
        .and_then(|l| l.iter().find(|i| i["name"] == "alice"))
        .cloned()
        .unwrap_or(Value::Null);
    assert_eq!(alice["ownerJid"], "15557770001@s.whatsapp.net", "{alice}");

    let mut bob_events = s.events("instance=bob&events=MESSAGES_UPSERT").await;
    let mut alice_events = s
        .events("instance=alice&events=MESSAGES_UPDATE,CONNECTION_UPDATE,LOGOUT_INSTANCE")
        .await;
    let (status, sent) = s
        .post(
            "/message/sendText/alice",
            Some(KEY),
            json!({"number": "15557770002", "text": "hello bob, over wa-mock"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let id = sent["key"]["id"].as_str().expect("key.id").to_string();
    let got = expect_event(&mut bob_events, |e| e["event"] == "messages.upsert").await;
    assert_eq!(got["data"]["key"]["id"], id.as_str());
    assert_eq!(got["data"]["key"]["fromMe"], false);
    assert_eq!(
        got["data"]["key"]["remoteJid"],
        "15557770001@s.whatsapp.net"
    );
    assert_eq!(
        got["data"]["message"]["conversation"],
        "hello bob, over wa-mock"
    );
    let ack = expect_event(&mut alice_events, |e| {
        e["event"] == "messages.update" && e["data"]["keyId"] == id.as_str()
    })
    .await;
    assert_eq!(ack["data"]["status"], "SERVER_ACK", "{ack}");

    // The phone unlinks alice's device.
    assert!(mock.logout("15557770001"));
    expect_event(&mut alice_events, |e| e["event"] == "logout.instance").await;
    s.wait_state_within("alice", "close", LOGIN).await;
    assert_eq!(s.state("bob").await, "open");

    let dir = s.stop().await;
    let store = Store::open(&dir.path, 8).expect("reopen the data dir");
    let alice_id = alice_id.parse().expect("uuid");
    let rows = store.instance_rows(alice_id).expect("rows");
    assert!(
        !rows.iter().any(|(tree, _)| *tree == "keys"),
        "alice's keys survived the logout: {rows:?}"
    );
    assert!(
        rows.iter().any(|(tree, n)| *tree == "msgs" && *n >= 1),
        "alice's history was not kept: {rows:?}"
    );
    store.close().await;
    mock.shutdown().await;
}

/// Sends `text` from one instance to another and waits until the receiver reports it.
async fn deliver(s: &TestServer, from: &str, to: &str, to_phone: &str, text: &str) {
    let mut events = s
        .events(&format!("instance={to}&events=MESSAGES_UPSERT"))
        .await;
    let (status, sent) = s
        .post(
            &format!("/message/sendText/{from}"),
            Some(KEY),
            json!({"number": to_phone, "text": text}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let got = expect_event(&mut events, |e| {
        e["event"] == "messages.upsert" && e["data"]["message"]["conversation"] == text
    })
    .await;
    assert_eq!(got["data"]["key"]["id"], sent["key"]["id"]);
}

/// The keys survive a SIGKILL: after a crash the restarted server logs both instances in again
/// without a QR and their Signal sessions still encrypt and decrypt in both directions.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sessions_survive_a_sigkill_and_log_in_again_without_qr() {
    let mock = WaMock::start(0).await.expect("wa-mock");
    let url = mock.url();
    let env = [("ZAPGATE_WA_URL", url.as_str())];
    let s = TestServer::start(&env).await;
    tokio::join!(
        paired(&s, &mock, "carol", "15557770003"),
        paired(&s, &mock, "dave", "15557770004"),
    );
    deliver(&s, "carol", "dave", "15557770004", "before the crash").await;
    let logins_before = mock.stats().logins;

    let dir = s.kill().await;
    let s = TestServer::start_in(&dir.path, &env).await;
    s.wait_state_within("carol", "open", LOGIN).await;
    s.wait_state_within("dave", "open", LOGIN).await;
    let stats = mock.stats();
    assert!(stats.logins >= logins_before + 2, "{stats:?}");
    assert!(
        stats.ik_logins >= 2,
        "paired devices log in with Noise IK: {stats:?}"
    );
    deliver(&s, "dave", "carol", "15557770003", "after the crash, reply").await;
    deliver(&s, "carol", "dave", "15557770004", "after the crash, again").await;

    // Logout through the API unlinks the device on the phone's side and answers promptly.
    let started = std::time::Instant::now();
    let (status, body) = s.delete("/instance/logout/carol", Some(KEY)).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        started.elapsed() < Duration::from_secs(6),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(s.state("carol").await, "close");
    let carol = mock
        .accounts()
        .into_iter()
        .find(|a| a.phone == "15557770003")
        .expect("carol's account");
    assert!(carol.devices.is_empty(), "device still linked on the phone");
    assert_eq!(s.state("dave").await, "open");
    s.stop().await;
    mock.shutdown().await;
}

/// Groups on the real engine: `client.groups()` over wa-mock's `w:g2`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_through_the_real_engine() {
    let mock = WaMock::start(0).await.expect("wa-mock");
    let url = mock.url();
    let s = TestServer::start(&[("ZAPGATE_WA_URL", url.as_str())]).await;
    tokio::join!(
        paired(&s, &mock, "erin", "15557770005"),
        paired(&s, &mock, "finn", "15557770006"),
    );
    let filter = "events=GROUPS_UPSERT,GROUP_UPDATE,GROUP_PARTICIPANTS_UPDATE";
    let mut finn_events = s.events(&format!("instance=finn&{filter}")).await;
    let mut erin_events = s.events(&format!("instance=erin&{filter}")).await;
    let (status, g) = s
        .post(
            "/group/create/erin",
            Some(KEY),
            json!({"subject": "Real team", "participants": ["15557770006"], "description": "hi"}),
        )
        .await;
    assert_eq!(status, 201, "{g}");
    let id = g["id"].as_str().expect("id").to_string();
    assert!(id.ends_with("@g.us"), "{id}");
    assert_eq!(g["subject"], "Real team");
    assert_eq!(g["owner"], "15557770005@s.whatsapp.net");
    // WhatsApp's w:gp2 notifications become Evolution's group events.
    let joined = expect_event(&mut finn_events, |e| e["event"] == "groups.upsert").await;
    assert_eq!(joined["data"][0]["id"], id.as_str(), "{joined}");
    assert_eq!(joined["data"][0]["subject"], "Real team");

    // The other account sees both members, with their roles.
    let (status, info) = s
        .get(
            &format!("/group/findGroupInfos/finn?groupJid={id}"),
            Some(KEY),
        )
        .await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["size"], 2);
    assert_eq!(info["desc"], "hi");
    let mut members: Vec<(String, Value)> = info["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .map(|p| {
            (
                p["id"].as_str().unwrap_or("").to_string(),
                p["admin"].clone(),
            )
        })
        .collect();
    members.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(
        members,
        vec![
            (
                "15557770005@s.whatsapp.net".to_string(),
                json!("superadmin")
            ),
            ("15557770006@s.whatsapp.net".to_string(), Value::Null),
        ]
    );

    // Texts to the group reach the other member (sender keys, distributed through the mock),
    // from the group, by their author; both ways, so each side sets up its own sender key.
    for (from, to, author) in [
        ("erin", "finn", "15557770005"),
        ("finn", "erin", "15557770006"),
    ] {
        let mut inbox = s
            .events(&format!("instance={to}&events=MESSAGES_UPSERT"))
            .await;
        let text = format!("hello from {from}");
        let (status, sent) = s
            .post(
                &format!("/message/sendText/{from}"),
                Some(KEY),
                json!({"number": id, "text": text}),
            )
            .await;
        assert_eq!(status, 201, "{sent}");
        assert_eq!(sent["key"]["remoteJid"], id.as_str());
        let got = expect_event(&mut inbox, |e| {
            e["event"] == "messages.upsert" && e["data"]["key"]["id"] == sent["key"]["id"]
        })
        .await;
        assert_eq!(got["data"]["key"]["remoteJid"], id.as_str(), "{got}");
        assert_eq!(
            got["data"]["key"]["participant"],
            format!("{author}@s.whatsapp.net"),
            "{got}"
        );
        assert_eq!(got["data"]["key"]["fromMe"], false);
        assert_eq!(got["data"]["message"]["conversation"], text.as_str());
    }

    // Disappearing messages: the other member hears of the timer as a groups.update.
    let (status, body) = s
        .post(
            &format!("/group/toggleEphemeral/erin?groupJid={id}"),
            Some(KEY),
            json!({"expiration": 86_400}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let timer = expect_event(&mut finn_events, |e| {
        e["event"] == "groups.update" && e["data"][0]["ephemeralDuration"].is_number()
    })
    .await;
    assert_eq!(timer["data"][0]["ephemeralDuration"], 86_400, "{timer}");
    assert_eq!(timer["data"][0]["id"], id.as_str());

    // A member added by the number written with Brazil's ninth digit joins under the form the
    // account is registered with (an older Rio account, without it).
    const RIO: &str = "552187654322";
    let (status, known) = s
        .post(
            "/chat/whatsappNumbers/erin",
            Some(KEY),
            json!({"numbers": [RIO]}),
        )
        .await;
    assert_eq!(status, 200, "{known}");
    let (status, added) = s
        .post(
            &format!("/group/updateParticipant/erin?groupJid={id}"),
            Some(KEY),
            json!({"action": "add", "participants": ["+55 21 98765-4322"]}),
        )
        .await;
    assert_eq!(status, 201, "{added}");
    let (status, info) = s
        .get(
            &format!("/group/findGroupInfos/erin?groupJid={id}"),
            Some(KEY),
        )
        .await;
    assert_eq!(status, 200, "{info}");
    assert!(
        info["participants"]
            .as_array()
            .expect("participants")
            .iter()
            .any(|p| p["id"] == format!("{RIO}@s.whatsapp.net")),
        "{info}"
    );
    // Removed the same way.
    let (status, removed) = s
        .post(
            &format!("/group/updateParticipant/erin?groupJid={id}"),
            Some(KEY),
            json!({"action": "remove", "participants": ["5521987654322"]}),
        )
        .await;
    assert_eq!(status, 201, "{removed}");
    expect_event(&mut erin_events, |e| {
        e["event"] == "group-participants.update"
            && e["data"]["action"] == "remove"
            && e["data"]["participants"] == json!([format!("{RIO}@s.whatsapp.net")])
    })
    .await;
    let (_, info) = s
        .get(
            &format!("/group/findGroupInfos/erin?groupJid={id}"),
            Some(KEY),
        )
        .await;
    assert_eq!(info["size"], 2, "{info}");
    let (status, list) = s
        .get(
            "/group/fetchAllGroups/finn?getParticipants=false",
            Some(KEY),
        )
        .await;
    assert_eq!(status, 200, "{list}");
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");

    // WhatsApp's refusals come back as 4xx, and changes are seen by the member.
    let (status, body) = s
        .post(
            &format!("/group/updateSetting/finn?groupJid={id}"),
            Some(KEY),
            json!({"action": "locked"}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
    let (status, _) = s
        .post(
            &format!("/group/updateGroupSubject/erin?groupJid={id}"),
            Some(KEY),
            json!({"subject": "Renamed"}),
        )
        .await;
    assert_eq!(status, 201);
    let upd = expect_event(&mut finn_events, |e| e["event"] == "groups.update").await;
    assert_eq!(
        upd["data"],
        json!([{"id": id, "author": "15557770005@s.whatsapp.net", "subject": "Renamed"}])
    );
    let (status, inv) = s
        .get(&format!("/group/inviteCode/erin?groupJid={id}"), Some(KEY))
        .await;
    assert_eq!(status, 200, "{inv}");
    assert_eq!(inv["inviteCode"].as_str().map(str::len), Some(22), "{inv}");
    let (status, _) = s
        .delete(&format!("/group/leaveGroup/finn?groupJid={id}"), Some(KEY))
        .await;
    assert_eq!(status, 200);
    let left = expect_event(&mut erin_events, |e| {
        e["event"] == "group-participants.update" && e["data"]["action"] == "remove"
    })
    .await;
    assert_eq!(
        left["data"]["participants"],
        json!(["15557770006@s.whatsapp.net"])
    );
    let (status, info) = s
        .get(
            &format!("/group/findGroupInfos/erin?groupJid={id}"),
            Some(KEY),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(info["subject"], "Renamed");
    assert_eq!(info["size"], 1);
    let (status, _) = s
        .get(
            &format!("/group/findGroupInfos/finn?groupJid={id}"),
            Some(KEY),
        )
        .await;
    assert_eq!(status, 404, "finn left");
    // And back in through the invite code.
    let code = inv["inviteCode"].as_str().expect("inviteCode");
    let (status, seen) = s
        .get(
            &format!("/group/inviteInfo/finn?inviteCode={code}"),
            Some(KEY),
        )
        .await;
    assert_eq!(status, 200, "{seen}");
    assert_eq!(seen["subject"], "Renamed");
    let (status, body) = s
        .get(
            &format!("/group/acceptInviteCode/finn?inviteCode={code}"),
            Some(KEY),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"accepted": true, "groupJid": id}));
    let (status, info) = s
        .get(
            &format!("/group/findGroupInfos/finn?groupJid={id}"),
            Some(KEY),
        )
        .await;
    assert_eq!(status, 200, "{info}");
    assert_eq!(info["size"], 2);
    s.stop().await;
    mock.shutdown().await;
}

/// A binary built for wa-mock never talks to anything but a loopback address.
#[tokio::test]
async fn mock_peer_build_refuses_a_non_loopback_wa_url() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_zapgate"))
        .args(["--port", "0", "--bind", "127.0.0.1", "--api-key", KEY])
        .arg("--data-dir")
        .arg(dir.path())
        .env("ZAPGATE_WA_URL", "wss://web.whatsapp.com/ws/chat")
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(20), out)
        .await
        .expect("exits at once")
        .expect("run");
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("wa-mock-peer"), "{stderr}");
    assert!(!String::from_utf8_lossy(&out.stdout).contains("listening on"));
}

/// A connection that stays up but goes silent (no pongs, nothing) is cut by our watchdog and
/// replaced, long before the client's own keepalive would notice.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchdog_replaces_a_silent_connection() {
    let mock = WaMock::start(0).await.expect("wa-mock");
    let url = mock.url();
    let env = [
        ("ZAPGATE_WA_URL", url.as_str()),
        ("ZAPGATE_WA_WATCHDOG_MS", "3000"),
    ];
    let s = TestServer::start(&env).await;
    paired(&s, &mock, "erin", "15557770009").await;
    let mut events = s.events("instance=erin&events=CONNECTION_UPDATE").await;
    let logins = mock.stats().logins;

    assert_eq!(mock.silence("15557770009"), 1, "one live connection");
    expect_event(&mut events, |e| e["data"]["state"] == "connecting").await;
    let back = tokio::time::timeout(LOGIN, async {
        expect_event(&mut events, |e| e["data"]["state"] == "open").await
    })
    .await
    .expect("open again");
    assert_eq!(back["data"]["instance"], "erin");
    assert!(
        mock.stats().logins > logins,
        "a new login replaced the silent connection"
    );
    let (_, rows) = s
        .get("/instance/fetchInstances?instanceName=erin", Some(KEY))
        .await;
    let last_error = rows[0]["zapgate"]["lastError"].as_str().unwrap_or_default();
    assert!(last_error.contains("silent"), "{rows}");
}

/// `/instance/connect?number=` on a real-engine instance: the client asks WhatsApp for a pairing
/// code for that phone and zapgate shows the code the client made, beside the QR.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_with_a_number_shows_a_pairing_code() {
    let mock = WaMock::start(0).await.expect("wa-mock");
    let url = mock.url();
    let s = TestServer::start(&[
        ("ZAPGATE_WA_URL", url.as_str()),
        // The client derives the code's key with 131,072 PBKDF2 rounds, which an unoptimised
        // test build on a loaded 2-core machine takes seconds over: wait long enough for it.
        ("ZAPGATE_QR_WAIT_MS", "60000"),
    ])
    .await;
    let (status, created) = s
        .post(
            "/instance/create",
            Some(KEY),
            json!({"instanceName": "fay", "integration": "WHATSAPP-BAILEYS", "number": "5511988887777"}),
        )
        .await;
    assert_eq!(status, 201, "{created}");
    let (status, qr) = s
        .get("/instance/connect/fay?number=5511988887777", Some(KEY))
        .await;
    assert_eq!(status, 200, "{qr}");
    let code = qr["pairingCode"].as_str().unwrap_or_else(|| panic!("{qr}"));
    assert_eq!(code.len(), 8, "{code}");
    assert!(code.chars().all(|c| c.is_ascii_alphanumeric()), "{code}");
    assert!(mock.stats().pair_code_requests >= 1);
    assert_eq!(s.state("fay").await, "connecting");
}
