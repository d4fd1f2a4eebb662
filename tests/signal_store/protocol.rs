//! App-state sync, protocol tables (sender-key devices, LID mappings, base keys, device lists,
//! group metadata, tc tokens, sent messages) and message secrets.

use whatsapp_rust::wacore::appstate::hash::HashState;
use whatsapp_rust::wacore::appstate::processor::AppStateMutationMAC;
use whatsapp_rust::wacore::store::traits::*;

use super::{reopen, setup};

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
