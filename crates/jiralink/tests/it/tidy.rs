//! The checkable invariants of ARCHITECTURE.md, enforced over the source tree (rust-analyzer's
//! `tidy.rs` is the model): each rule is a function from one file (its path from the workspace root
//! and its text) to what it breaks; `the_tree_keeps_the_invariants` runs every rule over the tree,
//! minus the explicit [`ALLOWED`] list, and each rule is shown failing on a fixture.
//!
//! The rules: environment reads only in the binary; the HTTP client built and sent only by
//! `jiralink-api`'s send path; the simulator's model written only in `ops` (and never by a test);
//! integration tests only in `tests/it/`; every module opens with its `//!` line; the crates depend
//! on each other only in the direction the data flows, and only the store on a database client; no
//! unsafe code but the one allowed below.

use std::path::{Path, PathBuf};

/// A rule's finding in one file.
type Finding = String;

/// Exceptions, each with its reason: (rule, path, why). An entry no longer needed fails the test,
/// so the list only shrinks.
const ALLOWED: &[(&str, &str, &str)] = &[
    (
        "env",
        "crates/jiralink-api/src/secure.rs",
        "the proxy variables (HTTPS_PROXY, NO_PROXY ...) as curl reads them; to move to the binary with the typed client of issue 14",
    ),
    (
        "unsafe",
        "crates/jiralink/src/main.rs",
        "keep_freed_memory sets mimalloc's purge delay, which no safe API sets (a sync's CPU per issue ~10% lower, page faults 38,000 -> 1,150 on 20,000 issues)",
    ),
    (
        "model",
        "crates/jiralink-sim/src/oauth2.rs",
        "issues OAuth 2.0 access tokens: authentication state, not the Jira data searches are cached over",
    ),
    (
        "model",
        "crates/jiralink-sim/src/server.rs",
        "counts failed Data Center logins for the CAPTCHA: authentication state, not the Jira data searches are cached over",
    ),
];

/// The text of a source file without its `#[cfg(test)]` module (unit tests may read the
/// environment or build fixtures as they like).
fn without_tests(text: &str) -> &str {
    let mut at = 0;
    for line in text.split_inclusive('\n') {
        if line.trim() == "#[cfg(test)]"
            && text[at + line.len()..]
                .trim_start()
                .starts_with("mod tests")
        {
            return &text[..at];
        }
        at += line.len();
    }
    text
}

/// Library and binary code: `crates/*/src/**.rs` (not tests, benches or examples).
fn is_src(path: &str) -> bool {
    path.starts_with("crates/") && path.split('/').nth(2) == Some("src") && path.ends_with(".rs")
}

/// Rule `env`: only the binary (`crates/jiralink/src`) reads the environment.
fn env_reads(path: &str, text: &str) -> Vec<Finding> {
    if !is_src(path) || path.starts_with("crates/jiralink/src/") {
        return Vec::new();
    }
    let needle = ["env::", "var"].concat();
    without_tests(text)
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(&needle) && !l.trim_start().starts_with("//"))
        .map(|(n, l)| format!("{path}:{}: reads the environment: {}", n + 1, l.trim()))
        .collect()
}

/// Rule `http`: no crate but `jiralink-api` names the HTTP client, and in it only the send path
/// (`client.rs` and `send.rs`, and `secure.rs` which wraps the client every request takes) builds
/// or holds one.
fn http_clients(path: &str, text: &str) -> Vec<Finding> {
    if !is_src(path) {
        return Vec::new();
    }
    let api = path.starts_with("crates/jiralink-api/src/");
    let send_path = matches!(
        path,
        "crates/jiralink-api/src/client.rs"
            | "crates/jiralink-api/src/send.rs"
            | "crates/jiralink-api/src/secure.rs"
    );
    let crate_name = ["req", "west"].concat();
    let builders = [
        [&crate_name, "::Client"].concat(),
        [&crate_name, "::get("].concat(),
        [&crate_name, "::blocking"].concat(),
    ];
    without_tests(text)
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim_start().starts_with("//"))
        .filter_map(|(n, l)| {
            if !api && l.contains(&crate_name) {
                Some(format!(
                    "{path}:{}: HTTP client outside jiralink-api: {}",
                    n + 1,
                    l.trim()
                ))
            } else if api && !send_path && builders.iter().any(|b| l.contains(b.as_str())) {
                Some(format!(
                    "{path}:{}: an HTTP client outside the send path (client.rs, send.rs): {}",
                    n + 1,
                    l.trim()
                ))
            } else {
                None
            }
        })
        .collect()
}

/// Rule `model`: the simulator's site is changed only by `ops` (the methods of `ops.rs`, followed
/// by `Shared::touch`); `model.rs` defines it and `generate.rs` builds it before it is shared. A
/// test never takes the site's write lock (it uses `Sim::test_api`).
fn model_writes(path: &str, text: &str) -> Vec<Finding> {
    let lock = ["site", ".write()"].concat();
    if path.contains("/tests/") {
        return if text.contains(&lock) {
            vec![format!(
                "{path}: a test writes the model directly (use Sim::test_api)"
            )]
        } else {
            Vec::new()
        };
    }
    if !path.starts_with("crates/jiralink-sim/src/")
        || matches!(
            path,
            "crates/jiralink-sim/src/ops.rs"
                | "crates/jiralink-sim/src/model.rs"
                | "crates/jiralink-sim/src/generate.rs"
        )
    {
        return Vec::new();
    }
    let mutators = [
        "push", "insert", "remove", "retain", "clear", "extend", "truncate", "entry",
    ];
    let mut out = Vec::new();
    for (n, line) in without_tests(text).lines().enumerate() {
        let l = line.trim();
        if l.starts_with("//") {
            continue;
        }
        let mut rest = l;
        while let Some(i) = rest.find("site.") {
            let before = rest[..i].chars().last();
            let expr = &rest[i..];
            rest = &rest[i + 5..];
            if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
                continue;
            }
            // The place expression: `site.field`, `site.field[ix].more`.
            let end = expr
                .find(|c: char| !(c.is_alphanumeric() || "_.[]".contains(c)))
                .unwrap_or(expr.len());
            let (place, after) = expr.split_at(end);
            let after = after.trim_start();
            let assigns =
                (after.starts_with('=') && !after.starts_with("==") && !after.starts_with("=>"))
                    || after.starts_with("+=")
                    || after.starts_with("-=");
            let method = place.rsplit('.').next().unwrap_or("");
            let mutates =
                after.starts_with('(') && (mutators.contains(&method) || method.ends_with("_mut"));
            let borrowed = l[..l.len() - expr.len()].trim_end().ends_with("&mut");
            if assigns || mutates || borrowed {
                out.push(format!(
                    "{path}:{}: writes the model outside ops: {l}",
                    n + 1
                ));
                break;
            }
        }
    }
    out
}

/// Rule `tests`: a crate's integration tests are one binary, `tests/it/main.rs` and its modules.
fn test_layout(path: &str, _text: &str) -> Vec<Finding> {
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        ["crates", _, "tests", rest @ ..]
            if path.ends_with(".rs") && rest.first() != Some(&"it") =>
        {
            vec![format!("{path}: an integration test outside tests/it/ (make it a module of tests/it/main.rs)")]
        }
        _ => Vec::new(),
    }
}

/// Rule `docs`: every Rust file opens with its `//!` line saying what it is.
fn module_docs(path: &str, text: &str) -> Vec<Finding> {
    if path.ends_with(".rs") && !text.starts_with("//!") {
        vec![format!(
            "{path}: does not open with a `//!` line saying what it is"
        )]
    } else {
        Vec::new()
    }
}

/// The `[dependencies]` (not dev-dependencies) of a Cargo.toml, by name.
fn dependencies(manifest: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut on = false;
    for line in manifest.lines().map(str::trim) {
        if line.starts_with('[') {
            on = line == "[dependencies]";
            continue;
        }
        if on && !line.is_empty() && !line.starts_with('#') {
            let name = line.split(['=', '.', ' ']).next().unwrap_or("");
            out.push(name.trim().to_owned());
        }
    }
    out
}

/// Rule `deps`: the crates depend on each other only as the data flows (Jira → api → sync →
/// store → insights; the simulator on none of them), only the store has a database client, and
/// neither the store nor insights an HTTP client.
fn crate_deps(path: &str, text: &str) -> Vec<Finding> {
    let Some(krate) = path
        .strip_prefix("crates/")
        .and_then(|p| p.strip_suffix("/Cargo.toml"))
    else {
        return Vec::new();
    };
    let allowed: &[&str] = match krate {
        "jiralink-api" | "jiralink-vault" | "jiralink-store" | "jiralink-sim" => &[],
        "jiralink-sync" => &["jiralink-api", "jiralink-store"],
        "jiralink-insights" => &["jiralink-store"],
        _ => return Vec::new(),
    };
    let databases = ["rusqlite", "postgres", "tokio-postgres"];
    let http = ["reqwest", "hyper"];
    dependencies(text)
        .into_iter()
        .filter_map(|d| {
            let bad = (d.starts_with("jiralink") && !allowed.contains(&d.as_str()))
                || (krate != "jiralink-store" && databases.contains(&d.as_str()))
                || (matches!(krate, "jiralink-store" | "jiralink-insights")
                    && http.contains(&d.as_str()));
            bad.then(|| format!("{path}: {krate} must not depend on {d}"))
        })
        .collect()
}

type Rule = fn(&str, &str) -> Vec<Finding>;

/// Rule `unsafe`: no unsafe code (the workspace denies it; an exception is allowed here, with its
/// reason, and nowhere else).
fn unsafe_code(path: &str, text: &str) -> Vec<Finding> {
    if !path.ends_with(".rs") {
        return Vec::new();
    }
    let marks = [
        ["unsafe", " {"].concat(),
        ["unsafe", " fn"].concat(),
        ["allow(", "unsafe_code)"].concat(),
    ];
    text.lines()
        .enumerate()
        .filter(|(_, line)| {
            let code = line.split("//").next().unwrap_or("");
            marks.iter().any(|m| code.contains(m.as_str()))
        })
        .map(|(i, _)| format!("{path}:{}: unsafe code", i + 1))
        .collect()
}

const RULES: &[(&str, Rule)] = &[
    ("env", env_reads),
    ("unsafe", unsafe_code),
    ("http", http_clients),
    ("model", model_writes),
    ("tests", test_layout),
    ("docs", module_docs),
    ("deps", crate_deps),
];

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every `.rs` file and crate manifest under `crates/`, as (path from the root, text).
fn files() -> Vec<(String, String)> {
    let root = workspace();
    let mut out = Vec::new();
    let mut stack = vec![root.join("crates")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).expect("readable dir").flatten() {
            let path = entry.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if path.is_dir() {
                if name != "target" && !name.starts_with('.') {
                    stack.push(path);
                }
            } else if name.ends_with(".rs") || name == "Cargo.toml" {
                let rel = path
                    .strip_prefix(&root)
                    .expect("under the root")
                    .to_string_lossy()
                    .replace('\\', "/");
                let text = std::fs::read_to_string(&path).expect("readable file");
                out.push((rel, text));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn the_tree_keeps_the_invariants() {
    let files = files();
    assert!(files.len() > 50, "the scan found {} files", files.len());
    let mut broken = Vec::new();
    let mut used = vec![false; ALLOWED.len()];
    for (path, text) in &files {
        for (rule, check) in RULES {
            let found = check(path, text);
            if found.is_empty() {
                continue;
            }
            match ALLOWED.iter().position(|(r, p, _)| r == rule && p == path) {
                Some(i) => used[i] = true,
                None => broken.extend(found.into_iter().map(|f| format!("[{rule}] {f}"))),
            }
        }
    }
    for (i, (rule, path, _)) in ALLOWED.iter().enumerate() {
        if !used[i] {
            broken.push(format!(
                "[{rule}] {path} is allowed but no longer breaks the rule: remove it from ALLOWED"
            ));
        }
    }
    assert!(
        broken.is_empty(),
        "the tree breaks ARCHITECTURE.md's invariants:\n{}",
        broken.join("\n")
    );
}

#[test]
fn each_rule_fails_on_a_fixture() {
    let env = ["std::env::", "var(\"HOME\")"].concat();
    let env_os = ["let k = env::", "var_os(\"PGSSLROOTCERT\");"].concat();
    let http = ["let c = req", "west::Client::new();"].concat();
    let lock = ["let mut s = site", ".write();"].concat();
    let unsafe_block = ["unsafe", " { f() }"].concat();
    let allow_unsafe = ["allow(", "unsafe_code)"].concat();
    let cases: &[(&str, &str, &str, bool)] = &[
        // (rule, path, text, broken)
        ("env", "crates/jiralink-store/src/lib.rs", &format!("//! x\nfn f() {{ {env}; }}"), true),
        ("env", "crates/jiralink-store/src/pg.rs", &format!("//! x\n{env_os}"), true),
        ("env", "crates/jiralink/src/main.rs", &format!("//! x\n{env}"), false),
        ("env", "crates/jiralink-store/tests/it/pg.rs", &format!("//! x\n{env}"), false),
        ("env", "crates/jiralink-sim/src/a.rs", &format!("//! x\n#[cfg(test)]\nmod tests {{ {env} }}"), false),
        ("unsafe", "crates/jiralink-store/src/wal.rs", &format!("//! x\nfn f() {{ {unsafe_block} }}"), true),
        ("unsafe", "crates/jiralink-sim/tests/it/a.rs", &format!("//! x\n#[{allow_unsafe}]\nfn f() {{}}"), true),
        ("unsafe", "crates/jiralink-store/src/wal.rs", "//! x\n// not an unsafe { block }\nlet unsafe_name = 1;", false),
        ("http", "crates/jiralink-sync/src/lib.rs", &format!("//! x\n{http}"), true),
        ("http", "crates/jiralink-api/src/probe.rs", &format!("//! x\n{http}"), true),
        ("http", "crates/jiralink-api/src/client.rs", &format!("//! x\n{http}"), false),
        ("model", "crates/jiralink-sim/src/routes/writes.rs", "//! x\nsite.issues[i].labels.push(l);", true),
        ("model", "crates/jiralink-sim/src/routes/writes.rs", "//! x\nsite.now_ms = 5;", true),
        ("model", "crates/jiralink-sim/src/routes/writes.rs", "//! x\nlet u = &mut site.users[ix];", true),
        ("model", "crates/jiralink-sim/src/routes/writes.rs", "//! x\nif site.users[u].active => 1, site.add_label(id, l);", false),
        ("model", "crates/jiralink-sim/src/ops.rs", "//! x\nsite.issues.push(i);", false),
        ("model", "crates/jiralink-sync/tests/it/a.rs", &format!("//! x\n{lock}"), true),
        ("tests", "crates/jiralink-store/tests/postgres.rs", "//! x", true),
        ("tests", "crates/jiralink-store/tests/it/postgres.rs", "//! x", false),
        ("docs", "crates/jiralink-store/src/migrate.rs", "use std::fs;\n", true),
        ("docs", "crates/jiralink-store/src/migrate.rs", "// a comment\n//! late", true),
        ("docs", "crates/jiralink-store/src/migrate.rs", "//! The runner.\n", false),
        ("deps", "crates/jiralink-insights/Cargo.toml", "[dependencies]\njiralink-store.workspace = true\nrusqlite.workspace = true\n", true),
        ("deps", "crates/jiralink-api/Cargo.toml", "[dependencies]\njiralink-store = { workspace = true }\n", true),
        ("deps", "crates/jiralink-store/Cargo.toml", "[dependencies]\nreqwest.workspace = true\n", true),
        ("deps", "crates/jiralink-insights/Cargo.toml", "[dependencies]\njiralink-store.workspace = true\n[dev-dependencies]\njiralink-sync.workspace = true\n", false),
    ];
    for (rule, path, text, broken) in cases {
        let check = RULES
            .iter()
            .find(|(r, _)| r == rule)
            .map(|(_, c)| c)
            .expect("a rule");
        let found = check(path, text);
        assert_eq!(
            !found.is_empty(),
            *broken,
            "[{rule}] {path}: {text:?} gave {found:?}"
        );
    }
    for (rule, _) in RULES {
        assert!(
            cases.iter().any(|(r, _, _, broken)| r == rule && *broken),
            "rule {rule} is never shown failing"
        );
    }
}
