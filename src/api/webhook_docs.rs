//! The outgoing webhook request, documented in the OpenAPI document's `webhooks` section.
//! Nothing here runs: the dispatcher (`events::webhook`) builds the real requests.

use poem_openapi::param::Header;
use poem_openapi::payload::Json;
use poem_openapi::{Object, Webhook};
use serde_json::Value;

/// Evolution's envelope, in Evolution's field order.
#[derive(Object)]
pub struct WebhookEnvelope {
    /// Dotted event name, e.g. `messages.upsert`.
    pub event: String,
    /// Instance name.
    pub instance: String,
    /// Event-specific data (Evolution reference §4.4).
    pub data: Value,
    /// The webhook's base URL (without the by-events suffix).
    pub destination: String,
    /// When the event happened, RFC 3339 UTC with milliseconds.
    pub date_time: String,
    /// The instance's own JID; absent before its first login.
    #[oai(skip_serializing_if_is_none)]
    pub sender: Option<String>,
    /// `SERVER_URL`.
    pub server_url: String,
    /// The instance token with `AUTHENTICATION_EXPOSE_IN_FETCH_INSTANCES=true`, else null.
    pub apikey: Option<String>,
}

/// Requests zapgate sends to webhooks.
#[Webhook]
pub trait OutgoingWebhooks {
    /// An event, POSTed to the webhook URL (plus `/<event-kebab>` with by-events).
    ///
    /// Any 2xx is success. Other answers and timeouts are retried with backoff
    /// (`WEBHOOK_RETRY_*`), except the non-retryable statuses (default 400, 401, 403, 404,
    /// 422), then dead-lettered; `Retry-After` is honoured on 429 and 503. Deliveries survive
    /// restarts; the same event may arrive more than once: deduplicate on `webhook-id`.
    #[oai(method = "post", operation_id = "webhook_event")]
    fn event(
        &self,
        /// Stable across retries and replays of one delivery.
        #[oai(name = "webhook-id")]
        id: Header<String>,
        /// Unix seconds of this attempt (with a signing secret).
        #[oai(name = "webhook-timestamp")]
        timestamp: Header<Option<String>>,
        /// `v1,<base64 HMAC-SHA256 of "id.timestamp.body">` (Standard Webhooks), with a
        /// per-webhook `secret` or `ZAPGATE_WEBHOOK_SECRET`.
        #[oai(name = "webhook-signature")]
        signature: Header<Option<String>>,
        /// `Bearer <HS256 JWT>` when the webhook's headers carry Evolution's `jwt_key`.
        #[oai(name = "Authorization")]
        authorization: Header<Option<String>>,
        body: Json<WebhookEnvelope>,
    );
}
