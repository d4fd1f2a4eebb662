//! The live link against stub servers: a plain Evolution server (no `/events`, no summary) is
//! polled with fetchInstances and diffed; a zapgate is listed once, then only asked what changed
//! (`/instance/summary?changedSince=`).

#[path = "support/stub.rs"]
mod stub;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};
use stub::{Reply, Stub};
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout};
use zapgate_tui::app::App;
use zapgate_tui::client::http::Api;
use zapgate_tui::client::stream;
use zapgate_tui::msg::{Cmd, LinkState, Msg, State};

const WAIT: Duration = Duration::from_secs(10);

/// The app fed by a real link task, as the terminal loop would (without the terminal).
struct Console {
    app: App,
    rx: mpsc::Receiver<Msg>,
    resync: mpsc::Sender<()>,
}

impl Console {
    fn start(url: &str) -> Console {
        let (tx, rx) = mpsc::channel(1024);
        let (resync, resync_rx) = mpsc::channel(1);
        tokio::spawn(stream::run(Api::new(url, "key", None), tx, resync_rx));
        Console {
            app: App::new(url.into(), false, stream::now()),
            rx,
            resync,
        }
    }

    /// Applies messages until `ok` holds; panics after [`WAIT`].
    async fn until(&mut self, what: &str, ok: impl Fn(&App) -> bool) {
        let end = Instant::now() + WAIT;
        while !ok(&self.app) {
            let left = end.saturating_duration_since(Instant::now());
            let msg = timeout(left, self.rx.recv())
                .await
                .unwrap_or_else(|_| panic!("timed out waiting for {what}"))
                .expect("the link is running");
            for cmd in self.app.update(msg) {
                if cmd == Cmd::Resync {
                    let _ = self.resync.try_send(());
                }
            }
        }
    }
}

fn state(app: &App, name: &str) -> Option<State> {
    app.fleet.get(name).map(|r| r.info.state)
}

fn evolution_row(name: &str, status: &str) -> Value {
    json!({"id": name, "name": name, "connectionStatus": status, "integration": "WHATSAPP-BAILEYS",
           "number": null, "ownerJid": null, "_count": {"Message": 0}})
}

fn not_found(path: &str) -> Reply {
    Reply::Json(
        404,
        json!({"status": 404, "error": "Not Found", "response": {"message": [format!("Cannot GET {path}")]}}),
    )
}

#[tokio::test]
async fn a_server_without_events_is_polled_with_fetch_instances_and_diffed() {
    let rows = Arc::new(Mutex::new(vec![
        evolution_row("a", "open"),
        evolution_row("b", "close"),
    ]));
    let listed = rows.clone();
    let server = Stub::start(move |target| match target.split('?').next().unwrap_or("") {
        "/" => Reply::Json(
            200,
            json!({"status": 200, "message": "Welcome to the Evolution API", "version": "2.3.0"}),
        ),
        "/instance/fetchInstances" => {
            Reply::Json(200, Value::Array(listed.lock().unwrap().clone()))
        }
        _ => not_found(target),
    })
    .await;
    let mut con = Console::start(&server.url);
    con.until("the first listing, polling", |a| {
        a.link == LinkState::Polling && state(a, "b") == Some(State::Close)
    })
    .await;
    assert_eq!(state(&con.app, "a"), Some(State::Open));

    // What changed on the server shows at the next poll: a is gone, b opened, c is new.
    *rows.lock().unwrap() = vec![evolution_row("b", "open"), evolution_row("c", "connecting")];
    con.until("the diff", |a| {
        state(a, "a").is_none()
            && state(a, "b") == Some(State::Open)
            && state(a, "c") == Some(State::Connecting)
    })
    .await;
    assert_eq!(con.app.fleet.len(), 2);
    let b = con.app.fleet.get("b").unwrap();
    assert_eq!(
        b.timeline.back().map(|t| t.state),
        Some(State::Open),
        "the diff is a transition in b's timeline"
    );
    let asked = server.requests();
    let lists = asked
        .iter()
        .filter(|r| *r == "/instance/fetchInstances")
        .count();
    assert!(lists >= 2, "fetchInstances was polled: {asked:?}");
    assert_eq!(server.listeners(), 0, "no stream was held open");
}

/// A zapgate summary row.
fn summary_row(name: &str, st: &str, messages_in: u64) -> Value {
    json!({"name": name, "state": st, "since": "2027-01-15T08:00:00.000Z", "secondsInState": 5,
           "messagesIn": messages_in, "messagesOut": 0, "sendErrors": 0, "reconnects": 0,
           "flapsLastHour": 0, "lastActivity": null, "lastError": null})
}

fn zapgate_row(name: &str, st: &str) -> Value {
    json!({"id": name, "name": name, "connectionStatus": st, "integration": "LOOPBACK",
           "number": "5511", "_count": {"Message": 0}, "zapgate": {"state": st}})
}

#[tokio::test]
async fn a_zapgate_is_listed_once_then_asked_only_what_changed() {
    // The server's fleet: a, b at first; c is created later; a is deleted while nobody looks.
    let fleet = Arc::new(Mutex::new(vec![("a", "open"), ("b", "close")]));
    let f = fleet.clone();
    let server = Stub::start(move |target| {
        let fleet = f.lock().unwrap().clone();
        let (path, query) = target.split_once('?').unwrap_or((target, ""));
        match path {
            "/events" => Reply::Events,
            "/" => Reply::Json(200, json!({"status": 200, "zapgateVersion": "0.1.0"})),
            "/health" => Reply::Json(200, json!({"uptimeSeconds": 3})),
            "/instance/fetchInstances" => {
                let only = query.strip_prefix("instanceName=");
                let rows: Vec<Value> = fleet
                    .iter()
                    .filter(|(n, _)| only.is_none_or(|o| o == *n))
                    .map(|(n, s)| zapgate_row(n, s))
                    .collect();
                Reply::Json(200, Value::Array(rows))
            }
            "/instance/summary" => {
                // The far-future probe lists nothing; a delta lists c (the only row that moved);
                // no changedSince lists every row.
                let rows: Vec<Value> = match query.strip_prefix("changedSince=") {
                    Some(t) if t.len() > 15 => vec![],
                    Some(_) => fleet
                        .iter()
                        .filter(|(n, _)| *n == "c")
                        .map(|(n, s)| summary_row(n, s, 7))
                        .collect(),
                    None => fleet.iter().map(|(n, s)| summary_row(n, s, 0)).collect(),
                };
                Reply::Json(
                    200,
                    json!({"generatedAtMs": 1_800_000_000_000i64, "instances": fleet.len(),
                           "states": {}, "rows": rows}),
                )
            }
            _ => not_found(target),
        }
    })
    .await;
    let mut con = Console::start(&server.url);
    con.until("the first listing, live", |a| {
        a.link == LinkState::Live && a.fleet.len() == 2
    })
    .await;

    // c is created: its event names an unknown instance, so the console asks what changed and
    // fetches c's full row by name, not the whole fleet.
    fleet.lock().unwrap().push(("c", "connecting"));
    server.event(json!({"event": "instance.create", "instance": "c", "data": {}}));
    con.until("c in full", |a| {
        a.fleet
            .get("c")
            .is_some_and(|r| r.info.engine == "LOOPBACK")
    })
    .await;
    let c = con.app.fleet.get("c").unwrap();
    assert_eq!(c.info.state, State::Connecting);
    assert_eq!(c.info.counters.map(|k| k.messages_in), Some(7));

    // a goes while no event says so (as while the stream was down): the count no longer adds
    // up, so the next catch-up lists every row and a is dropped.
    fleet.lock().unwrap().retain(|(n, _)| *n != "a");
    con.resync.send(()).await.unwrap();
    con.until("a gone", |a| a.fleet.get("a").is_none()).await;
    assert_eq!(con.app.fleet.len(), 2);

    let asked = server.requests();
    let full_lists = asked
        .iter()
        .filter(|r| *r == "/instance/fetchInstances")
        .count();
    assert_eq!(
        full_lists, 1,
        "the fleet was listed in full once: {asked:?}"
    );
    assert!(
        asked
            .iter()
            .any(|r| r == "/instance/fetchInstances?instanceName=c"),
        "{asked:?}"
    );
    assert!(
        asked
            .iter()
            .any(|r| r.starts_with("/instance/summary?changedSince=1799999999000")),
        "changedSince is the last answer's clock less the overlap: {asked:?}"
    );
}
