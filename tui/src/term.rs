//! The event loop and the terminal's lifetime. Input draws at once; data draws at most ten
//! times a second and only when something changed; ages move once a second.

use std::io;
use std::sync::{Arc, Mutex, TryLockError};
use std::time::{Duration, Instant};

use crossterm::event::{Event, EventStream};
use futures_util::StreamExt;
use ratatui::DefaultTerminal;
use tokio::sync::mpsc;
use tokio::time::{MissedTickBehavior, interval};

use crate::app::App;
use crate::client::http::Api;
use crate::client::stream::{self, now};
use crate::msg::{Cmd, Fetch, Msg};
use crate::ui;

/// Bounded: a burst waits in the stream task, never in memory without end.
const CHANNEL: usize = 4096;
/// Messages applied in one turn of the loop before keys get a look in again.
const BURST: usize = 256;

/// Runs the console until `q`, `:q`, SIGTERM, SIGINT or SIGHUP. The terminal is restored on
/// every way out, panics included (see [`install_panic_hook`]).
pub async fn run(app: App, api: Api, switcher: Switcher) -> io::Result<()> {
    let mut terminal = ratatui::init();
    let gate = Gate::default();
    install_panic_hook(gate.clone());
    let result = event_loop(&mut terminal, &gate, app, api, switcher).await;
    gate.close();
    result
}

/// Leaves raw mode and the alternate screen and shows the cursor again (ratatui's own restore
/// leaves the cursor hidden when the process ends without dropping the terminal).
pub fn restore() {
    ratatui::restore();
    let _ = crossterm::execute!(io::stdout(), crossterm::cursor::Show);
}

/// Between the frames and the terminal's restore: the panic hook (on whatever thread panicked)
/// takes it, so a frame being drawn finishes first and none is drawn after.
#[derive(Clone, Default)]
pub struct Gate(Arc<Mutex<bool>>);

impl Gate {
    /// Draws a frame unless the terminal was already put back.
    fn draw(&self, term: &mut DefaultTerminal, app: &mut App) -> io::Result<()> {
        let closed = self.0.lock().unwrap_or_else(|p| p.into_inner());
        if !*closed {
            term.draw(|f| ui::draw(f, app))?;
        }
        app.dirty = false;
        Ok(())
    }

    /// Puts the terminal back, once. A panic inside a frame holds the lock on this very thread,
    /// so the wait for it is bounded.
    pub fn close(&self) {
        let end = Instant::now() + Duration::from_millis(200);
        loop {
            match self.0.try_lock() {
                Ok(mut closed) => return Self::restore_once(&mut closed),
                Err(TryLockError::Poisoned(p)) => return Self::restore_once(&mut p.into_inner()),
                Err(TryLockError::WouldBlock) if Instant::now() < end => {
                    std::thread::sleep(Duration::from_millis(1));
                }
                Err(TryLockError::WouldBlock) => return restore(),
            }
        }
    }

    fn restore_once(closed: &mut bool) {
        if !*closed {
            *closed = true;
            restore();
        }
    }
}

/// On a panic anywhere (the loop or a network task): restore the terminal, print the panic on
/// the normal screen, and end the process with 101. Ending it matters for a task's panic: the
/// loop would otherwise keep running over a terminal already put back in cooked mode.
pub fn install_panic_hook(gate: Gate) {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        gate.close();
        previous(info);
        std::process::exit(101);
    }));
}

/// Debug builds only: `ZAPGATE_TUI_TEST_PANIC=loop` (or `task`) panics after the first frame in
/// the event loop (or in a spawned task), so a test can see the terminal put back. Release
/// builds never read the variable.
fn test_panic() -> Option<String> {
    if cfg!(debug_assertions) {
        std::env::var("ZAPGATE_TUI_TEST_PANIC").ok()
    } else {
        None
    }
}

/// Finds another server by its config-file name (`:server NAME`): its label, read-only flag and
/// client, or why not.
pub type Switcher = Box<dyn Fn(&str) -> Result<(String, bool, Api), String> + Send>;

/// One server's link: its client, the channel its tasks answer on, and the stream task. A switch
/// drops the whole session, so nothing the old server still says reaches the new fleet.
struct Session {
    api: Api,
    tx: mpsc::Sender<Msg>,
    rx: mpsc::Receiver<Msg>,
    resync: mpsc::Sender<()>,
    link: tokio::task::JoinHandle<()>,
}

impl Session {
    fn start(api: Api) -> Session {
        let (tx, rx) = mpsc::channel::<Msg>(CHANNEL);
        let (resync, resync_rx) = mpsc::channel::<()>(1);
        let link = tokio::spawn(stream::run(api.clone(), tx.clone(), resync_rx));
        Session {
            api,
            tx,
            rx,
            resync,
            link,
        }
    }

    /// Runs the app's commands; a switch is returned for the loop to make.
    fn run(&self, cmds: Vec<Cmd>) -> Option<String> {
        let mut switch = None;
        for c in cmds {
            match c {
                Cmd::Http(req) => {
                    let (api, tx) = (self.api.clone(), self.tx.clone());
                    tokio::spawn(async move {
                        let result = api.act(&req).await.map_err(|e| e.to_string());
                        let _ = tx.send(Msg::Reply { req, result }).await;
                    });
                }
                Cmd::Fetch(Fetch::Webhooks(name)) => {
                    let (api, tx) = (self.api.clone(), self.tx.clone());
                    tokio::spawn(async move {
                        let result = api.webhook_health(&name).await.map_err(|e| e.to_string());
                        let _ = tx.send(Msg::Webhooks { name, result }).await;
                    });
                }
                Cmd::Resync => {
                    let _ = self.resync.try_send(());
                }
                Cmd::Switch(name) => switch = Some(name),
                Cmd::Copy(text) => copy(&text),
                Cmd::Quit => {}
            }
        }
        switch
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        self.link.abort();
    }
}

async fn event_loop(
    term: &mut DefaultTerminal,
    gate: &Gate,
    mut app: App,
    api: Api,
    switcher: Switcher,
) -> io::Result<()> {
    let mut session = Session::start(api);
    let mut keys = EventStream::new();
    let mut tick = interval(Duration::from_secs(1));
    let mut frame = interval(Duration::from_millis(100));
    frame.set_missed_tick_behavior(MissedTickBehavior::Skip);
    let mut term_sig = signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut hup_sig = signal(tokio::signal::unix::SignalKind::hangup())?;
    // Raw mode turns ctrl-c into a key; this is `kill -INT` from elsewhere.
    let mut int_sig = signal(tokio::signal::unix::SignalKind::interrupt())?;
    gate.draw(term, &mut app)?;
    match test_panic().as_deref() {
        Some("loop") => panic!("test panic in the event loop (ZAPGATE_TUI_TEST_PANIC)"),
        Some("task") => drop(tokio::spawn(async {
            panic!("test panic in a task (ZAPGATE_TUI_TEST_PANIC)")
        })),
        _ => {}
    }
    while !app.quit {
        let switch = tokio::select! {
            // In this order: signals, keys (a keystroke never waits behind data), the frame
            // and the clock (due at most every 100 ms and 1 s, so data is not starved), data.
            biased;
            _ = term_sig.recv() => break,
            _ = hup_sig.recv() => break,
            _ = int_sig.recv() => break,
            ev = keys.next() => {
                let msg = match ev {
                    Some(Ok(Event::Key(k))) => Msg::Key(k),
                    Some(Ok(Event::Resize(..))) => Msg::Resize,
                    Some(Ok(_)) => continue,
                    // The terminal is gone (closed pty): nothing more to show.
                    Some(Err(_)) | None => break,
                };
                let switch = session.run(app.update(msg));
                gate.draw(term, &mut app)?;
                switch
            }
            _ = frame.tick(), if app.dirty => {
                gate.draw(term, &mut app)?;
                None
            }
            _ = tick.tick() => session.run(app.update(Msg::Tick(now()))),
            Some(m) = session.rx.recv() => {
                // A burst at a time, bounded so a key is not kept waiting behind it.
                let mut switch = session.run(app.update(m));
                for _ in 1..BURST {
                    let Ok(m) = session.rx.try_recv() else { break };
                    switch = switch.or(session.run(app.update(m)));
                }
                switch
            }
        };
        if let Some(name) = switch {
            match switcher(&name) {
                Ok((label, read_only, api)) => {
                    app.switch_server(label, read_only, now());
                    session = Session::start(api);
                }
                Err(e) => app.say(format!(":server {name}: {e}"), true),
            }
            gate.draw(term, &mut app)?;
        }
    }
    Ok(())
}

/// OSC 52: the terminal (even one at the far end of SSH) puts the text on its clipboard.
fn copy(text: &str) {
    use std::io::Write;
    let mut out = io::stdout();
    let _ = write!(out, "\x1b]52;c;{}\x07", base64(text.as_bytes()));
    let _ = out.flush();
}

/// Standard base64 with padding (a name or an error line; no crate for twenty lines).
fn base64(bytes: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn signal(kind: tokio::signal::unix::SignalKind) -> io::Result<tokio::signal::unix::Signal> {
    tokio::signal::unix::signal(kind)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_matches_the_rfc_4648_vectors() {
        for (plain, coded) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::base64(plain.as_bytes()), coded);
        }
    }
}
