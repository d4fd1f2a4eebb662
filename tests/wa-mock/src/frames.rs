//! Byte plumbing of one client connection: WebSocket messages -> 3-byte
//! length-prefixed frames -> (after the handshake) AES-GCM transport frames
//! carrying binary XMPP-like nodes.
//!
//! The read and write halves are separate types so the writer can live in
//! its own task and be fed from anywhere (relay, admin API) through a channel.

use anyhow::{Context, Result, anyhow, bail};
use futures_util::stream::{SplitSink, SplitStream};
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpStream;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use wacore::framing::{FrameDecoder, encode_frame};
use wacore::handshake::NoiseCipher;
use wacore_binary::consts::WA_CONN_HEADER;
use wacore_binary::{Node, marshal::marshal, marshal::unmarshal_ref, util::unpack};

pub type Ws = WebSocketStream<TcpStream>;

/// Incoming side: reassembles frames across WebSocket messages.
pub struct FrameReader {
    stream: SplitStream<Ws>,
    decoder: FrameDecoder,
    header_pending: Option<Vec<u8>>,
}

/// Outgoing side: writes whole frames as binary WebSocket messages.
pub struct FrameWriter {
    sink: SplitSink<Ws, WsMessage>,
}

pub fn split(ws: Ws) -> (FrameReader, FrameWriter) {
    let (sink, stream) = ws.split();
    (
        FrameReader {
            stream,
            decoder: FrameDecoder::new(),
            header_pending: Some(Vec::new()),
        },
        FrameWriter { sink },
    )
}

impl FrameReader {
    /// Next complete frame, or `None` once the peer closed the socket.
    pub async fn next_frame(&mut self) -> Result<Option<Vec<u8>>> {
        loop {
            if self.header_pending.is_none()
                && let Some(frame) = self.decoder.decode_frame()
            {
                return Ok(Some(frame.to_vec()));
            }
            let data = match self.stream.next().await {
                None => return Ok(None),
                Some(Err(e)) => {
                    tracing::debug!("websocket read ended: {e}");
                    return Ok(None);
                }
                Some(Ok(WsMessage::Binary(b))) => b.to_vec(),
                Some(Ok(WsMessage::Close(_))) => return Ok(None),
                Some(Ok(_)) => continue,
            };
            match self.header_pending.take() {
                None => self.decoder.feed(&data),
                Some(mut buf) => {
                    buf.extend_from_slice(&data);
                    match strip_conn_header(&buf)? {
                        Some(rest) => self.decoder.feed(rest),
                        None => self.header_pending = Some(buf),
                    }
                }
            }
        }
    }
}

/// The first client bytes are `[ED 00 01 len24 routing]` (optional edge
/// routing pre-intro) then `WA 06 03`. Returns the bytes after them, or
/// `None` if more input is needed.
fn strip_conn_header(buf: &[u8]) -> Result<Option<&[u8]>> {
    let mut rest = buf;
    if rest.starts_with(b"ED") {
        if rest.len() < 7 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([0, rest[4], rest[5], rest[6]]) as usize;
        if rest.len() < 7 + len {
            return Ok(None);
        }
        rest = &rest[7 + len..];
    }
    if rest.len() < WA_CONN_HEADER.len() {
        return Ok(None);
    }
    if rest[..WA_CONN_HEADER.len()] != WA_CONN_HEADER {
        bail!("connection does not start with the WA header");
    }
    Ok(Some(&rest[WA_CONN_HEADER.len()..]))
}

impl FrameWriter {
    pub async fn send_frame(&mut self, payload: &[u8]) -> Result<()> {
        let framed = encode_frame(payload, None)?;
        self.sink
            .send(WsMessage::Binary(framed.into()))
            .await
            .context("websocket send")
    }

    pub async fn close(&mut self) {
        let _ = self.sink.send(WsMessage::Close(None)).await;
        let _ = self.sink.close().await;
    }
}

/// Decrypting node reader; counters start at 0 right after the handshake.
pub struct NodeReader {
    frames: FrameReader,
    cipher: NoiseCipher,
    counter: u32,
}

impl NodeReader {
    pub fn new(frames: FrameReader, cipher: NoiseCipher) -> Self {
        Self {
            frames,
            cipher,
            counter: 0,
        }
    }

    pub async fn next_node(&mut self) -> Result<Option<Node>> {
        let Some(mut frame) = self.frames.next_frame().await? else {
            return Ok(None);
        };
        self.cipher
            .decrypt_in_place_with_counter(self.counter, &mut frame)
            .map_err(|e| anyhow!("transport decrypt: {e}"))?;
        self.counter = self.counter.wrapping_add(1);
        let plain = unpack(&frame).map_err(|e| anyhow!("unpack: {e}"))?;
        let node = unmarshal_ref(&plain).map_err(|e| anyhow!("unmarshal: {e}"))?;
        Ok(Some(node.to_owned()))
    }
}

/// Encrypting node writer.
pub struct NodeWriter {
    frames: FrameWriter,
    cipher: NoiseCipher,
    counter: u32,
}

impl NodeWriter {
    pub fn new(frames: FrameWriter, cipher: NoiseCipher) -> Self {
        Self {
            frames,
            cipher,
            counter: 0,
        }
    }

    pub async fn send_node(&mut self, node: &Node) -> Result<()> {
        let plain = marshal(node).map_err(|e| anyhow!("marshal: {e}"))?;
        let sealed = self
            .cipher
            .encrypt_with_counter(self.counter, &plain)
            .map_err(|e| anyhow!("transport encrypt: {e}"))?;
        self.counter = self.counter.wrapping_add(1);
        self.frames.send_frame(&sealed).await
    }

    pub async fn close(&mut self) {
        self.frames.close().await;
    }
}
