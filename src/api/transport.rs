//! `/rabbitmq/*`, `/nats/*` and `/websocket/*` (Evolution's set/find of an instance's
//! subscription), and
//! `/sqs/*`, `/kafka/*`, `/pusher/*`, which zapgate does not ship: they answer 400
//! "<name> is disabled", the error Evolution gives for an integration switched off.

use std::sync::Arc;

use chrono::SecondsFormat;
use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use super::auth::ApiKey;
use super::error::ApiError;
use super::required::{Optional, Required};
use crate::events::EventKind;
use crate::events::transport::{Subscription, TransportError, TransportKind};
use crate::instance::InstanceHandle;
use crate::state::AppState;

#[derive(Tags)]
enum Tag {
    /// Event transports: RabbitMQ and NATS; SQS, Kafka and Pusher answer "disabled".
    Transports,
}

pub struct TransportApi {
    pub state: Arc<AppState>,
}

/// An instance's subscription to a transport, as Evolution takes it.
#[derive(Object, Debug)]
pub struct EventSubscriptionBody {
    /// Send the instance's events to the transport.
    pub enabled: Required<bool>,
    /// UPPER_SNAKE event names (`MESSAGES_UPSERT`); missing or empty means every event.
    #[oai(validator(max_items = 64))]
    pub events: Optional<Vec<String>>,
}

#[derive(Object, Debug)]
pub struct RabbitmqSetBody {
    pub rabbitmq: Required<EventSubscriptionBody>,
}

#[derive(Object, Debug)]
pub struct NatsSetBody {
    pub nats: Required<EventSubscriptionBody>,
}

#[derive(Object, Debug)]
pub struct WebsocketSetBody {
    pub websocket: Required<EventSubscriptionBody>,
}

/// Evolution's stored row.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SubscriptionRow {
    pub id: String,
    pub enabled: bool,
    /// Every event when it was set enabled with none; none when disabled.
    pub events: Vec<String>,
    /// RFC 3339, UTC, milliseconds.
    pub created_at: String,
    pub updated_at: String,
    pub instance_id: String,
}

#[derive(ApiResponse)]
enum SetResponse {
    /// The stored subscription.
    #[oai(status = 201)]
    Created(Json<SubscriptionRow>),
}

#[OpenApi(tag = "Tag::Transports")]
impl TransportApi {
    /// Send the instance's events to RabbitMQ: exchange `{instance}`, quorum queues
    /// `{instance}.{event}`, routing key the dotted event. 400 while `RABBITMQ_ENABLED` is off.
    #[oai(
        path = "/rabbitmq/set/:instanceName",
        method = "post",
        operation_id = "set_rabbitmq"
    )]
    async fn set_rabbitmq(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<RabbitmqSetBody>,
    ) -> Result<SetResponse, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        self.set(&h, TransportKind::Rabbitmq, body.0.rabbitmq).await
    }

    /// The instance's RabbitMQ subscription, or `null`.
    #[oai(
        path = "/rabbitmq/find/:instanceName",
        method = "get",
        operation_id = "find_rabbitmq"
    )]
    async fn find_rabbitmq(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
    ) -> Result<Json<Option<SubscriptionRow>>, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        self.find(&h, TransportKind::Rabbitmq)
    }

    /// Send the instance's events to NATS, subjects `{instance}.{event}` (the instance name
    /// must be one subject token). 400 while `NATS_ENABLED` is off.
    #[oai(
        path = "/nats/set/:instanceName",
        method = "post",
        operation_id = "set_nats"
    )]
    async fn set_nats(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<NatsSetBody>,
    ) -> Result<SetResponse, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        self.set(&h, TransportKind::Nats, body.0.nats).await
    }

    /// The instance's NATS subscription, or `null`.
    #[oai(
        path = "/nats/find/:instanceName",
        method = "get",
        operation_id = "find_nats"
    )]
    async fn find_nats(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
    ) -> Result<Json<Option<SubscriptionRow>>, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        self.find(&h, TransportKind::Nats)
    }

    /// Emit the instance's events on the socket.io namespace `/{instance}` (event name: the
    /// dotted event). 400 while `WEBSOCKET_ENABLED` is off.
    #[oai(
        path = "/websocket/set/:instanceName",
        method = "post",
        operation_id = "set_websocket"
    )]
    async fn set_websocket(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<WebsocketSetBody>,
    ) -> Result<SetResponse, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        self.set(&h, TransportKind::Websocket, body.0.websocket)
            .await
    }

    /// The instance's socket.io subscription, or `null`.
    #[oai(
        path = "/websocket/find/:instanceName",
        method = "get",
        operation_id = "find_websocket"
    )]
    async fn find_websocket(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
    ) -> Result<Json<Option<SubscriptionRow>>, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        self.find(&h, TransportKind::Websocket)
    }

    /// Not shipped by zapgate: always 400 "SQS is disabled".
    #[oai(
        path = "/sqs/set/:instanceName",
        method = "post",
        operation_id = "set_sqs"
    )]
    async fn set_sqs(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
    ) -> Result<SetResponse, ApiError> {
        self.disabled(&name, &key, "SQS")
    }

    /// Not shipped by zapgate: always 400 "SQS is disabled".
    #[oai(
        path = "/sqs/find/:instanceName",
        method = "get",
        operation_id = "find_sqs"
    )]
    async fn find_sqs(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
    ) -> Result<Json<Option<SubscriptionRow>>, ApiError> {
        self.disabled(&name, &key, "SQS")
    }

    /// Not shipped by zapgate: always 400 "Kafka is disabled".
    #[oai(
        path = "/kafka/set/:instanceName",
        method = "post",
        operation_id = "set_kafka"
    )]
    async fn set_kafka(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
    ) -> Result<SetResponse, ApiError> {
        self.disabled(&name, &key, "Kafka")
    }

    /// Not shipped by zapgate: always 400 "Kafka is disabled".
    #[oai(
        path = "/kafka/find/:instanceName",
        method = "get",
        operation_id = "find_kafka"
    )]
    async fn find_kafka(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
    ) -> Result<Json<Option<SubscriptionRow>>, ApiError> {
        self.disabled(&name, &key, "Kafka")
    }

    /// Not shipped by zapgate: always 400 "Pusher is disabled".
    #[oai(
        path = "/pusher/set/:instanceName",
        method = "post",
        operation_id = "set_pusher"
    )]
    async fn set_pusher(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
    ) -> Result<SetResponse, ApiError> {
        self.disabled(&name, &key, "Pusher")
    }

    /// Not shipped by zapgate: always 400 "Pusher is disabled".
    #[oai(
        path = "/pusher/find/:instanceName",
        method = "get",
        operation_id = "find_pusher"
    )]
    async fn find_pusher(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
    ) -> Result<Json<Option<SubscriptionRow>>, ApiError> {
        self.disabled(&name, &key, "Pusher")
    }
}

impl TransportApi {
    async fn set(
        &self,
        h: &InstanceHandle,
        kind: TransportKind,
        body: Required<EventSubscriptionBody>,
    ) -> Result<SetResponse, ApiError> {
        let field = kind.name();
        let body = body.0.ok_or_else(|| {
            ApiError::Validation(format!("instance requires property \"{field}\""))
        })?;
        let enabled = body.enabled.0.ok_or_else(|| {
            ApiError::Validation(format!("{field} requires property \"enabled\""))
        })?;
        let mut events = Vec::new();
        for (i, e) in body.events.0.iter().flatten().enumerate() {
            let k = EventKind::parse(e).ok_or_else(|| {
                ApiError::Validation(format!(
                    "{field}.events[{i}] is not one of the event names: \"{}\"",
                    e.chars().take(64).collect::<String>()
                ))
            })?;
            events.push(k);
        }
        let transports = self.state.registry.dispatcher().transports();
        let sub = transports
            .set(h.id(), h.name(), kind, enabled, events)
            .await?;
        Ok(SetResponse::Created(Json(row(&sub, h))))
    }

    fn find(
        &self,
        h: &InstanceHandle,
        kind: TransportKind,
    ) -> Result<Json<Option<SubscriptionRow>>, ApiError> {
        let transports = self.state.registry.dispatcher().transports();
        Ok(Json(transports.find(h.id(), kind)?.map(|s| row(&s, h))))
    }

    /// 404 for an unknown instance and 401 come first, as on every route; then "disabled".
    fn disabled<T>(&self, name: &str, key: &ApiKey, what: &str) -> Result<T, ApiError> {
        self.state.instance_access(name, key)?;
        Err(ApiError::BadRequest(format!("{what} is disabled")))
    }
}

fn row(s: &Subscription, h: &InstanceHandle) -> SubscriptionRow {
    SubscriptionRow {
        id: s.id.to_string(),
        enabled: s.enabled,
        events: s.events.clone(),
        created_at: s.created_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        updated_at: s.updated_at.to_rfc3339_opts(SecondsFormat::Millis, true),
        instance_id: h.id().to_string(),
    }
}

impl From<TransportError> for ApiError {
    fn from(e: TransportError) -> Self {
        match e {
            TransportError::Disabled(_) | TransportError::BadName(_) => {
                ApiError::BadRequest(e.to_string())
            }
            TransportError::Store(e) => e.into(),
        }
    }
}
