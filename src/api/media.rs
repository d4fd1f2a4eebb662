//! Media a client hands us: a URL we fetch, or base64 (raw, or a `data:` URI).
//!
//! URLs follow the webhook rule for private addresses (`ZAPGATE_WEBHOOK_ALLOW_PRIVATE`): a server
//! that refuses private webhook targets refuses to fetch from them too, so a send cannot be used
//! to probe the internal network.

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;

use super::error::ApiError;
use crate::events::webhook::{PublicOnlyResolver, is_private_literal};

const FETCH_TIMEOUT: Duration = Duration::from_secs(60);

pub struct MediaFetcher {
    http: reqwest::Client,
    allow_private: bool,
    /// Largest media accepted, in bytes (the request body limit).
    max_bytes: usize,
}

impl MediaFetcher {
    pub fn new(allow_private: bool, max_bytes: usize) -> MediaFetcher {
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("zapgate/", env!("CARGO_PKG_VERSION")))
            .timeout(FETCH_TIMEOUT);
        if !allow_private {
            builder = builder
                .dns_resolver(Arc::new(PublicOnlyResolver))
                .redirect(reqwest::redirect::Policy::none());
        }
        MediaFetcher {
            http: builder.build().unwrap_or_default(),
            allow_private,
            max_bytes,
        }
    }

    /// The bytes of `media`, a URL or base64. Errors are the client's (400), never ours.
    pub async fn resolve(&self, media: &str) -> Result<Vec<u8>, ApiError> {
        let media = media.trim();
        if media.starts_with("http://") || media.starts_with("https://") {
            return self.fetch(media).await;
        }
        decode_base64(media)
            .ok_or_else(|| ApiError::BadRequest("Owned media must be a url or base64".into()))
    }

    async fn fetch(&self, url: &str) -> Result<Vec<u8>, ApiError> {
        let refused = |why: String| ApiError::BadRequest(format!("could not fetch media: {why}"));
        if !self.allow_private && is_private_literal(url) {
            return Err(refused("private addresses are not allowed".into()));
        }
        let resp = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| refused(e.to_string()))?;
        if !resp.status().is_success() {
            return Err(refused(format!("HTTP {}", resp.status().as_u16())));
        }
        if resp
            .content_length()
            .is_some_and(|n| n > self.max_bytes as u64)
        {
            return Err(refused("too large".into()));
        }
        let mut body = Vec::new();
        let mut resp = resp;
        while let Some(chunk) = resp.chunk().await.map_err(|e| refused(e.to_string()))? {
            if body.len() + chunk.len() > self.max_bytes {
                return Err(refused("too large".into()));
            }
            body.extend_from_slice(&chunk);
        }
        if body.is_empty() {
            return Err(refused("empty body".into()));
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
