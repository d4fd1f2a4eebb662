//! Missing, wrong and another instance's token on every token-scoped route.

use super::*;

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
