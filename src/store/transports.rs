//! The `transports` tree: each instance's subscription to an event transport (RabbitMQ, NATS,
//! socket.io), what `/rabbitmq/set`, `/nats/set` and `/websocket/set` store and `find` shows.
//!
//! Key: instance id (16 bytes, big-endian uuid) ++ one byte naming the transport
//! ([`TransportKind::tag`]); a prefix scan over the id finds all of an instance's rows, and a
//! full scan at start-up loads every subscription into memory (events are routed from there,
//! never by reading sled per event).

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{Store, StoreError, decode, encode};

/// The event transports an instance can subscribe to (webhooks have their own record).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TransportKind {
    Rabbitmq,
    Nats,
    Websocket,
}

impl TransportKind {
    pub const ALL: [TransportKind; 3] = [
        TransportKind::Rabbitmq,
        TransportKind::Nats,
        TransportKind::Websocket,
    ];

    /// The key byte. Stable: stored on disk.
    fn tag(self) -> u8 {
        match self {
            TransportKind::Rabbitmq => 1,
            TransportKind::Nats => 2,
            TransportKind::Websocket => 3,
        }
    }

    fn from_tag(tag: u8) -> Option<TransportKind> {
        TransportKind::ALL.into_iter().find(|k| k.tag() == tag)
    }

    /// Evolution's name, as in its routes and bodies (`rabbitmq`, `nats`).
    pub fn name(self) -> &'static str {
        match self {
            TransportKind::Rabbitmq => "rabbitmq",
            TransportKind::Nats => "nats",
            TransportKind::Websocket => "websocket",
        }
    }
}

/// One instance's subscription to one transport (Evolution's `Rabbitmq` / `Nats` row).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Subscription {
    /// The row's id, kept across updates.
    pub id: Uuid,
    pub enabled: bool,
    /// UPPER_SNAKE event names, as Evolution stores them (all of them when set with `[]`).
    pub events: Vec<String>,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

/// Typed access to the `transports` tree.
#[derive(Clone)]
pub struct TransportRepo {
    tree: sled::Tree,
}

fn key(instance: Uuid, kind: TransportKind) -> Vec<u8> {
    let mut k = instance.as_bytes().to_vec();
    k.push(kind.tag());
    k
}

impl TransportRepo {
    pub fn new(store: &Store) -> Result<Self, StoreError> {
        Ok(TransportRepo {
            tree: store.tree("transports")?,
        })
    }

    /// Writes a subscription; durable after the next [`Store::sync`].
    pub fn put(
        &self,
        instance: Uuid,
        kind: TransportKind,
        sub: &Subscription,
    ) -> Result<(), StoreError> {
        self.tree.insert(key(instance, kind), encode(sub)?)?;
        Ok(())
    }

    /// Every stored subscription (start-up). Rows that cannot be read are skipped and logged:
    /// the instance then has no subscription until it is set again, which `find` shows.
    pub fn all(&self) -> Result<Vec<(Uuid, TransportKind, Subscription)>, StoreError> {
        let mut out = Vec::new();
        for item in self.tree.iter() {
            let (k, v) = item?;
            let parsed = (k.len() == 17)
                .then(|| {
                    let id = Uuid::from_slice(&k[..16]).ok()?;
                    Some((id, TransportKind::from_tag(k[16])?))
                })
                .flatten();
            match (parsed, decode::<Subscription>(&v)) {
                (Some((id, kind)), Ok(sub)) => out.push((id, kind, sub)),
                (_, Err(e)) => {
                    tracing::error!(error = %e, "unreadable transport subscription skipped")
                }
                (None, Ok(_)) => tracing::error!("transport subscription with a bad key skipped"),
            }
        }
        Ok(out)
    }

    /// Forgets every subscription of an instance (it was deleted).
    pub fn remove_instance(&self, instance: Uuid) -> Result<(), StoreError> {
        for kind in TransportKind::ALL {
            self.tree.remove(key(instance, kind))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn subscriptions_round_trip_and_go_with_their_instance() {
        let store = Store::temporary().unwrap();
        let repo = TransportRepo::new(&store).unwrap();
        let (a, b) = (Uuid::now_v7(), Uuid::now_v7());
        let sub = Subscription {
            id: Uuid::new_v4(),
            enabled: true,
            events: vec!["MESSAGES_UPSERT".into()],
            created_at: Utc::now(),
            updated_at: Utc::now(),
        };
        repo.put(a, TransportKind::Rabbitmq, &sub).unwrap();
        repo.put(a, TransportKind::Nats, &sub).unwrap();
        repo.put(b, TransportKind::Nats, &sub).unwrap();
        assert_eq!(repo.all().unwrap().len(), 3);
        repo.remove_instance(a).unwrap();
        let left = repo.all().unwrap();
        assert_eq!(left.len(), 1);
        assert_eq!((left[0].0, left[0].1), (b, TransportKind::Nats));
        assert_eq!(left[0].2, sub);
    }
}
