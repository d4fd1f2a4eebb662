//! LOOPBACK message media expires after `ZAPGATE_LOOPBACK_MEDIA_RETENTION_SECS`, as WhatsApp's
//! media links do, and the next upload reclaims its space; profile pictures stay.

mod common;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as B64;
use common::{DEADLINE, KEY, TestServer};
use serde_json::{Value, json};

const ANA: &str = "15550006001";
const BIA: &str = "15550006002";

async fn send_doc(s: &TestServer, body: &[u8]) -> Value {
    let (status, sent) = s
        .post(
            "/message/sendMedia/ana",
            Some(KEY),
            json!({"number": BIA, "mediatype": "document", "media": B64.encode(body), "fileName": "a.pdf"}),
        )
        .await;
    assert_eq!(status, 201, "{sent}");
    sent
}

async fn download(s: &TestServer, id: &Value) -> (u16, Value) {
    s.post(
        "/chat/getBase64FromMediaMessage/ana",
        Some(KEY),
        json!({"message": {"key": {"id": id}}}),
    )
    .await
}

#[tokio::test]
async fn sent_media_expires_and_the_next_upload_reclaims_it() {
    let s = TestServer::start(&[("ZAPGATE_LOOPBACK_MEDIA_RETENTION_SECS", "1")]).await;
    s.paired_loopback("ana", ANA).await;
    s.paired_loopback("bia", BIA).await;
    let (status, _) = s
        .post(
            "/chat/updateProfilePicture/ana",
            Some(KEY),
            json!({"picture": B64.encode(b"\x89PNG\r\n\x1a\nprofile")}),
        )
        .await;
    assert_eq!(status, 200);

    let first = send_doc(&s, b"%PDF-1.4 first").await;
    let id = &first["key"]["id"];
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let (status, body) = download(&s, id).await;
        if status == 400 {
            assert!(body.to_string().contains("no longer available"), "{body}");
            break;
        }
        assert_eq!(status, 201, "{body}");
        assert!(
            tokio::time::Instant::now() < deadline,
            "the media never expired"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    let second = send_doc(&s, b"%PDF-1.4 second").await;
    let dir = s.stop().await;
    let db = sled::Config::new()
        .path(dir.path.join("db"))
        .open()
        .expect("reopen the data dir");
    let media = db.open_tree("loopback.media").unwrap();
    let keys: Vec<String> = media
        .iter()
        .keys()
        .map(|k| String::from_utf8(k.unwrap().to_vec()).unwrap())
        .collect();
    // The profile picture and the second document; the first document is gone.
    assert_eq!(keys.len(), 2, "{keys:?}");
    let second_path = second["message"]["documentMessage"]["directPath"]
        .as_str()
        .expect("directPath");
    assert!(keys.iter().any(|k| k == second_path), "{keys:?}");
    let first_path = first["message"]["documentMessage"]["directPath"]
        .as_str()
        .expect("directPath");
    assert!(!keys.iter().any(|k| k == first_path), "{keys:?}");
}
