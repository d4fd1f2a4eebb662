//! Connection states, with Evolution's names, and the moment each one began.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

/// Live state of an instance's WhatsApp session.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum ConnectionState {
    /// Never connected, or logged out. No session runs.
    #[default]
    Close,
    /// A session runs but is not logged in: QR shown, or reconnecting.
    Connecting,
    /// Logged in and connected.
    Open,
    /// The QR limit was reached without a scan; the session was ended.
    Refused,
    /// Ours: too many consecutive failed reconnects. Visible, and `restart` brings it back.
    Failed,
}

impl ConnectionState {
    pub fn as_str(self) -> &'static str {
        match self {
            ConnectionState::Close => "close",
            ConnectionState::Connecting => "connecting",
            ConnectionState::Open => "open",
            ConnectionState::Refused => "refused",
            ConnectionState::Failed => "failed",
        }
    }

    /// The value Evolution's persisted `connectionStatus` column can hold (open, close,
    /// connecting): clients that switch on it never see a value they do not know.
    pub fn as_persisted_status(self) -> &'static str {
        match self {
            ConnectionState::Open => "open",
            ConnectionState::Connecting => "connecting",
            _ => "close",
        }
    }

    /// Whether a session should be running in this state.
    pub fn has_session(self) -> bool {
        matches!(self, ConnectionState::Connecting | ConnectionState::Open)
    }
}

/// A state and when it began.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timed {
    pub state: ConnectionState,
    pub since: DateTime<Utc>,
}

impl Timed {
    pub fn now(state: ConnectionState) -> Self {
        Timed {
            state,
            since: Utc::now(),
        }
    }
}
