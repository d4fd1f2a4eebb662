//! Which instance a token-scoped request acts on. Obtaining a [`TokenInstance`] is the check:
//! a handler that takes one cannot run for a caller without a valid token.
//!
//! The instance comes from its token in `X-Instance-Token` (or `?token=`, for clients that
//! cannot set headers): missing is 401 "required", unknown is 401 "invalid". A token selects
//! only its own instance, so a route can never see another instance's data. For GOWA clients,
//! the global key (`apikey`) with an `X-Device-Id` header naming the instance selects it too.
//! The edge (`api::gate`) runs the same [`resolve`] before reading a body.

use poem::Request;
use poem_openapi::registry::{MetaSecurityScheme, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};

use super::error::{GowaError, TOKEN_HEADER};
use crate::api::auth::{ApiKey, key_of, percent_decode};
use crate::instance::InstanceHandle;
use crate::state::AppState;
use std::sync::Arc;

/// GOWA's header naming a device; honoured only with the global key.
pub const DEVICE_HEADER: &str = "X-Device-Id";

/// The security scheme's name in the OpenAPI document (the edge looks for it).
pub const SCHEME: &str = "instanceToken";

/// How a request selected its instance.
pub enum Selected {
    /// By the instance's own token.
    Token(InstanceHandle),
    /// By `X-Device-Id` with the global key.
    Global(InstanceHandle),
}

/// The instance a request names, or why it names none.
pub fn resolve(state: &AppState, req: &Request) -> Result<Selected, GowaError> {
    if let Some(device) = header(req, DEVICE_HEADER)
        && state.is_global(&ApiKey(key_of(req)))
    {
        let device = percent_decode(device.trim());
        return state
            .registry
            .get(&device)
            .or_else(|| {
                state
                    .registry
                    .all()
                    .into_iter()
                    .find(|h| h.id().to_string() == device)
            })
            .map(Selected::Global)
            .ok_or(GowaError::DeviceNotFound(device));
    }
    let token = header(req, TOKEN_HEADER)
        .map(str::to_string)
        .or_else(|| query_token(req))
        .filter(|t| !t.is_empty())
        .ok_or(GowaError::TokenRequired)?;
    state
        .instance_by_token(&token)
        .map(Selected::Token)
        .ok_or(GowaError::TokenInvalid)
}

fn header<'r>(req: &'r Request, name: &str) -> Option<&'r str> {
    req.headers().get(name).and_then(|v| v.to_str().ok())
}

fn query_token(req: &Request) -> Option<String> {
    req.uri().query().and_then(|q| {
        q.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == "token").then(|| percent_decode(v))
        })
    })
}

/// The instance a request acts on; extracting it is the authorization.
pub struct TokenInstance(pub InstanceHandle);

impl<'a> ApiExtractor<'a> for TokenInstance {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            SCHEME,
            MetaSecurityScheme {
                ty: "apiKey",
                description: Some(
                    "An instance token (the `token` from POST /instances, or the Evolution \
                     `hash`). `?token=` works too. GOWA clients may instead send the global key \
                     in `apikey` with `X-Device-Id` naming the instance.",
                ),
                name: Some(TOKEN_HEADER),
                key_in: Some("header"),
                scheme: None,
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec![SCHEME]
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut poem::RequestBody,
        _opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        let state = req.data::<Arc<AppState>>().ok_or_else(|| GowaError::Http {
            status: poem::http::StatusCode::INTERNAL_SERVER_ERROR,
            message: "server state missing".into(),
        })?;
        match resolve(state, req)? {
            Selected::Token(h) | Selected::Global(h) => Ok(TokenInstance(h)),
        }
    }
}

impl TokenInstance {
    /// The instance, once its session is open (GOWA's 401 "you are not logged in" otherwise).
    pub fn open(self) -> Result<InstanceHandle, GowaError> {
        self.0.session()?;
        Ok(self.0)
    }
}
