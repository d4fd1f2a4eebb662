//! Real-engine instances paired through wa-mock's simulated phone.

use std::time::Duration;

use serde_json::json;
use wa_mock::WaMock;

use super::{KEY, TestServer};

/// The first login after pairing waits ~10 s for an app-state key the mock phone never sends.
pub const LOGIN: Duration = Duration::from_secs(60);

/// Creates a WHATSAPP-BAILEYS instance, has the mock phone `phone` scan its QR, and waits until
/// it is open. Returns the instance id.
pub async fn paired(s: &TestServer, mock: &WaMock, name: &str, phone: &str) -> String {
    paired_with(s, mock, name, phone, json!({})).await
}

/// [`paired`] with more fields in the create body (settings, webhook).
#[allow(dead_code)]
pub async fn paired_with(
    s: &TestServer,
    mock: &WaMock,
    name: &str,
    phone: &str,
    extra: serde_json::Value,
) -> String {
    let mut body = json!({"instanceName": name, "integration": "WHATSAPP-BAILEYS", "qrcode": true});
    if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
        b.extend(e.clone());
    }
    let (status, created) = s.post("/instance/create", Some(KEY), body).await;
    assert_eq!(status, 201, "{created}");
    let code = match created["qrcode"]["code"].as_str() {
        Some(c) => c.to_string(),
        None => {
            let (_, qr) = s.get(&format!("/instance/connect/{name}"), Some(KEY)).await;
            qr["code"].as_str().expect("a QR code").to_string()
        }
    };
    let p = mock.scan(&code, Some(phone)).await.expect("scan");
    assert_eq!(p.phone, phone);
    s.wait_state_within(name, "open", LOGIN).await;
    created["instance"]["instanceId"]
        .as_str()
        .expect("instanceId")
        .to_string()
}
