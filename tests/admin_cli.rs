//! The admin listener and the command line, through the real binary.

mod common;

use std::process::Command;

use common::{binary, config, send, Gateway, TempDir, ADMIN_TOKEN};

#[test]
fn the_admin_api_refuses_a_missing_or_wrong_token() {
    let gateway = Gateway::start(&config("", ""));
    let missing = send(gateway.admin, "GET", "/admin/health", &[], b"");
    assert_eq!(missing.status, 401);
    assert_eq!(missing.error().0, "UNAUTHORIZED");
    let wrong = send(
        gateway.admin,
        "GET",
        "/admin/health",
        &[("authorization", "Bearer test-admin-token-0123456788")],
        b"",
    );
    assert_eq!(wrong.status, 401);
    let basic = send(
        gateway.admin,
        "GET",
        "/admin/health",
        &[("authorization", &format!("Basic {ADMIN_TOKEN}"))],
        b"",
    );
    assert_eq!(basic.status, 401);
    let health = gateway.admin("GET", "/admin/health", "");
    assert_eq!(health.status, 200, "{}", health.text());
    assert_eq!(health.json()["status"], "ok");
}

#[test]
fn the_clock_moves_only_when_adjustable() {
    let gateway = Gateway::start(&config("", ""));
    let response = gateway.admin("PUT", "/admin/clock", r#"{"now":"2026-03-09T13:29:59Z"}"#);
    assert_eq!(response.status, 404);

    let gateway = Gateway::start(&config("", "[clock]\nadjustable = true\n"));
    let response = gateway.admin("PUT", "/admin/clock", r#"{"now":"2026-03-09T13:29:59Z"}"#);
    assert_eq!(response.status, 200, "{}", response.text());
    let now = gateway.admin("GET", "/admin/health", "").json()["now"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(now.starts_with("2026-03-09T13:"), "{now}");
    let bad = gateway.admin("PUT", "/admin/clock", r#"{"now":"yesterday"}"#);
    assert_eq!(bad.status, 400);
}

#[test]
fn check_config_lists_every_problem_by_key() {
    let dir = TempDir::new("cfg");
    let bad = dir.file(
        "bad.toml",
        "[server]\nmax_body_bytes = 0\nlisten_port = 1\n[upstream]\nurl = \"ftp://x\"\n[limitz]\n",
    );
    let output = Command::new(binary())
        .args(["check-config"])
        .arg(&bad)
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    for key in [
        "server.listen_port: unknown key",
        "limitz: unknown key",
        "server.max_body_bytes",
        "upstream.url",
    ] {
        assert!(stderr.contains(key), "{key} missing from:\n{stderr}");
    }
    assert!(!stderr.contains("panicked"));

    let good = dir.file("good.toml", &config("", ""));
    let output = Command::new(binary())
        .args(["check-config"])
        .arg(&good)
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );

    let example = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/omnigate.toml");
    let output = Command::new(binary())
        .args(["check-config", example])
        .output()
        .unwrap();
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn start_up_failures_are_one_clear_line() {
    let dir = TempDir::new("start");
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let cases = [
        (
            format!("[server]\nlisten = \"127.0.0.1:{port}\"\nadmin_listen = \"127.0.0.1:0\"\n"),
            "server.listen: cannot listen on",
        ),
        (
            "[server]\nlisten = \"127.0.0.1:0\"\nadmin_listen = \"0.0.0.0:0\"\n".to_owned(),
            "server.admin_token: required",
        ),
        ("[server]\nlisten = 5\n".to_owned(), "line 2"),
    ];
    for (index, (text, needle)) in cases.iter().enumerate() {
        let path = dir.file(&format!("c{index}.toml"), text);
        let output = Command::new(binary())
            .args(["run", "--config"])
            .arg(&path)
            .env_remove("OMNIGATE_ADMIN_TOKEN")
            .output()
            .unwrap();
        assert!(!output.status.success(), "{text}");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(stderr.contains(needle), "{needle} missing from: {stderr}");
        assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
        assert!(!stderr.contains("panicked"));
    }
    let missing = Command::new(binary())
        .args(["run", "--config", "/nonexistent/omnigate.toml"])
        .output()
        .unwrap();
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/omnigate.toml"));
}

/// A SIGTERM (or SIGHUP) the moment the banner says omnigate listens is a clean stop (or a
/// reload), never the signal's default action: the handlers are in place before the banner.
/// (The window this guards was microseconds wide, between the banner and the handlers; a
/// loaded CI machine once fell into it.)
#[test]
fn a_signal_right_after_the_banner_is_handled() {
    for _ in 0..5 {
        let gateway = Gateway::start(&config("", ""));
        let hangup = Command::new("kill")
            .args(["-HUP", &gateway.pid().to_string()])
            .status()
            .expect("kill");
        assert!(hangup.success());
        // `stop` sends SIGTERM and asserts a clean exit (status 0, not "signal 15").
        gateway.stop();
    }
}
