//! Black-box tests of the Evolution instance surface on the LOOPBACK engine: lifecycle, QR codes,
//! the auth matrix, messaging between instances and bad input.

mod common;

use base64::Engine as _;
use common::{KEY, TestServer, expect_event};
use serde_json::{Value, json};

/// Decodes a `data:image/png;base64,...` QR back into its text.
fn decode_qr(data_uri: &str) -> String {
    let b64 = data_uri
        .strip_prefix("data:image/png;base64,")
        .expect("PNG data URI");
    let bytes = base64::engine::general_purpose::STANDARD
        .decode(b64)
        .expect("base64");
    let decoder = png::Decoder::new(std::io::Cursor::new(bytes));
    let mut reader = decoder.read_info().expect("png header");
    let mut buf = vec![0; reader.output_buffer_size().expect("size")];
    let info = reader.next_frame(&mut buf).expect("png frame");
    let channels = info.color_type.samples();
    let (w, h) = (info.width as usize, info.height as usize);
    let mut img = rqrr::PreparedImage::prepare_from_greyscale(w, h, |x, y| {
        let p = (y * w + x) * channels;
        // Luma of the pixel: dark modules are drawn in QRCODE_COLOR, the rest white.
        let rgb = &buf[p..p + channels.min(3)];
        (rgb.iter().map(|&c| c as u32).sum::<u32>() / rgb.len() as u32) as u8
    });
    let grids = img.detect_grids();
    assert_eq!(grids.len(), 1, "exactly one QR code in the image");
    let (_, content) = grids[0].decode().expect("QR decodes");
    content
}

#[tokio::test(flavor = "multi_thread")]
async fn create_connect_scan_reaches_open_and_qr_decodes() {
    let s = TestServer::start(&[]).await;
    // The welcome object, as Evolution's, names the WhatsApp Web version announced.
    let (status, welcome) = s.get("/", None).await;
    assert_eq!(status, 200, "{welcome}");
    assert_eq!(
        welcome["message"],
        "Welcome to the Evolution API, it is working!"
    );
    let wa = welcome["whatsappWebVersion"]
        .as_str()
        .expect("whatsappWebVersion");
    assert!(wa.starts_with("2.3000."), "{welcome}");
    let (status, body) = s
        .post(
            "/instance/create",
            Some(KEY),
            json!({"instanceName": "shop", "integration": "LOOPBACK", "qrcode": true}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["instance"]["instanceName"], "shop");
    assert_eq!(body["instance"]["integration"], "LOOPBACK");
    assert_eq!(body["instance"]["status"], "connecting");
    assert!(body["hash"].as_str().is_some_and(|h| !h.is_empty()));
    assert_eq!(body["settings"]["rejectCall"], false);
    let qr = &body["qrcode"];
    assert_eq!(qr["count"], 1);
    assert!(qr["pairingCode"].is_null());
    let code = qr["code"].as_str().expect("qr code");
    assert_eq!(decode_qr(qr["base64"].as_str().expect("base64")), code);

    // connect while connecting returns the current QR.
    let (status, body) = s.get("/instance/connect/shop", Some(KEY)).await;
    assert_eq!(status, 200);
    assert_eq!(body["code"], code);
    assert_eq!(s.state("shop").await, "connecting");

    let (status, body) = s.post("/loopback/scan/shop", Some(KEY), json!({})).await;
    assert_eq!(status, 200, "{body}");
    s.wait_state("shop", "open").await;
    let (status, body) = s.get("/instance/connect/shop", Some(KEY)).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"instance": {"instanceName": "shop", "state": "open"}})
    );

    let (_, list) = s.get("/instance/fetchInstances", Some(KEY)).await;
    let row = &list[0];
    assert_eq!(row["name"], "shop");
    assert_eq!(row["connectionStatus"], "open");
    assert!(
        row["ownerJid"]
            .as_str()
            .unwrap()
            .ends_with("@s.whatsapp.net")
    );

    // Logout wipes the session and keeps the instance; a second logout is refused.
    let (status, body) = s.delete("/instance/logout/shop", Some(KEY)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["response"]["message"], "Instance logged out");
    assert_eq!(s.state("shop").await, "close");
    let (status, body) = s.delete("/instance/logout/shop", Some(KEY)).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["response"]["message"],
        json!(["The \"shop\" instance is not connected"])
    );
    let (status, _) = s.get("/instance/connect/shop", Some(KEY)).await;
    assert_eq!(status, 200);
    assert_eq!(
        s.state("shop").await,
        "connecting",
        "a new QR flow starts after logout"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn qr_limit_leads_to_refused_and_pairing_code_is_offered() {
    let s = TestServer::start(&[
        ("QRCODE_LIMIT", "2"),
        ("ZAPGATE_LOOPBACK_QR_INTERVAL_MS", "30"),
    ])
    .await;
    s.create_loopback("slow").await;
    let mut events = s.events("instance=slow").await;
    let (status, body) = s
        .get("/instance/connect/slow?number=5511988887777", Some(KEY))
        .await;
    assert_eq!(status, 200);
    let code = body["pairingCode"].as_str().expect("pairing code");
    assert_eq!(code.len(), 8);
    s.wait_state("slow", "refused").await;
    let limit = expect_event(&mut events, |e| {
        e["event"] == "qrcode.updated" && e["data"]["statusCode"] == 500
    })
    .await;
    assert_eq!(
        limit["data"]["message"],
        "QR code limit reached, please login again"
    );
    let refused = expect_event(&mut events, |e| {
        e["event"] == "connection.update" && e["data"]["state"] == "refused"
    })
    .await;
    assert_eq!(refused["data"]["statusReason"], 428);
    // restart starts a new QR flow.
    let (status, body) = s.post("/instance/restart/slow", Some(KEY), json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(body["code"].is_string() || body["instance"]["state"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn auth_matrix_matches_evolution() {
    let s = TestServer::start(&[]).await;
    let token_a = s.create_loopback("alpha").await;
    let token_b = s.create_loopback("beta").await;
    let unauthorized =
        json!({"status": 401, "error": "Unauthorized", "response": {"message": "Unauthorized"}});

    // Global key and own token pass; the other instance's token and no key do not.
    assert_eq!(
        s.get("/instance/connectionState/alpha", Some(KEY)).await.0,
        200
    );
    let (status, body) = s
        .get("/instance/connectionState/alpha", Some(&token_a))
        .await;
    assert_eq!(
        (status, body["instance"]["state"].clone()),
        (200, json!("close"))
    );
    assert_eq!(
        s.get("/instance/connectionState/alpha", Some(&token_b))
            .await,
        (401, unauthorized.clone())
    );
    assert_eq!(
        s.get("/instance/connectionState/alpha", None).await,
        (401, unauthorized.clone())
    );
    assert_eq!(
        s.get("/settings/find/alpha", Some("wrong")).await,
        (401, unauthorized.clone())
    );

    // Unknown instance: 404 before auth, with or without a key.
    let not_found = json!({"status": 404, "error": "Not Found", "response": {"message": ["The \"ghost\" instance does not exist"]}});
    assert_eq!(
        s.get("/instance/connectionState/ghost", None).await,
        (404, not_found.clone())
    );
    assert_eq!(
        s.get("/instance/connectionState/ghost", Some(KEY)).await,
        (404, not_found)
    );

    // Create: the key is checked before the body is read (Evolution reads it first and answers
    // 403 for a taken name to anyone); with the key, a taken name is 403; a token cannot create.
    let taken = json!({"status": 403, "error": "Forbidden", "response": {"message": ["This name \"alpha\" is already in use."]}});
    let body = json!({"instanceName": "alpha", "integration": "LOOPBACK"});
    assert_eq!(
        s.post("/instance/create", None, body.clone()).await,
        (401, unauthorized.clone())
    );
    assert_eq!(
        s.post("/instance/create", Some(KEY), body).await,
        (403, taken)
    );
    let fresh = json!({"instanceName": "gamma", "integration": "LOOPBACK"});
    assert_eq!(
        s.post("/instance/create", Some(&token_a), fresh.clone())
            .await,
        (401, unauthorized.clone())
    );
    assert_eq!(
        s.post("/instance/create", None, fresh).await,
        (401, unauthorized.clone())
    );

    // A token already held by another instance is refused.
    let (status, body) = s
        .post(
            "/instance/create",
            Some(KEY),
            json!({"instanceName": "delta", "integration": "LOOPBACK", "token": token_a}),
        )
        .await;
    assert_eq!(status, 400, "{body}");

    // fetchInstances: global sees all, a token sees its own, an unknown key nothing.
    let (_, all) = s.get("/instance/fetchInstances", Some(KEY)).await;
    assert_eq!(all.as_array().unwrap().len(), 2);
    let (_, own) = s.get("/instance/fetchInstances", Some(&token_b)).await;
    let names: Vec<&Value> = own.as_array().unwrap().iter().map(|r| &r["name"]).collect();
    assert_eq!(names, vec![&json!("beta")]);
    assert_eq!(own[0]["token"], token_b.as_str());
    assert_eq!(
        s.get("/instance/fetchInstances", Some("nope")).await,
        (401, unauthorized.clone())
    );
    assert_eq!(
        s.get("/instance/fetchInstances", None).await,
        (401, unauthorized)
    );
    let (status, body) = s
        .get("/instance/fetchInstances?instanceName=zzz", Some(KEY))
        .await;
    assert_eq!(status, 404);
    assert_eq!(
        body["response"]["message"],
        json!(["Instance \"zzz\" not found"])
    );

    // Operator routes take the global key only.
    assert_eq!(
        s.post("/loopback/scan/alpha", Some(&token_a), json!({}))
            .await
            .0,
        401
    );

    // A token can delete its own instance, not another one.
    assert_eq!(
        s.delete("/instance/delete/beta", Some(&token_a)).await.0,
        401
    );
    let (status, body) = s.delete("/instance/delete/beta", Some(&token_b)).await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!({"status": "SUCCESS", "error": false, "response": {"message": "Instance deleted"}})
    );
    assert_eq!(
        s.get("/instance/connectionState/beta", Some(KEY)).await.0,
        404
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn send_text_between_loopback_instances() {
    let s = TestServer::start(&[]).await;
    let phone_a = s.paired_loopback("alice", "15550001001").await;
    let phone_b = s.paired_loopback("bob", "15550001002").await;
    let mut bob_events = s.events("instance=bob&events=MESSAGES_UPSERT").await;
    let mut alice_events = s
        .events("instance=alice&events=SEND_MESSAGE,MESSAGES_UPDATE,MESSAGES_UPSERT")
        .await;

    let (status, sent) = s
        .post(
            "/message/sendText/alice",
            Some(KEY),
            json!({"number": format!("+{phone_b}"), "text": "hello bob"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    let id = sent["key"]["id"].as_str().expect("key.id").to_string();
    assert_eq!(
        sent["key"]["remoteJid"],
        format!("{phone_b}@s.whatsapp.net")
    );
    assert_eq!(sent["key"]["fromMe"], true);
    assert_eq!(sent["message"]["conversation"], "hello bob");
    assert_eq!(sent["messageType"], "conversation");
    assert_eq!(sent["status"], "PENDING");
    assert!(sent["messageTimestamp"].as_u64().unwrap() > 1_600_000_000);

    let got = expect_event(&mut bob_events, |e| e["event"] == "messages.upsert").await;
    assert_eq!(got["instance"], "bob");
    assert_eq!(got["data"]["key"]["id"], id.as_str());
    assert_eq!(got["data"]["key"]["fromMe"], false);
    assert_eq!(
        got["data"]["key"]["remoteJid"],
        format!("{phone_a}@s.whatsapp.net")
    );
    assert_eq!(got["data"]["message"]["conversation"], "hello bob");
    assert_eq!(got["sender"], format!("{phone_b}@s.whatsapp.net"));

    let echo = expect_event(&mut alice_events, |e| e["event"] == "send.message").await;
    assert_eq!(echo["data"]["key"]["id"], id.as_str());
    let ack = expect_event(&mut alice_events, |e| {
        e["event"] == "messages.update" && e["data"]["status"] == "DELIVERY_ACK"
    })
    .await;
    assert_eq!(ack["data"]["keyId"], id.as_str());

    // And back the other way.
    let (status, _) = s
        .post(
            "/message/sendText/bob",
            Some(KEY),
            json!({"number": phone_a, "text": "hi alice"}),
        )
        .await;
    assert_eq!(status, 201);
    let back = expect_event(&mut alice_events, |e| e["event"] == "messages.upsert").await;
    assert_eq!(back["data"]["message"]["conversation"], "hi alice");

    // A number nobody has: Evolution's exists:false body.
    let (status, body) = s
        .post(
            "/message/sendText/alice",
            Some(KEY),
            json!({"number": "5511000000000", "text": "x"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["response"]["message"],
        json!([{"jid": "5511000000000@s.whatsapp.net", "exists": false, "number": "5511000000000"}])
    );
    // Not connected.
    s.create_loopback("idle").await;
    let (status, body) = s
        .post(
            "/message/sendText/idle",
            Some(KEY),
            json!({"number": phone_a, "text": "x"}),
        )
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["response"]["message"],
        json!(["The \"idle\" instance is not connected"])
    );
    let (_, list) = s
        .get("/instance/fetchInstances?instanceName=alice", Some(KEY))
        .await;
    assert_eq!(list[0]["_count"]["Message"], 2, "one sent, one received");
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_an_envelope_never_a_500() {
    let s = TestServer::start(&[("ZAPGATE_MAX_BODY_BYTES", "4096")]).await;
    s.create_loopback("inbox").await;
    let raw = |path: &str, body: &'static str| {
        s.http
            .post(s.url(path))
            .header("apikey", KEY)
            .header("content-type", "application/json")
            .body(body)
    };
    let check = |status: u16, body: &Value, want: u16| {
        assert_eq!(status, want, "{body}");
        assert_eq!(body["status"], want);
        assert!(body["error"].is_string());
        assert!(body["response"]["message"].is_array() || body["response"]["message"].is_string());
    };
    for (path, body) in [
        ("/instance/create", "{\"instanceName\":"),
        ("/instance/create", "not json"),
        ("/instance/create", "{\"instanceName\": {\"x\": 1}}"),
        (
            "/instance/create",
            "{\"instanceName\": \"x\", \"qrcode\": \"yes\"}",
        ),
        ("/instance/create", "[]"),
        (
            "/message/sendText/inbox",
            "{\"number\": [], \"text\": \"x\"}",
        ),
        (
            "/message/sendText/inbox",
            "{\"number\": \"1\", \"text\": {\"a\": 1}}",
        ),
        ("/settings/set/inbox", "{\"rejectCall\": true}"),
        ("/instance/setPresence/inbox", "{\"presence\": \"dancing\"}"),
    ] {
        let resp = raw(path, body).send().await.unwrap();
        let status = resp.status().as_u16();
        let json: Value = resp.json().await.unwrap();
        check(status, &json, 400);
    }
    // Validation errors use Evolution's nested array.
    let (status, body) = s
        .post("/message/sendText/inbox", Some(KEY), json!({"number": "1"}))
        .await;
    assert_eq!(status, 400);
    assert_eq!(
        body["response"]["message"],
        json!([["instance requires property \"text\""]])
    );
    let (status, body) = s
        .post(
            "/message/sendText/inbox",
            Some(KEY),
            json!({"number": "1", "text": "  "}),
        )
        .await;
    assert_eq!(
        (status, body["response"]["message"].clone()),
        (400, json!(["Text is required"]))
    );
    let (status, body) = s
        .post(
            "/instance/create",
            Some(KEY),
            json!({"instanceName": "x", "integration": "FAX"}),
        )
        .await;
    assert_eq!(
        (status, body["response"]["message"].clone()),
        (400, json!(["Invalid integration"]))
    );
    let (status, _) = s
        .post(
            "/instance/create",
            Some(KEY),
            json!({"instanceName": "a/b", "integration": "LOOPBACK"}),
        )
        .await;
    assert_eq!(status, 400);

    // Oversized bodies, declared or chunked.
    let big = "x".repeat(10_000);
    let resp = s
        .http
        .post(s.url("/instance/create"))
        .header("apikey", KEY)
        .header("content-type", "application/json")
        .body(format!("{{\"instanceName\":\"{big}\"}}"))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    // The unread rest of the body makes the connection unusable; the client must not reuse it.
    assert_eq!(
        resp.headers().get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..])
    );
    check(status, &resp.json().await.unwrap(), 413);
    let chunks =
        futures_util::stream::iter((0..10).map(|_| Ok::<_, std::io::Error>(vec![b' '; 1000])));
    let resp = s
        .http
        .post(s.url("/instance/create"))
        .header("apikey", KEY)
        .header("content-type", "application/json")
        .body(reqwest::Body::wrap_stream(chunks))
        .send()
        .await
        .unwrap();
    let status = resp.status().as_u16();
    // The unread rest of the body makes the connection unusable; the client must not reuse it.
    assert_eq!(
        resp.headers().get("connection").map(|v| v.as_bytes()),
        Some(&b"close"[..])
    );
    check(status, &resp.json().await.unwrap(), 413);

    // Odd instance names in the path: 404 with the envelope, never a 500.
    for name in [
        "%00",
        "%F0%9F%92%A9",
        "..%2F..%2Fetc",
        "a%20b",
        "%E2%80%AE",
        "x'%22;--",
        "%FF",
    ] {
        let resp = s
            .http
            .get(s.url(&format!("/instance/connectionState/{name}")))
            .header("apikey", KEY)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        assert!(status == 404 || status == 400, "{name}: {status}");
        let body: Value = resp.json().await.unwrap();
        check(status, &body, status);
    }
    // Unknown route and wrong method.
    let (status, body) = s.get("/nope", Some(KEY)).await;
    assert_eq!(status, 404);
    assert_eq!(body["response"]["message"], json!(["Cannot GET /nope"]));
    let (status, body) = s.delete("/instance/create", Some(KEY)).await;
    check(status, &body, 405);
    // The server is still healthy.
    assert_eq!(s.get("/health", None).await.0, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn websocket_stream_sends_filtered_envelopes() {
    use tokio_tungstenite::tungstenite::Message;
    let s = TestServer::start(&[]).await;
    let ws_base = s.base.replacen("http://", "ws://", 1);
    assert!(
        tokio_tungstenite::connect_async(format!("{ws_base}/events/ws?apikey=wrong"))
            .await
            .is_err(),
        "a wrong key must not upgrade"
    );
    let url = format!("{ws_base}/events/ws?apikey={KEY}&events=INSTANCE_CREATE,CONNECTION_UPDATE");
    let (mut ws, _) = tokio_tungstenite::connect_async(url)
        .await
        .expect("upgrade");
    s.create_loopback("wsa").await;
    assert_eq!(s.get("/instance/connect/wsa", Some(KEY)).await.0, 200);
    let mut events = Vec::new();
    while events.len() < 2 {
        let msg = tokio::time::timeout(common::DEADLINE, futures_util::StreamExt::next(&mut ws))
            .await
            .expect("frame in time")
            .expect("socket open")
            .expect("frame");
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            assert!(v.get("destination").is_none());
            assert_eq!(v["instance"], "wsa");
            events.push(v["event"].as_str().unwrap_or("").to_string());
        }
    }
    // qrcode.updated is filtered out; create comes before the first state change.
    assert_eq!(events, ["instance.create", "connection.update"]);
}
