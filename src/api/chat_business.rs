//! `/chat/fetchBusinessProfile`: a number's WhatsApp Business profile in Baileys' shape
//! (`{isBusiness:true, wid, description, email, website, category, address, business_hours}`),
//! or Evolution's `{isBusiness:false, message, jid, exists, number}` for any other number.

use std::sync::Arc;

use poem_openapi::param::Path;
use poem_openapi::payload::Json;
use poem_openapi::{Object, OpenApi};

use super::auth::ApiKey;
use super::chat::{NumberBody, Tag};
use super::error::ApiError;
use super::message::jid;
use crate::engine::{BusinessDayHours, BusinessProfile};
use crate::instance::business::BusinessLookup;
use crate::state::AppState;

/// Evolution's words for a number that is not a business account.
const NOT_BUSINESS: &str = "Not is business profile";

pub struct ChatBusinessApi {
    pub state: Arc<AppState>,
}

/// One answer for both outcomes: the fields of the other outcome are left out.
#[derive(Object, Debug, Default)]
pub struct BusinessProfileDto {
    #[oai(rename = "isBusiness")]
    pub is_business: bool,
    #[oai(skip_serializing_if_is_none)]
    pub wid: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub description: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub email: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub website: Option<Vec<String>>,
    #[oai(skip_serializing_if_is_none)]
    pub category: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub address: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub business_hours: Option<BusinessHoursDto>,
    /// Not a business: `"Not is business profile"`.
    #[oai(skip_serializing_if_is_none)]
    pub message: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub jid: Option<String>,
    /// Not a business: whether the number is on WhatsApp at all.
    #[oai(skip_serializing_if_is_none)]
    pub exists: Option<bool>,
    #[oai(skip_serializing_if_is_none)]
    pub number: Option<String>,
}

#[derive(Object, Debug)]
pub struct BusinessHoursDto {
    pub timezone: Option<String>,
    pub business_config: Vec<BusinessDayDto>,
}

/// Baileys passes the wire attributes through: every value is a string.
#[derive(Object, Debug)]
pub struct BusinessDayDto {
    pub day_of_week: String,
    pub mode: String,
    /// Minutes after midnight.
    pub open_time: Option<String>,
    pub close_time: Option<String>,
}

impl From<BusinessLookup> for BusinessProfileDto {
    fn from(found: BusinessLookup) -> Self {
        match found {
            BusinessLookup::Business(p) => business(p),
            BusinessLookup::NotBusiness(n) => BusinessProfileDto {
                message: Some(NOT_BUSINESS.into()),
                jid: Some(n.jid),
                exists: Some(n.exists),
                number: Some(n.number),
                ..Default::default()
            },
        }
    }
}

fn business(p: BusinessProfile) -> BusinessProfileDto {
    let day = |d: BusinessDayHours| BusinessDayDto {
        day_of_week: d.day_of_week,
        mode: d.mode,
        open_time: d.open_time.map(|t| t.to_string()),
        close_time: d.close_time.map(|t| t.to_string()),
    };
    BusinessProfileDto {
        is_business: true,
        wid: p.jid,
        description: Some(p.description),
        email: p.email,
        website: Some(p.website),
        category: p.category,
        address: p.address,
        business_hours: Some(BusinessHoursDto {
            timezone: p.timezone,
            business_config: p.hours.into_iter().map(day).collect(),
        }),
        ..Default::default()
    }
}

#[OpenApi(tag = "Tag::Chat")]
impl ChatBusinessApi {
    /// A number's business profile (yours when `number` is omitted).
    #[oai(
        path = "/chat/fetchBusinessProfile/:instanceName",
        method = "post",
        operation_id = "fetch_business_profile"
    )]
    async fn fetch_business_profile(
        &self,
        key: ApiKey,
        #[oai(name = "instanceName")] name: Path<String>,
        body: Json<NumberBody>,
    ) -> Result<Json<BusinessProfileDto>, ApiError> {
        let h = self.state.instance_access(&name, &key)?;
        let target = match body.0.number.0 {
            Some(n) => jid(&n)?,
            None => h.view().record.owner_jid.clone().ok_or_else(|| {
                ApiError::BadRequest(format!("The \"{}\" instance is not connected", h.name()))
            })?,
        };
        Ok(Json(h.business_profile(&target).await?.into()))
    }
}
