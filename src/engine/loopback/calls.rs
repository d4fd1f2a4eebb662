//! Calls on the loopback network. A placed call rings the callee (an `offer` in its inbox) until
//! the callee rejects it or the ring time runs out; then the call is over. There is no media and
//! no answering: a loopback phone only rings.
//!
//! The caller hears of a rejection (`reject`), the callee of a call that rang out (`timeout`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use uuid::Uuid;

use super::{LoopbackSession, Network};
use crate::engine::call::{Call, CallPeer, CallStatus, PlacedCall};
use crate::engine::jid::{USER_SERVER, user_of};
use crate::engine::{EngineError, EngineEvent, unix_now};

/// Calls ringing now, by call id.
#[derive(Default)]
pub(super) struct CallTable {
    ringing: Mutex<HashMap<String, Ringing>>,
}

struct Ringing {
    caller: String,
    callee: String,
    is_video: bool,
}

impl CallTable {
    /// Ends a ringing call; `None` when it already ended.
    fn end(&self, id: &str) -> Option<Ringing> {
        self.ringing.lock().remove(id)
    }
}

/// A call event as `to_phone` sees it, the other party being `other_phone`.
fn event(id: &str, other_phone: &str, status: CallStatus, is_video: bool, offline: bool) -> Call {
    let jid = format!("{other_phone}@{USER_SERVER}");
    Call {
        id: id.to_string(),
        from: jid.clone(),
        status,
        is_video,
        is_group: false,
        group_jid: None,
        timestamp: unix_now(),
        offline,
        reply_to: CallPeer {
            peer: jid.clone(),
            creator: jid,
        },
    }
}

/// A call id like WhatsApp's: 32 upper-case hex digits.
fn call_id() -> String {
    Uuid::new_v4().simple().to_string().to_uppercase()
}

impl LoopbackSession {
    pub(super) fn place_call(
        &self,
        to: &str,
        is_video: bool,
        ring: Duration,
    ) -> Result<PlacedCall, EngineError> {
        let me = self.own_phone()?;
        let Some(callee) = self.net.registered(user_of(to)) else {
            return Err(EngineError::NotOnWhatsApp {
                jid: to.to_string(),
                number: user_of(to).to_string(),
            });
        };
        if callee == me {
            return Err(EngineError::Invalid("an account cannot call itself".into()));
        }
        let id = call_id();
        self.net.calls.ringing.lock().insert(
            id.clone(),
            Ringing {
                caller: me.clone(),
                callee: callee.clone(),
                is_video,
            },
        );
        // A blocked caller rings nobody, as on WhatsApp; the call still runs out.
        if !self.net.book.has_blocked(&callee, &me) {
            let offline = !self.net.is_online(&callee);
            let offer = event(&id, &me, CallStatus::Offer, is_video, offline);
            if !self.net.push(&callee, EngineEvent::Call(offer)) {
                self.net.calls.end(&id);
                return Err(EngineError::Busy);
            }
        }
        tokio::spawn(ring_out(self.net.clone(), id.clone(), ring));
        Ok(PlacedCall {
            id,
            to: format!("{callee}@{USER_SERVER}"),
        })
    }

    /// Ends a call ringing here; the caller hears `reject`. A call that already ended is fine.
    pub(super) fn decline_call(&self, call: &Call) -> Result<(), EngineError> {
        let me = self.own_phone()?;
        let r = {
            let mut table = self.net.calls.ringing.lock();
            match table.get(&call.id) {
                None => return Ok(()),
                Some(r) if r.callee != me => {
                    return Err(EngineError::Rejected(
                        "only the called account can reject a call".into(),
                    ));
                }
                Some(_) => table.remove(&call.id),
            }
        };
        let Some(r) = r else {
            return Ok(());
        };
        let ended = event(&call.id, &me, CallStatus::Reject, r.is_video, false);
        self.net.push(&r.caller, EngineEvent::Call(ended));
        Ok(())
    }
}

/// After the ring time, a call nobody rejected is over: the callee sees it time out.
async fn ring_out(net: Arc<Network>, id: String, ring: Duration) {
    tokio::time::sleep(ring).await;
    if let Some(r) = net.calls.end(&id)
        && !net.book.has_blocked(&r.callee, &r.caller)
    {
        let missed = event(&id, &r.caller, CallStatus::Timeout, r.is_video, false);
        net.push(&r.callee, EngineEvent::Call(missed));
    }
}
