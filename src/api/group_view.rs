//! `/group/*` reads that show a group as Evolution does (its picture, its members' names and
//! pictures from the stored contacts) and `updateGroupPicture`. The instance layer looks the
//! pictures up (cached) and the names (chat storage); these handlers parse and shape.

use std::sync::Arc;

use poem_openapi::param::{Path, Query};
use poem_openapi::payload::Json;
use poem_openapi::{ApiResponse, OpenApi};

use super::auth::ApiKey;
use super::error::ApiError;
use super::group::{Tag, group_not_found, required};
use super::group_dto::*;
use crate::instance::InstanceError;
use crate::state::AppState;

pub struct GroupViewApi {
    pub state: Arc<AppState>,
}

#[derive(ApiResponse)]
enum PictureUpdated {
    /// `{update: "success"}`.
    #[oai(status = 201)]
    Created(Json<UpdateDto>),
}

/// Reading a group the account does not know is a 404; anything else keeps its own mapping.
fn read_error(e: InstanceError) -> ApiError {
    match e {
        InstanceError::Engine(e) => group_not_found(e),
        other => other.into(),
    }
}

#[OpenApi(tag = "Tag::Group")]
impl GroupViewApi {
    /// One group's metadata, with its picture and its members' names where known; 404 when
    /// the account does not know it.
    #[oai(
        path = "/group/findGroupInfos/:instanceName",
        method = "get",
        operation_id = "find_group_infos"
    )]
    async fn find_group_infos(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        #[oai(name = "groupJid")] group: Query<Option<String>>,
    ) -> Result<Json<GroupMetadataDto>, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let jid = group_jid(None, group.0)?;
        let view = h.group(&jid, true).await.map_err(read_error)?;
        Ok(Json(GroupMetadataDto::from_view(view, true)))
    }

    /// Every group the account is in, with pictures; `getParticipants` (required) adds the
    /// member lists.
    #[oai(
        path = "/group/fetchAllGroups/:instanceName",
        method = "get",
        operation_id = "fetch_all_groups"
    )]
    async fn fetch_all_groups(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        #[oai(name = "getParticipants", validator(pattern = "^(true|false)$"))]
        get_participants: Query<super::required::Required<String>>,
    ) -> Result<Json<Vec<GroupMetadataDto>>, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let with = match get_participants.0.as_ref().map(String::as_str) {
            Some("true") => true,
            Some("false") => false,
            _ => {
                return Err(ApiError::BadRequest(
                    "The getParticipants needs to be informed in the query (true or false)".into(),
                ));
            }
        };
        let list = h.all_groups(with).await?;
        Ok(Json(
            list.into_iter()
                .map(|g| GroupMetadataDto::from_view(g, with))
                .collect(),
        ))
    }

    /// A group's members, their roles, and their names and pictures where known.
    #[oai(
        path = "/group/participants/:instanceName",
        method = "get",
        operation_id = "find_participants"
    )]
    async fn participants(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        #[oai(name = "groupJid")] group: Query<Option<String>>,
    ) -> Result<Json<ParticipantsDto>, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let jid = group_jid(None, group.0)?;
        let view = h.group(&jid, true).await.map_err(read_error)?;
        Ok(Json(ParticipantsDto {
            participants: participants(view.info.participants, &view.members),
        }))
    }

    /// Set the group's picture: a JPEG as a URL or base64, sent as given (admins only when the
    /// group is locked).
    #[oai(
        path = "/group/updateGroupPicture/:instanceName",
        method = "post",
        operation_id = "update_group_picture"
    )]
    async fn update_group_picture(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        #[oai(name = "groupJid")] group: Query<Option<String>>,
        body: Json<PictureBody>,
    ) -> Result<PictureUpdated, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let b = body.0;
        let jid = group_jid(b.group_jid, group.0)?;
        let image = required(b.image, "image")?;
        // Connected first: a closed instance fetches nothing.
        h.session()?;
        let jpeg = self
            .state
            .media
            .resolve(&image, self.state.requester(&key))
            .await?;
        h.set_group_picture(&jid, jpeg).await?;
        Ok(PictureUpdated::Created(Json(UpdateDto {
            update: "success".into(),
        })))
    }
}
