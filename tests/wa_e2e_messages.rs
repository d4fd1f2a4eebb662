//! The message and chat operations end to end through the real engine (whatsapp-rust) against
//! wa-mock: two paired `WHATSAPP-BAILEYS` instances, alice and bob, talk over the mock and each
//! operation is asserted as the other side sees it (`/events`) and in the HTTP answers.
//!
//! Needs the `wa-mock-peer` feature: `cargo test --features wa-mock-peer --test wa_e2e_messages`.

#![cfg(feature = "wa-mock-peer")]

mod common;

use common::real::paired;
use common::{KEY, TestServer, expect_event};
use serde_json::{Value, json};
use tokio::sync::mpsc::Receiver;
use wa_mock::WaMock;

const ALICE: &str = "15557780001";
const BOB: &str = "15557780002";
const ALICE_JID: &str = "15557780001@s.whatsapp.net";
const BOB_JID: &str = "15557780002@s.whatsapp.net";

struct Pair {
    mock: WaMock,
    s: TestServer,
}

async fn pair() -> Pair {
    let mock = WaMock::start(0).await.expect("wa-mock");
    let url = mock.url();
    let s = TestServer::start(&[("ZAPGATE_WA_URL", url.as_str())]).await;
    tokio::join!(
        paired(&s, &mock, "alice", ALICE),
        paired(&s, &mock, "bob", BOB),
    );
    Pair { mock, s }
}

const MESSAGE_EVENTS: &str =
    "events=MESSAGES_UPSERT,MESSAGES_UPDATE,MESSAGES_DELETE,MESSAGES_EDITED,PRESENCE_UPDATE";

/// Sends `body` to `/message/{route}/alice` and waits for bob's `messages.upsert` of it.
async fn alice_sends(s: &TestServer, bob: &mut Receiver<Value>, route: &str, body: Value) -> Value {
    let (status, sent) = s
        .post(&format!("/message/{route}/alice"), Some(KEY), body)
        .await;
    assert_eq!(status, 201, "{route}: {sent}");
    let id = sent["key"]["id"].as_str().expect("key.id").to_string();
    assert_eq!(sent["key"]["fromMe"], true, "{sent}");
    assert_eq!(sent["key"]["remoteJid"], BOB_JID, "{sent}");
    let got = expect_event(bob, |e| {
        e["event"] == "messages.upsert" && e["data"]["key"]["id"] == id.as_str()
    })
    .await;
    assert_eq!(got["data"]["key"]["fromMe"], false, "{got}");
    assert_eq!(got["data"]["key"]["remoteJid"], ALICE_JID, "{got}");
    assert_eq!(
        got["data"]["messageType"], sent["messageType"],
        "{route}: bob sees the type alice sent: {got}"
    );
    got["data"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_between_two_real_engines() {
    let Pair { mock, s } = pair().await;
    let mut bob = s.events(&format!("instance=bob&{MESSAGE_EVENTS}")).await;
    let mut alice = s.events(&format!("instance=alice&{MESSAGE_EVENTS}")).await;

    // Bob writes first, so alice has something to quote and react to.
    let (status, bobs) = s
        .post(
            "/message/sendText/bob",
            Some(KEY),
            json!({"number": ALICE, "text": "lunch at noon?"}),
        )
        .await;
    assert_eq!(status, 201, "{bobs}");
    let bobs_id = bobs["key"]["id"].as_str().expect("key.id").to_string();
    let got = expect_event(&mut alice, |e| {
        e["event"] == "messages.upsert" && e["data"]["key"]["id"] == bobs_id.as_str()
    })
    .await;
    assert_eq!(got["data"]["message"]["conversation"], "lunch at noon?");

    // 1. A quoted reply with a mention.
    let reply = alice_sends(
        &s,
        &mut bob,
        "sendText",
        json!({
            "number": BOB,
            "text": "yes @15557780002",
            "quoted": {"key": {"id": bobs_id}},
            "mentioned": [BOB],
        }),
    )
    .await;
    // Evolution flattens extendedTextMessage to conversation and lifts its contextInfo.
    assert_eq!(reply["messageType"], "conversation", "{reply}");
    assert_eq!(
        reply["message"]["conversation"], "yes @15557780002",
        "{reply}"
    );
    let ctx = &reply["contextInfo"];
    assert_eq!(ctx["stanzaId"], bobs_id.as_str(), "{reply}");
    assert_eq!(ctx["participant"], BOB_JID, "{reply}");
    assert_eq!(
        ctx["quotedMessage"]["conversation"], "lunch at noon?",
        "{reply}"
    );
    assert_eq!(ctx["mentionedJid"], json!([BOB_JID]), "{reply}");

    // 2. Location, contacts, poll, reaction.
    let loc = alice_sends(
        &s,
        &mut bob,
        "sendLocation",
        json!({"number": BOB, "latitude": -23.5505, "longitude": -46.6333,
               "name": "Praça da Sé", "address": "São Paulo"}),
    )
    .await;
    assert_eq!(loc["messageType"], "locationMessage");
    let l = &loc["message"]["locationMessage"];
    assert_eq!(l["degreesLatitude"], -23.5505, "{loc}");
    assert_eq!(l["degreesLongitude"], -46.6333, "{loc}");
    assert_eq!(l["name"], "Praça da Sé", "{loc}");
    assert_eq!(l["address"], "São Paulo", "{loc}");

    let one = alice_sends(
        &s,
        &mut bob,
        "sendContact",
        json!({"number": BOB, "contact": [
            {"fullName": "Carol Card", "wuid": "15557780003", "phoneNumber": "+1 555 778 0003"}
        ]}),
    )
    .await;
    assert_eq!(one["messageType"], "contactMessage");
    let card = &one["message"]["contactMessage"];
    assert_eq!(card["displayName"], "Carol Card", "{one}");
    let vcard = card["vcard"].as_str().expect("vcard");
    assert!(vcard.contains("FN:Carol Card"), "{vcard}");
    assert!(vcard.contains("waid=15557780003"), "{vcard}");

    let two = alice_sends(
        &s,
        &mut bob,
        "sendContact",
        json!({"number": BOB, "contact": [
            {"fullName": "Carol Card", "wuid": "15557780003", "phoneNumber": "+1 555 778 0003"},
            {"fullName": "Dan Dial", "wuid": "15557780004", "phoneNumber": "+1 555 778 0004"}
        ]}),
    )
    .await;
    assert_eq!(two["messageType"], "contactsArrayMessage");
    let cards = two["message"]["contactsArrayMessage"]["contacts"]
        .as_array()
        .expect("contacts");
    let names: Vec<&str> = cards
        .iter()
        .filter_map(|c| c["displayName"].as_str())
        .collect();
    assert_eq!(names, ["Carol Card", "Dan Dial"], "{two}");

    let poll = alice_sends(
        &s,
        &mut bob,
        "sendPoll",
        json!({"number": BOB, "name": "Where?", "selectableCount": 1,
               "values": ["Cantina", "Park"]}),
    )
    .await;
    assert!(
        poll["messageType"]
            .as_str()
            .is_some_and(|t| t.starts_with("pollCreationMessage")),
        "{poll}"
    );
    let p = &poll["message"][poll["messageType"].as_str().unwrap_or_default()];
    assert_eq!(p["name"], "Where?", "{poll}");
    assert_eq!(
        p["options"],
        json!([{"optionName": "Cantina"}, {"optionName": "Park"}]),
        "{poll}"
    );
    assert_eq!(p["selectableOptionsCount"], 1, "{poll}");

    let (status, sent) = s
        .post(
            "/message/sendReaction/alice",
            Some(KEY),
            json!({"key": {"remoteJid": BOB_JID, "fromMe": false, "id": bobs_id},
                   "reaction": "👍"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let react = expect_event(&mut bob, |e| {
        e["event"] == "messages.upsert" && e["data"]["messageType"] == "reactionMessage"
    })
    .await;
    let r = &react["data"]["message"]["reactionMessage"];
    assert_eq!(r["text"], "👍", "{react}");
    assert_eq!(r["key"]["id"], bobs_id.as_str(), "{react}");
    assert_eq!(react["data"]["key"]["id"], sent["key"]["id"], "{react}");

    // 3. An edit of alice's first text.
    let original = alice_sends(
        &s,
        &mut bob,
        "sendText",
        json!({"number": BOB, "text": "see you at 12"}),
    )
    .await;
    let original_id = original["key"]["id"].as_str().expect("id").to_string();
    let (status, edited) = s
        .post(
            "/chat/updateMessage/alice",
            Some(KEY),
            json!({"number": BOB, "key": {"id": original_id, "remoteJid": BOB_JID, "fromMe": true},
                   "text": "see you at 12:30"}),
        )
        .await;
    assert!((200..300).contains(&status), "{status} {edited}");
    // Evolution answers with Baileys' raw WAMessage of the edit.
    let answer = &edited["message"]["protocolMessage"];
    assert_eq!(answer["type"], "MESSAGE_EDIT", "{edited}");
    assert_eq!(answer["key"]["id"], original_id.as_str(), "{edited}");
    assert_eq!(
        answer["editedMessage"]["conversation"], "see you at 12:30",
        "{edited}"
    );
    let ed = expect_event(&mut bob, |e| e["event"] == "messages.edited").await;
    let pm = &ed["data"]["message"]["protocolMessage"];
    assert_eq!(pm["type"], "MESSAGE_EDIT", "{ed}");
    assert_eq!(pm["key"]["id"], original_id.as_str(), "{ed}");
    assert_eq!(
        pm["editedMessage"]["conversation"], "see you at 12:30",
        "{ed}"
    );

    // 4. Delete for everyone.
    let doomed = alice_sends(
        &s,
        &mut bob,
        "sendText",
        json!({"number": BOB, "text": "oops, wrong chat"}),
    )
    .await;
    let doomed_id = doomed["key"]["id"].as_str().expect("id").to_string();
    let (status, revoked) = s
        .call(
            reqwest::Method::DELETE,
            "/chat/deleteMessageForEveryone/alice",
            Some(KEY),
            Some(json!({"id": doomed_id, "remoteJid": BOB_JID, "fromMe": true})),
        )
        .await;
    assert!((200..300).contains(&status), "{status} {revoked}");
    let answer = &revoked["message"]["protocolMessage"];
    assert_eq!(answer["type"], "REVOKE", "{revoked}");
    assert_eq!(answer["key"]["id"], doomed_id.as_str(), "{revoked}");
    let del = expect_event(&mut bob, |e| e["event"] == "messages.delete").await;
    assert_eq!(del["data"]["id"], doomed_id.as_str(), "{del}");
    assert_eq!(del["data"]["remoteJid"], ALICE_JID, "{del}");
    assert_eq!(del["data"]["fromMe"], false, "{del}");

    // 5. Bob reads alice's message: alice sees READ.
    let (status, body) = s
        .post(
            "/chat/markMessageAsRead/bob",
            Some(KEY),
            json!({"readMessages": [{"remoteJid": ALICE_JID, "fromMe": false, "id": original_id}]}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let read = expect_event(&mut alice, |e| {
        e["event"] == "messages.update"
            && e["data"]["keyId"] == original_id.as_str()
            && e["data"]["status"] == "READ"
    })
    .await;
    assert_eq!(read["data"]["remoteJid"], BOB_JID, "{read}");
    assert_eq!(read["data"]["fromMe"], true, "{read}");

    // 6. Alice types: bob sees composing.
    let (status, body) = s
        .post(
            "/chat/sendPresence/alice",
            Some(KEY),
            json!({"number": BOB, "presence": "composing", "delay": 0}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body, json!({"presence": "composing"}));
    let typing = expect_event(&mut bob, |e| e["event"] == "presence.update").await;
    assert_eq!(typing["data"]["id"], ALICE_JID, "{typing}");
    assert_eq!(
        typing["data"]["presences"][ALICE_JID]["lastKnownPresence"], "composing",
        "{typing}"
    );

    // The stored histories, through findMessages: the edit replaced the text, the delete
    // flagged the row, on both sides; bob's received messages and alice's sent ones are there.
    let record = |page: &Value, id: &str| -> Value {
        page["messages"]["records"]
            .as_array()
            .expect("records")
            .iter()
            .find(|r| r["key"]["id"] == id)
            .unwrap_or_else(|| panic!("{id} not in {page}"))
            .clone()
    };
    for (who, chat, from_me) in [("bob", ALICE_JID, false), ("alice", BOB_JID, true)] {
        let (status, page) = s
            .post(
                &format!("/chat/findMessages/{who}"),
                Some(KEY),
                json!({"where": {"key": {"remoteJid": chat}}, "offset": 100}),
            )
            .await;
        assert_eq!(status, 200, "{page}");
        let row = record(&page, &original_id);
        assert_eq!(row["key"]["fromMe"], from_me, "{row}");
        assert_eq!(row["message"]["conversation"], "see you at 12:30", "{row}");
        assert_eq!(row["status"], "EDITED", "{who}: {row}");
        let row = record(&page, &doomed_id);
        assert_eq!(row["status"], "DELETED", "{who}: {row}");
        assert_eq!(row["key"]["deleted"], true, "{row}");
        let received = record(&page, &bobs_id);
        assert_eq!(received["key"]["fromMe"], who == "bob", "{received}");
    }
    s.stop().await;
    mock.shutdown().await;
}

fn account(mock: &WaMock, phone: &str) -> wa_mock::AccountInfo {
    mock.accounts()
        .into_iter()
        .find(|a| a.phone == phone)
        .expect("account on the mock")
}

/// Numbers, profiles, privacy and blocking: Evolution's answers, backed by the mock's state.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn profiles_privacy_and_blocking_through_the_real_engine() {
    let Pair { mock, s } = pair().await;

    let (status, numbers) = s
        .post(
            "/chat/whatsappNumbers/alice",
            Some(KEY),
            json!({"numbers": [BOB, "15557780099"]}),
        )
        .await;
    assert_eq!(status, 200, "{numbers}");
    assert_eq!(
        numbers,
        json!([
            {"jid": BOB_JID, "exists": true, "number": BOB},
            // Every number "is on WhatsApp" in the mock.
            {"jid": "15557780099@s.whatsapp.net", "exists": true, "number": "15557780099"},
        ])
    );

    // Brazil's ninth digit: an account registered without it (an older Rio number) is found
    // from the number written with it, and a message to that number reaches the account.
    const RIO: &str = "552187654321";
    let (status, numbers) = s
        .post(
            "/chat/whatsappNumbers/alice",
            Some(KEY),
            json!({"numbers": [RIO]}),
        )
        .await;
    assert_eq!(status, 200, "{numbers}");
    let (status, numbers) = s
        .post(
            "/chat/whatsappNumbers/alice",
            Some(KEY),
            json!({"numbers": ["+55 (21) 98765-4321"]}),
        )
        .await;
    assert_eq!(status, 200, "{numbers}");
    assert_eq!(
        numbers,
        json!([{"jid": format!("{RIO}@s.whatsapp.net"), "exists": true, "number": "+55 (21) 98765-4321"}])
    );
    let (status, sent) = s
        .post(
            "/message/sendText/alice",
            Some(KEY),
            json!({"number": "5521987654321", "text": "oi"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    assert_eq!(sent["key"]["remoteJid"], format!("{RIO}@s.whatsapp.net"));

    let (status, pic) = s
        .post(
            "/chat/fetchProfilePictureUrl/alice",
            Some(KEY),
            json!({"number": BOB}),
        )
        .await;
    assert_eq!(status, 200, "{pic}");
    assert_eq!(pic, json!({"wuid": BOB_JID, "profilePictureUrl": null}));

    // Bob sets his about text; alice reads it in his profile.
    let (status, body) = s
        .post(
            "/chat/updateProfileStatus/bob",
            Some(KEY),
            json!({"status": "out for lunch"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"update": "success"}));
    assert_eq!(account(&mock, BOB).about.as_deref(), Some("out for lunch"));
    let (status, profile) = s
        .post(
            "/chat/fetchProfile/alice",
            Some(KEY),
            json!({"number": BOB}),
        )
        .await;
    assert_eq!(status, 200, "{profile}");
    assert_eq!(profile["wuid"], BOB_JID, "{profile}");
    assert_eq!(profile["numberExists"], true, "{profile}");
    assert_eq!(profile["status"], json!({"status": "out for lunch"}));
    assert_eq!(profile["isBusiness"], false, "{profile}");
    assert_eq!(profile["picture"], Value::Null, "{profile}");

    let (status, body) = s
        .post(
            "/chat/updateProfileName/alice",
            Some(KEY),
            json!({"name": "Alice A."}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body, json!({"update": "success"}));
    // Alice's own profile shows the new name.
    let (status, own) = s
        .post("/chat/fetchProfile/alice", Some(KEY), json!({}))
        .await;
    assert_eq!(status, 200, "{own}");
    assert_eq!(own["wuid"], ALICE_JID, "{own}");
    assert_eq!(own["name"], "Alice A.", "{own}");

    // Privacy: the defaults, a change, and the change read back.
    let (status, privacy) = s.get("/chat/fetchPrivacySettings/alice", Some(KEY)).await;
    assert_eq!(status, 200, "{privacy}");
    assert_eq!(
        privacy,
        json!({"readreceipts": "all", "profile": "all", "status": "contacts",
               "online": "all", "last": "all", "groupadd": "all"})
    );
    let wanted = json!({"readreceipts": "none", "profile": "contacts", "status": "none",
                        "online": "match_last_seen", "last": "none", "groupadd": "contacts"});
    let (status, body) = s
        .post(
            "/chat/updatePrivacySettings/alice",
            Some(KEY),
            wanted.clone(),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body, json!({"update": "success", "data": wanted}));
    let (status, privacy) = s.get("/chat/fetchPrivacySettings/alice", Some(KEY)).await;
    assert_eq!(status, 200, "{privacy}");
    assert_eq!(privacy, wanted);

    // Blocking and unblocking bob, as the mock's phone sees it.
    let (status, body) = s
        .post(
            "/chat/updateBlockStatus/alice",
            Some(KEY),
            json!({"number": BOB, "status": "block"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body, json!({"block": "success"}));
    assert_eq!(account(&mock, ALICE).blocked, [BOB]);
    let (status, body) = s
        .post(
            "/chat/updateBlockStatus/alice",
            Some(KEY),
            json!({"number": BOB, "status": "unblock"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert!(account(&mock, ALICE).blocked.is_empty());

    s.stop().await;
    mock.shutdown().await;
}

/// Media through the crate's upload and download: alice's image is encrypted, uploaded to the
/// mock's HTTPS media host, sent as an `imageMessage`; bob's server downloads and decrypts it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_upload_and_download_through_the_mock_media_host() {
    use base64::Engine as _;
    let Pair { mock, s } = pair().await;
    let mut bob = s.events(&format!("instance=bob&{MESSAGE_EVENTS}")).await;
    // Not a real JPEG: WhatsApp does not look inside, and neither does the engine.
    let bytes: Vec<u8> = (0..40_000u32).map(|i| (i * 7 % 251) as u8).collect();
    let b64 = base64::engine::general_purpose::STANDARD.encode(&bytes);
    let got = alice_sends(
        &s,
        &mut bob,
        "sendMedia",
        json!({"number": BOB, "mediatype": "image", "mimetype": "image/jpeg",
               "caption": "the whiteboard", "media": b64, "fileName": "board.jpg"}),
    )
    .await;
    assert_eq!(got["messageType"], "imageMessage", "{got}");
    let img = &got["message"]["imageMessage"];
    assert_eq!(img["caption"], "the whiteboard", "{got}");
    assert_eq!(img["mimetype"], "image/jpeg", "{got}");
    assert_eq!(img["fileLength"], "40000", "{got}");
    assert!(
        img["directPath"]
            .as_str()
            .is_some_and(|p| p.starts_with("/v/mock/")),
        "{got}"
    );
    assert!(mock.stats().media_blobs >= 1);

    let id = got["key"]["id"].as_str().expect("id");
    let (status, media) = s
        .post(
            "/chat/getBase64FromMediaMessage/bob",
            Some(KEY),
            json!({"message": {"key": {"id": id}}}),
        )
        .await;
    assert_eq!(status, 201, "{media}");
    assert_eq!(media["mediaType"], "imageMessage", "{media}");
    assert_eq!(media["mimetype"], "image/jpeg", "{media}");
    assert_eq!(media["caption"], "the whiteboard", "{media}");
    assert_eq!(media["size"]["fileLength"], "40000", "{media}");
    assert!(media["base64"] == b64.as_str(), "bob decrypted other bytes");
    s.stop().await;
    mock.shutdown().await;
}
