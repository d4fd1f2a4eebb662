//! The REST side: one request per operator action, snapshots and server facts.

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use super::wire;
use crate::msg::{ActionOk, InstanceRow, Request, ServerInfo};

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

    pub async fn instances(&self) -> Result<Vec<InstanceRow>, HttpError> {
        let v = self
            .call(Method::GET, "/instance/fetchInstances", None)
            .await?;
        Ok(wire::instances(&v))
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
        let enc = |s: &str| {
            s.replace('%', "%25")
                .replace('/', "%2F")
                .replace('?', "%3F")
                .replace('#', "%23")
                .replace(' ', "%20")
        };
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
        }
    }
}
