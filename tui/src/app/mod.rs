//! The console's state and its one mutator, [`App::update`]: a `Msg` in, `Cmd`s out, no I/O.

mod actions;
pub mod fleet;
mod input;
pub mod keys;
pub mod log;
pub mod pulse;
pub mod query;
mod rate;

use std::collections::BTreeSet;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

use self::fleet::{Applied, Fleet};
use self::log::EventLog;
use self::query::{Filter, Sort};
use crate::msg::{Cmd, EventKind, LinkState, Msg, ServerInfo, State, UnixSecs, WebhookHealth};

pub use input::{Dialog, InputKind};

/// Where the operator is; `esc` pops back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Fleet,
    Detail(String),
    Events,
    Qr(String),
    Pulse,
}

/// Which widget gets the keys. In every mode but Normal, keys are text and never actions.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Normal,
    Filter(String),
    Command(String),
    Dialog(Dialog),
}

/// The webhook health last read for the detail view.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Webhooks {
    pub name: String,
    pub result: Result<WebhookHealth, String>,
}

/// A line for the status bar, replacing the key bar until the next key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub text: String,
    pub error: bool,
}

pub struct App {
    /// `name url` of the server, for the header.
    pub server: String,
    pub read_only: bool,
    pub fleet: Fleet,
    pub filter: Filter,
    pub sort: Sort,
    /// The selection is a name, not an index, so re-sorts do not move it to another instance.
    pub selected: Option<String>,
    pub cursor: usize,
    pub offset: usize,
    /// Body rows the last frame had room for (page up/down).
    pub page: usize,
    pub marks: BTreeSet<String>,
    pub routes: Vec<Route>,
    pub mode: Mode,
    /// `:` lines entered before, for ↑/↓ in the command bar.
    pub history: input::History,
    pub help: bool,
    pub link: LinkState,
    pub info: ServerInfo,
    pub log: EventLog,
    pub pulse: pulse::Pulse,
    pub status: Option<Status>,
    /// Webhook health of the instance the detail shows (read on open, then every few seconds).
    pub hooks: Option<Webhooks>,
    hooks_asked: UnixSecs,
    pub now: UnixSecs,
    pub dirty: bool,
    pub quit: bool,
    resync_asked: bool,
}

impl App {
    pub fn new(server: String, read_only: bool, now: UnixSecs) -> App {
        App {
            server,
            read_only,
            fleet: Fleet::default(),
            filter: Filter::default(),
            sort: Sort::default(),
            selected: None,
            cursor: 0,
            offset: 0,
            page: 10,
            marks: BTreeSet::new(),
            routes: vec![Route::Fleet],
            mode: Mode::Normal,
            history: input::History::default(),
            help: false,
            link: LinkState::Starting,
            info: ServerInfo::default(),
            log: EventLog::default(),
            pulse: pulse::Pulse::default(),
            status: None,
            hooks: None,
            hooks_asked: 0,
            now,
            dirty: true,
            quit: false,
            resync_asked: false,
        }
    }

    /// Starts over on another server: a new fleet, log and link; the command history stays.
    pub fn switch_server(&mut self, server: String, read_only: bool, now: UnixSecs) {
        let history = std::mem::take(&mut self.history);
        *self = App::new(server.clone(), read_only, now);
        self.history = history;
        self.say(format!("now following {server}"), false);
    }

    pub fn route(&self) -> &Route {
        self.routes.last().unwrap_or(&Route::Fleet)
    }

    /// Rebuilds the view if stale and puts the cursor back on the selected name.
    pub fn sync_view(&mut self) {
        self.fleet.view(&self.filter, self.sort, self.now);
        let view = self.fleet.current_view();
        let found = self
            .selected
            .as_deref()
            .and_then(|sel| self.fleet.slot_of(sel))
            .and_then(|slot| view.iter().position(|&i| i == slot));
        let len = self.fleet.current_view().len();
        self.cursor = match found {
            Some(p) => p,
            None => self.cursor.min(len.saturating_sub(1)),
        };
        self.selected = self.name_at(self.cursor);
    }

    fn name_at(&self, pos: usize) -> Option<String> {
        let slot = *self.fleet.current_view().get(pos)?;
        self.fleet.row_at(slot).map(|r| r.info.name.clone())
    }

    pub fn update(&mut self, msg: Msg) -> Vec<Cmd> {
        self.dirty = true;
        match msg {
            Msg::Key(k) if k.kind != KeyEventKind::Release => self.key(k),
            Msg::Key(_) | Msg::Resize => vec![],
            Msg::Tick(now) => {
                self.now = now;
                let problems = self.fleet.count(State::Failed) + self.fleet.count(State::Refused);
                self.pulse.sample(
                    now,
                    u64::from(self.fleet.count(State::Open)),
                    u64::from(problems),
                );
                self.refresh_webhooks()
            }
            Msg::Webhooks { name, result } => {
                self.got_webhooks(name, result);
                vec![]
            }
            Msg::Link(l) => {
                self.link = l;
                vec![]
            }
            Msg::Server(info) => {
                self.info = info;
                vec![]
            }
            Msg::Snapshot(rows) => {
                self.resync_asked = false;
                self.fleet.reconcile(rows, self.now);
                self.marks.retain(|n| self.fleet.get(n).is_some());
                self.sync_view();
                vec![]
            }
            Msg::Rows(rows) => {
                self.fleet.upsert(rows, self.now);
                self.sync_view();
                vec![]
            }
            Msg::Summary { rows, complete } => {
                self.resync_asked = false;
                self.fleet.merge_summary(rows, complete, self.now);
                if complete {
                    self.marks.retain(|n| self.fleet.get(n).is_some());
                }
                self.sync_view();
                vec![]
            }
            Msg::Event(ev) => {
                self.log.push(&ev);
                self.pulse.count_event();
                let created = matches!(ev.kind, EventKind::Created);
                match self.fleet.apply(&ev) {
                    Applied::Unknown if !self.resync_asked || created => {
                        self.resync_asked = true;
                        vec![Cmd::Resync]
                    }
                    _ => vec![],
                }
            }
            Msg::Reply { req, result } => self.reply(req, result),
        }
    }

    pub fn say(&mut self, text: String, error: bool) {
        self.status = Some(Status { text, error });
    }

    /// The binding table of the current route.
    pub fn bindings(&self) -> &'static [keys::Binding] {
        match self.route() {
            Route::Fleet => keys::FLEET,
            Route::Detail(_) => keys::DETAIL,
            Route::Events => keys::EVENTS,
            Route::Qr(_) => keys::QR,
            Route::Pulse => keys::PULSE,
        }
    }

    fn key(&mut self, k: KeyEvent) -> Vec<Cmd> {
        if self.help {
            self.help = false;
            return vec![];
        }
        if !matches!(self.mode, Mode::Normal) {
            return self.text_key(k);
        }
        self.status = None;
        match keys::lookup(self.bindings(), k, self.read_only) {
            Some(a) => self.act(a),
            None => vec![],
        }
    }

    /// Keys of the command, filter and dialog widgets.
    fn text_key(&mut self, k: KeyEvent) -> Vec<Cmd> {
        let mode = std::mem::replace(&mut self.mode, Mode::Normal);
        match mode {
            Mode::Normal => vec![],
            Mode::Filter(mut text) => {
                match k.code {
                    KeyCode::Enter => return vec![],
                    KeyCode::Esc => text.clear(),
                    _ => {
                        input::edit(&mut text, k);
                        self.mode = Mode::Filter(text.clone());
                    }
                }
                // Live: the view follows every keystroke.
                if matches!(self.route(), Route::Events) {
                    self.log.filter = text;
                } else {
                    self.set_filter(&text);
                }
                vec![]
            }
            Mode::Command(mut text) => match k.code {
                KeyCode::Enter => {
                    self.history.push(&text);
                    self.command(&text)
                }
                KeyCode::Esc => {
                    self.history.reset();
                    vec![]
                }
                KeyCode::Up | KeyCode::Down => {
                    let older = k.code == KeyCode::Up;
                    if let Some(line) = self.history.browse(older, &text) {
                        text = line;
                    }
                    self.mode = Mode::Command(text);
                    vec![]
                }
                _ => {
                    input::edit(&mut text, k);
                    self.mode = Mode::Command(text);
                    vec![]
                }
            },
            Mode::Dialog(d) => self.dialog_key(d, k),
        }
    }
}
