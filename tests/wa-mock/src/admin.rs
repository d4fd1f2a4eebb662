//! The admin HTTP API (JSON in, JSON out) that lets tests play the phone:
//! scan a QR, send as a contact, send the history after linking, call, log an
//! account out, list accounts.

use crate::calls::{self, CallError};
use crate::contact::{self, SendError};
use crate::http::Request;
use crate::login;
use crate::pairing::{self, ScanError};
use crate::shared::Shared;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

#[derive(Deserialize)]
struct ScanBody {
    qr: String,
    phone: Option<String>,
}

#[derive(Deserialize)]
struct SendBody {
    from: String,
    to: String,
    text: String,
}

#[derive(Deserialize)]
struct CallBody {
    from: String,
    to: String,
    #[serde(default)]
    video: bool,
}

#[derive(Deserialize)]
struct HistoryBody {
    phone: String,
    #[serde(flatten)]
    history: crate::history::History,
}

#[derive(Deserialize)]
struct LogoutBody {
    phone: String,
    device: Option<u16>,
}

#[derive(Serialize)]
pub struct DeviceInfo {
    pub id: u16,
    pub jid: String,
    pub connected: bool,
    pub prekeys: usize,
}

#[derive(Serialize)]
pub struct AccountInfo {
    pub phone: String,
    pub lid: String,
    pub devices: Vec<DeviceInfo>,
    /// The about text the owner set, if any.
    pub about: Option<String>,
    /// Phone numbers the owner blocked.
    pub blocked: Vec<String>,
}

fn reply(status: u16, body: Value) -> (u16, Vec<u8>) {
    (status, body.to_string().into_bytes())
}

fn parse<T: for<'de> Deserialize<'de>>(request: &Request) -> Result<T, (u16, Vec<u8>)> {
    serde_json::from_slice(&request.body)
        .map_err(|e| reply(400, json!({ "error": format!("bad json: {e}") })))
}

pub async fn route(shared: &Shared, request: &Request) -> (u16, Vec<u8>) {
    let path = request.path.split('?').next().unwrap_or_default();
    match (request.method.as_str(), path) {
        ("POST", "/admin/scan") => match parse::<ScanBody>(request) {
            Ok(body) => scan(shared, body).await,
            Err(e) => e,
        },
        ("POST", "/admin/send") => match parse::<SendBody>(request) {
            Ok(body) => send(shared, body).await,
            Err(e) => e,
        },
        ("POST", "/admin/history") => match parse::<HistoryBody>(request) {
            Ok(body) => history(shared, body).await,
            Err(e) => e,
        },
        ("POST", "/admin/logout") => match parse::<LogoutBody>(request) {
            Ok(body) => match login::logout(shared, &body.phone, body.device) {
                Some(devices) => reply(200, json!({ "phone": body.phone, "removed": devices })),
                None => reply(404, json!({ "error": "no such account" })),
            },
            Err(e) => e,
        },
        ("POST", "/admin/call") => match parse::<CallBody>(request) {
            Ok(body) => match calls::offer(shared, &body.from, &body.to, body.video) {
                Ok(offered) => reply(200, json!(offered)),
                Err(CallError::UnknownRecipient) => {
                    reply(404, json!({ "error": "no such account" }))
                }
                Err(CallError::NoDevices) => {
                    reply(404, json!({ "error": "account has no linked devices" }))
                }
            },
            Err(e) => e,
        },
        ("GET", "/admin/calls/rejects") => reply(200, json!(*shared.call_rejects.borrow())),
        ("GET", "/admin/accounts") => reply(200, json!(accounts(shared))),
        ("GET", "/admin/health") => reply(200, json!({ "ok": true })),
        _ => reply(404, json!({ "error": "no such route" })),
    }
}

async fn scan(shared: &Shared, body: ScanBody) -> (u16, Vec<u8>) {
    match pairing::scan(shared, &body.qr, body.phone).await {
        Ok(p) => reply(200, json!({ "phone": p.phone, "jid": p.jid, "lid": p.lid })),
        Err(ScanError::UnknownRef) => reply(
            404,
            json!({ "error": "no connected client shows that QR ref" }),
        ),
        Err(ScanError::BadQr(e)) => reply(400, json!({ "error": e })),
        Err(ScanError::Failed(e)) => reply(500, json!({ "error": e })),
    }
}

async fn send(shared: &Shared, body: SendBody) -> (u16, Vec<u8>) {
    match contact::send_text(shared, &body.from, &body.to, &body.text).await {
        Ok(sent) => reply(200, json!({ "id": sent.id, "devices": sent.devices })),
        Err(SendError::UnknownRecipient) => reply(404, json!({ "error": "no such account" })),
        Err(SendError::NoDevices) => {
            reply(404, json!({ "error": "account has no linked devices" }))
        }
        Err(SendError::Failed(e)) => reply(500, json!({ "error": format!("{e:#}") })),
    }
}

async fn history(shared: &Shared, body: HistoryBody) -> (u16, Vec<u8>) {
    match crate::history::send(shared, &body.phone, &body.history).await {
        Ok(sent) => reply(200, json!({ "id": sent.id, "devices": sent.devices })),
        Err(SendError::UnknownRecipient) => reply(404, json!({ "error": "no such account" })),
        Err(SendError::NoDevices) => {
            reply(404, json!({ "error": "account has no linked devices" }))
        }
        Err(SendError::Failed(e)) => reply(500, json!({ "error": format!("{e:#}") })),
    }
}

/// Snapshot of every account and its companion devices.
pub fn accounts(shared: &Shared) -> Vec<AccountInfo> {
    shared
        .reg()
        .accounts
        .values()
        .map(|a| AccountInfo {
            phone: a.phone.clone(),
            lid: a.lid.clone(),
            devices: a
                .devices
                .values()
                .map(|d| DeviceInfo {
                    id: d.id,
                    jid: a.pn_jid(d.id).to_string(),
                    connected: d.online_peer().is_some(),
                    prekeys: d.prekeys.len(),
                })
                .collect(),
            about: a.profile.status.clone(),
            blocked: a.profile.blocked.keys().cloned().collect(),
        })
        .collect()
}
