//! `/message/sendPtv`, `sendList` and `sendButtons` on LOOPBACK instances, black-box: each
//! goes from ana to bia and is checked in bia's events; bad bodies get a 400 envelope.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::{KEY, TestServer, expect_event, jid};
use serde_json::{Value, json};
use tokio::sync::mpsc;

const ANA: &str = "15550004101";
const BIA: &str = "15550004102";

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
async fn a_round_video_note_arrives_and_downloads_back() {
    let s = two_paired().await;
    let mut bia = s.events("instance=bia&events=MESSAGES_UPSERT").await;
    let mp4 = b"\0\0\0\x18ftypmp42 a short round video".to_vec();
    let sent = send(
        &s,
        "sendPtv",
        json!({"number": BIA, "video": B64.encode(&mp4)}),
    )
    .await;
    assert_eq!(sent["messageType"], "ptvMessage");
    assert_eq!(sent["message"]["ptvMessage"]["mimetype"], "video/mp4");
    assert_eq!(
        sent["message"]["ptvMessage"]["fileLength"],
        mp4.len().to_string()
    );
    let got = upsert_of(&mut bia, &sent["key"]["id"]).await;
    assert_eq!(got["messageType"], "ptvMessage");
    assert_eq!(got["message"]["ptvMessage"]["mimetype"], "video/mp4");

    let (status, back) = s
        .post(
            "/chat/getBase64FromMediaMessage/bia",
            Some(KEY),
            json!({"message": {"key": got["key"], "message": got["message"]}}),
        )
        .await;
    assert_eq!(status, 201, "{back}");
    assert_eq!(back["mediaType"], "ptvMessage");
    assert_eq!(B64.decode(back["base64"].as_str().unwrap()).unwrap(), mp4);
}

/// Posts a multipart form as ana; returns the status and the answer.
async fn post_form(s: &TestServer, route: &str, form: reqwest::multipart::Form) -> (u16, Value) {
    let resp = reqwest::Client::new()
        .post(s.url(&format!("/message/{route}/ana")))
        .header("apikey", KEY)
        .multipart(form)
        .send()
        .await
        .unwrap();
    (resp.status().as_u16(), resp.json().await.unwrap())
}

#[tokio::test]
async fn voice_notes_and_stickers_post_as_multipart() {
    use reqwest::multipart::{Form, Part};
    let s = two_paired().await;
    let mut bia = s.events("instance=bia&events=MESSAGES_UPSERT").await;

    let ogg = b"OggS\0\x02a multipart voice note".to_vec();
    let form = Form::new()
        .text("number", BIA)
        .text("delay", "0")
        .part("file", Part::bytes(ogg.clone()).file_name("note.ogg"));
    let (status, ptt) = post_form(&s, "sendWhatsAppAudio", form).await;
    assert_eq!(status, 201, "{ptt}");
    assert_eq!(ptt["messageType"], "audioMessage");
    assert_eq!(ptt["message"]["audioMessage"]["ptt"], true);
    let got = upsert_of(&mut bia, &ptt["key"]["id"]).await;
    assert_eq!(
        got["message"]["audioMessage"]["mimetype"],
        "audio/ogg; codecs=opus"
    );
    let (status, back) = s
        .post(
            "/chat/getBase64FromMediaMessage/bia",
            Some(KEY),
            json!({"message": {"key": got["key"], "message": got["message"]}}),
        )
        .await;
    assert_eq!(status, 201, "{back}");
    assert_eq!(B64.decode(back["base64"].as_str().unwrap()).unwrap(), ogg);

    let webp = b"RIFF\x10\0\0\0WEBPVP8 a multipart sticker".to_vec();
    let form = Form::new()
        .text("number", BIA)
        .part("file", Part::bytes(webp.clone()).file_name("s.webp"));
    let (status, sticker) = post_form(&s, "sendSticker", form).await;
    assert_eq!(status, 201, "{sticker}");
    assert_eq!(sticker["messageType"], "stickerMessage");
    let got = upsert_of(&mut bia, &sticker["key"]["id"]).await;
    assert_eq!(got["messageType"], "stickerMessage");

    // Without a file the text field is used; without either, and with a non-WebP sticker, a 400.
    let form = Form::new()
        .text("number", BIA)
        .text("audio", B64.encode(&ogg));
    let (status, _) = post_form(&s, "sendWhatsAppAudio", form).await;
    assert_eq!(status, 201);
    let (status, err) = post_form(&s, "sendWhatsAppAudio", Form::new().text("number", BIA)).await;
    assert_eq!(status, 400, "{err}");
    let form = Form::new().text("number", BIA).part(
        "file",
        Part::bytes(b"plain text".to_vec()).file_name("s.webp"),
    );
    let (status, err) = post_form(&s, "sendSticker", form).await;
    assert_eq!(status, 400, "{err}");
    let form = Form::new().part("file", Part::bytes(webp).file_name("s.webp"));
    let (status, err) = post_form(&s, "sendSticker", form).await;
    assert_eq!(status, 400, "{err}");
}

#[tokio::test]
async fn lists_and_buttons_arrive_in_evolution_shapes() {
    let s = two_paired().await;
    let mut bia = s.events("instance=bia&events=MESSAGES_UPSERT").await;
    let long = "d".repeat(100);
    let list = send(
        &s,
        "sendList",
        json!({"number": BIA, "title": "Menu", "description": "Pick one", "buttonText": "Open",
            "footerText": "thanks", "sections": [
                {"title": "Food", "rows": [
                    {"title": "Pizza", "description": long, "rowId": "p"},
                    {"title": "Soup", "rowId": "s"}]},
                {"title": "Drinks", "rows": [{"title": "Tea", "rowId": "t"}]}]}),
    )
    .await;
    assert_eq!(list["messageType"], "listMessage");
    let got = upsert_of(&mut bia, &list["key"]["id"]).await;
    let l = &got["message"]["listMessage"];
    assert_eq!(got["messageType"], "listMessage");
    assert_eq!(l["title"], "Menu");
    assert_eq!(l["buttonText"], "Open");
    assert_eq!(l["footerText"], "thanks");
    assert_eq!(l["sections"][0]["rows"][1]["rowId"], "s");
    assert_eq!(l["sections"][1]["title"], "Drinks");
    assert_eq!(
        l["sections"][0]["rows"][0]["description"]
            .as_str()
            .unwrap()
            .chars()
            .count(),
        72
    );

    let replies = send(
        &s,
        "sendButtons",
        json!({"number": BIA, "title": "Coming?", "description": "Saturday 8pm", "footer": "rsvp",
            "buttons": [
                {"type": "reply", "displayText": "Yes", "id": "yes"},
                {"type": "reply", "displayText": "No", "id": "no"}]}),
    )
    .await;
    let got = upsert_of(&mut bia, &replies["key"]["id"]).await;
    assert_eq!(got["messageType"], "interactiveMessage");
    let i = &got["message"]["interactiveMessage"];
    assert_eq!(i["body"]["text"], "Saturday 8pm");
    assert_eq!(i["footer"]["text"], "rsvp");
    let buttons = i["nativeFlowMessage"]["buttons"].as_array().unwrap();
    assert_eq!(buttons.len(), 2);
    assert_eq!(buttons[0]["name"], "quick_reply");
    let params: Value =
        serde_json::from_str(buttons[1]["buttonParamsJson"].as_str().unwrap()).unwrap();
    assert_eq!(params["id"], "no");
    assert_eq!(params["display_text"], "No");

    let ctas = send(
        &s,
        "sendButtons",
        json!({"number": BIA, "description": "Reach us", "buttons": [
            {"type": "url", "displayText": "Site", "url": "https://example.com"},
            {"type": "call", "displayText": "Call", "phoneNumber": "+5511999990000"},
            {"type": "copy", "displayText": "Code", "copyCode": "ZAP10"}]}),
    )
    .await;
    let got = upsert_of(&mut bia, &ctas["key"]["id"]).await;
    let names: Vec<&str> = got["message"]["interactiveMessage"]["nativeFlowMessage"]["buttons"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| b["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["cta_url", "cta_call", "cta_copy"]);
}

#[tokio::test]
async fn bad_bodies_get_a_400_envelope() {
    let s = two_paired().await;
    let section = |rows: Value| json!({"title": "S", "rows": rows});
    let row = json!({"title": "r", "rowId": "1"});
    let eleven: Vec<Value> = (0..11)
        .map(|i| json!({"title": "r", "rowId": i.to_string()}))
        .collect();
    let reply = |id: &str| json!({"type": "reply", "displayText": id, "id": id});
    let cases = [
        (
            "sendPtv",
            json!({"number": BIA, "video": B64.encode(b"%PDF-1.7 not a video")}),
            "video",
        ),
        ("sendPtv", json!({"number": BIA}), "video"),
        (
            "sendList",
            json!({"number": BIA, "title": "t", "buttonText": "b", "footerText": "f", "sections": []}),
            "at least 1",
        ),
        (
            "sendList",
            json!({"number": BIA, "title": "t", "buttonText": "b", "sections": [section(json!([row]))]}),
            "footerText",
        ),
        (
            "sendList",
            json!({"number": BIA, "title": "t", "buttonText": "b", "footerText": "f",
                "sections": [section(json!([row])), section(json!([{"title": "x", "rowId": "2"}]))]}),
            "repeated",
        ),
        (
            "sendList",
            json!({"number": BIA, "title": "t", "buttonText": "b", "footerText": "f",
                "sections": [section(json!([row, row]))]}),
            "unique",
        ),
        (
            "sendList",
            json!({"number": BIA, "title": "t", "buttonText": "b", "footerText": "f",
                "sections": [section(json!(eleven[..6])), {"title": "T", "rows": eleven[6..]}]}),
            "at most 10",
        ),
        (
            "sendButtons",
            json!({"number": BIA, "description": "d", "buttons": []}),
            "At least one",
        ),
        (
            "sendButtons",
            json!({"number": BIA, "description": "d", "buttons": [reply("a"), reply("b"), reply("c"), reply("d")]}),
            "Maximum of 3",
        ),
        (
            "sendButtons",
            json!({"number": BIA, "description": "d", "buttons": [reply("a"),
                {"type": "url", "displayText": "u", "url": "https://example.com"}]}),
            "mixed",
        ),
        (
            "sendButtons",
            json!({"number": BIA, "description": "d", "buttons": [{"type": "url", "displayText": "u"}]}),
            "url",
        ),
        (
            "sendButtons",
            json!({"number": BIA, "description": "d", "buttons": [{"type": "fax", "displayText": "f"}]}),
            "buttons.type",
        ),
        (
            "sendButtons",
            json!({"number": BIA, "description": "d", "buttons": [{"type": "pix", "name": "Shop",
                "keyType": "iban", "key": "k"}]}),
            "keyType",
        ),
    ];
    for (route, body, needle) in cases {
        let (status, err) = s
            .post(&format!("/message/{route}/ana"), Some(KEY), body.clone())
            .await;
        assert_eq!(status, 400, "{route} {body}: {err}");
        assert_eq!(err["status"], 400, "{route} {body}: {err}");
        assert!(
            err["response"]["message"].to_string().contains(needle),
            "{route} {body}: {err}"
        );
    }
}

#[tokio::test]
async fn a_status_post_reaches_its_viewers_only() {
    let s = two_paired().await;
    let mut bia = s.events("instance=bia&events=MESSAGES_UPSERT").await;
    let (status, text) = s
        .post(
            "/message/sendStatus/ana",
            Some(KEY),
            json!({"type": "text", "content": "hello world", "backgroundColor": "#112233",
                "font": 1, "statusJidList": [BIA]}),
        )
        .await;
    assert_eq!(status, 201, "{text}");
    assert_eq!(text["key"]["remoteJid"], "status@broadcast");
    assert_eq!(text["key"]["fromMe"], true);
    assert_eq!(text["messageType"], "extendedTextMessage");
    let e = &text["message"]["extendedTextMessage"];
    assert_eq!(e["text"], "hello world");
    assert_eq!(e["backgroundArgb"], 4279312947u32);
    assert_eq!(e["font"], 1);
    let got = expect_event(&mut bia, |e| {
        e["event"] == "messages.upsert" && e["data"]["key"]["id"] == text["key"]["id"]
    })
    .await;
    assert_eq!(got["data"]["key"]["remoteJid"], "status@broadcast");
    assert_eq!(got["data"]["key"]["participant"], jid(ANA));
    assert_eq!(
        got["data"]["message"]["extendedTextMessage"]["text"],
        "hello world"
    );

    // allContacts: bia became one of ana's contacts by writing to her.
    let (status, hi) = s
        .post(
            "/message/sendText/bia",
            Some(KEY),
            json!({"number": ANA, "text": "hi"}),
        )
        .await;
    assert_eq!(status, 201, "{hi}");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (status, rows) = s.post("/chat/findContacts/ana", Some(KEY), json!({})).await;
        assert_eq!(status, 200, "{rows}");
        if rows.as_array().is_some_and(|r| {
            r.iter()
                .any(|c| c["remoteJid"] == jid(BIA) && c["pushName"].is_string())
        }) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "bia never became ana's contact: {rows}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let png = b"\x89PNG\r\n\x1a\na status picture".to_vec();
    let (status, image) = s
        .post(
            "/message/sendStatus/ana",
            Some(KEY),
            json!({"type": "image", "content": B64.encode(&png), "caption": "view",
                "allContacts": true}),
        )
        .await;
    assert_eq!(status, 201, "{image}");
    assert_eq!(image["key"]["remoteJid"], "status@broadcast");
    assert_eq!(image["messageType"], "imageMessage");
    let got = expect_event(&mut bia, |e| {
        e["event"] == "messages.upsert" && e["data"]["key"]["id"] == image["key"]["id"]
    })
    .await;
    assert_eq!(got["data"]["message"]["imageMessage"]["caption"], "view");
    assert_eq!(
        got["data"]["message"]["imageMessage"]["mimetype"],
        "image/png"
    );
}

#[tokio::test]
async fn bad_status_posts_get_a_400_envelope() {
    let s = two_paired().await;
    let cases = [
        (
            json!({"type": "text", "content": "x", "font": 1, "statusJidList": [BIA]}),
            "Background color",
        ),
        (
            json!({"type": "text", "content": "x", "backgroundColor": "#12", "font": 1, "statusJidList": [BIA]}),
            "backgroundColor",
        ),
        (
            json!({"type": "text", "content": "x", "backgroundColor": "#112233", "font": 9, "statusJidList": [BIA]}),
            "font",
        ),
        (
            json!({"type": "sticker", "content": "x", "statusJidList": [BIA]}),
            "type",
        ),
        (
            json!({"type": "text", "content": "x", "backgroundColor": "#112233", "font": 0}),
            "StatusJidList",
        ),
        (
            json!({"type": "text", "content": " ", "statusJidList": [BIA]}),
            "Content",
        ),
    ];
    for (body, needle) in cases {
        let (status, err) = s
            .post("/message/sendStatus/ana", Some(KEY), body.clone())
            .await;
        assert_eq!(status, 400, "{body}: {err}");
        assert!(
            err["response"]["message"].to_string().contains(needle),
            "{body}: {err}"
        );
    }
}
