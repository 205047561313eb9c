//! `jiralink sync NAME` and `jiralink status`: mirror Jira into the store, and report on it.

use anyhow::Context;
use jiralink_store::{Backend, Store};
use jiralink_sync::SyncOptions;
use serde_json::json;

use super::credential::print_table;
use super::{connect, progress, Failed, UsageError};
use crate::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The credential to sync with.
    name: String,
    /// Only these projects (comma-separated keys).
    #[arg(long, value_delimiter = ',')]
    projects: Vec<String>,
    /// Ignore watermarks: fetch everything again (deletes are still detected).
    #[arg(long)]
    full: bool,
    /// Concurrent bulk requests.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// At most this many requests per second (leave room for other integrations on the site).
    #[arg(long)]
    max_rps: Option<f64>,
}

/// Where the store is: an SQLite file, or a PostgreSQL database.
pub enum StoreSpec {
    Sqlite(std::path::PathBuf),
    Postgres(String),
}

/// The store named by `--store` (`sqlite:PATH` or `postgres://USER@HOST[:PORT]/DB`, with
/// `?sslmode=require` for verified TLS), or the home's SQLite file. A Postgres password never comes
/// from the arguments (others can read them): it comes from `PGPASSWORD`.
pub fn store_spec(global: &Global) -> anyhow::Result<StoreSpec> {
    let Some(spec) = global.store.as_deref() else {
        let home = connect::home(global.home.clone())?;
        std::fs::create_dir_all(&home)
            .with_context(|| format!("cannot create {}", home.display()))?;
        return Ok(StoreSpec::Sqlite(home.join("jiralink.db")));
    };
    if let Some(p) = spec.strip_prefix("sqlite:") {
        return Ok(StoreSpec::Sqlite(std::path::PathBuf::from(p)));
    }
    if spec.starts_with("postgres://") || spec.starts_with("postgresql://") {
        let userinfo = spec
            .split_once("://")
            .map(|(_, rest)| rest.split(['/', '?']).next().unwrap_or_default())
            .and_then(|authority| authority.rsplit_once('@').map(|(u, _)| u))
            .unwrap_or_default();
        let password_param = spec.split_once('?').is_some_and(|(_, query)| {
            query
                .split('&')
                .any(|kv| kv.split('=').next() == Some("password"))
        });
        if userinfo.contains(':') || password_param {
            anyhow::bail!(UsageError(
                "--store: the Postgres URL holds a password, which other users can read in the process list; remove it from the URL and set PGPASSWORD instead".to_owned()
            ));
        }
        return Ok(StoreSpec::Postgres(spec.to_owned()));
    }
    anyhow::bail!(UsageError(format!(
        "--store {spec}: give sqlite:PATH or postgres://USER@HOST[:PORT]/DATABASE"
    )))
}

/// Opens (creating and migrating) the store of `store_spec`.
pub fn open_store(global: &Global) -> anyhow::Result<Box<dyn Backend>> {
    Ok(match store_spec(global)? {
        StoreSpec::Sqlite(path) => Box::new(
            Store::open_sqlite(&path)
                .with_context(|| format!("cannot open the store {}", path.display()))?,
        ),
        StoreSpec::Postgres(url) => {
            let target = pg_target(url);
            Box::new(
                jiralink_store::postgres::PgStore::connect_to(&target)
                    .with_context(|| format!("cannot open the Postgres store {target}"))?,
            )
        }
    })
}

/// A Postgres store's target: the URL of `--store`, the password from `PGPASSWORD` (never from
/// the arguments) and a private CA from `PGSSLROOTCERT`, as libpq reads them.
pub fn pg_target(url: String) -> jiralink_store::postgres::PgTarget {
    let set = |name: &str| std::env::var_os(name).filter(|v| !v.is_empty());
    jiralink_store::postgres::PgTarget {
        url,
        password: set("PGPASSWORD")
            .map(|p| secrecy::SecretString::from(p.to_string_lossy().into_owned())),
        root_cert: set("PGSSLROOTCERT").map(std::path::PathBuf::from),
    }
}

pub async fn run(args: Args, global: Global) -> anyhow::Result<()> {
    let home = connect::home(global.home.clone())?;
    let vault = connect::vault(&home)?;
    let mut store = open_store(&global)?;
    let (_, client) = connect::connected(&vault, &args.name, global.out.json).await?;
    connect::limit_rate(&client, args.max_rps)?;
    let mut opts = SyncOptions::new(&args.name);
    opts.projects = args.projects;
    opts.full = args.full;
    opts.concurrency = args.concurrency;
    let bar = (!global.quiet).then(|| progress::Reporter::new(&args.name));
    opts.progress = bar.as_ref().map(progress::Reporter::sink);
    let result = jiralink_sync::sync(&client, &mut *store, &opts).await;
    if let Some(bar) = bar {
        bar.finish();
    }
    match result {
        Ok(s) => {
            if global.out.json {
                println!("{}", serde_json::to_value(&s)?);
            } else {
                println!(
                    "{}: synced {} project(s): {} issues written ({} changelog items, {} comments, {} worklogs), {} deleted, {} sprints; {} requests ({} retries) in {:.1} s",
                    args.name, s.projects, s.issues_written, s.changelog_items, s.comments, s.worklogs, s.issues_deleted, s.sprints, s.requests, s.retries, s.duration_ms as f64 / 1000.0
                );
                if !s.projects_not_visible.is_empty() {
                    println!(
                        "{}: no longer sees {} (their rows are kept, not deleted; `jiralink access {}` shows what it can browse)",
                        args.name,
                        s.projects_not_visible.join(", "),
                        args.name
                    );
                }
            }
            Ok(())
        }
        Err(jiralink_sync::SyncError::Jira(e)) => {
            connect::print_diagnosis(&args.name, &e.diagnosis(), global.out.json);
            Err(Failed.into())
        }
        Err(e @ jiralink_sync::SyncError::UnknownProjects { .. }) => {
            Err(UsageError(e.to_string()).into())
        }
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// The credential to compare with.
    name: String,
    /// Only these projects (comma-separated keys).
    #[arg(long, value_delimiter = ',')]
    projects: Vec<String>,
    /// Issues per project whose update time is compared.
    #[arg(long, default_value_t = 100)]
    sample: usize,
}

/// `jiralink verify NAME`: exit 0 when the store matches Jira, 1 with the drift listed when not.
pub async fn verify(args: VerifyArgs, global: Global) -> anyhow::Result<()> {
    let home = connect::home(global.home.clone())?;
    let vault = connect::vault(&home)?;
    let mut store = open_store(&global)?;
    let (_, client) = connect::connected(&vault, &args.name, global.out.json).await?;
    let report =
        match jiralink_sync::verify(&client, &mut *store, &args.projects, args.sample).await {
            Ok(r) => r,
            Err(e @ jiralink_sync::SyncError::UnknownProjects { .. }) => {
                anyhow::bail!(UsageError(e.to_string()))
            }
            Err(jiralink_sync::SyncError::Jira(e)) => {
                connect::print_diagnosis(&args.name, &e.diagnosis(), global.out.json);
                return Err(Failed.into());
            }
            Err(e) => return Err(anyhow::anyhow!(e)),
        };
    if global.out.json {
        println!("{}", serde_json::to_value(&report)?);
    } else {
        let rows: Vec<Vec<String>> = report
            .projects
            .iter()
            .map(|p| {
                vec![
                    p.project.clone(),
                    p.in_jira.to_string(),
                    p.in_store.to_string(),
                    p.missing.len().to_string(),
                    p.extra.len().to_string(),
                    p.stale.len().to_string(),
                ]
            })
            .collect();
        print_table(
            &[
                "PROJECT",
                "JIRA",
                "STORE",
                "MISSING",
                "EXTRA",
                "STALE (SAMPLED)",
            ],
            &rows,
        );
        for p in &report.projects {
            if let Some(said) = &p.vanished {
                println!(
                    "{}: no longer visible to this credential; Jira said: {said}",
                    p.project
                );
            }
        }
        if !report.not_visible.is_empty() {
            println!(
                "\nnot visible to {} (kept in the store, not compared): {}",
                args.name,
                report.not_visible.join(", ")
            );
        }
        println!(
            "\n{}: {} ({} issues sampled, {} requests)",
            args.name,
            if report.ok {
                "no drift"
            } else {
                "drift found: run `jiralink sync` to catch up"
            },
            report.sampled,
            report.requests
        );
    }
    if report.ok {
        Ok(())
    } else {
        Err(Failed.into())
    }
}

pub fn status(global: Global) -> anyhow::Result<()> {
    let mut store = open_store(&global)?;
    let text = |store: &dyn Backend, sql: &str| -> anyhow::Result<Vec<Vec<String>>> {
        let (_, rows) = store.query_strings(sql)?;
        Ok(rows
            .into_iter()
            .map(|r| r.into_iter().map(Option::unwrap_or_default).collect())
            .collect())
    };
    // Each site's counts (rows of two sites never mix), and their sum.
    let sites = text(
        &*store,
        "SELECT site_id, deployment, base_url, title, version FROM sites ORDER BY site_id",
    )?;
    let mut counts = jiralink_store::Counts::default();
    let mut per_site = Vec::new();
    for site in &sites {
        store.scope_to(&site[0])?;
        let c = store.counts()?;
        counts.projects += c.projects;
        counts.issues += c.issues;
        counts.issues_deleted += c.issues_deleted;
        counts.changes += c.changes;
        counts.comments += c.comments;
        counts.worklogs += c.worklogs;
        counts.sprints += c.sprints;
        per_site.push(c);
    }
    let store = &*store;
    let mut runs = text(store, "SELECT id, site_id, credential, started, finished, status, requests, issues_written, error FROM sync_runs ORDER BY id DESC LIMIT 10")?;
    // Postgres gives these as timestamptz; both stores print them as the store writes them.
    for run in &mut runs {
        for t in &mut run[3..5] {
            if let Some(iso) = jiralink_store::utc(t) {
                *t = iso;
            }
        }
    }
    let marks = text(store, "SELECT site_id, credential, scope, value FROM t_checkpoints WHERE stream = 'issues' ORDER BY site_id, credential, scope")?;
    let hidden = text(
        store,
        "SELECT site_id, credential, project_key FROM not_visible ORDER BY site_id, credential, project_key",
    )?;
    let counts_json = |c: &jiralink_store::Counts| json!({"projects": c.projects, "issues": c.issues, "issues_deleted": c.issues_deleted, "changes": c.changes, "comments": c.comments, "worklogs": c.worklogs, "sprints": c.sprints});
    if global.out.json {
        let sites_json: Vec<_> = sites
            .iter()
            .zip(&per_site)
            .map(|(s, c)| json!({"site_id": s[0], "deployment": s[1], "base_url": s[2], "title": s[3], "version": s[4], "counts": counts_json(c)}))
            .collect();
        // Named fields, numbers as numbers, and null for what is not there (a run not finished,
        // no error).
        let text = |v: &str| if v.is_empty() { json!(null) } else { json!(v) };
        let number = |v: &str| v.parse::<i64>().map_or_else(|_| text(v), |n| json!(n));
        let runs_json: Vec<_> = runs
            .iter()
            .map(|r| json!({"id": number(&r[0]), "site_id": r[1], "credential": r[2], "started": text(&r[3]), "finished": text(&r[4]), "status": r[5], "requests": number(&r[6]), "issues_written": number(&r[7]), "error": text(&r[8])}))
            .collect();
        let marks_json: Vec<_> = marks
            .iter()
            .map(|m| json!({"site_id": m[0], "credential": m[1], "scope": m[2], "value": text(&m[3])}))
            .collect();
        let hidden_json: Vec<_> = hidden
            .iter()
            .map(|h| json!({"site_id": h[0], "credential": h[1], "project_key": h[2]}))
            .collect();
        println!(
            "{}",
            json!({"counts": counts_json(&counts), "sites": sites_json, "runs": runs_json, "watermarks": marks_json, "not_visible": hidden_json})
        );
        return Ok(());
    }
    println!("store: {} projects, {} issues ({} deleted), {} changelog items, {} comments, {} worklogs, {} sprints\n", counts.projects, counts.issues, counts.issues_deleted, counts.changes, counts.comments, counts.worklogs, counts.sprints);
    let site_rows: Vec<Vec<String>> = sites
        .iter()
        .zip(&per_site)
        .map(|(s, c)| {
            vec![
                s[0].clone(),
                s[1].clone(),
                s[2].clone(),
                c.projects.to_string(),
                c.issues.to_string(),
                c.issues_deleted.to_string(),
            ]
        })
        .collect();
    print_table(
        &["SITE", "DEPLOYMENT", "URL", "PROJECTS", "ISSUES", "DELETED"],
        &site_rows,
    );
    println!();
    print_table(
        &[
            "RUN",
            "SITE",
            "CREDENTIAL",
            "STARTED",
            "FINISHED",
            "STATUS",
            "REQUESTS",
            "ISSUES",
            "ERROR",
        ],
        &runs,
    );
    println!();
    print_table(&["SITE", "CREDENTIAL", "PROJECT", "WATERMARK"], &marks);
    if !hidden.is_empty() {
        println!();
        print_table(&["SITE", "CREDENTIAL", "NOT VISIBLE"], &hidden);
    }
    Ok(())
}
