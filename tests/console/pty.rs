//! A program in a pseudo-terminal, its screen parsed by vt100: what an operator would see.
//! Output is drained on its own thread (a child blocked on a full PTY looks hung), and every wait
//! is a condition with a deadline. Shared by `tests/console.rs` and `tui/tests/terminal.rs`.

use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use portable_pty::{Child, CommandBuilder, PtySize, native_pty_system};

pub struct Pty {
    screen: Arc<Mutex<vt100::Parser>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn Child + Send + Sync>,
    // Keeps the master side open for the child's lifetime.
    _master: Box<dyn portable_pty::MasterPty + Send>,
}

impl Pty {
    /// Runs `program args…` (an absolute path: portable-pty resolves relative ones through PATH).
    pub fn spawn(program: &Path, args: &[&str], env: &[(&str, &str)], rows: u16, cols: u16) -> Pty {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .expect("openpty");
        let mut cmd = CommandBuilder::new(program);
        cmd.args(args);
        cmd.env("TERM", "xterm-256color");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = pair.slave.spawn_command(cmd).expect("spawn in pty");
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().expect("pty reader");
        let writer = pair.master.take_writer().expect("pty writer");
        let screen = Arc::new(Mutex::new(vt100::Parser::new(
            std::num::NonZeroU16::new(rows).expect("rows > 0"),
            std::num::NonZeroU16::new(cols).expect("cols > 0"),
            0,
        )));
        let sink = screen.clone();
        std::thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock().unwrap().process(&buf[..n]);
            }
        });
        Pty {
            screen,
            writer,
            child,
            _master: pair.master,
        }
    }

    pub fn contents(&self) -> String {
        self.screen.lock().unwrap().screen().contents()
    }

    /// The process started in the terminal.
    #[allow(dead_code)]
    pub fn pid(&self) -> Option<u32> {
        self.child.process_id()
    }

    #[allow(dead_code)]
    pub fn cursor_hidden(&self) -> bool {
        self.screen.lock().unwrap().screen().hide_cursor()
    }

    pub fn alternate_screen(&self) -> bool {
        self.screen.lock().unwrap().screen().alternate_screen()
    }

    pub fn send(&mut self, keys: &str) {
        self.writer
            .write_all(keys.as_bytes())
            .expect("write to pty");
        self.writer.flush().expect("flush pty");
    }

    /// Waits until the screen satisfies `ok`; panics with the screen after `within`.
    pub fn wait_for(&self, what: &str, within: Duration, ok: impl Fn(&str) -> bool) -> String {
        let end = Instant::now() + within;
        loop {
            let text = self.contents();
            if ok(&text) {
                return text;
            }
            assert!(
                Instant::now() < end,
                "timed out waiting for {what}; screen:\n{text}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits for the child to exit; returns its exit code.
    pub fn wait_exit(&mut self, within: Duration) -> u32 {
        let end = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status.exit_code();
            }
            assert!(
                Instant::now() < end,
                "the program did not exit; screen:\n{}",
                self.contents()
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Pty {
    fn drop(&mut self) {
        let _ = self.child.kill();
    }
}
