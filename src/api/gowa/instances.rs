//! `/instances`: create, list and delete instances with the global key. The token is shown in
//! full only in the answer to the create; lists mask it.

use std::sync::Arc;

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};
use serde_json::{Value, json};

use super::Tag;
use super::error::{Envelope, GowaError, success};
use crate::api::auth::{ApiKey, Caller};
use crate::api::error::ApiError;
use crate::api::required::{Optional, Required};
use crate::instance::registry::NewInstance;
use crate::instance::{InstanceHandle, Integration, validate_name};
use crate::state::AppState;

pub struct InstancesApi {
    pub state: Arc<AppState>,
}

/// `POST /instances` body.
#[derive(Object, Debug)]
#[oai(rename = "GowaCreateBody")]
pub struct CreateBody {
    /// Up to 100 characters; no control characters, `/`, `\\`, `?` or `#`, no blanks at either
    /// end. It is also the instance's name on the Evolution routes.
    #[oai(validator(
        pattern = r"^[^\s/\\?#\x00-\x1f\x7f-\x9f](?:[^/\\?#\x00-\x1f\x7f-\x9f]*[^\s/\\?#\x00-\x1f\x7f-\x9f])?$",
        max_length = 100
    ))]
    pub name: Required<String>,
    /// `WHATSAPP-BAILEYS` (the real engine, the default) or `LOOPBACK`.
    #[oai(validator(pattern = "^(WHATSAPP-BAILEYS|LOOPBACK)$"))]
    pub integration: Optional<String>,
}

/// An instance as listed: the token masked.
fn row(h: &InstanceHandle, token: String) -> Value {
    let view = h.view();
    json!({
        "id": h.id().to_string(),
        "name": h.name(),
        "token": token,
        "status": view.state.state.as_str(),
        "integration": view.record.integration.as_str(),
        "jid": view.record.owner_jid,
    })
}

/// The first four characters, then stars: enough to tell tokens apart, not to use one.
fn masked(token: &str) -> String {
    let head: String = token.chars().take(4).collect();
    format!("{head}********")
}

fn global(state: &AppState, key: &ApiKey) -> Result<(), GowaError> {
    state.require_global(key).map_err(|_| GowaError::Http {
        status: poem::http::StatusCode::UNAUTHORIZED,
        message: "the global key is required in the apikey header".into(),
    })
}

/// Create and list also take a scoped key (`/keys`).
fn unauthorized() -> GowaError {
    GowaError::Http {
        status: poem::http::StatusCode::UNAUTHORIZED,
        message: "the global key or a scoped key is required in the apikey header".into(),
    }
}

#[OpenApi(tag = "Tag::TokenScoped")]
impl InstancesApi {
    /// Create an instance (global key). The answer is the only place its token is shown in
    /// full.
    #[oai(
        path = "/instances",
        method = "post",
        operation_id = "gowa_create_instance"
    )]
    async fn create(
        &self,
        key: ApiKey,
        body: Json<CreateBody>,
    ) -> Result<Json<Envelope>, GowaError> {
        let owner = self.state.creator(&key).map_err(|e| match e {
            ApiError::Unauthorized => unauthorized(),
            other => GowaError::Api(other),
        })?;
        let b = body.0;
        let name = super::need(b.name, "name")?;
        validate_name(&name).map_err(GowaError::Validation)?;
        let integration = Integration::parse(b.integration.0.as_deref())
            .map_err(|e| GowaError::Validation(e.to_string()))?;
        let h = self
            .state
            .registry
            .create(NewInstance {
                name,
                token: None,
                integration,
                number: None,
                business_id: None,
                settings: Default::default(),
                webhook: None,
                owner,
            })
            .await?;
        let token = h.token().to_string();
        Ok(success("Instance created", Some(row(&h, token))))
    }

    /// Every instance (global key; a scoped key: those it reaches), tokens masked.
    #[oai(
        path = "/instances",
        method = "get",
        operation_id = "gowa_list_instances"
    )]
    async fn list(&self, key: ApiKey) -> Result<Json<Envelope>, GowaError> {
        let caller = match self.state.caller(&key) {
            Ok(Caller::Instance(_)) | Err(_) => return Err(unauthorized()),
            Ok(caller) => caller,
        };
        let rows: Vec<Value> = self
            .state
            .visible(&caller)
            .iter()
            .map(|h| row(h, masked(h.token())))
            .collect();
        Ok(success("Instances", Some(Value::Array(rows))))
    }

    /// Log out, close and delete an instance and everything it stored (global key). `id` is
    /// the instance's id or its name.
    #[oai(
        path = "/instances/:id",
        method = "delete",
        operation_id = "gowa_delete_instance"
    )]
    async fn delete(
        &self,
        key: ApiKey,
        #[oai(validator(max_length = 128))] id: Path<String>,
    ) -> Result<Json<Envelope>, GowaError> {
        global(&self.state, &key)?;
        let h = self
            .state
            .registry
            .all()
            .into_iter()
            .find(|h| h.id().to_string() == id.0 || h.name() == id.0)
            .ok_or_else(|| ApiError::NotFound(format!("instance {} not found", id.0)))?;
        self.state.registry.delete(&h).await?;
        Ok(success("Instance deleted", None))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn tokens_are_masked() {
        assert_eq!(super::masked("ABCDEFGH"), "ABCD********");
        assert_eq!(super::masked("AB"), "AB********");
    }
}
