//! `/call/offer`: Evolution's "fake call", a call that rings the number for `callDuration`
//! seconds and carries no media. LOOPBACK instances place it on the loopback network; the real
//! engine cannot place calls (it is built without WebRTC) and answers 400.

use std::sync::Arc;
use std::time::Duration;

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use super::auth::ApiKey;
use super::error::ApiError;
use super::message::{jid, required};
use super::required::{Optional, Required};
use crate::engine::call::MAX_RING_SECS;
use crate::engine::group::is_group_jid;
use crate::state::AppState;

#[derive(Tags)]
enum Tag {
    /// Calls.
    Call,
}

pub struct CallApi {
    pub state: Arc<AppState>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct OfferCallBody {
    /// The number (or user JID) to call.
    #[oai(validator(max_length = 128))]
    pub number: Required<String>,
    /// A video call; a voice call when absent.
    pub is_video: Optional<bool>,
    /// Seconds the call rings unless it is rejected first (1 to 15).
    #[oai(validator(minimum(value = "1"), maximum(value = "15")))]
    pub call_duration: Required<i64>,
}

/// Evolution's answer: the call placed.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct OfferCallDto {
    /// The call's id; the callee's `call` events carry it.
    pub id: String,
    /// The callee's JID.
    pub jid: String,
    pub is_video: bool,
    pub call_duration: i64,
}

#[derive(ApiResponse)]
enum OfferResponse {
    #[oai(status = 201)]
    Created(Json<OfferCallDto>),
}

#[OpenApi(tag = "Tag::Call")]
impl CallApi {
    /// Ring a number for `callDuration` seconds (LOOPBACK instances; 400 on the real engine).
    #[oai(
        path = "/call/offer/:instanceName",
        method = "post",
        operation_id = "offer_call"
    )]
    async fn offer(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<OfferCallBody>,
    ) -> Result<OfferResponse, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let to = jid(&required(b.number, "number")?)?;
        if is_group_jid(&to) {
            return Err(ApiError::BadRequest("Groups cannot be called".into()));
        }
        let secs = required(b.call_duration, "callDuration")?;
        let ring = match u64::try_from(secs) {
            Ok(s) if (1..=MAX_RING_SECS).contains(&s) => Duration::from_secs(s),
            _ => {
                return Err(ApiError::Validation(format!(
                    "callDuration must be between 1 and {MAX_RING_SECS}"
                )));
            }
        };
        let is_video = b.is_video.0.unwrap_or(false);
        let placed = h.offer_call(to, is_video, ring).await?;
        Ok(OfferResponse::Created(Json(OfferCallDto {
            id: placed.id,
            jid: placed.to,
            is_video,
            call_duration: secs,
        })))
    }
}
