//! One binding table per view drives the dispatcher, the key bar and the `?` help, and read-only
//! mode hides the dangerous rows from all three at once.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    Back,
    Filter,
    Command,
    Mark,
    SortState,
    SortName,
    SortAge,
    SortMsgs,
    SortFlaps,
    SortWebhook,
    Events,
    Follow,
    Help,
    Quit,
    Create,
    Connect,
    PairCode,
    Restart,
    Logout,
    Delete,
    TestMessage,
    Replay,
    Freeze,
    Pulse,
    Copy,
}

#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub key: KeyCode,
    pub keys: &'static str,
    pub action: Action,
    pub label: &'static str,
    /// Shown in the always-visible key bar (everything is in `?`).
    pub hint: bool,
    /// Changes the server: hidden and refused in read-only mode.
    pub danger: bool,
}

const fn b(
    key: KeyCode,
    keys: &'static str,
    action: Action,
    label: &'static str,
    hint: bool,
    danger: bool,
) -> Binding {
    Binding {
        key,
        keys,
        action,
        label,
        hint,
        danger,
    }
}

use Action as A;
use KeyCode as K;

/// Keys every list view shares.
const NAV: [Binding; 10] = [
    b(K::Char('j'), "j/↓", A::Down, "down", false, false),
    b(K::Down, "↓", A::Down, "down", false, false),
    b(K::Char('k'), "k/↑", A::Up, "up", false, false),
    b(K::Up, "↑", A::Up, "up", false, false),
    b(K::PageDown, "pgdn", A::PageDown, "page down", false, false),
    b(K::PageUp, "pgup", A::PageUp, "page up", false, false),
    b(K::Char('g'), "g", A::Top, "top", false, false),
    b(K::Char('G'), "G", A::Bottom, "bottom", false, false),
    b(K::Esc, "esc", A::Back, "back", false, false),
    b(K::Char('q'), "q", A::Quit, "quit", true, false),
];

pub const FLEET: &[Binding] = &[
    NAV[0],
    NAV[1],
    NAV[2],
    NAV[3],
    NAV[4],
    NAV[5],
    NAV[6],
    NAV[7],
    b(K::Enter, "enter", A::Open, "detail", true, false),
    b(K::Char('/'), "/", A::Filter, "filter", true, false),
    b(K::Char(':'), ":", A::Command, "cmd", true, false),
    b(K::Char(' '), "space", A::Mark, "mark", true, false),
    b(K::Char('S'), "S", A::SortState, "sort state", true, false),
    b(K::Char('N'), "N", A::SortName, "sort name", false, false),
    b(K::Char('A'), "A", A::SortAge, "sort age", false, false),
    b(K::Char('M'), "M", A::SortMsgs, "sort msgs", false, false),
    b(K::Char('F'), "F", A::SortFlaps, "sort flaps", false, false),
    b(
        K::Char('W'),
        "W",
        A::SortWebhook,
        "sort webhook backlog",
        false,
        false,
    ),
    b(K::Char('e'), "e", A::Events, "events", false, false),
    b(
        K::Char('f'),
        "f",
        A::Freeze,
        "freeze/unfreeze",
        false,
        false,
    ),
    b(K::Char('P'), "P", A::Pulse, "pulse", false, false),
    b(K::Char('y'), "y", A::Copy, "copy name", false, false),
    b(K::Char('n'), "n", A::Create, "new", false, true),
    b(K::Char('c'), "c", A::Connect, "connect/QR", true, true),
    b(K::Char('p'), "p", A::PairCode, "pair by code", false, true),
    b(K::Char('r'), "r", A::Restart, "restart", true, true),
    b(K::Char('L'), "L", A::Logout, "logout", false, true),
    b(K::Char('D'), "D", A::Delete, "delete", false, true),
    b(
        K::Char('t'),
        "t",
        A::TestMessage,
        "test message",
        false,
        true,
    ),
    NAV[8],
    b(K::Char('?'), "?", A::Help, "help", true, false),
    NAV[9],
];

pub const DETAIL: &[Binding] = &[
    b(K::Char('c'), "c", A::Connect, "connect/QR", true, true),
    b(K::Char('p'), "p", A::PairCode, "pair by code", false, true),
    b(K::Char('r'), "r", A::Restart, "restart", true, true),
    b(K::Char('L'), "L", A::Logout, "logout", true, true),
    b(K::Char('D'), "D", A::Delete, "delete", true, true),
    b(
        K::Char('t'),
        "t",
        A::TestMessage,
        "test message",
        true,
        true,
    ),
    b(
        K::Char('R'),
        "R",
        A::Replay,
        "replay dead letters",
        false,
        true,
    ),
    b(K::Char('y'), "y", A::Copy, "copy name", false, false),
    b(K::Char('e'), "e", A::Events, "events", true, false),
    NAV[8],
    b(K::Char('?'), "?", A::Help, "help", true, false),
    NAV[9],
];

pub const EVENTS: &[Binding] = &[
    NAV[0],
    NAV[1],
    NAV[2],
    NAV[3],
    NAV[6],
    NAV[7],
    b(K::Char('f'), "f", A::Follow, "follow/pause", true, false),
    b(K::Char('/'), "/", A::Filter, "filter", true, false),
    NAV[8],
    b(K::Char('?'), "?", A::Help, "help", true, false),
    NAV[9],
];

pub const PULSE: &[Binding] = &[
    b(K::Char('e'), "e", A::Events, "events", true, false),
    NAV[8],
    b(K::Char('?'), "?", A::Help, "help", true, false),
    NAV[9],
];

pub const QR: &[Binding] = &[
    b(K::Char('p'), "p", A::PairCode, "pair by code", true, true),
    NAV[8],
    NAV[9],
];

/// The action a key means in this table. Uppercase letters arrive with SHIFT, which is masked.
pub fn lookup(table: &[Binding], key: KeyEvent, read_only: bool) -> Option<Action> {
    if key
        .modifiers
        .intersects(KeyModifiers::CONTROL | KeyModifiers::ALT)
    {
        return None;
    }
    table
        .iter()
        .find(|b| b.key == key.code && !(read_only && b.danger))
        .map(|b| b.action)
}

/// The rows a view shows (key bar, help): no duplicates of an action, no danger in read-only.
pub fn visible(table: &[Binding], read_only: bool) -> impl Iterator<Item = &Binding> {
    table.iter().enumerate().filter_map(move |(i, b)| {
        let first = table[..i].iter().all(|p| p.action != b.action);
        (first && !(read_only && b.danger)).then_some(b)
    })
}
