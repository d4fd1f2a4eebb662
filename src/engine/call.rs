//! Voice and video calls as the engines report them: a call offered to the account (which the
//! instance may reject) and what became of it. Calls carry no media here; the account only rings.

use serde::{Deserialize, Serialize};

/// Where a call is in its life, with Baileys' names (Evolution forwards them as `status`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum CallStatus {
    /// Someone is calling the account.
    Offer,
    Ringing,
    /// The caller gave up before an answer.
    Timeout,
    Reject,
    Accept,
    /// The call ended.
    Terminate,
}

impl CallStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            CallStatus::Offer => "offer",
            CallStatus::Ringing => "ringing",
            CallStatus::Timeout => "timeout",
            CallStatus::Reject => "reject",
            CallStatus::Accept => "accept",
            CallStatus::Terminate => "terminate",
        }
    }
}

/// A call event of one call, seen from this account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Call {
    /// The call's id (the same for every event of one call).
    pub id: String,
    /// The other party's user JID (the caller for an offer), phone form when known.
    pub from: String,
    pub status: CallStatus,
    pub is_video: bool,
    pub is_group: bool,
    /// The group of a group call.
    pub group_jid: Option<String>,
    /// Unix seconds.
    pub timestamp: u64,
    /// Delivered from WhatsApp's offline queue: the call happened while the session was away.
    pub offline: bool,
    /// How the engine addresses its answer (the stanza's sender and the call's creator, devices
    /// included); only the engine that reported the call reads them.
    pub reply_to: CallPeer,
}

/// The addressing an engine needs to answer (reject) a call.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CallPeer {
    pub peer: String,
    pub creator: String,
}

/// A call this account placed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlacedCall {
    pub id: String,
    /// The callee's user JID.
    pub to: String,
}

/// Longest a placed call rings, in seconds (Evolution's `callDuration` bound).
pub const MAX_RING_SECS: u64 = 15;
