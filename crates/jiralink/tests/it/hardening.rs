//! Bad input refused before anything is sent, and secrets in it never echoed: credential names,
//! `--secret-env` values that are secrets, proxy URLs (whose password is sealed in the vault).

use std::io::Read;
use std::net::TcpListener;
use std::sync::{Arc, Mutex};

use crate::credential::{start_sim, Run, Session};

/// A loopback listener that records what each connection sent up to the end of its headers, then
/// hangs up.
struct Canary {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
}

/// `credential add prod` of a PAT for a site never reached (port 9), with `extra` arguments.
fn add_unreachable_pat(s: &mut Session, extra: &[&str], stdin: Option<&str>) -> Run {
    s.add_credential("prod", "http://127.0.0.1:9", "pat", extra, stdin)
}

/// What a connection sent up to the end of its headers (64 KiB at the most).
fn read_head(conn: &mut std::net::TcpStream) -> Vec<u8> {
    let mut got = Vec::new();
    let mut buf = [0u8; 1024];
    while let Ok(n) = conn.read(&mut buf) {
        got.extend_from_slice(&buf[..n]);
        if n == 0 || got.windows(4).any(|w| w == b"\r\n\r\n") || got.len() > 64 * 1024 {
            break;
        }
    }
    got
}

impl Canary {
    fn start() -> Canary {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for mut conn in listener.incoming().flatten() {
                let got = read_head(&mut conn);
                log.lock()
                    .expect("log")
                    .push(String::from_utf8_lossy(&got).into_owned());
            }
        });
        Canary { port, seen }
    }

    fn requests(&self) -> Vec<String> {
        std::thread::sleep(std::time::Duration::from_millis(100));
        self.seen.lock().expect("log").clone()
    }
}

#[test]
fn a_bad_name_is_refused_before_the_live_test_with_a_slug_proposed() {
    let mut s = Session::new("badname");
    let canary = Canary::start();
    let url = format!("http://127.0.0.1:{}", canary.port);
    let r = s.add_credential(
        "Nexla Jira prod",
        &url,
        "pat",
        &["--secret-stdin"],
        Some("canary-token-for-names"),
    );
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("'nexla-jira-prod'"), "{}", r.stderr);
    assert!(canary.requests().is_empty(), "the site was contacted");
    s.assert_never_seen("canary-token-for-names");
}

#[test]
fn a_secret_pasted_into_secret_env_is_refused_without_being_echoed() {
    let mut s = Session::new("secretenv");
    let pasted = "ATATT3xFfGF0-pasted/secret+value=";
    let r = add_unreachable_pat(&mut s, &["--secret-env", pasted], None);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("does not look like a variable name"),
        "{}",
        r.stderr
    );
    // The OAuth 2 client secret's variable too.
    let r = s.add_credential(
        "app",
        "http://127.0.0.1:9",
        "oauth2",
        &[
            "--client-id",
            "abc",
            "--client-secret-env",
            pasted,
            "--secret-stdin",
        ],
        Some("refresh"),
    );
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("does not look like a variable name"));
    s.assert_never_seen(pasted);
    // A real variable name that is unset is named.
    let r = add_unreachable_pat(
        &mut s,
        &["--secret-env", "JIRALINK_TEST_UNSET_VARIABLE"],
        None,
    );
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("JIRALINK_TEST_UNSET_VARIABLE is not set"));
}

#[test]
fn a_proxy_password_is_sealed_and_a_malformed_proxy_refused_at_add() {
    let mut s = Session::new("proxy");
    let password = "pr0xy-canary-password";
    // Malformed (no host): usage error, and the password is not printed.
    let r = add_unreachable_pat(
        &mut s,
        &[
            "--secret-stdin",
            "--no-test",
            "--proxy",
            &format!("http://user:{password}@"),
        ],
        Some("token"),
    );
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("--proxy"), "{}", r.stderr);

    // A good one: stored without its password, which is sealed; the test goes through the proxy
    // (a loopback canary that hangs up) with the password restored.
    let canary = Canary::start();
    let r = add_unreachable_pat(
        &mut s,
        &[
            "--secret-stdin",
            "--no-test",
            "--proxy",
            &format!("http://user:{password}@127.0.0.1:{}", canary.port),
        ],
        Some("token"),
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let r = s.run(&["credential", "test", "prod"], None, &[]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    let requests = canary.requests();
    let expected = base64(format!("user:{password}").as_bytes());
    assert!(
        requests.iter().any(|q| q.contains(&expected)),
        "the proxy got no Proxy-Authorization with the unsealed password: {requests:?}"
    );
    s.assert_never_seen(password);
}

/// Standard base64 with padding (what a Basic `Proxy-Authorization` carries).
fn base64(bytes: &[u8]) -> String {
    const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(A[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// A loopback "Jira" whose every answer is a 500 MB JSON string, streamed (with or without a
/// Content-Length announcing it).
fn huge_server(announce_length: bool) -> u16 {
    use std::io::Write;
    const TOTAL: usize = 500 * 1024 * 1024;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            read_head(&mut conn);
            let length = if announce_length {
                format!("Content-Length: {TOTAL}\r\n")
            } else {
                String::new()
            };
            let head = format!(
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n{length}Connection: close\r\n\r\n{{\"displayName\":\""
            );
            if conn.write_all(head.as_bytes()).is_err() {
                continue;
            }
            let chunk = vec![b'x'; 1024 * 1024];
            let mut sent = head.len();
            while sent + chunk.len() <= TOTAL {
                if conn.write_all(&chunk).is_err() {
                    break;
                }
                sent += chunk.len();
            }
        }
    });
    port
}

/// The child's peak resident set (VmHWM, kB) sampled until it exits, and its exit code and stdout.
fn peak_rss_of(mut cmd: std::process::Command) -> (u64, i32, String) {
    use std::process::Stdio;
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn");
    let status_file = format!("/proc/{}/status", child.id());
    let mut peak_kb = 0u64;
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    let code = loop {
        if let Ok(text) = std::fs::read_to_string(&status_file) {
            if let Some(kb) = text
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))
                .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            {
                peak_kb = peak_kb.max(kb);
            }
        }
        if let Some(status) = child.try_wait().expect("wait") {
            break status.code().unwrap_or(-1);
        }
        assert!(std::time::Instant::now() < deadline, "the child hangs");
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    let mut out = String::new();
    if let Some(mut s) = child.stdout.take() {
        let _ = s.read_to_string(&mut out);
    }
    (peak_kb, code, out)
}

#[test]
fn a_500_mb_answer_is_refused_with_peak_memory_under_200_mb() {
    for announce_length in [false, true] {
        let mut s = Session::new(&format!("huge-{announce_length}"));
        let port = huge_server(announce_length);
        let url = format!("http://127.0.0.1:{port}");
        let r = s.add_credential(
            "big",
            &url,
            "pat",
            &["--secret-stdin", "--no-test"],
            Some("token"),
        );
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
        let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_jiralink"));
        cmd.arg("--home")
            .arg(&s.home)
            .args(["credential", "test", "big", "--json"])
            .env_remove("JIRALINK_MASTER_KEY");
        let (peak_kb, code, out) = peak_rss_of(cmd);
        assert_eq!(code, 1, "{out}");
        assert!(out.contains("unexpected_response"), "{out}");
        assert!(out.contains("limit of"), "{out}");
        eprintln!("announce_length={announce_length}: peak RSS {peak_kb} kB");
        assert!(
            peak_kb > 0 && peak_kb < 200 * 1024,
            "peak RSS {peak_kb} kB (announce_length={announce_length})"
        );
    }
}

#[test]
fn a_closed_stdout_ends_the_program_quietly() {
    let s = Session::new("pipe");
    for _ in 0..3 {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_jiralink"))
            .arg("--home")
            .arg(&s.home)
            .arg("status")
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        // The reader goes away before the child has started writing.
        drop(child.stdout.take());
        let out = child.wait_with_output().expect("wait");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("panicked"), "{stderr}");
        assert_eq!(out.status.code(), Some(0), "{stderr}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn dash_v_shows_each_request_without_headers_and_no_colour_when_redirected() {
    let sim = start_sim(jiralink_sim::Deployment::Cloud, 5, 74).await;
    let s = Session::with_admin("verbose", &sim, "dc");
    let secret = sim.identity("admin").expect("admin").secret.clone();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jiralink"))
        .arg("--home")
        .arg(&s.home)
        .args(["-v", "credential", "test", "dc"])
        .env_remove("JIRALINK_LOG")
        .env_remove("RUST_LOG")
        .env_remove("JIRALINK_MASTER_KEY")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let line = stderr
        .lines()
        .find(|l| l.contains("serverInfo"))
        .unwrap_or_else(|| panic!("no request logged: {stderr}"));
    assert!(
        line.contains("method=GET") && line.contains("status=200") && line.contains("ms="),
        "{line}"
    );
    assert!(
        !stderr.contains('\u{1b}'),
        "colour on a redirected stderr: {stderr}"
    );
    assert!(
        !stderr.to_ascii_lowercase().contains("authorization"),
        "{stderr}"
    );
    assert!(!stderr.contains(&secret), "{stderr}");
    // RUST_LOG is honoured when JIRALINK_LOG is not set.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_jiralink"))
        .arg("--home")
        .arg(&s.home)
        .args(["credential", "test", "dc"])
        .env_remove("JIRALINK_LOG")
        .env("RUST_LOG", "jiralink_api=info")
        .env_remove("JIRALINK_MASTER_KEY")
        .output()
        .expect("run");
    assert!(String::from_utf8_lossy(&out.stderr).contains("serverInfo"));
}

#[test]
fn a_ca_bundle_that_is_neither_pem_nor_der_is_refused_at_add() {
    let mut s = Session::new("cabundle");
    std::fs::create_dir_all(&s.home).expect("home");
    let bogus = s.home.join("ca.txt");
    std::fs::write(&bogus, "this is not a certificate\n").expect("write");
    let canary = Canary::start();
    let url = format!("http://127.0.0.1:{}", canary.port);
    let bogus_path = bogus.to_string_lossy().into_owned();
    let r = s.add_credential(
        "prod",
        &url,
        "pat",
        &["--secret-stdin", "--ca-bundle", &bogus_path],
        Some("token"),
    );
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("neither PEM nor DER"), "{}", r.stderr);
    assert!(canary.requests().is_empty());
}

#[test]
fn completions_are_printed_for_each_shell() {
    let mut s = Session::new("completions");
    for (shell, marker) in [
        ("bash", "complete -F"),
        ("zsh", "#compdef jiralink"),
        ("fish", "complete -c jiralink"),
    ] {
        let r = s.run(&["completions", shell], None, &[]);
        assert_eq!(r.code, 0, "{shell}: {}", r.stderr);
        assert!(r.stdout.contains(marker), "{shell}: {}", r.stdout);
        assert!(r.stdout.contains("credential"), "{shell}");
    }
    let r = s.run(&["completions", "tcsh"], None, &[]);
    assert_eq!(r.code, 2);
}

#[test]
fn edit_changes_the_description_and_proxy_and_list_fails_on_warnings() {
    let mut s = Session::new("edit");
    let r = add_unreachable_pat(
        &mut s,
        &["--secret-stdin", "--no-test", "--description", "first"],
        Some("token"),
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let password = "ed1t-proxy-password";
    let proxy = format!("http://u:{password}@127.0.0.1:3128");
    let r = s.run(
        &[
            "credential",
            "edit",
            "prod",
            "--description",
            "sync service user",
            "--proxy",
            &proxy,
        ],
        None,
        &[],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let r = s.run(&["credential", "list"], None, &[]);
    assert!(r.stdout.contains("DESCRIPTION") && r.stdout.contains("sync service user"));
    let r = s.run(&["--json", "credential", "show", "prod"], None, &[]);
    assert!(r.stdout.contains("sync service user"), "{}", r.stdout);
    // A fresh credential has no warning; with a policy of -1 days every secret is too old.
    let r = s.run(&["credential", "list", "--fail-on", "warning"], None, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let r = s.run(
        &[
            "--json",
            "credential",
            "list",
            "--max-age-days=-1",
            "--fail-on",
            "warning",
        ],
        None,
        &[],
    );
    assert_eq!(r.code, 1, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("one JSON object");
    assert_eq!(v["warnings"], true);
    assert!(!r.stdout.trim().contains('\n'));
    let r = s.run(
        &["credential", "edit", "nope", "--description", "x"],
        None,
        &[],
    );
    assert_eq!(r.code, 2);
    s.assert_never_seen(password);
}

#[test]
fn json_errors_are_one_object_on_stdout() {
    let mut s = Session::new("jsonerr");
    // An error of the command (no such credential): exit 2, with an error object.
    let r = s.run(&["--json", "credential", "show", "nope"], None, &[]);
    assert_eq!(r.code, 2);
    assert_eq!(r.stdout.trim().lines().count(), 1, "{}", r.stdout);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("JSON");
    assert_eq!(v["error"]["kind"], "usage");
    assert!(v["error"]["message"]
        .as_str()
        .unwrap_or("")
        .contains("nope"));
    // A usage error clap finds (a missing argument).
    let r = s.run(&["--json", "credential", "add"], None, &[]);
    assert_eq!(r.code, 2);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("JSON");
    assert_eq!(v["error"]["kind"], "usage");
}

#[test]
fn timeout_is_an_option_and_a_silent_server_times_out_within_it() {
    let mut s = Session::new("timeout");
    // A listener that accepts and never answers (it holds every connection open).
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    std::thread::spawn(move || {
        let mut held = Vec::new();
        for conn in listener.incoming().flatten() {
            held.push(conn);
        }
    });
    let url = format!("http://127.0.0.1:{port}");
    let r = s.add_credential(
        "slow",
        &url,
        "pat",
        &["--secret-stdin", "--no-test", "--timeout", "1"],
        Some("token"),
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let started = std::time::Instant::now();
    let r = s.run(&["--json", "credential", "test", "slow"], None, &[]);
    assert_eq!(r.code, 1, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("\"timeout\""), "{}", r.stdout);
    assert!(r.stdout.contains("--timeout"), "{}", r.stdout);
    // Four attempts of 1 s with short backoffs, not four of 30 s.
    assert!(started.elapsed() < std::time::Duration::from_secs(20));
    let r = s.run(&["credential", "edit", "slow", "--timeout", "0"], None, &[]);
    assert_eq!(r.code, 2);
}

#[test]
fn display_fields_from_the_server_are_cut_in_human_output() {
    use std::io::Write;
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let huge = "A".repeat(20_000);
    std::thread::spawn(move || {
        for mut conn in listener.incoming().flatten() {
            let got = read_head(&mut conn);
            let request = String::from_utf8_lossy(&got);
            let body = if request.contains("/serverInfo") {
                r#"{"baseUrl":"http://x","version":"9.12.0","versionNumbers":[9,12,0],"deploymentType":"Server","buildNumber":9120000}"#.to_owned()
            } else {
                format!(r#"{{"name":"bob","key":"bob","displayName":"{huge}","active":true}}"#)
            };
            let _ = write!(
                conn,
                "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                body.len()
            );
        }
    });
    let mut s = Session::new("display");
    let url = format!("http://127.0.0.1:{port}");
    let r = s.add_credential("odd", &url, "pat", &["--secret-stdin"], Some("token"));
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    let longest = r
        .stdout
        .lines()
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0);
    assert!(longest < 300, "a line of {longest} characters");
    assert!(r.stdout.contains('…'));
}

#[test]
fn every_command_help_has_examples() {
    let mut s = Session::new("help");
    let commands: &[&[&str]] = &[
        &[],
        &["demo"],
        &["sim"],
        &["credential"],
        &["credential", "add"],
        &["credential", "list"],
        &["credential", "edit"],
        &["credential", "show"],
        &["credential", "test"],
        &["credential", "rotate"],
        &["credential", "remove"],
        &["credential", "oauth1-keygen"],
        &["access"],
        &["sync"],
        &["status"],
        &["verify"],
        &["insights"],
        &["completions"],
    ];
    for c in commands {
        let mut args = c.to_vec();
        args.push("--help");
        let r = s.run(&args, None, &[]);
        assert_eq!(r.code, 0, "{c:?}: {}", r.stderr);
        assert!(
            r.stdout.contains("Examples:"),
            "{c:?} --help has no example"
        );
    }
}

#[test]
fn oauth1_keygen_writes_a_private_key_and_prints_the_public_one() {
    let mut s = Session::new("keygen");
    std::fs::create_dir_all(&s.home).expect("home");
    let key = s.home.join("oauth.pem");
    let key_path = key.to_string_lossy().into_owned();
    let r = s.run(
        &["--json", "credential", "oauth1-keygen", "--out", &key_path],
        None,
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("JSON");
    assert!(v["public_key_pem"]
        .as_str()
        .unwrap_or("")
        .starts_with("-----BEGIN PUBLIC KEY-----"));
    let pem = std::fs::read_to_string(&key).expect("key");
    assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(
        !r.stdout.contains("PRIVATE KEY"),
        "the private key was printed"
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).expect("meta").permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    // An existing key is never replaced.
    let r = s.run(
        &["credential", "oauth1-keygen", "--out", &key_path],
        None,
        &[],
    );
    assert_eq!(r.code, 2);
    assert_eq!(std::fs::read_to_string(&key).expect("key"), pem);
}
