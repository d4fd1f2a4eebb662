//! Black-box tests of scoped keys (`/keys`): a tenant key reaches only the instances it created,
//! on every instance route of the document; a read-only key is refused every write; lists and
//! the event stream show only the caller's instances; a revoked key is refused at once.

mod common;

use std::time::Duration;

use common::{KEY, TestServer};
use serde_json::{Value, json};

/// The matrices send a hundred refused requests in a row: the per-address limiter of refused
/// requests would answer 429 before the refusal under test.
const UNLIMITED: &[(&str, &str)] = &[
    ("ZAPGATE_RATE_LIMIT_ANONYMOUS", "0"),
    ("ZAPGATE_RATE_LIMIT_TOKEN", "0"),
];

/// Creates a scoped key with the global key; returns (id, secret).
async fn new_key(s: &TestServer, body: Value) -> (String, String) {
    let (status, b) = s.post("/keys", Some(KEY), body).await;
    assert_eq!(status, 201, "create key: {b}");
    (
        b["id"].as_str().expect("id").to_string(),
        b["secret"].as_str().expect("secret").to_string(),
    )
}

/// Creates a LOOPBACK instance with `key` and connects it with that key (the loopback scan,
/// a test device, is the global key's); returns its token.
async fn tenant_instance(s: &TestServer, key: &str, name: &str, phone: &str) -> String {
    let (status, body) = s
        .post(
            "/instance/create",
            Some(key),
            json!({"instanceName": name, "integration": "LOOPBACK"}),
        )
        .await;
    assert_eq!(status, 201, "create {name}: {body}");
    let token = body["hash"].as_str().expect("hash").to_string();
    let (status, body) = s.get(&format!("/instance/connect/{name}"), Some(key)).await;
    assert_eq!(status, 200, "connect {name}: {body}");
    let (status, body) = s
        .post(
            &format!("/loopback/scan/{name}?phone={phone}"),
            Some(KEY),
            json!({}),
        )
        .await;
    assert_eq!(status, 200, "scan {name}: {body}");
    s.wait_state(name, "open").await;
    token
}

/// Every operation of the served document with `{instanceName}` in its path, as (method,
/// path with `instance` and dummy parameters filled in, whether it takes a body, operationId).
async fn instance_operations(
    s: &TestServer,
    instance: &str,
) -> Vec<(String, String, bool, String)> {
    let (status, doc) = s.get("/openapi.json", None).await;
    assert_eq!(status, 200);
    let mut out = Vec::new();
    for (path, item) in doc["paths"].as_object().expect("paths") {
        if !path.contains("{instanceName}") {
            continue;
        }
        for (method, op) in item.as_object().expect("path item") {
            let mut filled = String::new();
            for seg in path.split('/').filter(|s| !s.is_empty()) {
                filled.push('/');
                filled.push_str(match seg {
                    "{instanceName}" => instance,
                    s if s.starts_with('{') => "x",
                    s => s,
                });
            }
            // Required query parameters get a value, so extraction cannot answer before auth.
            let query: Vec<String> = op["parameters"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|p| p["in"] == "query" && p["required"] == true)
                .map(|p| {
                    format!(
                        "{}={}",
                        p["name"].as_str().unwrap_or_default(),
                        dummy(&p["schema"])
                    )
                })
                .collect();
            if !query.is_empty() {
                filled = format!("{filled}?{}", query.join("&"));
            }
            out.push((
                method.to_uppercase(),
                filled,
                op.get("requestBody").is_some(),
                op["operationId"].as_str().unwrap_or_default().to_string(),
            ));
        }
    }
    assert!(
        out.len() > 60,
        "the document lists {} instance routes",
        out.len()
    );
    out
}

/// A value a query parameter's schema accepts.
fn dummy(schema: &Value) -> String {
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.as_str().unwrap_or("1").to_string();
    }
    let pattern = schema["pattern"].as_str().unwrap_or_default();
    if schema["type"] == "boolean" || pattern.contains("true") {
        "true".into()
    } else {
        "1".into()
    }
}

async fn call(s: &TestServer, key: &str, method: &str, path: &str, body: bool) -> (u16, String) {
    let mut req = s
        .http
        .request(method.parse().expect("method"), s.url(path))
        .header("apikey", key);
    if body {
        req = req.json(&json!({}));
    }
    let resp = req.send().await.expect("request");
    let status = resp.status().as_u16();
    (status, resp.text().await.unwrap_or_default())
}

#[tokio::test]
async fn a_tenant_key_reaches_no_route_of_another_tenants_instance() {
    let s = TestServer::start(UNLIMITED).await;
    let (_, a) = new_key(&s, json!({"label": "A"})).await;
    let (_, b) = new_key(&s, json!({"label": "B"})).await;
    tenant_instance(&s, &a, "ainst", "5511911110001").await;
    let b_token = tenant_instance(&s, &b, "binst", "5511922220002").await;

    let ops = instance_operations(&s, "binst").await;
    for (method, path, body, id) in &ops {
        let (status, text) = call(&s, &a, method, path, *body).await;
        assert!(
            matches!(status, 401 | 403 | 404),
            "A's key on {method} {path} ({id}) answered {status}: {text}"
        );
        assert!(
            !text.contains("5511922220002") && !text.contains(&b_token),
            "A's key on {method} {path} ({id}) leaked B's data: {text}"
        );
    }
    // Nothing A tried did anything: B's instance is still there and open.
    assert_eq!(s.state("binst").await, "open");
    // And B's own key still works on it, as does the global key.
    let (status, _) = s.get("/instance/connectionState/binst", Some(&b)).await;
    assert_eq!(status, 200);
    let (status, body) = s.get("/instance/connectionState/ainst", Some(&b)).await;
    assert_eq!(status, 401, "{body}");
}

/// Operations of the Evolution dialect that change nothing although they are POSTs.
const POST_READS: &[&str] = &[
    "fetch_business_profile",
    "fetch_profile",
    "fetch_profile_picture_url",
    "find_chats",
    "find_contacts",
    "find_messages",
    "find_status_message",
    "get_base64_from_media_message",
    "whatsapp_numbers",
];

/// GETs that act.
const GET_WRITES: &[&str] = &["connect_instance", "accept_invite_code"];

#[tokio::test]
async fn a_read_only_key_is_refused_every_write_and_reads() {
    let s = TestServer::start(UNLIMITED).await;
    s.paired_loopback("shop", "5511933330003").await;
    let (_, ro) = new_key(
        &s,
        json!({"label": "auditor", "instances": ["shop"], "readOnly": true}),
    )
    .await;
    let ops = instance_operations(&s, "shop").await;
    let mut writes = 0;
    for (method, path, body, id) in &ops {
        let write = if method == "GET" {
            GET_WRITES.contains(&id.as_str())
        } else {
            !POST_READS.contains(&id.as_str())
        };
        let (status, text) = call(&s, &ro, method, path, *body).await;
        if write {
            writes += 1;
            assert_eq!(
                status, 403,
                "read-only key on {method} {path} ({id}): {text}"
            );
            assert!(text.contains("read-only"), "{text}");
        } else {
            assert!(
                !matches!(status, 401 | 403) && !text.contains("read-only"),
                "read-only key refused the read {method} {path} ({id}): {status} {text}"
            );
        }
    }
    assert!(writes > 40, "only {writes} writes in the document");
    assert_eq!(s.state("shop").await, "open", "a refused write still acted");
    for (path, body) in [
        ("/chat/findChats/shop", json!({})),
        ("/chat/findMessages/shop", json!({"where": {}})),
    ] {
        let (status, b) = s.post(path, Some(&ro), body).await;
        assert_eq!(status, 200, "{path}: {b}");
    }
    let (status, b) = s.get("/instance/fetchInstances", Some(&ro)).await;
    assert_eq!(status, 200, "{b}");
    // A read-only key creates nothing either.
    let (status, b) = s
        .post(
            "/instance/create",
            Some(&ro),
            json!({"instanceName": "nope", "integration": "LOOPBACK"}),
        )
        .await;
    assert!(matches!(status, 401 | 403), "{status} {b}");
}

fn names(list: &Value) -> Vec<String> {
    let mut v: Vec<String> = list
        .as_array()
        .expect("array")
        .iter()
        .map(|i| i["name"].as_str().unwrap_or_default().to_string())
        .collect();
    v.sort();
    v
}

#[tokio::test]
async fn lists_and_streams_show_only_the_callers_instances() {
    let s = TestServer::start(&[]).await;
    let (_, a) = new_key(&s, json!({})).await;
    let (_, b) = new_key(&s, json!({})).await;
    s.create_loopback("mine_global").await;
    let (status, _) = s
        .post(
            "/instance/create",
            Some(&a),
            json!({"instanceName": "a1", "integration": "LOOPBACK"}),
        )
        .await;
    assert_eq!(status, 201);
    let (status, _) = s
        .post(
            "/instance/create",
            Some(&b),
            json!({"instanceName": "b1", "integration": "LOOPBACK"}),
        )
        .await;
    assert_eq!(status, 201);

    let (status, list) = s.get("/instance/fetchInstances", Some(&a)).await;
    assert_eq!(status, 200);
    assert_eq!(names(&list), vec!["a1"]);
    let (_, list) = s.get("/instance/fetchInstances", Some(KEY)).await;
    assert_eq!(names(&list), vec!["a1", "b1", "mine_global"]);
    let (status, sum) = s.get("/instance/summary", Some(&b)).await;
    assert_eq!(status, 200, "{sum}");
    let text = sum.to_string();
    assert!(
        text.contains("b1") && !text.contains("a1") && !text.contains("mine_global"),
        "{sum}"
    );

    // The stream: another tenant's instance is refused by name, and its events never show.
    let resp = s
        .http
        .get(s.url("/events?instance=b1"))
        .header("apikey", &a)
        .send()
        .await
        .expect("events");
    assert_eq!(resp.status().as_u16(), 401);
    let mut rx = s.sse(&a, "").await;
    for (name, key) in [("b1", &b), ("a1", &a)] {
        let (status, body) = s.get(&format!("/instance/connect/{name}"), Some(key)).await;
        assert_eq!(status, 200, "{body}");
    }
    let deadline = tokio::time::Instant::now() + common::DEADLINE;
    loop {
        let (_, data) = tokio::time::timeout_at(deadline, rx.recv())
            .await
            .expect("no event of a1 in time")
            .expect("stream ended");
        if data.is_null() {
            continue;
        }
        let inst = data["instance"].as_str().unwrap_or_default();
        assert_eq!(inst, "a1", "A's stream carried {data}");
        break;
    }
}

#[tokio::test]
async fn keys_are_listed_without_secrets_and_revoked_at_once() {
    let s = TestServer::start(&[]).await;
    let (id, secret) = new_key(&s, json!({"label": "temp"})).await;
    let (status, list) = s.get("/keys", Some(KEY)).await;
    assert_eq!(status, 200);
    assert_eq!(list[0]["id"], id.as_str());
    assert!(!list.to_string().contains(&secret), "{list}");
    let (status, _) = s.get("/keys", Some(&secret)).await;
    assert_eq!(status, 401, "a scoped key cannot manage keys");
    let (status, _) = s.get("/instance/fetchInstances", Some(&secret)).await;
    assert_eq!(status, 200);
    let (status, _) = s
        .post(
            "/instance/create",
            Some(&secret),
            json!({"instanceName": "t1", "integration": "LOOPBACK"}),
        )
        .await;
    assert_eq!(status, 201);
    let mut rx = s.sse(&secret, "").await;

    let (status, body) = s.delete(&format!("/keys/{id}"), Some(KEY)).await;
    assert_eq!(status, 204, "{body}");
    let (status, _) = s.get("/instance/fetchInstances", Some(&secret)).await;
    assert_eq!(status, 401);
    let (status, _) = s.get("/instance/connectionState/t1", Some(&secret)).await;
    assert_eq!(status, 401);
    // Its open stream ends too.
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        while rx.recv().await.is_some() {}
    })
    .await;
    assert!(ended.is_ok(), "the revoked key's stream stayed open");
    // The instance it created stays, the global key's to manage.
    let (status, _) = s.get("/instance/connectionState/t1", Some(KEY)).await;
    assert_eq!(status, 200);
    let (status, _) = s.delete(&format!("/keys/{id}"), Some(KEY)).await;
    assert_eq!(status, 404);
}

#[tokio::test]
async fn bad_key_bodies_are_400() {
    let s = TestServer::start(&[]).await;
    for body in [
        json!({"instances": []}),
        json!({"instances": "front"}),
        json!({"readOnly": "yes"}),
        json!({"label": false}),
    ] {
        let (status, b) = s.post("/keys", Some(KEY), body.clone()).await;
        assert_eq!(status, 400, "{body} -> {b}");
    }
}

#[tokio::test]
async fn the_other_dialects_create_and_list_by_owner() {
    let s = TestServer::start(&[]).await;
    let (_, a) = new_key(&s, json!({})).await;
    let (_, b) = new_key(&s, json!({})).await;
    let (status, body) = s
        .post(
            "/sessions/a_sess",
            Some(&a),
            json!({"integration": "LOOPBACK"}),
        )
        .await;
    assert_eq!(status, 201, "{body}");
    let (status, body) = s
        .post(
            "/instances",
            Some(&b),
            json!({"name": "b_gowa", "integration": "LOOPBACK"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");

    let (status, list) = s.get("/sessions", Some(&a)).await;
    assert_eq!(status, 200, "{list}");
    let ids: Vec<&str> = list["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .filter_map(|x| x["id"].as_str())
        .collect();
    assert_eq!(ids, vec!["a_sess"], "{list}");
    let (status, list) = s.get("/instances", Some(&b)).await;
    assert_eq!(status, 200, "{list}");
    let text = list.to_string();
    assert!(
        text.contains("b_gowa") && !text.contains("a_sess"),
        "{list}"
    );
    // Each other's: unknown to a session route, refused on an Evolution one.
    let (status, _) = s.get("/sessions/b_gowa/status", Some(&a)).await;
    assert_eq!(status, 404);
    let (status, _) = s.get("/instance/connectionState/a_sess", Some(&b)).await;
    assert_eq!(status, 401);
    let (status, _) = s.get("/instance/connectionState/a_sess", Some(&a)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn a_key_for_named_instances_reaches_those_and_creates_nothing() {
    let s = TestServer::start(&[]).await;
    s.create_loopback("front").await;
    s.create_loopback("back").await;
    let (_, k) = new_key(&s, json!({"instances": ["front"]})).await;
    let (status, body) = s.get("/instance/connect/front", Some(&k)).await;
    assert_eq!(status, 200, "{body}");
    let (status, _) = s.get("/instance/connect/back", Some(&k)).await;
    assert_eq!(status, 401);
    let (status, list) = s.get("/instance/fetchInstances", Some(&k)).await;
    assert_eq!(status, 200);
    assert_eq!(names(&list), vec!["front"]);
    let (status, body) = s
        .post(
            "/instance/create",
            Some(&k),
            json!({"instanceName": "extra", "integration": "LOOPBACK"}),
        )
        .await;
    assert_eq!(status, 403, "{body}");
}
