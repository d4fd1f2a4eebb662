//! `/loopback/drop`: plays a network outage on an online loopback session, the failure a test
//! or a demo can force from outside (the stand-in network never drops on its own).

use std::sync::Weak;

use uuid::Uuid;

use super::{LoopbackEngine, USER_SERVER};
use crate::engine::EngineEvent;

/// What `/loopback/drop` plays on a connected session.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outage {
    /// The connection drops and the session reconnects at once.
    Reconnect,
    /// The connection drops and the session gives up (the instance goes `failed`).
    Fail,
}

#[derive(Debug, thiserror::Error)]
#[error("the instance is not connected to the loopback network")]
pub struct NotOnline;

impl LoopbackEngine {
    /// Plays an outage on an instance's online session (tests, demos).
    pub async fn drop_connection(&self, instance: Uuid, outage: Outage) -> Result<(), NotOnline> {
        let session = self
            .net
            .live
            .lock()
            .get(&instance)
            .and_then(Weak::upgrade)
            .ok_or(NotOnline)?;
        let phone = session.own_phone().map_err(|_| NotOnline)?;
        let sent = match outage {
            Outage::Reconnect => {
                let reason = "loopback: the connection dropped (/loopback/drop)".to_string();
                let back = EngineEvent::Connected {
                    jid: format!("{phone}@{USER_SERVER}"),
                    push_name: Some(session.name.clone()),
                };
                session
                    .events
                    .send(EngineEvent::Reconnecting { reason })
                    .await
                    .is_ok()
                    && session.events.send(back).await.is_ok()
            }
            Outage::Fail => {
                session.stop();
                let reason = "loopback: the connection dropped and did not come back (/loopback/drop?then=fail)".to_string();
                session
                    .events
                    .send(EngineEvent::Failed { reason })
                    .await
                    .is_ok()
            }
        };
        if sent { Ok(()) } else { Err(NotOnline) }
    }
}
