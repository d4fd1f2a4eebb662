//! Logging a paired device in (`<success>` or `<failure>`), ending its
//! offline phase after it goes active, and remote logout.

use crate::accounts::SERVER;
use crate::contact;
use crate::session::Conn;
use crate::shared::{Counters, Shared, now_secs};
use wacore_binary::builder::NodeBuilder;
use wacore_binary::{Jid, Node};
use waproto::whatsapp as wa;

fn failure(reason: &str) -> Node {
    NodeBuilder::new("failure")
        .attr("reason", reason)
        .attr("location", "mock")
        .build()
}

/// A registered client connected. Unknown or removed devices get
/// `<failure reason="401">`, which the client reports as `LoggedOut`.
pub fn on_login(conn: &mut Conn, payload: &wa::ClientPayload, noise_pub: [u8; 32], via_ik: bool) {
    let phone = payload.username.unwrap_or_default().to_string();
    let device = payload.device.unwrap_or(0) as u16;
    let mut reg = conn.shared.reg();
    let Some(account) = reg.accounts.get_mut(&phone) else {
        drop(reg);
        tracing::info!(phone, device, "login for unknown account");
        conn.peer.close_with(failure("401"));
        return;
    };
    let lid = account.lid_jid();
    let Some(dev) = account.devices.get_mut(&device) else {
        drop(reg);
        tracing::info!(phone, device, "login for removed device");
        conn.peer.close_with(failure("401"));
        return;
    };
    if dev.noise_pub != noise_pub {
        drop(reg);
        tracing::warn!(phone, device, "login with a foreign noise key");
        conn.peer.close_with(failure("401"));
        return;
    }
    // Whatever an earlier connection never acked is delivered again after this login.
    dev.requeue_unacked();
    if let Some(old) = dev.peer.replace(conn.peer.clone())
        && old.conn_id != conn.peer.conn_id
    {
        old.close();
    }
    drop(reg);
    tracing::info!(phone, device, via_ik, "logged in");
    Counters::bump(&conn.shared.counters.logins);
    if via_ik {
        Counters::bump(&conn.shared.counters.ik_logins);
    }
    conn.login = Some((phone, device));
    let now = now_secs().to_string();
    conn.send(
        NodeBuilder::new("success")
            .attr("t", now.as_str())
            .attr("lid", lid)
            .attr("props", "1")
            .attr("abprops", "1")
            .attr("location", "mock")
            .attr("creation", now.as_str())
            .build(),
    );
}

/// After `<active/>`: flush what arrived while the device was away (and
/// what an earlier connection never acked), then close the offline window. Without `<offline>` the client waits 60 s.
pub fn on_active(conn: &Conn) {
    let Some((phone, device)) = conn.login.clone() else {
        return;
    };
    let queued = {
        let mut reg = conn.shared.reg();
        match reg
            .accounts
            .get_mut(&phone)
            .and_then(|a| a.devices.get_mut(&device))
        {
            Some(d) => {
                let queued = std::mem::take(&mut d.offline);
                queued.iter().for_each(|n| d.sent(n));
                queued
            }
            None => Vec::new(),
        }
    };
    let count = queued.len();
    for mut node in queued {
        node.attrs.insert("offline", "1");
        conn.send(node);
    }
    conn.send(
        NodeBuilder::new("ib")
            .attr("from", SERVER)
            .children([NodeBuilder::new("offline")
                .attr("count", count.to_string())
                .build()])
            .build(),
    );
    let shared = conn.shared.clone();
    tokio::spawn(async move {
        if let Err(e) = contact::share_app_state_key(&shared, &phone, device).await {
            tracing::warn!(phone, device, "app-state key share failed: {e:?}");
        }
    });
}

/// Removes every companion of `phone` (or just `device`) and tells the
/// connected ones they were logged out. Returns the devices removed.
pub fn logout(shared: &Shared, phone: &str, device: Option<u16>) -> Option<Vec<u16>> {
    let mut reg = shared.reg();
    let account = reg.accounts.get_mut(phone)?;
    let ids: Vec<u16> = account
        .devices
        .keys()
        .copied()
        .filter(|id| device.is_none_or(|d| d == *id))
        .collect();
    for id in &ids {
        if let Some(dev) = account.devices.remove(id)
            && let Some(peer) = dev.online_peer()
        {
            peer.close_with(
                NodeBuilder::new("stream:error")
                    .attr("code", "401")
                    .children([NodeBuilder::new("conflict")
                        .attr("type", "device_removed")
                        .build()])
                    .build(),
            );
        }
    }
    Some(ids)
}

/// The client unlinked itself (`remove-companion-device`).
pub fn on_self_remove(conn: &Conn, jid: Option<Jid>) {
    let Some((phone, device)) = conn.login.clone() else {
        return;
    };
    let target = jid.map(|j| j.device).unwrap_or(device);
    let mut reg = conn.shared.reg();
    if let Some(account) = reg.accounts.get_mut(&phone) {
        account.devices.remove(&target);
    }
}
