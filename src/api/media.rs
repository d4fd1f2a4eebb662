//! Media a client hands us: a URL we fetch, or base64 (raw, or a `data:` URI).
//!
//! URLs follow the outbound rule (`crate::outbound`): a URL given with an instance token may
//! not reach private, loopback or link-local addresses unless `ZAPGATE_PRIVATE_TARGETS` lists
//! them. Every failure answers the same "could not fetch media", whatever the cause (refused,
//! closed port, timeout, status, size), so a send cannot be used to map the internal network;
//! the cause is logged at debug.

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::error::ApiError;
use crate::outbound::{Clients, Outbound, Requester};

/// Whole fetch, connect included.
const FETCH_TIMEOUT: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// The one answer to every failed fetch.
const COULD_NOT_FETCH: &str = "could not fetch media";

pub struct MediaFetcher {
    clients: Clients,
    /// Largest media accepted, in bytes (the request body limit).
    max_bytes: usize,
}

impl MediaFetcher {
    pub fn new(outbound: &Outbound, max_bytes: usize) -> Result<MediaFetcher, reqwest::Error> {
        let base = || {
            reqwest::Client::builder()
                .user_agent(concat!("zapgate/", env!("CARGO_PKG_VERSION")))
                .timeout(FETCH_TIMEOUT)
                .connect_timeout(CONNECT_TIMEOUT)
                .redirect(reqwest::redirect::Policy::limited(5))
        };
        Ok(MediaFetcher {
            clients: Clients::build(outbound, base)?,
            max_bytes,
        })
    }

    /// The bytes of `media`, a URL or base64, asked for by `who`. Errors are the client's (400).
    pub async fn resolve(&self, media: &str, who: Requester) -> Result<Vec<u8>, ApiError> {
        let media = media.trim();
        let lower = media.get(..8).unwrap_or(media).to_ascii_lowercase();
        if lower.starts_with("http://") || lower.starts_with("https://") {
            return self.fetch(media, who).await.map_err(|why| {
                tracing::debug!(%why, "media fetch failed");
                ApiError::BadRequest(COULD_NOT_FETCH.into())
            });
        }
        decode_base64(media)
            .ok_or_else(|| ApiError::BadRequest("Owned media must be a url or base64".into()))
    }

    /// The reason stays here (debug log); the caller only learns that it failed.
    async fn fetch(&self, url: &str, who: Requester) -> Result<Vec<u8>, String> {
        let http = self.clients.for_url(url, who).map_err(|e| e.to_string())?;
        let mut resp = http.get(url).send().await.map_err(|e| e.to_string())?;
        if !resp.status().is_success() {
            return Err(format!("HTTP {}", resp.status().as_u16()));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > self.max_bytes as u64)
        {
            return Err("too large (declared)".into());
        }
        let mut body = Vec::new();
        while let Some(chunk) = resp.chunk().await.map_err(|e| e.to_string())? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err("too large".into());
            }
            body.extend_from_slice(&chunk);
        }
        if body.is_empty() {
            return Err("empty body".into());
        }
        Ok(body)
    }
}

/// Raw base64 (whitespace tolerated) or a `data:...;base64,` URI.
pub fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let payload = match s.strip_prefix("data:") {
        Some(rest) => rest.split_once(";base64,")?.1,
        None => s,
    };
    let clean: String = payload.chars().filter(|c| !c.is_whitespace()).collect();
    B64.decode(clean).ok().filter(|b| !b.is_empty())
}

/// A mimetype from the first bytes, for clients that send none.
pub fn sniff_mimetype(data: &[u8]) -> Option<&'static str> {
    let starts = |p: &[u8]| data.starts_with(p);
    Some(if starts(b"\xFF\xD8\xFF") {
        "image/jpeg"
    } else if starts(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if starts(b"GIF8") {
        "image/gif"
    } else if starts(b"RIFF") && data.get(8..12) == Some(b"WEBP") {
        "image/webp"
    } else if starts(b"%PDF") {
        "application/pdf"
    } else if starts(b"OggS") {
        "audio/ogg; codecs=opus"
    } else if starts(b"ID3") || starts(b"\xFF\xFB") || starts(b"\xFF\xF3") {
        "audio/mpeg"
    } else if data.get(4..8) == Some(b"ftyp") {
        "video/mp4"
    } else {
        return None;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_forms() {
        assert_eq!(decode_base64("aGk="), Some(b"hi".to_vec()));
        assert_eq!(
            decode_base64("data:text/plain;base64,aGk="),
            Some(b"hi".to_vec())
        );
        assert_eq!(decode_base64("aG\nk="), Some(b"hi".to_vec()));
        assert_eq!(decode_base64("not base64!"), None);
        assert_eq!(decode_base64(""), None);
    }

    #[test]
    fn sniffing() {
        assert_eq!(sniff_mimetype(b"%PDF-1.7"), Some("application/pdf"));
        assert_eq!(sniff_mimetype(b"RIFF\0\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff_mimetype(b"plain"), None);
    }
}
