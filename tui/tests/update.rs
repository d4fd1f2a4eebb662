//! Pure `App::update` tests: messages in, state and commands out. No terminal, no network.

mod support;

use crossterm::event::KeyCode;
use support::*;
use zapgate_tui::app::{Dialog, Mode, Route};
use zapgate_tui::msg::{ActionOk, Cmd, EventKind, LinkState, Msg, Request, State, StreamEvent};

#[test]
fn problems_sort_first_then_names() {
    let mut a = app(fleet());
    assert_eq!(
        order(&mut a),
        [
            "acme-sales",
            "kiosk-3",
            "shop-22",
            "old-promo",
            "billing",
            "support-7"
        ]
    );
    assert_eq!(a.selected.as_deref(), Some("acme-sales"));
}

#[test]
fn counts_follow_events_and_sum_to_the_rows() {
    let mut a = app(fleet());
    a.update(conn("shop-22", State::Open, T0 + 1));
    a.update(conn("billing", State::Failed, T0 + 2));
    assert_eq!(a.fleet.count(State::Open), 2);
    assert_eq!(a.fleet.count(State::Failed), 2);
    assert_eq!(a.fleet.count(State::Connecting), 0);
    let total: u32 = State::ALL.iter().map(|s| a.fleet.count(*s)).sum();
    assert_eq!(total as usize, a.fleet.len());
    assert_eq!(a.fleet.get("billing").unwrap().flaps.len(), 1);
}

#[test]
fn the_selection_follows_the_name_across_a_re_sort() {
    let mut a = app(fleet());
    a.update(key('j'));
    assert_eq!(a.selected.as_deref(), Some("kiosk-3"));
    // kiosk-3 recovers: it moves to the open block, and the cursor goes with it.
    a.update(conn("kiosk-3", State::Open, T0 + 5));
    a.sync_view();
    assert_eq!(a.selected.as_deref(), Some("kiosk-3"));
    assert_eq!(order(&mut a)[a.cursor], "kiosk-3");
}

#[test]
fn filter_substring_regex_state_word_and_inversion() {
    let mut a = app(fleet());
    a.update(key('/'));
    typed(&mut a, "sales");
    assert!(matches!(a.mode, Mode::Filter(_)));
    assert_eq!(order(&mut a), ["acme-sales"]);
    a.update(code(KeyCode::Enter));
    assert_eq!(a.mode, Mode::Normal);

    a.set_filter("^s.*-\\d+$");
    assert_eq!(order(&mut a), ["shop-22", "support-7"]);
    a.set_filter("open");
    assert_eq!(order(&mut a), ["billing", "support-7"]);
    a.set_filter("!open");
    assert_eq!(
        order(&mut a),
        ["acme-sales", "kiosk-3", "shop-22", "old-promo"]
    );
    a.set_filter("problems");
    assert_eq!(order(&mut a), ["acme-sales", "kiosk-3", "shop-22"]);
    // A broken regex falls back to a substring instead of erroring.
    a.set_filter("shop(");
    assert!(order(&mut a).is_empty());
}

#[test]
fn esc_in_the_filter_clears_it() {
    let mut a = app(fleet());
    a.update(key('/'));
    typed(&mut a, "zzz");
    assert!(order(&mut a).is_empty());
    a.update(code(KeyCode::Esc));
    assert_eq!(order(&mut a).len(), 6);
    assert_eq!(a.mode, Mode::Normal);
}

#[test]
fn keys_typed_into_the_filter_never_act() {
    let mut a = app(fleet());
    a.update(key('/'));
    let cmds: Vec<Cmd> = "qrD".chars().flat_map(|c| a.update(key(c))).collect();
    assert!(cmds.is_empty());
    assert!(!a.quit);
}

#[test]
fn sort_keys_and_the_same_key_flips() {
    let mut a = app(fleet());
    a.update(key('N'));
    assert_eq!(order(&mut a)[0], "acme-sales");
    a.update(key('N'));
    assert_eq!(order(&mut a)[0], "support-7");
    a.update(key('A'));
    assert_eq!(order(&mut a)[0], "old-promo", "longest in its state first");
}

#[test]
fn restart_asks_first_and_cancel_is_the_default() {
    let mut a = app(fleet());
    assert!(a.update(key('r')).is_empty());
    assert!(matches!(a.mode, Mode::Dialog(Dialog::Confirm { .. })));
    assert!(a.update(key('x')).is_empty());
    assert_eq!(a.mode, Mode::Normal);
    a.update(key('r'));
    let cmds = a.update(key('y'));
    assert_eq!(
        cmds,
        [Cmd::Http(Request::Restart {
            name: "acme-sales".into()
        })]
    );
    assert_eq!(a.fleet.get("acme-sales").unwrap().pending, Some("restart"));
}

#[test]
fn bulk_delete_needs_the_typed_count() {
    let mut a = app(fleet());
    a.update(key(' '));
    a.update(key(' '));
    assert_eq!(a.marks.len(), 2);
    a.update(key('D'));
    let Mode::Dialog(Dialog::Typed { prompt, expect, .. }) = &a.mode else {
        panic!("typed confirm expected, got {:?}", a.mode)
    };
    assert_eq!(expect, "2");
    assert!(prompt.contains("2 instances"), "{prompt}");
    typed(&mut a, "3");
    assert!(
        a.update(code(KeyCode::Enter)).is_empty(),
        "a wrong count cancels"
    );
    a.update(key('D'));
    typed(&mut a, "2");
    let cmds = a.update(code(KeyCode::Enter));
    assert_eq!(
        cmds,
        [
            Cmd::Http(Request::Delete {
                name: "acme-sales".into()
            }),
            Cmd::Http(Request::Delete {
                name: "kiosk-3".into()
            }),
        ]
    );
    assert!(a.marks.is_empty());
}

#[test]
fn single_delete_needs_the_typed_name() {
    let mut a = app(fleet());
    a.update(key('D'));
    typed(&mut a, "acme-sale");
    assert!(a.update(code(KeyCode::Enter)).is_empty());
    a.update(key('D'));
    typed(&mut a, "acme-sales");
    assert_eq!(
        a.update(code(KeyCode::Enter)),
        [Cmd::Http(Request::Delete {
            name: "acme-sales".into()
        })]
    );
}

#[test]
fn read_only_makes_no_requests() {
    let mut a = app(fleet());
    a.read_only = true;
    let mut cmds = Vec::new();
    for c in ['r', 'y', 'D', 'c', 'n', 'L', 't', 'p'] {
        cmds.extend(a.update(key(c)));
    }
    a.update(key(':'));
    typed(&mut a, "restart acme-sales");
    cmds.extend(a.update(code(KeyCode::Enter)));
    cmds.extend(a.update(key('y')));
    // `y` outside a dialog copies a name: a clipboard write, never a request.
    assert!(cmds.iter().all(|c| matches!(c, Cmd::Copy(_))), "{cmds:?}");
    assert_eq!(a.mode, Mode::Normal);
}

#[test]
fn connect_opens_the_qr_pane_and_events_replace_the_code() {
    let mut a = app(fleet());
    for _ in 0..3 {
        a.update(key('j'));
    }
    let name = a.selected.clone().unwrap();
    assert_eq!(name, "old-promo");
    let cmds = a.update(key('c'));
    assert_eq!(
        cmds,
        [Cmd::Http(Request::Connect {
            name: name.clone(),
            number: None
        })]
    );
    assert_eq!(a.route(), &Route::Qr(name.clone()));
    a.update(Msg::Reply {
        req: Request::Connect {
            name: name.clone(),
            number: None,
        },
        result: Ok(ActionOk::Qr {
            code: Some("2@first".into()),
            pairing_code: None,
        }),
    });
    assert_eq!(a.fleet.get(&name).unwrap().qr.as_deref(), Some("2@first"));
    a.update(Msg::Event(StreamEvent {
        instance: name.clone(),
        at: T0 + 20,
        kind: EventKind::Qr {
            code: Some("2@second".into()),
            pairing_code: None,
        },
    }));
    assert_eq!(a.fleet.get(&name).unwrap().qr.as_deref(), Some("2@second"));
    a.update(conn(&name, State::Open, T0 + 30));
    assert_eq!(
        a.fleet.get(&name).unwrap().qr,
        None,
        "the QR goes once paired"
    );
}

#[test]
fn an_unknown_instance_asks_for_one_resync() {
    let mut a = app(fleet());
    let ev = |n: &str| {
        Msg::Event(StreamEvent {
            instance: n.into(),
            at: T0,
            kind: EventKind::MessageIn,
        })
    };
    assert_eq!(a.update(ev("new-one")), [Cmd::Resync]);
    assert!(
        a.update(ev("new-two")).is_empty(),
        "one resync in flight is enough"
    );
    a.update(Msg::Snapshot(fleet()));
    assert_eq!(a.update(ev("new-three")), [Cmd::Resync]);
}

#[test]
fn a_snapshot_diff_keeps_rates_and_drops_the_missing() {
    let mut a = app(fleet());
    for _ in 0..3 {
        a.update(Msg::Event(StreamEvent {
            instance: "billing".into(),
            at: T0,
            kind: EventKind::MessageIn,
        }));
    }
    let mut next = fleet();
    next.retain(|r| r.name != "old-promo");
    a.update(Msg::Snapshot(next));
    assert!(a.fleet.get("old-promo").is_none());
    assert_eq!(a.fleet.get("billing").unwrap().rate_in.per_min(T0 + 1), 3);
    assert_eq!(a.fleet.count(State::Close), 0);
}

#[test]
fn message_rates_age_out_after_a_minute() {
    let mut a = app(fleet());
    a.update(Msg::Event(StreamEvent {
        instance: "billing".into(),
        at: T0,
        kind: EventKind::MessageOut,
    }));
    let r = a.fleet.get("billing").unwrap();
    assert_eq!(r.rate_out.per_min(T0 + 59), 1);
    assert_eq!(r.rate_out.per_min(T0 + 60), 0);
}

#[test]
fn create_from_the_form_then_resync() {
    let mut a = app(fleet());
    a.update(key('n'));
    typed(&mut a, "c-one LOOPBACK");
    let cmds = a.update(code(KeyCode::Enter));
    let req = Request::Create {
        name: "c-one".into(),
        integration: Some("LOOPBACK".into()),
    };
    assert_eq!(cmds, [Cmd::Http(req.clone())]);
    let cmds = a.update(Msg::Reply {
        req,
        result: Ok(ActionOk::Done),
    });
    assert_eq!(cmds, [Cmd::Resync]);
    assert_eq!(a.selected.as_deref(), Some("c-one"));
}

#[test]
fn errors_are_shown_and_clear_the_pending_mark() {
    let mut a = app(fleet());
    a.update(key('r'));
    a.update(key('y'));
    a.update(Msg::Reply {
        req: Request::Restart {
            name: "acme-sales".into(),
        },
        result: Err("HTTP 500: boom".into()),
    });
    assert_eq!(a.fleet.get("acme-sales").unwrap().pending, None);
    let s = a.status.clone().unwrap();
    assert!(s.error && s.text.contains("boom"), "{s:?}");
}

#[test]
fn commands_quit_sort_and_report_unknown_words() {
    let mut a = app(fleet());
    a.update(key(':'));
    typed(&mut a, "sort name");
    a.update(code(KeyCode::Enter));
    assert_eq!(order(&mut a)[0], "acme-sales");
    a.update(key(':'));
    typed(&mut a, "frobnicate");
    a.update(code(KeyCode::Enter));
    assert!(a.status.as_ref().unwrap().error);
    a.update(key(':'));
    typed(&mut a, "q");
    assert_eq!(a.update(code(KeyCode::Enter)), [Cmd::Quit]);
    assert!(a.quit);
}

#[test]
fn the_event_log_pauses_and_filters() {
    let mut a = app(fleet());
    for i in 0..5 {
        a.update(conn(
            "billing",
            if i % 2 == 0 {
                State::Connecting
            } else {
                State::Open
            },
            T0 + i,
        ));
    }
    a.update(key('e'));
    assert_eq!(a.route(), &Route::Events);
    assert_eq!(a.log.window(10, None).len(), 5);
    a.update(key('k'));
    assert!(!a.log.follow);
    assert_eq!(a.log.window(10, None).len(), 4);
    a.update(key('f'));
    assert!(a.log.follow);
    a.update(key('/'));
    typed(&mut a, "connecting");
    assert_eq!(a.log.window(10, None).len(), 3);
    a.update(Msg::Link(LinkState::Live));
}

#[test]
fn q_quits_from_the_fleet() {
    let mut a = app(fleet());
    assert_eq!(a.update(key('q')), [Cmd::Quit]);
    assert!(a.quit);
}
