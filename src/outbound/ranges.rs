//! Which IP addresses count as private: the ones a request configured by an instance token may
//! not reach unless the operator lists them in `ZAPGATE_PRIVATE_TARGETS`.
//!
//! The list is wider than "RFC 1918": anything that is not an ordinary public unicast address
//! (loopback, link-local, CGNAT, documentation and benchmark nets, multicast, reserved) is
//! refused, and IPv6 forms that embed an IPv4 address (mapped, compatible, NAT64, 6to4) are
//! judged by that address, so `::ffff:127.0.0.1` or `64:ff9b::a00:1` cannot slip past.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// IPv4 ranges refused, as (network, prefix length).
const V4: &[([u8; 4], u8)] = &[
    ([0, 0, 0, 0], 8),       // "this network", includes 0.0.0.0
    ([10, 0, 0, 0], 8),      // private
    ([100, 64, 0, 0], 10),   // carrier-grade NAT
    ([127, 0, 0, 0], 8),     // loopback
    ([169, 254, 0, 0], 16),  // link-local (cloud metadata lives here)
    ([172, 16, 0, 0], 12),   // private
    ([192, 0, 0, 0], 24),    // IETF protocol assignments
    ([192, 0, 2, 0], 24),    // TEST-NET-1
    ([192, 168, 0, 0], 16),  // private
    ([198, 18, 0, 0], 15),   // benchmarking
    ([198, 51, 100, 0], 24), // TEST-NET-2
    ([203, 0, 113, 0], 24),  // TEST-NET-3
    ([224, 0, 0, 0], 4),     // multicast
    ([240, 0, 0, 0], 4),     // reserved, includes 255.255.255.255
];

/// Whether `ip` is private, loopback, link-local or otherwise not a public unicast address.
pub fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_private_v4(v4),
        IpAddr::V6(v6) => is_private_v6(v6),
    }
}

fn is_private_v4(ip: Ipv4Addr) -> bool {
    let ip = u32::from(ip);
    V4.iter()
        .any(|(net, len)| in_prefix(ip, u32::from_be_bytes(*net), *len))
}

fn in_prefix(ip: u32, net: u32, len: u8) -> bool {
    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
    ip & mask == net & mask
}

fn is_private_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_private_v4(v4);
    }
    let s = ip.segments();
    ip.is_unspecified()
        || ip.is_loopback()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xff00) == 0xff00 // multicast ff00::/8
        || s[0] == 0x2002 // 6to4: the next 32 bits are an IPv4 address, any relay may forward
        || (s[..6] == [0x64, 0xff9b, 0, 0, 0, 0]) // NAT64 of an address the translator can reach
}

/// The IPv4 address inside a mapped (`::ffff:a.b.c.d`) or compatible (`::a.b.c.d`) address.
/// `::` and `::1` are compatible-form too, and are judged as IPv6 (unspecified, loopback).
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    if let Some(v4) = ip.to_ipv4_mapped() {
        return Some(v4);
    }
    let s = ip.segments();
    if s[..6] == [0; 6] && !ip.is_unspecified() && !ip.is_loopback() {
        return ip.to_ipv4();
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table() {
        let private = [
            "0.0.0.0",
            "0.1.2.3",
            "10.0.0.1",
            "100.64.0.1",
            "100.127.255.255",
            "127.0.0.1",
            "127.255.255.254",
            "169.254.169.254",
            "172.16.0.1",
            "172.31.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "192.168.1.1",
            "198.18.0.1",
            "198.19.255.255",
            "198.51.100.7",
            "203.0.113.9",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "ff02::1",
            "64:ff9b::a00:1",
            "64:ff9b::808:808",
            "2002:c000:0204::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "::10.1.2.3",
        ];
        for ip in private {
            assert!(is_private(ip.parse().unwrap()), "{ip} should be private");
        }
        let public = [
            "1.1.1.1",
            "8.8.8.8",
            "100.63.255.255",
            "100.128.0.0",
            "172.15.255.255",
            "172.32.0.0",
            "192.0.1.1",
            "192.169.0.1",
            "198.17.255.255",
            "198.20.0.0",
            "223.255.255.255",
            "2001:4860:4860::8888",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
            "::8.8.8.8",
            "fec0::1",
        ];
        for ip in public {
            assert!(!is_private(ip.parse().unwrap()), "{ip} should be public");
        }
    }
}
