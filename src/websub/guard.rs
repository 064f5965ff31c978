//! Which addresses Herald's outbound requests may reach, and the HTTP client that enforces
//! it at every connection.
//!
//! A callback URL names a host a stranger chose; without care the hub becomes a way into
//! the operator's network (SSRF). By default a callback may only reach public unicast
//! addresses. Refused: loopback, unspecified, private (RFC 1918), shared (100.64/10),
//! link-local (169.254/16, which holds the cloud metadata address), broadcast, multicast,
//! documentation and benchmarking ranges, IPv6 unique-local (fc00::/7), link-local
//! (fe80::/10), site-local (fec0::/10), and IPv4-mapped forms of all of these. The
//! classification uses std's `IpAddr` methods where they are stable, octets otherwise.
//!
//! The check happens where the connection is made, not only at subscribe time: the client
//! resolves names through [`GuardedResolver`], which drops refused addresses (DNS
//! rebinding gets nothing), and IP-literal hosts (which skip the resolver) are checked by
//! [`check_url`] before every request. Redirects are never followed; proxies from the
//! environment are not used.

use std::io;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use thiserror::Error;

/// Why a URL may not be requested.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum GuardError {
    #[error("only http and https callbacks are accepted")]
    Scheme,
    #[error("the callback URL has no host")]
    NoHost,
    #[error("the callback resolves to {0}, an address this hub does not call (loopback, private, link-local or metadata)")]
    Disallowed(IpAddr),
    #[error("the callback host does not resolve: {0}")]
    Unresolvable(String),
}

/// Whether `ip` is a public unicast address a callback may have.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, ..] = ip.octets();
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        || a == 0 // "this network"
        || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
        || (a == 198 && (b == 18 || b == 19)) // benchmarking
        || a >= 240) // reserved
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        || ip.is_unique_local()
        || ip.is_unicast_link_local()
        || (first & 0xffc0) == 0xfec0 // site-local (deprecated)
        || first == 0x2001 && ip.segments()[1] == 0x0db8 // documentation
        || ip.to_ipv4().is_some_and(|v4| !is_public_v4(v4))) // IPv4-compatible
}

/// Whether `ip` may be called under this policy.
pub fn allowed(ip: IpAddr, allow_private: bool) -> bool {
    allow_private || is_public(ip)
}

/// Checks a URL before any request: http(s), a host, and an IP-literal host allowed.
pub fn check_url(url: &url::Url, allow_private: bool) -> Result<(), GuardError> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(GuardError::Scheme);
    }
    let ip = match url.host() {
        None => return Err(GuardError::NoHost),
        Some(url::Host::Domain(_)) => return Ok(()),
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
    };
    if allowed(ip, allow_private) {
        Ok(())
    } else {
        Err(GuardError::Disallowed(ip))
    }
}

/// [`check_url`], and for a name every address it resolves to (at subscribe time, so a
/// refused callback hears nothing at all). Bounded by `timeout`.
pub async fn check_resolves(
    url: &url::Url,
    allow_private: bool,
    timeout: Duration,
) -> Result<(), GuardError> {
    check_url(url, allow_private)?;
    let Some(url::Host::Domain(name)) = url.host() else {
        return Ok(());
    };
    let port = url.port_or_known_default().unwrap_or(80);
    let lookup = tokio::net::lookup_host((name, port));
    let addrs: Vec<SocketAddr> = match tokio::time::timeout(timeout, lookup).await {
        Ok(Ok(addrs)) => addrs.collect(),
        Ok(Err(err)) => return Err(GuardError::Unresolvable(err.to_string())),
        Err(_) => return Err(GuardError::Unresolvable("timed out".into())),
    };
    if addrs.is_empty() {
        return Err(GuardError::Unresolvable("no addresses".into()));
    }
    match addrs.iter().find(|a| !allowed(a.ip(), allow_private)) {
        Some(bad) => Err(GuardError::Disallowed(bad.ip())),
        None => Ok(()),
    }
}

/// Resolves names for the client and keeps only the addresses the policy allows: the check
/// at every connection.
#[derive(Debug, Clone, Copy)]
pub struct GuardedResolver {
    pub allow_private: bool,
}

impl reqwest::dns::Resolve for GuardedResolver {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let allow_private = self.allow_private;
        Box::pin(async move {
            let addrs = tokio::net::lookup_host((name.as_str(), 0)).await?;
            let kept: Vec<SocketAddr> = addrs.filter(|a| allowed(a.ip(), allow_private)).collect();
            if kept.is_empty() {
                let err: Box<dyn std::error::Error + Send + Sync> = Box::new(io::Error::new(
                    io::ErrorKind::PermissionDenied,
                    format!("{}: no address this hub may call", name.as_str()),
                ));
                return Err(err);
            }
            Ok(Box::new(kept.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

/// The outbound client: guarded resolver (unless `guarded` is false, for the operator's own
/// hubs), no redirects, no proxies, connect and total timeouts.
/// `idle_per_host`: connections kept open per callback host between deliveries (readers
/// such as Feedly host many subscribers' callbacks on one host).
pub fn client(
    allow_private: bool,
    guarded: bool,
    timeout: Duration,
    idle_per_host: usize,
) -> reqwest::Client {
    let mut builder = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .connect_timeout(timeout.min(Duration::from_secs(5)))
        .timeout(timeout)
        .pool_idle_timeout(Duration::from_secs(30))
        .pool_max_idle_per_host(idle_per_host)
        .user_agent(concat!(
            "Herald/",
            env!("CARGO_PKG_VERSION"),
            " (WebSub hub)"
        ));
    if guarded {
        builder = builder.dns_resolver(std::sync::Arc::new(GuardedResolver { allow_private }));
    }
    builder
        .build()
        .expect("a client with rustls and no custom TLS builds")
}

/// Whether a failed request was refused by the sandbox (systemd's `IPAddressDeny=` makes
/// `connect` fail with EPERM): logged once with the way out.
pub fn warn_if_sandboxed(error: &reqwest::Error) {
    static WARNED: AtomicBool = AtomicBool::new(false);
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if matches!(io.raw_os_error(), Some(libc::EPERM) | Some(libc::EACCES))
                && !WARNED.swap(true, Ordering::Relaxed)
            {
                tracing::warn!(%error, "WebSub: outbound connections are not permitted (EPERM). Under systemd the shipped unit allows only localhost (IPAddressDeny=any); to push, add a drop-in: `systemctl edit herald` with [Service] IPAddressAllow=any (see README, \"Push (WebSub)\")");
                return;
            }
        }
        source = err.source();
    }
}

/// Whether an error came from the guard (a refused address), for the metrics.
pub fn is_refusal(error: &reqwest::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(err) = source {
        if let Some(io) = err.downcast_ref::<io::Error>() {
            if io.kind() == io::ErrorKind::PermissionDenied && io.raw_os_error().is_none() {
                return true;
            }
        }
        source = err.source();
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    // Only loopback literals appear here (the project's rule for tests); every other range
    // is classified by std's own `IpAddr` methods, which `is_public` calls.
    #[test]
    fn loopback_is_refused_unless_private_callbacks_are_allowed() {
        let v4 = IpAddr::V4(Ipv4Addr::LOCALHOST);
        let v6 = IpAddr::V6(Ipv6Addr::LOCALHOST);
        let mapped = IpAddr::V6(Ipv4Addr::LOCALHOST.to_ipv6_mapped());
        for ip in [v4, v6, mapped] {
            assert!(!is_public(ip), "{ip}");
            assert!(!allowed(ip, false));
            assert!(allowed(ip, true));
        }
        assert!(!is_public(IpAddr::V4(Ipv4Addr::UNSPECIFIED)));
        assert!(!is_public(IpAddr::V6(Ipv6Addr::UNSPECIFIED)));
    }

    #[test]
    fn urls_need_http_a_host_and_an_allowed_literal() {
        let url = |s: &str| url::Url::parse(s).unwrap();
        assert_eq!(
            check_url(&url("ftp://127.0.0.1/x"), true),
            Err(GuardError::Scheme)
        );
        assert_eq!(
            check_url(&url("http://127.0.0.1:9/cb"), false),
            Err(GuardError::Disallowed(IpAddr::V4(Ipv4Addr::LOCALHOST)))
        );
        assert!(matches!(
            check_url(&url("http://[::1]:9/cb"), false),
            Err(GuardError::Disallowed(_))
        ));
        // The URL parser normalises other spellings of loopback to the same address.
        assert!(check_url(&url("http://2130706433/cb"), false).is_err());
        assert!(check_url(&url("http://0x7f.1/cb"), false).is_err());
        assert!(check_url(&url("http://127.0.0.1:9/cb"), true).is_ok());
    }

    #[tokio::test]
    async fn a_name_for_loopback_is_refused_at_subscribe_time_and_by_the_resolver() {
        let url = url::Url::parse("http://localhost:9/cb").unwrap();
        let err = check_resolves(&url, false, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(
            matches!(err, GuardError::Disallowed(ip) if ip.is_loopback()),
            "{err}"
        );
        assert!(check_resolves(&url, true, Duration::from_secs(5))
            .await
            .is_ok());
        use reqwest::dns::Resolve as _;
        let name = || "localhost".parse::<reqwest::dns::Name>().unwrap();
        assert!(GuardedResolver {
            allow_private: false
        }
        .resolve(name())
        .await
        .is_err());
        let kept: Vec<SocketAddr> = GuardedResolver {
            allow_private: true,
        }
        .resolve(name())
        .await
        .unwrap()
        .collect();
        assert!(kept.iter().all(|a| a.ip().is_loopback()) && !kept.is_empty());
    }
}
