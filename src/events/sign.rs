//! The two signatures a webhook can carry, written on hmac/sha2 (we only ever sign):
//! Evolution's `jwt_key` -> `Authorization: Bearer <HS256 JWT>`, and Standard Webhooks'
//! `webhook-signature: v1,<base64 HMAC-SHA256 of "id.timestamp.body">`.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

type HmacSha256 = Hmac<Sha256>;

fn hmac(key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    // HMAC accepts keys of any length; new_from_slice cannot fail for it.
    let mut mac = match HmacSha256::new_from_slice(key) {
        Ok(m) => m,
        Err(_) => return Vec::new(),
    };
    for p in parts {
        mac.update(p);
    }
    mac.finalize().into_bytes().to_vec()
}

/// Evolution's webhook JWT: `{iat, exp: iat+600, app:"evolution", action:"webhook"}`.
pub fn evolution_jwt(key: &str, iat: u64) -> String {
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = format!(
        r#"{{"iat":{iat},"exp":{},"app":"evolution","action":"webhook"}}"#,
        iat + 600
    );
    let signing_input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims));
    let sig = hmac(key.as_bytes(), &[signing_input.as_bytes()]);
    format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(sig))
}

/// The secret's key bytes: `whsec_<base64>` decodes, anything else is used as is.
fn secret_bytes(secret: &str) -> Vec<u8> {
    secret
        .strip_prefix("whsec_")
        .and_then(|b| STANDARD.decode(b).ok())
        .unwrap_or_else(|| secret.as_bytes().to_vec())
}

/// `webhook-signature` value for one delivery.
pub fn standard_webhooks(secret: &str, id: &str, timestamp: u64, body: &[u8]) -> String {
    let ts = timestamp.to_string();
    let sig = hmac(
        &secret_bytes(secret),
        &[id.as_bytes(), b".", ts.as_bytes(), b".", body],
    );
    format!("v1,{}", STANDARD.encode(sig))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fixed_vectors() {
        let jwt = evolution_jwt("secret", 1_700_000_000);
        assert_eq!(
            jwt.rsplit('.').next(),
            Some("pulTXd4SrX5HMfs46ABt2hYN6_mVabcQH-Ey1HYWOoI")
        );
        assert_eq!(
            standard_webhooks(
                "whsec_MDEyMzQ1Njc4OWFiY2RlZjAxMjM0NTY3ODlhYmNkZWY=",
                "msg_1",
                1_700_000_000,
                br#"{"a":1}"#
            ),
            "v1,rkwp5YuvdrMkcu0ZhuMsXoTg44mHAr1Q0+FFgFpXsjY="
        );
    }
}
