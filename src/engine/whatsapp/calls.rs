//! Calls on the real engine: whatsapp-rust's call events as our [`Call`], and the reject.
//!
//! Only signalling is used (no `voip` feature): an offer rings, a reject declines it. Offers
//! that WhatsApp replays from its offline queue come as `MissedCall{Offline}` (the crate keeps
//! a consumer from answering a dead call); they are reported as offers with `offline: true`, as
//! Baileys does, so the instance can still reply to the caller.

use whatsapp_rust::Client;
use whatsapp_rust::types::call::{CallAction, IncomingCall, MissedCall, MissedReason};

use super::parse_jid;
use crate::engine::EngineError;
use crate::engine::call::{Call, CallPeer, CallStatus};

/// Our event for one of the crate's call stanzas; `None` for the signalling we do not report
/// (transport, relay latency, group roster changes...).
pub(super) fn incoming(c: &IncomingCall) -> Option<Call> {
    let (status, is_video, group_jid, caller_pn) = match &c.action {
        CallAction::Offer {
            is_video,
            group_jid,
            caller_pn,
            ..
        } => (
            CallStatus::Offer,
            *is_video,
            group_jid.clone(),
            caller_pn.clone(),
        ),
        CallAction::PreAccept { .. } => (CallStatus::Ringing, false, None, None),
        CallAction::Accept { .. } => (CallStatus::Accept, false, None, None),
        CallAction::Reject { .. } => (CallStatus::Reject, false, None, None),
        CallAction::Terminate { reason, .. } => {
            let status = if reason.as_deref() == Some("timeout") {
                CallStatus::Timeout
            } else {
                CallStatus::Terminate
            };
            (status, false, None, None)
        }
        _ => return None,
    };
    // A caller known by its LID is reported by phone number when the offer carries it.
    let from = match caller_pn {
        Some(pn) if c.from.is_lid() => pn.to_non_ad_string(),
        _ => c.from.to_non_ad_string(),
    };
    Some(Call {
        id: c.action.call_id().to_string(),
        from,
        status,
        is_video,
        is_group: group_jid.is_some() || c.group.is_some(),
        group_jid: group_jid.map(|g| g.to_non_ad_string()),
        timestamp: u64::try_from(c.timestamp.timestamp()).unwrap_or(0),
        offline: c.offline,
        reply_to: CallPeer {
            peer: c.from.to_string(),
            creator: c.action.call_creator().to_string(),
        },
    })
}

/// An offer that rang while the session was away, as the offer it was.
pub(super) fn missed(m: &MissedCall) -> Option<Call> {
    if !matches!(m.reason, MissedReason::Offline) {
        return None;
    }
    Some(Call {
        id: m.call_id.clone(),
        from: m.from.to_non_ad_string(),
        status: CallStatus::Offer,
        is_video: false,
        is_group: false,
        group_jid: None,
        timestamp: u64::try_from(m.timestamp.timestamp()).unwrap_or(0),
        offline: true,
        reply_to: CallPeer {
            peer: m.from.to_string(),
            creator: m.from.to_string(),
        },
    })
}

/// Declines a call offered to this account.
pub(super) async fn reject(client: &Client, call: &Call) -> Result<(), EngineError> {
    let peer = parse_jid(&call.reply_to.peer)?;
    let creator = parse_jid(&call.reply_to.creator)?;
    client
        .voip()
        .reject_call(&call.id, &peer, &creator)
        .await
        .map_err(|e| EngineError::Unavailable(format!("rejecting the call failed: {e}")))
}
