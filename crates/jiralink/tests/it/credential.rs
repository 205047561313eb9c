//! `jiralink credential ...` as a user runs it, with a canary secret searched for afterwards in every
//! output stream and every file the session wrote.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use jiralink_sim::{Deployment, Sim};

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

pub struct Session {
    pub home: PathBuf,
    outputs: Vec<String>,
}

/// The home goes with the session (a synced store in it can take hundreds of MB).
impl Drop for Session {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.home);
    }
}

/// Deterministic pseudo-random numbers (xorshift64 from `seed`): kill moments spread over a run,
/// with no clock-seeded randomness.
pub fn xorshift(seed: u64) -> impl Iterator<Item = u64> {
    let step = |x: &u64| {
        let mut x = *x;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        Some(x)
    };
    std::iter::successors(Some(seed), step).skip(1)
}

impl Session {
    pub fn new(tag: &str) -> Session {
        let home = std::env::temp_dir().join(format!("jiralink-cli-{tag}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&home);
        Session {
            home,
            outputs: Vec::new(),
        }
    }

    /// `credential add NAME` for one of the simulator's identities, asserted to work.
    pub fn add_identity(
        &mut self,
        sim: &jiralink_sim::Sim,
        name: &str,
        id: &jiralink_sim::Identity,
    ) {
        let mut extra = vec!["--secret-stdin", "--gateway-url", sim.gateway_url()];
        let email = id.email.clone().unwrap_or_default();
        let username = id.username.clone().unwrap_or_default();
        if id.auth == "cloud-token" || id.auth == "scoped-token" {
            extra.extend(["--email", email.as_str()]);
        }
        if id.auth == "basic" {
            extra.extend(["--username", username.as_str()]);
        }
        let r = self.add_credential(name, sim.base_url(), &id.auth, &extra, Some(&id.secret));
        assert_eq!(r.code, 0, "{name}: {}{}", r.stdout, r.stderr);
    }

    /// `credential add NAME` for the simulator's site admin.
    pub fn add_admin(&mut self, sim: &jiralink_sim::Sim, name: &str) {
        let admin = sim.identity("admin").expect("admin").clone();
        self.add_identity(sim, name, &admin);
    }

    /// A new session whose credential `name` is the simulator's site admin.
    pub fn with_admin(tag: &str, sim: &jiralink_sim::Sim, name: &str) -> Session {
        let mut s = Session::new(tag);
        s.add_admin(sim, name);
        s
    }

    /// [`Session::with_admin`], synced once.
    pub fn synced_admin(tag: &str, sim: &jiralink_sim::Sim, name: &str) -> Session {
        let mut s = Session::with_admin(tag, sim, name);
        let r = s.run(&["sync", name], None, &[]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        s
    }

    /// `credential add NAME --no-test` for the site admin of a Cloud simulator (whose injected
    /// faults the connection test would meet).
    pub fn add_admin_untested(&mut self, sim: &jiralink_sim::Sim, name: &str) {
        let admin = sim.identity("admin").expect("admin").clone();
        let email = admin.email.clone().expect("email");
        let r = self.add_credential(
            name,
            sim.base_url(),
            "cloud-token",
            &["--email", &email, "--secret-stdin", "--no-test"],
            Some(&admin.secret),
        );
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    }

    /// `credential add NAME --url URL --auth AUTH EXTRA...` with `stdin`, as it ran.
    pub fn add_credential(
        &mut self,
        name: &str,
        url: &str,
        auth: &str,
        extra: &[&str],
        stdin: Option<&str>,
    ) -> Run {
        let mut args = vec!["credential", "add", name, "--url", url, "--auth", auth];
        args.extend(extra);
        self.run(&args, stdin, &[])
    }

    /// Starts `jiralink ARGS` in this home, its output dropped (a run the test may kill).
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_jiralink"))
            .arg("--home")
            .arg(&self.home)
            .args(args)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn")
    }

    pub fn run(&mut self, args: &[&str], stdin: Option<&str>, env: &[(&str, &str)]) -> Run {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_jiralink"));
        cmd.arg("--home")
            .arg(&self.home)
            .args(args)
            .env("JIRALINK_LOG", "debug")
            .env_remove("JIRALINK_MASTER_KEY");
        for (k, v) in env {
            cmd.env(k, v);
        }
        cmd.stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd.spawn().expect("the jiralink binary runs");
        if let Some(input) = stdin {
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(input.as_bytes())
                .expect("write stdin");
        }
        drop(child.stdin.take());
        let out = child.wait_with_output().expect("it exits");
        let run = Run {
            code: out.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&out.stdout).into(),
            stderr: String::from_utf8_lossy(&out.stderr).into(),
        };
        self.outputs.push(run.stdout.clone());
        self.outputs.push(run.stderr.clone());
        run
    }

    /// Every byte the session produced: outputs, and all files under home (vault, key, logs).
    pub fn assert_never_seen(&self, secret: &str) {
        for (n, o) in self.outputs.iter().enumerate() {
            assert!(!o.contains(secret), "output #{n} shows the secret:\n{o}");
        }
        fn walk(dir: &Path, secret: &str) {
            for entry in std::fs::read_dir(dir).expect("read home").flatten() {
                let p = entry.path();
                if p.is_dir() {
                    walk(&p, secret);
                } else {
                    let bytes = std::fs::read(&p).expect("read file");
                    assert!(
                        !String::from_utf8_lossy(&bytes).contains(secret),
                        "{} holds the secret in plaintext",
                        p.display()
                    );
                }
            }
        }
        walk(&self.home, secret);
    }
}

/// A simulator of `issues` issues generated from `seed`, started.
pub async fn start_sim(deployment: Deployment, issues: usize, seed: u64) -> Sim {
    Sim::builder()
        .deployment(deployment)
        .issues(issues)
        .seed(seed)
        .start()
        .await
        .expect("sim")
}

/// A simulator of `issues` issues in `projects` projects (every type among a few), from `seed`.
pub async fn start_sim_in_projects(
    deployment: Deployment,
    issues: usize,
    projects: usize,
    seed: u64,
) -> Sim {
    Sim::builder()
        .deployment(deployment)
        .issues(issues)
        .projects(projects)
        .seed(seed)
        .start()
        .await
        .expect("sim")
}

#[tokio::test(flavor = "multi_thread")]
async fn add_test_rotate_list_remove_and_the_secret_never_leaks() {
    let sim = start_sim(Deployment::Cloud, 60, 41).await;
    let admin = sim.identity("admin").expect("admin").clone();
    let email = admin.email.clone().expect("email");
    let canary = admin.secret.clone();
    let wrong_canary = "CANARY-not-a-valid-token-0123456789";
    let mut s = Session::new("canary");
    let url = format!("{}/browse/ENG-1?focusedCommentId=1", sim.base_url());

    // Secrets never come from argv: without a source, non-interactively, add refuses (exit 2).
    let r = s.add_credential("prod", &url, "cloud-token", &["--email", &email], None);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("--secret-stdin"));

    let r = s.add_credential(
        "prod",
        &url,
        "cloud-token",
        &[
            "--email",
            &email,
            "--secret-stdin",
            "--description",
            "service user",
        ],
        Some(&format!("{canary}\n")),
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(
        r.stdout.contains("prod: OK") && r.stdout.contains("2 requests"),
        "{}",
        r.stdout
    );

    let r = s.run(&["--json", "credential", "test", "prod"], None, &[]);
    assert_eq!(r.code, 0);
    let v: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("one JSON object");
    assert_eq!(v["ok"], true);
    assert_eq!(v["auth"], "cloud-token");
    assert_eq!(
        v["base_url"],
        sim.base_url(),
        "the pasted issue URL became the site"
    );
    assert_eq!(v["account"]["email"], email.as_str());
    assert_eq!(v["timings"]["requests"], 2);

    // A rotation whose new secret fails keeps the old one.
    let r = s.run(
        &["credential", "rotate", "prod", "--secret-env", "NEW_TOKEN"],
        None,
        &[("NEW_TOKEN", wrong_canary)],
    );
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("bad_credentials"), "{}", r.stdout);
    assert_eq!(
        s.run(&["credential", "test", "prod"], None, &[]).code,
        0,
        "the old secret still works"
    );
    let r = s.run(
        &["credential", "rotate", "prod", "--secret-stdin"],
        Some(&canary),
        &[],
    );
    assert_eq!(r.code, 0, "{}", r.stderr);

    let r = s.run(&["--json", "access", "prod"], None, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let audit: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("JSON audit");
    assert_eq!(audit["site_admin"], true);

    let r = s.run(&["--json", "credential", "list"], None, &[]);
    let list: serde_json::Value = serde_json::from_str(r.stdout.trim()).expect("JSON list");
    assert_eq!(list["credentials"][0]["name"], "prod");
    assert_eq!(list["credentials"][0]["description"], "service user");
    let r = s.run(&["credential", "show", "prod"], None, &[]);
    assert!(r.stdout.contains("cloud-token"));

    // A failing credential is not saved, and names its cause.
    let r = s.add_credential(
        "bad",
        sim.base_url(),
        "cloud-token",
        &["--email", &email, "--secret-stdin"],
        Some(wrong_canary),
    );
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("bad_credentials"));
    assert_eq!(s.run(&["credential", "show", "bad"], None, &[]).code, 2);
    // Plain http to another host is refused before anything is sent.
    let r = s.add_credential(
        "lan",
        "http://jira.example.com",
        "pat",
        &["--secret-stdin"],
        Some(wrong_canary),
    );
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("http_not_allowed"), "{}", r.stdout);

    assert_eq!(s.run(&["credential", "remove", "prod"], None, &[]).code, 0);
    assert_eq!(s.run(&["credential", "test", "prod"], None, &[]).code, 2);

    s.assert_never_seen(&canary);
    s.assert_never_seen(wrong_canary);
    let _ = std::fs::remove_dir_all(&s.home);
}

/// `credential add --auth oauth1` runs the dance: it prints the approval URL, a user approves it in
/// a "browser" (here: a request signed in as the admin), pastes the code, and the token works.
#[tokio::test(flavor = "multi_thread")]
async fn oauth1_dance_from_the_command_line() {
    use std::io::BufRead;
    let sim = Sim::builder()
        .deployment(Deployment::Datacenter)
        .issues(20)
        .seed(43)
        .context_path("/jira")
        .start()
        .await
        .expect("sim");
    let id = sim.identity("oauth1").expect("oauth1").clone();
    let admin = sim.identity("admin").expect("admin").clone();
    let home = std::env::temp_dir().join(format!("jiralink-cli-oauth1-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&home);
    std::fs::create_dir_all(&home).expect("home");
    let key_file = home.join("consumer.pem");
    std::fs::write(&key_file, &id.extra["private_key_pem"]).expect("key");
    let mut child = Command::new(env!("CARGO_BIN_EXE_jiralink"))
        .arg("--home")
        .arg(&home)
        .args([
            "credential",
            "add",
            "dc",
            "--url",
            sim.base_url(),
            "--auth",
            "oauth1",
            "--consumer-key",
            &id.extra["consumer_key"],
            "--private-key-file",
        ])
        .arg(&key_file)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let stderr = child.stderr.take().expect("stderr");
    let mut lines = std::io::BufReader::new(stderr).lines();
    let url = loop {
        let line = lines
            .next()
            .expect("the approval URL is printed")
            .expect("utf-8");
        if let Some(u) = line.trim().strip_prefix("http") {
            break format!("http{u}");
        }
    };
    assert!(
        url.contains("/jira/plugins/servlet/oauth/authorize?oauth_token="),
        "{url}"
    );
    let verifier = sim
        .test_api()
        .approve_oauth1(&url, admin.username.as_deref().unwrap_or_default())
        .expect("a verification code");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(format!("{verifier}\n").as_bytes())
        .expect("write");
    let out = child.wait_with_output().expect("exit");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("dc: OK") && stdout.contains(admin.username.as_deref().unwrap_or("?")),
        "{stdout}"
    );
    let _ = std::fs::remove_dir_all(&home);
}

/// OAuth 2.0 (3LO): each use rotates the refresh token; the vault keeps the newest, so repeated
/// tests keep working, and neither the client secret nor any refresh token shows anywhere.
#[tokio::test(flavor = "multi_thread")]
async fn oauth2_refresh_rotation_is_persisted() {
    let sim = start_sim(Deployment::Cloud, 20, 44).await;
    let id = sim.identity("oauth2").expect("oauth2").clone();
    let mut s = Session::new("oauth2");
    let r = s.run(
        &[
            "credential",
            "add",
            "app",
            "--url",
            sim.base_url(),
            "--auth",
            "oauth2",
            "--client-id",
            &id.extra["client_id"],
            "--client-secret-env",
            "APP_SECRET",
            "--oauth-token-url",
            &id.extra["token_url"],
            "--gateway-url",
            sim.gateway_url(),
            "--secret-stdin",
        ],
        Some(&id.secret),
        &[("APP_SECRET", &id.extra["client_secret"])],
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    for _ in 0..3 {
        let r = s.run(&["--json", "credential", "test", "app"], None, &[]);
        assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    }
    assert_eq!(s.run(&["access", "app"], None, &[]).code, 0);
    s.assert_never_seen(&id.secret);
    s.assert_never_seen(&id.extra["client_secret"]);
    let _ = std::fs::remove_dir_all(&s.home);
}
