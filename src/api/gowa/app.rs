//! `/app/*`: pairing (QR or pairing code), logout, reconnect, and what the instance is.

use std::sync::Arc;
use std::time::Duration;

use poem_openapi::OpenApi;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use serde_json::json;

use super::Tag;
use super::auth::TokenInstance;
use super::error::{Envelope, GowaError, success};
use crate::instance::{ConnectionState, InstanceHandle};
use crate::state::AppState;

pub struct AppApi {
    pub state: Arc<AppState>,
}

/// A QR code's life when the engine did not say (WhatsApp's first code lives about 60 s).
const DEFAULT_QR_SECS: u64 = 60;

impl AppApi {
    fn qr_wait(&self) -> Duration {
        Duration::from_millis(self.state.config.qr_wait_ms)
    }
}

fn refuse_if_open(h: &InstanceHandle) -> Result<(), GowaError> {
    if h.view().state.state == ConnectionState::Open {
        return Err(GowaError::AlreadyLoggedIn);
    }
    Ok(())
}

#[OpenApi(tag = "Tag::TokenScoped")]
impl AppApi {
    /// Start pairing by QR code. `qr_link` is the QR code as a PNG (a `data:image/png;base64`
    /// URI), `qr_code` the text it encodes, `qr_duration` how many seconds it stays valid.
    #[oai(path = "/app/login", method = "get", operation_id = "gowa_login")]
    async fn login(&self, token: TokenInstance) -> Result<Json<Envelope>, GowaError> {
        let h = token.0;
        refuse_if_open(&h)?;
        h.connect(None).await?;
        let view = h.wait_for_qr(self.qr_wait(), false).await;
        if view.state.state == ConnectionState::Open {
            return Err(GowaError::AlreadyLoggedIn);
        }
        let (Some(code), Some(png)) = (view.qr.code, view.qr.base64) else {
            return Err(GowaError::QrUnavailable(
                "no QR code came from WhatsApp in time; call /app/login again".into(),
            ));
        };
        Ok(success(
            "Login success",
            Some(json!({
                "device_id": h.name(),
                "qr_link": png,
                "qr_code": code,
                "qr_duration": view.qr.ttl_secs.unwrap_or(DEFAULT_QR_SECS),
            })),
        ))
    }

    /// Start pairing by pairing code: the code to type on the phone linked to `phone`.
    #[oai(
        path = "/app/login-with-code",
        method = "get",
        operation_id = "gowa_login_with_code"
    )]
    async fn login_with_code(
        &self,
        token: TokenInstance,
        /// The account's number, international, digits (a leading `+` is allowed).
        #[oai(validator(pattern = r"^\+?[0-9]{1,15}$"))]
        phone: Query<String>,
    ) -> Result<Json<Envelope>, GowaError> {
        let h = token.0;
        refuse_if_open(&h)?;
        let digits = phone.0.trim_start_matches('+').to_string();
        h.connect(Some(digits)).await?;
        let view = h.wait_for_qr(self.qr_wait(), true).await;
        if view.state.state == ConnectionState::Open {
            return Err(GowaError::AlreadyLoggedIn);
        }
        let code = view.qr.pairing_code.ok_or_else(|| {
            GowaError::QrUnavailable(
                "no pairing code came from WhatsApp in time; call /app/login-with-code again"
                    .into(),
            )
        })?;
        Ok(success(
            "Login with code success",
            Some(json!({"device_id": h.name(), "pair_code": code})),
        ))
    }

    /// Log out: unlink the device and wipe its keys; the instance stays, ready to pair again.
    #[oai(path = "/app/logout", method = "get", operation_id = "gowa_logout")]
    async fn logout(&self, token: TokenInstance) -> Result<Json<Envelope>, GowaError> {
        let h = token.0;
        h.logout().await?;
        Ok(success(
            "Success logout",
            Some(json!({"device_id": h.name()})),
        ))
    }

    /// Close the session and connect again over the same keys.
    #[oai(
        path = "/app/reconnect",
        method = "get",
        operation_id = "gowa_reconnect"
    )]
    async fn reconnect(&self, token: TokenInstance) -> Result<Json<Envelope>, GowaError> {
        let h = token.0;
        if !h.view().record.paired {
            return Err(GowaError::NotLoggedIn);
        }
        h.restart().await?;
        Ok(success(
            "Reconnect success",
            Some(json!({"device_id": h.name()})),
        ))
    }

    /// The device this token names (only that one: a token never sees other instances).
    #[oai(path = "/app/devices", method = "get", operation_id = "gowa_devices")]
    async fn devices(&self, token: TokenInstance) -> Result<Json<Envelope>, GowaError> {
        let view = token.0.view();
        let r = &view.record;
        let rows = match &r.owner_jid {
            Some(jid) => vec![json!({
                "name": r.profile_name.clone().unwrap_or_else(|| jid.split(['@', ':']).next().unwrap_or_default().to_string()),
                "device": r.name,
                "jid": jid,
            })],
            None => Vec::new(),
        };
        Ok(success("Fetch device success", Some(json!(rows))))
    }

    /// Whether the instance is connected and logged in.
    #[oai(path = "/app/status", method = "get", operation_id = "gowa_status")]
    async fn status(&self, token: TokenInstance) -> Result<Json<Envelope>, GowaError> {
        let view = token.0.view();
        let open = view.state.state == ConnectionState::Open;
        Ok(success(
            "Connection status retrieved",
            Some(json!({
                "device_id": view.record.name,
                "is_connected": open,
                "is_logged_in": open && view.record.paired,
                "jid": view.record.owner_jid,
                "state": view.state.state.as_str(),
            })),
        ))
    }
}
