//! `GET /metrics` (global key): Prometheus' text exposition (OpenMetrics) of the fleet and of
//! the HTTP surface.
//!
//! The fleet's numbers are read from the registry at scrape time by a collector (instances per
//! state, per-instance messages, reconnects, webhook deliveries and outbox depth), so there is
//! no second copy of the state to keep in sync. HTTP requests are counted by a middleware around
//! every route, labelled by the operation the edge matched in the OpenAPI document
//! (`operationId`), never by raw path: the label set stays bounded whatever clients send.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use poem::{Endpoint, IntoResponse, Request, Response};
use poem_openapi::payload::PlainText;
use poem_openapi::{ApiResponse, OpenApi};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeLabelSet, EncodeMetric};
use prometheus_client::metrics::MetricType;
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::ConstGauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};

use super::auth::ApiKey;
use super::error::ApiError;
use super::gate::Gate;
use crate::instance::{ConnectionState, Registry};
use crate::state::AppState;

/// Every state, so a state with no instance still shows 0.
const STATES: [ConnectionState; 5] = [
    ConnectionState::Open,
    ConnectionState::Connecting,
    ConnectionState::Close,
    ConnectionState::Refused,
    ConnectionState::Failed,
];

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct OperationLabels {
    operation: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ResponseLabels {
    operation: String,
    status: String,
}

fn request_histogram() -> Histogram {
    // 1 ms to about 33 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// The metrics registry and the HTTP instruments, built once at start.
pub struct Metrics {
    registry: prometheus_client::registry::Registry,
    durations: Family<OperationLabels, Histogram, fn() -> Histogram>,
    responses: Family<ResponseLabels, Counter>,
}

impl Metrics {
    pub fn new(fleet: Registry, started: Instant) -> Metrics {
        let mut registry = prometheus_client::registry::Registry::default();
        let durations =
            Family::<OperationLabels, Histogram, fn() -> Histogram>::new_with_constructor(
                request_histogram,
            );
        let responses = Family::<ResponseLabels, Counter>::default();
        registry.register(
            "zapgate_http_request_duration_seconds",
            "Time to answer an HTTP request (to its headers), by operation",
            durations.clone(),
        );
        registry.register(
            "zapgate_http_responses",
            "HTTP responses by operation and status",
            responses.clone(),
        );
        registry.register_collector(Box::new(FleetCollector { fleet, started }));
        Metrics {
            registry,
            durations,
            responses,
        }
    }

    /// The text exposition of everything.
    pub fn render(&self) -> Result<String, fmt::Error> {
        let mut out = String::new();
        prometheus_client::encoding::text::encode(&mut out, &self.registry)?;
        Ok(out)
    }

    fn observe(&self, operation: &str, status: u16, seconds: f64) {
        self.durations
            .get_or_create(&OperationLabels {
                operation: operation.to_string(),
            })
            .observe(seconds);
        self.responses
            .get_or_create(&ResponseLabels {
                operation: operation.to_string(),
                status: status.to_string(),
            })
            .inc();
    }
}

/// The label of a request the document has no operation for: a few fixed names for the routes
/// served beside the API, one for everything else.
fn unlisted(path: &str) -> &'static str {
    match path {
        "/events" => "events",
        "/events/ws" => "events_ws",
        "/openapi.json" => "openapi_document",
        p if p.starts_with("/docs") => "docs",
        p if p.starts_with("/socket.io") => "socketio",
        _ => "unmatched",
    }
}

/// The HTTP middleware: times and counts every request under its operation.
pub async fn observe<E: Endpoint>(
    next: E,
    req: Request,
    metrics: Arc<Metrics>,
    gate: Arc<Gate>,
) -> poem::Result<Response> {
    let operation = match gate.routes.find(req.method(), req.uri().path()) {
        Some(m) if !m.operation.is_empty() => m.operation.to_string(),
        _ => unlisted(req.uri().path()).to_string(),
    };
    let started = Instant::now();
    let result = next.call(req).await.map(IntoResponse::into_response);
    let status = match &result {
        Ok(resp) => resp.status().as_u16(),
        Err(e) => e.status().as_u16(),
    };
    metrics.observe(&operation, status, started.elapsed().as_secs_f64());
    result
}

/// Reads the fleet at scrape time.
struct FleetCollector {
    fleet: Registry,
    started: Instant,
}

impl fmt::Debug for FleetCollector {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FleetCollector").finish_non_exhaustive()
    }
}

/// One per-instance family: name, help, type, and how to read it from a sample.
type PerInstance = (&'static str, &'static str, MetricType, fn(&Sample) -> u64);

/// One instance's numbers, read once per scrape.
struct Sample {
    instance: String,
    integration: &'static str,
    up: bool,
    messages_in: u64,
    messages_out: u64,
    send_errors: u64,
    reconnects: u64,
    webhook: crate::instance::delivery::WebhookTallies,
}

fn gauge(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    value: i64,
) -> Result<(), fmt::Error> {
    let m = encoder.encode_descriptor(name, help, None, MetricType::Gauge)?;
    ConstGauge::new(value).encode(m)
}

fn per_instance(
    encoder: &mut DescriptorEncoder,
    name: &str,
    help: &str,
    kind: MetricType,
    samples: &[Sample],
    value: impl Fn(&Sample) -> u64,
) -> Result<(), fmt::Error> {
    let mut m = encoder.encode_descriptor(name, help, None, kind)?;
    for s in samples {
        let labels = [("instance", s.instance.as_str())];
        let child = m.encode_family(&labels)?;
        match kind {
            MetricType::Counter => ConstCounter::new(value(s)).encode(child)?,
            _ => ConstGauge::new(value(s) as i64).encode(child)?,
        }
    }
    Ok(())
}

impl Collector for FleetCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), fmt::Error> {
        let counts = self.fleet.counts();
        {
            let mut m = encoder.encode_descriptor(
                "zapgate_instances",
                "Instances by connection state",
                None,
                MetricType::Gauge,
            )?;
            for state in STATES {
                let n = counts.by_state.get(state.as_str()).copied().unwrap_or(0);
                let labels = [("state", state.as_str())];
                ConstGauge::new(n as i64).encode(m.encode_family(&labels)?)?;
            }
        }
        gauge(
            &mut encoder,
            "zapgate_instances_waiting_for_qr",
            "Instances connecting with a QR code shown",
            counts.waiting_for_qr as i64,
        )?;
        gauge(
            &mut encoder,
            "zapgate_max_sessions",
            "ZAPGATE_MAX_SESSIONS (0: no limit)",
            self.fleet.config().max_sessions as i64,
        )?;
        gauge(
            &mut encoder,
            "zapgate_uptime_seconds",
            "Seconds since the server started",
            self.started.elapsed().as_secs() as i64,
        )?;
        gauge(
            &mut encoder,
            "zapgate_resident_memory_bytes",
            "Resident memory of the process",
            memory_stats::memory_stats().map_or(0, |m| m.physical_mem as i64),
        )?;
        let samples: Vec<Sample> = self
            .fleet
            .all()
            .into_iter()
            .map(|h| {
                let view = h.view();
                let c = h.counters();
                Sample {
                    instance: h.name().to_string(),
                    integration: view.record.integration.as_str(),
                    up: view.state.state == ConnectionState::Open,
                    messages_in: c.messages_in,
                    messages_out: c.messages_out,
                    send_errors: c.send_errors,
                    reconnects: c.reconnects,
                    webhook: h.webhook_tallies(),
                }
            })
            .collect();
        {
            let mut m = encoder.encode_descriptor(
                "zapgate_instance_up",
                "1 while the instance is open",
                None,
                MetricType::Gauge,
            )?;
            for s in &samples {
                let labels = [
                    ("instance", s.instance.as_str()),
                    ("integration", s.integration),
                ];
                ConstGauge::new(i64::from(s.up)).encode(m.encode_family(&labels)?)?;
            }
        }
        use MetricType::{Counter as C, Gauge as G};
        let families: [PerInstance; 8] = [
            (
                "zapgate_instance_messages_received",
                "Messages received, since start",
                C,
                |s| s.messages_in,
            ),
            (
                "zapgate_instance_messages_sent",
                "Messages sent (from the API or another device), since start",
                C,
                |s| s.messages_out,
            ),
            (
                "zapgate_instance_send_errors",
                "Sends that did not reach WhatsApp, since start",
                C,
                |s| s.send_errors,
            ),
            (
                "zapgate_instance_reconnects",
                "Returns to open after a drop, since start",
                C,
                |s| s.reconnects,
            ),
            (
                "zapgate_instance_webhook_deliveries",
                "Webhook deliveries that succeeded, since start",
                C,
                |s| s.webhook.delivered,
            ),
            (
                "zapgate_instance_webhook_failed_attempts",
                "Webhook attempts that failed, since start",
                C,
                |s| s.webhook.failed_attempts,
            ),
            (
                "zapgate_instance_webhook_dead_letters",
                "Webhook events given up (dead letters), since start",
                C,
                |s| s.webhook.dead_lettered,
            ),
            (
                "zapgate_instance_outbox_depth",
                "Events waiting for the instance's webhook",
                G,
                |s| s.webhook.outbox_depth,
            ),
        ];
        for (name, help, kind, value) in families {
            per_instance(&mut encoder, name, help, kind, &samples, value)?;
        }
        Ok(())
    }
}

pub struct MetricsApi {
    pub state: Arc<AppState>,
}

#[derive(ApiResponse)]
enum MetricsResponse {
    /// The OpenMetrics text exposition (Prometheus scrapes it as is).
    #[oai(
        status = 200,
        content_type = "application/openmetrics-text; version=1.0.0; charset=utf-8"
    )]
    Ok(PlainText<String>),
}

#[derive(poem_openapi::Tags)]
enum Tag {
    /// Operator views for consoles and dashboards (zapgate only).
    Ops,
}

#[OpenApi(tag = "Tag::Ops")]
impl MetricsApi {
    /// Prometheus metrics (global key).
    #[oai(path = "/metrics", method = "get", operation_id = "metrics")]
    async fn metrics(&self, key: ApiKey) -> Result<MetricsResponse, ApiError> {
        self.state.require_global(&key)?;
        let text = self
            .state
            .metrics
            .render()
            .map_err(|_| ApiError::Internal("could not render the metrics".into()))?;
        Ok(MetricsResponse::Ok(PlainText(text)))
    }
}
