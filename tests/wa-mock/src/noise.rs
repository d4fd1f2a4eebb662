//! Server side of the WhatsApp Web Noise handshake: the mock's static key,
//! the certificate chain it presents, and the XX and IK responders.
//!
//! The cert chain is zero-signed: an unmodified client accepts it only when
//! built with whatsapp-rust's `danger-skip-cert-chain-verify`, which still
//! runs the structural checks (issuer serials, leaf key == server static).
//! The validity window is "now ± years" so the client's `select_pattern`
//! picks IK on reconnects, which is the path real reconnects take.

use anyhow::{Context, Result, anyhow, bail};
use std::path::Path;
use wacore::handshake::{NoiseCipher, NoiseHandshake};
use wacore::libsignal::protocol::{KeyPair, PrivateKey};
use wacore_binary::consts::{NOISE_PATTERN_IK, NOISE_PATTERN_XX, WA_CONN_HEADER};
use waproto::buffa::{Message as _, MessageField};
use waproto::whatsapp::{self as wa, HandshakeMessage, cert_chain::noise_certificate};

/// The server's long-lived Noise identity plus the cert chain that vouches for it.
pub struct ServerIdentity {
    pub static_kp: KeyPair,
    pub cert_chain: Vec<u8>,
}

impl ServerIdentity {
    /// Loads the static key from `state_dir/server_static.key` when present,
    /// otherwise generates one (and writes it there if a dir was given), so
    /// clients that cached the key for IK keep working across mock restarts.
    pub fn load_or_generate(state_dir: Option<&Path>) -> Result<Self> {
        let static_kp = match state_dir {
            Some(dir) => {
                let path = dir.join("server_static.key");
                if path.exists() {
                    let raw = std::fs::read(&path).with_context(|| format!("read {path:?}"))?;
                    let private =
                        PrivateKey::deserialize(&raw).map_err(|e| anyhow!("bad key: {e}"))?;
                    let public = private.public_key().map_err(|e| anyhow!("{e}"))?;
                    KeyPair::new(public, private)
                } else {
                    std::fs::create_dir_all(dir)?;
                    let kp = KeyPair::generate(&mut rand::rng());
                    std::fs::write(&path, kp.private_key.serialize())?;
                    kp
                }
            }
            None => KeyPair::generate(&mut rand::rng()),
        };
        let cert_chain = build_cert_chain(static_pub(&static_kp));
        Ok(Self {
            static_kp,
            cert_chain,
        })
    }

    pub fn static_pub(&self) -> [u8; 32] {
        static_pub(&self.static_kp)
    }
}

fn static_pub(kp: &KeyPair) -> [u8; 32] {
    kp.public_key
        .public_key_bytes()
        .try_into()
        .expect("curve25519 public keys are 32 bytes")
}

/// Intermediate (serial 1, issued by root serial 0) -> leaf (serial 2) whose
/// key is the server static. Signatures are zeros; see the module docs.
fn build_cert_chain(server_static_pub: [u8; 32]) -> Vec<u8> {
    let now = wacore::time::now_secs().max(0) as u64;
    let year = 365 * 24 * 3600;
    let details = |serial, issuer, key: Vec<u8>| {
        noise_certificate::Details {
            serial: Some(serial),
            issuer_serial: Some(issuer),
            key: Some(key),
            not_before: Some(now - year),
            not_after: Some(now + 10 * year),
        }
        .encode_to_vec()
    };
    let cert = |details: Vec<u8>| wa::cert_chain::NoiseCertificate {
        details: Some(details),
        signature: Some(vec![0u8; 64]),
    };
    wa::CertChain {
        intermediate: MessageField::some(cert(details(1, 0, vec![0x11; 32]))),
        leaf: MessageField::some(cert(details(2, 1, server_static_pub.to_vec()))),
    }
    .encode_to_vec()
}

/// Result of the first client message: IK is complete after our reply, XX
/// still waits for the client's `clientFinish`.
pub enum Responder {
    /// XX: send `server_hello`, then call [`XxPending::finish`] on the reply.
    Xx {
        server_hello: Vec<u8>,
        pending: XxPending,
    },
    /// IK: send `server_hello`, keys are ready.
    Ik {
        server_hello: Vec<u8>,
        established: Established,
    },
}

pub struct Established {
    pub read: NoiseCipher,
    pub write: NoiseCipher,
    pub client_static: [u8; 32],
    pub payload: wa::ClientPayload,
}

pub struct XxPending {
    noise: NoiseHandshake,
    ephemeral: KeyPair,
}

fn key32(v: &[u8], what: &str) -> Result<[u8; 32]> {
    v.try_into()
        .map_err(|_| anyhow!("{what}: expected 32 bytes, got {}", v.len()))
}

fn hs_err(e: impl std::fmt::Display) -> anyhow::Error {
    anyhow!("noise: {e}")
}

/// Handles the client's first handshake message (header already stripped).
/// An IK hello carries an encrypted static + payload; an XX hello only `e`.
pub fn respond_to_hello(server: &ServerIdentity, hello: &[u8]) -> Result<Responder> {
    let msg = HandshakeMessage::decode_from_slice(hello).context("decode ClientHello")?;
    let ch = msg
        .client_hello
        .into_option()
        .ok_or_else(|| anyhow!("no clientHello"))?;
    let client_eph = key32(ch.ephemeral.as_deref().unwrap_or(&[]), "client ephemeral")?;
    match (ch.r#static, ch.payload) {
        (Some(enc_static), Some(enc_payload)) => {
            ik_accept(server, client_eph, &enc_static, &enc_payload)
        }
        _ => xx_hello(server, client_eph),
    }
}

fn xx_hello(server: &ServerIdentity, client_eph: [u8; 32]) -> Result<Responder> {
    let mut noise = NoiseHandshake::new(NOISE_PATTERN_XX, &WA_CONN_HEADER).map_err(hs_err)?;
    noise.authenticate(&client_eph);
    let ephemeral = KeyPair::generate(&mut rand::rng());
    noise.authenticate(ephemeral.public_key.public_key_bytes());
    noise
        .mix_shared_secret(ephemeral.private_key.serialize(), &client_eph)
        .map_err(hs_err)?;
    let enc_static = noise.encrypt(&server.static_pub()).map_err(hs_err)?;
    noise
        .mix_shared_secret(server.static_kp.private_key.serialize(), &client_eph)
        .map_err(hs_err)?;
    let enc_cert = noise.encrypt(&server.cert_chain).map_err(hs_err)?;
    let server_hello = server_hello(&ephemeral, Some(enc_static), enc_cert);
    Ok(Responder::Xx {
        server_hello,
        pending: XxPending { noise, ephemeral },
    })
}

impl XxPending {
    pub fn finish(mut self, client_finish: &[u8]) -> Result<Established> {
        let msg = HandshakeMessage::decode_from_slice(client_finish).context("decode finish")?;
        let cf = msg
            .client_finish
            .into_option()
            .ok_or_else(|| anyhow!("no clientFinish"))?;
        let enc_static = cf.r#static.ok_or_else(|| anyhow!("no static"))?;
        let enc_payload = cf.payload.ok_or_else(|| anyhow!("no payload"))?;
        let client_static = key32(
            &self.noise.decrypt(&enc_static).map_err(hs_err)?,
            "client static",
        )?;
        self.noise
            .mix_shared_secret(self.ephemeral.private_key.serialize(), &client_static)
            .map_err(hs_err)?;
        let payload = self.noise.decrypt(&enc_payload).map_err(hs_err)?;
        split(self.noise, client_static, &payload)
    }
}

/// IK responder (`<- s ; -> e, es, s, ss ; <- e, ee, se`). The mock never
/// forces XX-fallback: its static key is stable, so a cached key is valid.
fn ik_accept(
    server: &ServerIdentity,
    client_eph: [u8; 32],
    enc_static: &[u8],
    enc_payload: &[u8],
) -> Result<Responder> {
    let server_priv = server.static_kp.private_key.serialize();
    let mut noise = NoiseHandshake::new(NOISE_PATTERN_IK, &WA_CONN_HEADER).map_err(hs_err)?;
    noise.authenticate(&server.static_pub());
    noise.authenticate(&client_eph);
    noise
        .mix_shared_secret(server_priv, &client_eph)
        .map_err(hs_err)?;
    let client_static = key32(&noise.decrypt(enc_static).map_err(hs_err)?, "client static")?;
    noise
        .mix_shared_secret(server_priv, &client_static)
        .map_err(hs_err)?;
    let payload = noise.decrypt(enc_payload).map_err(hs_err)?;

    let ephemeral = KeyPair::generate(&mut rand::rng());
    noise.authenticate(ephemeral.public_key.public_key_bytes());
    let eph_priv = ephemeral.private_key.serialize();
    noise
        .mix_shared_secret(eph_priv, &client_eph)
        .map_err(hs_err)?;
    noise
        .mix_shared_secret(eph_priv, &client_static)
        .map_err(hs_err)?;
    let enc_cert = noise.encrypt(&server.cert_chain).map_err(hs_err)?;
    let server_hello = server_hello(&ephemeral, None, enc_cert);
    let established = split(noise, client_static, &payload)?;
    Ok(Responder::Ik {
        server_hello,
        established,
    })
}

fn server_hello(ephemeral: &KeyPair, enc_static: Option<Vec<u8>>, enc_cert: Vec<u8>) -> Vec<u8> {
    HandshakeMessage {
        server_hello: MessageField::some(wa::handshake_message::ServerHello {
            ephemeral: Some(ephemeral.public_key.public_key_bytes().to_vec()),
            r#static: enc_static,
            payload: Some(enc_cert),
            ..Default::default()
        }),
        ..Default::default()
    }
    .encode_to_vec()
}

/// The initiator writes with the first split key, so the responder reads with it.
fn split(noise: NoiseHandshake, client_static: [u8; 32], payload: &[u8]) -> Result<Established> {
    let (first, second) = noise.finish().map_err(hs_err)?;
    let payload = wa::ClientPayload::decode_from_slice(payload).context("decode ClientPayload")?;
    if payload.username.is_none() && payload.device_pairing_data.as_option().is_none() {
        bail!("ClientPayload has neither login nor registration data");
    }
    Ok(Established {
        read: first,
        write: second,
        client_static,
        payload,
    })
}
