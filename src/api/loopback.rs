//! `/loopback/*`: operating the LOOPBACK network (global key). Scanning plays the phone that
//! scans an instance's QR code.

use std::sync::Arc;
use std::time::Duration;

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{OpenApi, Tags};

use super::auth::ApiKey;
use super::dto::ConnectionStateDto;
use super::error::ApiError;
use crate::engine::loopback::{Outage, ScanError};
use crate::instance::{ConnectionState, Integration};
use crate::state::AppState;

#[derive(Tags)]
enum Tag {
    /// The in-process stand-in network.
    Loopback,
}

pub struct LoopbackApi {
    pub state: Arc<AppState>,
}

#[OpenApi(tag = "Tag::Loopback")]
impl LoopbackApi {
    /// Scan the QR code a LOOPBACK instance shows; answers once it is `open`.
    #[oai(
        path = "/loopback/scan/:instanceName",
        method = "post",
        operation_id = "loopback_scan"
    )]
    async fn scan(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        /// Phone number (digits) to pair; a free one of the 1555xxxxxxx range when absent.
        phone: Query<Option<String>>,
    ) -> Result<Json<ConnectionStateDto>, ApiError> {
        let h = self
            .state
            .registry
            .get(&name)
            .ok_or_else(|| ApiError::InstanceNotFound(name.0.clone()))?;
        self.state.require_global(&key)?;
        if h.view().record.integration != Integration::Loopback {
            return Err(ApiError::BadRequest(format!(
                "The \"{}\" instance is not a LOOPBACK instance",
                h.name()
            )));
        }
        let phone = phone.0.filter(|p| !p.is_empty());
        if let Some(p) = &phone
            && (!p.chars().all(|c| c.is_ascii_digit()) || p.len() > 20)
        {
            return Err(ApiError::Validation("phone must be digits".into()));
        }
        let engine = self.state.registry.engines().loopback.clone();
        engine.scan(h.id(), phone).await.map_err(|e| match e {
            ScanError::NotWaiting => ApiError::BadRequest(format!(
                "The \"{}\" instance is not showing a QR code; call /instance/connect first",
                h.name()
            )),
            other => ApiError::BadRequest(other.to_string()),
        })?;
        let view = h
            .wait_view(Duration::from_secs(10), |v| {
                v.state.state != ConnectionState::Connecting
            })
            .await;
        Ok(Json(ConnectionStateDto::of(&view)))
    }

    /// Play a network outage on a connected LOOPBACK instance: the connection drops and comes
    /// back (`then=reconnect`, the default), or drops for good (`then=fail`: the instance shows
    /// `failed` until restarted). Answers once the instance shows the outcome.
    #[oai(
        path = "/loopback/drop/:instanceName",
        method = "post",
        operation_id = "loopback_drop"
    )]
    async fn drop_connection(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        /// `reconnect` (default) or `fail`.
        #[oai(validator(pattern = "^(reconnect|fail)$"))]
        then: Query<Option<String>>,
    ) -> Result<Json<ConnectionStateDto>, ApiError> {
        let h = self
            .state
            .registry
            .get(&name)
            .ok_or_else(|| ApiError::InstanceNotFound(name.0.clone()))?;
        self.state.require_global(&key)?;
        if h.view().record.integration != Integration::Loopback {
            return Err(ApiError::BadRequest(format!(
                "The \"{}\" instance is not a LOOPBACK instance",
                h.name()
            )));
        }
        let outage = match then.0.as_deref() {
            Some("fail") => Outage::Fail,
            _ => Outage::Reconnect,
        };
        // Counted before the state leaves `open`, so the return to `open` can be told apart.
        let attempts = h.reconnect_attempts();
        let engine = self.state.registry.engines().loopback.clone();
        engine
            .drop_connection(h.id(), outage)
            .await
            .map_err(|e| ApiError::BadRequest(format!("The \"{}\" instance: {e}", h.name())))?;
        let view = h
            .wait_view(Duration::from_secs(10), |v| match outage {
                Outage::Fail => v.state.state == ConnectionState::Failed,
                Outage::Reconnect => {
                    v.state.state == ConnectionState::Open && h.reconnect_attempts() > attempts
                }
            })
            .await;
        Ok(Json(ConnectionStateDto::of(&view)))
    }
}
