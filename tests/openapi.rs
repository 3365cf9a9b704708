//! `GET /admin/openapi.json` (SPEC §7): the served document is `src/http/openapi.json` and needs
//! no token; it names exactly the routes the admin router serves (read from the router's source,
//! both ways), each of which answers on a running gateway as documented; every rejection code
//! sits in the order API's `errorCode` enum under its HTTP status; and it is valid OpenAPI 3.0
//! by `openapi-spec-validator`.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;

use common::{config, send, Gateway, TempDir};
use omnigate::reject::RejectCode;
use serde_json::Value;

/// The document as kept in the repository.
const DOCUMENT_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/openapi.json");
/// The admin router, whose route arms the document must match.
const ADMIN_SOURCE_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/http/admin.rs");

/// Served by `Admin::handle` and `Admin::route` before the route table is consulted.
const SERVED_BEFORE_ROUTING: [(&str, &str); 3] = [
    ("GET", "/admin/dashboard"),
    ("GET", "/admin/openapi.json"),
    ("GET", "/metrics"),
];

/// The codes omnigate answers itself for infrastructure failures, with SPEC §3.1's statuses.
const INFRASTRUCTURE_CODES: [(&str, u16); 4] = [
    ("UPSTREAM_UNAVAILABLE", 502),
    ("UPSTREAM_TIMEOUT", 504),
    ("STORAGE_UNAVAILABLE", 503),
    ("NOT_LEADER", 503),
];

const METHODS: [&str; 8] = [
    "get", "put", "post", "delete", "patch", "head", "options", "trace",
];

/// A (method, path template) pair with every parameter written `{}`.
type Route = (String, String);

fn document() -> Value {
    let text = std::fs::read_to_string(DOCUMENT_PATH).expect("read src/http/openapi.json");
    serde_json::from_str(&text).expect("src/http/openapi.json is JSON")
}

/// `/admin/omni/{accountNo}/cash` → `/admin/omni/{}/cash`.
fn normalised(template: &str) -> String {
    template
        .split('/')
        .map(|segment| {
            if segment.starts_with('{') && segment.ends_with('}') {
                "{}"
            } else {
                segment
            }
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn is_admin_path(path: &str) -> bool {
    path.starts_with("/admin/") || path == "/metrics"
}

/// Every operation of the document on the admin listener: (route, path template, operation).
fn documented_admin_operations(document: &Value) -> Vec<(Route, String, Value)> {
    let paths = document["paths"].as_object().expect("paths");
    let mut operations = Vec::new();
    for (path, item) in paths.iter().filter(|(path, _)| is_admin_path(path)) {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                let route = (method.to_ascii_uppercase(), normalised(path));
                operations.push((route, path.clone(), operation.clone()));
            }
        }
    }
    operations
}

/// The route arms of `Admin::route`'s `match (&method, segments.as_slice())`, such as
/// `(&Method::POST, ["omni", account_no, "cash"])` → `("POST", "/admin/omni/{}/cash")`.
fn router_routes(source: &str) -> BTreeSet<Route> {
    let start = source
        .find("match (&method, segments.as_slice())")
        .expect("src/http/admin.rs no longer routes with `match (&method, segments.as_slice())`: update this test's reader of the route table");
    let table = &source[start..];
    let end = table
        .find("_ => not_found(")
        .expect("the route table no longer ends with `_ => not_found(…)`: update this test's reader of the route table");
    let table = &table[..end];
    let mut routes = BTreeSet::new();
    for (at, _) in table.match_indices("(&Method::") {
        let rest = &table[at + "(&Method::".len()..];
        let method_end = rest.find(',').expect("a method, then a comma");
        let method = rest[..method_end].trim();
        let rest = rest[method_end + 1..].trim_start();
        let Some(rest) = rest.strip_prefix('[') else {
            panic!("a route arm for {method} whose path is not a slice pattern: {rest:.60}");
        };
        let pattern = &rest[..rest.find(']').expect("a closing ]")];
        let segments: Vec<String> = pattern
            .split(',')
            .map(str::trim)
            .filter(|segment| !segment.is_empty())
            .map(|segment| {
                if let Some(literal) = segment
                    .strip_prefix('"')
                    .and_then(|segment| segment.strip_suffix('"'))
                {
                    literal.to_owned()
                } else if segment
                    .bytes()
                    .all(|byte| byte.is_ascii_lowercase() || byte == b'_' || byte.is_ascii_digit())
                {
                    "{}".to_owned()
                } else {
                    panic!("cannot read the route arm segment {segment:?} of [{pattern}]")
                }
            })
            .collect();
        routes.insert((method.to_owned(), format!("/admin/{}", segments.join("/"))));
    }
    assert!(
        !routes.is_empty(),
        "no route arms found in src/http/admin.rs"
    );
    routes
}

/// `value`, or what its `$ref` points at.
fn resolved<'a>(document: &'a Value, value: &'a Value) -> &'a Value {
    match value.get("$ref").and_then(Value::as_str) {
        Some(reference) => {
            let pointer = reference
                .strip_prefix('#')
                .unwrap_or_else(|| panic!("{reference} is not a local reference"));
            let target = document
                .pointer(pointer)
                .unwrap_or_else(|| panic!("{reference} points at nothing"));
            resolved(document, target)
        }
        None => value,
    }
}

/// Every value a schema's `errorCode` may take by an `enum`, through `$ref`, `allOf`, `anyOf`
/// and `oneOf`.
fn error_codes(document: &Value, schema: &Value, codes: &mut BTreeSet<String>) {
    let schema = resolved(document, schema);
    if let Some(values) = schema
        .pointer("/properties/errorCode")
        .map(|code| resolved(document, code))
        .and_then(|code| code.get("enum"))
        .and_then(Value::as_array)
    {
        codes.extend(values.iter().filter_map(Value::as_str).map(str::to_owned));
    }
    for combinator in ["allOf", "anyOf", "oneOf"] {
        for part in schema
            .get(combinator)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            error_codes(document, part, codes);
        }
    }
}

/// A concrete path for a template: each parameter replaced by a value the test gateway knows.
fn concrete(template: &str) -> String {
    template
        .split('/')
        .map(|segment| match segment {
            "{clientID}" => "123456789",
            "{symbol}" => "AAPL",
            "{accountNo}" => "DWOM000001",
            "{localId}" => "local-1",
            segment if segment.starts_with('{') => "1",
            segment => segment,
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[test]
fn served_document_is_the_file_and_needs_no_token() {
    let gateway = Gateway::start(&config("", ""));
    let served = send(gateway.admin, "GET", "/admin/openapi.json", &[], b"");
    assert_eq!(served.status, 200, "{}", served.text());
    assert_eq!(served.header("content-type"), Some("application/json"));
    let file = std::fs::read(DOCUMENT_PATH).expect("read src/http/openapi.json");
    assert!(
        served.body == file,
        "the served document is not src/http/openapi.json"
    );
    // The contrast: a call that holds data does need the token.
    let health = send(gateway.admin, "GET", "/admin/health", &[], b"");
    assert_eq!(health.status, 401, "{}", health.text());
}

#[test]
fn document_and_router_name_the_same_admin_routes() {
    let source = std::fs::read_to_string(ADMIN_SOURCE_PATH).expect("read src/http/admin.rs");
    let mut served = router_routes(&source);
    for (method, path) in SERVED_BEFORE_ROUTING {
        assert!(
            source.contains(&format!("\"{path}\"")),
            "{method} {path} is listed as served before routing, but src/http/admin.rs no longer names it"
        );
        served.insert((method.to_owned(), path.to_owned()));
    }
    let documented: BTreeSet<Route> = documented_admin_operations(&document())
        .into_iter()
        .map(|(route, _, _)| route)
        .collect();
    let undocumented: Vec<String> = served
        .difference(&documented)
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    let unserved: Vec<String> = documented
        .difference(&served)
        .map(|(method, path)| format!("{method} {path}"))
        .collect();
    assert!(
        undocumented.is_empty() && unserved.is_empty(),
        "the admin router and src/http/openapi.json disagree:\n  served, not documented: {undocumented:?}\n  documented, not served: {unserved:?}"
    );
}

#[test]
fn every_documented_admin_route_answers_as_documented() {
    let gateway = Gateway::start(&config("", "[clock]\nadjustable = true\n"));
    let document = document();
    let operations = documented_admin_operations(&document);
    assert!(
        operations.len() > 30,
        "only {} admin operations documented",
        operations.len()
    );
    let mut problems = Vec::new();
    for ((method, _), template, operation) in &operations {
        let path = concrete(template);
        // Every write gets `{}`: it fails validation, or (the kill switch, a reload, the
        // settlement roll) changes nothing a later call depends on.
        let body = if method == "GET" { "" } else { "{}" };
        let answer = gateway.admin(method, &path, body);
        let call = format!("{method} {path}");
        let fallback = answer.status == 404
            && serde_json::from_slice::<Value>(&answer.body).is_ok_and(|body| {
                body["message"]
                    .as_str()
                    .is_some_and(|message| message.starts_with("no admin call"))
            });
        if fallback {
            problems.push(format!(
                "{call}: the router's fallback 404: {}",
                answer.text()
            ));
            continue;
        }
        if method == "GET" && answer.status != 200 {
            problems.push(format!("{call}: {} {}", answer.status, answer.text()));
        }
        let status = answer.status.to_string();
        let Some(documented) = operation["responses"]
            .get(&status)
            .or_else(|| operation["responses"].get("default"))
        else {
            problems.push(format!(
                "{call}: answered {status}, which is not documented: {}",
                answer.text()
            ));
            continue;
        };
        let documented = resolved(&document, documented);
        for (name, _) in &answer.headers {
            let ours = name.starts_with("x-omnigate-") || name == "dw-request-id";
            if ours && documented.pointer(&format!("/headers/{name}")).is_none() {
                problems.push(format!(
                    "{call}: answered {status} with {name}, which is not documented there"
                ));
            }
        }
        if let Some(content) = documented.get("content").and_then(Value::as_object) {
            let media_type = answer
                .header("content-type")
                .unwrap_or("")
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_owned();
            if !content.contains_key(&media_type) {
                problems.push(format!(
                    "{call}: answered {status} as {media_type:?}; documented as {:?}",
                    content.keys().collect::<Vec<_>>()
                ));
            }
        }
        // The document's security says which calls need the token.
        let needs_token = operation
            .get("security")
            .or_else(|| document.get("security"))
            .and_then(Value::as_array)
            .is_none_or(|requirements| !requirements.is_empty());
        let anonymous = send(gateway.admin, method, &path, &[], body.as_bytes());
        if needs_token != (anonymous.status == 401) {
            problems.push(format!(
                "{call} without a token answered {} but is documented as {}",
                anonymous.status,
                if needs_token {
                    "needing one"
                } else {
                    "needing none"
                }
            ));
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    // Nothing above left the gateway in another state.
    let kill_switch = gateway.admin("GET", "/admin/kill-switch", "").json();
    assert_eq!(kill_switch["global"], false);
    assert_eq!(gateway.customer("123456789")["clientID"], "123456789");
}

#[test]
fn every_rejection_code_is_documented_under_its_status() {
    let document = document();
    let mut statuses_of: BTreeMap<String, BTreeSet<u16>> = BTreeMap::new();
    let paths = document["paths"].as_object().expect("paths");
    let order_paths: Vec<&String> = paths.keys().filter(|path| !is_admin_path(path)).collect();
    assert_eq!(
        order_paths,
        [
            "/back-office/orders",
            "/back-office/orders/byOrderNo/{orderNo}",
            "/back-office/orders/{id}"
        ],
        "the order API's paths"
    );
    for path in order_paths {
        for method in METHODS {
            let Some(operation) = paths[path].get(method) else {
                continue;
            };
            let responses = operation["responses"].as_object().expect("responses");
            for (status, answer) in responses {
                let Ok(status) = status.parse::<u16>() else {
                    continue; // `default`: DriveWealth's own answers
                };
                let answer = resolved(&document, answer);
                for media in answer
                    .get("content")
                    .and_then(Value::as_object)
                    .into_iter()
                    .flat_map(|content| content.values())
                {
                    let mut codes = BTreeSet::new();
                    error_codes(&document, &media["schema"], &mut codes);
                    for code in codes {
                        statuses_of.entry(code).or_default().insert(status);
                    }
                }
            }
        }
    }
    let expected = RejectCode::ALL
        .iter()
        .map(|code| (code.as_str(), code.http_status()))
        .chain(INFRASTRUCTURE_CODES);
    let mut problems = Vec::new();
    for (code, status) in expected {
        // SPEC §3.1: an oversized body may be 413; a body that does not arrive in time is 408.
        let also = if code == "INVALID_ORDER" {
            &[408, 413][..]
        } else {
            &[]
        };
        match statuses_of.get(code) {
            None => problems.push(format!("{code} is in no errorCode enum of the order API")),
            Some(statuses) if !statuses.contains(&status) => problems.push(format!(
                "{code} is documented under {statuses:?}, not {status}"
            )),
            Some(statuses) => {
                let wrong: Vec<&u16> = statuses
                    .iter()
                    .filter(|other| **other != status && !also.contains(other))
                    .collect();
                if !wrong.is_empty() {
                    problems.push(format!(
                        "{code} ({status}) is also documented under {wrong:?}"
                    ));
                }
            }
        }
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn document_is_valid_openapi_3_0() {
    let dir = TempDir::new("openapi");
    let text = std::fs::read_to_string(DOCUMENT_PATH).expect("read src/http/openapi.json");
    let file = dir.file("openapi.json", &text);
    let install = "pip install openapi-spec-validator (as .ci/run does)";
    let output = Command::new("python3")
        .args(["-m", "openapi_spec_validator", "--schema", "3.0"])
        .arg(&file)
        .output()
        .unwrap_or_else(|error| panic!("cannot run python3 ({error}): install it, then {install}"));
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        !said.contains("No module named openapi_spec_validator"),
        "openapi-spec-validator is not installed: {install}"
    );
    // On an error the validator quotes the whole document: its first and last lines say what.
    let shown = if said.len() > 4000 {
        let (head, tail) = (floor(&said, 2000), floor(&said, said.len() - 2000));
        format!("{} … {}", &said[..head], &said[tail..])
    } else {
        said.clone()
    };
    assert!(
        output.status.success(),
        "src/http/openapi.json is not valid OpenAPI 3.0:\n{shown}"
    );
}

/// The largest character boundary of `text` at or before `at`.
fn floor(text: &str, mut at: usize) -> usize {
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}
