//! The console's state and its one mutator, [`App::update`]: a `Msg` in, `Cmd`s out, no I/O.

pub mod fleet;
mod input;
pub mod keys;
pub mod log;
pub mod query;

use std::collections::BTreeSet;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

use self::fleet::{Applied, Fleet};
use self::keys::Action;
use self::log::EventLog;
use self::query::{Filter, Sort, SortKey};
use crate::msg::{ActionOk, Cmd, EventKind, LinkState, Msg, Request, ServerInfo, UnixSecs};

pub use input::{Dialog, InputKind};

/// Where the operator is; `esc` pops back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    Fleet,
    Detail(String),
    Events,
    Qr(String),
}

/// Which widget gets the keys. In every mode but Normal, keys are text and never actions.
#[derive(Debug, Clone, PartialEq)]
pub enum Mode {
    Normal,
    Filter(String),
    Command(String),
    Dialog(Dialog),
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
    pub help: bool,
    pub link: LinkState,
    pub info: ServerInfo,
    pub log: EventLog,
    pub status: Option<Status>,
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
            help: false,
            link: LinkState::Starting,
            info: ServerInfo::default(),
            log: EventLog::default(),
            status: None,
            now,
            dirty: true,
            quit: false,
            resync_asked: false,
        }
    }

    pub fn route(&self) -> &Route {
        self.routes.last().unwrap_or(&Route::Fleet)
    }

    /// Rebuilds the view if stale and puts the cursor back on the selected name.
    pub fn sync_view(&mut self) {
        self.fleet.view(&self.filter, self.sort, self.now);
        let view = self.fleet.current_view();
        let found = self.selected.as_deref().and_then(|sel| {
            view.iter()
                .position(|&i| self.fleet.row_at(i).is_some_and(|r| r.info.name == sel))
        });
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
            Msg::Event(ev) => {
                self.log.push(&ev);
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

    fn reply(&mut self, req: Request, result: Result<ActionOk, String>) -> Vec<Cmd> {
        let name = req.instance().to_string();
        if let Some(row) = self.fleet.get_mut(&name) {
            row.pending = None;
        }
        match result {
            Ok(ok) => {
                if let ActionOk::Qr { code, pairing_code } = ok
                    && let Some(row) = self.fleet.get_mut(&name)
                {
                    row.qr = code.or(row.qr.take());
                    row.pairing_code = pairing_code.or(row.pairing_code.take());
                }
                self.say(format!("{} {name}: ok", req.verb()), false);
                match req {
                    Request::Create { .. } => {
                        self.selected = Some(name);
                        vec![Cmd::Resync]
                    }
                    Request::Delete { .. } => {
                        self.fleet.remove(&name);
                        self.marks.remove(&name);
                        vec![]
                    }
                    _ => vec![],
                }
            }
            Err(e) => {
                self.say(format!("{} {name}: {e}", req.verb()), true);
                vec![]
            }
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

    /// The instance an action on the current route is about.
    fn target(&self) -> Option<String> {
        match self.route() {
            Route::Detail(n) | Route::Qr(n) => Some(n.clone()),
            _ => self.selected.clone(),
        }
    }

    /// Marked instances on the fleet view, else the one under the cursor.
    fn targets(&self) -> Vec<String> {
        if matches!(self.route(), Route::Fleet) && !self.marks.is_empty() {
            self.marks.iter().cloned().collect()
        } else {
            self.target().into_iter().collect()
        }
    }

    fn act(&mut self, a: Action) -> Vec<Cmd> {
        match a {
            Action::Up | Action::Down | Action::PageUp | Action::PageDown => {
                let step = match a {
                    Action::Up => -1,
                    Action::Down => 1,
                    Action::PageUp => -(self.page.max(1) as i64),
                    _ => self.page.max(1) as i64,
                };
                self.step(step);
            }
            Action::Top => self.step(i64::MIN / 2),
            Action::Bottom => self.step(i64::MAX / 2),
            Action::Open => {
                if let Some(n) = self.selected.clone() {
                    self.routes.push(Route::Detail(n));
                }
            }
            Action::Back => {
                if self.routes.len() > 1 {
                    self.routes.pop();
                } else if !self.marks.is_empty() {
                    self.marks.clear();
                } else if self.filter.is_active() {
                    self.set_filter("");
                }
            }
            // A fresh prompt, as k9s's: typing replaces the filter (esc clears it).
            Action::Filter => self.mode = Mode::Filter(String::new()),
            Action::Command => self.mode = Mode::Command(String::new()),
            Action::Mark => {
                if let Some(n) = self.selected.clone() {
                    if !self.marks.remove(&n) {
                        self.marks.insert(n);
                    }
                    self.step(1);
                }
            }
            Action::SortState => self.sort_by(SortKey::State),
            Action::SortName => self.sort_by(SortKey::Name),
            Action::SortAge => self.sort_by(SortKey::Age),
            Action::SortMsgs => self.sort_by(SortKey::Msgs),
            Action::SortFlaps => self.sort_by(SortKey::Flaps),
            Action::Events => self.routes.push(Route::Events),
            Action::Follow => self.log.follow = !self.log.follow,
            Action::Help => self.help = true,
            Action::Quit => {
                self.quit = true;
                return vec![Cmd::Quit];
            }
            Action::Create => self.open_input(InputKind::Create),
            Action::Connect => {
                if let Some(name) = self.target() {
                    return self.connect(name, None);
                }
            }
            Action::PairCode => {
                if let Some(name) = self.target() {
                    self.open_input(InputKind::PairPhone { name });
                }
            }
            Action::TestMessage => {
                if let Some(name) = self.target() {
                    self.open_input(InputKind::TestMessage { name });
                }
            }
            Action::Restart | Action::Logout | Action::Delete => {
                let names = self.targets();
                if !names.is_empty() {
                    self.mode = Mode::Dialog(Dialog::confirm(a, names));
                }
            }
        }
        vec![]
    }

    fn step(&mut self, by: i64) {
        self.sync_view();
        let len = self.fleet.current_view().len() as i64;
        if matches!(self.route(), Route::Events) {
            self.log.scroll(by);
            return;
        }
        if len == 0 {
            return;
        }
        self.cursor = (self.cursor as i64 + by).clamp(0, len - 1) as usize;
        self.selected = self.name_at(self.cursor);
    }

    fn sort_by(&mut self, key: SortKey) {
        self.sort = self.sort.toggle(key);
        self.fleet.mark_stale();
        self.sync_view();
    }

    pub fn set_filter(&mut self, text: &str) {
        self.filter = Filter::parse(text);
        self.fleet.mark_stale();
        self.sync_view();
    }

    pub(crate) fn connect(&mut self, name: String, number: Option<String>) -> Vec<Cmd> {
        if let Some(row) = self.fleet.get_mut(&name) {
            row.pending = Some("connect");
        }
        if !matches!(self.route(), Route::Qr(n) if *n == name) {
            self.routes.push(Route::Qr(name.clone()));
        }
        vec![Cmd::Http(Request::Connect { name, number })]
    }

    /// Sends requests and marks their rows pending until the answers come.
    pub(crate) fn send(&mut self, reqs: Vec<Request>) -> Vec<Cmd> {
        if self.read_only {
            return vec![];
        }
        for r in &reqs {
            if let Some(row) = self.fleet.get_mut(r.instance()) {
                row.pending = Some(r.verb());
            }
        }
        reqs.into_iter().map(Cmd::Http).collect()
    }

    fn open_input(&mut self, kind: InputKind) {
        self.mode = Mode::Dialog(Dialog::Input {
            kind,
            text: String::new(),
        });
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
                KeyCode::Enter => self.command(&text),
                KeyCode::Esc => vec![],
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
