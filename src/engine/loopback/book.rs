//! The loopback network's profiles and media store: what WhatsApp's servers keep for an account
//! (name, about text, picture, privacy, blocklist) and the media CDN. Both are sled trees so a
//! restart keeps them, like the directory.
//!
//! Message media expires after the configured retention, as WhatsApp's media links do: its key
//! is `/loopback/m/<UUIDv7>`, so the tree holds it in upload order and expired blobs are a
//! prefix, swept from the front at most every tenth of the retention (on upload; no task).
//! Profile pictures live under `/loopback/<UUID>` and stay until replaced.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use uuid::Uuid;

use crate::engine::{EngineError, MediaRef, Privacy};
use crate::store::{Store, StoreError, decode, encode};

/// One account's server-side profile.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(super) struct Card {
    /// The profile name set through the API.
    pub name: Option<String>,
    /// The name the account's instance last went online with, shown when `name` is unset.
    pub default_name: Option<String>,
    pub status: Option<String>,
    /// Direct path of the picture in the media store.
    pub picture: Option<String>,
    pub privacy: Privacy,
    /// Phones this account blocked.
    pub blocked: Vec<String>,
}

const EXPIRING: &str = "/loopback/m/";

pub(super) struct Book {
    cards: sled::Tree,
    media: sled::Tree,
    retention: Duration,
    /// Unix milliseconds before which no sweep runs.
    next_sweep_ms: AtomicU64,
}

impl Book {
    pub fn open(store: &Store, retention: Duration) -> Result<Book, StoreError> {
        Ok(Book {
            cards: store.tree("loopback.profiles")?,
            media: store.tree("loopback.media")?,
            retention,
            next_sweep_ms: AtomicU64::new(0),
        })
    }

    pub fn card(&self, phone: &str) -> Result<Card, EngineError> {
        Ok(match self.cards.get(phone).map_err(StoreError::from)? {
            Some(v) => decode(&v)?,
            None => Card::default(),
        })
    }

    pub fn update(&self, phone: &str, f: impl FnOnce(&mut Card)) -> Result<(), EngineError> {
        let mut card = self.card(phone)?;
        f(&mut card);
        self.cards
            .insert(phone, encode(&card)?)
            .map_err(StoreError::from)?;
        Ok(())
    }

    pub fn forget(&self, phone: &str) {
        if let Ok(card) = self.card(phone)
            && let Some(path) = card.picture
        {
            let _ = self.media.remove(path);
        }
        let _ = self.cards.remove(phone);
    }

    pub fn display_name(&self, phone: &str) -> Option<String> {
        self.card(phone)
            .ok()
            .and_then(|c| c.name.or(c.default_name))
    }

    pub fn has_blocked(&self, phone: &str, other: &str) -> bool {
        self.card(phone)
            .map(|c| c.blocked.iter().any(|b| b == other))
            .unwrap_or(false)
    }

    /// Stores a profile picture (kept until replaced); see [`upload_expiring`](Self::upload_expiring).
    pub fn upload(&self, data: &[u8]) -> Result<MediaRef, EngineError> {
        self.put(format!("/loopback/{}", Uuid::new_v4().simple()), data)
    }

    /// Stores message media, downloadable for the retention period.
    pub fn upload_expiring(&self, data: &[u8]) -> Result<MediaRef, EngineError> {
        self.sweep();
        self.put(format!("{EXPIRING}{}", Uuid::now_v7().simple()), data)
    }

    /// Stores a blob and returns where it lives. Loopback media is not encrypted: the "media
    /// key" is random and the encrypted hash equals the plain one.
    fn put(&self, direct_path: String, data: &[u8]) -> Result<MediaRef, EngineError> {
        let sha: Vec<u8> = Sha256::digest(data).to_vec();
        self.media
            .insert(direct_path.as_bytes(), data)
            .map_err(StoreError::from)?;
        let mut media_key = Uuid::new_v4().as_bytes().to_vec();
        media_key.extend_from_slice(Uuid::new_v4().as_bytes());
        Ok(MediaRef {
            url: format!("loopback://media{direct_path}"),
            direct_path,
            media_key,
            file_enc_sha256: sha.clone(),
            file_sha256: sha,
            media_key_timestamp: i64::try_from(crate::engine::unix_now()).unwrap_or(0),
        })
    }

    pub fn download(&self, blob: &MediaRef) -> Result<Vec<u8>, EngineError> {
        let gone = || EngineError::Rejected("the media is no longer available".into());
        if self.expired(blob.direct_path.as_bytes(), now_ms()) {
            return Err(gone());
        }
        let data = self
            .media
            .get(blob.direct_path.as_bytes())
            .map_err(StoreError::from)?
            .ok_or_else(gone)?;
        if Sha256::digest(&data).as_slice() != blob.file_sha256.as_slice() {
            return Err(EngineError::Rejected(
                "the media does not match its checksum".into(),
            ));
        }
        Ok(data.to_vec())
    }
}

impl Book {
    /// Whether `key` names message media older than the retention.
    fn expired(&self, key: &[u8], now_ms: u64) -> bool {
        let Some(id) = key.strip_prefix(EXPIRING.as_bytes()) else {
            return false;
        };
        let Some(ts) = std::str::from_utf8(id)
            .ok()
            .and_then(|s| Uuid::try_parse(s).ok())
            .and_then(|u| u.get_timestamp())
        else {
            return false;
        };
        let (secs, nanos) = ts.to_unix();
        let uploaded_ms = secs * 1000 + u64::from(nanos) / 1_000_000;
        uploaded_ms + self.retention.as_millis() as u64 <= now_ms
    }

    /// Removes expired message media from the front of the tree, at most every tenth of the
    /// retention. A failed removal is retried by the next sweep.
    fn sweep(&self) {
        let now = now_ms();
        let due = self.next_sweep_ms.load(Ordering::Relaxed);
        let next = now + (self.retention.as_millis() as u64 / 10).max(1);
        if now < due
            || self
                .next_sweep_ms
                .compare_exchange(due, next, Ordering::Relaxed, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        let mut removed = 0usize;
        for key in self.media.scan_prefix(EXPIRING).keys() {
            let Ok(key) = key else { break };
            if !self.expired(&key, now) {
                break;
            }
            if self.media.remove(&key).is_ok() {
                removed += 1;
            }
        }
        if removed > 0 {
            tracing::debug!(removed, "loopback media expired");
        }
    }
}

fn now_ms() -> u64 {
    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or(0)
}
