//! The free-space floor, black box: before the disk is full, sends and new instances are
//! refused with a 507 Evolution envelope and `/health` is not ok; once space is freed, writes
//! work again without a restart. Two ways to run out: a size-capped data dir
//! (`ZAPGATE_MAX_DATA_MB`) and a small tmpfs (`ZAPGATE_MIN_FREE_MB`, needs mount rights).

mod common;

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Duration;

use common::{DEADLINE, KEY, TestServer};
use serde_json::{Value, json};

const MB: u64 = 1024 * 1024;

async fn send(s: &TestServer, text: &str) -> (u16, Value) {
    s.post(
        "/message/sendText/disk",
        Some(KEY),
        json!({"number": "15550008002", "text": text}),
    )
    .await
}

/// Sends until the answer has `want` as its status (the watcher measures twice a second).
async fn send_until(s: &TestServer, want: u16) -> Value {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let (status, body) = send(s, "probe").await;
        if status == want {
            return body;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "send never answered {want}; last {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn health(s: &TestServer) -> Value {
    s.get("/health", None).await.1
}

/// Runs the whole story once the server's storage can be filled by `fill` and freed by `free`.
async fn refuse_then_recover(s: &TestServer, fill: impl FnOnce(), free: impl FnOnce()) {
    s.paired_loopback("disk", "15550008001").await;
    s.paired_loopback("other", "15550008002").await;
    let (status, body) = send(s, "before").await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(health(s).await["status"], "ok");

    fill();
    let body = send_until(s, 507).await;
    assert_eq!(body["status"], 507, "{body}");
    assert_eq!(body["error"], "Insufficient Storage", "{body}");
    assert!(body["response"]["message"].is_array(), "{body}");
    let h = health(s).await;
    assert_eq!(h["status"], "degraded", "{h}");
    let fault = h["faults"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["kind"] == "storageLow")
        .unwrap_or_else(|| panic!("no storage fault: {h}"));
    assert_eq!(fault["active"], true, "{h}");
    let (status, body) = s
        .post(
            "/instance/create",
            Some(KEY),
            json!({"instanceName": "late", "integration": "LOOPBACK"}),
        )
        .await;
    assert_eq!(status, 507, "new instances are refused too: {body}");
    // Reads still work.
    let (status, _) = s.get("/instance/fetchInstances", Some(KEY)).await;
    assert_eq!(status, 200);

    free();
    send_until(s, 201).await;
    let h = health(s).await;
    assert_eq!(h["status"], "ok", "{h}");
    let (status, body) = s
        .post(
            "/instance/create",
            Some(KEY),
            json!({"instanceName": "late", "integration": "LOOPBACK"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_size_capped_data_dir_refuses_writes_and_recovers() {
    let s =
        TestServer::start(&[("ZAPGATE_MIN_FREE_MB", "0"), ("ZAPGATE_MAX_DATA_MB", "512")]).await;
    let filler = s.dir.join("filler");
    let f = filler.clone();
    refuse_then_recover(
        &s,
        // A sparse file: counted at its length by the quota, costs the disk nothing.
        move || {
            std::fs::File::create(&f)
                .and_then(|file| file.set_len(600 * MB))
                .expect("filler");
        },
        move || std::fs::remove_file(&filler).expect("remove filler"),
    )
    .await;
}

/// A tmpfs mounted for the test, unmounted when dropped.
struct Tmpfs {
    path: PathBuf,
    _dir: tempfile::TempDir,
}

impl Tmpfs {
    fn mount(size_mb: u64) -> Option<Tmpfs> {
        let dir = tempfile::tempdir().ok()?;
        let path = dir.path().to_path_buf();
        let ok = std::process::Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={size_mb}m"), "tmpfs"])
            .arg(&path)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        ok.then_some(Tmpfs { path, _dir: dir })
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount")
            .arg("-l")
            .arg(&self.path)
            .status();
    }
}

/// Writes real bytes until the filesystem has `leave` bytes free.
fn fill_to(path: &Path, dir: &Path, leave: u64) {
    let free = fs2::available_space(dir).expect("statvfs");
    let mut f = std::fs::File::create(path).expect("filler");
    let chunk = vec![0x5au8; MB as usize];
    let mut left = free.saturating_sub(leave);
    while left > 0 {
        let n = left.min(MB) as usize;
        f.write_all(&chunk[..n]).expect("fill");
        left -= n as u64;
    }
    f.sync_all().expect("sync filler");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_small_tmpfs_refuses_writes_before_it_is_full_and_recovers() {
    let Some(fs) = Tmpfs::mount(96) else {
        eprintln!("SKIPPED: mounting a tmpfs is not permitted here (needs root / CAP_SYS_ADMIN)");
        return;
    };
    let data = fs.path.join("data");
    std::fs::create_dir_all(&data).unwrap();
    let s = TestServer::start_in(&data, &[("ZAPGATE_MIN_FREE_MB", "32")]).await;
    let filler = fs.path.join("filler");
    let (f, mount) = (filler.clone(), fs.path.clone());
    refuse_then_recover(
        &s,
        // Leaves 16 MB: below the floor, but room for what sled still flushes.
        move || fill_to(&f, &mount, 16 * MB),
        move || std::fs::remove_file(&filler).expect("remove filler"),
    )
    .await;
    drop(s);
}
