//! The domain core: instances, their settings, their state, and the registry that owns them.

pub mod actor;
pub mod business;
pub mod counters;
pub mod delivery;
pub mod groups;
pub mod handle;
pub mod housekeeping;
pub mod ledger;
pub mod problems;
pub mod registry;
pub mod retention;
pub mod state;
mod supervisor;
pub mod vitals;

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use handle::{InstanceError, InstanceHandle, InstanceView, QrView};
pub use registry::{FleetCounts, Registry};
pub use state::{ConnectionState, Timed};

/// Which engine runs an instance, with Evolution's integration names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Integration {
    /// The real WhatsApp Web engine (whatsapp-rust). Named after Evolution's Baileys engine
    /// because that is the value Evolution clients send.
    #[serde(rename = "WHATSAPP-BAILEYS")]
    WhatsAppBaileys,
    /// The in-process stand-in network for tests, demos and load runs.
    #[serde(rename = "LOOPBACK")]
    Loopback,
}

/// Errors turning a client's integration string into an [`Integration`].
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum IntegrationError {
    #[error("Invalid integration")]
    Invalid,
    #[error("The {0} integration is not supported by zapgate")]
    Unsupported(String),
}

impl Integration {
    pub fn as_str(self) -> &'static str {
        match self {
            Integration::WhatsAppBaileys => "WHATSAPP-BAILEYS",
            Integration::Loopback => "LOOPBACK",
        }
    }

    /// Parses the `integration` field of `/instance/create`. Missing means WHATSAPP-BAILEYS.
    pub fn parse(raw: Option<&str>) -> Result<Integration, IntegrationError> {
        match raw {
            None => Ok(Integration::WhatsAppBaileys),
            Some("WHATSAPP-BAILEYS") => Ok(Integration::WhatsAppBaileys),
            Some("LOOPBACK") => Ok(Integration::Loopback),
            Some(other @ ("WHATSAPP-BUSINESS" | "EVOLUTION")) => {
                Err(IntegrationError::Unsupported(other.to_string()))
            }
            Some(_) => Err(IntegrationError::Invalid),
        }
    }
}

/// Per-instance behaviour switches, Evolution's `Setting` row.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct Settings {
    pub reject_call: bool,
    pub msg_call: String,
    pub groups_ignore: bool,
    pub always_online: bool,
    pub read_messages: bool,
    pub read_status: bool,
    pub sync_full_history: bool,
    pub wavoip_token: String,
}

/// An instance's webhook, stored at creation or by `/webhook/set`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookConfig {
    pub enabled: bool,
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub by_events: bool,
    #[serde(default)]
    pub base64: bool,
    /// UPPER_SNAKE event names; empty means every event.
    #[serde(default)]
    pub events: Vec<String>,
    /// Standard Webhooks signing secret (ours; Evolution has none).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    #[serde(default)]
    pub created_at: Option<chrono::DateTime<chrono::Utc>>,
    #[serde(default)]
    pub updated_at: Option<chrono::DateTime<chrono::Utc>>,
    /// Who set it (global key or token): decides at delivery whether a private target may be
    /// reached. Webhooks stored before this field count as set by a token.
    #[serde(default = "crate::outbound::Requester::token")]
    pub set_by: crate::outbound::Requester,
}

/// Checks an instance name: it becomes a URL path segment and a log field.
pub fn validate_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("instanceName must not be empty".into());
    }
    if name.chars().count() > 100 {
        return Err("instanceName must be at most 100 characters".into());
    }
    if name.trim() != name {
        return Err("instanceName must not start or end with whitespace".into());
    }
    if name
        .chars()
        .any(|c| c.is_control() || c == '/' || c == '\\' || c == '?' || c == '#')
    {
        return Err(
            "instanceName must not contain control characters, '/', '\\', '?' or '#'".into(),
        );
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integration_defaults_and_rejects() {
        assert_eq!(Integration::parse(None), Ok(Integration::WhatsAppBaileys));
        assert_eq!(
            Integration::parse(Some("LOOPBACK")),
            Ok(Integration::Loopback)
        );
        assert_eq!(
            Integration::parse(Some("whatever")),
            Err(IntegrationError::Invalid)
        );
        assert!(matches!(
            Integration::parse(Some("EVOLUTION")),
            Err(IntegrationError::Unsupported(_))
        ));
    }

    #[test]
    fn names_are_checked() {
        assert!(validate_name("acme-1 ü").is_ok());
        assert!(validate_name("").is_err());
        assert!(validate_name("a/b").is_err());
        assert!(validate_name(" a").is_err());
    }
}
