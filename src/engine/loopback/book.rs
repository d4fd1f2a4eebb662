//! The loopback network's profiles and media store: what WhatsApp's servers keep for an account
//! (name, about text, picture, privacy, blocklist) and the media CDN. Both are sled trees so a
//! restart keeps them, like the directory.

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

pub(super) struct Book {
    cards: sled::Tree,
    media: sled::Tree,
}

impl Book {
    pub fn open(store: &Store) -> Result<Book, StoreError> {
        Ok(Book {
            cards: store.tree("loopback.profiles")?,
            media: store.tree("loopback.media")?,
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

    /// Stores a blob and returns where it lives. Loopback media is not encrypted: the "media
    /// key" is random and the encrypted hash equals the plain one.
    pub fn upload(&self, data: &[u8]) -> Result<MediaRef, EngineError> {
        let direct_path = format!("/loopback/{}", Uuid::new_v4().simple());
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
        let data = self
            .media
            .get(blob.direct_path.as_bytes())
            .map_err(StoreError::from)?
            .ok_or_else(|| EngineError::Rejected("the media is no longer available".into()))?;
        if Sha256::digest(&data).as_slice() != blob.file_sha256.as_slice() {
            return Err(EngineError::Rejected(
                "the media does not match its checksum".into(),
            ));
        }
        Ok(data.to_vec())
    }
}
