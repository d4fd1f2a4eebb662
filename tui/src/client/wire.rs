//! Wire JSON → domain types. The one place a server's field names are known.

use chrono::DateTime;
use serde_json::Value;

use crate::msg::{Counters, EventKind, InstanceRow, ServerInfo, State, StreamEvent, UnixSecs};

fn secs(rfc3339: &str) -> Option<UnixSecs> {
    DateTime::parse_from_rfc3339(rfc3339)
        .ok()
        .map(|t| t.timestamp().max(0) as u64)
}

fn text(v: &Value) -> Option<String> {
    v.as_str().filter(|s| !s.is_empty()).map(str::to_string)
}

/// One `fetchInstances` row. zapgate's live details sit under `zapgate`; a plain Evolution row
/// has only `connectionStatus`.
pub fn instance(row: &Value) -> Option<InstanceRow> {
    let name = text(&row["name"]).or_else(|| text(&row["instance"]["instanceName"]))?;
    let z = &row["zapgate"];
    let state = z["state"]
        .as_str()
        .or_else(|| row["connectionStatus"].as_str())
        .map_or(State::Close, State::parse);
    let c = &z["counters"];
    let counters = c.is_object().then(|| Counters {
        messages_in: c["messagesIn"].as_u64().unwrap_or(0),
        messages_out: c["messagesOut"].as_u64().unwrap_or(0),
        send_errors: c["sendErrors"].as_u64().unwrap_or(0),
        reconnects: c["reconnects"].as_u64().unwrap_or(0),
        flaps_last_hour: c["flapsLastHour"].as_u64().unwrap_or(0),
    });
    Some(InstanceRow {
        name,
        state,
        since: z["since"].as_str().and_then(secs),
        number: text(&row["number"]),
        owner_jid: text(&row["ownerJid"]),
        profile_name: text(&row["profileName"]),
        engine: text(&row["integration"]).unwrap_or_else(|| "-".into()),
        last_error: text(&z["lastError"]),
        messages: row["_count"]["Message"].as_u64().unwrap_or(0),
        counters,
    })
}

pub fn instances(list: &Value) -> Vec<InstanceRow> {
    list.as_array()
        .map(|a| a.iter().filter_map(instance).collect())
        .unwrap_or_default()
}

/// One stream envelope (`{event, instance, data, date_time}`).
pub fn event(env: &Value, now: UnixSecs) -> Option<StreamEvent> {
    let instance = text(&env["instance"])?;
    let name = env["event"].as_str()?;
    let data = &env["data"];
    let kind = match name {
        "connection.update" => EventKind::Connection {
            state: State::parse(data["state"].as_str().unwrap_or("close")),
            reason: data["statusReason"].as_u64().map(|r| r as u16),
        },
        "qrcode.updated" => EventKind::Qr {
            code: text(&data["qrcode"]["code"]),
            pairing_code: text(&data["qrcode"]["pairingCode"]),
        },
        "messages.upsert" if data["key"]["fromMe"].as_bool() == Some(true) => EventKind::MessageOut,
        "messages.upsert" => EventKind::MessageIn,
        "send.message" => EventKind::MessageOut,
        "instance.create" => EventKind::Created,
        "instance.delete" | "remove.instance" => EventKind::Deleted,
        other => EventKind::Other(other.to_string()),
    };
    let at = env["date_time"].as_str().and_then(secs).unwrap_or(now);
    Some(StreamEvent { instance, at, kind })
}

/// `/health` (zapgate) merged over `/` (any Evolution server).
pub fn server_info(welcome: &Value, health: &Value) -> ServerInfo {
    ServerInfo {
        version: text(&welcome["zapgateVersion"]).or_else(|| text(&welcome["version"])),
        uptime_s: health["uptimeSeconds"].as_u64(),
        rss_bytes: health["rssBytes"].as_u64(),
    }
}

/// Evolution's error envelope: `{status, error, response: {message: [..] | ".."}}`.
pub fn error_text(status: u16, body: &Value) -> String {
    let m = &body["response"]["message"];
    let detail = match m {
        Value::Array(a) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(str::to_string)
                    .unwrap_or_else(|| v.to_string())
            })
            .collect::<Vec<_>>()
            .join("; "),
        Value::String(s) => s.clone(),
        _ => text(&body["error"]).unwrap_or_default(),
    };
    if detail.is_empty() {
        format!("HTTP {status}")
    } else {
        format!("HTTP {status}: {detail}")
    }
}
