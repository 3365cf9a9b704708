//! Omnibus accounts, withdrawals and adjustments through the real binary (SPEC §5.4, §7): two
//! accounts with a balance each and their own asset classes, withdrawals at, below and above
//! available, reasons kept in the WAL, and all of it through a SIGKILL.

mod common;

use std::process::Command;
use std::sync::Arc;

use common::{binary, config, Gateway, TempDir};

/// An equities omnibus account and a DriveDigital-style crypto house account, each prefunded.
fn two_accounts() -> String {
    config("", "[clock]\nadjustable = true\n").replace(
        "[omnibus]\naccount_numbers = [\"DWOM000001\"]\n",
        "[[omnibus.accounts]]\nnumber = \"DWOM000001\"\nasset_classes = [\"EQUITY\", \"ETF\"]\n\
         account_id = \"cc07f91b-7ee1-4868-b8fc-823c70a1b932.1407775317759\"\n\n\
         [[omnibus.accounts]]\nnumber = \"DWCR000001\"\nasset_classes = [\"CRYPTO\"]\n\
         low_balance_warning = \"100\"\n",
    )
}

fn order(account: &str, symbol: &str, size: &str) -> String {
    format!(
        r#"{{"accountNo":"{account}","orderType":"MARKET","side":"BUY","symbol":"{symbol}",{size},"clientID":"123456789"}}"#
    )
}

fn balances(gateway: &Gateway, account: &str) -> (String, String, String) {
    let omni = gateway.admin("GET", &format!("/admin/omni/{account}"), "");
    assert_eq!(omni.status, 200, "{}", omni.text());
    let omni = omni.json();
    let text = |key: &str| omni[key].as_str().unwrap().to_owned();
    (text("cash"), text("reserved"), text("available"))
}

fn cash(gateway: &Gateway, path: &str, amount: &str, reason: &str) -> common::Response {
    gateway.admin(
        "POST",
        path,
        &format!(r#"{{"amount":"{amount}","reason":"{reason}"}}"#),
    )
}

#[test]
fn two_accounts_keep_separate_balances_and_asset_classes() {
    let dir = Arc::new(TempDir::new("omnibus"));
    let gateway = Gateway::start_in(dir.clone(), &two_accounts());
    gateway.set_clock("2026-11-19T11:00:00-05:00");
    let funded = cash(&gateway, "/admin/omni/DWOM000001/cash", "1000", "wire in");
    assert_eq!(funded.status, 200, "{}", funded.text());
    assert_eq!(
        cash(&gateway, "/admin/omni/DWCR000001/cash", "500", "wire in").status,
        200
    );
    let listing = gateway.omni();
    let numbers: Vec<&str> = listing["accounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|account| account["accountNo"].as_str().unwrap())
        .collect();
    assert_eq!(numbers, ["DWOM000001", "DWCR000001"]);

    // An equity BUY reserves at the equities account only: 1 AAPL at 190, 5% buffer.
    let placed = gateway.post_order(&order("DWOM000001", "AAPL", r#""quantity":1"#));
    assert_eq!(placed.status, 200, "{}", placed.text());
    assert_eq!(
        balances(&gateway, "DWOM000001"),
        ("1000".into(), "199.5".into(), "800.5".into())
    );
    assert_eq!(
        balances(&gateway, "DWCR000001"),
        ("500".into(), "0".into(), "500".into())
    );
    // Crypto goes through the house account, and only there.
    let btc = gateway.post_order(&order("DWCR000001", "BTC", r#""amountCash":300"#));
    assert_eq!(btc.status, 200, "{}", btc.text());
    assert_eq!(
        balances(&gateway, "DWCR000001"),
        ("500".into(), "300".into(), "200".into())
    );
    for (account, symbol, size) in [
        ("DWOM000001", "BTC", r#""amountCash":10"#),
        ("DWCR000001", "AAPL", r#""quantity":1"#),
    ] {
        let (code, message) = gateway.post_order(&order(account, symbol, size)).error();
        assert_eq!(code, "ACCOUNT_NOT_ALLOWED", "{account} {symbol}: {message}");
        assert!(message.contains(account), "{message}");
    }
    // The house account's 200 is all it has for the next BTC order.
    let (code, message) = gateway
        .post_order(&order("DWCR000001", "BTC", r#""amountCash":200.01"#))
        .error();
    assert_eq!(code, "INSUFFICIENT_OMNI_BUYING_POWER", "{message}");

    // Withdrawals: above available refused with the code, at available taken, nothing left.
    let above = cash(&gateway, "/admin/omni/DWCR000001/cash", "-200.01", "sweep");
    assert_eq!(above.status, 422, "{}", above.text());
    assert_eq!(above.error().0, "INSUFFICIENT_OMNI_BUYING_POWER");
    let below = cash(&gateway, "/admin/omni/DWCR000001/cash", "-50", "sweep");
    assert_eq!(below.status, 200, "{}", below.text());
    let at = cash(
        &gateway,
        "/admin/omni/DWCR000001/cash",
        "-150",
        "sweep to the bank",
    );
    assert_eq!(at.status, 200, "{}", at.text());
    assert_eq!(
        balances(&gateway, "DWCR000001"),
        ("300".into(), "300".into(), "0".into())
    );
    assert_eq!(
        gateway.admin("GET", "/admin/omni/DWXX000009", "").error().0,
        "NOT_FOUND"
    );

    // Everything is back after a SIGKILL, account by account.
    let before = (
        balances(&gateway, "DWOM000001"),
        balances(&gateway, "DWCR000001"),
    );
    gateway.kill();
    let gateway = Gateway::start_in(dir.clone(), &two_accounts());
    assert_eq!(
        (
            balances(&gateway, "DWOM000001"),
            balances(&gateway, "DWCR000001")
        ),
        before
    );
    gateway.stop();

    // The reasons are in the log, with the account.
    let dump = Command::new(binary())
        .args(["wal", "dump"])
        .arg(dir.path().join("omnigate-data"))
        .output()
        .unwrap();
    let withdrawals: Vec<(String, String, String)> = String::from_utf8_lossy(&dump.stdout)
        .lines()
        .map(|line| serde_json::from_str::<serde_json::Value>(line).unwrap())
        .filter(|entry| entry["type"] == "omni_cash")
        .map(|entry| {
            let record = &entry["record"];
            let text = |key: &str| record[key].as_str().unwrap_or_default().to_owned();
            (text("account"), text("amount"), text("reason"))
        })
        .collect();
    assert_eq!(
        withdrawals,
        [
            ("DWOM000001".into(), "1000".into(), "wire in".into()),
            ("DWCR000001".into(), "500".into(), "wire in".into()),
            ("DWCR000001".into(), "-50".into(), "sweep".into()),
            (
                "DWCR000001".into(),
                "-150".into(),
                "sweep to the bank".into()
            ),
        ]
    );
}

#[test]
fn the_shared_balance_and_customers_take_withdrawals_too() {
    let gateway = Gateway::start(&config("", ""));
    gateway.fund_omni("100");
    let refused = cash(&gateway, "/admin/omni/cash", "-100.01", "sweep");
    assert_eq!(refused.error().0, "INSUFFICIENT_OMNI_BUYING_POWER");
    assert_eq!(
        cash(&gateway, "/admin/omni/cash", "-100", "sweep").status,
        200
    );
    assert_eq!(gateway.omni()["available"], "0");
    // The shared balance answers under each of its numbers.
    let shared = gateway.admin("GET", "/admin/omni/DWOM000001", "");
    assert_eq!(shared.json()["available"], "0");

    // CUST0A19F has 1000.00 and nothing reserved.
    let path = "/admin/customers/CUST0A19F/cash";
    let above = cash(&gateway, path, "-1000.01", "ACH out");
    assert_eq!(above.status, 422, "{}", above.text());
    assert_eq!(above.error().0, "INSUFFICIENT_BUYING_POWER");
    assert_eq!(cash(&gateway, path, "-999", "ACH out").status, 200);
    assert_eq!(cash(&gateway, path, "-1", "ACH out").status, 200);
    assert_eq!(gateway.customer("CUST0A19F")["available"], "0");
    assert_eq!(cash(&gateway, path, "0", "nothing").status, 400);
}

#[test]
fn an_ambiguous_account_config_is_refused_at_start() {
    let both = two_accounts().replace(
        "[[omnibus.accounts]]\nnumber = \"DWOM000001\"",
        "[omnibus]\naccount_numbers = [\"DWOM000009\"]\n\n[[omnibus.accounts]]\nnumber = \"DWOM000001\"",
    );
    let dir = TempDir::new("omnibus-bad");
    let path = dir.file("omnigate.toml", &both);
    let output = Command::new(binary())
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("omnibus.accounts") && stderr.contains("not both"),
        "{stderr}"
    );
}

/// A WAL written with `[[omnibus.accounts]]` is never replayed into one shared balance (it would
/// merge the accounts' books), nor the other way round: the start refuses, in one line.
#[test]
fn a_log_is_not_replayed_across_the_two_account_modes() {
    let dir = Arc::new(TempDir::new("omnibus-mode"));
    let gateway = Gateway::start_in(dir.clone(), &two_accounts());
    assert_eq!(
        cash(&gateway, "/admin/omni/DWCR000001/cash", "500", "wire in").status,
        200
    );
    // SIGKILL: no snapshot at exit, so the restart replays the log itself.
    gateway.kill();
    let path = dir.file("shared.toml", &config("", ""));
    let output = Command::new(binary())
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("DWCR000001") && stderr.contains("shared balance"),
        "{stderr}"
    );
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
}
