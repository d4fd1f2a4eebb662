//! A program in a pseudo-terminal whose output is parsed by vt100 as it arrives, with a probe:
//! the reader thread checks a condition on the screen right after each chunk it parses, so the
//! time measured from a keystroke to "the screen shows it" has no polling interval in it.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, PtySize, native_pty_system};

/// What the screen must show for a wait to end.
pub type Cond = Box<dyn Fn(&vt100::Screen) -> bool + Send>;

struct Shared {
    parser: vt100::Parser,
    /// The condition being waited for, when it was armed, and where to say it held.
    want: Option<(Cond, Instant, mpsc::Sender<Duration>)>,
}

pub struct Probe {
    shared: Arc<Mutex<Shared>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    /// Bytes the program wrote to its terminal.
    pub bytes: Arc<AtomicU64>,
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Probe {
    /// Runs `program` (an absolute path) in a `rows`×`cols` terminal.
    pub fn spawn(
        program: &Path,
        args: &[&str],
        env: &[(&str, &str)],
        rows: u16,
        cols: u16,
    ) -> anyhow::Result<Probe> {
        let pair = native_pty_system().openpty(PtySize {
            rows,
            cols,
            pixel_width: 0,
            pixel_height: 0,
        })?;
        let mut cmd = CommandBuilder::new(program);
        cmd.args(args);
        cmd.env("TERM", "xterm-256color");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd)?;
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader()?;
        let writer = pair.master.take_writer()?;
        let shared = Arc::new(Mutex::new(Shared {
            parser: vt100::Parser::new(
                std::num::NonZeroU16::new(rows).ok_or_else(|| anyhow::anyhow!("rows > 0"))?,
                std::num::NonZeroU16::new(cols).ok_or_else(|| anyhow::anyhow!("cols > 0"))?,
                0,
            ),
            want: None,
        }));
        let bytes = Arc::new(AtomicU64::new(0));
        let (sink, count) = (shared.clone(), bytes.clone());
        // Drained on its own thread: a program blocked on a full terminal looks hung.
        std::thread::spawn(move || {
            let mut buf = [0u8; 16384];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                count.fetch_add(n as u64, Ordering::Relaxed);
                let Ok(mut s) = sink.lock() else { break };
                s.parser.process(&buf[..n]);
                let held = match &s.want {
                    Some((cond, _, _)) => cond(s.parser.screen()),
                    None => false,
                };
                if held && let Some((_, t0, tx)) = s.want.take() {
                    let _ = tx.send(t0.elapsed());
                }
            }
        });
        Ok(Probe {
            shared,
            writer,
            child,
            bytes,
            _master: pair.master,
        })
    }

    pub fn pid(&self) -> Option<u32> {
        self.child.process_id()
    }

    /// Reads something off the screen as it is now.
    pub fn read<T>(&self, f: impl Fn(&vt100::Screen) -> T) -> Option<T> {
        self.shared.lock().ok().map(|s| f(s.parser.screen()))
    }

    pub fn contents(&self) -> String {
        self.shared
            .lock()
            .map(|s| s.parser.screen().contents())
            .unwrap_or_default()
    }

    /// Sends `keys` and returns how long until the screen satisfied `cond`, or None after `within`.
    /// The clock starts just before the write.
    pub fn press(&mut self, keys: &str, cond: Cond, within: Duration) -> Option<Duration> {
        let (tx, rx) = mpsc::channel();
        let t0 = Instant::now();
        if let Ok(mut s) = self.shared.lock() {
            s.want = Some((cond, t0, tx));
        }
        if self
            .writer
            .write_all(keys.as_bytes())
            .and_then(|()| self.writer.flush())
            .is_err()
        {
            return None;
        }
        let got = rx.recv_timeout(within).ok();
        if got.is_none()
            && let Ok(mut s) = self.shared.lock()
        {
            s.want = None;
        }
        got
    }

    /// Waits until the screen satisfies `cond` (checked now and after each chunk).
    pub fn wait(&mut self, cond: Cond, within: Duration) -> Option<Duration> {
        let (tx, rx) = mpsc::channel();
        let t0 = Instant::now();
        if let Ok(mut s) = self.shared.lock() {
            if cond(s.parser.screen()) {
                return Some(Duration::ZERO);
            }
            s.want = Some((cond, t0, tx));
        }
        let got = rx.recv_timeout(within).ok();
        if got.is_none()
            && let Ok(mut s) = self.shared.lock()
        {
            s.want = None;
        }
        got
    }

    /// Waits for the program to exit; its exit code, or None after `within`.
    pub fn wait_exit(&mut self, within: Duration) -> Option<u32> {
        let end = Instant::now() + within;
        while Instant::now() < end {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status.exit_code());
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        None
    }
}

impl Drop for Probe {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}

/// The screen line whose table cells are drawn inverse (the selected row), if any.
pub fn highlighted_line(s: &vt100::Screen, col: u16) -> Option<u16> {
    let rows = s.size().0.get();
    (0..rows).find(|&r| s.cell(r, col).is_some_and(|c| c.inverse()))
}

/// The last screen line, as text.
pub fn last_line(s: &vt100::Screen) -> String {
    let (rows, cols) = (s.size().0.get(), s.size().1.get());
    s.contents_between(rows - 1, 0, rows - 1, cols)
}

/// CPU time a process used so far (user + system), from `/proc/<pid>/stat`.
pub fn cpu_time(pid: u32, ticks_per_sec: f64) -> Option<Duration> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may hold spaces: the fields we want come after its closing paren.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let (utime, stime): (u64, u64) = (f.get(11)?.parse().ok()?, f.get(12)?.parse().ok()?);
    Some(Duration::from_secs_f64(
        (utime + stime) as f64 / ticks_per_sec,
    ))
}

/// Resident set size in bytes, from `VmRSS` in `/proc/<pid>/status`.
pub fn rss_bytes(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    let kb: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb * 1024)
}

/// Clock ticks per second for `/proc/<pid>/stat` (`getconf CLK_TCK`; 100 on Linux in practice).
pub fn clock_ticks() -> f64 {
    std::process::Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}
