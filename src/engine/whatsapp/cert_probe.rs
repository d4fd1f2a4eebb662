//! Whether this binary checks WhatsApp's Noise certificate chain.
//!
//! whatsapp-rust's `danger-skip-cert-chain-verify` can be switched on by our `wa-mock-peer`
//! feature, but cargo's feature unification can also switch it on behind our back (a
//! workspace test build with wa-mock's dev-dependencies). So instead of trusting our own
//! `cfg`, we ask the crate: an unsigned chain that it accepts means the check is off, and the
//! server must then refuse any `ZAPGATE_WA_URL` that is not loopback.

use whatsapp_rust::wacore::noise::HandshakeUtils;
use whatsapp_rust::waproto::buffa::{Message as _, MessageField};
use whatsapp_rust::waproto::whatsapp::{self as wa, cert_chain::noise_certificate};

/// True when the linked whatsapp-rust accepts a certificate chain signed by nobody.
pub fn cert_chain_check_disabled() -> bool {
    let key = [7u8; 32];
    let details = |serial, issuer, key: Vec<u8>| {
        noise_certificate::Details {
            serial: Some(serial),
            issuer_serial: Some(issuer),
            key: Some(key),
            not_before: Some(0),
            not_after: Some(u64::MAX / 2),
        }
        .encode_to_vec()
    };
    let cert = |details: Vec<u8>| wa::cert_chain::NoiseCertificate {
        details: Some(details),
        signature: Some(vec![0u8; 64]),
    };
    let chain = wa::CertChain {
        intermediate: MessageField::some(cert(details(1, 0, vec![0x11; 32]))),
        leaf: MessageField::some(cert(details(2, 1, key.to_vec()))),
    }
    .encode_to_vec();
    HandshakeUtils::verify_server_cert(&chain, &key).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_probe_agrees_with_the_feature_when_built_alone() {
        // With the feature on, the check is certainly off; without it the answer depends on
        // what else this test build unified in, so only the first direction is asserted.
        if cfg!(feature = "wa-mock-peer") {
            assert!(cert_chain_check_disabled());
        }
    }
}
