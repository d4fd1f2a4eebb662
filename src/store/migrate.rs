//! Moves a database of the earlier layout (one set of trees per instance, `i/<id>/<kind>`) into
//! the shared trees, once, at open. Engine keys move as they are (a paired session stays paired);
//! stored messages, then JSON records, are read into the typed history where they can be (text,
//! media, locations: what Evolution clients read back), and the others are counted and logged.
//! Each old tree is dropped only after its rows are in the new trees, so a crash mid-way
//! repeats the move of that tree, which is idempotent.

use serde_json::Value;
use uuid::Uuid;

use super::history::{Change, HistoryTrees, Origin, Status, StoredMessage};
use super::scoped::prefixed;
use super::{Store, StoreError, decode};
use crate::engine::{Context, MessageContent, MessageKey};

pub(super) fn from_tree_per_instance(store: &Store) -> Result<(), StoreError> {
    let old: Vec<(Uuid, String, String)> = store
        .db
        .tree_names()
        .into_iter()
        .filter_map(|n| {
            let name = String::from_utf8(n.to_vec()).ok()?;
            let rest = name.strip_prefix("i/")?;
            let (id, kind) = rest.split_once('/')?;
            Some((Uuid::parse_str(id).ok()?, kind.to_owned(), name))
        })
        .collect();
    if old.is_empty() {
        return Ok(());
    }
    tracing::info!(
        trees = old.len(),
        "moving the per-instance trees of an earlier version into the shared trees"
    );
    let history = HistoryTrees::open(store)?;
    let (mut moved, mut skipped) = (0u64, 0u64);
    for (id, kind, name) in old {
        let tree = store.db.open_tree(&name)?;
        match kind.as_str() {
            "session.wa" | "session" => {
                let target = store.tree(if kind == "session" {
                    "loopback.sessions"
                } else {
                    super::signal::TREE
                })?;
                let mut batch = sled::Batch::default();
                for item in tree.iter() {
                    let (k, v) = item?;
                    batch.insert(prefixed(id, &k), v);
                }
                target.apply_batch(batch)?;
            }
            "messages" => {
                let repo = history.repo(store, id);
                for item in tree.iter() {
                    let (_, v) = item?;
                    match decode::<Value>(&v).ok().and_then(|r| legacy_message(&r)) {
                        Some(m) => {
                            let contact = (!m.key.from_me)
                                .then_some(())
                                .and(m.push_name.as_deref())
                                .map(|n| (m.key.remote_jid.as_str(), n));
                            repo.apply_without_event(&Change::Message {
                                message: &m,
                                contact,
                            })?;
                            moved += 1;
                        }
                        None => skipped += 1,
                    }
                }
            }
            _ => {}
        }
        store.db.flush()?;
        store.db.drop_tree(name.as_bytes())?;
    }
    store.db.flush()?;
    tracing::info!(
        messages = moved,
        unreadable = skipped,
        "earlier layout moved"
    );
    Ok(())
}

/// A message record of the earlier layout (Evolution's JSON), when its content is one the typed
/// history keeps.
fn legacy_message(r: &Value) -> Option<StoredMessage> {
    let k = r.get("key")?;
    let key = MessageKey {
        remote_jid: k.get("remoteJid")?.as_str()?.to_owned(),
        from_me: k.get("fromMe")?.as_bool()?,
        id: k.get("id")?.as_str()?.to_owned(),
        participant: k
            .get("participant")
            .and_then(Value::as_str)
            .map(str::to_owned),
    };
    let message = r.get("message")?;
    let content = if let Some(text) = message.get("conversation").and_then(Value::as_str) {
        MessageContent::Text {
            text: text.to_owned(),
        }
    } else if let Some(media) = crate::evolution::message::media_from_message(message) {
        MessageContent::Media(media)
    } else {
        let loc = message.get("locationMessage")?;
        MessageContent::Location {
            latitude: loc.get("degreesLatitude")?.as_f64()?,
            longitude: loc.get("degreesLongitude")?.as_f64()?,
            name: loc.get("name").and_then(Value::as_str).map(str::to_owned),
            address: loc
                .get("address")
                .and_then(Value::as_str)
                .map(str::to_owned),
        }
    };
    let status = match r.get("status").and_then(Value::as_str) {
        Some("PENDING") => Status::Pending,
        Some("SERVER_ACK") => Status::ServerAck,
        Some("READ") => Status::Read,
        Some("PLAYED") => Status::Played,
        Some("EDITED") => Status::Edited,
        Some("DELETED") => Status::Deleted,
        Some("ERROR") => Status::Error,
        _ => Status::DeliveryAck,
    };
    Some(StoredMessage {
        push_name: r.get("pushName").and_then(Value::as_str).map(str::to_owned),
        origin: if key.from_me && status == Status::Pending {
            Origin::Api
        } else {
            // As a history-sync batch: old messages, not new unread ones.
            Origin::HistorySync
        },
        key,
        content,
        context: Context::default(),
        status,
        timestamp: r.get("messageTimestamp")?.as_u64()?,
    })
}
