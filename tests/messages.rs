//! `/message/*` and `/chat/*` on LOOPBACK instances, black-box: every kind of content goes from
//! ana to bia and is checked in bia's events; edits, deletes, read receipts, presence, media
//! download, profiles, privacy and blocking act on the other side.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::{KEY, TestServer, expect_event, jid, next_upsert};
use serde_json::{Value, json};
use tokio::sync::mpsc;

const ANA: &str = "15550004001";
const BIA: &str = "15550004002";

async fn two_paired() -> TestServer {
    TestServer::start_paired(&[("ana", ANA), ("bia", BIA)]).await
}

/// Sends as ana to bia; returns the 201 record.
async fn send(s: &TestServer, route: &str, body: Value) -> Value {
    common::send_from(s, "ana", BIA, route, body).await
}

/// bia's `messages.upsert` of message `id`.
async fn upsert_of(rx: &mut mpsc::Receiver<Value>, id: &Value) -> Value {
    common::upsert_from(rx, id, ANA).await
}

#[tokio::test]
async fn every_content_kind_reaches_the_other_side() {
    let s = two_paired().await;
    let mut bia = s.events("instance=bia&events=MESSAGES_UPSERT").await;
    let mut ana = s.events("instance=ana&events=MESSAGES_UPSERT").await;

    // A text bia sends, which ana then quotes and reacts to.
    let (status, first) = s
        .post(
            "/message/sendText/bia",
            Some(KEY),
            json!({"number": ANA, "text": "lunch?"}),
        )
        .await;
    assert_eq!(status, 201, "{first}");
    let first_id = first["key"]["id"].clone();
    let lunch = next_upsert(&mut ana).await;
    assert_eq!(lunch["key"]["id"], first_id);

    let reply = send(
        &s,
        "sendText",
        json!({"number": BIA, "text": "yes @bia", "quoted": {"key": {"id": first_id}}, "mentioned": [BIA]}),
    )
    .await;
    assert_eq!(reply["contextInfo"]["stanzaId"], first_id);
    let got = upsert_of(&mut bia, &reply["key"]["id"]).await;
    assert_eq!(got["message"]["conversation"], "yes @bia");
    assert_eq!(got["messageType"], "conversation");
    assert_eq!(got["pushName"], "ana");
    // For bia the quoted message is her own, in the chat with ana.
    assert_eq!(got["contextInfo"]["stanzaId"], first_id);
    assert_eq!(
        got["contextInfo"]["quotedMessage"]["conversation"],
        "lunch?"
    );
    assert_eq!(got["contextInfo"]["mentionedJid"], json!([jid(BIA)]));

    let loc = send(
        &s,
        "sendLocation",
        json!({"number": BIA, "latitude": -23.55, "longitude": -46.63, "name": "Sé", "address": "Praça da Sé"}),
    )
    .await;
    let got = upsert_of(&mut bia, &loc["key"]["id"]).await;
    assert_eq!(got["messageType"], "locationMessage");
    assert_eq!(got["message"]["locationMessage"]["degreesLatitude"], -23.55);
    assert_eq!(got["message"]["locationMessage"]["name"], "Sé");

    let one = send(
        &s,
        "sendContact",
        json!({"number": BIA, "contact": [{"fullName": "Caio Prado", "wuid": "5511988887777", "phoneNumber": "+55 11 98888-7777", "organization": "ACME"}]}),
    )
    .await;
    let got = upsert_of(&mut bia, &one["key"]["id"]).await;
    assert_eq!(got["messageType"], "contactMessage");
    let vcard = got["message"]["contactMessage"]["vcard"].as_str().unwrap();
    assert!(vcard.contains("FN:Caio Prado"), "{vcard}");
    assert!(vcard.contains("waid=5511988887777:"), "{vcard}");
    let two = send(
        &s,
        "sendContact",
        json!({"number": BIA, "contact": [
            {"fullName": "Caio", "phoneNumber": "5511988887777"},
            {"fullName": "Duda", "phoneNumber": "5511977776666"}]}),
    )
    .await;
    let got = upsert_of(&mut bia, &two["key"]["id"]).await;
    assert_eq!(got["messageType"], "contactsArrayMessage");
    assert_eq!(
        got["message"]["contactsArrayMessage"]["contacts"]
            .as_array()
            .unwrap()
            .len(),
        2
    );

    let poll = send(
        &s,
        "sendPoll",
        json!({"number": BIA, "name": "Where?", "selectableCount": 1, "values": ["here", "there"]}),
    )
    .await;
    let got = upsert_of(&mut bia, &poll["key"]["id"]).await;
    assert_eq!(got["messageType"], "pollCreationMessageV3");
    assert_eq!(
        got["message"]["pollCreationMessageV3"]["options"],
        json!([{"optionName": "here"}, {"optionName": "there"}])
    );

    let (status, reaction) = s
        .post(
            "/message/sendReaction/ana",
            Some(KEY),
            json!({"key": {"remoteJid": jid(BIA), "fromMe": false, "id": first_id}, "reaction": "👍"}),
        )
        .await;
    assert_eq!(status, 201, "{reaction}");
    let got = upsert_of(&mut bia, &reaction["key"]["id"]).await;
    assert_eq!(got["messageType"], "reactionMessage");
    assert_eq!(got["message"]["reactionMessage"]["text"], "👍");
    // bia sees the reaction on her own message.
    assert_eq!(got["message"]["reactionMessage"]["key"]["id"], first_id);
    assert_eq!(got["message"]["reactionMessage"]["key"]["fromMe"], true);

    // Nothing ana sent came back to ana as inbound: the next upsert ana sees is bia's marker.
    let (status, marker) = s
        .post(
            "/message/sendText/bia",
            Some(KEY),
            json!({"number": ANA, "text": "end"}),
        )
        .await;
    assert_eq!(status, 201, "{marker}");
    let next = next_upsert(&mut ana).await;
    assert_eq!(next["key"]["id"], marker["key"]["id"], "{next}");
}

#[tokio::test]
async fn media_goes_out_and_downloads_back() {
    let s = two_paired().await;
    let mut bia = s.events("instance=bia&events=MESSAGES_UPSERT").await;
    let pdf = b"%PDF-1.7\nfake but faithful bytes\n".to_vec();
    let doc = send(
        &s,
        "sendMedia",
        json!({"number": BIA, "mediatype": "document", "media": B64.encode(&pdf), "fileName": "terms.pdf", "caption": "sign"}),
    )
    .await;
    assert_eq!(doc["messageType"], "documentMessage");
    assert_eq!(
        doc["message"]["documentMessage"]["mimetype"],
        "application/pdf"
    );
    assert_eq!(
        doc["message"]["documentMessage"]["fileLength"],
        pdf.len().to_string()
    );
    let got = upsert_of(&mut bia, &doc["key"]["id"]).await;
    assert_eq!(got["message"]["documentMessage"]["fileName"], "terms.pdf");
    assert_eq!(got["message"]["documentMessage"]["caption"], "sign");

    // bia downloads it by id (stored record) and from the full message.
    let (status, by_id) = s
        .post(
            "/chat/getBase64FromMediaMessage/bia",
            Some(KEY),
            json!({"message": {"key": {"id": doc["key"]["id"]}}}),
        )
        .await;
    assert_eq!(status, 201, "{by_id}");
    assert_eq!(by_id["mediaType"], "documentMessage");
    assert_eq!(by_id["fileName"], "terms.pdf");
    assert_eq!(by_id["mimetype"], "application/pdf");
    assert_eq!(B64.decode(by_id["base64"].as_str().unwrap()).unwrap(), pdf);
    let (status, full) = s
        .post(
            "/chat/getBase64FromMediaMessage/bia",
            Some(KEY),
            json!({"message": {"key": got["key"], "message": got["message"]}}),
        )
        .await;
    assert_eq!(status, 201, "{full}");
    assert_eq!(full["base64"], by_id["base64"]);

    // Multipart upload of an image; the mimetype is sniffed.
    let png = b"\x89PNG\r\n\x1a\nnot really an image".to_vec();
    let form = reqwest::multipart::Form::new()
        .text("number", BIA)
        .text("mediatype", "image")
        .text("caption", "look")
        .part(
            "file",
            reqwest::multipart::Part::bytes(png.clone()).file_name("a.png"),
        );
    let resp = reqwest::Client::new()
        .post(s.url("/message/sendMedia/ana"))
        .header("apikey", KEY)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 201);
    let img: Value = resp.json().await.unwrap();
    assert_eq!(img["message"]["imageMessage"]["mimetype"], "image/png");
    let got = upsert_of(&mut bia, &img["key"]["id"]).await;
    assert_eq!(got["message"]["imageMessage"]["caption"], "look");
    let (_, dl) = s
        .post(
            "/chat/getBase64FromMediaMessage/bia",
            Some(KEY),
            json!({"message": {"key": {"id": img["key"]["id"]}}}),
        )
        .await;
    assert_eq!(B64.decode(dl["base64"].as_str().unwrap()).unwrap(), png);

    // A voice note and a sticker.
    let ogg = b"OggS\0\x02fake opus".to_vec();
    let ptt = send(
        &s,
        "sendWhatsAppAudio",
        json!({"number": BIA, "audio": B64.encode(&ogg)}),
    )
    .await;
    assert_eq!(ptt["message"]["audioMessage"]["ptt"], true);
    assert_eq!(
        ptt["message"]["audioMessage"]["mimetype"],
        "audio/ogg; codecs=opus"
    );
    let webp = b"RIFF\x10\0\0\0WEBPVP8 fake".to_vec();
    let sticker = send(
        &s,
        "sendSticker",
        json!({"number": BIA, "sticker": format!("data:image/webp;base64,{}", B64.encode(&webp))}),
    )
    .await;
    assert_eq!(sticker["messageType"], "stickerMessage");
    upsert_of(&mut bia, &sticker["key"]["id"]).await;
}

#[tokio::test]
async fn media_from_a_url_is_fetched() {
    let s = two_paired().await;
    let body = b"%PDF-1.4 from a url".to_vec();
    let served = body.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = poem::Route::new().at(
        "/file.pdf",
        poem::get(poem::endpoint::make_sync(move |_| served.clone())),
    );
    tokio::spawn(
        poem::Server::new_with_acceptor(poem::listener::TcpAcceptor::from_tokio(listener).unwrap())
            .run(app),
    );
    let doc = send(
        &s,
        "sendMedia",
        json!({"number": BIA, "mediatype": "document", "media": format!("http://{addr}/file.pdf"), "fileName": "f.pdf"}),
    )
    .await;
    assert_eq!(
        doc["message"]["documentMessage"]["fileLength"],
        body.len().to_string()
    );
    let (status, err) = s
        .post(
            "/message/sendMedia/ana",
            Some(KEY),
            json!({"number": BIA, "mediatype": "document", "media": format!("http://{addr}/missing"), "fileName": "f.pdf"}),
        )
        .await;
    assert_eq!(status, 400, "{err}");
    // The cause (a 404 here) is not told: failures must not map the network behind the server.
    assert_eq!(
        err["response"]["message"],
        json!(["could not fetch media"]),
        "{err}"
    );
}

#[tokio::test]
async fn edits_deletes_receipts_and_presence() {
    let s = two_paired().await;
    let mut bia = s
        .events(
            "instance=bia&events=MESSAGES_UPSERT,MESSAGES_EDITED,MESSAGES_DELETE,PRESENCE_UPDATE",
        )
        .await;
    let mut ana = s
        .events("instance=ana&events=MESSAGES_UPDATE,SEND_MESSAGE_UPDATE,MESSAGES_DELETE")
        .await;
    let msg = send(&s, "sendText", json!({"number": BIA, "text": "helo"})).await;
    let id = msg["key"]["id"].clone();
    upsert_of(&mut bia, &id).await;

    let (status, edit) = s
        .post(
            "/chat/updateMessage/ana",
            Some(KEY),
            json!({"number": BIA, "key": {"id": id, "remoteJid": jid(BIA), "fromMe": true}, "text": "hello"}),
        )
        .await;
    assert_eq!(status, 200, "{edit}");
    assert_eq!(edit["message"]["protocolMessage"]["type"], "MESSAGE_EDIT");
    assert_eq!(edit["message"]["protocolMessage"]["key"]["id"], id);
    expect_event(&mut ana, |e| e["event"] == "send.message.update").await;
    let edited = expect_event(&mut bia, |e| e["event"] == "messages.edited").await;
    assert_eq!(
        edited["data"]["message"]["protocolMessage"]["editedMessage"]["conversation"],
        "hello"
    );
    assert_eq!(
        edited["data"]["message"]["protocolMessage"]["key"]["id"],
        id
    );
    // Someone else's message cannot be edited.
    let (status, _) = s
        .post(
            "/chat/updateMessage/ana",
            Some(KEY),
            json!({"number": BIA, "key": {"id": id, "remoteJid": jid(BIA), "fromMe": false}, "text": "x"}),
        )
        .await;
    assert_eq!(status, 400);

    // bia reads it: ana sees READ.
    let (status, read) = s
        .post(
            "/chat/markMessageAsRead/bia",
            Some(KEY),
            json!({"readMessages": [{"remoteJid": jid(ANA), "fromMe": false, "id": id}]}),
        )
        .await;
    assert_eq!(status, 201, "{read}");
    assert_eq!(read, json!({"message": "Read messages", "read": "success"}));
    expect_event(&mut ana, |e| {
        e["event"] == "messages.update" && e["data"]["keyId"] == id && e["data"]["status"] == "READ"
    })
    .await;

    // ana types: bia sees it.
    let (status, p) = s
        .post(
            "/chat/sendPresence/ana",
            Some(KEY),
            json!({"number": BIA, "presence": "composing", "delay": 0}),
        )
        .await;
    assert_eq!(status, 201, "{p}");
    assert_eq!(p, json!({"presence": "composing"}));
    let seen = expect_event(&mut bia, |e| e["event"] == "presence.update").await;
    assert_eq!(seen["data"]["id"], jid(ANA));
    assert_eq!(
        seen["data"]["presences"][jid(ANA)]["lastKnownPresence"],
        "composing"
    );

    // Deleted for everyone: both sides get messages.delete with the key.
    let req = s
        .call(
            reqwest::Method::DELETE,
            "/chat/deleteMessageForEveryone/ana",
            Some(KEY),
            Some(json!({"id": id, "remoteJid": jid(BIA), "fromMe": true})),
        )
        .await;
    assert_eq!(req.0, 201, "{}", req.1);
    assert_eq!(req.1["message"]["protocolMessage"]["type"], "REVOKE");
    let gone = expect_event(&mut bia, |e| e["event"] == "messages.delete").await;
    assert_eq!(gone["data"]["id"], id);
    assert_eq!(gone["data"]["remoteJid"], jid(ANA));
    let mine = expect_event(&mut ana, |e| e["event"] == "messages.delete").await;
    assert_eq!(mine["data"]["id"], id);
}

#[tokio::test]
async fn profiles_privacy_and_blocking() {
    let s = two_paired().await;
    let (status, nums) = s
        .post(
            "/chat/whatsappNumbers/ana",
            Some(KEY),
            json!({"numbers": [BIA, "15550009999"]}),
        )
        .await;
    assert_eq!(status, 200, "{nums}");
    assert_eq!(
        nums[0],
        json!({"jid": jid(BIA), "exists": true, "number": BIA})
    );
    assert_eq!(nums[1]["exists"], false);

    let (status, pic) = s
        .post(
            "/chat/fetchProfilePictureUrl/ana",
            Some(KEY),
            json!({"number": BIA}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(pic, json!({"wuid": jid(BIA), "profilePictureUrl": null}));

    for (route, body) in [
        ("updateProfileName", json!({"name": "Bia Souza"})),
        ("updateProfileStatus", json!({"status": "at work"})),
        (
            "updateProfilePicture",
            json!({"picture": B64.encode(b"\xFF\xD8\xFFjpeg")}),
        ),
    ] {
        let (status, r) = s.post(&format!("/chat/{route}/bia"), Some(KEY), body).await;
        assert_eq!(status, 200, "{route}: {r}");
        assert_eq!(r, json!({"update": "success"}));
    }
    let (_, profile) = s
        .post("/chat/fetchProfile/ana", Some(KEY), json!({"number": BIA}))
        .await;
    assert_eq!(profile["name"], "Bia Souza");
    assert_eq!(profile["numberExists"], true);
    assert_eq!(profile["status"]["status"], "at work");
    assert!(profile["picture"].as_str().is_some(), "{profile}");
    let (_, own) = s.post("/chat/fetchProfile/bia", Some(KEY), json!({})).await;
    assert_eq!(own["wuid"], jid(BIA));

    // LOOPBACK has no business accounts: Evolution's "not business" answer, with the number's
    // check; the account's own when no number is given; a bad number is a 400.
    let (status, biz) = s
        .post(
            "/chat/fetchBusinessProfile/ana",
            Some(KEY),
            json!({"number": BIA}),
        )
        .await;
    assert_eq!(status, 200, "{biz}");
    assert_eq!(
        biz,
        json!({"isBusiness": false, "message": "Not is business profile", "jid": jid(BIA), "exists": true, "number": jid(BIA)})
    );
    let (_, biz) = s
        .post(
            "/chat/fetchBusinessProfile/ana",
            Some(KEY),
            json!({"number": "5511000000000"}),
        )
        .await;
    assert_eq!(biz["isBusiness"], false);
    assert_eq!(biz["exists"], false);
    let (_, own) = s
        .post("/chat/fetchBusinessProfile/bia", Some(KEY), json!({}))
        .await;
    assert_eq!(own["jid"], jid(BIA));
    let (status, bad) = s
        .post(
            "/chat/fetchBusinessProfile/bia",
            Some(KEY),
            json!({"number": "not a number"}),
        )
        .await;
    assert_eq!(status, 400, "{bad}");

    // Privacy: bia hides her picture and status.
    let (status, privacy) = s.get("/chat/fetchPrivacySettings/bia", Some(KEY)).await;
    assert_eq!(status, 200);
    assert_eq!(privacy["readreceipts"], "all");
    let new = json!({"readreceipts": "none", "profile": "none", "status": "none", "online": "match_last_seen", "last": "contacts", "groupadd": "contacts"});
    let (status, r) = s
        .post("/chat/updatePrivacySettings/bia", Some(KEY), new.clone())
        .await;
    assert_eq!(status, 201, "{r}");
    assert_eq!(r, json!({"update": "success", "data": new}));
    let (_, privacy) = s.get("/chat/fetchPrivacySettings/bia", Some(KEY)).await;
    assert_eq!(privacy, new);
    let (_, profile) = s
        .post("/chat/fetchProfile/ana", Some(KEY), json!({"number": BIA}))
        .await;
    assert_eq!(profile["picture"], Value::Null);
    assert_eq!(profile["status"], Value::Null);
    let (status, bad) = s
        .post(
            "/chat/updatePrivacySettings/bia",
            Some(KEY),
            json!({"readreceipts": "contacts", "profile": "all", "status": "all", "online": "all", "last": "all", "groupadd": "all"}),
        )
        .await;
    assert_eq!(status, 400, "{bad}");

    // bia blocks ana: ana's message gets the server ack but never reaches bia.
    let mut bia = s.events("instance=bia&events=MESSAGES_UPSERT").await;
    let mut ana = s.events("instance=ana&events=MESSAGES_UPDATE").await;
    let (status, r) = s
        .post(
            "/chat/updateBlockStatus/bia",
            Some(KEY),
            json!({"number": ANA, "status": "block"}),
        )
        .await;
    assert_eq!(status, 201, "{r}");
    let blocked = send(&s, "sendText", json!({"number": BIA, "text": "hi?"})).await;
    expect_event(&mut ana, |e| {
        e["data"]["keyId"] == blocked["key"]["id"] && e["data"]["status"] == "SERVER_ACK"
    })
    .await;
    s.post(
        "/chat/updateBlockStatus/bia",
        Some(KEY),
        json!({"number": ANA, "status": "unblock"}),
    )
    .await;
    let after = send(&s, "sendText", json!({"number": BIA, "text": "now?"})).await;
    // The first message bia receives after the block is the one sent after the unblock.
    let first = expect_event(&mut bia, |e| e["event"] == "messages.upsert").await;
    assert_eq!(first["data"]["key"]["id"], after["key"]["id"]);
}

#[tokio::test]
async fn bad_sends_get_clear_400s() {
    let s = two_paired().await;
    let cases = [
        (
            "sendMedia",
            json!({"number": BIA, "mediatype": "image", "media": "%%%"}),
            "url or base64",
        ),
        (
            "sendMedia",
            json!({"number": BIA, "mediatype": "gif", "media": "aGk="}),
            "mediatype",
        ),
        (
            "sendMedia",
            json!({"number": BIA, "mediatype": "document", "media": "aGk="}),
            "fileName",
        ),
        (
            "sendSticker",
            json!({"number": BIA, "sticker": "aGk="}),
            "WebP",
        ),
        (
            "sendLocation",
            json!({"number": BIA, "latitude": 91.0, "longitude": 0.0, "name": "x", "address": "y"}),
            "latitude",
        ),
        (
            "sendLocation",
            json!({"number": BIA, "latitude": 1.0}),
            "longitude",
        ),
        (
            "sendContact",
            json!({"number": BIA, "contact": []}),
            "at least 1",
        ),
        (
            "sendContact",
            json!({"number": BIA, "contact": [{"fullName": "A", "phoneNumber": "123"}]}),
            "10 digits",
        ),
        (
            "sendReaction",
            json!({"key": {"remoteJid": BIA, "id": "X"}, "reaction": "ok"}),
            "emoji",
        ),
        (
            "sendPoll",
            json!({"number": BIA, "name": "q", "selectableCount": 1, "values": ["a"]}),
            "between 2",
        ),
        (
            "sendPoll",
            json!({"number": BIA, "name": "q", "selectableCount": 1, "values": ["a", "a"]}),
            "unique",
        ),
        (
            "sendPoll",
            json!({"number": BIA, "name": "q", "selectableCount": 5, "values": ["a", "b"]}),
            "selectableCount",
        ),
    ];
    for (route, body, needle) in cases {
        let (status, err) = s
            .post(&format!("/message/{route}/ana"), Some(KEY), body.clone())
            .await;
        assert_eq!(status, 400, "{route} {body}: {err}");
        assert!(
            err["response"]["message"].to_string().contains(needle),
            "{route} {body}: {err}"
        );
    }
    let (status, err) = s
        .post(
            "/chat/getBase64FromMediaMessage/ana",
            Some(KEY),
            json!({"message": {"key": {"id": "NOPE"}}}),
        )
        .await;
    assert_eq!(status, 404, "{err}");
}

#[tokio::test]
async fn group_sends_carry_mentions_and_any_content() {
    let s = two_paired().await;
    let (status, g) = s
        .post(
            "/group/create/ana",
            Some(KEY),
            json!({"subject": "Crew", "participants": [BIA]}),
        )
        .await;
    assert_eq!(status, 201, "{g}");
    let group = g["id"].as_str().unwrap().to_string();
    let mut bia = s.events("instance=bia&events=MESSAGES_UPSERT").await;
    let (status, all) = s
        .post(
            "/message/sendText/ana",
            Some(KEY),
            json!({"number": group, "text": "everyone!", "mentionsEveryOne": true}),
        )
        .await;
    assert_eq!(status, 201, "{all}");
    let got = expect_event(&mut bia, |e| e["data"]["key"]["id"] == all["key"]["id"]).await;
    assert_eq!(got["data"]["key"]["remoteJid"], group.as_str());
    assert_eq!(got["data"]["key"]["participant"], jid(ANA));
    let mut mentioned: Vec<String> = got["data"]["contextInfo"]["mentionedJid"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    mentioned.sort();
    assert_eq!(mentioned, vec![jid(ANA), jid(BIA)]);

    // bia reacts to ana's group message: ana sees it on her own message.
    let mut ana = s.events("instance=ana&events=MESSAGES_UPSERT").await;
    let (status, r) = s
        .post(
            "/message/sendReaction/bia",
            Some(KEY),
            json!({"key": {"remoteJid": group, "fromMe": false, "id": all["key"]["id"], "participant": jid(ANA)}, "reaction": "🎉"}),
        )
        .await;
    assert_eq!(status, 201, "{r}");
    let got = expect_event(&mut ana, |e| e["data"]["key"]["id"] == r["key"]["id"]).await;
    assert_eq!(got["data"]["key"]["participant"], jid(BIA));
    let target = &got["data"]["message"]["reactionMessage"]["key"];
    assert_eq!(target["id"], all["key"]["id"]);
    assert_eq!(target["fromMe"], true);
    assert_eq!(target["remoteJid"], group.as_str());
}
