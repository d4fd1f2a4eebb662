//! The request body limit. poem's `SizeLimit` insists on a Content-Length, which would refuse
//! every bodiless GET; this one checks the header when present and otherwise reads a chunked
//! body up to the limit, so nothing larger than `ZAPGATE_MAX_BODY_BYTES` is ever buffered.

use poem::http::StatusCode;
use poem::{Body, Endpoint, IntoResponse, Request, Response};
use tokio::io::AsyncReadExt;

use super::error::ApiError;

#[derive(Debug, thiserror::Error)]
#[error("request body is larger than {0} bytes")]
struct TooLarge(usize);

impl poem::error::ResponseError for TooLarge {
    fn status(&self) -> StatusCode {
        StatusCode::PAYLOAD_TOO_LARGE
    }
}

pub async fn limit_body<E: Endpoint>(
    next: E,
    mut req: Request,
    max: usize,
) -> poem::Result<Response> {
    let declared = req
        .headers()
        .get(poem::http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(len) if len > max as u64 => return Err(TooLarge(max).into()),
        Some(_) => {}
        None if req
            .headers()
            .contains_key(poem::http::header::TRANSFER_ENCODING) =>
        {
            let mut buf = Vec::new();
            let read = req
                .take_body()
                .into_async_read()
                .take(max as u64 + 1)
                .read_to_end(&mut buf)
                .await;
            if read.is_err() {
                return Err(ApiError::BadRequest("could not read the request body".into()).into());
            }
            if buf.len() > max {
                return Err(TooLarge(max).into());
            }
            req.set_body(Body::from(buf));
        }
        None => {}
    }
    Ok(next.call(req).await?.into_response())
}
