//! The engine's HTTP client for WhatsApp's media hosts (uploads, downloads, and the few other
//! requests whatsapp-rust makes).
//!
//! whatsapp-rust's default agent has no timeouts, follows the environment's proxy settings and
//! accepts 2 GiB bodies. Ours: bounded waits at every step, no proxy from the environment
//! (media requests carry the account's media auth token and must go straight to WhatsApp), and
//! the same size cap as the media a client may upload to us. Hosts come from WhatsApp's media
//! connection answer; the path is a message's `directPath`, checked by
//! [`crate::engine::MediaRef::plain_direct_path`] before any request.

use std::time::Duration;

use whatsapp_rust::http::UreqHttpClient;

const RESOLVE: Duration = Duration::from_secs(10);
const CONNECT: Duration = Duration::from_secs(10);
/// From the request sent to the response's first byte.
const RESPONSE: Duration = Duration::from_secs(60);
/// A stalled read or write ends the transfer.
const PER_READ_WRITE: Duration = Duration::from_secs(60);
/// The whole call, large media included.
const GLOBAL: Duration = Duration::from_secs(15 * 60);

/// The media client, capped at `max_bytes` per response body.
pub fn client(max_bytes: u64) -> UreqHttpClient {
    let builder = ureq::config::Config::builder()
        .proxy(None)
        .timeout_resolve(Some(RESOLVE))
        .timeout_connect(Some(CONNECT))
        .timeout_recv_response(Some(RESPONSE))
        .timeout_per_read(Some(PER_READ_WRITE))
        .timeout_per_write(Some(PER_READ_WRITE))
        .timeout_global(Some(GLOBAL))
        .max_redirects(0)
        .input_buffer_size(16 * 1024)
        .output_buffer_size(16 * 1024)
        .max_idle_connections(3)
        .max_idle_connections_per_host(2);
    // wa-mock's media host has a self-signed certificate; such a binary only talks to a
    // loopback WA URL (see `Config::validate`).
    #[cfg(feature = "wa-mock-peer")]
    let builder = builder.tls_config(
        ureq::tls::TlsConfig::builder()
            .disable_verification(true)
            .build(),
    );
    let agent: ureq::Agent = builder.build().into();
    UreqHttpClient::with_agent(agent).with_max_body_bytes(max_bytes.max(1))
}
