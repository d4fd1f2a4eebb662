//! Guards on what reaches an instance: an edit or delete may only touch a message of its own
//! chat by its author, and numbers written with or without the added mobile digit (Brazil,
//! Mexico, Argentina) reach the account under the form it was registered with. LOOPBACK,
//! black-box.

mod common;

use common::{KEY, TestServer, expect_event, jid, next_upsert};
use serde_json::{Value, json};

const ANA: &str = "15550007001";
const BIA: &str = "15550007002";

async fn two_paired() -> TestServer {
    TestServer::start_paired(&[("ana", ANA), ("bia", BIA)]).await
}

/// Message ids are chosen by senders: an edit or delete naming a message of another chat, or
/// one its sender did not write, must not touch it. ana aims both at a message bia sent carl and
/// at one carl sent her; carl announces none of them and his copies stay.
#[tokio::test]
async fn edits_and_deletes_cannot_reach_another_chat() {
    let s = two_paired().await;
    const CARL: &str = "15550004003";
    s.paired_loopback("carl", CARL).await;
    let mut carl = s
        .events("instance=carl&events=MESSAGES_UPSERT,MESSAGES_EDITED,MESSAGES_DELETE")
        .await;
    let (status, theirs) = s
        .post(
            "/message/sendText/bia",
            Some(KEY),
            json!({"number": CARL, "text": "between us"}),
        )
        .await;
    assert_eq!(status, 201, "{theirs}");
    let id = theirs["key"]["id"].clone();
    expect_event(&mut carl, |e| {
        e["event"] == "messages.upsert" && e["data"]["key"]["id"] == id
    })
    .await;

    let forged = json!({"id": id, "remoteJid": jid(CARL), "fromMe": true});
    let (status, edit) = s
        .post(
            "/chat/updateMessage/ana",
            Some(KEY),
            json!({"number": CARL, "key": forged, "text": "forged"}),
        )
        .await;
    assert_eq!(status, 200, "{edit}");
    let del = s
        .call(
            reqwest::Method::DELETE,
            "/chat/deleteMessageForEveryone/ana",
            Some(KEY),
            Some(forged),
        )
        .await;
    assert_eq!(del.0, 201, "{}", del.1);

    // In their own chat, ana may not edit or delete what carl wrote either (once her copy is
    // stored: the send answers when carl's side has it, ana's arrives a moment later).
    let mut ana = s.events("instance=ana&events=MESSAGES_UPSERT").await;
    let carls = send_to(&s, "carl", ANA, "carl's words").await;
    let carls_id = carls["key"]["id"].clone();
    expect_event(&mut ana, |e| e["data"]["key"]["id"] == carls_id).await;
    let not_hers = json!({"id": carls["key"]["id"], "remoteJid": jid(CARL), "fromMe": true});
    let (status, edit) = s
        .post(
            "/chat/updateMessage/ana",
            Some(KEY),
            json!({"number": CARL, "key": not_hers, "text": "put in his mouth"}),
        )
        .await;
    // ana's own copy says carl wrote it: refused before anything is sent.
    assert_eq!(status, 400, "{edit}");
    let del = s
        .call(
            reqwest::Method::DELETE,
            "/chat/deleteMessageForEveryone/ana",
            Some(KEY),
            Some(not_hers),
        )
        .await;
    assert_eq!(del.0, 201, "{}", del.1);

    // The next thing carl hears of is ana's marker text: no edit, no delete in between.
    let marker = send_to(&s, "ana", CARL, "marker").await;
    let next = expect_event(&mut carl, |_| true).await;
    assert_eq!(next["event"], "messages.upsert", "{next}");
    assert_eq!(next["data"]["key"]["id"], marker["key"]["id"]);
    // carl's copy is untouched: quoting it still quotes the original text.
    let (status, quote) = s
        .post(
            "/message/sendText/carl",
            Some(KEY),
            json!({"number": BIA, "text": "re", "quoted": {"key": {"id": id}}}),
        )
        .await;
    assert_eq!(status, 201, "{quote}");
    assert_eq!(
        quote["contextInfo"]["quotedMessage"]["conversation"],
        "between us"
    );
    let (status, quote) = s
        .post(
            "/message/sendText/carl",
            Some(KEY),
            json!({"number": ANA, "text": "re", "quoted": {"key": {"id": carls["key"]["id"]}}}),
        )
        .await;
    assert_eq!(status, 201, "{quote}");
    assert_eq!(
        quote["contextInfo"]["quotedMessage"]["conversation"],
        "carl's words"
    );
}

async fn send_to(s: &TestServer, from: &str, to: &str, text: &str) -> Value {
    let (status, sent) = s
        .post(
            &format!("/message/sendText/{from}"),
            Some(KEY),
            json!({"number": to, "text": text}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    sent
}

/// Mobile numbers in Brazil gained a ninth digit that older accounts lack, and Evolution strips
/// it from numbers outside area codes 11-30: a number written either way reaches the account
/// under the form it was registered with.
#[tokio::test]
async fn ninth_digit_numbers_reach_the_registered_account() {
    let s = TestServer::start(&[]).await;
    // An older Rio account (no ninth digit), a newer Belo Horizonte one (with it), a sender.
    s.paired_loopback("rio", "552187654321").await;
    s.paired_loopback("bh", "5531987654321").await;
    s.paired_loopback("sp", "5511987654321").await;
    let mut rio = s.events("instance=rio&events=MESSAGES_UPSERT").await;
    let mut bh = s.events("instance=bh&events=MESSAGES_UPSERT").await;

    let (status, numbers) = s
        .post(
            "/chat/whatsappNumbers/sp",
            Some(KEY),
            json!({"numbers": ["+55 (21) 98765-4321", "5531987654321", "5531987650000"]}),
        )
        .await;
    assert_eq!(status, 200, "{numbers}");
    assert_eq!(
        numbers,
        json!([
            {"jid": "552187654321@s.whatsapp.net", "exists": true, "number": "+55 (21) 98765-4321"},
            {"jid": "5531987654321@s.whatsapp.net", "exists": true, "number": "5531987654321"},
            {"jid": "553187650000@s.whatsapp.net", "exists": false, "number": "5531987650000"},
        ])
    );

    for (number, to, rx) in [
        ("+55 21 98765-4321", "552187654321", &mut rio),
        ("5531987654321", "5531987654321", &mut bh),
    ] {
        let (status, sent) = s
            .post(
                "/message/sendText/sp",
                Some(KEY),
                json!({"number": number, "text": "oi"}),
            )
            .await;
        assert_eq!(status, 201, "{sent}");
        assert_eq!(sent["key"]["remoteJid"], jid(to));
        let got = next_upsert(rx).await;
        assert_eq!(got["key"]["id"], sent["key"]["id"]);
        assert_eq!(got["key"]["remoteJid"], jid("5511987654321"));
    }
}
