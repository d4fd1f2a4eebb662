//! The `instances` tree: instance id (16 bytes, uuid) -> [`InstanceRecord`]. Everything needed to
//! bring an instance back after a restart lives in its record: name, token, settings, webhook
//! config, and whether it was paired.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, StoreError, decode, encode};
use crate::instance::{ConnectionState, Integration, Settings, WebhookConfig};

/// The persisted form of an instance.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InstanceRecord {
    pub id: Uuid,
    pub name: String,
    /// Instance API key. Only ever compared in constant time and never logged.
    pub token: String,
    pub integration: Integration,
    /// Phone number given at creation (pairing-code target).
    pub number: Option<String>,
    pub business_id: Option<String>,
    pub settings: Settings,
    pub webhook: Option<WebhookConfig>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Own JID once paired (`5511...@s.whatsapp.net`).
    pub owner_jid: Option<String>,
    pub profile_name: Option<String>,
    pub profile_pic_url: Option<String>,
    /// Last durable connection status (`open`, `close`, `connecting`), what fetchInstances shows
    /// when the live state is not more precise.
    pub connection_status: ConnectionState,
    /// True once a pairing succeeded and until a logout: such instances reconnect at start-up.
    pub paired: bool,
    pub disconnection_reason_code: Option<u16>,
    pub disconnection_at: Option<DateTime<Utc>>,
    /// The last time the instance was in use: when it last opened or left `open` (messages
    /// only flow while open). The session expiry reads it after a restart.
    #[serde(default)]
    pub last_active_at: Option<DateTime<Utc>>,
    /// The scoped key that created the instance (a tenant's); `None` = the global key's. Records
    /// written before tenants existed load as the global key's.
    #[serde(default)]
    pub owner: Option<Uuid>,
}

impl InstanceRecord {
    /// A new, never-connected instance: default settings, no webhook, no account yet.
    pub fn fresh(name: String, token: String, integration: Integration) -> InstanceRecord {
        let now = Utc::now();
        InstanceRecord {
            id: Uuid::now_v7(),
            name,
            token,
            integration,
            number: None,
            business_id: None,
            settings: Settings::default(),
            webhook: None,
            created_at: now,
            updated_at: now,
            owner_jid: None,
            profile_name: None,
            profile_pic_url: None,
            connection_status: ConnectionState::Close,
            paired: false,
            disconnection_reason_code: None,
            disconnection_at: None,
            last_active_at: None,
            owner: None,
        }
    }
}

/// Typed access to the `instances` tree.
#[derive(Clone)]
pub struct InstanceRepo {
    store: Store,
    tree: sled::Tree,
}

impl InstanceRepo {
    pub fn new(store: &Store) -> Result<Self, StoreError> {
        Ok(InstanceRepo {
            store: store.clone(),
            tree: store.tree("instances")?,
        })
    }

    /// Writes the record; durable only after a following [`Store::sync`].
    pub fn put(&self, rec: &InstanceRecord) -> Result<(), StoreError> {
        self.tree.insert(rec.id.as_bytes(), encode(rec)?)?;
        Ok(())
    }

    /// Writes the record and waits until it is on disk. Refused while storage is low (this is
    /// how a new instance starts).
    pub async fn put_durable(&self, rec: &InstanceRecord) -> Result<(), StoreError> {
        self.store.writable()?;
        self.put(rec)?;
        self.store.sync().await
    }

    pub fn remove(&self, id: Uuid) -> Result<(), StoreError> {
        self.tree.remove(id.as_bytes())?;
        Ok(())
    }

    /// Every stored record. A record that fails to decode is skipped and reported, so one bad
    /// row cannot keep the server from starting.
    pub fn all(&self) -> Result<Vec<InstanceRecord>, StoreError> {
        let mut out = Vec::new();
        for item in self.tree.iter() {
            let (key, value) = item?;
            match decode::<InstanceRecord>(&value) {
                Ok(rec) => out.push(rec),
                Err(e) => {
                    tracing::error!(key = ?key, error = %e, "skipping unreadable instance record")
                }
            }
        }
        out.sort_by_key(|r| r.created_at);
        Ok(out)
    }
}
