//! `/rabbitmq/*`, `/nats/*`, `/websocket/*` and the transports zapgate does not ship (`/sqs`, `/kafka`,
//! `/pusher`): Evolution's request and answer shapes, bad input, and a transport switched off.
//! Setting a subscription connects to nothing, so no broker is needed here (the deliveries
//! are in `broker_*.rs`, behind the `broker-tests` feature).

mod common;

use common::{KEY, TestServer};
use serde_json::{Value, json};

const ON: &[(&str, &str)] = &[
    ("RABBITMQ_ENABLED", "true"),
    ("RABBITMQ_URI", "amqp://guest:guest@127.0.0.1:9/%2f"),
    ("NATS_ENABLED", "true"),
    ("NATS_URI", "nats://127.0.0.1:9"),
    ("WEBSOCKET_ENABLED", "true"),
];

fn message(body: &Value) -> String {
    body["response"]["message"].to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn set_and_find_keep_evolutions_shapes() {
    let s = TestServer::start(ON).await;
    let token = s.create_loopback("acme").await;
    for t in ["rabbitmq", "nats", "websocket"] {
        let (status, body) = s.get(&format!("/{t}/find/acme"), Some(&token)).await;
        assert_eq!((status, &body), (200, &Value::Null), "{t}: nothing set yet");

        // Enabled with no events: every event, as Evolution stores it.
        let (status, row) = s
            .post(
                &format!("/{t}/set/acme"),
                Some(&token),
                json!({t: {"enabled": true, "events": []}}),
            )
            .await;
        assert_eq!(status, 201, "{t}: {row}");
        assert_eq!(row["enabled"], true);
        let events = row["events"].as_array().unwrap();
        assert_eq!(events.len(), 31, "{t}: {row}");
        assert!(events.contains(&json!("MESSAGES_UPSERT")));
        assert!(events.contains(&json!("GROUP_UPDATE")));
        for field in ["id", "createdAt", "updatedAt", "instanceId"] {
            assert!(row[field].is_string(), "{t}: {field} in {row}");
        }

        // A chosen list; `GROUPS_UPDATE` is the same event as `GROUP_UPDATE`.
        let (status, again) = s
            .post(
                &format!("/{t}/set/acme"),
                Some(KEY),
                json!({t: {"enabled": true, "events": ["SEND_MESSAGE", "GROUPS_UPDATE"]}}),
            )
            .await;
        assert_eq!(status, 201, "{again}");
        assert_eq!(again["events"], json!(["SEND_MESSAGE", "GROUP_UPDATE"]));
        assert_eq!(again["id"], row["id"], "{t}: one row per instance");
        assert_eq!(again["createdAt"], row["createdAt"]);
        let (status, found) = s.get(&format!("/{t}/find/acme"), Some(&token)).await;
        assert_eq!(status, 200);
        assert_eq!(found, again);

        // Disabled keeps no events.
        let (_, off) = s
            .post(
                &format!("/{t}/set/acme"),
                Some(KEY),
                json!({t: {"enabled": false, "events": ["CALL"]}}),
            )
            .await;
        assert_eq!(
            (off["enabled"].clone(), off["events"].clone()),
            (json!(false), json!([]))
        );
    }
    // Subscriptions survive a restart.
    let dir = s.kill().await;
    let s = TestServer::start_in(&dir.path, ON).await;
    let (_, found) = s.get("/nats/find/acme", Some(KEY)).await;
    assert_eq!(found["enabled"], false);
    let (_, found) = s.get("/rabbitmq/find/acme", Some(KEY)).await;
    assert_eq!(found["enabled"], false);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_gets_the_400_envelope() {
    let s = TestServer::start(ON).await;
    s.create_loopback("acme").await;
    s.create_loopback("acme.prod").await;
    let cases = [
        (
            "/rabbitmq/set/acme",
            json!({}),
            "requires property \\\"rabbitmq\\\"",
        ),
        (
            "/rabbitmq/set/acme",
            json!({"rabbitmq": {}}),
            "requires property \\\"enabled\\\"",
        ),
        (
            "/nats/set/acme",
            json!({"nats": {"enabled": true, "events": ["NOPE"]}}),
            "NOPE",
        ),
        ("/nats/set/acme", json!({"nats": {"enabled": "yes"}}), ""),
        (
            "/nats/set/acme",
            json!({"nats": {"enabled": true, "events": "CALL"}}),
            "",
        ),
        (
            "/rabbitmq/set/acme",
            json!({"rabbitmq": {"enabled": true, "events": [1]}}),
            "",
        ),
        // The name is not one NATS subject token.
        (
            "/nats/set/acme.prod",
            json!({"nats": {"enabled": true}}),
            "NATS subject",
        ),
    ];
    for (path, body, says) in cases {
        let (status, answer) = s.post(path, Some(KEY), body.clone()).await;
        assert_eq!(status, 400, "{path} {body}: {answer}");
        assert_eq!(answer["status"], 400, "{answer}");
        assert_eq!(answer["error"], "Bad Request", "{answer}");
        assert!(message(&answer).contains(says), "{path} {body}: {answer}");
    }
    let (status, body) = s
        .post(
            "/rabbitmq/set/nobody",
            Some(KEY),
            json!({"rabbitmq": {"enabled": true}}),
        )
        .await;
    assert_eq!(status, 404, "{body}");
    let (status, _) = s
        .post(
            "/rabbitmq/set/acme",
            Some("wrong"),
            json!({"rabbitmq": {"enabled": true}}),
        )
        .await;
    assert_eq!(status, 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn transports_switched_off_or_not_shipped_say_disabled() {
    let s = TestServer::start(&[]).await;
    let token = s.create_loopback("acme").await;
    for (t, name) in [
        ("rabbitmq", "RabbitMQ"),
        ("nats", "NATS"),
        ("websocket", "WebSocket"),
        ("sqs", "SQS"),
        ("kafka", "Kafka"),
        ("pusher", "Pusher"),
    ] {
        let (status, body) = s
            .post(
                &format!("/{t}/set/acme"),
                Some(&token),
                json!({t: {"enabled": true, "events": []}}),
            )
            .await;
        assert_eq!(status, 400, "{t}: {body}");
        assert_eq!(
            body["response"]["message"],
            json!([format!("{name} is disabled")])
        );
        let (status, body) = s.get(&format!("/{t}/find/acme"), Some(&token)).await;
        assert_eq!(status, 400, "{t}: {body}");
        let (status, _) = s.get(&format!("/{t}/find/nobody"), Some(&token)).await;
        assert_eq!(status, 404, "{t}: unknown instance first");
    }
}
