//! `jiralink user` and `jiralink serve` as an admin runs them: accounts with the password from
//! standard input, bad input refused with exit 2, and the one-time setup link of a first start.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use crate::credential::Session;

const PASSWORD: &str = "a long enough password";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_are_managed_and_a_first_start_prints_a_setup_link() {
    let mut s = Session::new("serve");
    let r = s.run(
        &["user", "add", "ann", "--role", "admin", "--password-stdin"],
        Some(&format!("{PASSWORD}\n")),
        &[],
    );
    assert_eq!(
        (r.code, r.stdout.trim()),
        (0, "added ann (admin)"),
        "{}",
        r.stderr
    );
    let r = s.run(
        &["user", "add", "bob", "--role", "boss", "--password-stdin"],
        Some("x\n"),
        &[],
    );
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("use admin, member or viewer"),
        "{}",
        r.stderr
    );
    let r = s.run(
        &["user", "add", "bob", "--password-stdin"],
        Some("short\n"),
        &[],
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("at least 10 characters"), "{}", r.stderr);
    let r = s.run(&["--json", "user", "list"], None, &[]);
    let users: serde_json::Value = serde_json::from_str(&r.stdout).expect("json");
    assert_eq!(users[0]["name"], "ann");
    assert_eq!(users[0]["role"], "admin");
    let r = s.run(&["user", "remove", "nobody"], None, &[]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = s.run(&["user", "remove", "ann"], None, &[]);
    assert_eq!((r.code, r.stdout.trim()), (0, "removed ann"));

    // No admin now: the first start prints a one-time setup link that makes one.
    let mut child = Command::new(env!("CARGO_BIN_EXE_jiralink"))
        .arg("--home")
        .arg(&s.home)
        .args(["serve", "--bind", "127.0.0.1:0"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("serve runs");
    let mut lines = BufReader::new(child.stdout.take().expect("stdout")).lines();
    let first = lines.next().expect("a line").expect("text");
    let link = first
        .split_whitespace()
        .find(|w| w.starts_with("http://127.0.0.1:") && w.contains("/setup?token="))
        .unwrap_or_else(|| panic!("no setup link in: {first}"))
        .to_owned();
    let listening = lines.next().expect("a line").expect("text");
    assert!(
        listening.contains("listening on http://127.0.0.1:"),
        "{listening}"
    );
    let page = reqwest::get(&link)
        .await
        .expect("setup page")
        .text()
        .await
        .expect("body");
    assert!(page.contains("Make the first admin"), "{page}");
    let base = link.split("/setup").next().expect("base").to_owned();
    let token = link.split("token=").nth(1).expect("token").to_owned();
    let http = reqwest::Client::new();
    let setup = |name: &'static str| {
        http.post(format!("{base}/api/setup"))
            .json(&serde_json::json!({"token": token, "name": name, "password": PASSWORD}))
            .send()
    };
    let r = setup("root").await.expect("setup");
    assert_eq!(r.status(), 200);
    assert!(r.headers()["set-cookie"]
        .to_str()
        .expect("cookie")
        .contains("HttpOnly; SameSite=Strict"));
    assert_eq!(
        setup("evil").await.expect("setup").status(),
        403,
        "the link works once"
    );
    let _ = child.kill();
    let _ = child.wait();
    let r = s.run(&["user", "list"], None, &[]);
    assert!(
        r.stdout.starts_with("root") && r.stdout.contains("admin"),
        "{}",
        r.stdout
    );
    s.assert_never_seen(PASSWORD);
}
