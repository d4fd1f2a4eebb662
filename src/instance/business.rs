//! Business profiles (`/chat/fetchBusinessProfile`): the engine's answer, or for an account
//! that is not a business, what WhatsApp says of the number (Evolution answers so).

use super::{InstanceError, InstanceHandle};
use crate::engine::jid::user_of;
use crate::engine::{BusinessProfile, NumberCheck};

/// What a business-profile lookup found.
#[derive(Debug, Clone)]
pub enum BusinessLookup {
    Business(BusinessProfile),
    /// Not a business account: the number's check (whether it is on WhatsApp at all).
    NotBusiness(NumberCheck),
}

impl InstanceHandle {
    pub async fn business_profile(&self, jid: &str) -> Result<BusinessLookup, InstanceError> {
        let session = self.connected_session()?;
        if let Some(profile) = session.business_profile(jid.to_owned()).await? {
            return Ok(BusinessLookup::Business(profile));
        }
        let check = session
            .check_numbers(vec![jid.to_owned()])
            .await?
            .into_iter()
            .next()
            .unwrap_or_else(|| NumberCheck {
                number: user_of(jid).to_string(),
                jid: jid.to_owned(),
                exists: false,
            });
        Ok(BusinessLookup::NotBusiness(check))
    }
}
