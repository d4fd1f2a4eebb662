//! The token-scoped API (GOWA dialect), black-box on LOOPBACK: the walkthrough from creating an
//! instance to deleting it, and the token matrix (missing, wrong and another instance's token
//! on every token-scoped route).

mod common;

use std::time::Duration;

use common::{DEADLINE, KEY, TestServer};
use reqwest::Method;
use serde_json::{Value, json};

const ANA: &str = "15550001001";
const BIA: &str = "15550001002";

fn jid(phone: &str) -> String {
    format!("{phone}@s.whatsapp.net")
}

/// A request with an optional instance token (and optional extra headers).
async fn call(
    s: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = s.http.request(method, s.url(path));
    if let Some(t) = token {
        req = req.header("X-Instance-Token", t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request failed");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn get(s: &TestServer, path: &str, token: &str) -> Value {
    let (status, body) = call(s, Method::GET, path, Some(token), &[], None).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    assert_eq!(body["code"], "SUCCESS", "{body}");
    body["results"].clone()
}

async fn post(s: &TestServer, path: &str, token: &str, body: Value) -> Value {
    let (status, answer) = call(s, Method::POST, path, Some(token), &[], Some(body)).await;
    assert_eq!(status, 200, "POST {path}: {answer}");
    assert_eq!(answer["code"], "SUCCESS", "{answer}");
    answer["results"].clone()
}

/// GETs `path` with `token` until `pred` holds for its `results`.
async fn until(s: &TestServer, path: &str, token: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let (status, body) = call(s, Method::GET, path, Some(token), &[], None).await;
        if status == 200 && pred(&body["results"]) {
            return body["results"].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} never matched; last: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Creates a LOOPBACK instance through `POST /instances`; returns `(id, token)`.
async fn create(s: &TestServer, name: &str) -> (String, String) {
    let (status, body) = call(
        s,
        Method::POST,
        "/instances",
        None,
        &[("apikey", KEY)],
        Some(json!({"name": name, "integration": "LOOPBACK"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["code"], "SUCCESS");
    let r = &body["results"];
    assert_eq!(r["name"], name);
    assert_eq!(r["status"], "close");
    (
        r["id"].as_str().expect("id").to_string(),
        r["token"].as_str().expect("token").to_string(),
    )
}

/// Logs in by QR (a PNG) and plays the phone that scans it.
async fn pair(s: &TestServer, name: &str, token: &str, phone: &str) {
    let qr = get(s, "/app/login", token).await;
    assert!(
        qr["qr_link"]
            .as_str()
            .is_some_and(|l| l.starts_with("data:image/png;base64,")),
        "{qr}"
    );
    assert!(qr["qr_duration"].as_u64().is_some_and(|d| d > 0), "{qr}");
    assert_eq!(qr["device_id"], name);
    let (status, body) = s
        .post(
            &format!("/loopback/scan/{name}?phone={phone}"),
            Some(KEY),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "scan {name}: {body}");
    until(s, "/app/status", token, |r| r["is_logged_in"] == true).await;
}

/// Two paired instances made through the token-scoped API; their tokens.
async fn two_paired(s: &TestServer) -> (String, String) {
    let (_, ana) = create(s, "ana").await;
    let (_, bia) = create(s, "bia").await;
    pair(s, "ana", &ana, ANA).await;
    pair(s, "bia", &bia, BIA).await;
    (ana, bia)
}

#[tokio::test(flavor = "multi_thread")]
async fn walkthrough_on_loopback() {
    let s = TestServer::start(&[]).await;
    let (ana_id, ana) = create(&s, "ana").await;
    let (_, bia) = create(&s, "bia").await;

    // Lists mask tokens; Evolution sees the same instances.
    let (status, list) = call(
        &s,
        Method::GET,
        "/instances",
        None,
        &[("apikey", KEY)],
        None,
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let rows = list["results"].as_array().expect("rows");
    assert_eq!(rows.len(), 2);
    for r in rows {
        let shown = r["token"].as_str().expect("token");
        assert!(
            shown.ends_with("****") && shown != ana && shown != bia,
            "{r}"
        );
    }
    let (status, evo) = s.get("/instance/fetchInstances", Some(KEY)).await;
    assert_eq!(status, 200);
    assert_eq!(evo.as_array().map(Vec::len), Some(2), "{evo}");

    pair(&s, "ana", &ana, ANA).await;
    pair(&s, "bia", &bia, BIA).await;
    let (status, again) = call(&s, Method::GET, "/app/login", Some(&ana), &[], None).await;
    assert_eq!(
        (status, again["code"].as_str()),
        (400, Some("ALREADY_LOGGED_IN")),
        "{again}"
    );
    // Pairing by code, on a third instance.
    let (caio_id, caio) = create(&s, "caio").await;
    let code = get(&s, "/app/login-with-code?phone=15550001003", &caio).await;
    assert!(
        code["pair_code"].as_str().is_some_and(|c| !c.is_empty()),
        "{code}"
    );
    let (status, body) = call(
        &s,
        Method::DELETE,
        &format!("/instances/{caio_id}"),
        None,
        &[("apikey", KEY)],
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let devices = get(&s, "/app/devices", &ana).await;
    assert_eq!(devices.as_array().map(Vec::len), Some(1), "{devices}");
    assert_eq!(devices[0]["device"], "ana");
    assert!(
        devices[0]["jid"].as_str().unwrap_or("").starts_with(ANA),
        "{devices}"
    );

    // A text from ana reaches bia's chats and history.
    let sent = post(
        &s,
        "/send/message",
        &ana,
        json!({"phone": BIA, "message": "hello"}),
    )
    .await;
    let id = sent["message_id"].as_str().expect("message_id").to_string();
    assert!(
        sent["status"].as_str().unwrap_or("").contains(&jid(BIA)),
        "{sent}"
    );
    let chats = until(&s, "/chats", &bia, |r| {
        r["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(|c| c["jid"] == jid(ANA)))
    })
    .await;
    assert!(
        chats["pagination"]["total"]
            .as_u64()
            .is_some_and(|t| t >= 1)
    );
    let path = format!("/chat/{}/messages", jid(ANA));
    let msgs = until(&s, &path, &bia, |r| {
        r["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(|m| m["id"] == id.as_str()))
    })
    .await;
    let m = msgs["data"]
        .as_array()
        .and_then(|d| d.iter().find(|m| m["id"] == id.as_str()))
        .cloned()
        .expect("the message");
    assert_eq!(m["content"], "hello");
    assert_eq!(m["is_from_me"], false);
    // The Evolution read of the same history agrees.
    let (status, found) = s
        .post(
            "/chat/findMessages/bia",
            Some(KEY),
            json!({"where": {"key": {"id": id}}}),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    assert_eq!(found["messages"]["total"], 1, "{found}");

    // Message actions.
    let r = post(
        &s,
        &format!("/message/{id}/reaction"),
        &bia,
        json!({"phone": ANA, "emoji": "👍"}),
    )
    .await;
    assert!(r["message_id"].is_string(), "{r}");
    post(
        &s,
        &format!("/message/{id}/read"),
        &bia,
        json!({"phone": ANA}),
    )
    .await;
    let (status, refused) = call(
        &s,
        Method::POST,
        &format!("/message/{id}/update"),
        Some(&bia),
        &[],
        Some(json!({"phone": ANA, "message": "not mine"})),
    )
    .await;
    assert_eq!(status, 400, "bia cannot edit ana's message: {refused}");
    assert_eq!(refused["code"], "VALIDATION_ERROR");
    post(
        &s,
        &format!("/message/{id}/update"),
        &ana,
        json!({"phone": BIA, "message": "hello, edited"}),
    )
    .await;
    until(&s, &path, &bia, |r| {
        r["data"].as_array().is_some_and(|d| {
            d.iter()
                .any(|m| m["id"] == id.as_str() && m["content"] == "hello, edited")
        })
    })
    .await;
    post(
        &s,
        &format!("/message/{id}/revoke"),
        &ana,
        json!({"phone": BIA}),
    )
    .await;

    // Other kinds of message.
    const PNG: &str = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==";
    for (route, body) in [
        (
            "/send/image",
            json!({"phone": BIA, "image_url": PNG, "caption": "dot"}),
        ),
        (
            "/send/file",
            json!({"phone": BIA, "file_url": PNG, "file_name": "dot.png"}),
        ),
        // LOOPBACK carries the bytes as given; what they are is the client's business.
        ("/send/video", json!({"phone": BIA, "video_url": PNG})),
        (
            "/send/audio",
            json!({"phone": BIA, "audio_url": PNG, "ptt": true}),
        ),
        (
            "/send/contact",
            json!({"phone": BIA, "contact_name": "Caio", "contact_phone": "15550001003"}),
        ),
        (
            "/send/location",
            json!({"phone": BIA, "latitude": "-23.55", "longitude": "-46.63"}),
        ),
        (
            "/send/link",
            json!({"phone": BIA, "link": "https://example.com", "caption": "look"}),
        ),
        (
            "/send/poll",
            json!({"phone": BIA, "question": "Lunch?", "options": ["yes", "no"], "max_answer": 1}),
        ),
        ("/send/presence", json!({"type": "available"})),
        (
            "/send/chat-presence",
            json!({"phone": BIA, "action": "start"}),
        ),
    ] {
        let r = post(&s, route, &ana, body).await;
        assert!(r["message_id"].is_string(), "{route}: {r}");
    }
    let (status, bad) = call(
        &s,
        Method::POST,
        "/send/message",
        Some(&ana),
        &[],
        Some(json!({"phone": "0811", "message": "x"})),
    )
    .await;
    assert_eq!(
        (status, bad["code"].as_str()),
        (400, Some("VALIDATION_ERROR")),
        "{bad}"
    );
    let (status, bad) = call(
        &s,
        Method::POST,
        "/send/message",
        Some(&ana),
        &[],
        Some(json!({"message": "no phone"})),
    )
    .await;
    assert_eq!(
        (status, bad["code"].as_str()),
        (400, Some("VALIDATION_ERROR")),
        "{bad}"
    );

    // Users.
    let check = get(&s, &format!("/user/check?phone={BIA}"), &ana).await;
    assert_eq!(check["is_on_whatsapp"], true, "{check}");
    let info = get(&s, &format!("/user/info?phone={BIA}"), &ana).await;
    assert_eq!(info["data"][0]["jid"], jid(BIA), "{info}");
    get(&s, &format!("/user/avatar?phone={BIA}"), &ana).await;

    // A group: create, read, manage, talk, leave.
    let g = post(
        &s,
        "/group",
        &ana,
        json!({"title": "Team", "participants": [BIA]}),
    )
    .await;
    let group = g["group_id"].as_str().expect("group_id").to_string();
    let info = get(&s, &format!("/group/info?group_id={group}"), &ana).await;
    assert_eq!(info["name"], "Team");
    assert_eq!(
        info["participants"].as_array().map(Vec::len),
        Some(2),
        "{info}"
    );
    let mine = until(&s, "/user/my/groups", &bia, |r| {
        r["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(|g| g["jid"] == group.as_str()))
    })
    .await;
    assert!(mine["data"].is_array());
    let done = post(
        &s,
        "/gowa/group/participants/promote",
        &ana,
        json!({"group_id": group, "participants": [BIA]}),
    )
    .await;
    assert_eq!(done[0]["status"], "success", "{done}");
    let p = get(&s, &format!("/group/participants?group_id={group}"), &ana).await;
    let bia_row = p["participants"]
        .as_array()
        .expect("participants")
        .iter()
        .find(|p| p["jid"] == jid(BIA))
        .cloned()
        .expect("bia is a member");
    assert_eq!(bia_row["is_admin"], true, "{p}");
    post(
        &s,
        "/gowa/group/participants/demote",
        &ana,
        json!({"group_id": group, "participants": [BIA]}),
    )
    .await;
    post(
        &s,
        "/send/message",
        &ana,
        json!({"phone": group, "message": "hi team"}),
    )
    .await;
    post(&s, "/group/leave", &bia, json!({"group_id": group})).await;
    let (status, gone) = call(
        &s,
        Method::GET,
        &format!("/group/info?group_id={group}"),
        Some(&bia),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 404, "bia left: {gone}");

    // Logout keeps the instance; delete drops it and its token.
    get(&s, "/app/logout", &bia).await;
    until(&s, "/app/status", &bia, |r| r["is_logged_in"] == false).await;
    let (status, body) = call(
        &s,
        Method::DELETE,
        &format!("/instances/{ana_id}"),
        None,
        &[("apikey", KEY)],
        None,
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let (status, body) = call(&s, Method::GET, "/app/status", Some(&ana), &[], None).await;
    assert_eq!(status, 401, "{body}");
    let (_, evo) = s.get("/instance/fetchInstances", Some(KEY)).await;
    assert_eq!(evo.as_array().map(Vec::len), Some(1), "{evo}");
}

/// Every token-scoped route, with a body where it takes one.
fn routes(message_id: &str, group: &str) -> Vec<(Method, String, Option<Value>)> {
    let p = json!({"phone": BIA});
    let gp = json!({"group_id": group, "participants": [BIA]});
    let mut v = vec![
        (Method::GET, "/app/login".to_string(), None),
        (
            Method::GET,
            format!("/app/login-with-code?phone={ANA}"),
            None,
        ),
        (Method::GET, "/app/logout".into(), None),
        (Method::GET, "/app/reconnect".into(), None),
        (Method::GET, "/app/devices".into(), None),
        (Method::GET, "/app/status".into(), None),
        (Method::GET, format!("/user/info?phone={BIA}"), None),
        (Method::GET, format!("/user/avatar?phone={BIA}"), None),
        (Method::GET, format!("/user/check?phone={BIA}"), None),
        (Method::GET, "/user/my/groups".into(), None),
        (Method::GET, format!("/group/info?group_id={group}"), None),
        (
            Method::GET,
            format!("/group/participants?group_id={group}"),
            None,
        ),
        (Method::GET, "/chats".into(), None),
        (Method::GET, format!("/chat/{}/messages", jid(BIA)), None),
        (
            Method::POST,
            "/send/message".into(),
            Some(json!({"phone": BIA, "message": "x"})),
        ),
        (
            Method::POST,
            "/send/image".into(),
            Some(json!({"phone": BIA, "image_url": "AAAA"})),
        ),
        (
            Method::POST,
            "/send/file".into(),
            Some(json!({"phone": BIA, "file_url": "AAAA"})),
        ),
        (
            Method::POST,
            "/send/video".into(),
            Some(json!({"phone": BIA, "video_url": "AAAA"})),
        ),
        (
            Method::POST,
            "/send/audio".into(),
            Some(json!({"phone": BIA, "audio_url": "AAAA"})),
        ),
        (
            Method::POST,
            "/send/contact".into(),
            Some(json!({"phone": BIA, "contact_name": "C", "contact_phone": "15550001003"})),
        ),
        (
            Method::POST,
            "/send/location".into(),
            Some(json!({"phone": BIA, "latitude": "1", "longitude": "2"})),
        ),
        (
            Method::POST,
            "/send/link".into(),
            Some(json!({"phone": BIA, "link": "https://a.b", "caption": ""})),
        ),
        (
            Method::POST,
            "/send/poll".into(),
            Some(json!({"phone": BIA, "question": "q", "options": ["a", "b"], "max_answer": 1})),
        ),
        (
            Method::POST,
            "/send/presence".into(),
            Some(json!({"type": "available"})),
        ),
        (
            Method::POST,
            "/send/chat-presence".into(),
            Some(json!({"phone": BIA, "action": "stop"})),
        ),
        (
            Method::POST,
            format!("/message/{message_id}/read"),
            Some(p.clone()),
        ),
        (
            Method::POST,
            format!("/message/{message_id}/reaction"),
            Some(json!({"phone": BIA, "emoji": "👍"})),
        ),
        (
            Method::POST,
            format!("/message/{message_id}/update"),
            Some(json!({"phone": BIA, "message": "y"})),
        ),
        (
            Method::POST,
            format!("/message/{message_id}/revoke"),
            Some(p),
        ),
        (
            Method::POST,
            "/group".into(),
            Some(json!({"title": "T", "participants": [BIA]})),
        ),
        (
            Method::POST,
            "/group/join-with-link".into(),
            Some(json!({"link": "https://chat.whatsapp.com/AAAA"})),
        ),
        (
            Method::POST,
            "/group/leave".into(),
            Some(json!({"group_id": group})),
        ),
        (Method::POST, "/group/participants".into(), Some(gp.clone())),
    ];
    for action in ["remove", "promote", "demote"] {
        v.push((
            Method::POST,
            format!("/gowa/group/participants/{action}"),
            Some(gp.clone()),
        ));
    }
    v
}

#[tokio::test(flavor = "multi_thread")]
async fn token_matrix() {
    // Three wrong keys per route would use up the anonymous rate (tested in tests/edge.rs).
    let s = TestServer::start(&[("ZAPGATE_RATE_LIMIT_ANONYMOUS", "0")]).await;
    let (ana, bia) = two_paired(&s).await;
    let sent = post(
        &s,
        "/send/message",
        &ana,
        json!({"phone": BIA, "message": "secret"}),
    )
    .await;
    let id = sent["message_id"].as_str().expect("id").to_string();
    // A group bia has left: hers no more.
    let g = post(
        &s,
        "/group",
        &ana,
        json!({"title": "Ana's", "participants": [BIA]}),
    )
    .await;
    let group = g["group_id"].as_str().expect("group_id").to_string();
    until(&s, "/user/my/groups", &bia, |r| {
        r["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(|g| g["jid"] == group.as_str()))
    })
    .await;
    post(&s, "/group/leave", &bia, json!({"group_id": group})).await;

    for (method, path, body) in routes(&id, &group) {
        let (status, missing) = call(&s, method.clone(), &path, None, &[], body.clone()).await;
        assert_eq!(status, 401, "{method} {path} without a token: {missing}");
        assert_eq!(
            missing["code"], "AUTHENTICATION_ERROR",
            "{method} {path}: {missing}"
        );
        assert!(
            missing["message"]
                .as_str()
                .unwrap_or("")
                .contains("required"),
            "{method} {path}: {missing}"
        );
        let (status, wrong) = call(
            &s,
            method.clone(),
            &path,
            Some("not-a-token"),
            &[],
            body.clone(),
        )
        .await;
        assert_eq!(status, 401, "{method} {path} with a wrong token: {wrong}");
        assert!(
            wrong["message"].as_str().unwrap_or("").contains("invalid"),
            "{method} {path}: {wrong}"
        );
        // The global key is no instance token.
        let (status, global) = call(&s, method.clone(), &path, Some(KEY), &[], body.clone()).await;
        assert_eq!(
            status, 401,
            "{method} {path} with the global key as token: {global}"
        );
    }

    // Another instance's token acts on that instance only.
    let devices = get(&s, "/app/devices", &bia).await;
    assert!(
        devices[0]["jid"].as_str().unwrap_or("").starts_with(BIA),
        "{devices}"
    );
    let status = get(&s, "/app/status", &bia).await;
    assert_eq!(status["device_id"], "bia");
    let ana_chats = get(&s, "/chats", &ana).await;
    assert!(
        ana_chats["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(|c| c["jid"] == jid(BIA))),
        "{ana_chats}"
    );
    // bia has her chat with ana; ana's chat with bia (keyed by bia's JID) is not bia's to read.
    let bia_chats = until(&s, "/chats", &bia, |r| {
        r["data"]
            .as_array()
            .is_some_and(|d| d.iter().any(|c| c["jid"] == jid(ANA)))
    })
    .await;
    assert!(
        bia_chats["data"]
            .as_array()
            .is_some_and(|d| d.iter().all(|c| c["jid"] != jid(BIA))),
        "{bia_chats}"
    );
    let mine = get(&s, &format!("/chat/{}/messages", jid(BIA)), &bia).await;
    assert_eq!(
        mine["data"].as_array().map(Vec::len),
        Some(0),
        "bia has no chat with herself: {mine}"
    );
    let (status, hidden) = call(
        &s,
        Method::GET,
        &format!("/group/info?group_id={group}"),
        Some(&bia),
        &[],
        None,
    )
    .await;
    assert_eq!(status, 404, "bia is not in ana's group: {hidden}");
    let (status, refused) = call(
        &s,
        Method::POST,
        &format!("/message/{id}/update"),
        Some(&bia),
        &[],
        Some(json!({"phone": ANA, "message": "mine now"})),
    )
    .await;
    assert_eq!(status, 400, "bia cannot edit ana's message: {refused}");

    // GOWA's own selection: the global key with X-Device-Id, and ?token=.
    let (status, by_device) = call(
        &s,
        Method::GET,
        "/app/status",
        None,
        &[("apikey", KEY), ("X-Device-Id", "ana")],
        None,
    )
    .await;
    assert_eq!(status, 200, "{by_device}");
    assert_eq!(by_device["results"]["device_id"], "ana");
    let (status, unknown) = call(
        &s,
        Method::GET,
        "/app/status",
        None,
        &[("apikey", KEY), ("X-Device-Id", "nobody")],
        None,
    )
    .await;
    assert_eq!(
        (status, unknown["code"].as_str()),
        (404, Some("DEVICE_NOT_FOUND")),
        "{unknown}"
    );
    let (status, device_only) = call(
        &s,
        Method::GET,
        "/app/status",
        None,
        &[("X-Device-Id", "ana")],
        None,
    )
    .await;
    assert_eq!(
        status, 401,
        "X-Device-Id needs the global key: {device_only}"
    );
    let (status, by_query) = call(
        &s,
        Method::GET,
        &format!("/app/status?token={bia}"),
        None,
        &[],
        None,
    )
    .await;
    assert_eq!(status, 200, "{by_query}");
    assert_eq!(by_query["results"]["device_id"], "bia");

    // Malformed and oversized bodies are refused in this dialect's envelope too.
    let (status, bad) = {
        let resp = s
            .http
            .post(s.url("/send/message"))
            .header("X-Instance-Token", &ana)
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .expect("request");
        (
            resp.status().as_u16(),
            resp.json::<Value>().await.expect("json"),
        )
    };
    assert_eq!(
        (status, bad["code"].as_str()),
        (400, Some("VALIDATION_ERROR")),
        "{bad}"
    );
    let big = "x".repeat(2 * 1024 * 1024);
    let (status, large) = call(
        &s,
        Method::POST,
        "/send/message",
        Some(&ana),
        &[],
        Some(json!({"phone": BIA, "message": big})),
    )
    .await;
    assert_eq!(
        (status, large["code"].as_str()),
        (413, Some("PAYLOAD_TOO_LARGE")),
        "{large}"
    );

    // Fields take only their JSON type: `false` is not the text "false".
    let (status, typed) = call(
        &s,
        Method::POST,
        "/instances",
        None,
        &[("apikey", KEY)],
        Some(json!({"name": false})),
    )
    .await;
    assert_eq!(
        (status, typed["code"].as_str()),
        (400, Some("VALIDATION_ERROR")),
        "{typed}"
    );
    let (status, typed) = call(
        &s,
        Method::POST,
        "/send/message",
        Some(&ana),
        &[],
        Some(json!({"phone": 15550001002u64, "message": "x"})),
    )
    .await;
    assert_eq!(
        (status, typed["code"].as_str()),
        (400, Some("VALIDATION_ERROR")),
        "{typed}"
    );

    // The instance routes take the global key only.
    for (method, path) in [
        (Method::GET, "/instances"),
        (Method::DELETE, "/instances/ana"),
    ] {
        let (status, body) = call(
            &s,
            method.clone(),
            path,
            None,
            &[("apikey", ana.as_str())],
            None,
        )
        .await;
        assert_eq!(status, 401, "{method} {path} with a token: {body}");
    }
    let (status, body) = call(
        &s,
        Method::POST,
        "/instances",
        None,
        &[("apikey", ana.as_str())],
        Some(json!({"name": "x"})),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (401, Some("AUTHENTICATION_ERROR")),
        "{body}"
    );
}
