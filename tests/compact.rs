//! `zapgate compact` on a stopped server's data dir: the history and the paired sessions are
//! all there after it, and a running server's data dir is refused, untouched. The data dir here
//! starts uncompressed (the default) and compaction with `ZAPGATE_STORAGE_COMPRESSION=true`
//! converts it; the server, started again with its default, opens it as it now is.

mod common;

use std::path::Path;
use std::process::Output;

use common::{KEY, TestServer, jid};
use serde_json::json;

const ANA: &str = "15550008101";
const BIA: &str = "15550008102";

/// What sled's header says about the database's compression.
fn compressed(dir: &Path) -> bool {
    let conf = std::fs::read(dir.join("db").join("conf")).expect("sled conf");
    String::from_utf8_lossy(&conf).contains("use_compression: true")
}

fn compact(dir: &Path) -> Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_zapgate"))
        .arg("--data-dir")
        .arg(dir)
        .arg("compact")
        .env("ZAPGATE_STORAGE_COMPRESSION", "true")
        .output()
        .expect("run zapgate compact")
}

async fn texts(s: &TestServer, name: &str, chat: &str) -> Vec<String> {
    let (status, found) = s
        .post(
            &format!("/chat/findMessages/{name}"),
            Some(KEY),
            json!({"where": {"key": {"remoteJid": chat}}, "offset": 100}),
        )
        .await;
    assert_eq!(status, 200, "{found}");
    let mut t: Vec<String> = found["messages"]["records"]
        .as_array()
        .expect("records")
        .iter()
        .filter_map(|r| r["message"]["conversation"].as_str().map(str::to_string))
        .collect();
    t.sort();
    t
}

#[tokio::test]
async fn a_compacted_data_dir_keeps_history_and_sessions() {
    let s = TestServer::start_paired(&[("ana", ANA), ("bia", BIA)]).await;
    let mut bia_events = s.events("instance=bia&events=MESSAGES_UPSERT").await;
    for i in 0..20 {
        let (status, sent) = s
            .post(
                "/message/sendText/ana",
                Some(KEY),
                json!({"number": BIA, "text": format!("m{i:02}")}),
            )
            .await;
        assert_eq!(status, 201, "{sent}");
        common::next_upsert(&mut bia_events).await;
    }
    let before = texts(&s, "bia", &jid(ANA)).await;
    assert_eq!(before.len(), 20);

    // While the server runs, its folder is locked: compaction refuses and changes nothing.
    let busy = compact(&s.dir);
    assert!(!busy.status.success(), "compacted a live data dir");
    assert!(!s.dir.join("db.compacting").exists());

    let dir = s.stop().await;
    assert!(!compressed(&dir.path));
    let done = compact(&dir.path);
    let out = String::from_utf8_lossy(&done.stdout);
    assert!(
        done.status.success(),
        "{out} {}",
        String::from_utf8_lossy(&done.stderr)
    );
    assert!(out.contains("compacted") && out.contains("rows"), "{out}");
    assert!(
        compressed(&dir.path),
        "compaction kept the dir uncompressed"
    );

    let s = TestServer::start_in(&dir.path, &[]).await;
    // The paired sessions come back open, and the history reads the same.
    s.wait_state("ana", "open").await;
    s.wait_state("bia", "open").await;
    assert_eq!(texts(&s, "bia", &jid(ANA)).await, before);
    assert_eq!(texts(&s, "ana", &jid(BIA)).await, before);
    // And it takes new writes.
    let (status, sent) = s
        .post(
            "/message/sendText/bia",
            Some(KEY),
            json!({"number": ANA, "text": "after"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
}
