//! The token-scoped API (GOWA dialect), black-box on LOOPBACK: the walkthrough from creating an
//! instance to deleting it, and the token matrix (missing, wrong and another instance's token
//! on every token-scoped route).

#[path = "../common/mod.rs"]
mod common;
mod matrix;
mod walkthrough;

use std::time::Duration;

use common::{DEADLINE, KEY, TestServer, jid};
use reqwest::Method;
use serde_json::{Value, json};

const ANA: &str = "15550001001";
const BIA: &str = "15550001002";

/// A request with an optional instance token (and optional extra headers).
async fn call(
    s: &TestServer,
    method: Method,
    path: &str,
    token: Option<&str>,
    headers: &[(&str, &str)],
    body: Option<Value>,
) -> (u16, Value) {
    let mut req = s.http.request(method, s.url(path));
    if let Some(t) = token {
        req = req.header("X-Instance-Token", t);
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    if let Some(b) = body {
        req = req.json(&b);
    }
    let resp = req.send().await.expect("request failed");
    let status = resp.status().as_u16();
    let text = resp.text().await.expect("body");
    (
        status,
        serde_json::from_str(&text).unwrap_or(Value::String(text)),
    )
}

async fn get(s: &TestServer, path: &str, token: &str) -> Value {
    let (status, body) = call(s, Method::GET, path, Some(token), &[], None).await;
    assert_eq!(status, 200, "GET {path}: {body}");
    assert_eq!(body["code"], "SUCCESS", "{body}");
    body["results"].clone()
}

async fn post(s: &TestServer, path: &str, token: &str, body: Value) -> Value {
    let (status, answer) = call(s, Method::POST, path, Some(token), &[], Some(body)).await;
    assert_eq!(status, 200, "POST {path}: {answer}");
    assert_eq!(answer["code"], "SUCCESS", "{answer}");
    answer["results"].clone()
}

/// GETs `path` with `token` until `pred` holds for its `results`.
async fn until(s: &TestServer, path: &str, token: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let deadline = tokio::time::Instant::now() + DEADLINE;
    loop {
        let (status, body) = call(s, Method::GET, path, Some(token), &[], None).await;
        if status == 200 && pred(&body["results"]) {
            return body["results"].clone();
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "{path} never matched; last: {status} {body}"
        );
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

/// Creates a LOOPBACK instance through `POST /instances`; returns `(id, token)`.
async fn create(s: &TestServer, name: &str) -> (String, String) {
    let (status, body) = call(
        s,
        Method::POST,
        "/instances",
        None,
        &[("apikey", KEY)],
        Some(json!({"name": name, "integration": "LOOPBACK"})),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["code"], "SUCCESS");
    let r = &body["results"];
    assert_eq!(r["name"], name);
    assert_eq!(r["status"], "close");
    (
        r["id"].as_str().expect("id").to_string(),
        r["token"].as_str().expect("token").to_string(),
    )
}

/// Logs in by QR (a PNG) and plays the phone that scans it.
async fn pair(s: &TestServer, name: &str, token: &str, phone: &str) {
    let qr = get(s, "/app/login", token).await;
    assert!(
        qr["qr_link"]
            .as_str()
            .is_some_and(|l| l.starts_with("data:image/png;base64,")),
        "{qr}"
    );
    assert!(qr["qr_duration"].as_u64().is_some_and(|d| d > 0), "{qr}");
    assert_eq!(qr["device_id"], name);
    let (status, body) = s
        .post(
            &format!("/loopback/scan/{name}?phone={phone}"),
            Some(KEY),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "scan {name}: {body}");
    until(s, "/app/status", token, |r| r["is_logged_in"] == true).await;
}

/// Two paired instances made through the token-scoped API; their tokens.
async fn two_paired(s: &TestServer) -> (String, String) {
    let (_, ana) = create(s, "ana").await;
    let (_, bia) = create(s, "bia").await;
    pair(s, "ana", &ana, ANA).await;
    pair(s, "bia", &bia, BIA).await;
    (ana, bia)
}
