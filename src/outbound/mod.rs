//! Requests the server makes on someone's behalf (webhook deliveries, media URLs): who may make
//! the server reach which addresses.
//!
//! The trust model: whatever the global key's holder configures or asks for is trusted and may
//! reach any address. Whatever an instance token configures or asks for may not reach private,
//! loopback or link-local addresses ([`ranges::is_private`]) unless the operator lists the
//! target in `ZAPGATE_PRIVATE_TARGETS` (hosts, `host:port`, CIDRs, or `*` for all). The rule is
//! applied when a URL is given and again when it is used (a webhook remembers who set it), and
//! for names at connect time through [`GuardedResolver`], so a DNS answer that changes later
//! (rebinding) still cannot reach the internal network.
//!
//! This room decides and builds clients; it never tells a caller why a target was refused
//! beyond "refused" (the reason goes to the debug log), so it cannot be used as a port scanner.

pub mod ranges;

use std::net::IpAddr;
use std::sync::Arc;

pub use ranges::is_private;

/// Who configured or asked for an outbound request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Requester {
    /// The global key's holder (or the operator's own configuration): trusted.
    Global,
    /// An instance token: private targets only when listed.
    Token,
}

/// The safe reading, for what was stored before the field existed.
impl Default for Requester {
    fn default() -> Requester {
        Requester::Token
    }
}

impl Requester {
    /// The reading of a stored webhook or row that predates the field.
    pub fn token() -> Requester {
        Requester::Token
    }
}

/// A `ZAPGATE_PRIVATE_TARGETS` value that cannot be read.
#[derive(Debug, thiserror::Error)]
#[error(
    "ZAPGATE_PRIVATE_TARGETS: cannot read {0:?} (hosts, host:port, CIDRs like 10.0.0.0/8, or *)"
)]
pub struct BadTarget(String);

/// The private targets instance tokens may reach anyway, from `ZAPGATE_PRIVATE_TARGETS`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PrivateTargets {
    all: bool,
    /// Host names or IP literals (any port), lowercase.
    hosts: Vec<String>,
    /// `host:port` pairs, host lowercase.
    host_ports: Vec<(String, u16)>,
    /// Networks whose addresses are reachable.
    nets: Vec<(IpAddr, u8)>,
}

impl PrivateTargets {
    /// Everything reachable (`*`).
    pub fn all() -> PrivateTargets {
        PrivateTargets {
            all: true,
            ..Default::default()
        }
    }

    /// Parses a comma-separated list; empty entries are ignored.
    pub fn parse(list: &str) -> Result<PrivateTargets, BadTarget> {
        let mut t = PrivateTargets::default();
        for entry in list.split(',').map(str::trim).filter(|e| !e.is_empty()) {
            let bad = || BadTarget(entry.to_string());
            if entry == "*" {
                t.all = true;
            } else if let Some((net, len)) = entry.split_once('/') {
                let net: IpAddr = net.trim_matches(['[', ']']).parse().map_err(|_| bad())?;
                let len: u8 = len.parse().map_err(|_| bad())?;
                let max = if net.is_ipv4() { 32 } else { 128 };
                if len > max {
                    return Err(bad());
                }
                t.nets.push((net, len));
            } else if entry.parse::<IpAddr>().is_ok() {
                // A bare IPv6 literal (its colons are not a port).
                t.hosts.push(entry.to_ascii_lowercase());
            } else if let Some((host, port)) = split_host_port(entry) {
                let port: u16 = port.parse().map_err(|_| bad())?;
                if host.is_empty() {
                    return Err(bad());
                }
                t.host_ports.push((host.to_ascii_lowercase(), port));
            } else if valid_host(entry) {
                t.hosts
                    .push(entry.trim_matches(['[', ']']).to_ascii_lowercase());
            } else {
                return Err(bad());
            }
        }
        Ok(t)
    }

    /// Whether `host` (as written in a URL, brackets allowed) on `port` is listed by name,
    /// `host:port`, or (for IP literals) a listed network.
    pub fn allows_host(&self, host: &str, port: u16) -> bool {
        let host = host.trim_matches(['[', ']']).to_ascii_lowercase();
        self.all
            || self.hosts.contains(&host)
            || self
                .host_ports
                .iter()
                .any(|(h, p)| *h == host && *p == port)
            || host.parse::<IpAddr>().is_ok_and(|ip| self.allows_ip(ip))
    }

    /// Whether `ip` lies in a listed network.
    pub fn allows_ip(&self, ip: IpAddr) -> bool {
        self.all || self.nets.iter().any(|(net, len)| in_net(ip, *net, *len))
    }
}

/// `host:port` or `[v6]:port`.
fn split_host_port(entry: &str) -> Option<(&str, &str)> {
    if let Some(rest) = entry.strip_prefix('[') {
        let (host, port) = rest.split_once("]:")?;
        return Some((host, port));
    }
    entry.rsplit_once(':')
}

fn valid_host(h: &str) -> bool {
    !h.is_empty()
        && h.len() <= 253
        && h.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_')
}

fn in_net(ip: IpAddr, net: IpAddr, len: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
            u32::from(a) & mask == u32::from(n) & mask
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if len == 0 {
                0
            } else {
                u128::MAX << (128 - len)
            };
            u128::from(a) & mask == u128::from(n) & mask
        }
        // A v4-mapped address against a v4 network.
        (IpAddr::V6(a), IpAddr::V4(_)) => a
            .to_ipv4_mapped()
            .is_some_and(|v4| in_net(IpAddr::V4(v4), net, len)),
        _ => false,
    }
}

/// Why a target was refused; logged at debug, never shown to the caller.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    #[error("not an http(s) URL with a host")]
    NotHttp,
    #[error("{0} is a private address")]
    PrivateLiteral(IpAddr),
    #[error("{0} resolves to a private address")]
    PrivateName(String),
    #[error("{0} does not resolve")]
    Unresolvable(String),
}

/// Which client carries a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Trusted (the global key): any address, the environment's proxy, redirects followed.
    Open,
    /// A token's request to a target the operator listed: that target only (no redirects, no
    /// proxy).
    Listed,
    /// Any other token request: names go through [`GuardedResolver`], each redirect hop is
    /// judged like the first URL, no proxy.
    Guarded,
}

/// The rule, shared by the media fetcher, `/webhook/set` and the dispatcher.
#[derive(Debug, Clone)]
pub struct Outbound {
    targets: Arc<PrivateTargets>,
}

impl Outbound {
    pub fn new(targets: PrivateTargets) -> Outbound {
        Outbound {
            targets: Arc::new(targets),
        }
    }

    /// Decides without the network: refuses a private IP literal a token may not reach, and
    /// says which client must carry the request.
    pub fn route(&self, url: &str, who: Requester) -> Result<Route, Refused> {
        let u = reqwest::Url::parse(url).map_err(|_| Refused::NotHttp)?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(Refused::NotHttp);
        }
        let host = u.host_str().ok_or(Refused::NotHttp)?;
        let port = u.port_or_known_default().unwrap_or(80);
        // `*` leaves nothing to protect: redirects and proxies as for the global key.
        if who == Requester::Global || self.targets.all {
            return Ok(Route::Open);
        }
        if self.targets.allows_host(host, port) {
            return Ok(Route::Listed);
        }
        if let Ok(ip) = host.trim_matches(['[', ']']).parse::<IpAddr>()
            && is_private(ip)
        {
            return Err(Refused::PrivateLiteral(ip));
        }
        Ok(Route::Guarded)
    }

    /// [`Self::route`], then for a guarded name its current DNS answer: for `/webhook/set`, so
    /// a token holder hears at once that a target is refused (delivery checks again).
    pub async fn check_now(&self, url: &str, who: Requester) -> Result<Route, Refused> {
        let route = self.route(url, who)?;
        if route == Route::Guarded {
            let u = reqwest::Url::parse(url).map_err(|_| Refused::NotHttp)?;
            let host = u.host_str().ok_or(Refused::NotHttp)?.to_string();
            if host.parse::<IpAddr>().is_err() && !host.starts_with('[') {
                resolve_public(&self.targets, &host).await?;
            }
        }
        Ok(route)
    }

    /// A builder for the guarded client: names filtered by [`GuardedResolver`], a redirect
    /// followed only to a URL that would be guarded too (a hop to a private literal, or to a
    /// listed target, stops there), and no proxy from the environment (a proxy would resolve
    /// the name itself, out of the resolver's sight).
    pub fn guard(&self, builder: reqwest::ClientBuilder) -> reqwest::ClientBuilder {
        let rule = self.clone();
        let hops = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                attempt.error("too many redirects")
            } else if matches!(
                rule.route(attempt.url().as_str(), Requester::Token),
                Ok(Route::Guarded)
            ) {
                attempt.follow()
            } else {
                attempt.stop()
            }
        });
        builder
            .dns_resolver(Arc::new(GuardedResolver {
                targets: self.targets.clone(),
            }))
            .redirect(hops)
            .no_proxy()
    }
}

/// Redirect hops a guarded request follows.
const MAX_REDIRECTS: usize = 5;

/// The three clients of [`Route`], built from the same base settings, and the rule that picks
/// one per URL.
#[derive(Clone)]
pub struct Clients {
    outbound: Outbound,
    open: reqwest::Client,
    listed: reqwest::Client,
    guarded: reqwest::Client,
}

impl Clients {
    /// Fails when either client cannot be built (the server must not start without the
    /// guard: a default client would have neither the resolver nor the proxy rule).
    pub fn build(
        outbound: &Outbound,
        base: impl Fn() -> reqwest::ClientBuilder,
    ) -> Result<Clients, reqwest::Error> {
        Ok(Clients {
            outbound: outbound.clone(),
            open: base().build()?,
            listed: base()
                .redirect(reqwest::redirect::Policy::none())
                .no_proxy()
                .build()?,
            guarded: outbound.guard(base()).build()?,
        })
    }

    /// The client that may carry a request to `url` made or configured by `who`.
    pub fn for_url(&self, url: &str, who: Requester) -> Result<&reqwest::Client, Refused> {
        Ok(match self.outbound.route(url, who)? {
            Route::Open => &self.open,
            Route::Listed => &self.listed,
            Route::Guarded => &self.guarded,
        })
    }

    pub fn outbound(&self) -> &Outbound {
        &self.outbound
    }
}

/// The guarded client's resolver: a name with any private address that is not in a listed
/// network fails to connect.
pub struct GuardedResolver {
    targets: Arc<PrivateTargets>,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let host = name.as_str().to_string();
        let targets = self.targets.clone();
        Box::pin(async move {
            let addrs = resolve_public(&targets, &host)
                .await
                .map_err(|e| -> Box<dyn std::error::Error + Send + Sync> { Box::new(e) })?;
            Ok(Box::new(addrs.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

async fn resolve_public(
    targets: &PrivateTargets,
    host: &str,
) -> Result<Vec<std::net::SocketAddr>, Refused> {
    let addrs: Vec<std::net::SocketAddr> = tokio::net::lookup_host((host, 0))
        .await
        .map_err(|_| Refused::Unresolvable(host.to_string()))?
        .collect();
    if addrs.is_empty() {
        return Err(Refused::Unresolvable(host.to_string()));
    }
    if addrs
        .iter()
        .any(|a| is_private(a.ip()) && !targets.allows_ip(a.ip()))
    {
        return Err(Refused::PrivateName(host.to_string()));
    }
    Ok(addrs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_parse() {
        let t =
            PrivateTargets::parse("hooks.internal, 10.1.0.0/16,127.0.0.1:8080,[::1]:9, fd00::1")
                .unwrap();
        assert!(t.allows_host("HOOKS.internal", 443));
        assert!(t.allows_host("10.1.2.3", 80));
        assert!(!t.allows_host("10.2.0.1", 80));
        assert!(t.allows_host("127.0.0.1", 8080));
        assert!(!t.allows_host("127.0.0.1", 8081));
        assert!(t.allows_host("[::1]", 9));
        assert!(t.allows_host("[fd00::1]", 1));
        assert!(t.allows_ip("::ffff:10.1.9.9".parse().unwrap()));
        assert!(
            PrivateTargets::parse("*")
                .unwrap()
                .allows_host("10.0.0.1", 1)
        );
        assert_eq!(
            PrivateTargets::parse(" , ").unwrap(),
            PrivateTargets::default()
        );
        for bad in ["10.0.0.0/33", "a b", "host:port", "1.2.3.4/x"] {
            assert!(PrivateTargets::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn routes() {
        let o = Outbound::new(PrivateTargets::parse("127.0.0.1:9000").unwrap());
        let tok = Requester::Token;
        assert!(matches!(
            o.route("http://127.0.0.1:8000/x", tok),
            Err(Refused::PrivateLiteral(_))
        ));
        assert!(o.route("http://[::ffff:7f00:1]/x", tok).is_err());
        assert_eq!(
            o.route("http://127.0.0.1:9000/x", tok).unwrap(),
            Route::Listed
        );
        assert_eq!(
            o.route("http://127.0.0.1:8000/x", Requester::Global)
                .unwrap(),
            Route::Open
        );
        assert_eq!(
            o.route("https://example.com/x", tok).unwrap(),
            Route::Guarded
        );
        assert!(o.route("ftp://example.com/x", Requester::Global).is_err());
        let all = Outbound::new(PrivateTargets::all());
        assert_eq!(all.route("http://10.0.0.1/x", tok).unwrap(), Route::Open);
    }
}
