//! What the operator's keys do (actions) and what the server's answers change (replies).

use super::keys::Action;
use super::query::{Filter, SortKey};
use super::{App, Dialog, InputKind, Mode, Route, Webhooks};
use crate::msg::{ActionOk, Cmd, Fetch, Request, WebhookHealth};

/// The detail view re-reads webhook health this often while it is open.
const HOOKS_EVERY: u64 = 5;

impl App {
    pub(super) fn reply(&mut self, req: Request, result: Result<ActionOk, String>) -> Vec<Cmd> {
        let name = req.instance().to_string();
        if let Some(row) = self.fleet.get_mut(&name) {
            row.pending = None;
        }
        match result {
            Ok(ActionOk::Replayed(n)) => {
                self.say(
                    format!("replay {name}: {n} dead letters queued again"),
                    false,
                );
                vec![Cmd::Fetch(Fetch::Webhooks(name))]
            }
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

    pub(super) fn act(&mut self, a: Action) -> Vec<Cmd> {
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
                    self.routes.push(Route::Detail(n.clone()));
                    return self.fetch_webhooks(n);
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
            Action::SortWebhook => self.sort_by(SortKey::Webhook),
            Action::Events => self.routes.push(Route::Events),
            Action::Pulse => self.routes.push(Route::Pulse),
            Action::Copy => {
                if let Some(name) = self.target() {
                    self.say(format!("copied {name}"), false);
                    return vec![Cmd::Copy(name)];
                }
            }
            Action::Freeze => {
                self.fleet.frozen = !self.fleet.frozen;
                if !self.fleet.frozen {
                    self.sync_view();
                }
            }
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
            Action::Replay => {
                if let Some(name) = self.target() {
                    let letters = self.hooks_of(&name).map_or(0, |h| h.dead_letters);
                    self.mode = Mode::Dialog(Dialog::Confirm {
                        reqs: vec![Request::Replay { name: name.clone() }],
                        prompt: format!(
                            "Replay the dead letters of {name} ({letters} when last read)? y confirms; n or esc cancels"
                        ),
                    });
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

    pub(super) fn step(&mut self, by: i64) {
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

    pub(super) fn open_input(&mut self, kind: InputKind) {
        self.mode = Mode::Dialog(Dialog::Input {
            kind,
            text: String::new(),
        });
    }

    /// Asks for the webhook health of the instance the detail shows.
    pub(super) fn fetch_webhooks(&mut self, name: String) -> Vec<Cmd> {
        self.hooks_asked = self.now;
        vec![Cmd::Fetch(Fetch::Webhooks(name))]
    }

    /// Re-reads webhook health while a detail is open (called each tick).
    pub(super) fn refresh_webhooks(&mut self) -> Vec<Cmd> {
        match self.route() {
            Route::Detail(n) if self.now >= self.hooks_asked + HOOKS_EVERY => {
                let n = n.clone();
                self.fetch_webhooks(n)
            }
            _ => vec![],
        }
    }

    /// The last webhook health read for `name`, if it was read and read well.
    pub fn hooks_of(&self, name: &str) -> Option<&WebhookHealth> {
        self.hooks
            .as_ref()
            .filter(|h| h.name == name)
            .and_then(|h| h.result.as_ref().ok())
    }

    pub(super) fn got_webhooks(&mut self, name: String, result: Result<WebhookHealth, String>) {
        self.hooks = Some(Webhooks { name, result });
    }
}
