//! The event loop and the terminal's lifetime. Input draws at once; data draws at most ten
//! times a second and only when something changed; ages move once a second.

use std::io;
use std::time::Duration;

use crossterm::event::{Event, EventStream};
use futures_util::StreamExt;
use ratatui::DefaultTerminal;
use tokio::sync::mpsc;
use tokio::time::{MissedTickBehavior, interval};

use crate::app::App;
use crate::client::http::Api;
use crate::client::stream::{self, now};
use crate::msg::{Cmd, Msg};
use crate::ui;

/// Bounded: a burst waits in the stream task, never in memory without end.
const CHANNEL: usize = 4096;

/// Runs the console until `q`, `:q`, SIGTERM, SIGINT or SIGHUP. The terminal is restored on
/// every way out, panics included (ratatui's hook restores before the panic message).
pub async fn run(app: App, api: Api) -> io::Result<()> {
    let mut terminal = ratatui::init();
    let result = event_loop(&mut terminal, app, api).await;
    ratatui::restore();
    result
}

async fn event_loop(term: &mut DefaultTerminal, mut app: App, api: Api) -> io::Result<()> {
    let (tx, mut rx) = mpsc::channel::<Msg>(CHANNEL);
    let (resync_tx, resync_rx) = mpsc::channel::<()>(1);
    let link = tokio::spawn(stream::run(api.clone(), tx.clone(), resync_rx));
    let mut keys = EventStream::new();
    let mut tick = interval(Duration::from_secs(1));
    let mut frame = interval(Duration::from_millis(100));
    frame.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut term_sig = signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut hup_sig = signal(tokio::signal::unix::SignalKind::hangup())?;
    term.draw(|f| ui::draw(f, &mut app))?;
    let run_cmds = |cmds: Vec<Cmd>, app: &App| {
        for c in cmds {
            match c {
                Cmd::Http(req) => {
                    let (api, tx) = (api.clone(), tx.clone());
                    tokio::spawn(async move {
                        let result = api.act(&req).await.map_err(|e| e.to_string());
                        let _ = tx.send(Msg::Reply { req, result }).await;
                    });
                }
                Cmd::Resync => {
                    let _ = resync_tx.try_send(());
                }
                Cmd::Quit => {}
            }
        }
        let _ = app;
    };
    while !app.quit {
        tokio::select! {
            ev = keys.next() => {
                let msg = match ev {
                    Some(Ok(Event::Key(k))) => Msg::Key(k),
                    Some(Ok(Event::Resize(..))) => Msg::Resize,
                    Some(Ok(_)) => continue,
                    // The terminal is gone (closed pty): nothing more to show.
                    Some(Err(_)) | None => break,
                };
                let cmds = app.update(msg);
                run_cmds(cmds, &app);
                term.draw(|f| ui::draw(f, &mut app))?;
                app.dirty = false;
            }
            Some(m) = rx.recv() => {
                let cmds = app.update(m);
                run_cmds(cmds, &app);
                while let Ok(m) = rx.try_recv() {
                    let cmds = app.update(m);
                    run_cmds(cmds, &app);
                }
            }
            _ = tick.tick() => {
                let cmds = app.update(Msg::Tick(now()));
                run_cmds(cmds, &app);
            }
            _ = frame.tick(), if app.dirty => {
                term.draw(|f| ui::draw(f, &mut app))?;
                app.dirty = false;
            }
            _ = term_sig.recv() => break,
            _ = hup_sig.recv() => break,
        }
    }
    link.abort();
    Ok(())
}

fn signal(kind: tokio::signal::unix::SignalKind) -> io::Result<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(kind)
}
