//! The media host: `w:m` hands out a `media_conn` naming it, and it stores encrypted uploads and
//! serves them back, over HTTPS on its own loopback port (clients hard-code `https://`).
//!
//! Uploads are `POST /mms/{type}/{token}?auth=A&token=T` where the token is the unpadded
//! base64url SHA-256 of the encrypted body, as WhatsApp's hosts check it; the answer names a
//! `direct_path` that a `GET` with the same auth returns. The certificate is a fixed
//! self-signed one: only clients that skip TLS verification (`danger-skip-tls-verify`) connect.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use anyhow::{Context as _, Result};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};
use tokio::io::AsyncWriteExt;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;
use tokio_rustls::rustls;
use wacore_binary::Node;
use wacore_binary::builder::NodeBuilder;

use crate::http::read_request;
use crate::iq::{error, result};
use crate::shared::Shared;

const CERT: &[u8] = include_bytes!("../certs/media-cert.der");
const KEY: &[u8] = include_bytes!("../certs/media-key.der");
/// The `auth` every media_conn hands out; requests without it are refused with 401.
pub const AUTH: &str = "wa-mock-media-auth";

#[derive(Default)]
pub struct MediaHost {
    /// `127.0.0.1:PORT` once listening.
    pub hostname: Mutex<String>,
    /// direct_path -> encrypted bytes.
    blobs: Mutex<HashMap<String, Vec<u8>>>,
}

impl MediaHost {
    fn hostname(&self) -> String {
        self.hostname.lock().map(|h| h.clone()).unwrap_or_default()
    }

    pub fn blob_count(&self) -> usize {
        self.blobs.lock().map(|b| b.len()).unwrap_or(0)
    }

    /// Stores an encrypted blob as an upload of `kind` would (the phone's own uploads, such as a
    /// history-sync blob); returns its direct path.
    pub fn put(&self, kind: &str, body: Vec<u8>) -> String {
        let token = URL_SAFE_NO_PAD.encode(Sha256::digest(&body));
        let direct_path = format!("/v/mock/{kind}/{token}.enc");
        if let Ok(mut blobs) = self.blobs.lock() {
            blobs.insert(direct_path.clone(), body);
        }
        direct_path
    }
}

/// `<iq xmlns="w:m" type="set"><media_conn/></iq>`.
pub fn media_conn(shared: &Shared, node: &Node) -> Node {
    let hostname = shared.media.hostname();
    if hostname.is_empty() {
        return error(node, 503, "service-unavailable");
    }
    let conn = NodeBuilder::new("media_conn")
        .attr("auth", AUTH)
        .attr("ttl", "3600")
        .attr("auth_ttl", "3600")
        .attr("max_buckets", "1")
        .children([NodeBuilder::new("host")
            .attr("hostname", hostname)
            .attr("type", "primary")
            .build()])
        .build();
    result(node, vec![conn])
}

fn acceptor() -> Result<TlsAcceptor> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(KEY.to_vec().into());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .context("tls versions")?
        .with_no_client_auth()
        .with_single_cert(vec![CERT.to_vec().into()], key)
        .context("media certificate")?;
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// Binds the media port and serves it until shutdown.
pub async fn start(shared: Arc<Shared>) -> Result<()> {
    let listener = TcpListener::bind((std::net::Ipv4Addr::LOCALHOST, 0)).await?;
    let addr = listener.local_addr()?;
    if let Ok(mut h) = shared.media.hostname.lock() {
        *h = addr.to_string();
    }
    let tls = acceptor()?;
    tokio::spawn(async move {
        let mut shutdown = shared.shutdown.subscribe();
        loop {
            let accepted = tokio::select! {
                a = listener.accept() => a,
                _ = shutdown.wait_for(|stop| *stop) => return,
            };
            let Ok((stream, _)) = accepted else { continue };
            let (tls, shared) = (tls.clone(), shared.clone());
            tokio::spawn(async move {
                if let Err(e) = serve_one(tls, stream, &shared).await {
                    tracing::debug!("media connection: {e:#}");
                }
            });
        }
    });
    Ok(())
}

async fn serve_one(tls: TlsAcceptor, stream: tokio::net::TcpStream, shared: &Shared) -> Result<()> {
    let mut stream = tls.accept(stream).await?;
    let request = read_request(&mut stream).await?;
    let (status, kind, body) = route(shared, &request.method, &request.path, request.body);
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        _ => "Error",
    };
    let head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {kind}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    stream.write_all(&body).await?;
    stream.shutdown().await?;
    Ok(())
}

fn query<'a>(q: &'a str, key: &str) -> Option<&'a str> {
    q.split('&')
        .filter_map(|kv| kv.split_once('='))
        .find(|(k, _)| *k == key)
        .map(|(_, v)| v)
}

fn json(status: u16, v: serde_json::Value) -> (u16, &'static str, Vec<u8>) {
    (status, "application/json", v.to_string().into_bytes())
}

fn route(
    shared: &Shared,
    method: &str,
    target: &str,
    body: Vec<u8>,
) -> (u16, &'static str, Vec<u8>) {
    let (path, q) = target.split_once('?').unwrap_or((target, ""));
    if query(q, "auth") != Some(AUTH) {
        return json(401, serde_json::json!({"error": "bad auth"}));
    }
    let Ok(mut blobs) = shared.media.blobs.lock() else {
        return json(500, serde_json::json!({"error": "poisoned"}));
    };
    match method {
        "POST" if path.starts_with("/mms/") => {
            // The resumable-upload probe: nothing is ever partially stored.
            if query(q, "resume").is_some() {
                return json(404, serde_json::json!({"resume": null}));
            }
            let Some(token) = path.rsplit('/').next().filter(|t| !t.is_empty()) else {
                return json(400, serde_json::json!({"error": "no token"}));
            };
            if URL_SAFE_NO_PAD.encode(Sha256::digest(&body)) != token {
                return json(
                    400,
                    serde_json::json!({"error": "token is not the body's hash"}),
                );
            }
            let kind = path
                .trim_start_matches("/mms/")
                .split('/')
                .next()
                .unwrap_or("file");
            let direct_path = format!("/v/mock/{kind}/{token}.enc");
            blobs.insert(direct_path.clone(), body);
            let url = format!("https://{}{direct_path}", shared.media.hostname());
            json(
                200,
                serde_json::json!({"url": url, "direct_path": direct_path}),
            )
        }
        "GET" => match blobs.get(path) {
            Some(bytes) => (200, "application/octet-stream", bytes.clone()),
            None => json(404, serde_json::json!({"error": "no such media"})),
        },
        _ => json(404, serde_json::json!({"error": "not found"})),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::noise::ServerIdentity;

    fn shared() -> Shared {
        let s = Shared::new(ServerIdentity::load_or_generate(None).expect("identity"));
        *s.media.hostname.lock().expect("lock") = "127.0.0.1:9".into();
        s
    }

    #[test]
    fn uploads_are_checked_stored_and_served() {
        let s = shared();
        let body = b"encrypted bytes".to_vec();
        let token = URL_SAFE_NO_PAD.encode(Sha256::digest(&body));
        let up = format!("/mms/image/{token}?auth={AUTH}&token={token}");
        let (status, _, _) = route(&s, "POST", &up.replace(AUTH, "nope"), body.clone());
        assert_eq!(status, 401);
        let (status, _, _) = route(&s, "POST", &up, b"other bytes".to_vec());
        assert_eq!(status, 400, "the token must be the body's hash");
        let (status, _, _) = route(&s, "POST", &format!("{up}&resume=1"), vec![]);
        assert_eq!(status, 404);
        let (status, _, answer) = route(&s, "POST", &up, body.clone());
        assert_eq!(status, 200);
        let answer: serde_json::Value = serde_json::from_slice(&answer).expect("json");
        let path = answer["direct_path"].as_str().expect("direct_path");
        assert_eq!(path, format!("/v/mock/image/{token}.enc"));
        assert_eq!(answer["url"], format!("https://127.0.0.1:9{path}"));
        let (status, _, got) = route(&s, "GET", &format!("{path}?auth={AUTH}"), vec![]);
        assert_eq!((status, got), (200, body));
        let (status, _, _) = route(&s, "GET", &format!("/v/mock/x.enc?auth={AUTH}"), vec![]);
        assert_eq!(status, 404);
        assert_eq!(s.media.blob_count(), 1);
    }
}
