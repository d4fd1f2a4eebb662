//! Fixtures shared by the pure tests: a fixed clock and apps built from rows.
#![allow(dead_code)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use zapgate_tui::app::App;
use zapgate_tui::msg::{
    Counters, Endpoint, EventKind, InstanceRow, Msg, State, StreamEvent, WebhookHealth,
};

/// 2027-01-15 08:00:00 UTC: every age on screen is measured from here.
pub const T0: u64 = 1_800_000_000;

pub fn row(name: &str, state: State, since_ago: u64) -> InstanceRow {
    InstanceRow {
        name: name.into(),
        state,
        since: Some(T0 - since_ago),
        number: Some(format!("5511{:07}", name.len() * 1_111)),
        owner_jid: None,
        profile_name: None,
        engine: "LOOPBACK".into(),
        last_error: (state == State::Failed).then(|| "401 logged out".to_string()),
        messages: 3,
        counters: Some(Counters::default()),
        webhook: None,
    }
}

/// The fleet used by most tests: one of each state, problems hidden among healthy ones.
pub fn fleet() -> Vec<InstanceRow> {
    vec![
        row("support-7", State::Open, 2 * 86_400),
        row("acme-sales", State::Failed, 192),
        row("shop-22", State::Connecting, 14 * 60),
        row("billing", State::Open, 3_600),
        row("old-promo", State::Close, 7 * 86_400),
        row("kiosk-3", State::Refused, 45),
    ]
}

pub fn app(rows: Vec<InstanceRow>) -> App {
    let mut a = App::new("prod http://gw1:8080".into(), false, T0);
    a.update(Msg::Snapshot(rows));
    a
}

pub fn key(c: char) -> Msg {
    let mods = if c.is_ascii_uppercase() {
        KeyModifiers::SHIFT
    } else {
        KeyModifiers::NONE
    };
    Msg::Key(KeyEvent::new(KeyCode::Char(c), mods))
}

pub fn code(k: KeyCode) -> Msg {
    Msg::Key(KeyEvent::new(k, KeyModifiers::NONE))
}

pub fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        app.update(key(c));
    }
}

pub fn conn(name: &str, state: State, at: u64) -> Msg {
    Msg::Event(StreamEvent {
        instance: name.into(),
        at,
        kind: EventKind::Connection {
            state,
            reason: Some(200),
        },
    })
}

pub fn screen(app: &mut App, w: u16, h: u16) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(w, h)).expect("test terminal");
    t.draw(|f| zapgate_tui::ui::draw(f, app)).expect("draw");
    t
}

/// The names in the fleet view, in order.
pub fn order(app: &mut App) -> Vec<String> {
    app.sync_view();
    app.fleet
        .current_view()
        .iter()
        .map(|&i| app.fleet.row_at(i).unwrap().info.name.clone())
        .collect()
}

/// Webhook health as the detail reads it: the instance's endpoint fine, the global one failing
/// with a backlog, three dead letters.
pub fn webhook_health() -> WebhookHealth {
    WebhookHealth {
        dead_letters: 3,
        endpoints: vec![
            Endpoint {
                kind: "instance".into(),
                url: Some("http://hooks.example/acme".into()),
                last_status: Some(200),
                delivered: 120,
                ..Endpoint::default()
            },
            Endpoint {
                kind: "global".into(),
                url: Some("http://collector.example/all".into()),
                backlog: 42,
                last_status: Some(503),
                last_error: Some("HTTP 503".into()),
                consecutive_failures: 5,
                delivered: 900,
                dead_lettered: 3,
                ..Endpoint::default()
            },
        ],
    }
}
