//! Reading the audit trail back: a time range and one customer, as JSON lines or CSV
//! (`omnigate audit export`, `GET /admin/audit`).
//!
//! JSON lines go out byte for byte as they were written (numbers in `change` stay exact); CSV
//! has one fixed column per field. A line that does not read (a torn last line after a crash) is
//! skipped and counted.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;

use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::line::ORDER_FIELDS;
use super::writer::day_of;

/// The CSV columns before the order's fields.
const CSV_LEADING: [&str; 3] = ["ts", "kind", "request"];
/// The CSV columns after the order's fields.
const CSV_TRAILING: [&str; 17] = [
    "Idempotency-Key",
    "code",
    "message",
    "orderId",
    "localId",
    "status",
    "upstreamCode",
    "upstreamMessage",
    "filledQuantity",
    "averagePrice",
    "fees",
    "credential",
    "method",
    "path",
    "reason",
    // An admin change's body, as JSON text, or its size when it was too large to keep.
    "change",
    "changeBytes",
];

/// The CSV columns, in order: every field a line may carry, the order's fields as the trail
/// keeps them ([`ORDER_FIELDS`]).
fn csv_columns() -> impl Iterator<Item = &'static str> {
    CSV_LEADING
        .into_iter()
        .chain(ORDER_FIELDS)
        .chain(CSV_TRAILING)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Jsonl,
    Csv,
}

impl Format {
    pub fn parse(text: &str) -> Option<Format> {
        match text {
            "jsonl" => Some(Format::Jsonl),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }
}

/// Which lines: `from` ≤ `ts` < `to`, and one customer's (its orders, fills and the admin
/// changes made to it).
#[derive(Clone, Debug, Default)]
pub struct Query {
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
    pub client_id: Option<String>,
    /// At most this many lines (oldest first).
    pub limit: Option<usize>,
}

#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    #[error("cannot read the audit trail in {0}: {1}")]
    Read(String, std::io::Error),
    #[error("cannot write: {0}")]
    Write(String),
}

/// What an export did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Exported {
    pub lines: usize,
    /// Lines that did not read as an audit entry.
    pub skipped: usize,
    /// When `limit` stopped the export: the `ts` of the next line it would have written (the
    /// `from` of the next page).
    pub next: Option<String>,
}

/// The fields a line is selected by.
#[derive(Deserialize)]
struct Key<'a> {
    #[serde(borrow)]
    ts: std::borrow::Cow<'a, str>,
    #[serde(rename = "clientID", default, borrow)]
    client_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    kind: Option<std::borrow::Cow<'a, str>>,
    #[serde(default, borrow)]
    path: Option<std::borrow::Cow<'a, str>>,
}

/// Writes the lines `query` selects from the audit files in `dir` to `out`, oldest first.
pub fn export(
    dir: &Path,
    query: &Query,
    format: Format,
    out: &mut impl Write,
) -> Result<Exported, QueryError> {
    let read_error = |error| QueryError::Read(dir.display().to_string(), error);
    let mut days: Vec<(chrono::NaiveDate, std::path::PathBuf)> = std::fs::read_dir(dir)
        .map_err(read_error)?
        .flatten()
        .filter_map(|item| {
            let day = day_of(item.file_name().to_str()?)?;
            Some((day, item.path()))
        })
        .filter(|(day, _)| {
            query.from.is_none_or(|from| *day >= from.date_naive())
                && query.to.is_none_or(|to| *day <= to.date_naive())
        })
        .collect();
    days.sort();
    // Streamed: six years of trail never has to fit in memory.
    let mut sink = match format {
        Format::Jsonl => Sink::Jsonl(out),
        Format::Csv => {
            let mut csv = csv::Writer::from_writer(out);
            csv.write_record(csv_columns())
                .map_err(|error| QueryError::Write(error.to_string()))?;
            Sink::Csv(Box::new(csv))
        }
    };
    let mut done = Exported::default();
    'files: for (_, path) in days {
        let file = std::fs::File::open(&path).map_err(read_error)?;
        for text in BufReader::new(file).lines() {
            let Ok(text) = text else {
                done.skipped += 1;
                continue;
            };
            match selects(query, &text) {
                None => done.skipped += 1,
                Some(None) => {}
                Some(Some(ts)) => {
                    if query.limit.is_some_and(|limit| done.lines >= limit) {
                        done.next = Some(ts);
                        break 'files;
                    }
                    done.lines += 1;
                    sink.write(&text)?;
                }
            }
        }
    }
    if let Sink::Csv(mut csv) = sink {
        csv.flush()
            .map_err(|error| QueryError::Write(error.to_string()))?;
    }
    Ok(done)
}

/// Where selected lines go.
enum Sink<'w, W: Write> {
    Jsonl(&'w mut W),
    Csv(Box<csv::Writer<&'w mut W>>),
}

impl<W: Write> Sink<'_, W> {
    fn write(&mut self, text: &str) -> Result<(), QueryError> {
        match self {
            Sink::Jsonl(out) => {
                writeln!(out, "{text}").map_err(|error| QueryError::Write(error.to_string()))
            }
            Sink::Csv(csv) => csv
                .write_record(csv_row(text))
                .map_err(|error| QueryError::Write(error.to_string())),
        }
    }
}

/// The line's `ts` when `query` selects it, `Some(None)` when it does not; `None` if it is not
/// an audit entry.
fn selects(query: &Query, text: &str) -> Option<Option<String>> {
    let key: Key<'_> = serde_json::from_str(text).ok()?;
    let ts = DateTime::parse_from_rfc3339(&key.ts)
        .ok()?
        .with_timezone(&Utc);
    let in_range = query.from.is_none_or(|from| ts >= from) && query.to.is_none_or(|to| ts < to);
    let theirs = match &query.client_id {
        None => true,
        Some(wanted) => {
            key.client_id.as_deref() == Some(wanted.as_str())
                || (key.kind.as_deref() == Some("admin")
                    && key
                        .path
                        .as_deref()
                        .is_some_and(|path| names_customer(path, wanted)))
        }
    };
    Some((in_range && theirs).then(|| key.ts.into_owned()))
}

/// An admin path about one customer: `/admin/customers/{id}…` or `/admin/limits/{id}`.
fn names_customer(path: &str, client_id: &str) -> bool {
    let Some(rest) = path.strip_prefix("/admin/") else {
        return false;
    };
    let mut segments = rest.split('/');
    matches!(
        (segments.next(), segments.next()),
        (Some("customers" | "limits"), Some(id)) if id == client_id
    )
}

/// One CSV row: each column's text (a string's contents, other JSON as written).
fn csv_row(text: &str) -> Vec<String> {
    let fields: BTreeMap<String, Box<RawValue>> = serde_json::from_str(text).unwrap_or_default();
    csv_columns()
        .map(|column| match fields.get(column) {
            None => String::new(),
            Some(raw) => neutralised(
                serde_json::from_str::<String>(raw.get()).unwrap_or_else(|_| raw.get().to_owned()),
            ),
        })
        .collect()
}

/// A cell a spreadsheet would run as a formula (`=…`, `+…`, `@…`, `-` not starting a number),
/// quoted with a leading `'`: the values come from clients, and a risk officer opens the file.
fn neutralised(cell: String) -> String {
    let mut chars = cell.chars();
    let formula = match chars.next() {
        Some('=' | '+' | '@' | '\t' | '\r') => true,
        Some('-') => !chars.next().is_some_and(|c| c.is_ascii_digit()),
        _ => false,
    };
    if formula {
        format!("'{cell}")
    } else {
        cell
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(dir: &Path, query: &Query) -> Vec<serde_json::Value> {
        let mut out = Vec::new();
        export(dir, query, Format::Jsonl, &mut out).unwrap();
        String::from_utf8(out)
            .unwrap()
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect()
    }

    #[test]
    fn selects_by_time_and_customer_and_skips_torn_lines() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("audit-2026-11-30.jsonl"),
            concat!(
                r#"{"ts":"2026-11-30T10:00:00Z","kind":"decision","clientID":"A1","code":"ACCEPTED"}"#,
                "\n",
                r#"{"ts":"2026-11-30T11:00:00Z","kind":"admin","path":"/admin/customers/A1/cash","reason":"r"}"#,
                "\n"
            ),
        )
        .unwrap();
        std::fs::write(
            dir.path().join("audit-2026-12-01.jsonl"),
            concat!(
                r#"{"ts":"2026-12-01T09:00:00Z","kind":"decision","clientID":"B2","code":"MARKET_CLOSED"}"#,
                "\n",
                r#"{"ts":"2026-12-01T09:00:01Z","kind":"fill","clientI"#
            ),
        )
        .unwrap();
        let all = lines(dir.path(), &Query::default());
        assert_eq!(all.len(), 3);
        let a1 = lines(
            dir.path(),
            &Query {
                client_id: Some("A1".to_owned()),
                ..Query::default()
            },
        );
        assert_eq!(a1.len(), 2, "{a1:?}");
        let late = lines(
            dir.path(),
            &Query {
                from: Some("2026-11-30T10:30:00Z".parse().unwrap()),
                to: Some("2026-12-01T09:00:00Z".parse().unwrap()),
                ..Query::default()
            },
        );
        assert_eq!(late.len(), 1);
        assert_eq!(late[0]["kind"], "admin");
        let mut csv = Vec::new();
        let done = export(dir.path(), &Query::default(), Format::Csv, &mut csv).unwrap();
        assert_eq!(
            done,
            Exported {
                lines: 3,
                skipped: 1,
                next: None
            }
        );
        let csv = String::from_utf8(csv).unwrap();
        assert!(csv.starts_with("ts,kind,request,clientID,"), "{csv}");
        assert!(csv.contains("2026-12-01T09:00:00Z,decision,,B2,"), "{csv}");
    }

    #[test]
    fn a_limit_says_where_the_next_page_starts() {
        let dir = tempfile::tempdir().unwrap();
        let text: String = (0..5)
            .map(|n| format!("{{\"ts\":\"2026-12-01T09:00:0{n}Z\",\"kind\":\"decision\"}}\n"))
            .collect();
        std::fs::write(dir.path().join("audit-2026-12-01.jsonl"), text).unwrap();
        let query = Query {
            limit: Some(2),
            ..Query::default()
        };
        let mut out = Vec::new();
        let done = export(dir.path(), &query, Format::Jsonl, &mut out).unwrap();
        assert_eq!(done.lines, 2);
        assert_eq!(done.next.as_deref(), Some("2026-12-01T09:00:02Z"));
        let all = Query {
            limit: Some(5),
            ..Query::default()
        };
        assert_eq!(
            export(dir.path(), &all, Format::Jsonl, &mut Vec::new())
                .unwrap()
                .next,
            None
        );
    }

    #[test]
    fn only_admin_lines_name_a_customer_by_path_and_formulas_are_quoted() {
        let refusal = r#"{"ts":"2026-12-01T09:00:00Z","kind":"refusal","method":"GET","path":"/x/customers/A1/"}"#;
        let change = r#"{"ts":"2026-12-01T09:00:00Z","kind":"admin","path":"/admin/limits/A1"}"#;
        let query = Query {
            client_id: Some("A1".to_owned()),
            ..Query::default()
        };
        assert_eq!(selects(&query, refusal), Some(None));
        assert!(matches!(selects(&query, change), Some(Some(_))));
        assert_eq!(neutralised("=HYPERLINK(1)".to_owned()), "'=HYPERLINK(1)");
        assert_eq!(neutralised("-12.50".to_owned()), "-12.50");
        assert_eq!(neutralised("-x".to_owned()), "'-x");
        assert_eq!(neutralised("AAPL".to_owned()), "AAPL");
    }
}
