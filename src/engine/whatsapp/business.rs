//! Business profiles on the real engine: whatsapp-rust's `w:biz` query, in our terms.

use whatsapp_rust::Client;
use whatsapp_rust::wacore::iq::business::BusinessProfile as WaBusinessProfile;

use super::super::{BusinessDayHours, BusinessProfile, EngineError};
use super::{failed, parse_jid};

pub(super) async fn profile(
    client: &Client,
    jid: &str,
) -> Result<Option<BusinessProfile>, EngineError> {
    let target = parse_jid(jid)?;
    let found = client
        .get_business_profile(&target)
        .await
        .map_err(|e| failed("business profile")(e.to_string()))?;
    Ok(found.map(convert))
}

fn convert(p: WaBusinessProfile) -> BusinessProfile {
    BusinessProfile {
        jid: p.wid.map(|j| j.to_string()),
        description: p.description,
        email: p.email,
        website: p.website,
        category: p.categories.into_iter().next().map(|c| c.name),
        address: p.address,
        timezone: p.business_hours.timezone,
        hours: p
            .business_hours
            .business_config
            .unwrap_or_default()
            .into_iter()
            .map(|d| BusinessDayHours {
                day_of_week: d.day_of_week.to_string(),
                mode: d.mode.to_string(),
                open_time: d.open_time,
                close_time: d.close_time,
            })
            .collect(),
    }
}
