//! Dialogs (confirm, typed confirm, one-line forms) and the `:` command bar. Cancel is always
//! the default: only `y` or the exact typed text goes ahead.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::keys::Action;
use super::query::SortKey;
use super::{App, Mode, Route};
use crate::msg::{Cmd, Request};

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InputKind {
    Create,
    /// `number text`
    TestMessage {
        name: String,
    },
    /// The phone number to get a pairing code for.
    PairPhone {
        name: String,
    },
}

impl InputKind {
    pub fn prompt(&self) -> String {
        match self {
            InputKind::Create => "New instance: <name> [INTEGRATION]".into(),
            InputKind::TestMessage { name } => format!("Test message from {name}: <number> <text>"),
            InputKind::PairPhone { name } => format!("Pairing code for {name}: phone number"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dialog {
    /// `y` goes ahead, anything else cancels.
    Confirm {
        reqs: Vec<Request>,
        prompt: String,
    },
    /// The operator must type `expect` (the name, or the count for a bulk delete).
    Typed {
        reqs: Vec<Request>,
        prompt: String,
        expect: String,
        typed: String,
    },
    Input {
        kind: InputKind,
        text: String,
    },
}

impl Dialog {
    pub fn confirm(action: Action, names: Vec<String>) -> Dialog {
        let (verb, make): (&str, fn(String) -> Request) = match action {
            Action::Restart => ("Restart", |name| Request::Restart { name }),
            Action::Logout => ("Log out", |name| Request::Logout { name }),
            _ => ("Delete", |name| Request::Delete { name }),
        };
        let n = names.len();
        let shown = if n == 1 {
            names[0].clone()
        } else {
            let mut list = names.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
            if n > 5 {
                list.push_str(&format!(" and {} more", n - 5));
            }
            format!("{n} instances ({list})")
        };
        let reqs: Vec<Request> = names.iter().cloned().map(make).collect();
        if matches!(action, Action::Delete) {
            let expect = if n == 1 {
                names[0].clone()
            } else {
                n.to_string()
            };
            let what = if n == 1 { "its name" } else { "the count" };
            Dialog::Typed {
                reqs,
                prompt: format!("{verb} {shown}? Type {what} ({expect}) and enter; esc cancels"),
                expect,
                typed: String::new(),
            }
        } else {
            Dialog::Confirm {
                reqs,
                prompt: format!("{verb} {shown}? y confirms; n or esc cancels"),
            }
        }
    }
}

/// Lines kept in the command history; the oldest go first.
const HISTORY: usize = 50;

/// The `:` bar's history: ↑ goes back, ↓ forward, and past the newest the line being typed
/// comes back.
#[derive(Debug, Default)]
pub struct History {
    lines: Vec<String>,
    /// Where ↑/↓ are, counted back from the newest; None when not browsing.
    at: Option<usize>,
    /// The line that was being typed when browsing began.
    draft: String,
}

impl History {
    pub fn push(&mut self, line: &str) {
        let line = line.trim();
        self.reset();
        if line.is_empty() || self.lines.last().is_some_and(|l| l == line) {
            return;
        }
        if self.lines.len() == HISTORY {
            self.lines.remove(0);
        }
        self.lines.push(line.to_string());
    }

    pub fn reset(&mut self) {
        self.at = None;
        self.draft.clear();
    }

    /// The line to show after ↑ (`older`) or ↓, or None when there is nothing further.
    pub fn browse(&mut self, older: bool, current: &str) -> Option<String> {
        let n = self.lines.len();
        let next = match (self.at, older) {
            (None, true) if n > 0 => {
                self.draft = current.to_string();
                Some(0)
            }
            (Some(a), true) if a + 1 < n => Some(a + 1),
            (Some(0), false) => {
                self.at = None;
                return Some(std::mem::take(&mut self.draft));
            }
            (Some(a), false) => Some(a - 1),
            _ => return None,
        };
        self.at = next;
        next.map(|a| self.lines[n - 1 - a].clone())
    }
}

/// Line editing shared by every text widget.
pub fn edit(text: &mut String, k: KeyEvent) {
    match k.code {
        KeyCode::Backspace => {
            text.pop();
        }
        KeyCode::Char('u') if k.modifiers.contains(KeyModifiers::CONTROL) => text.clear(),
        KeyCode::Char(c) if !k.modifiers.contains(KeyModifiers::CONTROL) => text.push(c),
        _ => {}
    }
}

impl App {
    pub(super) fn dialog_key(&mut self, d: Dialog, k: KeyEvent) -> Vec<Cmd> {
        match d {
            Dialog::Confirm { reqs, .. } => {
                if matches!(k.code, KeyCode::Char('y') | KeyCode::Char('Y')) {
                    self.marks.clear();
                    return self.send(reqs);
                }
                self.say("cancelled".into(), false);
                vec![]
            }
            Dialog::Typed {
                reqs,
                prompt,
                expect,
                mut typed,
            } => match k.code {
                KeyCode::Esc => {
                    self.say("cancelled".into(), false);
                    vec![]
                }
                KeyCode::Enter if typed == expect => {
                    self.marks.clear();
                    if reqs.iter().any(|r| matches!(self.route(), Route::Detail(n) | Route::Qr(n) if n == r.instance())) {
                        self.routes.truncate(1);
                    }
                    self.send(reqs)
                }
                KeyCode::Enter => {
                    self.say(
                        format!("typed text does not match \"{expect}\": cancelled"),
                        true,
                    );
                    vec![]
                }
                _ => {
                    edit(&mut typed, k);
                    self.mode = Mode::Dialog(Dialog::Typed {
                        reqs,
                        prompt,
                        expect,
                        typed,
                    });
                    vec![]
                }
            },
            Dialog::Input { kind, mut text } => match k.code {
                KeyCode::Esc => vec![],
                KeyCode::Enter => self.submit(kind, text.trim()),
                _ => {
                    edit(&mut text, k);
                    self.mode = Mode::Dialog(Dialog::Input { kind, text });
                    vec![]
                }
            },
        }
    }

    fn submit(&mut self, kind: InputKind, text: &str) -> Vec<Cmd> {
        if text.is_empty() {
            return vec![];
        }
        match kind {
            InputKind::Create => self.send(vec![create(text)]),
            InputKind::PairPhone { name } => self.connect(name, Some(text.to_string())),
            InputKind::TestMessage { name } => match text.split_once(' ') {
                Some((number, body)) if !body.trim().is_empty() => {
                    self.send(vec![Request::SendText {
                        name,
                        number: number.to_string(),
                        text: body.trim().to_string(),
                    }])
                }
                _ => {
                    self.say("expected: <number> <text>".into(), true);
                    vec![]
                }
            },
        }
    }

    /// `:` commands. Unknown ones say so.
    pub(super) fn command(&mut self, line: &str) -> Vec<Cmd> {
        let mut words = line.split_whitespace();
        let verb = words.next().unwrap_or("");
        let arg = words.collect::<Vec<_>>().join(" ");
        let need_arg = |app: &mut App, what: &str| {
            app.say(format!(":{verb} needs {what}"), true);
            vec![]
        };
        match verb {
            "" => vec![],
            "q" | "quit" => {
                self.quit = true;
                vec![Cmd::Quit]
            }
            "help" => {
                self.help = true;
                vec![]
            }
            "events" => {
                self.routes.push(Route::Events);
                vec![]
            }
            "pulse" => {
                self.routes.push(Route::Pulse);
                vec![]
            }
            "fleet" => {
                self.routes.truncate(1);
                vec![]
            }
            "problems" => {
                self.routes.truncate(1);
                self.set_filter("problems");
                vec![]
            }
            "filter" => {
                self.set_filter(&arg);
                vec![]
            }
            "server" if !arg.is_empty() => vec![Cmd::Switch(arg)],
            "server" => need_arg(self, "a server name from the config file"),
            "sort" => match SortKey::parse(&arg) {
                Some(k) => {
                    self.sort = self.sort.toggle(k);
                    self.fleet.mark_stale();
                    self.sync_view();
                    vec![]
                }
                None => need_arg(self, "one of state, name, age, msgs, flaps, webhook"),
            },
            _ if self.read_only => {
                self.say(format!(":{verb}: unknown command (read-only)"), true);
                vec![]
            }
            "create" if !arg.is_empty() => self.send(vec![create(&arg)]),
            "connect" if !arg.is_empty() => self.connect(arg, None),
            "restart" | "logout" | "delete" if !arg.is_empty() => {
                let action = match verb {
                    "restart" => Action::Restart,
                    "logout" => Action::Logout,
                    _ => Action::Delete,
                };
                self.mode = Mode::Dialog(Dialog::confirm(action, vec![arg]));
                vec![]
            }
            "create" | "connect" | "restart" | "logout" | "delete" => {
                need_arg(self, "an instance name")
            }
            _ => {
                self.say(format!(":{verb}: unknown command"), true);
                vec![]
            }
        }
    }
}

/// `name [INTEGRATION]`
fn create(text: &str) -> Request {
    let mut words = text.split_whitespace();
    Request::Create {
        name: words.next().unwrap_or_default().to_string(),
        integration: words.next().map(str::to_string),
    }
}
