//! `GET /admin/audit?from=&to=&clientID=&limit=&format=`: the audit trail (SPEC §11.1), oldest
//! first, as JSON lines (or CSV); `from` is inclusive, `to` exclusive. An answer cut by `limit`
//! names where the next page starts in `x-omnigate-audit-next-from`.

use chrono::{DateTime, Utc};
use http::StatusCode;

use super::admin::{bad_request, Admin, Answer};
use super::respond;
use crate::audit::{self, Format, Query};

/// On an answer `limit` cut short: the `ts` of the first line left out.
pub const NEXT_FROM_HEADER: &str = "x-omnigate-audit-next-from";

/// Lines one call answers when `limit` is not given, and at most.
const LIMIT_DEFAULT: usize = 1000;
const LIMIT_MAX: usize = 100_000;

impl Admin {
    pub(super) async fn audit_lines(&self, query: Option<&str>) -> Answer {
        let (query, format) = match read_query(query.unwrap_or("")) {
            Ok(read) => read,
            Err(message) => return bad_request(&message),
        };
        let dir = self.audit_dir.clone();
        let read = tokio::task::spawn_blocking(move || {
            let mut out = Vec::new();
            audit::export(&dir, &query, format, &mut out).map(|done| (out, done.next))
        })
        .await;
        match read {
            Ok(Ok((out, next))) => {
                let mut response = respond::json(StatusCode::OK, out);
                let content_type = match format {
                    Format::Jsonl => "application/x-ndjson",
                    Format::Csv => "text/csv; charset=utf-8",
                };
                response.headers_mut().insert(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static(content_type),
                );
                // `limit` cut the answer: where the next page starts (its `from`).
                if let Some(value) = next.and_then(|ts| http::HeaderValue::from_str(&ts).ok()) {
                    response.headers_mut().insert(NEXT_FROM_HEADER, value);
                }
                response
            }
            Ok(Err(error)) => respond::error_body(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                &error.to_string(),
            ),
            Err(error) => respond::error_body(
                StatusCode::INTERNAL_SERVER_ERROR,
                "INTERNAL",
                &error.to_string(),
            ),
        }
    }
}

/// The parameters, each at most once; nothing else is taken.
fn read_query(text: &str) -> Result<(Query, Format), String> {
    let mut query = Query {
        limit: Some(LIMIT_DEFAULT),
        ..Query::default()
    };
    let mut format = Format::Jsonl;
    let mut seen = Vec::new();
    for pair in text.split('&').filter(|pair| !pair.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        if seen.contains(&name) {
            return Err(format!(
                "parameter {} given twice",
                crate::reject::clip(name)
            ));
        }
        seen.push(name);
        let value = percent_decoded(value)
            .ok_or_else(|| format!("parameter {name} is not percent-encoded text"))?;
        match name {
            "from" => query.from = Some(instant(name, &value)?),
            "to" => query.to = Some(instant(name, &value)?),
            "clientID" => query.client_id = Some(value),
            "limit" => match value.parse::<usize>() {
                Ok(limit) if (1..=LIMIT_MAX).contains(&limit) => query.limit = Some(limit),
                _ => return Err(format!("limit must be 1 to {LIMIT_MAX}")),
            },
            "format" => {
                format = Format::parse(&value).ok_or("format must be jsonl or csv".to_owned())?
            }
            _ => return Err(format!("unknown parameter {:?}", crate::reject::clip(name))),
        }
    }
    if let (Some(from), Some(to)) = (query.from, query.to) {
        if from > to {
            return Err(format!("from ({from}) is after to ({to})"));
        }
    }
    Ok((query, format))
}

fn instant(name: &str, value: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(value)
        .map(|at| at.with_timezone(&Utc))
        .map_err(|_| {
            format!(
                "{name} must be an RFC 3339 time such as 2026-12-01T14:30:00Z, not {:?}",
                crate::reject::clip(value)
            )
        })
}

/// `%XX` escapes decoded (a `+` in an RFC 3339 offset arrives as `%2B`); `None` if not UTF-8.
fn percent_decoded(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = std::str::from_utf8(bytes.get(index + 1..index + 3)?).ok()?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_each_parameter_once() {
        let (query, format) =
            read_query("from=2026-12-01T14:30:00%2B01:00&clientID=A1&limit=5&format=csv").unwrap();
        assert_eq!(
            query.from.unwrap().to_rfc3339(),
            "2026-12-01T13:30:00+00:00"
        );
        assert_eq!(query.client_id.as_deref(), Some("A1"));
        assert_eq!(query.limit, Some(5));
        assert_eq!(format, Format::Csv);
        assert!(read_query("limit=1&limit=2").is_err());
        assert!(read_query("limit=0").is_err());
        assert!(read_query("from=yesterday").is_err());
        assert!(read_query("color=red").is_err());
        assert!(read_query("clientID=%zz").is_err());
        assert!(read_query("from=2026-12-02T00:00:00Z&to=2026-12-01T00:00:00Z").is_err());
    }
}
