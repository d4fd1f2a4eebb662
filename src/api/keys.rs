//! `/keys`: scoped API keys, created, listed and revoked with the global key only. A key is
//! stored as a hash ([`crate::store::keys`]); its secret is in the create answer and nowhere
//! else. What a key may do is enforced in `auth.rs` (which instances) and `gate.rs` (read-only).

use std::sync::Arc;

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi, Tags};
use uuid::Uuid;

use super::auth::ApiKey;
use super::error::ApiError;
use super::keys_dto::*;
use crate::state::AppState;
use crate::store::keys::{KeyScope, NewKey};

#[derive(Tags)]
enum Tag {
    /// Scoped API keys (global key): tenants, named instances, read-only.
    Keys,
}

pub struct KeysApi {
    pub state: Arc<AppState>,
}

#[derive(ApiResponse)]
enum CreateKeyResponse {
    /// Created; the secret is shown this once.
    #[oai(status = 201)]
    Created(Json<CreatedKey>),
}

#[derive(ApiResponse)]
enum RevokeResponse {
    /// Revoked: refused from the next request on.
    #[oai(status = 204)]
    Revoked,
}

#[OpenApi(tag = "Tag::Keys")]
impl KeysApi {
    /// Create a scoped key (global key).
    #[oai(path = "/keys", method = "post", operation_id = "create_key")]
    async fn create(
        &self,
        key: ApiKey,
        body: Json<CreateKeyBody>,
    ) -> Result<CreateKeyResponse, ApiError> {
        self.state.require_global(&key)?;
        let b = body.0;
        let scope = match b.instances.0 {
            None => KeyScope::Tenant,
            Some(names) => KeyScope::Instances { names },
        };
        let (rec, secret) = self
            .state
            .keys
            .create(NewKey {
                label: b.label.0.unwrap_or_default(),
                scope,
                read_only: b.read_only.0.unwrap_or(false),
                // Chat-scoped keys are stored by the model but not offered: their routes'
                // target chats are not checked yet (see the README).
                chats: None,
            })
            .await?;
        Ok(CreateKeyResponse::Created(Json(CreatedKey {
            key: KeyDto::from(&rec),
            secret,
        })))
    }

    /// Every scoped key (global key), without secrets.
    #[oai(path = "/keys", method = "get", operation_id = "list_keys")]
    async fn list(&self, key: ApiKey) -> Result<Json<Vec<KeyDto>>, ApiError> {
        self.state.require_global(&key)?;
        Ok(Json(
            self.state.keys.all().iter().map(KeyDto::from).collect(),
        ))
    }

    /// Revoke a scoped key (global key): refused from the next request on, its open event
    /// streams end. Instances it created stay (the global key still reaches them).
    #[oai(path = "/keys/:id", method = "delete", operation_id = "revoke_key")]
    async fn revoke(
        &self,
        key: ApiKey,
        #[oai(validator(max_length = 64))] id: Path<String>,
    ) -> Result<RevokeResponse, ApiError> {
        self.state.require_global(&key)?;
        let uuid = Uuid::parse_str(&id.0)
            .map_err(|_| ApiError::NotFound(format!("Key \"{}\" not found", id.0)))?;
        if self.state.keys.revoke(uuid).await? {
            Ok(RevokeResponse::Revoked)
        } else {
            Err(ApiError::NotFound(format!("Key \"{}\" not found", id.0)))
        }
    }
}
