//! The edge middleware: the gate's decision, then every request body counted as it arrives.
//!
//! Nothing here trusts a header. A body is wrapped in a counter that fails the read the moment
//! it passes its operation's limit (JSON or media, see `gate`), whether it came with a
//! Content-Length, chunked, or as HTTP/2 DATA frames with neither; the handler's parse error is
//! then replaced by the 413 the client deserves. Bytes held by bodies in flight across the whole
//! server are capped (`ZAPGATE_MAX_BODY_BYTES_IN_FLIGHT`): a body that cannot get room waits
//! briefly and is refused with 503. A body that stalls or crawls is cut off with 408.

use std::io;
use std::sync::{Arc, OnceLock};

use parking_lot::Mutex;
use std::time::Duration;

use bytes::Bytes;
use clap::Args;
use futures_util::{Stream, StreamExt};
use poem::http::{HeaderValue, header};
use poem::{Body, Endpoint, IntoResponse, Request, Response};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;

use super::error::ApiError;
use super::gate::{BodyClass, Denied, Dialect, Gate};
use super::gowa::error::GowaError;
use crate::state::AppState;

/// Body limits, flattened into [`Config`](crate::config::Config). The media limit is
/// `ZAPGATE_MAX_BODY_BYTES`.
#[derive(Debug, Clone, Args)]
pub struct BodyLimits {
    /// Ours: largest body of an operation that takes JSON only (media routes take
    /// `ZAPGATE_MAX_BODY_BYTES`).
    #[arg(long, env = "ZAPGATE_MAX_JSON_BYTES", default_value_t = 1024 * 1024)]
    pub max_json_bytes: usize,

    /// Ours: request body bytes held at once across the server.
    #[arg(long, env = "ZAPGATE_MAX_BODY_BYTES_IN_FLIGHT", default_value_t = 512 * 1024 * 1024)]
    pub max_body_bytes_in_flight: usize,

    /// Ours: seconds a whole request body may take to arrive.
    #[arg(long, env = "ZAPGATE_BODY_READ_TIMEOUT_SECS", default_value_t = 300)]
    pub body_read_timeout_secs: u64,
}

/// Longest pause between two pieces of a body, and longest wait for room in the budget.
const BODY_STALL: Duration = Duration::from_secs(30);

/// Why a body was cut off; set by the counter, read by the middleware once the handler is done.
#[derive(Clone, Copy, Debug)]
enum Refusal {
    TooLarge(usize),
    Stalled,
    Busy,
}

impl Refusal {
    fn error(self) -> ApiError {
        match self {
            Refusal::TooLarge(max) => ApiError::PayloadTooLarge(max),
            Refusal::Stalled => ApiError::RequestTimeout,
            Refusal::Busy => {
                ApiError::Unavailable("too many request bodies in flight, retry later".into())
            }
        }
    }
}

/// The byte budget shared by every body in flight.
pub struct BodyBudget {
    bytes: Arc<Semaphore>,
    limits: BodyLimits,
    media_max: usize,
}

impl BodyBudget {
    pub fn new(limits: &BodyLimits, media_max: usize) -> BodyBudget {
        BodyBudget {
            bytes: Arc::new(Semaphore::new(
                limits.max_body_bytes_in_flight.min(Semaphore::MAX_PERMITS),
            )),
            limits: limits.clone(),
            media_max,
        }
    }

    /// Body bytes held right now, for `/health`.
    pub fn in_flight(&self) -> u64 {
        let cap = self
            .limits
            .max_body_bytes_in_flight
            .min(Semaphore::MAX_PERMITS);
        cap.saturating_sub(self.bytes.available_permits()) as u64
    }

    fn limit(&self, class: BodyClass) -> usize {
        match class {
            BodyClass::Media => self.media_max,
            BodyClass::Json | BodyClass::None => self.limits.max_json_bytes.min(self.media_max),
        }
    }
}

/// What one body holds of the budget, given back when the request is answered.
type Held = Arc<Mutex<Vec<OwnedSemaphorePermit>>>;

/// Wraps `body` so it fails past `max` bytes, on a stall, or when the budget has no room.
fn counted(
    body: Body,
    max: usize,
    budget: Arc<Semaphore>,
    total: Duration,
    refusal: Arc<OnceLock<Refusal>>,
    held: Held,
) -> impl Stream<Item = io::Result<Bytes>> + Send + 'static {
    let deadline = Instant::now() + total;
    let inner = body.into_bytes_stream().boxed();
    futures_util::stream::unfold((inner, 0usize, false), move |(mut inner, seen, done)| {
        let (budget, refusal, held) = (budget.clone(), refusal.clone(), held.clone());
        async move {
            if done {
                return None;
            }
            let fail = |r: Refusal| {
                let _ = refusal.set(r);
                Some((
                    Err(io::Error::other("request body refused")),
                    (inner_placeholder(), seen, true),
                ))
            };
            let wait = BODY_STALL.min(deadline.saturating_duration_since(Instant::now()));
            let chunk = match tokio::time::timeout(wait, inner.next()).await {
                Err(_) => return fail(Refusal::Stalled),
                Ok(None) => return None,
                Ok(Some(Err(e))) => return Some((Err(e), (inner, seen, true))),
                Ok(Some(Ok(c))) => c,
            };
            let seen = seen + chunk.len();
            if seen > max {
                linger_stream(inner);
                return fail(Refusal::TooLarge(max));
            }
            if !chunk.is_empty() {
                let n = u32::try_from(chunk.len()).unwrap_or(u32::MAX);
                // Waiting for room is brief: a full budget means bodies are queuing.
                let room_wait = BODY_STALL.min(total / 4);
                match tokio::time::timeout(room_wait, budget.acquire_many_owned(n)).await {
                    Ok(Ok(permit)) => {
                        let mut h = held.lock();
                        h.push(permit);
                    }
                    Ok(Err(_)) | Err(_) => {
                        linger_stream(inner);
                        return fail(Refusal::Busy);
                    }
                }
            }
            Some((Ok(chunk), (inner, seen, false)))
        }
    })
}

/// A finished stream to park in the state once the body has failed.
fn inner_placeholder() -> futures_util::stream::BoxStream<'static, io::Result<Bytes>> {
    futures_util::stream::empty().boxed()
}

/// How much of a refused body is still read and thrown away, and for how long, so an HTTP/1
/// client that is still sending gets to read the answer instead of a reset connection (the
/// "lingering close" of web servers). Nothing read here is kept.
const LINGER_BYTES: usize = 1024 * 1024;
const LINGER_TIME: Duration = Duration::from_secs(2);

/// Reads and discards what is left of a refused body, within [`LINGER_BYTES`] and
/// [`LINGER_TIME`].
fn linger(body: Body) {
    linger_stream(body.into_bytes_stream().boxed());
}

fn linger_stream(mut stream: futures_util::stream::BoxStream<'static, io::Result<Bytes>>) {
    tokio::spawn(async move {
        let mut left = LINGER_BYTES;
        let _ = tokio::time::timeout(LINGER_TIME, async {
            while let Some(Ok(chunk)) = stream.next().await {
                left = left.saturating_sub(chunk.len());
                if left == 0 {
                    break;
                }
            }
        })
        .await;
    });
}

/// The answer for a refusal: the envelope, and `Connection: close` because the rest of the body
/// was never read, so the connection cannot carry another request.
fn refuse(err: ApiError) -> Response {
    close(poem::error::ResponseError::as_response(&err))
}

fn close(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CONNECTION, HeaderValue::from_static("close"));
    resp
}

/// 405 with the `Allow` header RFC 9110 asks for.
fn method_not_allowed(allowed: &[poem::http::Method]) -> Response {
    let status = poem::http::StatusCode::METHOD_NOT_ALLOWED;
    let body = super::error::envelope(status, serde_json::json!(["method not allowed"]));
    let allow = allowed
        .iter()
        .map(|m| m.as_str())
        .collect::<Vec<_>>()
        .join(", ");
    let mut resp = Response::builder()
        .status(status)
        .content_type("application/json; charset=utf-8")
        .body(body.to_string());
    if let Ok(v) = HeaderValue::from_str(&allow) {
        resp.headers_mut().insert(header::ALLOW, v);
    }
    resp
}

/// The edge middleware. `gate` and `budget` are built once at start; see the module doc.
pub async fn edge<E: Endpoint>(
    next: E,
    mut req: Request,
    state: Arc<AppState>,
    gate: Arc<Gate>,
    budget: Arc<BodyBudget>,
) -> poem::Result<Response> {
    let matched = gate.routes.find(req.method(), req.uri().path());
    if matched.is_none() && req.method() != poem::http::Method::OPTIONS {
        let allowed = gate.routes.methods_for(req.uri().path());
        if !allowed.is_empty() {
            linger(req.take_body());
            return Ok(method_not_allowed(&allowed));
        }
    }
    let class = matched.as_ref().map_or(BodyClass::Json, |m| m.body);
    let max = budget.limit(class);
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        linger(req.take_body());
        let dialect = matched.as_ref().map_or(Dialect::Evolution, |m| m.dialect);
        return Ok(close(
            Denied::Api(ApiError::PayloadTooLarge(max)).response(dialect),
        ));
    }
    let dialect = matched.as_ref().map_or(Dialect::Evolution, |m| m.dialect);
    if let Some(op) = &matched
        && let Err(e) = gate.admit(&state, &req, op)
    {
        let body_unread = op.body != BodyClass::None && declared != Some(0);
        return Ok(if body_unread {
            linger(req.take_body());
            close(e.response(dialect))
        } else {
            e.response(dialect)
        });
    }
    let refusal = Arc::new(OnceLock::new());
    let held: Held = Arc::default();
    let body = req.take_body();
    req.set_body(Body::from_bytes_stream(counted(
        body,
        max,
        budget.bytes.clone(),
        Duration::from_secs(budget.limits.body_read_timeout_secs.max(1)),
        refusal.clone(),
        held.clone(),
    )));
    let result = next.call(req).await;
    drop(held);
    // The handler saw a failed read and answered something else (a parse error, usually):
    // the client is told what really happened. Other errors go on to the envelope layer.
    match (refusal.get(), dialect) {
        (Some(r), Dialect::Evolution) => Ok(refuse(r.error())),
        (Some(r), Dialect::Gowa) => Ok(close(Denied::Api(r.error()).response(dialect))),
        (None, Dialect::Evolution) => result.map(IntoResponse::into_response),
        // The token-scoped routes answer every error in their own envelope, poem's own
        // (unparsable JSON, a missing parameter) included.
        (None, Dialect::Gowa) => Ok(match result {
            Ok(resp) => resp.into_response(),
            Err(e) => poem::error::ResponseError::as_response(&GowaError::from_poem(e)),
        }),
    }
}

/// The status of a response produced for `err`, for tests.
#[cfg(test)]
fn status_of(err: ApiError) -> poem::http::StatusCode {
    refuse(err).status()
}

#[cfg(test)]
mod tests {
    use super::*;

    async fn read_all(s: impl Stream<Item = io::Result<Bytes>>) -> Result<usize, ()> {
        let mut s = std::pin::pin!(s);
        let mut n = 0;
        while let Some(c) = s.next().await {
            n += c.map_err(|_| ())?.len();
        }
        Ok(n)
    }

    fn chunks(sizes: &[usize]) -> Body {
        let parts: Vec<io::Result<Bytes>> = sizes
            .iter()
            .map(|n| Ok(Bytes::from(vec![b'x'; *n])))
            .collect();
        Body::from_bytes_stream(futures_util::stream::iter(parts))
    }

    #[tokio::test]
    async fn counts_whatever_the_headers_say() {
        let budget = Arc::new(Semaphore::new(1 << 20));
        let refusal = Arc::new(OnceLock::new());
        let held: Held = Arc::default();
        let s = counted(
            chunks(&[400, 400, 400]),
            1000,
            budget.clone(),
            Duration::from_secs(5),
            refusal.clone(),
            held.clone(),
        );
        assert!(read_all(s).await.is_err());
        assert!(matches!(refusal.get(), Some(Refusal::TooLarge(1000))));
        assert_eq!(
            status_of(ApiError::PayloadTooLarge(1000)),
            poem::http::StatusCode::PAYLOAD_TOO_LARGE
        );
        // What was read is held until the request is answered, then given back.
        assert_eq!(budget.available_permits(), (1 << 20) - 800);
        drop(held);
        assert_eq!(budget.available_permits(), 1 << 20);
    }

    #[tokio::test]
    async fn a_body_within_the_limit_passes() {
        let budget = Arc::new(Semaphore::new(1 << 20));
        let refusal = Arc::new(OnceLock::new());
        let s = counted(
            chunks(&[10, 20, 30]),
            60,
            budget,
            Duration::from_secs(5),
            refusal.clone(),
            Arc::default(),
        );
        assert_eq!(read_all(s).await, Ok(60));
        assert!(refusal.get().is_none());
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(64))]
        /// Whatever the pieces, no more than `max` bytes ever reach the handler, the read fails
        /// exactly when the body is larger, and the budget is whole again afterwards.
        #[test]
        fn never_more_than_the_limit(
            sizes in proptest::collection::vec(0usize..4096, 0..24),
            max in 0usize..40_000,
        ) {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let total: usize = sizes.iter().sum();
            let (delivered, failed, refusal, left) = rt.block_on(async {
                let budget = Arc::new(Semaphore::new(1 << 20));
                let refusal = Arc::new(OnceLock::new());
                let held: Held = Arc::default();
                let s = counted(
                    chunks(&sizes),
                    max,
                    budget.clone(),
                    Duration::from_secs(5),
                    refusal.clone(),
                    held.clone(),
                );
                let (mut delivered, mut failed) = (0, false);
                {
                    let mut s = std::pin::pin!(s);
                    while let Some(c) = s.next().await {
                        match c {
                            Ok(c) => delivered += c.len(),
                            Err(_) => {
                                failed = true;
                                break;
                            }
                        }
                    }
                }
                // The request is answered: the body (and its share of the budget) is gone.
                drop(held);
                (delivered, failed, refusal.get().copied(), budget.available_permits())
            });
            proptest::prop_assert!(delivered <= max);
            proptest::prop_assert_eq!(failed, total > max);
            proptest::prop_assert_eq!(matches!(refusal, Some(Refusal::TooLarge(_))), total > max);
            if total <= max {
                proptest::prop_assert_eq!(delivered, total);
            }
            proptest::prop_assert_eq!(left, 1 << 20);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_full_budget_refuses_with_busy() {
        let budget = Arc::new(Semaphore::new(100));
        let _hog = budget.clone().acquire_many_owned(100).await.unwrap();
        let refusal = Arc::new(OnceLock::new());
        let s = counted(
            chunks(&[10]),
            1000,
            budget,
            Duration::from_secs(600),
            refusal.clone(),
            Arc::default(),
        );
        assert!(read_all(s).await.is_err());
        assert!(matches!(refusal.get(), Some(Refusal::Busy)));
    }
}
