//! Pure `update` tests of the detail's webhook panel and replay, freeze, the command history,
//! `:server`, and zapgate's compact summary merged into the fleet.

mod support;

use crossterm::event::KeyCode;
use support::*;
use zapgate_tui::app::{App, Dialog, Mode};
use zapgate_tui::msg::{
    ActionOk, Cmd, Counters, Fetch, Msg, Request, State, SummaryRow, WebhookBrief, WebhookHealth,
};

fn open_detail(a: &mut App) -> Vec<Cmd> {
    a.update(key('g'));
    a.update(code(KeyCode::Enter))
}

#[test]
fn the_detail_reads_webhook_health_on_open_and_every_five_seconds() {
    let mut a = app(fleet());
    let cmds = open_detail(&mut a);
    assert_eq!(
        cmds,
        [Cmd::Fetch(Fetch::Webhooks("acme-sales".into()))],
        "opening the detail asks for its webhook health"
    );
    assert!(a.update(Msg::Tick(T0 + 4)).is_empty());
    assert_eq!(
        a.update(Msg::Tick(T0 + 5)),
        [Cmd::Fetch(Fetch::Webhooks("acme-sales".into()))]
    );
    a.update(code(KeyCode::Esc));
    assert!(
        a.update(Msg::Tick(T0 + 60)).is_empty(),
        "nothing is read once the detail is closed"
    );
}

#[test]
fn replay_asks_first_then_refreshes_the_health() {
    let mut a = app(fleet());
    open_detail(&mut a);
    a.update(Msg::Webhooks {
        name: "acme-sales".into(),
        result: Ok(webhook_health()),
    });
    assert_eq!(a.hooks_of("acme-sales").map(|h| h.dead_letters), Some(3));
    assert!(a.update(key('R')).is_empty(), "R only opens the dialog");
    let Mode::Dialog(Dialog::Confirm { prompt, .. }) = &a.mode else {
        panic!("a confirm dialog, got {:?}", a.mode)
    };
    assert!(
        prompt.contains("acme-sales") && prompt.contains('3'),
        "{prompt}"
    );
    let replay = Request::Replay {
        name: "acme-sales".into(),
    };
    assert_eq!(a.update(key('y')), [Cmd::Http(replay.clone())]);
    let after = a.update(Msg::Reply {
        req: replay,
        result: Ok(ActionOk::Replayed(3)),
    });
    assert_eq!(after, [Cmd::Fetch(Fetch::Webhooks("acme-sales".into()))]);
    assert!(a.status.as_ref().unwrap().text.contains("3 dead letters"));
}

#[test]
fn replay_is_refused_in_read_only_mode_and_errors_are_kept() {
    let mut a = App::new("ro".into(), true, T0);
    a.update(Msg::Snapshot(fleet()));
    open_detail(&mut a);
    a.update(key('R'));
    assert_eq!(a.mode, Mode::Normal, "no dialog in read-only mode");
    a.update(Msg::Webhooks {
        name: "acme-sales".into(),
        result: Err("HTTP 401: Unauthorized".into()),
    });
    assert_eq!(a.hooks_of("acme-sales"), None::<&WebhookHealth>);
    assert!(a.hooks.as_ref().unwrap().result.is_err());
}

#[test]
fn freeze_keeps_the_order_while_values_change() {
    let mut a = app(fleet());
    let before = order(&mut a);
    a.update(key('f'));
    assert!(a.fleet.frozen);
    // billing fails: unfrozen it would jump to the top.
    a.update(conn("billing", State::Failed, T0 + 1));
    assert_eq!(order(&mut a), before, "rows stay put while frozen");
    assert_eq!(a.fleet.get("billing").unwrap().info.state, State::Failed);
    assert_eq!(a.fleet.count(State::Failed), 2, "values still update");
    a.update(key('f'));
    assert_eq!(order(&mut a)[0], "acme-sales");
    assert_eq!(
        order(&mut a)[1],
        "billing",
        "unfrozen, the failure sorts up"
    );
}

#[test]
fn a_sort_or_filter_change_applies_even_when_frozen() {
    let mut a = app(fleet());
    a.update(key('f'));
    a.update(key('N'));
    assert_eq!(order(&mut a)[0], "acme-sales");
    assert_eq!(order(&mut a)[1], "billing", "name order");
    a.update(key('/'));
    typed(&mut a, "shop");
    assert_eq!(order(&mut a), ["shop-22"]);
}

#[test]
fn the_command_bar_remembers_lines() {
    let mut a = app(fleet());
    for line in ["sort name", "filter shop", "sort name"] {
        a.update(key(':'));
        typed(&mut a, line);
        a.update(code(KeyCode::Enter));
    }
    a.update(key(':'));
    typed(&mut a, "dr");
    a.update(code(KeyCode::Up));
    assert_eq!(a.mode, Mode::Command("sort name".into()));
    a.update(code(KeyCode::Up));
    assert_eq!(a.mode, Mode::Command("filter shop".into()));
    a.update(code(KeyCode::Up));
    assert_eq!(
        a.mode,
        Mode::Command("sort name".into()),
        "the oldest line; nothing older"
    );
    a.update(code(KeyCode::Down));
    a.update(code(KeyCode::Down));
    a.update(code(KeyCode::Down));
    assert_eq!(
        a.mode,
        Mode::Command("dr".into()),
        "past the newest, the draft comes back"
    );
}

#[test]
fn server_switches_by_name_and_starts_over() {
    let mut a = app(fleet());
    a.update(key(':'));
    typed(&mut a, "server lab");
    assert_eq!(a.update(code(KeyCode::Enter)), [Cmd::Switch("lab".into())]);
    a.update(key(':'));
    typed(&mut a, "server");
    assert!(a.update(code(KeyCode::Enter)).is_empty());
    assert!(a.status.as_ref().unwrap().error, "a name is needed");
    a.switch_server("lab http://127.0.0.1:8080".into(), true, T0);
    assert!(a.fleet.is_empty() && a.read_only);
    assert_eq!(a.server, "lab http://127.0.0.1:8080");
}

fn summary(name: &str, state: State, messages_in: u64) -> SummaryRow {
    SummaryRow {
        name: name.into(),
        state,
        since: Some(T0 + 5),
        counters: Counters {
            messages_in,
            ..Counters::default()
        },
        last_error: None,
        webhook: None,
    }
}

#[test]
fn a_summary_delta_updates_rows_in_place_and_keeps_identity() {
    let mut a = app(fleet());
    a.update(Msg::Summary {
        rows: vec![
            summary("billing", State::Connecting, 40),
            summary("new-one", State::Close, 0),
        ],
        complete: false,
    });
    let billing = a.fleet.get("billing").unwrap();
    assert_eq!(billing.info.state, State::Connecting);
    assert_eq!(billing.info.counters.unwrap().messages_in, 40);
    assert_eq!(
        billing.info.engine, "LOOPBACK",
        "identity fields stay as listed"
    );
    assert!(billing.info.number.is_some());
    assert_eq!(a.fleet.len(), 7, "a delta adds and never removes");
    assert_eq!(a.fleet.count(State::Connecting), 2);
}

#[test]
fn a_complete_summary_drops_what_it_does_not_list() {
    let mut a = app(fleet());
    a.update(key(' '));
    a.update(Msg::Summary {
        rows: vec![summary("billing", State::Open, 1)],
        complete: true,
    });
    assert_eq!(a.fleet.len(), 1);
    assert!(a.marks.is_empty(), "marks of removed rows go too");
    let total: u32 = State::ALL.iter().map(|&s| a.fleet.count(s)).sum();
    assert_eq!(total, 1, "counts follow");
}

#[test]
fn a_listing_older_than_an_event_does_not_undo_it() {
    let mut a = app(fleet());
    a.update(conn("billing", State::Connecting, T0 + 10));
    // A summary made before that event still says open, since long ago.
    let mut stale = summary("billing", State::Open, 0);
    stale.since = Some(T0 - 3_600);
    a.update(Msg::Summary {
        rows: vec![stale],
        complete: false,
    });
    let billing = a.fleet.get("billing").unwrap();
    assert_eq!(billing.info.state, State::Connecting);
    assert_eq!(billing.flaps_last_hour(T0 + 11), 1, "no false flap");
    // A newer listing applies.
    a.update(Msg::Summary {
        rows: vec![summary("billing", State::Open, 0)]
            .into_iter()
            .map(|mut r| {
                r.since = Some(T0 + 20);
                r
            })
            .collect(),
        complete: false,
    });
    assert_eq!(a.fleet.get("billing").unwrap().info.state, State::Open);
}

#[test]
fn the_pulse_samples_once_a_second() {
    let mut a = app(fleet());
    a.update(key('P'));
    assert_eq!(*a.route(), zapgate_tui::app::Route::Pulse);
    for i in 0..3 {
        a.update(conn("billing", State::Connecting, T0 + 1));
        a.update(Msg::Tick(T0 + 1 + i));
    }
    a.update(Msg::Tick(T0 + 3));
    let p = &a.pulse;
    assert_eq!(p.events.iter().copied().collect::<Vec<_>>(), [1, 1, 1]);
    assert_eq!(p.problems.back(), Some(&2), "failed + refused");
    assert_eq!(p.open.back(), Some(&1), "billing left open");
}

#[test]
fn y_copies_the_name_under_the_cursor() {
    let mut a = app(fleet());
    a.update(key('g'));
    assert_eq!(a.update(key('y')), [Cmd::Copy("acme-sales".into())]);
}

#[test]
fn a_failing_webhook_shows_in_its_row_and_sorts_first_within_its_state() {
    let mut a = app(fleet());
    let before = order(&mut a);
    // The last open row (by name) gets a webhook that keeps failing.
    let open_rows: Vec<String> = before
        .iter()
        .filter(|n| a.fleet.get(n).unwrap().info.state == State::Open)
        .cloned()
        .collect();
    let last_open = open_rows.last().unwrap().clone();
    let mut row = summary(&last_open, State::Open, 0);
    row.since = a.fleet.get(&last_open).unwrap().info.since;
    row.webhook = Some(WebhookBrief {
        backlog: 1432,
        last_status: Some(503),
        failing: 7,
    });
    a.update(Msg::Summary {
        rows: vec![row],
        complete: false,
    });
    let after = order(&mut a);
    let first_open = after
        .iter()
        .find(|n| a.fleet.get(n).unwrap().info.state == State::Open)
        .unwrap();
    assert_eq!(first_open, &last_open, "{after:?}");
    // `W` sorts by backlog, the largest first; `:problems` lists it though its session is open.
    a.update(key('W'));
    assert_eq!(order(&mut a)[0], last_open);
    a.update(key(':'));
    typed(&mut a, "problems");
    a.update(code(KeyCode::Enter));
    let problems = order(&mut a);
    assert!(problems.contains(&last_open), "{problems:?}");
    assert!(
        !problems.contains(&"billing".to_string()) || last_open == "billing",
        "{problems:?}"
    );
    let t = screen(&mut a, 160, 14);
    let buf = t.backend().buffer();
    let lines: Vec<String> = (0..14)
        .map(|y| (0..160).map(|x| buf[(x, y)].symbol().to_string()).collect())
        .collect();
    assert!(lines.iter().any(|l| l.contains("WEBHOOK")), "{lines:#?}");
    assert!(
        lines[0].contains("webhooks 1432 waiting, 1 failing"),
        "the header sums the fleet's webhooks: {lines:#?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.contains(last_open.as_str()) && l.contains("1432 503")),
        "{lines:#?}"
    );
}
