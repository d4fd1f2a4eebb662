//! `/instance/*`: create, list, connect, state, restart, logout, delete, presence.

use std::sync::Arc;
use std::time::Duration;

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde_json::{Value, json};

use super::auth::{ApiKey, Caller};
use super::dto::{ConnectionStateDto, QrDto, SettingsBody, SettingsDto, StatusDto, WebhookBody};
use super::error::ApiError;
use super::required::{Optional, Required};
use crate::engine::Presence;
use crate::instance::registry::NewInstance;
use crate::instance::{
    ConnectionState, InstanceHandle, InstanceView, Integration, IntegrationError, WebhookConfig,
    validate_name,
};
use crate::outbound::Requester;
use crate::state::AppState;

#[derive(Tags)]
enum Tag {
    /// Instances: create, connect, state, logout, delete.
    Instance,
}

pub struct InstanceApi {
    pub state: Arc<AppState>,
}

/// `POST /instance/create` body. Unknown fields are ignored, as Evolution does.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct CreateInstanceBody {
    /// Up to 100 characters; no control characters, `/`, `\\`, `?` or `#`, no blanks at either end.
    #[oai(validator(
        pattern = r"^[^\s/\\?#\x00-\x1f\x7f-\x9f](?:[^/\\?#\x00-\x1f\x7f-\x9f]*[^\s/\\?#\x00-\x1f\x7f-\x9f])?$",
        max_length = 100
    ))]
    pub instance_name: Required<String>,
    /// `WHATSAPP-BAILEYS` (default) or `LOOPBACK`; anything else is Evolution's 400 "Invalid
    /// integration" (or "not supported" for `WHATSAPP-BUSINESS` and `EVOLUTION`).
    #[oai(validator(max_length = 32))]
    pub integration: Optional<String>,
    /// The instance token; generated (upper-case UUID) when absent.
    #[oai(validator(pattern = r"\S", max_length = 256))]
    pub token: Optional<String>,
    /// Connect at once and include the first QR code in the response.
    pub qrcode: Option<bool>,
    /// Phone number (digits); with `qrcode:true` a pairing code is requested for it.
    #[oai(validator(
        pattern = r"^\s*$|^\s*[+ ()\-]*(?:[0-9][+ ()\-]*){1,20}\s*$",
        max_length = 64
    ))]
    pub number: Optional<String>,
    #[oai(validator(max_length = 128))]
    pub business_id: Optional<String>,
    #[oai(flatten)]
    pub settings: SettingsBody,
    pub webhook: Option<WebhookBody>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct CreatedInstance {
    pub instance_name: String,
    pub instance_id: String,
    pub integration: String,
    pub webhook_wa_business: Option<String>,
    pub access_token_wa_business: String,
    pub status: String,
}

#[derive(Object, Debug)]
pub struct CreateInstanceResponse {
    pub instance: CreatedInstance,
    /// The instance token.
    pub hash: String,
    pub webhook: Value,
    pub websocket: Value,
    pub rabbitmq: Value,
    pub nats: Value,
    pub sqs: Value,
    pub settings: SettingsDto,
    #[oai(skip_serializing_if_is_none)]
    pub qrcode: Option<QrDto>,
}

#[derive(ApiResponse)]
enum CreateResponse {
    /// Created.
    #[oai(status = 201)]
    Created(Json<CreateInstanceResponse>),
}

/// `POST /instance/setPresence` body.
#[derive(Object, Debug)]
pub struct PresenceBody {
    /// available, unavailable, composing, recording or paused.
    #[oai(validator(pattern = "^(available|unavailable|composing|recording|paused)$"))]
    pub presence: Required<String>,
}

#[derive(Object, Debug)]
pub struct PresenceDto {
    pub presence: String,
}

#[derive(ApiResponse)]
enum PresenceResponse {
    #[oai(status = 201)]
    Created(Json<PresenceDto>),
}

#[OpenApi(tag = "Tag::Instance")]
impl InstanceApi {
    /// Create an instance.
    #[oai(
        path = "/instance/create",
        method = "post",
        operation_id = "create_instance"
    )]
    async fn create(
        &self,
        key: ApiKey,
        body: Json<CreateInstanceBody>,
    ) -> Result<CreateResponse, ApiError> {
        let b = body.0;
        let name = b.instance_name.0.clone().unwrap_or_default();
        if self.state.registry.contains(&name) {
            return Err(ApiError::NameTaken(name));
        }
        let owner = self.state.creator(&key)?;
        if b.instance_name.0.is_none() {
            return Err(ApiError::Validation(
                "instance requires property \"instanceName\"".into(),
            ));
        }
        validate_name(&name).map_err(ApiError::Validation)?;
        let integration = Integration::parse(b.integration.0.as_deref()).map_err(|e| match e {
            IntegrationError::Invalid => ApiError::BadRequest("Invalid integration".into()),
            other => ApiError::BadRequest(other.to_string()),
        })?;
        if let Some(t) = &b.token.0
            && t.trim().is_empty()
        {
            return Err(ApiError::Validation("token must not be empty".into()));
        }
        let number = match b
            .number
            .0
            .as_deref()
            .map(str::trim)
            .filter(|n| !n.is_empty())
        {
            Some(n) => Some(digits_only(n)?),
            None => None,
        };
        let webhook = b
            .webhook
            .as_ref()
            .map(|w| webhook_from_body(w, true, self.state.requester(&key)))
            .transpose()?;
        let settings = b.settings.or_defaults();
        let handle = self
            .state
            .registry
            .create(NewInstance {
                name,
                token: b.token.0.clone(),
                integration,
                number: number.clone(),
                business_id: b.business_id.0.clone(),
                settings,
                webhook: webhook.clone(),
                owner,
            })
            .await?;
        let qrcode = if b.qrcode == Some(true) {
            let pairing = number.clone();
            match handle.connect(pairing.clone()).await {
                Ok(()) => Some(QrDto::from(
                    &self.wait_for_qr(&handle, pairing.is_some()).await.qr,
                )),
                Err(e) => {
                    tracing::warn!(instance = %handle.name(), error = %e, "connect at create failed");
                    Some(QrDto::from(&handle.view().qr))
                }
            }
        } else {
            None
        };
        let view = handle.view();
        let webhook_echo = match &b.webhook {
            Some(w) => json!({
                "webhookUrl": w.url,
                "webhookHeaders": w.headers,
                "webhookByEvents": w.by_events.or(w.webhook_by_events).unwrap_or(false),
                "webhookBase64": w.base64.or(w.webhook_base64).unwrap_or(false),
            }),
            None => json!({}),
        };
        Ok(CreateResponse::Created(Json(CreateInstanceResponse {
            instance: CreatedInstance {
                instance_name: view.record.name.clone(),
                instance_id: view.record.id.to_string(),
                integration: view.record.integration.as_str().into(),
                webhook_wa_business: None,
                access_token_wa_business: String::new(),
                status: view.state.state.as_str().into(),
            },
            hash: handle.token().to_string(),
            webhook: webhook_echo,
            websocket: json!({}),
            rabbitmq: json!({}),
            nats: json!({}),
            sqs: json!({}),
            settings: SettingsDto::from(&view.record.settings),
            qrcode,
        })))
    }

    /// List instances. The global key sees all; an instance token sees its own; a scoped key those
    /// of its scope.
    #[oai(
        path = "/instance/fetchInstances",
        method = "get",
        operation_id = "fetch_instances"
    )]
    async fn fetch_instances(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] instance_name: Query<Option<String>>,
        #[oai(name = "instanceId")] instance_id: Query<Option<String>>,
        /// The account's phone number (digits), or its JID.
        #[oai(validator(max_length = 128))]
        number: Query<Option<String>>,
    ) -> Result<Json<Vec<Value>>, ApiError> {
        let visible = match self.state.caller(&key)? {
            Caller::Global => {
                if let Some(n) = &instance_name.0
                    && !self.state.registry.contains(n)
                {
                    return Err(ApiError::NotFound(format!("Instance \"{n}\" not found")));
                }
                self.state.registry.all()
            }
            other => self.state.visible(&other),
        };
        let rows = visible
            .into_iter()
            .filter(|h| instance_name.0.as_deref().is_none_or(|n| n == h.name()))
            .filter(|h| {
                instance_id
                    .0
                    .as_deref()
                    .is_none_or(|i| i == h.id().to_string())
            })
            .filter(|h| number.0.as_deref().is_none_or(|n| owns_number(h, n)))
            .map(|h| {
                Ok(super::rows::instance_row(
                    &h.view(),
                    h.token(),
                    &h.counts()?,
                    &h.counters(),
                ))
            })
            .collect::<Result<Vec<_>, ApiError>>()?;
        // A selector that names one instance finds it or answers 404, as for a name.
        if rows.is_empty()
            && let Some(id) = instance_id.0.as_ref().or(number.0.as_ref())
        {
            return Err(ApiError::NotFound(format!("Instance \"{id}\" not found")));
        }
        Ok(Json(rows))
    }

    /// Connect: returns the QR code (or pairing code with `?number=`), or the state when open.
    #[oai(
        path = "/instance/connect/:instanceName",
        method = "get",
        operation_id = "connect_instance"
    )]
    async fn connect(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        number: Query<Option<String>>,
    ) -> Result<Json<Value>, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        if h.view().state.state == ConnectionState::Open {
            return Ok(Json(state_json(&h.view())));
        }
        let pairing = match number.0.as_deref().map(str::trim).filter(|n| !n.is_empty()) {
            Some(n) => Some(digits_only(n)?),
            None => None,
        };
        h.connect(pairing.clone()).await?;
        Ok(Json(self.connect_answer(&h, pairing.is_some()).await))
    }

    /// Current connection state.
    #[oai(
        path = "/instance/connectionState/:instanceName",
        method = "get",
        operation_id = "connection_state"
    )]
    async fn connection_state(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
    ) -> Result<Json<ConnectionStateDto>, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        Ok(Json(ConnectionStateDto::of(&h.view())))
    }

    /// Restart the session (a fresh connection over the same keys).
    #[oai(
        path = "/instance/restart/:instanceName",
        method = "post",
        operation_id = "restart_instance"
    )]
    async fn restart(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
    ) -> Result<Json<Value>, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        h.restart().await?;
        Ok(Json(self.connect_answer(&h, false).await))
    }

    /// Restart, PUT spelling (some clients use it).
    #[oai(
        path = "/instance/restart/:instanceName",
        method = "put",
        operation_id = "restart_instance_put"
    )]
    async fn restart_put(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
    ) -> Result<Json<Value>, ApiError> {
        self.restart(key, name).await
    }

    /// Log out: unlink the device, wipe its keys; the instance stays.
    #[oai(
        path = "/instance/logout/:instanceName",
        method = "delete",
        operation_id = "logout_instance"
    )]
    async fn logout(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
    ) -> Result<Json<StatusDto>, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        h.logout().await?;
        Ok(Json(StatusDto::success("Instance logged out")))
    }

    /// Delete the instance and everything it stored.
    #[oai(
        path = "/instance/delete/:instanceName",
        method = "delete",
        operation_id = "delete_instance"
    )]
    async fn delete(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
    ) -> Result<Json<StatusDto>, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        self.state.registry.delete(&h).await?;
        Ok(Json(StatusDto::success("Instance deleted")))
    }

    /// Set the global presence of the account.
    #[oai(
        path = "/instance/setPresence/:instanceName",
        method = "post",
        operation_id = "set_presence"
    )]
    async fn set_presence(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<PresenceBody>,
    ) -> Result<PresenceResponse, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let raw = body.0.presence.0.ok_or_else(|| {
            ApiError::Validation("instance requires property \"presence\"".into())
        })?;
        let presence = Presence::parse(&raw).ok_or_else(|| {
            ApiError::Validation(
                "presence is not one of enum values: available,unavailable,composing,recording,paused"
                    .into(),
            )
        })?;
        h.set_presence(presence).await?;
        Ok(PresenceResponse::Created(Json(PresenceDto {
            presence: raw,
        })))
    }
}

/// Whether the instance's account (or the number it was created with) is `number`, given as
/// digits or as a JID.
fn owns_number(h: &InstanceHandle, number: &str) -> bool {
    let digits = |s: &str| -> String {
        s.split(['@', ':'])
            .next()
            .unwrap_or("")
            .chars()
            .filter(char::is_ascii_digit)
            .collect()
    };
    let want = digits(number);
    let view = h.view();
    let r = &view.record;
    !want.is_empty()
        && [r.owner_jid.as_deref(), r.number.as_deref()]
            .into_iter()
            .flatten()
            .any(|n| digits(n) == want)
}

impl InstanceApi {
    /// Waits (bounded by `ZAPGATE_QR_WAIT_MS`) for the first QR, the pairing code, or a state
    /// other than `connecting`.
    async fn wait_for_qr(&self, h: &InstanceHandle, want_pairing_code: bool) -> InstanceView {
        let wait = Duration::from_millis(self.state.config.qr_wait_ms);
        h.wait_for_qr(wait, want_pairing_code).await
    }

    /// The body of connect/restart: the state when open, else the QR object.
    async fn connect_answer(&self, h: &InstanceHandle, want_pairing_code: bool) -> Value {
        let view = self.wait_for_qr(h, want_pairing_code).await;
        if view.state.state == ConnectionState::Connecting {
            serde_json::to_value(qr_json(&view)).unwrap_or(Value::Null)
        } else {
            state_json(&view)
        }
    }
}

fn qr_json(view: &InstanceView) -> Value {
    let q = QrDto::from(&view.qr);
    let mut v = json!({"pairingCode": q.pairing_code, "count": q.count});
    if let Some(c) = q.code {
        v["code"] = json!(c);
    }
    if let Some(b) = q.base64 {
        v["base64"] = json!(b);
    }
    v
}

fn state_json(view: &InstanceView) -> Value {
    json!({"instance": {"instanceName": view.record.name, "state": view.state.state.as_str()}})
}

/// A phone number field: digits only after removing `+`, spaces, dashes and parentheses.
fn digits_only(raw: &str) -> Result<String, ApiError> {
    let d: String = raw
        .chars()
        .filter(|c| !matches!(c, '+' | ' ' | '-' | '(' | ')'))
        .collect();
    if d.is_empty() || !d.chars().all(|c| c.is_ascii_digit()) || d.len() > 20 {
        return Err(ApiError::Validation(
            "number does not match pattern \"^\\d+[\\.@\\w-]+\"".into(),
        ));
    }
    Ok(d)
}

/// Validates a webhook object. `force_enabled`: Evolution stores create's webhook as enabled
/// whatever the client sent. `set_by` is remembered for the private-target rule at delivery.
pub(crate) fn webhook_from_body(
    w: &WebhookBody,
    force_enabled: bool,
    set_by: Requester,
) -> Result<WebhookConfig, ApiError> {
    let url = w
        .url
        .clone()
        .ok_or_else(|| ApiError::Validation("webhook requires property \"url\"".into()))?;
    let lower = url.to_ascii_lowercase();
    if !(lower.starts_with("http://") || lower.starts_with("https://")) || url.len() < 10 {
        return Err(ApiError::BadRequest(format!(
            "Invalid webhook url: {url} (must be http or https)"
        )));
    }
    let mut events = Vec::new();
    for e in w.events.iter().flatten() {
        let kind = crate::events::EventKind::parse(e).ok_or_else(|| {
            ApiError::Validation(format!("events contains an unknown event \"{e}\""))
        })?;
        events.push(kind.upper().to_string());
    }
    let enabled = force_enabled || w.enabled.unwrap_or(true);
    let config = WebhookConfig {
        enabled,
        url,
        headers: w.headers.clone().unwrap_or_default(),
        by_events: w.by_events.or(w.webhook_by_events).unwrap_or(false),
        base64: w.base64.or(w.webhook_base64).unwrap_or(false),
        events: super::webhook::stored_events(enabled, &events),
        secret: w.secret.clone().filter(|s| !s.is_empty()),
        created_at: Some(chrono::Utc::now()),
        updated_at: Some(chrono::Utc::now()),
        set_by,
    };
    super::webhook::check_size(&config)?;
    Ok(config)
}
