//! The little URL handling integrations need, without a URL crate: adding
//! query parameters, resolving a next page's relative URL (RFC 3986 §5.2),
//! and telling whether two URLs share an origin.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Everything but RFC 3986's unreserved characters: safe in any query.
const COMPONENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// `url` with `pairs` added to its query, each name and value
/// percent-encoded; a fragment stays last.
pub fn with_query<'a>(url: &str, pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> String {
    let (base, fragment) = match url.find('#') {
        Some(i) => url.split_at(i),
        None => (url, ""),
    };
    let mut out = base.to_owned();
    for (name, value) in pairs {
        if !out.contains('?') {
            out.push('?');
        } else if !out.ends_with(['?', '&']) {
            out.push('&');
        }
        out.extend(utf8_percent_encode(name, COMPONENT));
        out.push('=');
        out.extend(utf8_percent_encode(value, COMPONENT));
    }
    out.push_str(fragment);
    out
}

/// A URL's parts, as far as resolving needs them.
struct Parts<'a> {
    scheme: &'a str,
    authority: &'a str,
    path: &'a str,
    query: Option<&'a str>,
}

fn split(url: &str) -> Option<Parts<'_>> {
    let url = url.split('#').next()?;
    let (scheme, rest) = url.split_once("://")?;
    if scheme.is_empty()
        || !scheme
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c))
    {
        return None;
    }
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, rest) = rest.split_at(end);
    let (path, query) = match rest.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (rest, None),
    };
    Some(Parts {
        scheme,
        authority,
        path,
        query,
    })
}

/// Resolves `reference` (absolute, `//host/x`, `/x`, `x`, `?q`) against
/// `base`; `None` when `base` is not an absolute URL.
pub fn resolve(base: &str, reference: &str) -> Option<String> {
    let reference = reference.trim();
    if split(reference).is_some() {
        return Some(reference.to_owned());
    }
    let base = split(base)?;
    let reference = reference.split('#').next().unwrap_or_default();
    if let Some(rest) = reference.strip_prefix("//") {
        return Some(format!("{}://{rest}", base.scheme));
    }
    let (ref_path, ref_query) = match reference.split_once('?') {
        Some((path, query)) => (path, Some(query)),
        None => (reference, None),
    };
    let (path, query) = if ref_path.is_empty() {
        (base.path.to_owned(), ref_query.or(base.query))
    } else if ref_path.starts_with('/') {
        (remove_dot_segments(ref_path), ref_query)
    } else {
        // Merge: the base path up to its last `/`, then the reference.
        let dir = match base.path.rfind('/') {
            Some(i) => &base.path[..=i],
            None => "/",
        };
        (remove_dot_segments(&format!("{dir}{ref_path}")), ref_query)
    };
    let mut out = format!("{}://{}{path}", base.scheme, base.authority);
    if let Some(query) = query {
        out.push('?');
        out.push_str(query);
    }
    Some(out)
}

/// RFC 3986 §5.2.4, for paths that start with `/`.
fn remove_dot_segments(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    let segments: Vec<&str> = path.split('/').skip(1).collect();
    for (i, segment) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *segment {
            "." => {
                if last {
                    out.push("");
                }
            }
            ".." => {
                out.pop();
                if last {
                    out.push("");
                }
            }
            s => out.push(s),
        }
    }
    format!("/{}", out.join("/"))
}

/// Scheme, host and port, with the scheme's default port filled in and
/// case ignored: a next page on another origin does not get our credentials.
pub fn origin(url: &str) -> Option<(String, String, u16)> {
    let parts = split(url)?;
    let scheme = parts.scheme.to_ascii_lowercase();
    // Credentials before `@` are not part of the origin.
    let host_port = parts.authority.rsplit('@').next()?;
    let (host, port) = match host_port.rsplit_once(':') {
        Some((host, port)) if !port.contains(']') => (host, port.parse().ok()?),
        _ => (
            host_port,
            match scheme.as_str() {
                "http" => 80,
                "https" => 443,
                _ => return None,
            },
        ),
    };
    Some((scheme, host.to_ascii_lowercase(), port))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_pairs_are_encoded_and_appended() {
        assert_eq!(
            with_query(
                "http://h/x",
                [
                    ("sysparm_query", "state=requested^ORDERBYx"),
                    ("a b", "c&d")
                ]
            ),
            "http://h/x?sysparm_query=state%3Drequested%5EORDERBYx&a%20b=c%26d"
        );
        assert_eq!(
            with_query("http://h/x?a=1", [("b", "2")]),
            "http://h/x?a=1&b=2"
        );
        assert_eq!(with_query("http://h/x?", [("b", "2")]), "http://h/x?b=2");
        assert_eq!(
            with_query("http://h/x#top", [("b", "é")]),
            "http://h/x?b=%C3%A9#top"
        );
        assert_eq!(with_query("http://h/x", []), "http://h/x");
    }

    #[test]
    fn relative_references_resolve_as_rfc3986_says() {
        let base = "https://acme.my.salesforce.com/services/data/v62.0/query?q=SELECT";
        let r = |reference| resolve(base, reference).unwrap();
        assert_eq!(
            r("/services/data/v62.0/query/01gRO0000016PIAYA2-2"),
            "https://acme.my.salesforce.com/services/data/v62.0/query/01gRO0000016PIAYA2-2"
        );
        assert_eq!(
            r("query/2"),
            "https://acme.my.salesforce.com/services/data/v62.0/query/2"
        );
        assert_eq!(
            r("../v61.0/x"),
            "https://acme.my.salesforce.com/services/data/v61.0/x"
        );
        assert_eq!(
            r("?page=2"),
            "https://acme.my.salesforce.com/services/data/v62.0/query?page=2"
        );
        assert_eq!(r("//other.example/x"), "https://other.example/x");
        assert_eq!(r("http://else.example/y?z=1"), "http://else.example/y?z=1");
        assert_eq!(resolve("not a url", "/x"), None);
    }

    #[test]
    fn origins_compare_scheme_host_and_port() {
        assert_eq!(
            origin("https://API.example.com/x"),
            origin("https://api.example.com:443/y?z")
        );
        assert_ne!(
            origin("https://api.example.com/x"),
            origin("http://api.example.com/x")
        );
        assert_ne!(
            origin("http://127.0.0.1:8080/"),
            origin("http://127.0.0.1:8081/")
        );
        assert_eq!(
            origin("http://user:pw@h:81/x"),
            Some(("http".into(), "h".into(), 81))
        );
        assert_eq!(
            origin("http://[::1]/"),
            Some(("http".into(), "[::1]".into(), 80))
        );
    }
}
