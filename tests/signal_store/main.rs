//! Conformance suite for the sled implementation of whatsapp-rust's storage traits
//! (`zapgate::store::signal::SledBackend`): every method is written, read back, overwritten,
//! deleted, and read again after the database is closed and reopened (`signal_keys.rs`: Signal
//! keys, pending inbound, device; `protocol.rs`: app-state sync, protocol tables, message
//! secrets). `crash_*` re-executes this test binary as a child that is SIGKILLed after its
//! writes returned, and checks the writes are there after reopening.

mod protocol;
mod signal_keys;

use std::path::Path;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;
use whatsapp_rust::wacore::store::Device;
use whatsapp_rust::wacore::store::traits::*;
use zapgate::store::Store;
use zapgate::store::signal::SledBackend;

const CRASH_DIR_ENV: &str = "ZAPGATE_SIGNAL_CRASH_DIR";
const CRASH_ID_ENV: &str = "ZAPGATE_SIGNAL_CRASH_ID";

pub struct Db {
    pub store: Store,
    pub wa: SledBackend,
}

pub fn open(dir: &Path, id: Uuid) -> Db {
    let store = Store::open(dir, 8).expect("open store");
    let wa = SledBackend::open(&store, id).expect("open backend");
    Db { store, wa }
}

/// Closes the database (final flush) and opens it again. sled's I/O pool threads can hold the
/// file for a moment after the last handle drops, so the directory lock is waited for, with a
/// deadline.
pub async fn reopen(db: Db, dir: &Path) -> Db {
    let id = db.wa.instance();
    db.store.close().await;
    drop(db);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        match Store::open(dir, 8) {
            Ok(store) => {
                let wa = SledBackend::open(&store, id).expect("open backend");
                return Db { store, wa };
            }
            Err(e) if e.to_string().contains("could not acquire lock") => {
                assert!(
                    tokio::time::Instant::now() < deadline,
                    "the database lock was never released: {e}"
                );
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            Err(e) => panic!("reopen store: {e}"),
        }
    }
}

pub fn setup() -> (tempfile::TempDir, Db) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = open(tmp.path(), Uuid::new_v4());
    (tmp, db)
}

#[tokio::test]
async fn instances_are_isolated_and_session_trees_drop_with_the_keys() {
    let tmp = tempfile::tempdir().unwrap();
    let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
    let store = Store::open(tmp.path(), 8).unwrap();
    let wa_a = SledBackend::open(&store, a).unwrap();
    let wa_b = SledBackend::open(&store, b).unwrap();
    wa_a.put_session("x@s.whatsapp.net", b"a").await.unwrap();
    wa_b.put_session("x@s.whatsapp.net", b"b").await.unwrap();
    assert_eq!(
        wa_a.get_session("x@s.whatsapp.net")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"a"[..])
    );
    store.purge_session_keys(a).unwrap();
    let wa_a = SledBackend::open(&store, a).unwrap();
    assert_eq!(wa_a.get_session("x@s.whatsapp.net").await.unwrap(), None);
    assert_eq!(
        wa_b.get_session("x@s.whatsapp.net")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"b"[..])
    );
    store.close().await;
}

/// The child half of `crash_write_that_returned_survives_sigkill`: writes, reports, then waits
/// to be killed. Does nothing unless the parent set the environment.
#[tokio::test]
async fn crash_child() {
    let (Ok(dir), Ok(id)) = (std::env::var(CRASH_DIR_ENV), std::env::var(CRASH_ID_ENV)) else {
        return;
    };
    let db = open(Path::new(&dir), id.parse().expect("uuid"));
    db.wa
        .put_session("peer:1@s.whatsapp.net", b"ratchet-after-send")
        .await
        .unwrap();
    db.wa
        .put_identity("peer:1@s.whatsapp.net", [5; 32])
        .await
        .unwrap();
    db.wa.store_prekey(1, b"one-time", true).await.unwrap();
    db.wa.store_prekey(2, b"kept", true).await.unwrap();
    db.wa.remove_prekey(1).await.unwrap();
    let mut d = Device::new();
    d.push_name = "crash".into();
    db.wa.save(&d).await.unwrap();
    db.wa
        .store_pending_inbound("c", "s", "M", b"inbound")
        .await
        .unwrap();
    println!("WRITTEN {}", d.registration_id);
    use std::io::Write;
    std::io::stdout().flush().unwrap();
    std::future::pending::<()>().await;
}

#[tokio::test]
async fn crash_write_that_returned_survives_sigkill() {
    let tmp = tempfile::tempdir().unwrap();
    let id = Uuid::new_v4();
    // The parent must not open the database before the child is gone: sled's file lock is
    // per process and a closed `Db` may still hold it for a while.
    let mut child = tokio::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "crash_child",
            "--nocapture",
            "--test-threads",
            "1",
        ])
        .env(CRASH_DIR_ENV, tmp.path())
        .env(CRASH_ID_ENV, id.to_string())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let reg_id: u32 = tokio::time::timeout(Duration::from_secs(30), async {
        while let Some(line) = lines.next_line().await.unwrap() {
            // libtest may print "test crash_child ... " on the same line first.
            if let Some((_, rest)) = line.split_once("WRITTEN ") {
                return rest.trim().parse().unwrap();
            }
        }
        panic!("child exited without writing");
    })
    .await
    .expect("child did not write in time");
    child.start_kill().unwrap(); // SIGKILL: no destructor, no final flush.
    let status = child.wait().await.unwrap();
    assert!(!status.success());

    let db = open(tmp.path(), id);
    assert_eq!(
        db.wa
            .get_session("peer:1@s.whatsapp.net")
            .await
            .unwrap()
            .as_deref(),
        Some(&b"ratchet-after-send"[..])
    );
    assert_eq!(
        db.wa.load_identity("peer:1@s.whatsapp.net").await.unwrap(),
        Some([5; 32])
    );
    assert_eq!(
        db.wa.load_prekey(1).await.unwrap(),
        None,
        "consumed prekey came back"
    );
    let d = db.wa.load().await.unwrap().expect("device survived");
    assert_eq!((d.push_name.as_str(), d.registration_id), ("crash", reg_id));
    assert_eq!(
        db.wa.get_pending_inbound("c", "s", "M").await.unwrap(),
        Some(b"inbound".to_vec())
    );
}
