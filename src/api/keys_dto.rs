//! Bodies and answers of `/keys`.

use poem_openapi::{Enum, Object};

use crate::api::required::Optional;
use crate::store::keys::{KeyRecord, KeyScope};

/// What a key reaches.
#[derive(Enum, Clone, Copy, Debug, PartialEq, Eq)]
#[oai(rename_all = "lowercase")]
pub enum ScopeKind {
    /// The instances this key creates (and only those).
    Tenant,
    /// The instances named in `instances`, whoever created them.
    Instances,
}

/// `POST /keys`. Without `instances`, a tenant key (it reaches the instances it creates);
/// with them, a key for those instances (it creates none).
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct CreateKeyBody {
    /// A name for people (shown in `GET /keys`).
    #[oai(validator(max_length = 200))]
    pub label: Optional<String>,
    /// The instance names this key reaches, whoever created them.
    #[oai(validator(min_items = 1, max_items = 1000))]
    pub instances: Optional<Vec<String>>,
    /// Reads only: every operation that changes something answers 403.
    pub read_only: Optional<bool>,
}

/// A key as listed (never its secret).
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct KeyDto {
    pub id: String,
    pub label: String,
    pub created_at: String,
    pub scope: ScopeKind,
    /// With `scope: instances`: the instance names.
    pub instances: Option<Vec<String>>,
    pub read_only: bool,
}

/// `POST /keys`'s answer: the key, and its secret, shown this once.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct CreatedKey {
    #[oai(flatten)]
    pub key: KeyDto,
    /// Send it as the `apikey` header. Stored only as a hash: it cannot be shown again.
    pub secret: String,
}

impl From<&KeyRecord> for KeyDto {
    fn from(k: &KeyRecord) -> Self {
        let (scope, instances) = match &k.scope {
            KeyScope::Tenant => (ScopeKind::Tenant, None),
            KeyScope::Instances { names } => (ScopeKind::Instances, Some(names.clone())),
        };
        KeyDto {
            id: k.id.to_string(),
            label: k.label.clone(),
            created_at: k.created_at.to_rfc3339(),
            scope,
            instances,
            read_only: k.read_only,
        }
    }
}
