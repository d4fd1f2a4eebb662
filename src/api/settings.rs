//! `/settings/set` and `/settings/find`.

use std::sync::Arc;

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, Object, OpenApi, Tags};

use super::auth::ApiKey;
use super::dto::{SettingsBody, SettingsDto};
use super::error::ApiError;
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
        let settings = body.0.all_required()?;
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
