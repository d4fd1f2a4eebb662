//! Handle to one live client connection: a channel into its writer task.
//!
//! Everything that wants to push a stanza to a client (its own reader loop,
//! the relay, the admin API) goes through a [`Peer`], so the Noise write
//! counter is only ever touched by the writer task.

use tokio::sync::mpsc;
use wacore_binary::Node;

pub enum Outbound {
    Node(Node),
    /// Flush what is queued, then close the WebSocket.
    Close,
}

#[derive(Clone)]
pub struct Peer {
    pub conn_id: u64,
    tx: mpsc::UnboundedSender<Outbound>,
}

impl Peer {
    pub fn new(conn_id: u64, tx: mpsc::UnboundedSender<Outbound>) -> Self {
        Self { conn_id, tx }
    }

    /// Returns false if the connection is gone.
    pub fn send(&self, node: Node) -> bool {
        self.tx.send(Outbound::Node(node)).is_ok()
    }

    /// Sends a final stanza (e.g. a `stream:error`) and closes.
    pub fn close_with(&self, node: Node) {
        let _ = self.tx.send(Outbound::Node(node));
        let _ = self.tx.send(Outbound::Close);
    }

    /// Closes after whatever is already queued.
    pub fn close(&self) {
        let _ = self.tx.send(Outbound::Close);
    }

    pub fn is_open(&self) -> bool {
        !self.tx.is_closed()
    }
}
