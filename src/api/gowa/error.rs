//! The token-scoped dialect's envelope, `{code, message, results}`, and the one mapping from
//! every error its routes can meet into it (GOWA's codes, with the HTTP status beside them).
//!
//! Errors of the layers below reach here through the Evolution mapping ([`ApiError`]), which
//! already decides what is the client's fault; this file only renames the outcome in GOWA's
//! words. Nothing here decides a status by itself except the token checks.

use poem::http::StatusCode;
use poem::{Body, Response};
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaResponses, Registry};
use poem_openapi::{ApiResponse, Object};
use serde_json::{Value, json};

use crate::api::error::ApiError;
use crate::engine::EngineError;
use crate::instance::InstanceError;
use crate::instance::registry::RegistryError;

/// The header that carries an instance token.
pub const TOKEN_HEADER: &str = "X-Instance-Token";

/// Every answer of the token-scoped routes, success or not.
#[derive(Object, Debug)]
#[oai(rename = "GowaEnvelope")]
pub struct Envelope {
    /// `SUCCESS`, or an error code such as `VALIDATION_ERROR` or `AUTHENTICATION_ERROR`.
    pub code: String,
    pub message: String,
    /// What the route returns; left out when it returns nothing (and on errors).
    #[oai(skip_serializing_if_is_none)]
    pub results: Option<Value>,
}

/// A success: HTTP 200 with `code: "SUCCESS"`, as GOWA answers every success.
pub fn success(message: impl Into<String>, results: Option<Value>) -> Json<Envelope> {
    Json(Envelope {
        code: "SUCCESS".into(),
        message: message.into(),
        results,
    })
}

/// What the token-scoped routes answer when something goes wrong.
#[derive(Debug, thiserror::Error)]
pub enum GowaError {
    /// No `X-Instance-Token` header (nor `?token=`).
    #[error("the X-Instance-Token header (or ?token=) is required")]
    TokenRequired,
    /// A token that belongs to no instance.
    #[error("the instance token is invalid")]
    TokenInvalid,
    /// `X-Device-Id` with the global key named no instance.
    #[error("device {0} not found")]
    DeviceNotFound(String),
    /// Bad input.
    #[error("{0}")]
    Validation(String),
    /// Login on an instance that is already logged in.
    #[error("you are already logged in.")]
    AlreadyLoggedIn,
    /// The instance has no open session.
    #[error("you are not logged in")]
    NotLoggedIn,
    /// The session did not produce a QR code (or pairing code) in time.
    #[error("{0}")]
    QrUnavailable(String),
    /// Everything else, decided by the Evolution mapping of the lower layers.
    #[error(transparent)]
    Api(#[from] ApiError),
    /// An error poem produced before a handler ran (unparsable body, wrong content type).
    #[error("{message}")]
    Http { status: StatusCode, message: String },
}

impl GowaError {
    pub fn status(&self) -> StatusCode {
        match self {
            GowaError::TokenRequired | GowaError::TokenInvalid | GowaError::NotLoggedIn => {
                StatusCode::UNAUTHORIZED
            }
            GowaError::DeviceNotFound(_) => StatusCode::NOT_FOUND,
            GowaError::Validation(_) | GowaError::AlreadyLoggedIn => StatusCode::BAD_REQUEST,
            GowaError::QrUnavailable(_) => StatusCode::SERVICE_UNAVAILABLE,
            GowaError::Api(e) => e.status(),
            GowaError::Http { status, .. } => *status,
        }
    }

    /// GOWA's `code` for this error.
    pub fn code(&self) -> &'static str {
        match self {
            GowaError::TokenRequired | GowaError::TokenInvalid | GowaError::NotLoggedIn => {
                "AUTHENTICATION_ERROR"
            }
            GowaError::DeviceNotFound(_) => "DEVICE_NOT_FOUND",
            GowaError::Validation(_) => "VALIDATION_ERROR",
            GowaError::AlreadyLoggedIn => "ALREADY_LOGGED_IN",
            GowaError::QrUnavailable(_) => "QR_CHANNEL_ERROR",
            GowaError::Api(ApiError::Validation(_)) => "VALIDATION_ERROR",
            GowaError::Api(ApiError::NotOnWhatsApp { .. }) => "INVALID_JID",
            GowaError::Api(_) | GowaError::Http { .. } => code_of_status(self.status()),
        }
    }

    /// `results` of the error body: only a missing device names what was asked for.
    fn results(&self) -> Option<Value> {
        match self {
            GowaError::DeviceNotFound(id) => Some(json!({ "device_id": id })),
            _ => None,
        }
    }

    /// A poem error met on a token-scoped route, in this dialect's words.
    pub fn from_poem(err: poem::Error) -> GowaError {
        let err = match err.downcast::<GowaError>() {
            Ok(e) => return e,
            Err(err) => err,
        };
        match err.downcast::<ApiError>() {
            Ok(e) => GowaError::Api(e),
            Err(err) => {
                let status = err.status();
                if status == StatusCode::BAD_REQUEST {
                    GowaError::Validation(err.to_string())
                } else {
                    GowaError::Http {
                        status,
                        message: err.to_string(),
                    }
                }
            }
        }
    }
}

/// The code for an outcome named only by its status.
fn code_of_status(status: StatusCode) -> &'static str {
    match status.as_u16() {
        400 => "BAD_REQUEST",
        401 => "AUTHENTICATION_ERROR",
        403 => "FORBIDDEN",
        404 => "NOT_FOUND",
        405 => "METHOD_NOT_ALLOWED",
        408 => "CONTEXT_ERROR",
        413 => "PAYLOAD_TOO_LARGE",
        415 => "UNSUPPORTED_MEDIA_TYPE",
        429 => "TOO_MANY_REQUESTS",
        503 => "SERVICE_UNAVAILABLE",
        507 => "INSUFFICIENT_STORAGE",
        _ => "INTERNAL_SERVER_ERROR",
    }
}

impl poem::error::ResponseError for GowaError {
    fn status(&self) -> StatusCode {
        GowaError::status(self)
    }

    fn as_response(&self) -> Response {
        let mut body = json!({"code": self.code(), "message": self.to_string()});
        if let Some(r) = self.results() {
            body["results"] = r;
        }
        let mut resp = Response::builder()
            .status(self.status())
            .content_type("application/json; charset=utf-8")
            .body(Body::from(body.to_string()));
        if let GowaError::Api(e) = self {
            crate::api::error::add_retry_after(&mut resp, e);
        }
        resp
    }
}

/// Exists only to describe [`GowaError`]'s responses in the OpenAPI document.
#[allow(dead_code)] // never built: its variants only describe error bodies in the spec
#[derive(ApiResponse)]
enum GowaErrorDoc {
    /// Bad input (`VALIDATION_ERROR`, `BAD_REQUEST`, `INVALID_JID`) or already logged in.
    #[oai(status = 400)]
    BadRequest(Json<Envelope>),
    /// The instance token is missing or invalid, the global key is missing where it is
    /// required, or the instance is not logged in (`AUTHENTICATION_ERROR`).
    #[oai(status = 401)]
    Unauthorized(Json<Envelope>),
    /// Not allowed by the caller's role (in a group, say).
    #[oai(status = 403)]
    Forbidden(Json<Envelope>),
    /// Unknown instance, device, message or group.
    #[oai(status = 404)]
    NotFound(Json<Envelope>),
    /// The request body did not arrive in time.
    #[oai(status = 408)]
    RequestTimeout(Json<Envelope>),
    /// The request body is larger than the operation's limit.
    #[oai(status = 413)]
    PayloadTooLarge(Json<Envelope>),
    /// The body's `Content-Type` is missing or not JSON.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<Envelope>),
    /// The token's request rate is used up; `Retry-After` says when to come back.
    #[oai(status = 429)]
    TooManyRequests(Json<Envelope>),
    /// Unexpected server error.
    #[oai(status = 500)]
    Internal(Json<Envelope>),
    /// Busy, shutting down, or no QR code came in time; retry later.
    #[oai(status = 503)]
    Unavailable(Json<Envelope>),
    /// The server's storage is below its free-space floor; nothing was written or sent.
    #[oai(status = 507)]
    InsufficientStorage(Json<Envelope>),
}

impl ApiResponse for GowaError {
    fn meta() -> MetaResponses {
        GowaErrorDoc::meta()
    }

    fn register(registry: &mut Registry) {
        GowaErrorDoc::register(registry);
    }
}

impl From<InstanceError> for GowaError {
    fn from(e: InstanceError) -> Self {
        match e {
            InstanceError::NotConnected(_) | InstanceError::Engine(EngineError::NotConnected) => {
                GowaError::NotLoggedIn
            }
            other => GowaError::Api(other.into()),
        }
    }
}

impl From<EngineError> for GowaError {
    fn from(e: EngineError) -> Self {
        InstanceError::Engine(e).into()
    }
}

impl From<RegistryError> for GowaError {
    fn from(e: RegistryError) -> Self {
        GowaError::Api(e.into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_follow_gowa() {
        assert_eq!(GowaError::TokenRequired.code(), "AUTHENTICATION_ERROR");
        assert_eq!(GowaError::TokenRequired.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            GowaError::Api(ApiError::Validation("x".into())).code(),
            "VALIDATION_ERROR"
        );
        assert_eq!(
            GowaError::Api(ApiError::NotOnWhatsApp {
                jid: "1@s.whatsapp.net".into(),
                number: "1".into()
            })
            .code(),
            "INVALID_JID"
        );
        assert_eq!(
            GowaError::from(InstanceError::NotConnected("a".into())).status(),
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            GowaError::Api(ApiError::TooManyRequests { retry_after: 1 }).code(),
            "TOO_MANY_REQUESTS"
        );
    }
}
