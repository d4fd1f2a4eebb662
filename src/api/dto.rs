//! Request and response bodies shared by the Evolution routes, with Evolution's field names.

use std::collections::BTreeMap;

use poem_openapi::Object;
use serde_json::Value;

use super::error::ApiError;
use super::required::Optional;
use crate::instance::{InstanceView, QrView, Settings};

/// The `webhook` object of `/instance/create` and `/webhook/set`. Both spellings of the flags
/// are accepted: the n8n node sends `webhookByEvents`/`webhookBase64` where Evolution reads
/// `byEvents`/`base64`.
#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase")]
pub struct WebhookBody {
    pub enabled: Option<bool>,
    pub url: Option<String>,
    pub headers: Option<BTreeMap<String, String>>,
    pub by_events: Option<bool>,
    pub webhook_by_events: Option<bool>,
    pub base64: Option<bool>,
    pub webhook_base64: Option<bool>,
    /// UPPER_SNAKE event names; missing or empty means every event.
    pub events: Option<Vec<String>>,
    /// zapgate: Standard Webhooks signing secret (`whsec_<base64>` or any string); adds
    /// `webhook-id`, `webhook-timestamp` and `webhook-signature` headers.
    pub secret: Option<String>,
}

/// The settings fields of `/settings/set` and, flattened, of `/instance/create`.
#[derive(Object, Debug, Clone, Default)]
#[oai(rename_all = "camelCase")]
pub struct SettingsBody {
    pub reject_call: Option<bool>,
    #[oai(validator(max_length = 1024))]
    pub msg_call: Optional<String>,
    pub groups_ignore: Option<bool>,
    pub always_online: Option<bool>,
    pub read_messages: Option<bool>,
    pub read_status: Option<bool>,
    pub sync_full_history: Option<bool>,
    #[oai(validator(max_length = 1024))]
    pub wavoip_token: Optional<String>,
}

impl SettingsBody {
    /// Create's rule: a missing switch is off (only `true` counts as true).
    pub fn or_defaults(&self) -> Settings {
        self.build(|v, _| Ok(v == Some(true))).unwrap_or_default()
    }

    /// `/settings/set`'s rule: the six switches are required.
    pub fn all_required(&self) -> Result<Settings, ApiError> {
        self.build(|v, field| {
            v.ok_or_else(|| ApiError::Validation(format!("instance requires property \"{field}\"")))
        })
    }

    fn build(
        &self,
        switch: impl Fn(Option<bool>, &str) -> Result<bool, ApiError>,
    ) -> Result<Settings, ApiError> {
        Ok(Settings {
            reject_call: switch(self.reject_call, "rejectCall")?,
            groups_ignore: switch(self.groups_ignore, "groupsIgnore")?,
            always_online: switch(self.always_online, "alwaysOnline")?,
            read_messages: switch(self.read_messages, "readMessages")?,
            read_status: switch(self.read_status, "readStatus")?,
            sync_full_history: switch(self.sync_full_history, "syncFullHistory")?,
            msg_call: self.msg_call.0.clone().unwrap_or_default(),
            wavoip_token: self.wavoip_token.0.clone().unwrap_or_default(),
        })
    }
}

/// Evolution's settings object (all fields present in responses).
#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase")]
pub struct SettingsDto {
    pub reject_call: bool,
    pub msg_call: String,
    pub groups_ignore: bool,
    pub always_online: bool,
    pub read_messages: bool,
    pub read_status: bool,
    pub sync_full_history: bool,
    pub wavoip_token: String,
}

impl From<&Settings> for SettingsDto {
    fn from(s: &Settings) -> Self {
        SettingsDto {
            reject_call: s.reject_call,
            msg_call: s.msg_call.clone(),
            groups_ignore: s.groups_ignore,
            always_online: s.always_online,
            read_messages: s.read_messages,
            read_status: s.read_status,
            sync_full_history: s.sync_full_history,
            wavoip_token: s.wavoip_token.clone(),
        }
    }
}

/// `{pairingCode, code, base64, count}`; `code` and `base64` are omitted until a QR exists.
#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase")]
pub struct QrDto {
    pub pairing_code: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub code: Option<String>,
    #[oai(skip_serializing_if_is_none)]
    pub base64: Option<String>,
    pub count: u32,
}

impl From<&QrView> for QrDto {
    fn from(q: &QrView) -> Self {
        QrDto {
            pairing_code: q.pairing_code.clone(),
            code: q.code.clone(),
            base64: q.base64.clone(),
            count: q.count,
        }
    }
}

/// `{instanceName, state}`.
#[derive(Object, Debug, Clone)]
#[oai(rename_all = "camelCase")]
pub struct InstanceState {
    pub instance_name: String,
    /// `open`, `connecting`, `close`, `refused`, or zapgate's `failed`.
    pub state: String,
}

/// `{instance: {instanceName, state}}`.
#[derive(Object, Debug, Clone)]
pub struct ConnectionStateDto {
    pub instance: InstanceState,
}

impl ConnectionStateDto {
    pub fn of(view: &InstanceView) -> Self {
        ConnectionStateDto {
            instance: InstanceState {
                instance_name: view.record.name.clone(),
                state: view.state.state.as_str().to_string(),
            },
        }
    }
}

/// `{status:"SUCCESS", error:false, response:{message}}`.
#[derive(Object, Debug, Clone)]
pub struct StatusDto {
    pub status: String,
    pub error: bool,
    pub response: MessageDto,
}

#[derive(Object, Debug, Clone)]
pub struct MessageDto {
    pub message: String,
}

impl StatusDto {
    pub fn success(message: &str) -> Self {
        StatusDto {
            status: "SUCCESS".into(),
            error: false,
            response: MessageDto {
                message: message.into(),
            },
        }
    }
}

/// A message record (Evolution §6) as stored and returned by the send routes.
pub type MessageRecord = Value;
