//! `/settings/set` and `/settings/find`.

use std::sync::Arc;

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use super::auth::ApiKey;
use super::dto::{SettingsBody, SettingsDto};
use super::error::ApiError;
use super::required::{Optional, Required};
use crate::state::AppState;

#[derive(Tags)]
enum Tag {
    /// Per-instance behaviour switches.
    Settings,
}

pub struct SettingsApi {
    pub state: Arc<AppState>,
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

/// `/settings/set`: the six switches are required (create's are not).
#[derive(Object, Debug)]
#[oai(rename_all = "camelCase")]
pub struct SetSettingsBody {
    pub reject_call: Required<bool>,
    pub msg_call: Optional<String>,
    pub groups_ignore: Required<bool>,
    pub always_online: Required<bool>,
    pub read_messages: Required<bool>,
    pub read_status: Required<bool>,
    pub sync_full_history: Required<bool>,
    pub wavoip_token: Optional<String>,
}

impl SetSettingsBody {
    fn into_settings_body(self) -> SettingsBody {
        SettingsBody {
            reject_call: self.reject_call.0,
            msg_call: self.msg_call,
            groups_ignore: self.groups_ignore.0,
            always_online: self.always_online.0,
            read_messages: self.read_messages.0,
            read_status: self.read_status.0,
            sync_full_history: self.sync_full_history.0,
            wavoip_token: self.wavoip_token,
        }
    }
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
        body: Json<SetSettingsBody>,
    ) -> Result<SetResponse, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let settings = body.0.into_settings_body().all_required()?;
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
