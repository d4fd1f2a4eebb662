//! A three-member LOOPBACK group for the group tests: ana creates "Team" with bia and caio.

use serde_json::{Value, json};

use super::{KEY, TestServer};

pub const ANA: &str = "15550003001";
pub const BIA: &str = "15550003002";
pub const CAIO: &str = "15550003003";

pub use super::jid;

/// The `admin` of `who` in a participants array; panics when `who` is not in it.
pub fn role(participants: &Value, who: &str) -> Value {
    participants
        .as_array()
        .expect("participants array")
        .iter()
        .find(|p| p["id"] == jid(who))
        .unwrap_or_else(|| panic!("{who} not in {participants}"))["admin"]
        .clone()
}

pub async fn three_paired() -> TestServer {
    TestServer::start_paired(&[("ana", ANA), ("bia", BIA), ("caio", CAIO)]).await
}

/// ana creates "Team" with bia and caio (and a number nobody has); returns the group JID.
pub async fn create_team(s: &TestServer) -> String {
    let (status, g) = s
        .post(
            "/group/create/ana",
            Some(KEY),
            json!({"subject": "Team", "description": "first", "participants": [BIA, format!("+{CAIO}"), "5511000000000"]}),
        )
        .await;
    assert_eq!(status, 201, "{g}");
    let id = g["id"].as_str().expect("id").to_string();
    let digits = id.strip_suffix("@g.us").expect("@g.us");
    assert!(digits.starts_with("1203630") && digits.len() == 18, "{id}");
    assert!(digits.chars().all(|c| c.is_ascii_digit()), "{id}");
    assert_eq!(g["subject"], "Team");
    assert_eq!(g["desc"], "first");
    assert_eq!(g["owner"], jid(ANA));
    assert_eq!(g["subjectOwner"], jid(ANA));
    assert!(g["creation"].as_u64().unwrap() > 1_600_000_000);
    assert_eq!(g["restrict"], false);
    assert_eq!(g["announce"], false);
    // The number that is not on WhatsApp was left out.
    assert_eq!(g["size"], 3);
    assert_eq!(g["participants"].as_array().unwrap().len(), 3);
    assert_eq!(role(&g["participants"], ANA), "superadmin");
    assert_eq!(role(&g["participants"], BIA), Value::Null);
    assert_eq!(role(&g["participants"], CAIO), Value::Null);
    id
}

pub async fn info(s: &TestServer, who: &str, group: &str) -> (u16, Value) {
    s.get(
        &format!("/group/findGroupInfos/{who}?groupJid={group}"),
        Some(KEY),
    )
    .await
}
