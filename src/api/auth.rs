//! Who is calling. The `apikey` header (or `?apikey=` for streams) holds the global key,
//! accepted everywhere; an instance token, accepted only on that instance's routes; or a scoped
//! key (`/keys`, [`crate::store::keys`]), accepted on the instances its scope reaches: those it
//! created (a tenant key) or those it names. Whether a scoped key may write (read-only keys)
//! is decided once, at the edge (`gate.rs`), from the operation.
//!
//! Evolution checks in this order, and clients see the difference: an unknown instance is 404
//! before the key is looked at; a taken name on create is 403 before the key is looked at; then
//! 401 with the plain string "Unauthorized". Keys are compared in constant time and never logged.

use poem::Request;
use poem_openapi::registry::{MetaSecurityScheme, Registry};
use poem_openapi::{ApiExtractor, ApiExtractorType, ExtractParamOptions};
use subtle::ConstantTimeEq;

use super::error::ApiError;
use crate::instance::InstanceHandle;
use crate::state::AppState;
use crate::store::keys::{KeyRecord, KeyScope};

/// The key a request carries, if any. Extracting it never fails: the decision belongs to
/// [`AppState::instance_access`] and friends, after the instance lookup.
pub struct ApiKey(pub Option<String>);

impl<'a> ApiExtractor<'a> for ApiKey {
    const TYPES: &'static [ApiExtractorType] = &[ApiExtractorType::SecurityScheme];
    type ParamType = ();
    type ParamRawType = ();

    fn register(registry: &mut Registry) {
        registry.create_security_scheme(
            "apikey",
            MetaSecurityScheme {
                ty: "apiKey",
                description: Some(
                    "The global key (AUTHENTICATION_API_KEY), an instance token, or a scoped key \
                     (`/keys`).",
                ),
                name: Some("apikey"),
                key_in: Some("header"),
                scheme: None,
                bearer_format: None,
                flows: None,
                openid_connect_url: None,
            },
        );
    }

    fn security_schemes() -> Vec<&'static str> {
        vec!["apikey"]
    }

    async fn from_request(
        req: &'a Request,
        _body: &mut poem::RequestBody,
        _opts: ExtractParamOptions<Self::ParamType>,
    ) -> poem::Result<Self> {
        Ok(ApiKey(key_of(req)))
    }
}

/// The `apikey` header, else an `apikey` query parameter (WebSocket/SSE clients cannot always
/// set headers).
pub fn key_of(req: &Request) -> Option<String> {
    if let Some(v) = req.headers().get("apikey").and_then(|v| v.to_str().ok()) {
        return Some(v.to_string());
    }
    req.uri().query().and_then(|q| {
        q.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == "apikey").then(|| percent_decode(v))
        })
    })
}

pub(crate) fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let hex = |b: u8| (b as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => match (hex(bytes[i + 1]), hex(bytes[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push(h * 16 + l);
                    i += 3;
                    continue;
                }
                _ => out.push(b'%'),
            },
            b'+' => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Constant-time string equality (length differences return early, which leaks only length).
pub fn constant_time_eq(a: &str, b: &str) -> bool {
    a.as_bytes().ct_eq(b.as_bytes()).into()
}

/// Who a key belongs to.
pub enum Caller {
    Global,
    Instance(InstanceHandle),
    /// A scoped key: the instances [`KeyRecord::reaches`].
    Tenant(KeyRecord),
}

impl AppState {
    pub(crate) fn is_global(&self, key: &ApiKey) -> bool {
        key.0
            .as_deref()
            .is_some_and(|k| constant_time_eq(k, &self.api_key))
    }

    /// Who a request comes from, for the outbound rule (`crate::outbound`): the global key's
    /// holder is trusted, anyone else counts as a token.
    pub fn requester(&self, key: &ApiKey) -> crate::outbound::Requester {
        if self.is_global(key) {
            crate::outbound::Requester::Global
        } else {
            crate::outbound::Requester::Token
        }
    }

    /// Global key only (create, operator routes).
    pub fn require_global(&self, key: &ApiKey) -> Result<(), ApiError> {
        if self.is_global(key) {
            Ok(())
        } else {
            Err(ApiError::Unauthorized)
        }
    }

    /// An instance route: 404 for an unknown instance, then the global key or its own token.
    pub fn instance_access(&self, name: &str, key: &ApiKey) -> Result<InstanceHandle, ApiError> {
        let handle = self
            .registry
            .get(name)
            .ok_or_else(|| ApiError::InstanceNotFound(name.to_string()))?;
        if self.is_global(key)
            || key.0.as_deref().is_some_and(|k| handle.token_matches(k))
            || self
                .scoped_key(key)
                .is_some_and(|k| k.reaches(handle.name(), handle.owner()))
        {
            Ok(handle)
        } else {
            Err(ApiError::Unauthorized)
        }
    }

    /// The scoped key `key` is, if any: a revoked key is no longer found.
    pub fn scoped_key(&self, key: &ApiKey) -> Option<KeyRecord> {
        key.0.as_deref().and_then(|k| self.keys.find(k))
    }

    /// Who may create an instance, and who will own it: the global key (`None`), or a tenant
    /// key that may write and is not limited to chats (the key's id).
    pub fn creator(&self, key: &ApiKey) -> Result<Option<uuid::Uuid>, ApiError> {
        if self.is_global(key) {
            return Ok(None);
        }
        match self.scoped_key(key) {
            Some(k) if k.scope == KeyScope::Tenant && !k.read_only && k.chats.is_none() => {
                Ok(Some(k.id))
            }
            Some(_) => Err(ApiError::Forbidden(
                "This key may not create instances (only a writable tenant key may)".into(),
            )),
            None => Err(ApiError::Unauthorized),
        }
    }

    /// The instances a caller sees in lists: all, its own, or its scope's.
    pub fn visible(&self, caller: &Caller) -> Vec<InstanceHandle> {
        match caller {
            Caller::Global => self.registry.all(),
            Caller::Instance(h) => vec![h.clone()],
            Caller::Tenant(k) => self
                .registry
                .all()
                .into_iter()
                .filter(|h| k.reaches(h.name(), h.owner()))
                .collect(),
        }
    }

    /// Routes open to any valid key (fetchInstances, the event stream).
    pub fn caller(&self, key: &ApiKey) -> Result<Caller, ApiError> {
        if self.is_global(key) {
            return Ok(Caller::Global);
        }
        if let Some(k) = self.scoped_key(key) {
            return Ok(Caller::Tenant(k));
        }
        let k = key.0.as_deref().ok_or(ApiError::Unauthorized)?;
        self.instance_by_token(k)
            .map(Caller::Instance)
            .ok_or(ApiError::Unauthorized)
    }

    /// The instance whose token `token` is (the global key is no instance's token).
    pub fn instance_by_token(&self, token: &str) -> Option<InstanceHandle> {
        // Every token is compared, found or not, so timing does not reveal the position.
        let mut found = None;
        for h in self.registry.all() {
            if h.token_matches(token) && found.is_none() {
                found = Some(h);
            }
        }
        found
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn compares_and_decodes() {
        assert!(constant_time_eq("abc", "abc"));
        assert!(!constant_time_eq("abc", "abd"));
        assert!(!constant_time_eq("abc", "ab"));
        assert_eq!(percent_decode("a%20b+c%2"), "a b c%2");
    }
}
