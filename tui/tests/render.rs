//! `TestBackend` + insta snapshots of every screen, at a fixed clock. Snapshots are never written
//! by a test run (.config/insta.yaml: `update: no`; CI sets CI=true too): a changed screen fails.
//! Accept a deliberate change with `INSTA_UPDATE=always cargo test -p zapgate-tui --test render`.

mod support;

use crossterm::event::KeyCode;
use ratatui::style::{Color, Modifier};
use support::*;
use zapgate_tui::app::App;
use zapgate_tui::msg::{
    ActionOk, EventKind, LinkState, Msg, Request, ServerInfo, State, StreamEvent,
};

fn live(mut a: zapgate_tui::app::App) -> zapgate_tui::app::App {
    a.update(Msg::Link(LinkState::Live));
    a.update(Msg::Server(ServerInfo {
        version: Some("0.1.0".into()),
        uptime_s: Some(3 * 86_400 + 4 * 3600),
        rss_bytes: Some(412 << 20),
    }));
    a
}

#[test]
fn fleet_wide() {
    let mut a = live(app(fleet()));
    for _ in 0..4 {
        a.update(Msg::Event(StreamEvent {
            instance: "support-7".into(),
            at: T0,
            kind: EventKind::MessageIn,
        }));
    }
    let t = screen(&mut a, 160, 14);
    insta::assert_snapshot!(t.backend());
    // The failed row is first, red and marked with a glyph (colour is never the only signal).
    let buf = t.backend().buffer();
    let y = 4;
    let line: String = (0..160).map(|x| buf[(x, y)].symbol().to_string()).collect();
    assert!(
        line.contains("✗ failed") && line.contains("acme-sales"),
        "{line}"
    );
    let x = line
        .find('✗')
        .map(|b| line[..b].chars().count() as u16)
        .unwrap();
    assert_eq!(buf[(x, y)].fg, Color::Red);
    assert!(buf[(x, y)].modifier.contains(Modifier::BOLD));
}

#[test]
fn fleet_80x24() {
    let mut a = live(app(fleet()));
    insta::assert_snapshot!(screen(&mut a, 80, 24).backend());
}

#[test]
fn fleet_filtered() {
    let mut a = live(app(fleet()));
    a.update(key('/'));
    typed(&mut a, "!open");
    insta::assert_snapshot!(screen(&mut a, 100, 12).backend());
}

#[test]
fn fleet_sorted_by_name_reversed() {
    let mut a = live(app(fleet()));
    a.update(key('N'));
    a.update(key('N'));
    insta::assert_snapshot!(screen(&mut a, 100, 12).backend());
}

#[test]
fn detail() {
    let mut a = live(app(fleet()));
    a.update(conn("acme-sales", State::Connecting, T0 + 1));
    a.update(conn("acme-sales", State::Failed, T0 + 2));
    a.update(Msg::Tick(T0 + 10));
    a.update(code(KeyCode::Enter));
    a.update(Msg::Webhooks {
        name: "acme-sales".into(),
        result: Ok(webhook_health()),
    });
    insta::assert_snapshot!(screen(&mut a, 120, 20).backend());
}

#[test]
fn detail_webhook_health_read_only_has_no_replay_key() {
    let mut a = App::new("prod http://gw1:8080".into(), true, T0);
    a.update(Msg::Snapshot(fleet()));
    a.update(Msg::Link(LinkState::Live));
    a.update(key('g'));
    a.update(code(KeyCode::Enter));
    a.update(Msg::Webhooks {
        name: "acme-sales".into(),
        result: Ok(webhook_health()),
    });
    let t = screen(&mut a, 120, 20);
    let text = format!("{}", t.backend());
    assert!(text.contains("dead letters 3"), "{text}");
    assert!(!text.contains("replay"), "read-only hides replay:\n{text}");
}

#[test]
fn help_overlay() {
    let mut a = live(app(fleet()));
    a.update(key('?'));
    insta::assert_snapshot!(screen(&mut a, 100, 40).backend());
}

#[test]
fn confirm_bulk_restart() {
    let mut a = live(app(fleet()));
    for _ in 0..3 {
        a.update(key(' '));
    }
    a.update(key('r'));
    insta::assert_snapshot!(screen(&mut a, 100, 16).backend());
}

#[test]
fn typed_delete() {
    let mut a = live(app(fleet()));
    a.update(key('D'));
    typed(&mut a, "acme");
    insta::assert_snapshot!(screen(&mut a, 100, 16).backend());
}

fn qr_app() -> zapgate_tui::app::App {
    let mut a = live(app(fleet()));
    for _ in 0..3 {
        a.update(key('j'));
    }
    a.update(key('c'));
    a.update(Msg::Reply {
        req: Request::Connect {
            name: "old-promo".into(),
            number: None,
        },
        result: Ok(ActionOk::Qr {
            code: Some("2@zapgate-console-test".into()),
            pairing_code: Some("WZYX-1234".into()),
        }),
    });
    a
}

#[test]
fn qr_pane() {
    let mut a = qr_app();
    let first = screen(&mut a, 80, 30).backend().to_string();
    insta::assert_snapshot!(first.clone());
    // A new code replaces the old one in place.
    a.update(Msg::Event(StreamEvent {
        instance: "old-promo".into(),
        at: T0 + 20,
        kind: EventKind::Qr {
            code: Some("2@zapgate-console-next".into()),
            pairing_code: None,
        },
    }));
    let second = screen(&mut a, 80, 30).backend().to_string();
    assert_ne!(first, second);
    assert!(second.contains("pair old-promo"));
}

#[test]
fn qr_pane_too_small_falls_back_to_the_pairing_code() {
    let mut a = qr_app();
    insta::assert_snapshot!(screen(&mut a, 80, 12).backend());
}

#[test]
fn read_only_hides_actions() {
    let mut a = live(app(fleet()));
    a.read_only = true;
    let t = screen(&mut a, 100, 10);
    let text = t.backend().to_string();
    insta::assert_snapshot!(text.clone());
    assert!(text.contains("RO"));
    let bar = text.lines().last().unwrap();
    assert!(
        bar.contains("filter") && !bar.contains("restart") && !bar.contains("connect"),
        "{bar}"
    );
    a.update(key('?'));
    let help = screen(&mut a, 100, 30).backend().to_string();
    assert!(
        !help.contains("delete") && !help.contains("restart"),
        "{help}"
    );
}

#[test]
fn disconnected_banner() {
    let mut a = live(app(fleet()));
    a.update(Msg::Link(LinkState::Reconnecting { in_s: 4 }));
    insta::assert_snapshot!(screen(&mut a, 100, 10).backend());
}

#[test]
fn polling_is_said_in_the_header() {
    let mut a = app(fleet());
    a.update(Msg::Link(LinkState::Polling));
    let text = screen(&mut a, 100, 10).backend().to_string();
    assert!(text.contains("POLLING"), "{text}");
}

#[test]
fn event_log() {
    let mut a = live(app(fleet()));
    a.update(conn("shop-22", State::Open, T0 + 1));
    a.update(Msg::Event(StreamEvent {
        instance: "shop-22".into(),
        at: T0 + 2,
        kind: EventKind::MessageIn,
    }));
    a.update(key('e'));
    insta::assert_snapshot!(screen(&mut a, 100, 10).backend());
}

#[test]
fn tiny_and_odd_sizes_never_panic() {
    let mut a = qr_app();
    for (w, h) in [(1, 1), (10, 3), (20, 6), (33, 7), (80, 24), (300, 100)] {
        screen(&mut a, w, h);
    }
    let mut a = live(app(fleet()));
    a.update(key('?'));
    for (w, h) in [(1, 1), (19, 5), (20, 6), (40, 8)] {
        screen(&mut a, w, h);
    }
}

#[test]
fn only_visible_rows_are_built() {
    // 5,000 instances in a 20-row window: the frame shows a window, the title the whole count.
    let rows = (0..5_000)
        .map(|i| row(&format!("inst-{i:05}"), State::Open, i))
        .collect();
    let mut a = live(app(rows));
    let text = screen(&mut a, 100, 20).backend().to_string();
    assert!(text.contains("instances[5000/5000]"), "{text}");
    assert!(text.contains("inst-00000") && !text.contains("inst-00100"));
    a.update(key('G'));
    let text = screen(&mut a, 100, 20).backend().to_string();
    assert!(text.contains("inst-04999"), "{text}");
}

#[test]
fn pulse() {
    let mut a = live(app(fleet()));
    for s in 1..=40u64 {
        for _ in 0..(s % 7) {
            a.update(Msg::Event(StreamEvent {
                instance: "support-7".into(),
                at: T0 + s,
                kind: EventKind::MessageIn,
            }));
        }
        a.update(Msg::Tick(T0 + s));
    }
    a.update(conn("billing", State::Connecting, T0 + 41));
    a.update(Msg::Tick(T0 + 41));
    a.update(key('P'));
    insta::assert_snapshot!(screen(&mut a, 100, 24).backend());
}
