//! Conformance suite for the sled implementation of whatsapp-rust's storage traits
//! (`zapgate::store::signal::SledBackend`): every method is written, read back, overwritten,
//! deleted, and read again after the database is closed and reopened. `crash_*` re-executes this
//! test binary as a child that SIGKILLs itself after a write returned, and checks the write is
//! there after reopening.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use uuid::Uuid;
use whatsapp_rust::bytes::Bytes;
use whatsapp_rust::wacore::appstate::hash::HashState;
use whatsapp_rust::wacore::appstate::processor::AppStateMutationMAC;
use whatsapp_rust::wacore::store::Device;
use whatsapp_rust::wacore::store::traits::*;
use zapgate::store::Store;
use zapgate::store::signal::SledBackend;

const CRASH_DIR_ENV: &str = "ZAPGATE_SIGNAL_CRASH_DIR";
const CRASH_ID_ENV: &str = "ZAPGATE_SIGNAL_CRASH_ID";

struct Db {
    store: Store,
    wa: SledBackend,
}

fn open(dir: &Path, id: Uuid) -> Db {
    let store = Store::open(dir, 8).expect("open store");
    let wa = SledBackend::open(&store, id).expect("open backend");
    Db { store, wa }
}

/// Closes the database (final flush, lock released) and opens it again.
async fn reopen(db: Db, dir: &Path) -> Db {
    let id = db.wa.instance();
    db.store.close().await;
    drop(db);
    open(dir, id)
}

fn setup() -> (tempfile::TempDir, Db) {
    let tmp = tempfile::tempdir().expect("tempdir");
    let db = open(tmp.path(), Uuid::new_v4());
    (tmp, db)
}

#[tokio::test]
async fn identities_roundtrip_overwrite_delete_reopen() {
    let (tmp, db) = setup();
    let a = "5511999990001:1@s.whatsapp.net";
    assert_eq!(db.wa.load_identity(a).await.unwrap(), None);
    db.wa.put_identity(a, [1; 32]).await.unwrap();
    assert_eq!(db.wa.load_identity(a).await.unwrap(), Some([1; 32]));
    db.wa.put_identity(a, [2; 32]).await.unwrap();
    assert_eq!(db.wa.load_identity(a).await.unwrap(), Some([2; 32]));
    db.wa.delete_identity(a).await.unwrap();
    assert_eq!(db.wa.load_identity(a).await.unwrap(), None);
    let batch: Vec<(Arc<str>, [u8; 32])> = vec![(a.into(), [3; 32]), ("b@lid".into(), [4; 32])];
    db.wa.put_identities_batch(&batch).await.unwrap();
    let db = reopen(db, tmp.path()).await;
    assert_eq!(db.wa.load_identity(a).await.unwrap(), Some([3; 32]));
    assert_eq!(db.wa.load_identity("b@lid").await.unwrap(), Some([4; 32]));
}

#[tokio::test]
async fn sessions_roundtrip_and_signal_state_lookup() {
    let (tmp, db) = setup();
    let a = "5511999990001:2@s.whatsapp.net";
    assert!(!db.wa.has_session(a).await.unwrap());
    assert!(
        !db.wa
            .has_signal_state_for_user("5511999990001")
            .await
            .unwrap()
    );
    db.wa.put_session(a, b"one").await.unwrap();
    assert_eq!(
        db.wa.get_session(a).await.unwrap().as_deref(),
        Some(&b"one"[..])
    );
    assert!(db.wa.has_session(a).await.unwrap());
    assert!(
        db.wa
            .has_signal_state_for_user("5511999990001")
            .await
            .unwrap()
    );
    // A user whose id is a prefix of another's must not match it.
    assert!(
        !db.wa
            .has_signal_state_for_user("551199999000")
            .await
            .unwrap()
    );
    db.wa.put_session(a, b"two").await.unwrap();
    assert_eq!(
        db.wa.get_session(a).await.unwrap().as_deref(),
        Some(&b"two"[..])
    );
    db.wa.delete_session(a).await.unwrap();
    assert_eq!(db.wa.get_session(a).await.unwrap(), None);
    assert!(
        !db.wa
            .has_signal_state_for_user("5511999990001")
            .await
            .unwrap()
    );
    db.wa
        .put_identity("77@s.whatsapp.net", [9; 32])
        .await
        .unwrap();
    assert!(db.wa.has_signal_state_for_user("77").await.unwrap());
    let batch: Vec<(Arc<str>, Bytes)> = vec![
        (a.into(), Bytes::from_static(b"three")),
        ("x@lid".into(), Bytes::from_static(b"four")),
    ];
    db.wa.put_sessions_batch(&batch).await.unwrap();
    let db = reopen(db, tmp.path()).await;
    assert_eq!(
        db.wa.get_session(a).await.unwrap().as_deref(),
        Some(&b"three"[..])
    );
    assert_eq!(
        db.wa.get_session("x@lid").await.unwrap().as_deref(),
        Some(&b"four"[..])
    );
}

#[tokio::test]
async fn prekeys_roundtrip_max_id_and_upload_flag_never_resurrects() {
    let (tmp, db) = setup();
    assert_eq!(db.wa.get_max_prekey_id().await.unwrap(), 0);
    db.wa.store_prekey(7, b"seven", false).await.unwrap();
    assert_eq!(
        db.wa.load_prekey(7).await.unwrap().as_deref(),
        Some(&b"seven"[..])
    );
    db.wa.store_prekey(7, b"seven'", false).await.unwrap();
    assert_eq!(
        db.wa.load_prekey(7).await.unwrap().as_deref(),
        Some(&b"seven'"[..])
    );
    let keys: Vec<(u32, Bytes)> = (1..=300u32)
        .map(|i| (i, Bytes::from(i.to_be_bytes().to_vec())))
        .collect();
    db.wa.store_prekeys_batch(&keys, false).await.unwrap();
    // 300 > 255: ids are big-endian, so the max is not a lexical accident.
    assert_eq!(db.wa.get_max_prekey_id().await.unwrap(), 300);
    let got = db.wa.load_prekeys_batch(&[1, 2, 999]).await.unwrap();
    assert_eq!(got.iter().map(|(i, _)| *i).collect::<Vec<_>>(), vec![1, 2]);
    db.wa.remove_prekey(2).await.unwrap();
    assert_eq!(db.wa.load_prekey(2).await.unwrap(), None);
    db.wa.mark_prekeys_uploaded(&[1, 2, 3]).await.unwrap();
    assert_eq!(db.wa.load_prekey(2).await.unwrap(), None, "resurrected");
    assert_eq!(
        db.wa.load_prekey(1).await.unwrap().as_deref(),
        Some(&1u32.to_be_bytes()[..]),
        "marking uploaded must keep the record"
    );
    db.wa.remove_prekey(300).await.unwrap();
    assert_eq!(db.wa.get_max_prekey_id().await.unwrap(), 299);
    let db = reopen(db, tmp.path()).await;
    assert_eq!(db.wa.get_max_prekey_id().await.unwrap(), 299);
    assert_eq!(db.wa.load_prekey(2).await.unwrap(), None);
    assert!(db.wa.load_prekey(3).await.unwrap().is_some());
}

#[tokio::test]
async fn signed_prekeys_roundtrip() {
    let (tmp, db) = setup();
    db.wa.store_signed_prekey(1, b"a").await.unwrap();
    db.wa.store_signed_prekey(2, b"b").await.unwrap();
    db.wa.store_signed_prekey(1, b"a2").await.unwrap();
    assert_eq!(
        db.wa.load_signed_prekey(1).await.unwrap(),
        Some(b"a2".to_vec())
    );
    let mut all = db.wa.load_all_signed_prekeys().await.unwrap();
    all.sort();
    assert_eq!(all, vec![(1, b"a2".to_vec()), (2, b"b".to_vec())]);
    db.wa.remove_signed_prekey(1).await.unwrap();
    assert_eq!(db.wa.load_signed_prekey(1).await.unwrap(), None);
    let db = reopen(db, tmp.path()).await;
    assert_eq!(
        db.wa.load_all_signed_prekeys().await.unwrap(),
        vec![(2, b"b".to_vec())]
    );
}

#[tokio::test]
async fn sender_keys_roundtrip() {
    let (tmp, db) = setup();
    let a = "120363000000000001@g.us::5511999990001:1@s.whatsapp.net";
    db.wa.put_sender_key(a, b"k1").await.unwrap();
    db.wa.put_sender_key(a, b"k2").await.unwrap();
    assert_eq!(db.wa.get_sender_key(a).await.unwrap(), Some(b"k2".to_vec()));
    db.wa.delete_sender_key(a).await.unwrap();
    assert_eq!(db.wa.get_sender_key(a).await.unwrap(), None);
    let batch: Vec<(Arc<str>, Bytes)> = vec![(a.into(), Bytes::from_static(b"k3"))];
    db.wa.put_sender_keys_batch(&batch).await.unwrap();
    let db = reopen(db, tmp.path()).await;
    assert_eq!(db.wa.get_sender_key(a).await.unwrap(), Some(b"k3".to_vec()));
}

#[tokio::test]
async fn pending_inbound_roundtrip_batches_and_expiry() {
    let (tmp, db) = setup();
    let (chat, sender) = ("1@s.whatsapp.net", "1:3@s.whatsapp.net");
    db.wa
        .store_pending_inbound(chat, sender, "M1", b"m1")
        .await
        .unwrap();
    assert_eq!(
        db.wa.get_pending_inbound(chat, sender, "M1").await.unwrap(),
        Some(b"m1".to_vec())
    );
    // Scoped by (chat, sender, id): the same id from another sender is another row.
    assert_eq!(
        db.wa
            .get_pending_inbound(chat, "2@s.whatsapp.net", "M1")
            .await
            .unwrap(),
        None
    );
    db.wa
        .store_pending_inbound(chat, sender, "M1", b"m1'")
        .await
        .unwrap();
    assert_eq!(
        db.wa.get_pending_inbound(chat, sender, "M1").await.unwrap(),
        Some(b"m1'".to_vec())
    );
    db.wa
        .delete_pending_inbound(chat, sender, "M1")
        .await
        .unwrap();
    assert_eq!(
        db.wa.get_pending_inbound(chat, sender, "M1").await.unwrap(),
        None
    );
    let rows = [
        PendingInboundRow {
            chat,
            sender,
            id: "A",
            message: b"a",
        },
        PendingInboundRow {
            chat,
            sender,
            id: "B",
            message: b"b",
        },
        PendingInboundRow {
            chat,
            sender,
            id: "C",
            message: b"c",
        },
    ];
    db.wa.store_pending_inbound_batch(&rows).await.unwrap();
    db.wa
        .delete_pending_inbound_batch(&[PendingInboundKey {
            chat,
            sender,
            id: "A",
        }])
        .await
        .unwrap();
    let db = reopen(db, tmp.path()).await;
    assert_eq!(
        db.wa.get_pending_inbound(chat, sender, "A").await.unwrap(),
        None
    );
    assert_eq!(
        db.wa.get_pending_inbound(chat, sender, "B").await.unwrap(),
        Some(b"b".to_vec())
    );
    let past = chrono::Utc::now().timestamp() - 60;
    assert_eq!(db.wa.delete_expired_pending_inbound(past).await.unwrap(), 0);
    let future = chrono::Utc::now().timestamp() + 60;
    assert_eq!(
        db.wa.delete_expired_pending_inbound(future).await.unwrap(),
        2
    );
    assert_eq!(
        db.wa.get_pending_inbound(chat, sender, "C").await.unwrap(),
        None
    );
}

#[tokio::test]
async fn app_sync_keys_versions_and_macs() {
    let (tmp, db) = setup();
    assert_eq!(db.wa.get_latest_sync_key_id().await.unwrap(), None);
    assert!(db.wa.get_sync_key(b"k1").await.unwrap().is_none());
    let key = |t| AppStateSyncKey {
        key_data: vec![1, 2, 3],
        fingerprint: vec![4],
        timestamp: t,
    };
    db.wa.set_sync_key(b"k1", key(10)).await.unwrap();
    db.wa.set_sync_key(b"k2", key(20)).await.unwrap();
    db.wa.set_sync_key(b"k1", key(11)).await.unwrap();
    assert_eq!(
        db.wa.get_sync_key(b"k1").await.unwrap().unwrap().timestamp,
        11
    );
    assert_eq!(
        db.wa.get_latest_sync_key_id().await.unwrap(),
        Some(b"k1".to_vec())
    );

    assert_eq!(db.wa.get_version("regular").await.unwrap().version, 0);
    let mut v = HashState {
        version: 5,
        hash: [7; 128],
        ..HashState::default()
    };
    v.index_value_map.insert("idx".into(), vec![1, 2]);
    db.wa.set_version("regular", v.clone()).await.unwrap();
    v.version = 6;
    db.wa.set_version("regular", v).await.unwrap();
    assert_eq!(db.wa.get_version("regular").await.unwrap().version, 6);

    let mac = |i: u8, v: u8| AppStateMutationMAC {
        index_mac: vec![i; 32],
        value_mac: vec![v; 32],
    };
    db.wa
        .put_mutation_macs("regular", 6, &[mac(1, 10), mac(2, 20)])
        .await
        .unwrap();
    db.wa
        .put_mutation_macs("regular_low", 6, &[mac(1, 99)])
        .await
        .unwrap();
    db.wa
        .put_mutation_macs("regular", 7, &[mac(1, 11)])
        .await
        .unwrap();
    assert_eq!(
        db.wa.get_mutation_mac("regular", &[1; 32]).await.unwrap(),
        Some(vec![11; 32])
    );
    let many = db
        .wa
        .get_mutation_macs("regular", &[[1; 32], [2; 32], [3; 32]])
        .await
        .unwrap();
    assert_eq!(many.len(), 2);
    db.wa
        .delete_mutation_macs("regular", &[vec![2; 32]])
        .await
        .unwrap();
    assert_eq!(
        db.wa.get_mutation_mac("regular", &[2; 32]).await.unwrap(),
        None
    );
    db.wa
        .put_mutation_macs("regular", 8, &[mac(3, 30)])
        .await
        .unwrap();
    db.wa.clear_mutation_macs("regular").await.unwrap();
    assert_eq!(
        db.wa.get_mutation_mac("regular", &[1; 32]).await.unwrap(),
        None
    );
    assert_eq!(
        db.wa
            .get_mutation_mac("regular_low", &[1; 32])
            .await
            .unwrap(),
        Some(vec![99; 32]),
        "clearing one collection must not touch a collection whose name extends it"
    );
    db.wa
        .put_mutation_macs("regular", 9, &[mac(4, 40)])
        .await
        .unwrap();

    let db = reopen(db, tmp.path()).await;
    assert_eq!(
        db.wa.get_sync_key(b"k2").await.unwrap().unwrap().timestamp,
        20
    );
    assert_eq!(
        db.wa.get_latest_sync_key_id().await.unwrap(),
        Some(b"k1".to_vec())
    );
    let v = db.wa.get_version("regular").await.unwrap();
    assert_eq!(
        (v.version, v.hash[0], v.index_value_map["idx"].clone()),
        (6, 7, vec![1, 2])
    );
    assert_eq!(
        db.wa.get_mutation_mac("regular", &[4; 32]).await.unwrap(),
        Some(vec![40; 32])
    );
}

#[tokio::test]
async fn sender_key_device_tracking() {
    let (tmp, db) = setup();
    let (g1, g2) = ("1@g.us", "2@g.us");
    db.wa
        .set_sender_key_status(
            g1,
            &[("a:1@s.whatsapp.net", true), ("b:1@s.whatsapp.net", false)],
        )
        .await
        .unwrap();
    db.wa
        .set_sender_key_status(g1, &[("b:1@s.whatsapp.net", true)])
        .await
        .unwrap();
    db.wa
        .set_sender_key_status(g2, &[("a:1@s.whatsapp.net", true)])
        .await
        .unwrap();
    let mut d = db.wa.get_sender_key_devices(g1).await.unwrap();
    d.sort();
    assert_eq!(
        d,
        vec![
            ("a:1@s.whatsapp.net".into(), true),
            ("b:1@s.whatsapp.net".into(), true)
        ]
    );
    db.wa
        .delete_sender_key_device_rows(&["a:1@s.whatsapp.net"])
        .await
        .unwrap();
    assert_eq!(
        db.wa.get_sender_key_devices(g1).await.unwrap(),
        vec![("b:1@s.whatsapp.net".into(), true)]
    );
    assert!(db.wa.get_sender_key_devices(g2).await.unwrap().is_empty());
    db.wa.clear_sender_key_devices(g1).await.unwrap();
    assert!(db.wa.get_sender_key_devices(g1).await.unwrap().is_empty());
    db.wa
        .set_sender_key_status(g1, &[("c:1@s.whatsapp.net", false)])
        .await
        .unwrap();
    db.wa
        .set_sender_key_status(g2, &[("c:1@s.whatsapp.net", true)])
        .await
        .unwrap();
    let db = reopen(db, tmp.path()).await;
    assert_eq!(
        db.wa.get_sender_key_devices(g1).await.unwrap(),
        vec![("c:1@s.whatsapp.net".into(), false)]
    );
    db.wa.clear_all_sender_key_devices().await.unwrap();
    assert!(db.wa.get_sender_key_devices(g2).await.unwrap().is_empty());
}

fn mapping(lid: &str, pn: &str, t: i64) -> LidPnMappingEntry {
    LidPnMappingEntry {
        lid: lid.into(),
        phone_number: pn.into(),
        created_at: t,
        updated_at: t,
        learning_source: "usync".into(),
    }
}

#[tokio::test]
async fn lid_mappings_keep_the_reverse_index_current() {
    let (tmp, db) = setup();
    db.wa
        .put_lid_mapping(&mapping("100", "5511", 1))
        .await
        .unwrap();
    assert_eq!(
        db.wa
            .get_lid_mapping("100")
            .await
            .unwrap()
            .unwrap()
            .phone_number,
        "5511"
    );
    assert_eq!(
        db.wa.get_pn_mapping("5511").await.unwrap().unwrap().lid,
        "100"
    );
    // The LID moves to another number: the old number no longer resolves.
    db.wa
        .put_lid_mapping(&mapping("100", "5522", 2))
        .await
        .unwrap();
    assert!(db.wa.get_pn_mapping("5511").await.unwrap().is_none());
    assert_eq!(
        db.wa
            .get_pn_mapping("5522")
            .await
            .unwrap()
            .unwrap()
            .updated_at,
        2
    );
    db.wa
        .put_lid_mappings(&[mapping("200", "5533", 3), mapping("300", "5544", 4)])
        .await
        .unwrap();
    let db = reopen(db, tmp.path()).await;
    let mut all: Vec<String> = db
        .wa
        .get_all_lid_mappings()
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.lid)
        .collect();
    all.sort();
    assert_eq!(all, vec!["100", "200", "300"]);
    assert_eq!(
        db.wa.get_pn_mapping("5544").await.unwrap().unwrap().lid,
        "300"
    );
}

#[tokio::test]
async fn base_keys_device_lists_and_group_metadata() {
    let (tmp, db) = setup();
    db.wa
        .save_base_key("a@s.whatsapp.net", "M1", b"bk")
        .await
        .unwrap();
    assert!(
        db.wa
            .has_same_base_key("a@s.whatsapp.net", "M1", b"bk")
            .await
            .unwrap()
    );
    assert!(
        !db.wa
            .has_same_base_key("a@s.whatsapp.net", "M1", b"other")
            .await
            .unwrap()
    );
    db.wa
        .save_base_key("a@s.whatsapp.net", "M1", b"other")
        .await
        .unwrap();
    assert!(
        db.wa
            .has_same_base_key("a@s.whatsapp.net", "M1", b"other")
            .await
            .unwrap()
    );
    db.wa
        .delete_base_key("a@s.whatsapp.net", "M1")
        .await
        .unwrap();
    assert!(
        !db.wa
            .has_same_base_key("a@s.whatsapp.net", "M1", b"other")
            .await
            .unwrap()
    );
    db.wa
        .save_base_key("a@s.whatsapp.net", "M2", b"bk2")
        .await
        .unwrap();

    let rec = |user: &str, n: u32, t: i64| DeviceListRecord {
        user: user.into(),
        devices: (0..n).map(|d| DeviceInfo::new(d, Some(d))).collect(),
        timestamp: t,
        phash: Some("2:abc".into()),
        raw_id: Some(42),
    };
    db.wa.update_device_list(rec("5511", 2, 1)).await.unwrap();
    db.wa.update_device_list(rec("5511", 3, 2)).await.unwrap();
    assert_eq!(
        db.wa
            .get_devices("5511")
            .await
            .unwrap()
            .unwrap()
            .devices
            .len(),
        3
    );
    db.wa
        .update_device_lists(vec![rec("5522", 1, 3), rec("5533", 1, 4)])
        .await
        .unwrap();
    db.wa.delete_devices("5522").await.unwrap();
    assert!(db.wa.get_devices("5522").await.unwrap().is_none());

    assert_eq!(db.wa.get_group_metadata("1@g.us").await.unwrap(), None);
    db.wa.put_group_metadata("1@g.us", b"m1").await.unwrap();
    db.wa.put_group_metadata("1@g.us", b"m2").await.unwrap();
    db.wa.put_group_metadata("2@g.us", b"x").await.unwrap();
    db.wa.delete_group_metadata("2@g.us").await.unwrap();

    let db = reopen(db, tmp.path()).await;
    assert!(
        db.wa
            .has_same_base_key("a@s.whatsapp.net", "M2", b"bk2")
            .await
            .unwrap()
    );
    let d = db.wa.get_devices("5511").await.unwrap().unwrap();
    assert_eq!(
        (d.timestamp, d.raw_id, d.phash.as_deref()),
        (2, Some(42), Some("2:abc"))
    );
    assert!(db.wa.get_devices("5533").await.unwrap().is_some());
    assert_eq!(
        db.wa.get_group_metadata("1@g.us").await.unwrap(),
        Some(b"m2".to_vec())
    );
    assert_eq!(db.wa.get_group_metadata("2@g.us").await.unwrap(), None);
}

#[tokio::test]
async fn tc_tokens_merge_and_expire() {
    let (tmp, db) = setup();
    let j = "100@lid";
    db.wa
        .put_tc_token(
            j,
            &TcTokenEntry {
                token: vec![1],
                token_timestamp: 10,
                sender_timestamp: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(db.wa.get_tc_token(j).await.unwrap().unwrap().token, vec![1]);
    // The sender bucket only moves forward and keeps the token.
    db.wa.touch_tc_token_sender_timestamp(j, 50).await.unwrap();
    db.wa.touch_tc_token_sender_timestamp(j, 40).await.unwrap();
    let e = db.wa.get_tc_token(j).await.unwrap().unwrap();
    assert_eq!((e.token.clone(), e.sender_timestamp), (vec![1], Some(50)));
    // Newer wins; a stale token does not clobber; the sender bucket survives.
    db.wa.store_received_tc_token(j, &[2], 20).await.unwrap();
    db.wa.store_received_tc_token(j, &[3], 15).await.unwrap();
    let e = db.wa.get_tc_token(j).await.unwrap().unwrap();
    assert_eq!(
        (e.token, e.token_timestamp, e.sender_timestamp),
        (vec![2], 20, Some(50))
    );
    // A placeholder (touch on an absent row) never blocks the first real token.
    db.wa
        .touch_tc_token_sender_timestamp("200@lid", 100)
        .await
        .unwrap();
    db.wa
        .store_received_tc_token("200@lid", &[9], 5)
        .await
        .unwrap();
    let e = db.wa.get_tc_token("200@lid").await.unwrap().unwrap();
    assert_eq!(
        (e.token, e.token_timestamp, e.sender_timestamp),
        (vec![9], 5, Some(100))
    );
    db.wa
        .put_tc_token(
            "300@lid",
            &TcTokenEntry {
                token: vec![1],
                token_timestamp: 1,
                sender_timestamp: None,
            },
        )
        .await
        .unwrap();
    db.wa.delete_tc_token("300@lid").await.unwrap();
    assert!(db.wa.get_tc_token("300@lid").await.unwrap().is_none());
    db.wa
        .put_tc_token(
            "400@lid",
            &TcTokenEntry {
                token: vec![1],
                token_timestamp: 1,
                sender_timestamp: Some(1),
            },
        )
        .await
        .unwrap();

    let db = reopen(db, tmp.path()).await;
    let mut jids = db.wa.get_all_tc_token_jids().await.unwrap();
    jids.sort();
    assert_eq!(jids, vec!["100@lid", "200@lid", "400@lid"]);
    // 400: both windows stale -> gone. 100: token stale but sender bucket live -> kept.
    // 200: token timestamp 5 is stale, sender 100 live -> kept.
    assert_eq!(db.wa.delete_expired_tc_tokens(30, 45).await.unwrap(), 1);
    let mut jids = db.wa.get_all_tc_token_jids().await.unwrap();
    jids.sort();
    assert_eq!(jids, vec!["100@lid", "200@lid"]);
}

#[tokio::test]
async fn sent_messages_are_taken_once_and_expire() {
    let (tmp, db) = setup();
    db.wa
        .store_sent_message("a@s.whatsapp.net", "M1", b"p1")
        .await
        .unwrap();
    db.wa
        .store_sent_message("a@s.whatsapp.net", "M1", b"p1'")
        .await
        .unwrap();
    assert_eq!(
        db.wa
            .take_sent_message("a@s.whatsapp.net", "M1")
            .await
            .unwrap(),
        Some(b"p1'".to_vec())
    );
    assert_eq!(
        db.wa
            .take_sent_message("a@s.whatsapp.net", "M1")
            .await
            .unwrap(),
        None
    );
    db.wa
        .store_sent_message("a@s.whatsapp.net", "M2", b"p2")
        .await
        .unwrap();
    db.wa
        .store_sent_message("b@s.whatsapp.net", "M3", b"p3")
        .await
        .unwrap();
    let db = reopen(db, tmp.path()).await;
    let past = chrono::Utc::now().timestamp() - 60;
    assert_eq!(db.wa.delete_expired_sent_messages(past).await.unwrap(), 0);
    assert_eq!(
        db.wa
            .take_sent_message("b@s.whatsapp.net", "M3")
            .await
            .unwrap(),
        Some(b"p3".to_vec())
    );
    let future = chrono::Utc::now().timestamp() + 60;
    assert_eq!(db.wa.delete_expired_sent_messages(future).await.unwrap(), 1);
    assert_eq!(
        db.wa
            .take_sent_message("a@s.whatsapp.net", "M2")
            .await
            .unwrap(),
        None
    );
}

#[tokio::test]
async fn msg_secrets_merge_deadlines_and_expire() {
    let (tmp, db) = setup();
    let entry = |id: &str, s: u8, exp: i64, ts: i64| MsgSecretEntry {
        chat: "c@s.whatsapp.net".into(),
        sender: "s@s.whatsapp.net".into(),
        msg_id: id.into(),
        secret: [s; 32],
        expires_at: exp,
        message_ts: ts,
    };
    assert_eq!(
        db.wa
            .get_msg_secret("c@s.whatsapp.net", "s@s.whatsapp.net", "A")
            .await
            .unwrap(),
        None
    );
    assert_eq!(
        db.wa
            .put_msg_secrets(vec![entry("A", 1, 100, 10), entry("B", 2, 50, 0)])
            .await
            .unwrap(),
        2
    );
    // Overwrite: the secret is replaced, the later deadline and the known parent time are kept.
    db.wa
        .put_msg_secrets(vec![entry("A", 3, 90, 0)])
        .await
        .unwrap();
    let (s, ts) = db
        .wa
        .get_msg_secret_with_ts("c@s.whatsapp.net", "s@s.whatsapp.net", "A")
        .await
        .unwrap()
        .unwrap();
    assert_eq!((s, ts), (vec![3; 32], 10));
    db.wa
        .put_msg_secret("c@s.whatsapp.net", "s@s.whatsapp.net", "C", &[4; 32])
        .await
        .unwrap();
    let db = reopen(db, tmp.path()).await;
    assert_eq!(
        db.wa
            .get_msg_secret("c@s.whatsapp.net", "s@s.whatsapp.net", "B")
            .await
            .unwrap(),
        Some(vec![2; 32])
    );
    // Deadline 50 passes at 60; 100 does not; C never expires.
    assert_eq!(db.wa.delete_expired_msg_secrets(60).await.unwrap(), 1);
    assert_eq!(db.wa.delete_expired_msg_secrets(100).await.unwrap(), 1);
    assert_eq!(db.wa.delete_expired_msg_secrets(i64::MAX).await.unwrap(), 0);
    assert!(
        db.wa
            .get_msg_secret("c@s.whatsapp.net", "s@s.whatsapp.net", "C")
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn device_create_save_load() {
    let (tmp, db) = setup();
    assert!(!db.wa.exists().await.unwrap());
    assert!(db.wa.load().await.unwrap().is_none());
    let first = db.wa.create().await.unwrap();
    assert!(db.wa.exists().await.unwrap());
    let created = db
        .wa
        .load()
        .await
        .unwrap()
        .expect("create materialises a device");
    // A second create must not replace the keys of the first.
    let second = db.wa.create().await.unwrap();
    assert_ne!(first, second);
    let again = db.wa.load().await.unwrap().unwrap();
    assert_eq!(again.registration_id, created.registration_id);
    assert_eq!(again.adv_secret_key, created.adv_secret_key);

    let mut d = Device::new();
    d.push_name = "zapgate".into();
    d.next_pre_key_id = 812;
    db.wa.save(&d).await.unwrap();
    let mut d2 = d.clone();
    d2.push_name = "renamed".into();
    db.wa.save(&d2).await.unwrap();
    assert!(!db.wa.is_paired().unwrap());
    let db = reopen(db, tmp.path()).await;
    let l = db.wa.load().await.unwrap().unwrap();
    assert_eq!((l.push_name.as_str(), l.next_pre_key_id), ("renamed", 812));
    assert_eq!(l.registration_id, d.registration_id);
    assert_eq!(l.adv_secret_key, d.adv_secret_key);
    assert_eq!(l.signed_pre_key_signature, d.signed_pre_key_signature);
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
    assert!(store.drop_session_trees(a).unwrap() >= 1);
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
