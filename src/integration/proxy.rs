//! Which proxy a request goes through, from the environment, as curl reads
//! it: `https_proxy`/`HTTPS_PROXY` for `https://` URLs, `http_proxy`/
//! `HTTP_PROXY` for `http://` ones, `all_proxy`/`ALL_PROXY` for either when
//! its own is unset; the lowercase name first; an empty value is unset.
//!
//! `no_proxy`/`NO_PROXY` lists what goes direct, comma-separated: `*`
//! (everything), a host or domain (`example.com` and `.example.com` both
//! match example.com and its subdomains; `*.example.com` too), an IP
//! address, a CIDR block (`10.0.0.0/8`), any of them with `:port` to match
//! that port only. Loopback (`localhost`, `127.0.0.0/8`, `::1`) always goes
//! direct, as in Go: no proxy can reach this machine's loopback.
//!
//! ureq tunnels every proxied request through `CONNECT`, plain `http://`
//! included. A proxy URL may hold credentials: no error shows it.

use std::net::IpAddr;
use std::sync::OnceLock;

use ureq::Proxy;
use ureq::http::Uri;

/// The proxy settings of the process's environment, read once.
pub fn from_env() -> &'static Settings {
    static SETTINGS: OnceLock<Settings> = OnceLock::new();
    SETTINGS.get_or_init(|| Settings::from_vars(|name| std::env::var(name).ok()))
}

/// What the proxy variables say.
#[derive(Debug, Default)]
pub struct Settings {
    http: Option<Named>,
    https: Option<Named>,
    no_proxy: Vec<Exempt>,
}

/// A proxy, or why its variable cannot be used, with the variable's name.
#[derive(Debug)]
struct Named {
    variable: &'static str,
    proxy: Result<Proxy, ()>,
}

impl Settings {
    /// The settings from `var`, which reads one environment variable.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Settings {
        let first = |names: &[&'static str]| {
            names.iter().find_map(|name| {
                let value = var(name)?;
                let value = value.trim();
                (!value.is_empty()).then(|| Named {
                    variable: name,
                    proxy: Proxy::new(value).map_err(|_| ()),
                })
            })
        };
        let all = ["all_proxy", "ALL_PROXY"];
        let no_proxy = ["no_proxy", "NO_PROXY"]
            .iter()
            .find_map(|name| var(name))
            .unwrap_or_default();
        Settings {
            http: first(&["http_proxy", "HTTP_PROXY"]).or_else(|| first(&all)),
            https: first(&["https_proxy", "HTTPS_PROXY"]).or_else(|| first(&all)),
            no_proxy: no_proxy.split(',').filter_map(Exempt::parse).collect(),
        }
    }

    /// The proxy for `uri`, `None` to go direct; an error names the
    /// variable that is not a proxy URL (never its value).
    pub fn for_uri(&self, uri: &Uri) -> Result<Option<Proxy>, String> {
        let named = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("https") => &self.https,
            _ => &self.http,
        };
        let Some(named) = named else {
            return Ok(None);
        };
        let Some(host) = uri.host() else {
            return Ok(None);
        };
        let port = uri.port_u16().unwrap_or(match uri.scheme_str() {
            Some("https") => 443,
            _ => 80,
        });
        if is_loopback(host) || self.no_proxy.iter().any(|e| e.matches(host, port)) {
            return Ok(None);
        }
        match &named.proxy {
            Ok(proxy) => Ok(Some(proxy.clone())),
            Err(()) => Err(format!(
                "the environment variable {} is not a proxy URL (such as http://proxy.example.com:3128)",
                named.variable
            )),
        }
    }
}

/// `host` without the brackets of an IPv6 literal.
fn bare(host: &str) -> &str {
    host.trim_start_matches('[').trim_end_matches(']')
}

fn is_loopback(host: &str) -> bool {
    let host = bare(host);
    match host.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => {
            let host = host.trim_end_matches('.').to_ascii_lowercase();
            host == "localhost" || host.ends_with(".localhost")
        }
    }
}

/// One entry of `NO_PROXY`.
#[derive(Debug, PartialEq)]
enum Exempt {
    All,
    /// A host and its subdomains, lowercase, no leading dot.
    Domain(String, Option<u16>),
    /// An address, or a block of them.
    Network(IpAddr, u8, Option<u16>),
}

impl Exempt {
    fn parse(entry: &str) -> Option<Exempt> {
        let entry = entry.trim();
        if entry == "*" {
            return Some(Exempt::All);
        }
        // `host:port`, `[v6]:port`, `v4/bits`, `v6/bits`, a bare v6 address.
        let (host, port) = match entry.rsplit_once(':') {
            Some((host, port))
                if !host.is_empty()
                    && port.bytes().all(|b| b.is_ascii_digit())
                    && (!host.contains(':') || host.ends_with(']')) =>
            {
                (host, port.parse().ok())
            }
            _ => (entry, None),
        };
        let host = bare(host);
        let (addr, bits) = match host.split_once('/') {
            Some((addr, bits)) => (addr, Some(bits.parse::<u8>().ok()?)),
            None => (host, None),
        };
        if let Ok(ip) = addr.parse::<IpAddr>() {
            let max = if ip.is_ipv4() { 32 } else { 128 };
            let bits = bits.unwrap_or(max);
            return (bits <= max).then_some(Exempt::Network(ip, bits, port));
        }
        let domain = host
            .trim_start_matches('*')
            .trim_start_matches('.')
            .trim_end_matches('.')
            .to_ascii_lowercase();
        (!domain.is_empty() && bits.is_none()).then_some(Exempt::Domain(domain, port))
    }

    fn matches(&self, host: &str, port: u16) -> bool {
        let port_ok = |p: &Option<u16>| p.is_none_or(|p| p == port);
        match self {
            Exempt::All => true,
            Exempt::Domain(domain, p) => {
                let host = bare(host).trim_end_matches('.').to_ascii_lowercase();
                port_ok(p)
                    && (host == *domain
                        || host
                            .strip_suffix(domain.as_str())
                            .is_some_and(|sub| sub.ends_with('.')))
            }
            Exempt::Network(net, bits, p) => {
                port_ok(p)
                    && bare(host)
                        .parse::<IpAddr>()
                        .is_ok_and(|ip| in_network(ip, *net, *bits))
            }
        }
    }
}

fn in_network(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(vars: &[(&str, &str)]) -> Settings {
        let vars: Vec<(String, String)> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        Settings::from_vars(move |name| {
            vars.iter().find(|(k, _)| k == name).map(|(_, v)| v.clone())
        })
    }

    /// The proxy's `host:port` for `url`, `None` when direct.
    fn route(s: &Settings, url: &str) -> Option<String> {
        s.for_uri(&url.parse().unwrap())
            .unwrap()
            .map(|p| format!("{}:{}", p.host(), p.port()))
    }

    #[test]
    fn each_scheme_has_its_variable_and_all_proxy_fills_in() {
        let s = settings(&[
            ("HTTPS_PROXY", "http://secure-proxy:3128"),
            ("http_proxy", "plain-proxy:8080"),
        ]);
        assert_eq!(
            route(&s, "https://acme.service-now.com/api").as_deref(),
            Some("secure-proxy:3128")
        );
        assert_eq!(
            route(&s, "http://intranet.acme.com/api").as_deref(),
            Some("plain-proxy:8080")
        );

        let s = settings(&[("ALL_PROXY", "http://all:1"), ("https_proxy", "")]);
        assert_eq!(route(&s, "https://h/").as_deref(), Some("all:1"));
        assert_eq!(route(&s, "http://h/").as_deref(), Some("all:1"));

        // Lowercase wins, as in curl.
        let s = settings(&[
            ("https_proxy", "http://low:1"),
            ("HTTPS_PROXY", "http://up:2"),
        ]);
        assert_eq!(route(&s, "https://h/").as_deref(), Some("low:1"));

        assert_eq!(route(&settings(&[]), "https://h/"), None);
    }

    #[test]
    fn no_proxy_and_loopback_go_direct() {
        let s = settings(&[
            ("HTTPS_PROXY", "http://proxy:3128"),
            ("HTTP_PROXY", "http://proxy:3128"),
            (
                "NO_PROXY",
                " .corp.example, service-now.com ,10.0.0.0/8,192.168.1.7, api.other.test:8443, [fd00::1]",
            ),
        ]);
        for direct in [
            "https://corp.example/",
            "https://jira.corp.example/",
            "https://acme.service-now.com/",
            "https://SERVICE-NOW.COM./",
            "http://10.20.30.40/",
            "http://192.168.1.7:8080/",
            "https://api.other.test:8443/",
            "http://[fd00::1]/",
            // Loopback, listed or not.
            "http://127.0.0.1:9999/",
            "http://127.8.9.10/",
            "http://localhost:8080/",
            "http://[::1]:8080/",
        ] {
            assert_eq!(route(&s, direct), None, "{direct}");
        }
        for proxied in [
            "https://notcorp.example/",
            "https://evil-service-now.com/",
            "http://11.0.0.1/",
            "http://192.168.1.8/",
            "https://api.other.test/",
            "http://[fd00::2]/",
        ] {
            assert_eq!(
                route(&s, proxied).as_deref(),
                Some("proxy:3128"),
                "{proxied}"
            );
        }
        let all = settings(&[("https_proxy", "http://proxy:1"), ("no_proxy", "*")]);
        assert_eq!(route(&all, "https://anything/"), None);
    }

    #[test]
    fn a_bad_proxy_url_names_its_variable_not_its_value() {
        let s = settings(&[("HTTPS_PROXY", "http://user:s3cret@[bad")]);
        let err = s.for_uri(&"https://h/".parse().unwrap()).unwrap_err();
        assert!(err.contains("HTTPS_PROXY is not a proxy URL"), "{err}");
        assert!(!err.contains("s3cret"), "{err}");
        // A request that would not use it is not concerned.
        assert_eq!(route(&s, "http://h/"), None);
    }
}
