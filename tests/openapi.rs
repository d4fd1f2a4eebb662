//! The committed `openapi/openapi.json` must be exactly what the code generates.

#[test]
fn committed_spec_matches_the_code() {
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_zapgate"))
        .arg("openapi")
        .env_remove("AUTHENTICATION_API_KEY")
        .output()
        .expect("run zapgate openapi");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let generated = String::from_utf8(out.stdout).expect("utf-8");
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi/openapi.json");
    let committed = std::fs::read_to_string(path).unwrap_or_default();
    assert!(
        generated.trim() == committed.trim(),
        "openapi/openapi.json is stale: run `cargo run -- openapi > openapi/openapi.json`"
    );
    let spec: serde_json::Value = serde_json::from_str(&generated).expect("valid JSON");
    assert!(spec["paths"]["/instance/create"]["post"].is_object());
}
