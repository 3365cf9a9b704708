//! The risk dashboard (SPEC §11.2) in a real headless browser (Debian's `chromium`): with the
//! token in the URL fragment it shows the omni balance and the decisions by code; without it,
//! nothing but a request for the token.

mod common;

use std::process::Command;
use std::time::Duration;

use common::{config, send, wait_for, Gateway, TempDir, ADMIN_TOKEN};

/// The browser: `CHROMIUM` if set, else Debian's.
fn chromium() -> String {
    let path = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".to_owned());
    assert!(
        std::path::Path::new(&path).exists(),
        "{path} not found: install Debian's chromium (apt-get install chromium), as .ci/run does"
    );
    path
}

/// The page's DOM after its scripts ran (their fetches and timers within a virtual 5 s).
fn rendered(url: &str) -> String {
    let profile = TempDir::new("chromium");
    let output = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .output()
        .expect("run chromium");
    assert!(
        output.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).expect("the DOM is UTF-8")
}

#[test]
fn the_dashboard_shows_balances_and_decisions_only_with_the_token() {
    let gateway = Gateway::start(&config("", ""));
    gateway.pause_fills();
    gateway.fund_omni("1234567.89");
    let accepted = gateway.post_order(
        r#"{"accountNo":"DWOM000001","orderType":"LIMIT","side":"BUY","symbol":"AAPL","quantity":3,"price":"101.25","clientID":"123456789"}"#,
    );
    assert_eq!(accepted.status, 200, "{}", accepted.text());
    let refused = gateway.post_order(
        r#"{"accountNo":"DWOM000001","orderType":"MARKET","side":"BUY","symbol":"AAPL","quantity":1,"clientID":"NOSUCH42"}"#,
    );
    assert_eq!(refused.error().0, "CLIENT_ID_UNKNOWN");
    let available = gateway.omni()["available"].as_str().unwrap().to_owned();
    assert_eq!(available, "1234264.14", "1234567.89 − 3 × 101.25");

    // The data call needs the token; the page does not, and holds no data.
    let data = send(gateway.admin, "GET", "/admin/dashboard/data", &[], b"");
    assert_eq!(data.status, 401);
    let page = send(gateway.admin, "GET", "/admin/dashboard", &[], b"");
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .unwrap()
        .starts_with("text/html"));
    // The sampler has seen the rejection (it samples once a second).
    wait_for("the decision counted", Duration::from_secs(10), || {
        let data = gateway.admin("GET", "/admin/dashboard/data", "").json();
        data["decisionsTotal"]["CLIENT_ID_UNKNOWN"]
            .as_f64()
            .filter(|count| *count >= 1.0)
    });

    let base = format!("http://{}/admin/dashboard", gateway.admin);
    let shown = rendered(&format!("{base}#token={ADMIN_TOKEN}"));
    assert!(shown.contains(&available), "no omni balance in {shown}");
    assert!(
        shown.contains("CLIENT_ID_UNKNOWN"),
        "no decision code in {shown}"
    );
    assert!(
        shown.contains("123456789"),
        "the customer with the most reserved"
    );
    assert!(shown.contains("data:image/svg+xml"), "the charts are drawn");
    assert!(
        shown.contains(r#"<form id="login" hidden="""#),
        "the token was taken from the fragment, not asked for"
    );

    for url in [base.clone(), format!("{base}#token=not-the-token")] {
        let hidden = rendered(&url);
        assert!(
            !hidden.contains(&available),
            "{url}: a balance without the token"
        );
        assert!(!hidden.contains("CLIENT_ID_UNKNOWN"), "{url}: {hidden}");
        assert!(
            hidden.contains(r#"<form id="login">"#),
            "{url}: the page asks for the token: {hidden}"
        );
    }
    assert!(rendered(&format!("{base}#token=not-the-token")).contains("the token was refused"));
}
