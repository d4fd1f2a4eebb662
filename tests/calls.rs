//! Calls on LOOPBACK: `/call/offer` rings another instance, which announces Evolution's `call`
//! event, declines the call with `rejectCall`, and answers the caller with `msgCall` when it is
//! not blank, rejected or not, as Evolution does (a normal sent message: stored,
//! `send.message`).

mod common;

use common::receiver::{Mode, Receiver};
use common::{KEY, TestServer, expect_event, jid};
use serde_json::{Value, json};

const ANA: &str = "15550009001";
const BIA: &str = "15550009002";

fn settings(reject_call: bool, msg_call: &str) -> Value {
    json!({"rejectCall": reject_call, "msgCall": msg_call, "groupsIgnore": false,
           "alwaysOnline": false, "readMessages": false, "readStatus": false,
           "syncFullHistory": false})
}

async fn offer(s: &TestServer, secs: i64, video: bool) -> Value {
    let (status, placed) = s
        .post(
            "/call/offer/ana",
            Some(KEY),
            json!({"number": BIA, "isVideo": video, "callDuration": secs}),
        )
        .await;
    assert_eq!(status, 201, "{placed}");
    assert_eq!(placed["jid"], jid(BIA), "{placed}");
    assert_eq!(placed["isVideo"], video, "{placed}");
    assert_eq!(placed["callDuration"], secs, "{placed}");
    assert!(placed["id"].as_str().is_some_and(|i| !i.is_empty()));
    placed
}

/// Texts from `chat` in ana's history (`/chat/findMessages`).
async fn texts_from(s: &TestServer, chat: &str) -> Vec<String> {
    let (status, found) = s
        .post(
            "/chat/findMessages/ana",
            Some(KEY),
            json!({"where": {"key": {"remoteJid": chat}}}),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    found["messages"]["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| r["key"]["fromMe"] == false)
        .filter_map(|r| r["message"]["conversation"].as_str().map(str::to_string))
        .collect()
}

#[tokio::test]
async fn reject_call_declines_and_answers_with_msg_call() {
    let s = TestServer::start_paired(&[("ana", ANA), ("bia", BIA)]).await;
    let mut hook = Receiver::start(Mode::Ok).await;
    let (status, row) = s
        .post(
            "/webhook/set/bia",
            Some(KEY),
            json!({"webhook": {"enabled": true, "url": hook.base, "events": ["CALL", "SEND_MESSAGE"]}}),
        )
        .await;
    assert_eq!(status, 201, "{row}");
    let (status, r) = s
        .post("/settings/set/bia", Some(KEY), settings(true, "busy"))
        .await;
    assert_eq!(status, 201, "{r}");
    let mut ana = s.events("instance=ana&events=MESSAGES_UPSERT,CALL").await;

    let placed = offer(&s, 15, false).await;
    let id = placed["id"].as_str().expect("id").to_string();

    // Bia's webhook: Evolution's `call` event with Baileys' call shape.
    let hit = hook
        .expect(|h| h.body["event"] == "call" && h.body["data"]["id"] == id.as_str())
        .await;
    let data = &hit.body["data"];
    assert_eq!(data["status"], "offer", "{data}");
    assert_eq!(data["from"], jid(ANA), "{data}");
    assert_eq!(data["chatId"], jid(ANA), "{data}");
    assert_eq!(data["isVideo"], false, "{data}");
    assert_eq!(data["isGroup"], false, "{data}");
    assert_eq!(data["offline"], false, "{data}");
    assert!(
        data["date"].as_str().is_some_and(|d| d.ends_with('Z')),
        "{data}"
    );
    assert_eq!(hit.body["instance"], "bia");

    // The reply went out like a sendText: bia's send.message ...
    let sent = hook
        .expect(|h| {
            h.body["event"] == "send.message" && h.body["data"]["message"]["conversation"] == "busy"
        })
        .await;
    assert_eq!(
        sent.body["data"]["key"]["remoteJid"],
        jid(ANA),
        "{}",
        sent.body
    );
    assert_eq!(sent.body["data"]["key"]["fromMe"], true);

    // ... and ana, the caller, hears the reject and gets the text.
    let rejected = expect_event(&mut ana, |e| {
        e["event"] == "call" && e["data"]["id"] == id.as_str() && e["data"]["status"] == "reject"
    })
    .await;
    assert_eq!(rejected["data"]["from"], jid(BIA), "{rejected}");
    let got = expect_event(&mut ana, |e| {
        e["event"] == "messages.upsert" && e["data"]["message"]["conversation"] == "busy"
    })
    .await;
    assert_eq!(got["data"]["key"]["remoteJid"], jid(BIA), "{got}");
    assert_eq!(texts_from(&s, &jid(BIA)).await, vec!["busy".to_string()]);

    let (status, _) = s
        .post(
            "/settings/set/bia",
            Some(KEY),
            settings(false, "still busy"),
        )
        .await;
    assert_eq!(status, 201);

    // Without rejectCall the (video) call rings and rings out, unanswered; msgCall still goes
    // to the caller (Evolution sends it on every offer).
    let placed = offer(&s, 1, true).await;
    let second = placed["id"].as_str().expect("id").to_string();
    let rang = hook
        .expect(|h| {
            h.body["event"] == "call"
                && h.body["data"]["id"] == second.as_str()
                && h.body["data"]["status"] == "offer"
        })
        .await;
    assert_eq!(rang.body["data"]["isVideo"], true, "{}", rang.body);
    hook.expect(|h| {
        h.body["event"] == "call"
            && h.body["data"]["id"] == second.as_str()
            && h.body["data"]["status"] == "timeout"
    })
    .await;
    expect_event(&mut ana, |e| {
        e["event"] == "messages.upsert" && e["data"]["message"]["conversation"] == "still busy"
    })
    .await;
    // A marker from bia: everything bia would have sent for the call comes before it.
    let (status, marker) = s
        .post(
            "/message/sendText/bia",
            Some(KEY),
            json!({"number": ANA, "text": "marker"}),
        )
        .await;
    assert_eq!(status, 201, "{marker}");
    let mut seen = Vec::new();
    loop {
        let e = expect_event(&mut ana, |_| true).await;
        let done = e["data"]["message"]["conversation"] == "marker";
        seen.push(e);
        if done {
            break;
        }
    }
    assert!(
        seen.iter().all(|e| e["data"]["id"] != second.as_str()),
        "no reject for a call that was not rejected: {seen:?}"
    );
    // Messages of the same second are ordered by id, so compare the set.
    let mut texts = texts_from(&s, &jid(BIA)).await;
    texts.sort();
    assert_eq!(texts, ["busy", "marker", "still busy"]);
}

#[tokio::test]
async fn offer_validates_its_input() {
    let s = TestServer::start_paired(&[("ana", ANA), ("bia", BIA)]).await;
    let bad = [
        json!({"isVideo": false, "callDuration": 5}),
        json!({"number": BIA}),
        json!({"number": "not a number", "callDuration": 5}),
        json!({"number": 15550009002_i64, "callDuration": 5}),
        json!({"number": BIA, "callDuration": "5"}),
        json!({"number": BIA, "callDuration": 0}),
        json!({"number": BIA, "callDuration": 16}),
        json!({"number": BIA, "callDuration": 2.5}),
        json!({"number": BIA, "callDuration": 5, "isVideo": "yes"}),
        json!({"number": "120363000000000000@g.us", "callDuration": 5}),
        json!([]),
        json!("call"),
    ];
    for body in bad {
        let (status, answer) = s.post("/call/offer/ana", Some(KEY), body.clone()).await;
        assert_eq!(status, 400, "{body} -> {answer}");
        assert_eq!(answer["status"], 400, "{body} -> {answer}");
        assert_eq!(answer["error"], "Bad Request", "{body} -> {answer}");
        assert!(
            answer["response"]["message"].is_array(),
            "{body} -> {answer}"
        );
    }
    // A number nobody has: Evolution's exists:false answer.
    let (status, answer) = s
        .post(
            "/call/offer/ana",
            Some(KEY),
            json!({"number": "15550009999", "callDuration": 5}),
        )
        .await;
    assert_eq!(status, 400, "{answer}");
    assert_eq!(
        answer["response"]["message"][0]["exists"], false,
        "{answer}"
    );
    // Not JSON at all.
    let resp = s
        .http
        .post(s.url("/call/offer/ana"))
        .header("apikey", KEY)
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .expect("request");
    assert_eq!(resp.status().as_u16(), 400);
    // Guards: unknown instance, then the key.
    let body = json!({"number": BIA, "callDuration": 5});
    let (status, _) = s.post("/call/offer/nobody", Some(KEY), body.clone()).await;
    assert_eq!(status, 404);
    let (status, _) = s.post("/call/offer/ana", None, body.clone()).await;
    assert_eq!(status, 401);
    let (status, _) = s.post("/call/offer/ana", Some("wrong"), body).await;
    assert_eq!(status, 401);
}
