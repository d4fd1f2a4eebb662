//! Evolution's error envelope, `{status, error, response:{message}}`, and the one mapping from
//! every error the server can produce (ours, poem's, poem-openapi's) into it.
//!
//! `response.message` changes shape with the cause, and clients branch on it: a plain string for
//! 401, an array of strings for business errors, a nested array for validation errors, and an
//! array of `{jid, exists:false, number}` objects for numbers that are not on WhatsApp.

use poem::http::StatusCode;
use poem::{Body, Endpoint, IntoResponse, Request, Response};
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaResponses, Registry};
use poem_openapi::{ApiResponse, Object};
use serde_json::{Value, json};

use crate::engine::EngineError;
use crate::instance::InstanceError;
use crate::instance::registry::RegistryError;
use crate::store::StoreError;

/// An error answered to a client.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// Missing or wrong `apikey`.
    #[error("Unauthorized")]
    Unauthorized,
    /// Unknown instance in the path (checked before auth, as Evolution does).
    #[error("The \"{0}\" instance does not exist")]
    InstanceNotFound(String),
    /// Create with a name that exists.
    #[error("This name \"{0}\" is already in use.")]
    NameTaken(String),
    /// A business rule refused the request.
    #[error("{0}")]
    BadRequest(String),
    /// The body does not match the schema.
    #[error("{0}")]
    Validation(String),
    /// The target number has no WhatsApp account.
    #[error("{jid} is not on WhatsApp")]
    NotOnWhatsApp { jid: String, number: String },
    #[error("{0}")]
    NotFound(String),
    /// The caller's role (in a group, say) does not allow it.
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Unavailable(String),
    /// The body passed its operation's limit (read as it arrived, whatever the headers said).
    #[error("request body is larger than {0} bytes")]
    PayloadTooLarge(usize),
    /// The body stalled or took longer than `ZAPGATE_BODY_READ_TIMEOUT_SECS`.
    #[error("the request body did not arrive in time")]
    RequestTimeout,
    /// The key's request rate is used up; `retry_after` in seconds.
    #[error("Too many requests, retry in {retry_after} s")]
    TooManyRequests { retry_after: u64 },
    /// The data dir is below its free-space floor: the write was refused before it started.
    #[error("{0}")]
    InsufficientStorage(String),
    /// A per-key cap was reached (open event streams); no point retrying at once.
    #[error("{0}")]
    LimitReached(String),
    /// Our fault. The message is safe to show (no secrets, no payloads).
    #[error("{0}")]
    Internal(String),
}

impl ApiError {
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::Unauthorized => StatusCode::UNAUTHORIZED,
            ApiError::InstanceNotFound(_) | ApiError::NotFound(_) => StatusCode::NOT_FOUND,
            ApiError::NameTaken(_) | ApiError::Forbidden(_) => StatusCode::FORBIDDEN,
            ApiError::BadRequest(_) | ApiError::Validation(_) | ApiError::NotOnWhatsApp { .. } => {
                StatusCode::BAD_REQUEST
            }
            ApiError::Unavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            ApiError::PayloadTooLarge(_) => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::RequestTimeout => StatusCode::REQUEST_TIMEOUT,
            ApiError::TooManyRequests { .. } => StatusCode::TOO_MANY_REQUESTS,
            ApiError::InsufficientStorage(_) => StatusCode::INSUFFICIENT_STORAGE,
            ApiError::LimitReached(_) => StatusCode::TOO_MANY_REQUESTS,
            ApiError::Internal(_) => StatusCode::INTERNAL_SERVER_ERROR,
        }
    }

    /// The `response.message` value.
    pub(crate) fn message(&self) -> Value {
        match self {
            ApiError::Unauthorized => json!("Unauthorized"),
            ApiError::Validation(m) => json!([[m]]),
            ApiError::NotOnWhatsApp { jid, number } => {
                json!([{"jid": jid, "exists": false, "number": number}])
            }
            other => json!([other.to_string()]),
        }
    }
}

/// Builds the envelope for any status and message value.
pub fn envelope(status: StatusCode, message: Value) -> Value {
    json!({
        "status": status.as_u16(),
        "error": status.canonical_reason().unwrap_or("Error"),
        "response": {"message": message},
    })
}

pub(crate) fn json_response(status: StatusCode, body: &Value) -> Response {
    Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(Body::from(body.to_string()))
}

impl poem::error::ResponseError for ApiError {
    fn status(&self) -> StatusCode {
        ApiError::status(self)
    }

    fn as_response(&self) -> Response {
        let mut resp = json_response(self.status(), &envelope(self.status(), self.message()));
        add_retry_after(&mut resp, self);
        resp
    }
}

/// A 429 says when to come back (`Retry-After`), in whichever dialect's body it is rendered.
pub(crate) fn add_retry_after(resp: &mut Response, e: &ApiError) {
    if let ApiError::TooManyRequests { retry_after } = e {
        resp.headers_mut().insert(
            poem::http::header::RETRY_AFTER,
            poem::http::HeaderValue::from(*retry_after),
        );
    }
}

/// The documented shape of every error body.
#[derive(Object)]
pub struct ErrorEnvelope {
    pub status: u16,
    pub error: String,
    pub response: ErrorMessage,
}

#[derive(Object)]
pub struct ErrorMessage {
    /// A string (401), an array of strings, a nested array (validation) or an array of
    /// `{jid, exists, number}` objects (number not on WhatsApp).
    pub message: Value,
}

/// Exists only to describe [`ApiError`]'s responses in the OpenAPI document.
#[allow(dead_code)] // never built: its variants only describe error bodies in the spec
#[derive(ApiResponse)]
enum ErrorDoc {
    /// Bad input, a number not on WhatsApp, or an instance that is not connected.
    #[oai(status = 400)]
    BadRequest(Json<ErrorEnvelope>),
    /// Missing or wrong `apikey`.
    #[oai(status = 401)]
    Unauthorized(Json<ErrorEnvelope>),
    /// Name already in use or the instance limit reached (create), or not allowed by the
    /// caller's role in a group.
    #[oai(status = 403)]
    Forbidden(Json<ErrorEnvelope>),
    /// Unknown instance (or group).
    #[oai(status = 404)]
    NotFound(Json<ErrorEnvelope>),
    /// The request body did not arrive in time.
    #[oai(status = 408)]
    RequestTimeout(Json<ErrorEnvelope>),
    /// The request body is larger than the operation's limit.
    #[oai(status = 413)]
    PayloadTooLarge(Json<ErrorEnvelope>),
    /// The body's `Content-Type` is missing or not one the operation takes.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<ErrorEnvelope>),
    /// The key's request rate is used up; `Retry-After` says when to come back.
    #[oai(status = 429)]
    TooManyRequests(Json<ErrorEnvelope>),
    /// Unexpected server error.
    #[oai(status = 500)]
    Internal(Json<ErrorEnvelope>),
    /// Busy (too many request bodies in flight, a full queue) or shutting down; retry later.
    #[oai(status = 503)]
    Unavailable(Json<ErrorEnvelope>),
    /// The server's storage is below its free-space floor (`ZAPGATE_MIN_FREE_MB`,
    /// `ZAPGATE_MAX_DATA_MB`): nothing was written or sent; retry once space is freed.
    #[oai(status = 507)]
    InsufficientStorage(Json<ErrorEnvelope>),
}

impl ApiResponse for ApiError {
    fn meta() -> MetaResponses {
        ErrorDoc::meta()
    }

    fn register(registry: &mut Registry) {
        ErrorDoc::register(registry);
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        if let StoreError::NoSpace(_) = e {
            // The operator's reason (sizes, settings) stays in the log and `/health`.
            return ApiError::InsufficientStorage(
                "the server is low on storage; nothing was written, retry later".into(),
            );
        }
        tracing::error!(error = %e, "storage failure");
        ApiError::Internal("storage failure".into())
    }
}

impl From<EngineError> for ApiError {
    fn from(e: EngineError) -> Self {
        match e {
            EngineError::NotOnWhatsApp { jid, number } => ApiError::NotOnWhatsApp { jid, number },
            EngineError::NotConnected => {
                ApiError::BadRequest("The instance is not connected".into())
            }
            EngineError::Unavailable(m) | EngineError::Rejected(m) => ApiError::BadRequest(m),
            EngineError::Busy => {
                ApiError::Unavailable("recipient queue is full, retry later".into())
            }
            EngineError::NotFound(m) => ApiError::NotFound(m),
            EngineError::Forbidden(m) => ApiError::Forbidden(m),
            EngineError::Invalid(m) => ApiError::BadRequest(m),
            EngineError::Store(s) => s.into(),
        }
    }
}

impl From<InstanceError> for ApiError {
    fn from(e: InstanceError) -> Self {
        match e {
            InstanceError::NotConnected(name) => {
                ApiError::BadRequest(format!("The \"{name}\" instance is not connected"))
            }
            InstanceError::Engine(e) => e.into(),
            InstanceError::Store(e) => e.into(),
            InstanceError::Gone => ApiError::Unavailable("the instance is shutting down".into()),
        }
    }
}

impl From<RegistryError> for ApiError {
    fn from(e: RegistryError) -> Self {
        match e {
            RegistryError::NameTaken(n) => ApiError::NameTaken(n),
            RegistryError::TokenTaken => ApiError::BadRequest(e.to_string()),
            RegistryError::Full(_) => ApiError::Forbidden(e.to_string()),
            RegistryError::Store(e) => e.into(),
            RegistryError::Instance(e) => e.into(),
        }
    }
}

/// Wraps the whole app: every error that is not already an [`ApiError`] (unknown route, wrong
/// method, unparsable JSON, body too large) leaves in Evolution's envelope too, except on the
/// sessions dialect's routes, where every error leaves as `{success:false, message}`.
pub async fn envelope_errors<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let path = req.uri().path().to_string();
    let sessions = is_sessions_path(&path);
    let resp = evolution_errors(next, req).await?;
    if sessions && (resp.status().is_client_error() || resp.status().is_server_error()) {
        return Ok(to_sessions_dialect(resp).await);
    }
    Ok(resp)
}

async fn evolution_errors<E: Endpoint>(next: E, req: Request) -> poem::Result<Response> {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    match next.call(req).await {
        Ok(resp) => Ok(resp.into_response()),
        Err(err) if err.is::<ApiError>() || err.is::<super::sessions_error::SessionsError>() => {
            Ok(err.into_response())
        }
        Err(err) => {
            let status = err.status();
            let message = match status {
                StatusCode::NOT_FOUND => json!([format!("Cannot {method} {path}")]),
                StatusCode::BAD_REQUEST => json!([[err.to_string()]]),
                StatusCode::UNAUTHORIZED => json!("Unauthorized"),
                StatusCode::INTERNAL_SERVER_ERROR => {
                    tracing::error!(error = %err, %path, "unhandled error");
                    json!(["internal error"])
                }
                _ => json!([err.to_string()]),
            };
            let mut resp = json_response(status, &envelope(status, message));
            if status == StatusCode::PAYLOAD_TOO_LARGE {
                // The rest of the body was never read: the connection cannot carry another
                // request, so tell the client not to reuse it (a pooled client would otherwise
                // send its next request into a closing socket).
                resp.headers_mut().insert(
                    poem::http::header::CONNECTION,
                    poem::http::HeaderValue::from_static("close"),
                );
            }
            Ok(resp)
        }
    }
}

/// The routes of the sessions dialect (`/sessions*`, `/status`).
pub fn is_sessions_path(path: &str) -> bool {
    path == "/status" || path == "/sessions" || path.starts_with("/sessions/")
}

/// The sessions dialect's failure body for an Evolution `response.message` value: the same
/// words, as one string.
pub fn sessions_failure(message: &Value) -> Value {
    fn text(v: &Value) -> String {
        match v {
            Value::String(s) => s.clone(),
            Value::Array(items) => items
                .iter()
                .map(text)
                .filter(|t| !t.is_empty())
                .collect::<Vec<_>>()
                .join("; "),
            Value::Null => String::new(),
            other => other.to_string(),
        }
    }
    json!({"success": false, "message": text(message)})
}

/// Rewrites an error answered in Evolution's envelope (by the edge, poem or a handler) into the
/// sessions dialect's body; status and headers stay.
async fn to_sessions_dialect(resp: Response) -> Response {
    let (parts, body) = resp.into_parts();
    let bytes = body.into_vec().await.unwrap_or_default();
    let rewritten = serde_json::from_slice::<Value>(&bytes)
        .ok()
        .and_then(|v| v.get("response")?.get("message").map(sessions_failure));
    match rewritten {
        Some(v) => Response::from_parts(parts, Body::from(v.to_string())),
        None => Response::from_parts(parts, Body::from(bytes)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_sessions_dialect_says_the_same_in_one_string() {
        assert_eq!(
            sessions_failure(&json!([["bad", "worse"]])),
            json!({"success": false, "message": "bad; worse"})
        );
        assert_eq!(
            sessions_failure(&json!("Unauthorized")),
            json!({"success": false, "message": "Unauthorized"})
        );
        assert!(is_sessions_path("/sessions/a/qr") && is_sessions_path("/status"));
        assert!(!is_sessions_path("/sessionsx") && !is_sessions_path("/instance/create"));
    }

    #[test]
    fn message_shapes_follow_evolution() {
        assert_eq!(ApiError::Unauthorized.message(), json!("Unauthorized"));
        assert_eq!(
            ApiError::InstanceNotFound("x".into()).message(),
            json!(["The \"x\" instance does not exist"])
        );
        assert_eq!(
            ApiError::Validation("bad".into()).message(),
            json!([["bad"]])
        );
        let full = ApiError::from(StoreError::NoSpace("x".into()));
        assert_eq!(full.status().as_u16(), 507);
        assert_eq!(
            envelope(full.status(), full.message())["error"],
            "Insufficient Storage"
        );
        assert_eq!(
            envelope(StatusCode::NOT_FOUND, json!(["m"])),
            json!({"status": 404, "error": "Not Found", "response": {"message": ["m"]}})
        );
    }
}
