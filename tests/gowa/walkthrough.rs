//! From creating an instance to deleting it.

use super::*;

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
