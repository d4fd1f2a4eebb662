//! End-to-end flows of unmodified whatsapp-rust clients against wa-mock.

mod common;

use common::{http, pair, start_client, wait_for};
use std::sync::Arc;
use wa_mock::WaMock;
use wacore::types::events::Event;
use whatsapp_rust::Jid;

fn text_of(e: &Event) -> Option<(String, String)> {
    e.messages().find_map(|m| {
        let text = m
            .message
            .conversation
            .clone()
            .or_else(|| m.message.extended_text_message.as_option()?.text.clone())?;
        Some((m.info.source.sender.user.to_string(), text))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn qr_scan_pairs_and_logs_in() {
    let mock = WaMock::start(0).await.unwrap();
    let (c, phone) = pair(&mock, Some("15551230001")).await;
    assert_eq!(phone, "15551230001");
    // The prekey upload runs detached from login: poll for it.
    let deadline = tokio::time::Instant::now() + common::STEP;
    loop {
        let (status, accounts) = http(&mock, "GET", "/admin/accounts", None).await;
        assert_eq!(status, 200);
        let account = accounts
            .as_array()
            .unwrap()
            .iter()
            .find(|a| a["phone"] == "15551230001")
            .expect("account listed")
            .clone();
        assert_eq!(account["devices"][0]["connected"], true);
        if account["devices"][0]["prekeys"].as_u64().unwrap() > 0 {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no prekeys uploaded"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    c.handle.shutdown().await;
    mock.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scan_of_unknown_ref_is_404() {
    let mock = WaMock::start(0).await.unwrap();
    let qr = "2@nope,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=,1";
    let (status, _) = http(
        &mock,
        "POST",
        "/admin/scan",
        Some(serde_json::json!({ "qr": qr })),
    )
    .await;
    assert_eq!(status, 404);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_clients_exchange_texts() {
    let mock = WaMock::start(0).await.unwrap();
    let ((a, phone_a), (b, phone_b)) = tokio::join!(pair(&mock, None), pair(&mock, None));

    for (from, to, to_phone, from_phone, text) in [
        (&a, &b, &phone_b, &phone_a, "hello from a"),
        (&b, &a, &phone_a, &phone_b, "hello back from b"),
    ] {
        let sent = from
            .client
            .send_text(Jid::pn(to_phone.as_str()), text)
            .await
            .expect("send");
        wait_for(&from.events, "ServerAck", |e| match e {
            Event::ServerAck(ack) if ack.id == sent.message_id => Some(()),
            _ => None,
        })
        .await;
        let (sender, got) = wait_for(&to.events, "message", text_of).await;
        assert_eq!(got, text);
        assert_eq!(&sender, from_phone);
        // The receiver's delivery receipt is routed back to the sender.
        wait_for(&from.events, "delivery receipt", |e| match e {
            Event::Receipt(r) if r.message_ids.contains(&sent.message_id) => Some(()),
            _ => None,
        })
        .await;
    }
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_logs_in_again_without_qr() {
    let mock = WaMock::start(0).await.unwrap();
    let (c, phone) = pair(&mock, None).await;
    let backend = c.backend.clone();
    c.handle.shutdown().await;

    let again = start_client(&mock, backend).await;
    wait_for(&again.events, "Connected after restart", |e| match e {
        Event::PairingQrCode(_) => panic!("asked for a QR again"),
        Event::Connected(_) => Some(()),
        _ => None,
    })
    .await;
    assert_eq!(again.client.pn().map(|j| j.user.to_string()), Some(phone));
    assert!(mock.stats().ik_logins >= 1, "reconnect should use Noise IK");
    again.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_logout_logs_the_client_out() {
    let mock = WaMock::start(0).await.unwrap();
    let (c, phone) = pair(&mock, None).await;
    let (status, _) = http(
        &mock,
        "POST",
        "/admin/logout",
        Some(serde_json::json!({ "phone": phone })),
    )
    .await;
    assert_eq!(status, 200);
    wait_for(&c.events, "LoggedOut", |e| {
        matches!(e, Event::LoggedOut(_)).then_some(())
    })
    .await;

    // The stored identity is dead: a restart is refused at connect.
    let backend = c.backend.clone();
    c.handle.abort();
    let again = start_client(&mock, Arc::clone(&backend)).await;
    let on_connect = wait_for(&again.events, "LoggedOut at connect", |e| match e {
        Event::LoggedOut(l) => Some(l.on_connect),
        _ => None,
    })
    .await;
    assert!(on_connect);
    again.handle.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn scripted_contact_text_is_decrypted() {
    let mock = WaMock::start(0).await.unwrap();
    let (c, phone) = pair(&mock, None).await;
    let (status, reply) = http(
        &mock,
        "POST",
        "/admin/send",
        Some(
            serde_json::json!({ "from": "15559990001", "to": phone, "text": "hi from a contact" }),
        ),
    )
    .await;
    assert_eq!(status, 200, "{reply}");
    let (sender, text) = wait_for(&c.events, "contact message", text_of).await;
    assert_eq!(sender, "15559990001");
    assert_eq!(text, "hi from a contact");

    // A second text reuses the Signal session (a `msg`, not a `pkmsg`).
    mock.send_text("15559990001", &phone, "second")
        .await
        .unwrap();
    let (_, text) = wait_for(&c.events, "second contact message", text_of).await;
    assert_eq!(text, "second");
    c.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_to_offline_device_arrives_at_next_login() {
    let mock = WaMock::start(0).await.unwrap();
    let ((a, _), (b, phone_b)) = tokio::join!(pair(&mock, None), pair(&mock, None));
    let backend_b = b.backend.clone();
    b.handle.shutdown().await;

    let sent = a
        .client
        .send_text(Jid::pn(phone_b.as_str()), "while you were away")
        .await
        .expect("send");
    wait_for(&a.events, "ServerAck", |e| match e {
        Event::ServerAck(ack) if ack.id == sent.message_id => Some(()),
        _ => None,
    })
    .await;

    let b = start_client(&mock, backend_b).await;
    let (_, text) = wait_for(&b.events, "queued message", text_of).await;
    assert_eq!(text, "while you were away");
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn second_device_of_an_account_gets_both_directions() {
    let mock = WaMock::start(0).await.unwrap();
    let (a1, phone_a) = pair(&mock, Some("15557770001")).await;
    let ((a2, _), (b, phone_b)) = tokio::join!(pair(&mock, Some("15557770001")), pair(&mock, None));
    assert_eq!(
        mock.accounts()
            .iter()
            .find(|a| a.phone == phone_a)
            .unwrap()
            .devices
            .len(),
        2
    );

    // B -> A reaches both of A's devices.
    b.client
        .send_text(Jid::pn(phone_a.as_str()), "to both")
        .await
        .expect("send");
    for dev in [&a1, &a2] {
        let (_, text) = wait_for(&dev.events, "fanout to each device", text_of).await;
        assert_eq!(text, "to both");
    }

    // A2 -> B also lands on A1 as a self-sync copy. (Not A1 -> B: the mock
    // sends no device-list notification, so A1's cached list lacks A2.)
    let sent = a2
        .client
        .send_text(Jid::pn(phone_b.as_str()), "from a2")
        .await
        .expect("send");
    let (_, text) = wait_for(&b.events, "message from a2", text_of).await;
    assert_eq!(text, "from a2");
    let chat = wait_for(&a1.events, "self-sync copy", |e| {
        e.messages()
            .find(|m| m.info.source.is_from_me && m.info.id == sent.message_id)
            .map(|m| m.info.source.chat.user.to_string())
    })
    .await;
    assert_eq!(chat, phone_b);
    for c in [a1, a2, b] {
        c.handle.shutdown().await;
    }
}
