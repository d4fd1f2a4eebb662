//! The REST side: one request per operator action, snapshots and server facts.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::wire;
use crate::msg::{ActionOk, InstanceRow, Request, ServerInfo, WebhookHealth};

#[derive(Debug, thiserror::Error)]
pub enum HttpError {
    #[error("{0}")]
    Transport(String),
    #[error("{0}")]
    Status(String),
    #[error("not found")]
    NotFound,
}

impl From<reqwest::Error> for HttpError {
    fn from(e: reqwest::Error) -> Self {
        HttpError::Transport(e.to_string())
    }
}

/// An instance name as one path or query segment.
fn enc(s: &str) -> String {
    s.replace('%', "%25")
        .replace('/', "%2F")
        .replace('?', "%3F")
        .replace('#', "%23")
        .replace('&', "%26")
        .replace('+', "%2B")
        .replace(' ', "%20")
}

/// A server's address and key; cheap to clone into tasks.
#[derive(Clone)]
pub struct Api {
    base: String,
    key: String,
    http: reqwest::Client,
    /// The engine `create` asks for when the operator names none.
    pub integration: Option<String>,
}

impl Api {
    pub fn new(base: &str, key: &str, integration: Option<String>) -> Api {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .expect("a TLS backend is compiled in");
        Api {
            base: base.trim_end_matches('/').to_string(),
            key: key.to_string(),
            http,
            integration,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    pub fn get_stream(&self, path: &str) -> reqwest::RequestBuilder {
        self.http.get(self.url(path)).header("apikey", &self.key)
    }

    async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<Value>,
    ) -> Result<Value, HttpError> {
        let mut rb = self
            .http
            .request(method, self.url(path))
            .header("apikey", &self.key)
            .timeout(Duration::from_secs(30));
        if let Some(b) = body {
            rb = rb.json(&b);
        }
        let resp = rb.send().await?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if status == StatusCode::NOT_FOUND && body.is_null() {
            return Err(HttpError::NotFound);
        }
        if !status.is_success() {
            return Err(HttpError::Status(wire::error_text(status.as_u16(), &body)));
        }
        Ok(body)
    }

    /// The whole fleet (fetchInstances), parsed a row at a time from the body's bytes.
    pub async fn instances(&self) -> Result<Vec<InstanceRow>, HttpError> {
        let resp = self
            .http
            .get(self.url("/instance/fetchInstances"))
            .header("apikey", &self.key)
            .timeout(Duration::from_secs(60))
            .send()
            .await?;
        let status = resp.status();
        let body = resp.bytes().await?;
        if !status.is_success() {
            let v: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
            return Err(HttpError::Status(wire::error_text(status.as_u16(), &v)));
        }
        Ok(wire::instances_from_slice(&body))
    }

    /// Full rows of these instances only (fetchInstances?instanceName=, one request each).
    pub async fn instances_named(&self, names: &[String]) -> Result<Vec<InstanceRow>, HttpError> {
        let mut rows = Vec::with_capacity(names.len());
        for n in names {
            let path = format!("/instance/fetchInstances?instanceName={}", enc(n));
            match self.call(Method::GET, &path, None).await {
                Ok(v) => rows.extend(wire::instances(&v)),
                // Deleted in between: the next summary says so.
                Err(HttpError::NotFound | HttpError::Status(_)) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(rows)
    }

    /// zapgate's compact `GET /instance/summary` (only rows changed since `changed_since_ms`
    /// when given). `Ok(None)`: the server has no such route (plain Evolution).
    pub async fn summary(
        &self,
        changed_since_ms: Option<i64>,
    ) -> Result<Option<wire::Summary>, HttpError> {
        let path = match changed_since_ms {
            Some(t) => format!("/instance/summary?changedSince={t}"),
            None => "/instance/summary".to_string(),
        };
        let resp = self
            .http
            .get(self.url(&path))
            .header("apikey", &self.key)
            .timeout(Duration::from_secs(30))
            .send()
            .await?;
        let status = resp.status();
        let body: Value = resp.json().await.unwrap_or(Value::Null);
        if status == StatusCode::NOT_FOUND || status == StatusCode::METHOD_NOT_ALLOWED {
            return Ok(None);
        }
        if !status.is_success() {
            return Err(HttpError::Status(wire::error_text(status.as_u16(), &body)));
        }
        Ok(wire::summary(&body))
    }

    /// Webhook delivery health of one instance (global key).
    pub async fn webhook_health(&self, name: &str) -> Result<WebhookHealth, HttpError> {
        let v = self
            .call(Method::GET, &format!("/webhook/stats/{}", enc(name)), None)
            .await?;
        Ok(wire::webhook_health(&v))
    }

    pub async fn server_info(&self) -> Result<ServerInfo, HttpError> {
        let welcome = self.call(Method::GET, "/", None).await?;
        let health = self
            .call(Method::GET, "/health", None)
            .await
            .unwrap_or(Value::Null);
        Ok(wire::server_info(&welcome, &health))
    }

    pub async fn act(&self, req: &Request) -> Result<ActionOk, HttpError> {
        match req {
            Request::Create { name, integration } => {
                let engine = integration.clone().or_else(|| self.integration.clone());
                let mut body = json!({"instanceName": name, "qrcode": false});
                if let Some(e) = engine {
                    body["integration"] = json!(e);
                }
                self.call(Method::POST, "/instance/create", Some(body))
                    .await?;
                Ok(ActionOk::Done)
            }
            Request::Connect { name, number } => {
                let mut path = format!("/instance/connect/{}", enc(name));
                if let Some(n) = number {
                    path.push_str(&format!("?number={}", enc(n)));
                }
                let v = self.call(Method::GET, &path, None).await?;
                let s = |k: &str| v[k].as_str().filter(|s| !s.is_empty()).map(str::to_string);
                Ok(ActionOk::Qr {
                    code: s("code"),
                    pairing_code: s("pairingCode"),
                })
            }
            Request::Restart { name } => {
                self.call(
                    Method::POST,
                    &format!("/instance/restart/{}", enc(name)),
                    None,
                )
                .await?;
                Ok(ActionOk::Done)
            }
            Request::Logout { name } => {
                self.call(
                    Method::DELETE,
                    &format!("/instance/logout/{}", enc(name)),
                    None,
                )
                .await?;
                Ok(ActionOk::Done)
            }
            Request::Delete { name } => {
                self.call(
                    Method::DELETE,
                    &format!("/instance/delete/{}", enc(name)),
                    None,
                )
                .await?;
                Ok(ActionOk::Done)
            }
            Request::SendText { name, number, text } => {
                let body = json!({"number": number, "text": text});
                self.call(
                    Method::POST,
                    &format!("/message/sendText/{}", enc(name)),
                    Some(body),
                )
                .await?;
                Ok(ActionOk::Done)
            }
            Request::Replay { name } => {
                let v = self
                    .call(
                        Method::POST,
                        &format!("/webhook/deadLetters/replay/{}", enc(name)),
                        Some(json!({})),
                    )
                    .await?;
                Ok(ActionOk::Replayed(v["replayed"].as_u64().unwrap_or(0)))
            }
        }
    }
}
