//! The terminal is put back however the console ends: SIGTERM, a panic in the event loop, a
//! panic in a network task. The real binary runs in a pseudo-terminal under `sh`, which prints
//! its exit code and `stty -a` afterwards; vt100 says whether the alternate screen was left.
//! No server is needed: the console starts (and draws) with its server unreachable.

#[allow(dead_code)] // the helper also serves tests/console.rs, which sends keys
#[path = "../../tests/console/pty.rs"]
mod pty;

use std::path::Path;
use std::time::Duration;

use pty::Pty;

const WAIT: Duration = Duration::from_secs(20);

/// Starts the console under `sh -c 'console; echo EXIT=$?; stty -a; echo STTY-END'`.
fn console(extra_env: &[(&str, &str)]) -> Pty {
    let script = "\"$0\" \"$@\"; echo \"EXIT=$?\"; stty -a; echo STTY-END";
    // Port 9 (discard) on loopback: refused at once, so the banner shows and nothing hangs.
    // No backtrace: the panic message must stay on the screen above `stty -a`.
    let mut env = vec![
        ("ZAPGATE_APIKEY", "k"),
        ("ZAPGATE_TUI_CONFIG", "/dev/null"),
        ("RUST_BACKTRACE", "0"),
    ];
    env.extend_from_slice(extra_env);
    Pty::spawn(
        Path::new("/bin/sh"),
        &[
            "-c",
            script,
            env!("CARGO_BIN_EXE_zapgate-tui"),
            "--url",
            "http://127.0.0.1:9",
        ],
        &env,
        40,
        100,
    )
}

/// The console's pid: the child of the shell in the terminal (from /proc).
fn console_pid(shell: u32) -> u32 {
    let end = std::time::Instant::now() + WAIT;
    loop {
        for entry in std::fs::read_dir("/proc").expect("read /proc").flatten() {
            let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
                continue;
            };
            let Some(rest) = stat.rfind(')').map(|i| &stat[i + 2..]) else {
                continue;
            };
            let ppid = rest.split_whitespace().nth(1).and_then(|p| p.parse().ok());
            if ppid == Some(shell)
                && let Some(pid) = entry.file_name().to_str().and_then(|p| p.parse().ok())
            {
                return pid;
            }
        }
        assert!(
            std::time::Instant::now() < end,
            "no console under the shell"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// After the console is gone: its exit code, and the terminal back in cooked mode on the main
/// screen with the cursor shown.
fn assert_restored(con: &mut Pty, code: &str) -> String {
    let after = con.wait_for("the exit line and stty", WAIT, |s| {
        s.contains("EXIT=") && s.contains("STTY-END")
    });
    assert_eq!(con.wait_exit(WAIT), 0, "the shell exits normally");
    assert!(after.contains(&format!("EXIT={code}")), "{after}");
    assert!(!con.alternate_screen(), "left the alternate screen");
    assert!(!con.cursor_hidden(), "the cursor is shown again");
    let modes: Vec<&str> = after.split_whitespace().collect();
    for m in ["icanon", "echo", "isig"] {
        assert!(modes.contains(&m), "terminal mode {m} restored:\n{after}");
    }
    after
}

#[test]
fn sigterm_restores_the_terminal() {
    let mut con = console(&[]);
    con.wait_for("the console's first frame", WAIT, |s| {
        s.contains("instances[")
    });
    assert!(
        con.alternate_screen(),
        "the console draws on the alternate screen"
    );
    let pid = console_pid(con.pid().expect("shell pid"));
    let kill = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(kill.success());
    assert_restored(&mut con, "0");
}

#[test]
fn a_panic_in_the_event_loop_restores_the_terminal() {
    let mut con = console(&[("ZAPGATE_TUI_TEST_PANIC", "loop")]);
    let after = assert_restored(&mut con, "101");
    assert!(after.contains("test panic in the event loop"), "{after}");
}

#[test]
fn a_panic_in_a_task_ends_the_console_and_restores_the_terminal() {
    let mut con = console(&[("ZAPGATE_TUI_TEST_PANIC", "task")]);
    let after = assert_restored(&mut con, "101");
    assert!(after.contains("test panic in a task"), "{after}");
}
