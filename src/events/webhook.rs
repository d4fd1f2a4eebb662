//! Which webhooks an event goes to, and the outbox rows that carry it there.
//!
//! An instance's own webhook (if enabled and subscribed to the event) and the global webhook
//! (`WEBHOOK_GLOBAL_*`, per-event switches `WEBHOOK_EVENTS_<NAME>`) are independent: an event
//! matching both is delivered to both, as in Evolution.

use std::collections::HashSet;
use std::net::IpAddr;
use std::sync::Arc;

use serde_json::Value;

use uuid::Uuid;

use super::{Event, EventKind};
use crate::config::Config;
use crate::instance::WebhookConfig;
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

/// Loopback, private, link-local, CGNAT, unspecified and broadcast addresses (v4, v6 and
/// v4-mapped v6): the targets `ZAPGATE_WEBHOOK_ALLOW_PRIVATE=false` refuses.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            v4.is_private()
                || v4.is_loopback()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (v4.octets()[0] == 100 && (64..128).contains(&v4.octets()[1]))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let seg = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (seg & 0xfe00) == 0xfc00
                || (seg & 0xffc0) == 0xfe80
        }
    }
}

/// The delivery client's resolver when private targets are refused: a name that resolves to a
/// private address fails to connect, so a DNS answer that changes after `/webhook/set` checked
/// it (rebinding) still cannot reach the internal network.
pub struct PublicOnlyResolver;

impl reqwest::dns::Resolve for PublicOnlyResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        Box::pin(async move {
            let addrs: Vec<std::net::SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if addrs.iter().any(|a| is_private(a.ip())) {
                return Err("refused: the name resolves to a private address".into());
            }
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// Whether a URL's host is a private IP literal (names go through [`PublicOnlyResolver`]).
pub fn is_private_literal(url: &str) -> bool {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|u| {
            u.host_str()
                .map(|h| h.trim_start_matches('[').trim_end_matches(']').to_string())
        })
        .and_then(|h| h.parse::<IpAddr>().ok())
        .is_some_and(is_private)
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
    fn private_ranges() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "192.168.0.1",
            "169.254.1.1",
            "100.64.0.1",
            "::1",
            "fd00::1",
            "fe80::1",
            "::ffff:10.0.0.1",
        ] {
            assert!(is_private(ip.parse().unwrap()), "{ip}");
        }
        for ip in ["8.8.8.8", "2001:4860::8888"] {
            assert!(!is_private(ip.parse().unwrap()), "{ip}");
        }
    }

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
