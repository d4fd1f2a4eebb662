//! Signal keys (identities, sessions, prekeys, signed prekeys, sender keys), the pending-inbound
//! buffer and the device row.

use std::sync::Arc;

use whatsapp_rust::bytes::Bytes;
use whatsapp_rust::wacore::store::Device;
use whatsapp_rust::wacore::store::traits::*;

use super::{reopen, setup};

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
