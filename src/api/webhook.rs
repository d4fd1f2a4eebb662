//! `/webhook/*`: Evolution's set/find, and ours (global key): delivery stats, dead letters,
//! replay. Our routes keep Evolution's shape (instance name last) under names Evolution lacks.

use std::sync::Arc;

use chrono::{TimeZone, Utc};
use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};
use serde_json::{Value, json};

use super::auth::ApiKey;
use super::dto::WebhookBody;
use super::error::ApiError;
use super::instance::webhook_from_body;
use super::required::Optional;
use crate::events::EventKind;
use crate::events::webhook::{GLOBAL_ENDPOINT, instance_endpoint, now_ms, row_url};
use crate::instance::{InstanceView, WebhookConfig};
use crate::outbound::{Outbound, Refused, Requester};
use crate::state::AppState;
use crate::store::outbox::{OutboxRow, ReplayFilter};

#[derive(Tags)]
enum Tag {
    /// Webhook configuration and delivery.
    Webhook,
}

pub struct WebhookApi {
    pub state: Arc<AppState>,
}

/// `{webhook: {...}}` as Evolution expects; the fields at the top level are accepted too.
#[derive(Object, Debug)]
pub struct SetWebhookBody {
    pub webhook: Option<WebhookBody>,
    #[oai(flatten)]
    pub flat: WebhookBody,
}

#[derive(ApiResponse)]
enum SetResponse {
    /// The stored webhook.
    #[oai(status = 201)]
    Created(Json<Value>),
}

#[derive(Object, Debug, Default)]
#[oai(rename_all = "camelCase")]
pub struct ReplayBody {
    /// One dead letter by its `webhook-id` (`msg_...`).
    pub id: Optional<String>,
    /// Only letters that died at or after this time (Unix milliseconds).
    #[oai(validator(minimum(value = "0"), maximum(value = "253402300799999")))]
    pub from: Optional<u64>,
    /// Only letters that died at or before this time (Unix milliseconds).
    #[oai(validator(minimum(value = "0"), maximum(value = "253402300799999")))]
    pub to: Optional<u64>,
}

#[OpenApi(tag = "Tag::Webhook")]
impl WebhookApi {
    /// Set the instance's webhook. Limits: `url` up to 2048 bytes; up to 32 `headers`, valid
    /// HTTP names and values, 8192 bytes in all; `secret` up to 256 bytes (400 beyond).
    #[oai(
        path = "/webhook/set/:instanceName",
        method = "post",
        operation_id = "set_webhook"
    )]
    async fn set(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<SetWebhookBody>,
    ) -> Result<SetResponse, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let who = self.state.requester(&key);
        let b = body.0.webhook.unwrap_or(body.0.flat);
        let enabled = b
            .enabled
            .ok_or_else(|| ApiError::Validation("webhook requires property \"enabled\"".into()))?;
        let previous = h.view().record.webhook.clone();
        let mut config = if enabled || b.url.is_some() {
            webhook_from_body(&b, false, who)?
        } else {
            previous
                .clone()
                .ok_or_else(|| ApiError::Validation("webhook requires property \"url\"".into()))?
        };
        config.enabled = enabled;
        config.events = stored_events(enabled, &config.events);
        if let Some(p) = &previous {
            config.created_at = p.created_at.or(config.created_at);
        }
        // Whoever sets it now owns it: a token re-saving a webhook the global key had set
        // (say, to change its events) makes it a token's webhook.
        config.set_by = who;
        check_target(&self.state.outbound, &config.url, who).await?;
        h.set_webhook(Some(config)).await?;
        Ok(SetResponse::Created(Json(webhook_row(&h.view()))))
    }

    /// The instance's webhook, or `null`.
    #[oai(
        path = "/webhook/find/:instanceName",
        method = "get",
        operation_id = "find_webhook"
    )]
    async fn find(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
    ) -> Result<Json<Value>, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        Ok(Json(webhook_row(&h.view())))
    }

    /// Delivery health (global key): outbox depth, dead letters, per-endpoint status.
    #[oai(
        path = "/webhook/stats/:instanceName",
        method = "get",
        operation_id = "webhook_stats"
    )]
    async fn stats(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
    ) -> Result<Json<Value>, ApiError> {
        let h = self.operator_access(&name, &key)?;
        let d = self.state.registry.dispatcher();
        let own = instance_endpoint(h.id());
        let endpoint = |e: &str| {
            let health = d.health(e).unwrap_or_default();
            let (p50, p99) = health.percentiles();
            let book = d.repo().book(e);
            json!({
                "endpoint": e,
                "url": health.url,
                "outboxDepth": book.depth,
                "backlogFull": book.full,
                "refusedBacklog": book.refused,
                "quarantined": book.quarantined,
                "deliveryPanics": health.panics,
                "lastStatus": health.last_status,
                "lastError": health.last_error,
                "consecutiveFailures": health.consecutive_failures,
                "delivered": health.delivered,
                "failedAttempts": health.failed_attempts,
                "deadLettered": health.dead_lettered,
                "latencyP50Ms": p50,
                "latencyP99Ms": p99,
            })
        };
        Ok(Json(json!({
            "instanceName": h.name(),
            "deadLetters": d.repo().dead_letter_count(h.id()),
            "maxBacklog": self.state.config.webhook_max_backlog,
            "endpoints": [endpoint(&own), endpoint(GLOBAL_ENDPOINT)],
        })))
    }

    /// Dead letters of the instance (global key), oldest first.
    #[oai(
        path = "/webhook/deadLetters/:instanceName",
        method = "get",
        operation_id = "webhook_dead_letters"
    )]
    async fn dead_letters(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        #[oai(validator(minimum(value = "1"), maximum(value = "10000")))] limit: Query<Option<u32>>,
    ) -> Result<Json<Vec<Value>>, ApiError> {
        let h = self.operator_access(&name, &key)?;
        let limit = limit.0.unwrap_or(100).clamp(1, 10_000) as usize;
        let rows = self
            .state
            .registry
            .dispatcher()
            .repo()
            .dead_letters(h.id(), limit)?;
        Ok(Json(rows.iter().map(letter_json).collect()))
    }

    /// Replay dead letters (global key): one by id, a time range, or all.
    #[oai(
        path = "/webhook/deadLetters/replay/:instanceName",
        method = "post",
        operation_id = "webhook_replay"
    )]
    async fn replay(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<ReplayBody>,
    ) -> Result<Json<Value>, ApiError> {
        let h = self.operator_access(&name, &key)?;
        let d = self.state.registry.dispatcher();
        let filter = ReplayFilter {
            id: body.0.id.0,
            from_ms: body.0.from.0,
            to_ms: body.0.to.0,
        };
        let rows = d.repo().replay(h.id(), &filter, now_ms())?;
        d.repo().sync().await?;
        let endpoints: std::collections::BTreeSet<&str> =
            rows.iter().map(|r| r.endpoint.as_str()).collect();
        for e in endpoints {
            d.nudge(e);
        }
        Ok(Json(json!({"replayed": rows.len()})))
    }
}

impl WebhookApi {
    /// 404 for an unknown instance, then the global key or a scoped key reaching it (not the
    /// instance's own token: delivery health is the operator's).
    fn operator_access(
        &self,
        name: &str,
        key: &ApiKey,
    ) -> Result<crate::instance::InstanceHandle, ApiError> {
        let h = self.state.instance_access(name, key)?;
        if self.state.is_global(key) || self.state.scoped_key(key).is_some() {
            Ok(h)
        } else {
            Err(ApiError::Unauthorized)
        }
    }
}

/// Evolution's stored webhook row, or `null`.
fn webhook_row(view: &InstanceView) -> Value {
    let Some(w): Option<&WebhookConfig> = view.record.webhook.as_ref() else {
        return Value::Null;
    };
    json!({
        "id": view.record.id,
        "url": w.url,
        "headers": w.headers,
        "enabled": w.enabled,
        "events": w.events,
        "webhookByEvents": w.by_events,
        "webhookBase64": w.base64,
        "createdAt": w.created_at,
        "updatedAt": w.updated_at,
        "instanceId": view.record.id,
    })
}

fn ms_time(ms: u64) -> Value {
    Utc.timestamp_millis_opt(ms as i64)
        .single()
        .map(|t| json!(t))
        .unwrap_or(Value::Null)
}

/// A dead letter as shown to operators: no headers (they can hold secrets).
fn letter_json(r: &OutboxRow) -> Value {
    json!({
        "id": r.webhook_id(),
        "event": r.event,
        "url": row_url(r),
        "attempts": r.attempt,
        "lastStatus": r.last_status,
        "lastError": r.last_error,
        "createdAt": ms_time(r.created_at_ms),
        "deadAt": r.dead_at_ms.map(ms_time),
        "payload": serde_json::from_str::<Value>(&r.body).unwrap_or(Value::Null),
    })
}

/// Webhook limits: a webhook's target is stored once per endpoint and sent with every
/// delivery, so its size is bounded. Headers must also be valid HTTP, or every delivery would
/// fail to build and the endpoint would only ever collect dead letters.
pub const MAX_URL_BYTES: usize = 2048;
pub const MAX_HEADERS: usize = 32;
pub const MAX_HEADERS_BYTES: usize = 8192;
pub const MAX_SECRET_BYTES: usize = 256;

/// Refuses a webhook over the limits above (400).
pub(crate) fn check_size(w: &WebhookConfig) -> Result<(), ApiError> {
    if w.url.len() > MAX_URL_BYTES {
        return Err(ApiError::BadRequest(format!(
            "webhook url is {} bytes; the limit is {MAX_URL_BYTES}",
            w.url.len()
        )));
    }
    if w.headers.len() > MAX_HEADERS {
        return Err(ApiError::BadRequest(format!(
            "webhook has {} headers; the limit is {MAX_HEADERS}",
            w.headers.len()
        )));
    }
    let total: usize = w.headers.iter().map(|(k, v)| k.len() + v.len()).sum();
    if total > MAX_HEADERS_BYTES {
        return Err(ApiError::BadRequest(format!(
            "webhook headers are {total} bytes; the limit is {MAX_HEADERS_BYTES}"
        )));
    }
    for (k, v) in &w.headers {
        let name_ok = reqwest::header::HeaderName::from_bytes(k.as_bytes()).is_ok();
        if !name_ok || reqwest::header::HeaderValue::from_str(v).is_err() {
            // The name only: a value may be a credential.
            return Err(ApiError::BadRequest(format!(
                "webhook header \"{}\" is not a valid HTTP header",
                k.chars().take(64).collect::<String>()
            )));
        }
    }
    if w.secret
        .as_ref()
        .is_some_and(|s| s.len() > MAX_SECRET_BYTES)
    {
        return Err(ApiError::BadRequest(format!(
            "webhook secret is longer than {MAX_SECRET_BYTES} bytes"
        )));
    }
    Ok(())
}

/// Refuses a URL that is not http(s), and for a token one that names or resolves to a private,
/// loopback or link-local address not listed in `ZAPGATE_PRIVATE_TARGETS`. Delivery applies the
/// rule again (names at connect time), so a DNS answer that changes later changes nothing.
pub(crate) async fn check_target(
    outbound: &Outbound,
    url: &str,
    who: Requester,
) -> Result<(), ApiError> {
    match outbound.check_now(url, who).await {
        Ok(_) => Ok(()),
        Err(Refused::NotHttp) => Err(ApiError::BadRequest(format!(
            "Invalid webhook url: {url} (must be http or https)"
        ))),
        Err(Refused::Unresolvable(host)) => Err(ApiError::BadRequest(format!(
            "Webhook host does not resolve: {host}"
        ))),
        Err(Refused::PrivateLiteral(_) | Refused::PrivateName(_)) => {
            Err(ApiError::BadRequest(format!(
                "Webhook url {url} points at a private, loopback or link-local address, which \
                 an instance token may not configure (the operator can allow it with \
                 ZAPGATE_PRIVATE_TARGETS)"
            )))
        }
    }
}

/// The events a webhook stores, by Evolution's rule ([`EventKind::subscription`]): `[]` while
/// disabled, every name when enabled with none chosen. `names` were checked by the caller.
pub(crate) fn stored_events(enabled: bool, names: &[String]) -> Vec<String> {
    let kinds = names.iter().filter_map(|n| EventKind::parse(n));
    EventKind::subscription(enabled, kinds)
        .into_iter()
        .map(|k| k.upper().to_string())
        .collect()
}
