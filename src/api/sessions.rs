//! `/sessions*` and `/status`: the operator API of small Baileys session managers, over the same
//! instances as the Evolution routes (one registry; a session id is an instance name). Global key,
//! or a scoped key on the sessions it reaches (a tenant key creates and lists its own). Errors leave as `{success:false, message}` (`sessions_error.rs`). The operations views
//! (stats, problematic, details, ...) are in `sessions_ops.rs`.

use std::sync::Arc;
use std::time::Duration;

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi, Tags};

use super::auth::{ApiKey, Caller};
use super::error::ApiError;
use super::message::jid;
use super::sessions_dto::*;
use super::sessions_error::SessionsError;
use crate::engine::{Context, Outgoing, OutgoingMessage};
use crate::instance::registry::NewInstance;
use crate::instance::{
    ConnectionState, InstanceHandle, InstanceView, Integration, Settings, validate_name,
};
use crate::state::AppState;

#[derive(Tags)]
pub(super) enum Tag {
    /// The session managers' operator API (global key): sessions are instances.
    Sessions,
}

pub struct SessionsApi {
    pub state: Arc<AppState>,
}

pub(super) type Answer<T> = Result<Json<T>, SessionsError>;

#[derive(ApiResponse)]
enum CreateSessionResponse {
    /// Created; connecting (the QR code is included once shown, within `ZAPGATE_QR_WAIT_MS`).
    #[oai(status = 201)]
    Created(Json<SessionAnswer>),
}

impl AppState {
    /// A session route: the global key, or a scoped key reaching the session, then the
    /// session (404 when unknown, or outside the scoped key's reach: it learns nothing of it).
    pub(super) fn session(&self, key: &ApiKey, id: &str) -> Result<InstanceHandle, SessionsError> {
        let scoped = if self.is_global(key) {
            None
        } else {
            Some(self.scoped_key(key).ok_or(ApiError::Unauthorized)?)
        };
        self.registry
            .get(id)
            .filter(|h| scoped.is_none_or(|k| k.reaches(h.name(), h.owner())))
            .ok_or_else(|| ApiError::NotFound(format!("Session \"{id}\" not found")).into())
    }

    /// Waits (bounded by `ZAPGATE_QR_WAIT_MS`) until a starting session shows its QR code or
    /// leaves `connecting`.
    pub(super) async fn settled(&self, h: &InstanceHandle) -> InstanceView {
        let wait = Duration::from_millis(self.config.qr_wait_ms);
        h.wait_view(wait, |v| {
            v.state.state != ConnectionState::Connecting || v.qr.code.is_some()
        })
        .await
    }
}

pub(super) fn answer(h: &InstanceHandle, message: impl Into<String>) -> Json<SessionAnswer> {
    Json(SessionAnswer {
        success: true,
        message: message.into(),
        session: SessionInfo::of(h),
    })
}

pub(super) fn list(handles: impl IntoIterator<Item = InstanceHandle>) -> Json<SessionList> {
    let sessions: Vec<SessionInfo> = handles.into_iter().map(|h| SessionInfo::of(&h)).collect();
    Json(SessionList {
        success: true,
        total: sessions.len() as u64,
        sessions,
    })
}

#[OpenApi(tag = "Tag::Sessions")]
impl SessionsApi {
    /// Create a session and start it (LOOPBACK through `integration`); answers with its first
    /// QR code when one is shown in time.
    #[oai(
        path = "/sessions/:id",
        method = "post",
        operation_id = "create_session"
    )]
    async fn create(
        &self,
        key: ApiKey,
        /// The session id (an instance name): up to 100 characters; no control characters,
        /// `/`, `\\`, `?` or `#`, no blanks at either end.
        #[oai(validator(
            pattern = r"^[^\s/\\?#\x00-\x1f\x7f-\x9f](?:[^/\\?#\x00-\x1f\x7f-\x9f]*[^\s/\\?#\x00-\x1f\x7f-\x9f])?$",
            max_length = 100
        ))]
        id: Path<String>,
        body: OptionalJson<CreateSessionBody>,
    ) -> Result<CreateSessionResponse, SessionsError> {
        let owner = self.state.creator(&key)?;
        validate_name(&id).map_err(ApiError::Validation)?;
        let integration = match body.0.and_then(|b| b.integration).as_deref() {
            Some("LOOPBACK") => Integration::Loopback,
            None | Some("WHATSAPP-BAILEYS") => Integration::WhatsAppBaileys,
            Some(other) => {
                return Err(ApiError::BadRequest(format!("Invalid integration {other}")).into());
            }
        };
        let h = self
            .state
            .registry
            .create(NewInstance {
                name: id.0.clone(),
                token: None,
                integration,
                number: None,
                business_id: None,
                settings: Settings::default(),
                webhook: None,
                owner,
            })
            .await?;
        let message = match h.connect(None).await {
            Ok(()) => {
                self.state.settled(&h).await;
                "Session created; scan the QR code"
            }
            Err(e) => {
                tracing::warn!(instance = %h.name(), error = %e, "connect at session create failed");
                "Session created, but it could not start; see last_disconnect_reason and restart it"
            }
        };
        Ok(CreateSessionResponse::Created(answer(&h, message)))
    }

    /// Every session (a scoped key: those it reaches).
    #[oai(path = "/sessions", method = "get", operation_id = "list_sessions")]
    async fn list(&self, key: ApiKey) -> Answer<SessionList> {
        match self.state.caller(&key)? {
            Caller::Instance(_) => Err(ApiError::Unauthorized.into()),
            caller => Ok(list(self.state.visible(&caller))),
        }
    }

    /// The QR code to scan, or `connected`.
    #[oai(path = "/sessions/:id/qr", method = "get", operation_id = "session_qr")]
    async fn qr(
        &self,
        key: ApiKey,
        #[oai(validator(max_length = 100))] id: Path<String>,
    ) -> Answer<QrAnswer> {
        let h = self.state.session(&key, &id)?;
        let view = self.state.settled(&h).await;
        let (status, message) = match view.state.state {
            ConnectionState::Open => ("connected", "The session is connected"),
            ConnectionState::Connecting if view.qr.code.is_some() => {
                ("waiting_for_scan", "Scan the QR code with WhatsApp")
            }
            ConnectionState::Connecting => (
                "waiting_for_scan",
                "The session is logging in; no QR code is shown yet",
            ),
            _ => (
                "disconnected",
                "No session runs; POST /sessions/{id}/restart starts it",
            ),
        };
        let connecting = view.state.state == ConnectionState::Connecting;
        Ok(Json(QrAnswer {
            success: true,
            status: status.into(),
            message: message.into(),
            qr_code: view.qr.code.clone().filter(|_| connecting),
            qr_image: view.qr.base64.clone().filter(|_| connecting),
            connected: view.state.state == ConnectionState::Open,
            session_id: h.name().to_string(),
        }))
    }

    /// One session's status.
    #[oai(
        path = "/sessions/:id/status",
        method = "get",
        operation_id = "session_status"
    )]
    async fn status(
        &self,
        key: ApiKey,
        #[oai(validator(max_length = 100))] id: Path<String>,
    ) -> Answer<SessionAnswer> {
        let h = self.state.session(&key, &id)?;
        Ok(answer(&h, "ok"))
    }

    /// Send a text message.
    #[oai(
        path = "/sessions/:id/send",
        method = "post",
        operation_id = "session_send"
    )]
    async fn send(
        &self,
        key: ApiKey,
        #[oai(validator(max_length = 100))] id: Path<String>,
        body: Json<SendBody>,
    ) -> Answer<SentAnswer> {
        let h = self.state.session(&key, &id)?;
        let b = body.0;
        if b.message.trim().is_empty() {
            return Err(ApiError::BadRequest("message must not be blank".into()).into());
        }
        let to = jid(&b.to)?;
        let stored = h
            .send(OutgoingMessage {
                to,
                content: Outgoing::Text(b.message),
                context: Context::default(),
            })
            .await?;
        Ok(Json(SentAnswer {
            success: true,
            message: "Message sent".into(),
            message_id: stored.key.id,
            to: stored.key.remote_jid,
            timestamp: stored.timestamp,
        }))
    }

    /// Restart the session (a fresh connection over the same keys); the reconnect attempts
    /// start again from zero.
    #[oai(
        path = "/sessions/:id/restart",
        method = "post",
        operation_id = "restart_session"
    )]
    async fn restart(
        &self,
        key: ApiKey,
        #[oai(validator(max_length = 100))] id: Path<String>,
    ) -> Answer<SessionAnswer> {
        let h = self.state.session(&key, &id)?;
        h.restart().await?;
        self.state.settled(&h).await;
        Ok(answer(&h, "Session restarted"))
    }

    /// Delete the session and everything it stored.
    #[oai(
        path = "/sessions/:id",
        method = "delete",
        operation_id = "delete_session"
    )]
    async fn delete(
        &self,
        key: ApiKey,
        #[oai(validator(max_length = 100))] id: Path<String>,
    ) -> Answer<Done> {
        let h = self.state.session(&key, &id)?;
        self.state.registry.delete(&h).await?;
        Ok(Json(Done {
            success: true,
            message: format!("Session \"{}\" deleted", h.name()),
        }))
    }

    /// The server and its sessions at a glance.
    #[oai(path = "/status", method = "get", operation_id = "server_status")]
    async fn server_status(&self, key: ApiKey) -> Answer<ServerStatus> {
        self.state.require_global(&key)?;
        let degraded = !self.state.registry.store().faults().failing().is_empty();
        Ok(Json(ServerStatus {
            success: true,
            status: if degraded { "degraded" } else { "ok" }.into(),
            version: env!("CARGO_PKG_VERSION").into(),
            uptime_seconds: self.state.started.elapsed().as_secs(),
            max_sessions: self.state.config.session_limit().map(|m| m as u64),
            sessions: self.state.registry.counts().into(),
        }))
    }
}
