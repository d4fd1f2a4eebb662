//! The route table: every operation of the OpenAPI document, as the edge needs it (path
//! template, body class, how it is secured, whose envelope its refusals use). Built from the
//! document itself, so it cannot drift from the routes.

use poem::http::Method;
use serde_json::Value;

use super::gowa::auth::SCHEME as TOKEN_SCHEME;

/// What a request may send, by operation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BodyClass {
    /// No body is read (GET and the like).
    None,
    /// A JSON body: `ZAPGATE_MAX_JSON_BYTES`.
    Json,
    /// A body that may carry media as base64 or multipart: `ZAPGATE_MAX_BODY_BYTES`.
    Media,
}

/// Operations whose body may carry a file, by the literal start of their path.
const MEDIA_ROUTES: &[&str] = &[
    "/message/sendMedia/",
    "/message/sendWhatsAppAudio/",
    "/message/sendSticker/",
    "/message/sendPtv/",
    "/message/sendStatus/",
    "/chat/updateProfilePicture/",
    "/group/updateGroupPicture/",
    "/send/image",
    "/send/file",
    "/send/video",
    "/send/audio",
];

/// Operations that change nothing although their method is not GET: Evolution's lookups are
/// POSTs with a filter body. A read-only key may call these.
const READS_BY_POST: &[&str] = &[
    "fetch_business_profile",
    "fetch_profile",
    "fetch_profile_picture_url",
    "find_chats",
    "find_contacts",
    "find_messages",
    "find_status_message",
    "get_base64_from_media_message",
    "whatsapp_numbers",
];

/// GETs that act: they connect, log in or out, or join a group. A read-only key may not.
const WRITES_BY_GET: &[&str] = &[
    "connect_instance",
    "accept_invite_code",
    "session_qr",
    "gowa_login",
    "gowa_login_with_code",
    "gowa_logout",
    "gowa_reconnect",
];

/// Whether an operation changes something (what a read-only key is refused): any method but
/// GET, except the listed lookups, and the listed GETs.
pub fn is_write(method: &Method, operation_id: &str) -> bool {
    if *method == Method::GET || *method == Method::HEAD {
        WRITES_BY_GET.contains(&operation_id)
    } else {
        !READS_BY_POST.contains(&operation_id)
    }
}

/// Whose words a refusal is in: Evolution's envelope, or the token-scoped (GOWA) one for the
/// operations tagged [`gowa::TAG`](super::gowa::TAG).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Evolution,
    Gowa,
}

#[derive(Debug)]
enum Segment {
    Literal(String),
    Instance,
    Param,
}

#[derive(Debug)]
struct Operation {
    /// The document's `operationId` (the metrics label a request is counted under).
    id: String,
    method: Method,
    segments: Vec<Segment>,
    body: BodyClass,
    secured: bool,
    /// Secured by an instance token (`X-Instance-Token`) rather than `apikey`.
    token_scoped: bool,
    dialect: Dialect,
    write: bool,
}

/// An operation a request matched, with its instance name when the path has one.
pub struct Matched<'a> {
    /// The operation's `operationId`.
    pub operation: &'a str,
    pub body: BodyClass,
    pub secured: bool,
    pub token_scoped: bool,
    pub dialect: Dialect,
    /// Whether it changes something ([`is_write`]).
    pub write: bool,
    pub instance: Option<String>,
    _op: &'a Operation,
}

/// Every operation of the OpenAPI document.
pub struct RouteTable {
    ops: Vec<Operation>,
}

impl RouteTable {
    /// Reads the operations out of the spec's `paths`.
    pub fn from_spec(spec: &Value) -> RouteTable {
        let mut ops = Vec::new();
        for (path, item) in spec["paths"].as_object().into_iter().flatten() {
            let segments = path
                .split('/')
                .filter(|s| !s.is_empty())
                .map(|s| match s {
                    "{instanceName}" => Segment::Instance,
                    s if s.starts_with('{') => Segment::Param,
                    s => Segment::Literal(s.to_string()),
                })
                .collect::<Vec<_>>();
            for (method, op) in item.as_object().into_iter().flatten() {
                let Ok(method) = method.to_ascii_uppercase().parse::<Method>() else {
                    continue;
                };
                let body = if op.get("requestBody").is_none() {
                    BodyClass::None
                } else if MEDIA_ROUTES.iter().any(|m| path.starts_with(m)) {
                    BodyClass::Media
                } else {
                    BodyClass::Json
                };
                let security = op.get("security").and_then(Value::as_array);
                let secured = security.is_some_and(|s| !s.is_empty());
                let token_scoped =
                    security.is_some_and(|s| s.iter().any(|req| req.get(TOKEN_SCHEME).is_some()));
                let dialect = if op
                    .get("tags")
                    .and_then(Value::as_array)
                    .is_some_and(|t| t.iter().any(|t| t == super::gowa::TAG))
                {
                    Dialect::Gowa
                } else {
                    Dialect::Evolution
                };
                let id = op["operationId"].as_str().unwrap_or_default().to_string();
                ops.push(Operation {
                    write: is_write(&method, &id),
                    id,
                    method: method.clone(),
                    segments: segments.iter().map(Segment::copy).collect(),
                    body,
                    secured,
                    token_scoped,
                    dialect,
                });
            }
        }
        RouteTable { ops }
    }

    /// The operation `method path` is for, if the document has it. When several match, the
    /// one with a literal segment where the others have a parameter wins, earliest segment
    /// first, as in poem's router (so the gate and the router agree on the operation).
    pub fn find(&self, method: &Method, path: &str) -> Option<Matched<'_>> {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        self.ops
            .iter()
            .filter_map(|op| {
                if op.method != *method || op.segments.len() != parts.len() {
                    return None;
                }
                let mut instance = None;
                for (seg, part) in op.segments.iter().zip(&parts) {
                    match seg {
                        Segment::Literal(l) if l != part => return None,
                        Segment::Literal(_) | Segment::Param => {}
                        Segment::Instance => instance = Some(percent_decode_path(part)),
                    }
                }
                Some(Matched {
                    operation: &op.id,
                    body: op.body,
                    secured: op.secured,
                    token_scoped: op.token_scoped,
                    dialect: op.dialect,
                    write: op.write,
                    instance,
                    _op: op,
                })
            })
            .max_by_key(|m| {
                m._op
                    .segments
                    .iter()
                    .map(|s| matches!(s, Segment::Literal(_)))
                    .collect::<Vec<bool>>()
            })
    }

    /// The methods the document has for `path`, whatever the request's method (for `Allow`).
    pub fn methods_for(&self, path: &str) -> Vec<Method> {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        let mut methods: Vec<Method> = self
            .ops
            .iter()
            .filter(|op| {
                op.segments.len() == parts.len()
                    && op
                        .segments
                        .iter()
                        .zip(&parts)
                        .all(|(s, p)| !matches!(s, Segment::Literal(l) if l != p))
            })
            .map(|op| op.method.clone())
            .collect();
        methods.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        methods.dedup();
        methods
    }

    /// The literal path starts listed in [`MEDIA_ROUTES`] that the document has no operation
    /// for (a renamed route would otherwise silently fall back to the small limit).
    pub fn unknown_media_routes(&self) -> Vec<&'static str> {
        MEDIA_ROUTES
            .iter()
            .copied()
            .filter(|m| {
                let lits: Vec<&str> = m.split('/').filter(|s| !s.is_empty()).collect();
                !self.ops.iter().any(|op| {
                    op.segments.len() >= lits.len()
                        && op
                            .segments
                            .iter()
                            .zip(&lits)
                            .all(|(s, l)| matches!(s, Segment::Literal(x) if x == l))
                })
            })
            .collect()
    }
}

impl Segment {
    fn copy(&self) -> Segment {
        match self {
            Segment::Literal(l) => Segment::Literal(l.clone()),
            Segment::Instance => Segment::Instance,
            Segment::Param => Segment::Param,
        }
    }
}

/// `%XX` escapes of one path segment (poem hands handlers the decoded name).
fn percent_decode_path(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16).map(|d| d as u8);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push(h * 16 + l);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn write_ness_lists_name_operations_of_the_document() {
        // A renamed operation would silently change what a read-only key may do.
        let doc: Value =
            serde_json::from_str(include_str!("../../openapi/openapi.json")).expect("document");
        let t = RouteTable::from_spec(&doc);
        for id in READS_BY_POST.iter().chain(WRITES_BY_GET) {
            assert!(
                t.ops.iter().any(|o| o.id == *id),
                "{id} is not in the document"
            );
        }
        assert!(!is_write(&Method::POST, "find_messages"));
        assert!(is_write(&Method::POST, "send_text"));
        assert!(is_write(&Method::GET, "connect_instance"));
        assert!(!is_write(&Method::GET, "connection_state"));
        assert!(is_write(&Method::DELETE, "delete_instance"));
    }

    #[test]
    fn percent_decoding_of_names() {
        assert_eq!(percent_decode_path("a%20b"), "a b");
        assert_eq!(percent_decode_path("a%2"), "a%2");
        assert_eq!(percent_decode_path("%C3%A9"), "é");
    }

    #[test]
    fn a_literal_segment_wins_over_a_parameter() {
        let spec = serde_json::json!({"paths": {
            "/message/sendText/{instanceName}": {"post": {"requestBody": {}}},
            "/message/{message_id}/revoke": {"post": {"requestBody": {}, "tags": ["TokenScoped"],
                "security": [{"instanceToken": []}]}},
        }});
        let t = RouteTable::from_spec(&spec);
        let evo = t
            .find(&Method::POST, "/message/sendText/revoke")
            .expect("found");
        assert_eq!(evo.instance.as_deref(), Some("revoke"));
        assert_eq!(evo.dialect, Dialect::Evolution);
        let gowa = t
            .find(&Method::POST, "/message/3EB0AB/revoke")
            .expect("found");
        assert!(gowa.token_scoped);
        assert_eq!(gowa.dialect, Dialect::Gowa);
    }

    #[test]
    fn a_literal_last_segment_wins_and_names_its_operation() {
        let spec = serde_json::json!({"paths": {
            "/sessions/{id}": {"post": {"operationId": "create_session", "requestBody": {}}},
            "/sessions/cleanup-inactive": {"post": {"operationId": "sessions_cleanup_inactive"}},
        }});
        let table = RouteTable::from_spec(&spec);
        let op = |path: &str| {
            table
                .find(&Method::POST, path)
                .map(|m| m.operation.to_string())
        };
        assert_eq!(
            op("/sessions/cleanup-inactive").as_deref(),
            Some("sessions_cleanup_inactive")
        );
        assert_eq!(op("/sessions/ana").as_deref(), Some("create_session"));
        assert_eq!(
            table.find(&Method::POST, "/sessions/ana").map(|m| m.body),
            Some(BodyClass::Json)
        );
    }
}
