//! The token-scoped surface, in the dialect of go-whatsapp-web-multidevice (GOWA): instances
//! created and listed with the global key (`/instances`), and every other route acting on the
//! one instance its `X-Instance-Token` names (`/app/*`, `/send/*`, `/message/{id}/*`, `/user/*`,
//! `/group*`, `/chats`, `/chat/{jid}/messages`). Answers are GOWA's `{code, message, results}`.
//!
//! Same rules as the Evolution handlers beside it: an extractor authorizes ([`auth`]), the
//! handler calls the instance layer and shapes the answer, one error enum maps to the envelope
//! ([`error`]). The instances are the Evolution ones (one `Registry`), so both dialects see the
//! same sessions, histories and webhooks.
//!
//! Route collisions with Evolution: poem's router prefers literal segments, so a GOWA path with
//! a parameter where Evolution has a literal (`/message/{message_id}/revoke` beside
//! `/message/sendText/{instanceName}`) loses only for ids equal to an Evolution word, which
//! message ids and JIDs never are. GOWA's `POST /group/participants/{remove,promote,demote}`
//! would take `GET /group/participants/{instanceName}` from instances of those names, so they
//! are served under `/gowa/group/participants/*`.

pub mod app;
pub mod auth;
pub mod chats;
pub mod error;
pub mod group;
pub mod instances;
pub mod message;
pub mod send;
pub mod send_dto;
pub mod send_more;
pub mod user;

use std::sync::Arc;

use poem_openapi::Tags;

use crate::state::AppState;

/// The tag every operation of this surface carries; the edge renders its refusals in GOWA's
/// envelope by it.
pub const TAG: &str = "TokenScoped";

#[derive(Tags)]
pub(crate) enum Tag {
    /// The token-scoped API (GOWA dialect): `{code, message, results}` answers, the instance
    /// chosen by `X-Instance-Token`.
    TokenScoped,
}

/// This surface's APIs, one per file.
pub type Apis = (
    instances::InstancesApi,
    app::AppApi,
    send::SendApi,
    send_more::SendMoreApi,
    message::MessageActionsApi,
    user::UserApi,
    group::GroupApi,
    chats::ChatsApi,
);

pub fn apis(state: Arc<AppState>) -> Apis {
    (
        instances::InstancesApi {
            state: state.clone(),
        },
        app::AppApi {
            state: state.clone(),
        },
        send::SendApi {
            state: state.clone(),
        },
        send_more::SendMoreApi {
            state: state.clone(),
        },
        message::MessageActionsApi {
            state: state.clone(),
        },
        user::UserApi {
            state: state.clone(),
        },
        group::GroupApi {
            state: state.clone(),
        },
        chats::ChatsApi { state },
    )
}

/// A required body field, or GOWA's validation message naming it.
pub(crate) fn need<T>(
    v: crate::api::required::Required<T>,
    field: &str,
) -> Result<T, error::GowaError> {
    v.0.ok_or_else(|| error::GowaError::Validation(format!("{field}: cannot be blank.")))
}

/// A phone or JID field, GOWA's way: a number must be international (no leading 0); a JID is
/// kept as given.
pub(crate) fn phone_jid(phone: &str) -> Result<String, error::GowaError> {
    let p = phone.trim();
    if !p.contains('@') && p.trim_start_matches('+').starts_with('0') {
        return Err(error::GowaError::Validation(
            "phone number must be in international format (should not start with 0)".into(),
        ));
    }
    Ok(crate::api::message::jid(p)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn phones_are_international() {
        assert_eq!(
            phone_jid("+62 811").ok().as_deref(),
            Some("62811@s.whatsapp.net")
        );
        assert!(phone_jid("0811").is_err());
        assert!(phone_jid("abc").is_err());
        assert_eq!(phone_jid("1@g.us").ok().as_deref(), Some("1@g.us"));
    }
}
