//! `upstream.url` read once, at validation, into the parts every forwarded request needs.

use http::uri::{Authority, PathAndQuery, Scheme};
use http::Uri;

/// Where the upstream lives: scheme, host and port, and an optional path prefix.
#[derive(Debug, Clone)]
pub struct UpstreamBase {
    scheme: Scheme,
    authority: Authority,
    /// Prefix prepended to every forwarded path, without a trailing slash (usually empty).
    prefix: String,
}

impl UpstreamBase {
    /// Accepts `http://host:port[/prefix]` and `https://host[:port][/prefix]` (TLS, the server's
    /// certificate verified).
    pub fn parse(url: &str) -> Result<Self, String> {
        let uri: Uri = url
            .parse()
            .map_err(|error| format!("{url:?} is not a URL: {error}"))?;
        let scheme = uri
            .scheme()
            .cloned()
            .ok_or_else(|| format!("{url:?} has no scheme; write http://host:port"))?;
        if scheme != Scheme::HTTP && scheme != Scheme::HTTPS {
            return Err(format!("{url:?}: the upstream must be http:// or https://"));
        }
        let authority = uri
            .authority()
            .cloned()
            .ok_or_else(|| format!("{url:?} has no host"))?;
        if uri.query().is_some() {
            return Err(format!("{url:?} must not have a query string"));
        }
        let prefix = uri.path().trim_end_matches('/').to_owned();
        Ok(Self {
            scheme,
            authority,
            prefix,
        })
    }

    /// The upstream URI for a request that came in for `path_and_query`.
    pub fn uri_for(&self, path_and_query: Option<&PathAndQuery>) -> Result<Uri, http::Error> {
        Uri::builder()
            .scheme(self.scheme.clone())
            .authority(self.authority.clone())
            .path_and_query(self.path_for(path_and_query)?)
            .build()
    }

    /// [`UpstreamBase::uri_for`] in origin form (`/path?query`): what an HTTP/1 request to the
    /// upstream carries, the connection saying which server.
    pub fn origin_uri_for(
        &self,
        path_and_query: Option<&PathAndQuery>,
    ) -> Result<Uri, http::Error> {
        let mut parts = http::uri::Parts::default();
        parts.path_and_query = Some(self.path_for(path_and_query)?);
        Ok(Uri::from_parts(parts)?)
    }

    fn path_for(&self, path_and_query: Option<&PathAndQuery>) -> Result<PathAndQuery, http::Error> {
        Ok(match path_and_query {
            // Already parsed (and checked) by the server: shared, not parsed again.
            Some(path) if self.prefix.is_empty() => path.clone(),
            None if self.prefix.is_empty() => PathAndQuery::from_static("/"),
            tail => {
                let tail = tail.map(PathAndQuery::as_str).unwrap_or("/");
                PathAndQuery::try_from(format!("{}{tail}", self.prefix))?
            }
        })
    }

    pub fn authority(&self) -> &Authority {
        &self.authority
    }
}

impl std::fmt::Display for UpstreamBase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}{}", self.scheme, self.authority, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls() {
        let base = UpstreamBase::parse("http://127.0.0.1:9090").unwrap();
        let path = PathAndQuery::from_static("/back-office/orders?x=1");
        assert_eq!(
            base.uri_for(Some(&path)).unwrap().to_string(),
            "http://127.0.0.1:9090/back-office/orders?x=1"
        );
        assert_eq!(
            base.uri_for(None).unwrap().to_string(),
            "http://127.0.0.1:9090/"
        );
        let base = UpstreamBase::parse("http://dw.internal/prefix/").unwrap();
        assert_eq!(
            base.uri_for(Some(&path)).unwrap().to_string(),
            "http://dw.internal/prefix/back-office/orders?x=1"
        );
        assert_eq!(
            base.origin_uri_for(Some(&path)).unwrap().to_string(),
            "/prefix/back-office/orders?x=1"
        );
        assert_eq!(base.origin_uri_for(None).unwrap().to_string(), "/prefix/");
        assert!(UpstreamBase::parse("https://bo-api.drivewealth.io").is_ok());
        assert!(UpstreamBase::parse("ftp://bo-api.drivewealth.io").is_err());
        assert!(UpstreamBase::parse("127.0.0.1:9090").is_err());
        assert!(UpstreamBase::parse("not a url").is_err());
    }
}
