//! Wire JSON → domain, and where the console's settings come from.

use serde_json::json;
use zapgate_tui::client::wire;
use zapgate_tui::config::{Args, File};
use zapgate_tui::msg::{EventKind, State};

#[test]
fn a_zapgate_row_uses_its_live_state_and_counters() {
    let row = json!({
        "name": "acme", "connectionStatus": "close", "integration": "LOOPBACK", "number": "5511",
        "_count": {"Message": 7},
        "zapgate": {"state": "failed", "since": "2027-01-15T08:00:00.000Z", "lastError": "401",
            "counters": {"messagesIn": 3, "messagesOut": 2, "sendErrors": 1, "reconnects": 4, "flapsLastHour": 5}}
    });
    let r = wire::instance(&row).unwrap();
    assert_eq!(
        r.state,
        State::Failed,
        "zapgate's state beats Evolution's persisted status"
    );
    assert_eq!(r.since, Some(1_800_000_000));
    assert_eq!(r.last_error.as_deref(), Some("401"));
    assert_eq!(r.messages, 7);
    let c = r.counters.unwrap();
    assert_eq!((c.messages_in, c.send_errors, c.flaps_last_hour), (3, 1, 5));
}

#[test]
fn a_plain_evolution_row_has_only_connection_status() {
    let r = wire::instance(&json!({"name": "x", "connectionStatus": "open"})).unwrap();
    assert_eq!((r.state, r.since, r.counters), (State::Open, None, None));
    assert!(wire::instance(&json!({"connectionStatus": "open"})).is_none());
}

#[test]
fn stream_envelopes() {
    let ev = |event: &str, data: serde_json::Value| {
        wire::event(&json!({"event": event, "instance": "a", "data": data, "date_time": "2027-01-15T08:00:01.000Z"}), 0).unwrap()
    };
    let c = ev(
        "connection.update",
        json!({"state": "open", "statusReason": 200}),
    );
    assert_eq!(c.at, 1_800_000_001);
    assert_eq!(
        c.kind,
        EventKind::Connection {
            state: State::Open,
            reason: Some(200)
        }
    );
    assert_eq!(
        ev(
            "qrcode.updated",
            json!({"qrcode": {"code": "2@x", "pairingCode": null}})
        )
        .kind,
        EventKind::Qr {
            code: Some("2@x".into()),
            pairing_code: None
        }
    );
    assert_eq!(
        ev("messages.upsert", json!({"key": {"fromMe": true}})).kind,
        EventKind::MessageOut
    );
    assert_eq!(
        ev("messages.upsert", json!({"key": {"fromMe": false}})).kind,
        EventKind::MessageIn
    );
    assert_eq!(ev("remove.instance", json!(null)).kind, EventKind::Deleted);
    assert_eq!(
        ev("chats.upsert", json!([])).kind,
        EventKind::Other("chats.upsert".into())
    );
}

#[test]
fn evolution_error_envelopes_read_as_text() {
    let body = json!({"status": 404, "error": "Not Found", "response": {"message": ["Instance \"x\" not found"]}});
    assert_eq!(
        wire::error_text(404, &body),
        "HTTP 404: Instance \"x\" not found"
    );
    assert_eq!(wire::error_text(502, &json!(null)), "HTTP 502");
}

#[test]
fn flags_beat_the_config_file_which_names_servers() {
    let file: File = toml::from_str(
        r#"
        default = "prod"
        [servers.prod]
        url = "https://gw1:8080"
        apikey = "from-file"
        read_only = true
        [servers.lab]
        url = "http://127.0.0.1:8080"
        apikey = "lab-key"
        integration = "LOOPBACK"
        "#,
    )
    .unwrap();
    let prod = Args::default().resolve(&file).unwrap();
    assert_eq!(
        (prod.url.as_str(), prod.apikey.as_str(), prod.read_only),
        ("https://gw1:8080", "from-file", true)
    );
    let lab = Args {
        server: Some("lab".into()),
        apikey: Some("flag".into()),
        ..Args::default()
    }
    .resolve(&file)
    .unwrap();
    assert_eq!(
        (
            lab.apikey.as_str(),
            lab.integration.as_deref(),
            lab.read_only
        ),
        ("flag", Some("LOOPBACK"), false)
    );
    assert!(
        Args {
            server: Some("nope".into()),
            ..Args::default()
        }
        .resolve(&file)
        .is_err()
    );
    let bare = Args {
        url: Some("http://x".into()),
        ..Args::default()
    }
    .resolve(&File::default());
    assert!(bare.is_err(), "a key is required");
}

#[test]
fn a_summary_answer_and_a_body_that_is_not_one() {
    let body = json!({"generatedAtMs": 1_800_000_000_123i64, "instances": 5000,
        "states": {"open": 2},
        "rows": [{"name": "a", "state": "failed", "since": "2027-01-15T08:00:00.000Z",
                  "secondsInState": 9, "messagesIn": 4, "messagesOut": 1, "sendErrors": 2,
                  "reconnects": 3, "flapsLastHour": 1, "lastActivity": null, "lastError": "401"}]});
    let s = wire::summary(&body).unwrap();
    assert_eq!((s.generated_at_ms, s.instances), (1_800_000_000_123, 5000));
    let r = &s.rows[0];
    assert_eq!((r.state, r.since), (State::Failed, Some(1_800_000_000)));
    assert_eq!(
        (
            r.counters.messages_in,
            r.counters.send_errors,
            r.counters.flaps_last_hour
        ),
        (4, 2, 1)
    );
    assert_eq!(r.last_error.as_deref(), Some("401"));
    let evolution_404 = json!({"status": 404, "error": "Not Found", "response": {"message": ["Cannot GET /instance/summary"]}});
    assert_eq!(wire::summary(&evolution_404), None);
}

#[test]
fn fetch_instances_bytes_are_read_row_by_row() {
    let body = json!([
        {"name": "a", "connectionStatus": "open"},
        {"connectionStatus": "open"},
        {"name": "b", "connectionStatus": "close", "zapgate": {"state": "connecting"}}
    ])
    .to_string();
    let rows = wire::instances_from_slice(body.as_bytes());
    let names: Vec<(&str, State)> = rows.iter().map(|r| (r.name.as_str(), r.state)).collect();
    assert_eq!(names, [("a", State::Open), ("b", State::Connecting)]);
    assert!(wire::instances_from_slice(b"{\"status\": 401}").is_empty());
}

#[test]
fn webhook_stats_become_endpoint_health() {
    let body = json!({"instanceName": "a", "deadLetters": 3, "maxBacklog": 100000,
    "endpoints": [
        {"endpoint": "i:8d9c", "url": "http://hooks/a", "outboxDepth": 0, "backlogFull": false,
         "lastStatus": 200, "lastError": null, "consecutiveFailures": 0, "delivered": 12,
         "deadLettered": 0},
        {"endpoint": "global", "url": "", "outboxDepth": 42, "backlogFull": true,
         "lastStatus": null, "lastError": "connection refused", "consecutiveFailures": 5,
         "delivered": 0, "deadLettered": 3}
    ]});
    let h = wire::webhook_health(&body);
    assert_eq!(h.dead_letters, 3);
    let (own, global) = (&h.endpoints[0], &h.endpoints[1]);
    assert_eq!(
        (own.kind.as_str(), own.url.as_deref(), own.last_status),
        ("instance", Some("http://hooks/a"), Some(200))
    );
    assert_eq!(
        (global.kind.as_str(), global.url.as_deref()),
        ("global", None)
    );
    assert_eq!(
        (
            global.backlog,
            global.backlog_full,
            global.consecutive_failures
        ),
        (42, true, 5)
    );
    assert_eq!(global.last_error.as_deref(), Some("connection refused"));
}
