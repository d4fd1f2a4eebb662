//! The operator console end to end: the real `zapgate-tui` binary in a pseudo-terminal against
//! the real `zapgate` binary with LOOPBACK instances. Create from the console, pair through the
//! API, watch the row turn `open`, filter, open the detail, quit; the terminal is restored.
//!
//! Why here and not in `tui/tests`: Cargo gives `CARGO_BIN_EXE_<name>` only to the tests of the
//! package that owns the binary. The server is the heavy one and the one whose build features
//! must match the other black-box tests, so this test lives with it and gets the console from a
//! nested `cargo build -p zapgate-tui`, which is always fresh (a no-op when it is) and prints the
//! executable's path, so no target-dir layout is guessed.

mod common;
#[path = "console/pty.rs"]
mod pty;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use common::receiver::{Mode, Receiver};
use common::{KEY, TestServer};
use pty::Pty;
use serde_json::{Value, json};

const WAIT: Duration = Duration::from_secs(20);

/// Builds the console binary (a no-op when fresh) and returns its path.
fn console_binary() -> PathBuf {
    let out = Command::new(env!("CARGO"))
        .args([
            "build",
            "-p",
            "zapgate-tui",
            "--bin",
            "zapgate-tui",
            "--message-format=json-render-diagnostics",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("run cargo build for zapgate-tui");
    assert!(
        out.status.success(),
        "building zapgate-tui failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|m| {
            m["reason"] == "compiler-artifact"
                && m["target"]["name"] == "zapgate-tui"
                && m["executable"].is_string()
        })
        .and_then(|m| m["executable"].as_str().map(PathBuf::from))
        .expect("cargo named the zapgate-tui executable")
}

/// The fleet row of `name`: its line has the name and a state word.
fn row_line<'a>(screen: &'a str, name: &str) -> Option<&'a str> {
    screen.lines().find(|l| {
        l.contains(&format!(" {name} "))
            && ["open", "connecting", "close", "refused", "failed"]
                .iter()
                .any(|w| l.contains(w))
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn create_pair_filter_detail_quit_in_a_real_terminal() {
    let tui = tokio::task::spawn_blocking(console_binary).await.unwrap();
    let server = TestServer::start(&[]).await;
    server.create_loopback("c-two").await;

    // `stty -a` after the console exits shows whether the terminal got its modes back.
    let script = "\"$0\" \"$@\"; echo \"EXIT=$?\"; stty -a; echo STTY-END";
    let tui_arg = tui.to_string_lossy().to_string();
    let mut con = Pty::spawn(
        std::path::Path::new("/bin/sh"),
        &["-c", script, &tui_arg, "--url", &server.base],
        &[("ZAPGATE_APIKEY", KEY), ("ZAPGATE_TUI_CONFIG", "/dev/null")],
        45,
        160,
    );
    con.wait_for("the live fleet with c-two", WAIT, |s| {
        s.contains("LIVE") && row_line(s, "c-two").is_some()
    });

    // Create from the console's form.
    con.send("n");
    con.wait_for("the create form", WAIT, |s| s.contains("New instance"));
    con.send("c-one LOOPBACK\r");
    con.wait_for("the create answer", WAIT, |s| {
        s.contains("create c-one: ok")
    });
    con.wait_for("c-one's row", WAIT, |s| row_line(s, "c-one").is_some());
    let (_, rows) = server
        .get("/instance/fetchInstances?instanceName=c-one", Some(KEY))
        .await;
    assert_eq!(
        rows[0]["name"], "c-one",
        "the server has the instance: {rows}"
    );

    // Connect from the console: the QR pane draws the code the server shows.
    con.wait_for("c-one selected", WAIT, |s| {
        row_line(s, "c-one").is_some() && s.contains("instances[2/2]")
    });
    con.send("/c-one\r");
    con.wait_for("only c-one", WAIT, |s| {
        s.contains("instances[1/2]") && row_line(s, "c-two").is_none()
    });
    con.send("c");
    con.wait_for("the QR", WAIT, |s| {
        s.contains("pair c-one") && s.contains("▀▀▀▀▀▀▀")
    });

    // Pair through the API, as a phone would: the pane and the row follow the stream.
    let (status, body) = server
        .post("/loopback/scan/c-one", Some(KEY), json!({}))
        .await;
    assert_eq!(status, 200, "{body}");
    con.wait_for("the paired message", WAIT, |s| {
        s.contains("paired: the instance is open")
    });
    con.send("\x1b");
    con.wait_for("c-one open in the fleet", WAIT, |s| {
        row_line(s, "c-one").is_some_and(|l| l.contains("open"))
    });

    // The filter inverts; then the detail.
    con.send("/!c-one\r");
    con.wait_for("only c-two", WAIT, |s| {
        row_line(s, "c-two").is_some() && row_line(s, "c-one").is_none()
    });
    con.send("/c-one\r");
    con.wait_for("only c-one again", WAIT, |s| {
        row_line(s, "c-one").is_some() && s.contains("instances[1/2]")
    });
    con.send("\r");
    con.wait_for("the detail", WAIT, |s| {
        s.contains("timeline") && s.contains("● open") && s.contains("recent events")
    });
    // Its webhook panel reads the server's delivery health (no webhook set: nothing delivered).
    con.wait_for("the webhook health", WAIT, |s| {
        s.contains("webhooks") && s.contains("dead letters 0") && s.contains("instance")
    });

    con.send("q");
    let after = con.wait_for("the exit line and stty", WAIT, |s| {
        s.contains("EXIT=") && s.contains("STTY-END")
    });
    assert_eq!(con.wait_exit(WAIT), 0);
    assert!(after.contains("EXIT=0"), "{after}");
    assert!(!con.alternate_screen(), "left the alternate screen");
    let modes: Vec<&str> = after.split_whitespace().collect();
    for m in ["icanon", "echo", "isig"] {
        assert!(modes.contains(&m), "terminal mode {m} restored:\n{after}");
    }
}

/// The detail's webhook panel against the server's delivery health, and the dead-letter replay
/// from the console: a receiver that fails the first delivery, one attempt allowed, so the
/// instance.create event is a dead letter; `R` then `y` replays it and the receiver gets it.
#[tokio::test(flavor = "multi_thread")]
async fn a_dead_letter_is_seen_and_replayed_from_the_detail() {
    let tui = tokio::task::spawn_blocking(console_binary).await.unwrap();
    let mut hook = Receiver::start(Mode::Status(500)).await;
    let server = TestServer::start(&[("WEBHOOK_RETRY_MAX_ATTEMPTS", "1")]).await;
    let (status, body) = server
        .post(
            "/instance/create",
            Some(KEY),
            json!({"instanceName": "hooked", "integration": "LOOPBACK",
                   "webhook": {"url": hook.base, "events": ["INSTANCE_CREATE"]}}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let first = hook.expect(|h| h.body["event"] == "instance.create").await;
    server
        .wait_for("/webhook/stats/hooked", |v| v["deadLetters"] == 1)
        .await;

    let mut con = Pty::spawn(
        &tui,
        &["--url", &server.base],
        &[("ZAPGATE_APIKEY", KEY), ("ZAPGATE_TUI_CONFIG", "/dev/null")],
        45,
        160,
    );
    con.wait_for("the fleet", WAIT, |s| {
        s.contains("LIVE") && row_line(s, "hooked").is_some()
    });
    con.send("\r");
    con.wait_for("the failing endpoint and its dead letter", WAIT, |s| {
        s.contains("dead letters 1") && s.contains("<R> replay") && s.contains("✗ instance")
    });
    con.send("R");
    con.wait_for("the replay dialog", WAIT, |s| {
        s.contains("Replay the dead letters of hooked")
    });
    hook.set_mode(Mode::Ok);
    con.send("y");
    con.wait_for("the replay answer", WAIT, |s| {
        s.contains("replay hooked: 1 dead letters queued again")
    });
    let again = hook.expect(|h| h.body["event"] == "instance.create").await;
    assert_eq!(again.raw, first.raw, "the same delivery, replayed");
    con.wait_for("the health read again: nothing dead", WAIT, |s| {
        s.contains("dead letters 0") && s.contains("last 200")
    });
    con.send("q");
    assert_eq!(con.wait_exit(WAIT), 0);
    assert!(!con.alternate_screen(), "left the alternate screen");
}
