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
