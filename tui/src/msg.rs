//! Everything that reaches [`crate::app::App::update`] ([`Msg`]) and everything it asks the loop to
//! do ([`Cmd`]). Network tasks turn wire JSON into these types; the app never sees JSON.

use crossterm::event::KeyEvent;

/// Seconds since the Unix epoch. The clock is injected through [`Msg::Tick`] so tests pass their own.
pub type UnixSecs = u64;

/// An instance's connection state, with zapgate's words (Evolution's three plus `refused` and `failed`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum State {
    Failed,
    Refused,
    Connecting,
    Close,
    Open,
}

impl State {
    pub const ALL: [State; 5] = [
        State::Open,
        State::Connecting,
        State::Close,
        State::Failed,
        State::Refused,
    ];

    /// The one place a wire word becomes a state; unknown words read as `close`.
    pub fn parse(word: &str) -> State {
        match word {
            "open" => State::Open,
            "connecting" => State::Connecting,
            "refused" => State::Refused,
            "failed" => State::Failed,
            _ => State::Close,
        }
    }

    pub fn word(self) -> &'static str {
        match self {
            State::Open => "open",
            State::Connecting => "connecting",
            State::Close => "close",
            State::Refused => "refused",
            State::Failed => "failed",
        }
    }

    /// One cell wide, so a colourless terminal still tells states apart.
    pub fn glyph(self) -> &'static str {
        match self {
            State::Open => "●",
            State::Connecting => "…",
            State::Close => "○",
            State::Refused => "!",
            State::Failed => "✗",
        }
    }

    /// Problems first: the derive order of the enum is the severity order.
    pub fn rank(self) -> usize {
        self as usize
    }

    pub fn is_problem(self) -> bool {
        matches!(self, State::Failed | State::Refused)
    }
}

/// One instance as a snapshot (fetchInstances) describes it.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceRow {
    pub name: String,
    pub state: State,
    /// When the state began, if the server says (zapgate does; plain Evolution does not).
    pub since: Option<UnixSecs>,
    pub number: Option<String>,
    pub owner_jid: Option<String>,
    pub profile_name: Option<String>,
    pub engine: String,
    pub last_error: Option<String>,
    pub messages: u64,
    /// zapgate's per-instance counters, when the server keeps them.
    pub counters: Option<Counters>,
    /// The instance's own webhook, when zapgate's summary reports one.
    pub webhook: Option<WebhookBrief>,
}

/// The instance's own webhook at a glance (zapgate's `GET /instance/summary`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WebhookBrief {
    /// Events waiting to be delivered.
    pub backlog: u64,
    /// HTTP status of the last attempt, if it got one.
    pub last_status: Option<u16>,
    /// Attempts failed since the last success.
    pub failing: u32,
}

impl WebhookBrief {
    /// Failing deliveries make a row a problem, whatever its session's state.
    pub fn is_problem(&self) -> bool {
        self.failing > 0
    }

    /// `backlog status`, e.g. `0 200` or `1432 503`; `-` for no answer yet.
    pub fn label(&self) -> String {
        match self.last_status {
            Some(s) => format!("{} {s}", self.backlog),
            None => format!("{} -", self.backlog),
        }
    }
}

/// Counters the instance keeps (fetchInstances' `zapgate.counters`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Counters {
    pub messages_in: u64,
    pub messages_out: u64,
    pub send_errors: u64,
    pub reconnects: u64,
    pub flaps_last_hour: u64,
}

/// One compact row of zapgate's `GET /instance/summary`: live state and counters, without the
/// identity fields (number, engine, profile) that only `fetchInstances` carries.
#[derive(Debug, Clone, PartialEq)]
pub struct SummaryRow {
    pub name: String,
    pub state: State,
    pub since: Option<UnixSecs>,
    pub counters: Counters,
    pub last_error: Option<String>,
    pub webhook: Option<WebhookBrief>,
}

/// What the live stream said, already reduced to what the console shows.
#[derive(Debug, Clone, PartialEq)]
pub struct StreamEvent {
    pub instance: String,
    pub at: UnixSecs,
    pub kind: EventKind,
}

#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    Connection {
        state: State,
        reason: Option<u16>,
    },
    Qr {
        code: Option<String>,
        pairing_code: Option<String>,
    },
    MessageIn,
    MessageOut,
    Created,
    Deleted,
    /// Any other event: only the event log shows it.
    Other(String),
}

impl EventKind {
    pub fn describe(&self) -> String {
        match self {
            EventKind::Connection { state, reason } => match reason {
                Some(r) => format!("connection.update {} ({r})", state.word()),
                None => format!("connection.update {}", state.word()),
            },
            EventKind::Qr { code: Some(_), .. } => "qrcode.updated".into(),
            EventKind::Qr { code: None, .. } => "qrcode.updated (limit reached)".into(),
            EventKind::MessageIn => "messages.upsert in".into(),
            EventKind::MessageOut => "messages.upsert out".into(),
            EventKind::Created => "instance.create".into(),
            EventKind::Deleted => "instance.delete".into(),
            EventKind::Other(name) => name.clone(),
        }
    }
}

/// One webhook endpoint's delivery health (zapgate's `GET /webhook/stats/{instance}`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Endpoint {
    /// `instance` (the instance's own webhook) or `global` (the server-wide one).
    pub kind: String,
    pub url: Option<String>,
    /// Deliveries waiting in the outbox.
    pub backlog: u64,
    /// The backlog reached the server's cap: new events are refused for this endpoint.
    pub backlog_full: bool,
    pub last_status: Option<u16>,
    pub last_error: Option<String>,
    pub consecutive_failures: u64,
    pub delivered: u64,
    pub dead_lettered: u64,
}

/// The detail view's webhook panel.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct WebhookHealth {
    /// Dead letters of the instance, replayable.
    pub dead_letters: u64,
    pub endpoints: Vec<Endpoint>,
}

/// Server facts for the header (`/health` and `/`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServerInfo {
    pub version: Option<String>,
    pub uptime_s: Option<u64>,
    pub rss_bytes: Option<u64>,
}

/// How fresh the data is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Not connected yet.
    Starting,
    /// The live stream is open.
    Live,
    /// The server has no live stream (plain Evolution): fetchInstances is polled and diffed.
    Polling,
    /// The server went away; the next attempt is in this many seconds.
    Reconnecting { in_s: u64 },
}

/// Every request the console makes on the operator's behalf.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Request {
    /// `integration` None: the console's default (config), else the server's.
    Create {
        name: String,
        integration: Option<String>,
    },
    Connect {
        name: String,
        number: Option<String>,
    },
    Restart {
        name: String,
    },
    Logout {
        name: String,
    },
    Delete {
        name: String,
    },
    SendText {
        name: String,
        number: String,
        text: String,
    },
    /// Queue the instance's dead letters for delivery again.
    Replay {
        name: String,
    },
}

impl Request {
    pub fn instance(&self) -> &str {
        match self {
            Request::Create { name, .. }
            | Request::Connect { name, .. }
            | Request::Restart { name }
            | Request::Logout { name }
            | Request::Delete { name }
            | Request::SendText { name, .. }
            | Request::Replay { name } => name,
        }
    }

    pub fn verb(&self) -> &'static str {
        match self {
            Request::Create { .. } => "create",
            Request::Connect { .. } => "connect",
            Request::Restart { .. } => "restart",
            Request::Logout { .. } => "logout",
            Request::Delete { .. } => "delete",
            Request::SendText { .. } => "send",
            Request::Replay { .. } => "replay",
        }
    }
}

/// What an answered request brought back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionOk {
    Done,
    /// `connect` answered with a QR code and/or a pairing code.
    Qr {
        code: Option<String>,
        pairing_code: Option<String>,
    },
    /// Dead letters queued again.
    Replayed(u64),
}

/// Reads the console makes for a view (not on the operator's behalf: no pending mark).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetch {
    Webhooks(String),
}

#[derive(Debug, Clone, PartialEq)]
pub enum Msg {
    Key(KeyEvent),
    Resize,
    /// Every instance (fetchInstances): rows missing from it are gone.
    Snapshot(Vec<InstanceRow>),
    /// Some instances in full (new ones the summary named): added or updated, nothing removed.
    Rows(Vec<InstanceRow>),
    /// zapgate's summary: the rows that changed (`complete` false) or every row (`complete`
    /// true, and then rows missing from it are gone). Identity fields are kept.
    Summary {
        rows: Vec<SummaryRow>,
        complete: bool,
    },
    Event(StreamEvent),
    Link(LinkState),
    Server(ServerInfo),
    Reply {
        req: Request,
        result: Result<ActionOk, String>,
    },
    Tick(UnixSecs),
    Webhooks {
        name: String,
        result: Result<WebhookHealth, String>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cmd {
    Http(Request),
    Fetch(Fetch),
    /// Refetch the snapshot (an event named an instance the console does not know).
    Resync,
    /// Follow another server named in the config file (`:server NAME`).
    Switch(String),
    /// Put this text on the clipboard of the terminal (OSC 52, which works over SSH and in
    /// tmux with `set-clipboard on`).
    Copy(String),
    Quit,
}
