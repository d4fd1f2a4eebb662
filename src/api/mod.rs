//! The HTTP surface. Handlers are thin: parse, call the instance layer, shape Evolution's answer.

pub mod auth;
pub mod call;
pub mod chat;
pub mod chat_business;
pub mod document;
pub mod dto;
pub mod error;
pub mod gate;
pub mod gowa;
pub mod group;
pub mod group_dto;
pub mod group_view;
pub mod history;
pub mod history_dto;
pub mod instance;
pub mod jid_text;
pub mod keys;
pub mod keys_dto;
pub mod limits;
pub mod loopback;
pub mod media;
pub mod message;
pub mod message_dto;
pub mod message_more;
pub mod message_more_dto;
pub mod message_status;
pub mod metrics;
pub mod ops;
pub mod required;
pub mod route_table;
pub mod rows;
pub mod sessions;
pub mod sessions_dto;
pub mod sessions_error;
pub mod sessions_ops;
pub mod settings;
pub mod socketio;
pub mod stream;
pub mod stream_ws;
pub mod summary;
pub mod time_bound;
pub mod transport;
pub mod webhook;
pub mod webhook_docs;

use std::sync::Arc;

use poem::middleware::Cors;
use poem::{EndpointExt, IntoEndpoint, Route, get};
use poem_openapi::OpenApiService;

use crate::state::AppState;

type Apis = (
    ops::OpsApi,
    instance::InstanceApi,
    settings::SettingsApi,
    message::MessageApi,
    message_more::MessageMoreApi,
    message_status::MessageStatusApi,
    call::CallApi,
    (chat::ChatApi, chat_business::ChatBusinessApi),
    history::HistoryApi,
    (group::GroupApi, group_view::GroupViewApi),
    loopback::LoopbackApi,
    webhook::WebhookApi,
    summary::SummaryApi,
    transport::TransportApi,
    gowa::Apis,
    // poem-openapi implements its trait for tuples of at most 16: the sessions dialect and
    // the metrics go in as one member (as the GOWA dialect's APIs do in `gowa::Apis`), and
    // the scoped keys with them.
    (
        sessions::SessionsApi,
        sessions_ops::SessionOpsApi,
        metrics::MetricsApi,
        keys::KeysApi,
    ),
);

/// The OpenAPI service; also what `zapgate openapi` prints.
pub fn openapi(
    state: Arc<AppState>,
) -> OpenApiService<Apis, &'static dyn webhook_docs::OutgoingWebhooks> {
    OpenApiService::new(
        (
            ops::OpsApi {
                state: state.clone(),
            },
            instance::InstanceApi {
                state: state.clone(),
            },
            settings::SettingsApi {
                state: state.clone(),
            },
            message::MessageApi {
                state: state.clone(),
            },
            message_more::MessageMoreApi {
                state: state.clone(),
            },
            message_status::MessageStatusApi {
                state: state.clone(),
            },
            call::CallApi {
                state: state.clone(),
            },
            (
                chat::ChatApi {
                    state: state.clone(),
                },
                chat_business::ChatBusinessApi {
                    state: state.clone(),
                },
            ),
            history::HistoryApi {
                state: state.clone(),
            },
            (
                group::GroupApi {
                    state: state.clone(),
                },
                group_view::GroupViewApi {
                    state: state.clone(),
                },
            ),
            loopback::LoopbackApi {
                state: state.clone(),
            },
            webhook::WebhookApi {
                state: state.clone(),
            },
            summary::SummaryApi {
                state: state.clone(),
            },
            transport::TransportApi {
                state: state.clone(),
            },
            gowa::apis(state.clone()),
            (
                sessions::SessionsApi {
                    state: state.clone(),
                },
                sessions_ops::SessionOpsApi {
                    state: state.clone(),
                },
                metrics::MetricsApi {
                    state: state.clone(),
                },
                keys::KeysApi { state },
            ),
        ),
        "zapgate",
        env!("CARGO_PKG_VERSION"),
    )
    .description("A multi-session WhatsApp Web gateway speaking the Evolution API v2 dialect.")
    .webhooks::<&'static dyn webhook_docs::OutgoingWebhooks>()
}

/// The spec as JSON, independent of any runtime configuration (see `document`).
pub fn spec_json(state: Arc<AppState>) -> String {
    let mut doc: serde_json::Value =
        serde_json::from_str(&openapi(state).spec()).unwrap_or_default();
    document::mark_optional_nullable(&mut doc);
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// Every route of the server, wrapped in the error envelope, CORS and the body limit.
pub fn routes(state: Arc<AppState>) -> impl poem::Endpoint {
    let api = openapi(state.clone());
    let docs = api.swagger_ui();
    let served = spec_json(state.clone());
    let cors = cors(&state.config.cors_origin);
    let document: serde_json::Value = serde_json::from_str(&api.spec()).unwrap_or_default();
    let gate = Arc::new(gate::Gate::new(&document, &state.config.rates));
    for missing in gate.routes.unknown_media_routes() {
        tracing::debug!(
            route = missing,
            "media route not served (yet): no operation to widen"
        );
    }
    let budget = state.bodies.clone();
    let edge_state = state.clone();
    let meters = state.metrics.clone();
    let metrics_gate = gate.clone();
    let mut route = Route::new();
    if let Some(sio) = socketio::mount(&state) {
        route = route.nest_no_strip("/socket.io", sio);
    }
    route
        .nest("/docs", docs)
        .at(
            "/openapi.json",
            get(poem::endpoint::make_sync(move |_| {
                poem::Response::builder()
                    .content_type("application/json; charset=utf-8")
                    .body(served.clone())
            })),
        )
        .at("/events", get(stream::events))
        .at("/events/ws", get(stream_ws::events_ws))
        .nest("/", api.into_endpoint())
        .data(state)
        .with(cors)
        .around(move |ep, req| {
            limits::edge(ep, req, edge_state.clone(), gate.clone(), budget.clone())
        })
        .around(error::envelope_errors)
        .around(move |ep, req| metrics::observe(ep, req, meters.clone(), metrics_gate.clone()))
}

fn cors(origins: &str) -> Cors {
    let mut cors = Cors::new();
    for o in origins
        .split(',')
        .map(str::trim)
        .filter(|o| !o.is_empty() && *o != "*")
    {
        cors = cors.allow_origin(o);
    }
    cors
}
