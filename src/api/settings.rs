//! `/settings/set` and `/settings/find`.

use std::sync::Arc;

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use super::auth::ApiKey;
use super::dto::SettingsDto;
use super::error::ApiError;
use crate::instance::Settings;
use crate::state::AppState;

#[derive(Tags)]
enum Tag {
    /// Per-instance behaviour switches.
    Settings,
}

pub struct SettingsApi {
    pub state: Arc<AppState>,
}

/// All six booleans are required, as in Evolution.
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SettingsBody {
    pub reject_call: Option<bool>,
    pub msg_call: Option<String>,
    pub groups_ignore: Option<bool>,
    pub always_online: Option<bool>,
    pub read_messages: Option<bool>,
    pub read_status: Option<bool>,
    pub sync_full_history: Option<bool>,
    pub wavoip_token: Option<String>,
}

#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SettingsEcho {
    pub instance_name: String,
    pub settings: SettingsDto,
}

#[derive(Object, Debug)]
pub struct SettingsSetDto {
    pub settings: SettingsEcho,
}

#[derive(ApiResponse)]
enum SetResponse {
    #[oai(status = 201)]
    Created(Json<SettingsSetDto>),
}

#[OpenApi(tag = "Tag::Settings")]
impl SettingsApi {
    /// Replace the instance's settings.
    #[oai(
        path = "/settings/set/:instanceName",
        method = "post",
        operation_id = "set_settings"
    )]
    async fn set(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<SettingsBody>,
    ) -> Result<SetResponse, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let req = |v: Option<bool>, field: &str| {
            v.ok_or_else(|| ApiError::Validation(format!("instance requires property \"{field}\"")))
        };
        let settings = Settings {
            reject_call: req(b.reject_call, "rejectCall")?,
            groups_ignore: req(b.groups_ignore, "groupsIgnore")?,
            always_online: req(b.always_online, "alwaysOnline")?,
            read_messages: req(b.read_messages, "readMessages")?,
            read_status: req(b.read_status, "readStatus")?,
            sync_full_history: req(b.sync_full_history, "syncFullHistory")?,
            msg_call: b.msg_call.unwrap_or_default(),
            wavoip_token: b.wavoip_token.unwrap_or_default(),
        };
        h.set_settings(settings.clone()).await?;
        Ok(SetResponse::Created(Json(SettingsSetDto {
            settings: SettingsEcho {
                instance_name: h.name().to_string(),
                settings: SettingsDto::from(&settings),
            },
        })))
    }

    /// The instance's settings.
    #[oai(
        path = "/settings/find/:instanceName",
        method = "get",
        operation_id = "find_settings"
    )]
    async fn find(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
    ) -> Result<Json<SettingsDto>, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        Ok(Json(SettingsDto::from(&h.view().record.settings)))
    }
}
