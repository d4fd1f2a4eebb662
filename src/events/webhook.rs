//! Which webhooks an event goes to, and the outbox rows that carry it there.
//!
//! An instance's own webhook (if enabled and subscribed to the event) and the global webhook
//! (`WEBHOOK_GLOBAL_*`, per-event switches `WEBHOOK_EVENTS_<NAME>`) are independent: an event
//! matching both is delivered to both, as in Evolution.

use std::collections::HashSet;
use std::sync::Arc;

use serde_json::Value;

use uuid::Uuid;

use super::{Event, EventKind};
use crate::config::Config;
use crate::instance::WebhookConfig;
use crate::outbound::Requester;
use crate::store::outbox::{EndpointTarget, OutboxRow};

/// Endpoint key of the global webhook.
pub const GLOBAL_ENDPOINT: &str = "global";

/// Endpoint key of an instance's webhook.
pub fn instance_endpoint(instance_id: Uuid) -> String {
    format!("i:{instance_id}")
}

/// Resolved once from the configuration.
pub struct WebhookRouter {
    global_url: Option<String>,
    global_by_events: bool,
    global_kinds: HashSet<EventKind>,
    global_secret: Option<String>,
    expose_token: bool,
    server_url: String,
}

impl WebhookRouter {
    pub fn new(config: &Config, server_url: &str) -> Self {
        WebhookRouter {
            global_url: config
                .webhook_global_url
                .clone()
                .filter(|u| config.webhook_global_enabled && is_http(u)),
            global_by_events: config.webhook_global_by_events,
            global_kinds: config.global_webhook_events().into_iter().collect(),
            global_secret: config.webhook_secret.clone().filter(|s| !s.is_empty()),
            expose_token: config.expose_in_fetch_instances,
            server_url: server_url.to_string(),
        }
    }

    /// The rows to write for `event`; empty when nobody subscribed. Each row names its
    /// endpoint's target (URL, headers, secret); the outbox stores a target once per endpoint.
    pub fn rows_for(
        &self,
        event: &Event,
        webhook: Option<&WebhookConfig>,
        token: &str,
    ) -> Vec<OutboxRow> {
        let apikey = self.expose_token.then_some(token);
        let mut rows = Vec::new();
        if let Some(w) = webhook.filter(|w| subscribed(w, event.kind)) {
            let body = event.envelope(Some(&w.url), &self.server_url, apikey);
            let target = EndpointTarget {
                url: w.url.clone(),
                by_events: w.by_events,
                headers: w.headers.clone(),
                secret: w.secret.clone().or_else(|| self.global_secret.clone()),
                // The private-target rule is applied again at delivery, by who set the webhook.
                requester: w.set_by,
                kind: Default::default(),
            };
            rows.push(row(
                event,
                instance_endpoint(event.instance_id),
                body,
                target,
            ));
        }
        if let Some(g) = self
            .global_url
            .as_deref()
            .filter(|_| self.global_kinds.contains(&event.kind))
        {
            let url = with_suffix(g, self.global_by_events, &event.kind.kebab());
            let body = event.envelope(Some(&url), &self.server_url, apikey);
            let target = EndpointTarget {
                url: g.to_string(),
                by_events: self.global_by_events,
                headers: Default::default(),
                secret: self.global_secret.clone(),
                // The operator's own configuration.
                requester: Requester::Global,
                kind: Default::default(),
            };
            rows.push(row(event, GLOBAL_ENDPOINT.to_string(), body, target));
        }
        rows
    }
}

fn row(event: &Event, endpoint: String, body: Value, target: EndpointTarget) -> OutboxRow {
    OutboxRow::queued(
        endpoint,
        &event.instance,
        event.instance_id,
        event.kind.dotted(),
        body.to_string(),
        Arc::new(target),
    )
}

/// The URL a row is posted to: its target's, with the event suffix when by-events.
pub fn row_url(row: &OutboxRow) -> String {
    with_suffix(
        &row.target.url,
        row.target.by_events,
        &row.event.replace('.', "-"),
    )
}

fn subscribed(w: &WebhookConfig, kind: EventKind) -> bool {
    w.enabled
        && is_http(&w.url)
        && (w.events.is_empty() || w.events.iter().any(|e| EventKind::parse(e) == Some(kind)))
}

fn is_http(url: &str) -> bool {
    let l = url.to_ascii_lowercase();
    l.starts_with("http://") || l.starts_with("https://")
}

/// `https://x/hook?k=1` + `messages.upsert` -> `https://x/hook/messages-upsert?k=1` when
/// by-events (the query string stays where it was).
fn with_suffix(url: &str, by_events: bool, kebab: &str) -> String {
    if !by_events {
        return url.to_string();
    }
    match reqwest::Url::parse(url) {
        Ok(mut u) => {
            let path = format!("{}/{}", u.path().trim_end_matches('/'), kebab);
            u.set_path(&path);
            u.to_string()
        }
        Err(_) => format!("{}/{}", url.trim_end_matches('/'), kebab),
    }
}

pub fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn suffix_goes_before_the_query() {
        assert_eq!(
            with_suffix(
                "https://h.example/in?k=1",
                true,
                &EventKind::MessagesUpsert.kebab()
            ),
            "https://h.example/in/messages-upsert?k=1"
        );
        assert_eq!(
            with_suffix("https://h.example/in/", false, &EventKind::Call.kebab()),
            "https://h.example/in/"
        );
    }
}
