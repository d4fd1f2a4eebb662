//! Crash and restart: instances, tokens and pairings survive SIGKILL; delete removes exactly the
//! deleted instance's trees.

mod common;

use std::collections::HashMap;

use common::{KEY, TestServer};
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn fifty_instances_survive_sigkill_and_paired_ones_reopen() {
    let s = TestServer::start(&[]).await;
    let mut tokens = HashMap::new();
    for i in 0..50 {
        let name = format!("inst-{i:02}");
        let token = s.create_loopback(&name).await;
        tokens.insert(name, token);
    }
    let paired: Vec<String> = (0..50).step_by(5).map(|i| format!("inst-{i:02}")).collect();
    for (n, name) in paired.iter().enumerate() {
        let (status, _) = s.get(&format!("/instance/connect/{name}"), Some(KEY)).await;
        assert_eq!(status, 200);
        let phone = format!("1555990{n:04}");
        let (status, body) = s
            .post(
                &format!("/loopback/scan/{name}?phone={phone}"),
                Some(KEY),
                json!({}),
            )
            .await;
        assert_eq!(status, 200, "{body}");
        s.wait_state(name, "open").await;
    }
    let dir = s.kill().await;

    let s = TestServer::start_in(&dir.path, &[("ZAPGATE_CONNECT_RATE", "200")]).await;
    let (status, list) = s.get("/instance/fetchInstances", Some(KEY)).await;
    assert_eq!(status, 200);
    let rows = list.as_array().unwrap();
    assert_eq!(rows.len(), 50);
    for row in rows {
        let name = row["name"].as_str().unwrap();
        assert_eq!(row["token"], tokens[name].as_str(), "token of {name}");
        // The token still authorizes its own instance.
        let (status, _) = s
            .get(
                &format!("/instance/connectionState/{name}"),
                Some(&tokens[name]),
            )
            .await;
        assert_eq!(status, 200);
    }
    for name in &paired {
        s.wait_state(name, "open").await;
    }
    assert_eq!(
        s.state("inst-01").await,
        "close",
        "never-paired instances stay closed"
    );
    // The restored pairs still talk to each other.
    let (status, body) = s
        .post(
            "/message/sendText/inst-00",
            Some(KEY),
            json!({"number": "15559900001", "text": "back"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn delete_drops_only_the_deleted_instances_trees() {
    let s = TestServer::start(&[]).await;
    s.paired_loopback("keep", "15550002001").await;
    s.paired_loopback("drop", "15550002002").await;
    for (from, to) in [("keep", "15550002002"), ("drop", "15550002001")] {
        let (status, _) = s
            .post(
                &format!("/message/sendText/{from}"),
                Some(KEY),
                json!({"number": to, "text": "x"}),
            )
            .await;
        assert_eq!(status, 201);
    }
    let (_, list) = s.get("/instance/fetchInstances", Some(KEY)).await;
    let id_of = |name: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .map(|r| r["id"].as_str().unwrap().to_string())
            .unwrap()
    };
    let (keep_id, drop_id) = (id_of("keep"), id_of("drop"));
    // Wait until both messages are stored on both sides.
    let deadline = tokio::time::Instant::now() + common::DEADLINE;
    loop {
        let (_, rows) = s.get("/instance/fetchInstances", Some(KEY)).await;
        if rows
            .as_array()
            .unwrap()
            .iter()
            .all(|r| r["_count"]["Message"] == 2)
        {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "messages not stored: {rows}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    let (status, _) = s.delete("/instance/delete/drop", Some(KEY)).await;
    assert_eq!(status, 200);
    // The number is free again: the deleted instance is gone from the network too.
    let (status, body) = s
        .post(
            "/message/sendText/keep",
            Some(KEY),
            json!({"number": "15550002002", "text": "?"}),
        )
        .await;
    assert_eq!(status, 400, "{body}");
    let dir = s.stop().await;

    let rt_dir = dir.path.clone();
    let (kept, dropped) = tokio::task::spawn_blocking(move || {
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(async {
            let store = zapgate::store::Store::open(&rt_dir, 8).expect("open store");
            // The purge of a deleted instance runs in the background; a restart resumes it.
            let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
            while store.purge_pending().unwrap() {
                assert!(std::time::Instant::now() < deadline, "purge never finished");
                tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            }
            let kept = store.instance_rows(keep_id.parse().unwrap()).unwrap();
            let dropped = store.instance_rows(drop_id.parse().unwrap()).unwrap();
            store.close().await;
            (kept, dropped)
        })
    })
    .await
    .unwrap();
    assert!(dropped.is_empty(), "trees left behind: {dropped:?}");
    assert!(kept.iter().any(|(t, _)| *t == "msgs"), "{kept:?}");
    assert!(
        kept.iter().any(|(t, _)| *t == "loopback.sessions"),
        "{kept:?}"
    );

    // After a restart the kept instance still has its history and its pairing.
    let s = TestServer::start_in(&dir.path, &[]).await;
    s.wait_state("keep", "open").await;
    let (_, rows) = s.get("/instance/fetchInstances", Some(KEY)).await;
    assert_eq!(rows.as_array().unwrap().len(), 1);
    assert_eq!(rows[0]["_count"]["Message"], 2);
}
