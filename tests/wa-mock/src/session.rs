//! One client connection from WebSocket upgrade to close: the Noise
//! handshake, the writer task, and the stanza dispatch loop.

use crate::frames::{self, NodeReader, NodeWriter, Ws};
use crate::noise::{self, Responder};
use crate::peer::{Outbound, Peer};
use crate::shared::{Counters, Shared};
use crate::{calls, iq, login, pairing, relay};
use anyhow::{Result, anyhow};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::mpsc;
use wacore_binary::Node;

enum Pattern {
    Xx,
    Ik,
}

/// Per-connection context handed to the stanza handlers.
pub struct Conn {
    pub shared: Arc<Shared>,
    pub peer: Peer,
    /// `(phone, device)` once `<success>` was sent.
    pub login: Option<(String, u16)>,
}

impl Conn {
    pub fn send(&self, node: Node) {
        self.peer.send(node);
    }
}

pub async fn run(shared: Arc<Shared>, ws: Ws) {
    let conn_id = shared.next_num();
    let mut shutdown = shared.shutdown.subscribe();
    let (tx, rx) = mpsc::unbounded_channel();
    let peer = Peer::new(conn_id, tx);
    let served = tokio::select! {
        r = serve(shared.clone(), ws, peer.clone(), rx) => r,
        _ = shutdown.wait_for(|stop| *stop) => Ok(()),
    };
    if let Err(e) = served {
        tracing::debug!(conn_id, "connection ended: {e:#}");
    }
    peer.close();
    shared.reg().connection_closed(conn_id);
}

async fn serve(
    shared: Arc<Shared>,
    ws: Ws,
    peer: Peer,
    rx: mpsc::UnboundedReceiver<Outbound>,
) -> Result<()> {
    let (mut frames_in, mut frames_out) = frames::split(ws);
    let hello = frames_in
        .next_frame()
        .await?
        .ok_or_else(|| anyhow!("closed before ClientHello"))?;
    let responder = noise::respond_to_hello(&shared.server, &hello)?;
    let pattern = match responder {
        Responder::Xx { .. } => Pattern::Xx,
        Responder::Ik { .. } => Pattern::Ik,
    };
    let established = match responder {
        Responder::Xx {
            server_hello,
            pending,
        } => {
            Counters::bump(&shared.counters.xx_handshakes);
            frames_out.send_frame(&server_hello).await?;
            let finish = frames_in
                .next_frame()
                .await?
                .ok_or_else(|| anyhow!("closed before ClientFinish"))?;
            pending.finish(&finish)?
        }
        Responder::Ik {
            server_hello,
            established,
        } => {
            Counters::bump(&shared.counters.ik_handshakes);
            frames_out.send_frame(&server_hello).await?;
            established
        }
    };
    let via_ik = matches!(pattern, Pattern::Ik);
    let writer = NodeWriter::new(frames_out, established.write);
    let silenced = Arc::new(AtomicBool::new(false));
    let writer_task = tokio::spawn(write_loop(writer, rx, silenced.clone()));
    let mut reader = NodeReader::new(frames_in, established.read);
    let mut conn = Conn {
        shared,
        peer,
        login: None,
    };
    let payload = established.payload;
    if payload.username.is_some() {
        login::on_login(&mut conn, &payload, established.client_static, via_ik);
        if let Some((phone, _)) = &conn.login {
            conn.shared.register_silencer(phone, silenced.clone());
        }
    } else {
        pairing::on_register(&conn, &payload, established.client_static)?;
    }
    let result = read_loop(&mut conn, &mut reader).await;
    conn.peer.close();
    let _ = writer_task.await;
    result
}

async fn read_loop(conn: &mut Conn, reader: &mut NodeReader) -> Result<()> {
    while let Some(node) = reader.next_node().await? {
        tracing::trace!(
            conn = conn.peer.conn_id,
            "<- {}",
            wacore::xml::DisplayableNode(&node)
        );
        match node.tag.as_ref() {
            "iq" => iq::handle(conn, &node),
            "message" => relay::on_message(conn, &node).await,
            "receipt" if calls::is_offer_receipt(&node) => calls::on_offer_receipt(conn, &node),
            "receipt" => relay::on_receipt(conn, &node),
            "call" => calls::on_call(conn, &node),
            "chatstate" => relay::on_chatstate(conn, &node),
            "ack" if node.attrs.get("class").is_some_and(|c| c == "message") => {
                relay::on_message_ack(conn, &node)
            }
            _ => {}
        }
    }
    Ok(())
}

async fn write_loop(
    mut writer: NodeWriter,
    mut rx: mpsc::UnboundedReceiver<Outbound>,
    silenced: Arc<AtomicBool>,
) {
    while let Some(out) = rx.recv().await {
        match out {
            Outbound::Node(_) if silenced.load(Ordering::SeqCst) => {}
            Outbound::Node(node) => {
                tracing::trace!("-> {}", wacore::xml::DisplayableNode(&node));
                if let Err(e) = writer.send_node(&node).await {
                    tracing::debug!("write failed: {e:#}");
                    break;
                }
            }
            Outbound::Close => break,
        }
    }
    writer.close().await;
}
