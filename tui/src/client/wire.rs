//! Wire JSON → domain types. The one place a server's field names are known.

use chrono::DateTime;
use serde_json::Value;

use crate::msg::{
    Counters, Endpoint, EventKind, InstanceRow, ServerInfo, State, StreamEvent, SummaryRow,
    UnixSecs, WebhookBrief, WebhookHealth,
};

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
        webhook: None,
    })
}

/// A fetchInstances body straight from its bytes, one row's JSON tree at a time: a 5,000-row
/// list parsed whole into a `Value` costs tens of megabytes of small allocations that the
/// allocator keeps after they are freed (the README's console benchmark has the figures).
pub fn instances_from_slice(body: &[u8]) -> Vec<InstanceRow> {
    serde_json::from_slice::<RowByRow>(body).map_or_else(|_| Vec::new(), |r| r.0)
}

/// A JSON array read element by element: each row's tree lives only while it is converted.
struct RowByRow(Vec<InstanceRow>);

impl<'de> serde::Deserialize<'de> for RowByRow {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Rows;
        impl<'de> serde::de::Visitor<'de> for Rows {
            type Value = RowByRow;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a list of instances")
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RowByRow, A::Error> {
                let mut out = Vec::with_capacity(seq.size_hint().unwrap_or(0));
                while let Some(v) = seq.next_element::<Value>()? {
                    out.extend(instance(&v));
                }
                Ok(RowByRow(out))
            }
        }
        d.deserialize_seq(Rows)
    }
}

pub fn instances(list: &Value) -> Vec<InstanceRow> {
    list.as_array()
        .map(|a| a.iter().filter_map(instance).collect())
        .unwrap_or_default()
}

/// zapgate's `GET /instance/summary` answer.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Pass as the next `changedSince`.
    pub generated_at_ms: i64,
    /// Every instance the key sees, listed or not.
    pub instances: u64,
    pub rows: Vec<SummaryRow>,
}

fn summary_row(r: &Value) -> Option<SummaryRow> {
    let n = |k: &str| r[k].as_u64().unwrap_or(0);
    Some(SummaryRow {
        name: text(&r["name"])?,
        state: State::parse(r["state"].as_str().unwrap_or("close")),
        since: r["since"].as_str().and_then(secs),
        counters: Counters {
            messages_in: n("messagesIn"),
            messages_out: n("messagesOut"),
            send_errors: n("sendErrors"),
            reconnects: n("reconnects"),
            flaps_last_hour: n("flapsLastHour"),
        },
        last_error: text(&r["lastError"]),
        webhook: webhook_brief(&r["webhook"]),
    })
}

fn webhook_brief(w: &Value) -> Option<WebhookBrief> {
    w.is_object().then(|| WebhookBrief {
        backlog: w["backlog"].as_u64().unwrap_or(0),
        last_status: w["lastStatus"].as_u64().and_then(|s| u16::try_from(s).ok()),
        failing: w["failing"]
            .as_u64()
            .map_or(0, |f| u32::try_from(f).unwrap_or(u32::MAX)),
    })
}

/// None when the body is not a summary (a server without the route answers something else).
pub fn summary(v: &Value) -> Option<Summary> {
    Some(Summary {
        generated_at_ms: v["generatedAtMs"].as_i64()?,
        instances: v["instances"].as_u64()?,
        rows: v["rows"]
            .as_array()?
            .iter()
            .filter_map(summary_row)
            .collect(),
    })
}

/// `GET /webhook/stats/{instance}`: the instance's endpoint (`i:<id>`) and the global one.
pub fn webhook_health(v: &Value) -> WebhookHealth {
    let endpoints = v["endpoints"]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|e| {
                    let n = |k: &str| e[k].as_u64().unwrap_or(0);
                    Endpoint {
                        kind: match e["endpoint"].as_str() {
                            Some("global") => "global".into(),
                            _ => "instance".into(),
                        },
                        url: text(&e["url"]),
                        backlog: n("outboxDepth"),
                        backlog_full: e["backlogFull"].as_bool().unwrap_or(false),
                        last_status: e["lastStatus"].as_u64().map(|s| s as u16),
                        last_error: text(&e["lastError"]),
                        consecutive_failures: n("consecutiveFailures"),
                        delivered: n("delivered"),
                        dead_lettered: n("deadLettered"),
                    }
                })
                .collect()
        })
        .unwrap_or_default();
    WebhookHealth {
        dead_letters: v["deadLetters"].as_u64().unwrap_or(0),
        endpoints,
    }
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
