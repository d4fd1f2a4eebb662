//! The production dependency tree must not enable any `danger-*` feature of whatsapp-rust or its
//! crates (they skip certificate checks). Only the `wa-mock-peer` feature may, and this test
//! also checks that it does, so the scan would notice; and that even then the chat socket keeps
//! verifying TLS (only the media HTTP client, for wa-mock's media host, skips it).

use std::process::Command;

/// The crates that carry `danger-*` features.
const GUARDED: &[&str] = &[
    "whatsapp-rust",
    "wacore",
    "wacore-noise",
    "whatsapp-rust-tokio-transport",
    "whatsapp-rust-ureq-http-client",
];

/// The inverted feature trees of the guarded crates as the zapgate package uses them (no
/// dev-dependencies): every enabled feature of those crates is listed with what enabled it. A
/// forward tree would not show features the root package turns on through its own features.
fn feature_tree(extra: &[&str]) -> String {
    GUARDED.iter().map(|c| inverted(c, extra)).collect()
}

fn inverted(krate: &str, extra: &[&str]) -> String {
    let manifest = concat!(env!("CARGO_MANIFEST_DIR"), "/Cargo.toml");
    let out = Command::new(env!("CARGO"))
        .args(["tree", "--offline", "--locked"])
        .args(["-e", "normal,build,features", "-p", "zapgate", "-i", krate])
        .args(["--manifest-path", manifest])
        .args(extra)
        .output()
        .expect("run cargo tree");
    assert!(
        out.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8")
}

#[test]
fn default_build_enables_no_danger_feature() {
    let tree = feature_tree(&[]);
    assert!(tree.contains("whatsapp-rust"), "unexpected tree:\n{tree}");
    let danger: Vec<&str> = tree.lines().filter(|l| l.contains("danger-")).collect();
    assert!(
        danger.is_empty(),
        "danger features in the default tree:\n{}",
        danger.join("\n")
    );
}

#[test]
fn the_mock_peer_feature_is_the_only_way_in() {
    let tree = feature_tree(&["--features", "wa-mock-peer"]);
    assert!(
        tree.contains("danger-skip-cert-chain-verify"),
        "the scan cannot see the feature it guards against"
    );
    // The chat socket to WhatsApp keeps verifying TLS even in the mock build.
    let transport = inverted(
        "whatsapp-rust-tokio-transport",
        &["--features", "wa-mock-peer"],
    );
    assert!(!transport.contains("danger-skip-tls-verify"), "{transport}");
    // Media uploads/downloads may skip it, to reach wa-mock's self-signed HTTPS media host, and
    // only because wa-mock-peer asks (that build refuses non-loopback servers, whose media_conn
    // names the media hosts).
    let lines: Vec<&str> = tree.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        if l.contains("danger-skip-tls-verify") {
            assert!(
                l.contains("whatsapp-rust-ureq-http-client feature"),
                "unexpected: {l}\n{tree}"
            );
            assert!(
                lines
                    .get(i + 1)
                    .is_some_and(|n| n.contains("zapgate feature \"wa-mock-peer\"")),
                "danger-skip-tls-verify enabled by something else:\n{tree}"
            );
        }
    }
}
