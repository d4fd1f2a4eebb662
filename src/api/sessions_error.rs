//! The sessions dialect's errors (`/sessions*`, `/status`): the statuses of [`ApiError`], the
//! body `{success:false, message}`. The words come from the one mapping in `error.rs`
//! ([`sessions_failure`]); this file only gives them the dialect's type and document.

use poem::Response;
use poem::http::StatusCode;
use poem_openapi::payload::Json;
use poem_openapi::registry::{MetaResponses, Registry};
use poem_openapi::{ApiResponse, Object};

use super::error::{ApiError, json_response, sessions_failure};
use crate::instance::InstanceError;
use crate::instance::registry::RegistryError;

/// The body of a failed `/sessions` call.
#[derive(Object)]
pub struct SessionsFailure {
    /// Always false.
    pub success: bool,
    pub message: String,
}

/// An [`ApiError`] answered on the sessions routes: the same statuses, the dialect's body.
#[derive(Debug, thiserror::Error)]
#[error(transparent)]
pub struct SessionsError(#[from] pub ApiError);

impl poem::error::ResponseError for SessionsError {
    fn status(&self) -> StatusCode {
        self.0.status()
    }

    fn as_response(&self) -> Response {
        let mut resp = json_response(self.0.status(), &sessions_failure(&self.0.message()));
        super::error::add_retry_after(&mut resp, &self.0);
        resp
    }
}

/// Exists only to describe [`SessionsError`]'s responses in the OpenAPI document.
#[allow(dead_code)] // never built: its variants only describe error bodies in the spec
#[derive(ApiResponse)]
enum SessionsErrorDoc {
    /// Bad input, or an instance that is not connected.
    #[oai(status = 400)]
    BadRequest(Json<SessionsFailure>),
    /// Missing or wrong `apikey` (the global key).
    #[oai(status = 401)]
    Unauthorized(Json<SessionsFailure>),
    /// Name already in use, or the instance limit (`ZAPGATE_MAX_SESSIONS`) reached.
    #[oai(status = 403)]
    Forbidden(Json<SessionsFailure>),
    /// Unknown session.
    #[oai(status = 404)]
    NotFound(Json<SessionsFailure>),
    /// The request body did not arrive in time.
    #[oai(status = 408)]
    RequestTimeout(Json<SessionsFailure>),
    /// The request body is larger than the operation's limit.
    #[oai(status = 413)]
    PayloadTooLarge(Json<SessionsFailure>),
    /// The body's `Content-Type` is not JSON.
    #[oai(status = 415)]
    UnsupportedMediaType(Json<SessionsFailure>),
    /// The key's request rate is used up; `Retry-After` says when to come back.
    #[oai(status = 429)]
    TooManyRequests(Json<SessionsFailure>),
    /// Unexpected server error.
    #[oai(status = 500)]
    Internal(Json<SessionsFailure>),
    /// Busy or shutting down; retry later.
    #[oai(status = 503)]
    Unavailable(Json<SessionsFailure>),
    /// The server's storage is below its free-space floor.
    #[oai(status = 507)]
    InsufficientStorage(Json<SessionsFailure>),
}

impl ApiResponse for SessionsError {
    fn meta() -> MetaResponses {
        SessionsErrorDoc::meta()
    }

    fn register(registry: &mut Registry) {
        SessionsErrorDoc::register(registry);
    }
}

impl From<RegistryError> for SessionsError {
    fn from(e: RegistryError) -> Self {
        SessionsError(e.into())
    }
}

impl From<InstanceError> for SessionsError {
    fn from(e: InstanceError) -> Self {
        SessionsError(e.into())
    }
}
