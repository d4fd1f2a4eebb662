//! `/user/*`: what WhatsApp says about a number (profile, picture, whether it has an
//! account), and the groups this instance's account is in.

use std::sync::Arc;

use poem_openapi::OpenApi;
use poem_openapi::param::Query;
use poem_openapi::payload::Json;
use serde_json::{Value, json};

use super::Tag;
use super::auth::TokenInstance;
use super::error::{Envelope, GowaError, success};
use super::group::group_json;
use crate::state::AppState;

pub struct UserApi {
    pub state: Arc<AppState>,
}

#[OpenApi(tag = "Tag::TokenScoped")]
impl UserApi {
    /// A number's profile: name, status text, picture, whether it is a business.
    #[oai(path = "/user/info", method = "get", operation_id = "gowa_user_info")]
    async fn info(
        &self,
        token: TokenInstance,
        #[oai(validator(max_length = 128))] phone: Query<String>,
    ) -> Result<Json<Envelope>, GowaError> {
        let h = token.open()?;
        let jid = super::phone_jid(&phone)?;
        let p = h.session()?.fetch_profile(jid).await?;
        Ok(success(
            "Success get user info",
            Some(json!({"data": [{
                "jid": p.jid,
                "name": p.name,
                "status": p.status,
                "picture_url": p.picture_url,
                "is_business": p.is_business,
                "is_on_whatsapp": p.exists,
            }]})),
        ))
    }

    /// The URL of a number's profile picture (`url` null when it has none or hides it).
    #[oai(
        path = "/user/avatar",
        method = "get",
        operation_id = "gowa_user_avatar"
    )]
    async fn avatar(
        &self,
        token: TokenInstance,
        #[oai(validator(max_length = 128))] phone: Query<String>,
    ) -> Result<Json<Envelope>, GowaError> {
        let h = token.open()?;
        let jid = super::phone_jid(&phone)?;
        let url = h.profile_picture_url(&jid).await?;
        Ok(success(
            "Success get avatar",
            Some(json!({"url": url, "jid": jid})),
        ))
    }

    /// Whether a number has a WhatsApp account.
    #[oai(path = "/user/check", method = "get", operation_id = "gowa_user_check")]
    async fn check(
        &self,
        token: TokenInstance,
        #[oai(validator(max_length = 128))] phone: Query<String>,
    ) -> Result<Json<Envelope>, GowaError> {
        let h = token.open()?;
        let jid = super::phone_jid(&phone)?;
        let number = jid.split('@').next().unwrap_or_default().to_string();
        let checks = h.session()?.check_numbers(vec![number]).await?;
        let exists = checks.iter().any(|c| c.exists);
        Ok(success(
            "Success check user",
            Some(json!({"is_on_whatsapp": exists})),
        ))
    }

    /// The groups this instance's account is in.
    #[oai(
        path = "/user/my/groups",
        method = "get",
        operation_id = "gowa_user_my_groups"
    )]
    async fn my_groups(&self, token: TokenInstance) -> Result<Json<Envelope>, GowaError> {
        let h = token.open()?;
        let list = h.session()?.groups().list().await?;
        let data: Vec<Value> = list.iter().map(group_json).collect();
        Ok(success(
            "Success get list groups",
            Some(json!({"data": data})),
        ))
    }
}
