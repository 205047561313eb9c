//! `jiralink apply NAME FILE`: make Jira match the records of a JSONL or CSV file, idempotently,
//! with every write in the store's ledger; `--log` shows that ledger.

use std::cell::Cell;
use std::io::{IsTerminal, Read, Write};
use std::time::{Duration, Instant};

use anyhow::Context;
use jiralink_apply::{OnConflict, Options, Outcome};
use jiralink_store::ledger::Ledger;
use jiralink_store::Backend;
use serde_json::json;

use super::credential::print_table;
use super::progress::{fit, terminal_width};
use super::sync::{store_spec, StoreSpec};
use super::{connect, Failed, UsageError};
use crate::Global;

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum ConflictArg {
    Fail,
    JiraWins,
    FileWins,
}

#[derive(Debug, clap::Args)]
pub struct Args {
    /// The credential to write with (Jira records its account as the author).
    name: String,
    /// JSON Lines (one record per line) or CSV with a header row (`.csv`, or `--csv`); `-` reads
    /// standard input.
    file: Option<String>,
    /// Print the plan and write nothing.
    #[arg(long)]
    dry_run: bool,
    /// When Jira's value changed since the last apply and the file's differs too.
    #[arg(long, value_enum, default_value = "fail")]
    on_conflict: ConflictArg,
    /// Read FILE as CSV whatever its name.
    #[arg(long)]
    csv: bool,
    /// Show the write log of this credential's site instead of applying.
    #[arg(long)]
    log: bool,
    /// With --log: only writes from this instant on (ISO-8601, e.g. 2024-05-01 or 2024-05-01T12:00:00Z).
    #[arg(long, requires = "log")]
    since: Option<String>,
    /// Records worked on at once after the creates.
    #[arg(long, default_value_t = 4)]
    concurrency: usize,
    /// Seconds to wait after a write whose answer was lost, or whose run was killed, before
    /// searching Jira for it (the request may still be running there).
    #[arg(long, default_value_t = 10.0)]
    reconcile_after: f64,
    /// At most this many requests per second (leave room for other integrations on the site).
    #[arg(long)]
    max_rps: Option<f64>,
}

/// The store, as the ledger and as the sync's backend (for the site).
enum LedgerStore {
    Sqlite(Box<jiralink_store::Store>),
    Postgres(Box<jiralink_store::postgres::PgStore>),
}

impl LedgerStore {
    fn ledger(&mut self) -> &mut dyn Ledger {
        match self {
            LedgerStore::Sqlite(s) => &mut **s,
            LedgerStore::Postgres(s) => &mut **s,
        }
    }
    fn backend(&mut self) -> &mut dyn Backend {
        match self {
            LedgerStore::Sqlite(s) => &mut **s,
            LedgerStore::Postgres(s) => &mut **s,
        }
    }
}

fn open_ledger(global: &Global) -> anyhow::Result<LedgerStore> {
    Ok(match store_spec(global)? {
        StoreSpec::Sqlite(path) => LedgerStore::Sqlite(Box::new(
            jiralink_store::Store::open_sqlite(&path)
                .with_context(|| format!("cannot open the store {}", path.display()))?,
        )),
        StoreSpec::Postgres(url) => {
            let target = super::sync::pg_target(url);
            LedgerStore::Postgres(Box::new(
                jiralink_store::postgres::PgStore::connect_to(&target)
                    .with_context(|| format!("cannot open the Postgres store {target}"))?,
            ))
        }
    })
}

fn read_input(file: &str) -> anyhow::Result<String> {
    if file == "-" {
        let mut s = String::new();
        std::io::stdin()
            .read_to_string(&mut s)
            .map_err(|e| UsageError(format!("cannot read standard input: {e}")))?;
        return Ok(s);
    }
    std::fs::read_to_string(file).map_err(|e| {
        UsageError(format!(
            "cannot read {file}: {e}; give a JSON Lines or CSV file, or - for standard input"
        ))
        .into()
    })
}

pub async fn run(args: Args, global: Global) -> anyhow::Result<()> {
    // The input is checked before anything connects: a bad file is a usage error (exit 2).
    let parsed = match (&args.file, args.log) {
        (_, true) => None,
        (None, false) => anyhow::bail!(UsageError(
            "give the FILE of records to apply (or - for standard input), or --log to see the write log".into()
        )),
        (Some(f), false) => {
            let text = read_input(f)?;
            let csv = args.csv || f.to_ascii_lowercase().ends_with(".csv");
            Some(
                jiralink_apply::parse(&text, csv)
                    .map_err(|e| UsageError(format!("{f}: {e}")))?,
            )
        }
    };
    if !(args.reconcile_after >= 0.0 && args.reconcile_after <= 3600.0) {
        anyhow::bail!(UsageError(format!(
            "--reconcile-after {}: give a number of seconds from 0 to 3600",
            args.reconcile_after
        )));
    }
    if args.concurrency == 0 {
        anyhow::bail!(UsageError("--concurrency must be at least 1".into()));
    }
    let mut store = open_ledger(&global)?;
    let home = connect::home(global.home.clone())?;
    let vault = connect::vault(&home)?;
    let (_, client) = connect::connected(&vault, &args.name, global.out.json).await?;
    connect::limit_rate(&client, args.max_rps)?;
    let site = async {
        let info = client.server_info().await?;
        jiralink_sync::site::resolve(&client, &info)
            .await
            .map_err(|e| match e {
                jiralink_sync::SyncError::Jira(e) => e,
                other => jiralink_api::Error::Config(other.to_string()),
            })
    }
    .await;
    let site = match site {
        Ok(s) => s,
        Err(e) => {
            connect::print_diagnosis(&args.name, &e.diagnosis(), global.out.json);
            return Err(Failed.into());
        }
    };
    store.backend().use_site(&site, &args.name)?;
    let Some(parsed) = parsed else {
        return show_log(store.ledger(), args.since.as_deref(), global.out.json);
    };

    let actor = connect::local_user();
    let run_id = format!(
        "{}-{}",
        chrono::Utc::now().format("%Y%m%dT%H%M%S%.3fZ"),
        std::process::id()
    );
    let bar = (!global.quiet).then(|| ApplyProgress::new(&args.name));
    let progress = |done: usize, total: usize| {
        if let Some(b) = &bar {
            b.report(done, total);
        }
    };
    let opts = Options {
        credential: args.name.clone(),
        actor,
        run_id,
        dry_run: args.dry_run,
        on_conflict: match args.on_conflict {
            ConflictArg::Fail => OnConflict::Fail,
            ConflictArg::JiraWins => OnConflict::JiraWins,
            ConflictArg::FileWins => OnConflict::FileWins,
        },
        concurrency: args.concurrency,
        reconcile_after: std::time::Duration::from_secs_f64(args.reconcile_after),
        progress: Some(&progress),
    };
    let report = match jiralink_apply::apply(&client, store.ledger(), parsed, &opts).await {
        Ok(r) => r,
        Err(jiralink_apply::ApplyError::Jira(e)) => {
            connect::print_diagnosis(&args.name, &e.diagnosis(), global.out.json);
            return Err(Failed.into());
        }
        Err(e) => return Err(e.into()),
    };
    if let Some(b) = &bar {
        b.finish();
    }
    if global.out.json {
        for r in &report.records {
            println!("{}", serde_json::to_value(r)?);
        }
        println!(
            "{}",
            json!({"summary": true, "run_id": report.run_id, "dry_run": args.dry_run,
                "created": report.created, "updated": report.updated, "unchanged": report.unchanged,
                "failed": report.failed, "writes": report.writes, "adopted": report.adopted,
                "requests": report.requests, "duration_ms": report.duration_ms})
        );
    } else {
        let rows: Vec<Vec<String>> = report
            .records
            .iter()
            .filter(|r| r.outcome != Outcome::Unchanged || args.dry_run)
            .map(|r| {
                vec![
                    r.line.to_string(),
                    r.external_id.clone(),
                    r.issue_key.clone().unwrap_or_default(),
                    if r.actions.is_empty() {
                        "nothing".into()
                    } else {
                        r.actions.join("; ")
                    },
                    match r.outcome {
                        Outcome::Planned => "planned",
                        Outcome::Applied => "applied",
                        Outcome::Unchanged => "unchanged",
                        Outcome::Failed => "failed",
                    }
                    .to_owned(),
                    r.problems.join("; "),
                ]
            })
            .collect();
        if !rows.is_empty() {
            print_table(
                &[
                    "LINE",
                    "EXTERNAL_ID",
                    "ISSUE",
                    "ACTIONS",
                    "OUTCOME",
                    "PROBLEMS",
                ],
                &rows,
            );
        }
        println!(
            "{}: {}{} created, {} updated, {} unchanged, {} failed; {} writes, {} adopted after lost answers, {} requests in {:.1} s (run {})",
            args.name,
            if args.dry_run { "dry run (nothing written): would have " } else { "" },
            report.created,
            report.updated,
            report.unchanged,
            report.failed,
            report.writes,
            report.adopted,
            report.requests,
            report.duration_ms as f64 / 1000.0,
            report.run_id
        );
    }
    if report.failed > 0 {
        return Err(Failed.into());
    }
    Ok(())
}

fn show_log(store: &mut dyn Ledger, since: Option<&str>, as_json: bool) -> anyhow::Result<()> {
    if let Some(s) = since {
        let ok = chrono::DateTime::parse_from_rfc3339(s).is_ok()
            || chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d").is_ok();
        if !ok {
            anyhow::bail!(UsageError(format!(
                "--since {s}: give an ISO-8601 date or instant, e.g. 2024-05-01 or 2024-05-01T12:00:00Z"
            )));
        }
    }
    let rows = store.log(since)?;
    if as_json {
        for r in rows {
            let e = &r.entry;
            println!(
                "{}",
                json!({"run_id": e.run_id, "credential": e.credential, "actor": e.actor,
                    "external_id": e.external_id, "action": e.action, "jira_id": e.jira_id,
                    "field": e.field, "before": e.before, "after": e.after, "outcome": r.outcome,
                    "error": r.error, "at": r.at, "ms": r.ms})
            );
        }
        return Ok(());
    }
    let table: Vec<Vec<String>> = rows
        .into_iter()
        .map(|r| {
            let e = r.entry;
            vec![
                r.at,
                e.run_id,
                e.actor,
                e.external_id,
                e.action,
                e.jira_id.unwrap_or_default(),
                e.field.unwrap_or_default(),
                r.outcome,
                r.error.unwrap_or_default(),
            ]
        })
        .collect();
    print_table(
        &[
            "AT",
            "RUN",
            "ACTOR",
            "EXTERNAL_ID",
            "ACTION",
            "JIRA_ID",
            "FIELD",
            "OUTCOME",
            "ERROR",
        ],
        &table,
    );
    Ok(())
}

/// Progress of an apply on stderr, as `sync` shows its own: a redrawn line on a terminal (a bar,
/// records, rate, ETA), a plain line every ten seconds otherwise (CI logs, files).
struct ApplyProgress {
    name: String,
    tty: bool,
    started: Instant,
    last: Cell<Option<Instant>>,
    drawn: Cell<bool>,
}

impl ApplyProgress {
    fn new(name: &str) -> ApplyProgress {
        ApplyProgress {
            name: name.to_owned(),
            tty: std::io::stderr().is_terminal(),
            started: Instant::now(),
            last: Cell::new(None),
            drawn: Cell::new(false),
        }
    }

    fn report(&self, done: usize, total: usize) {
        let now = Instant::now();
        if !due(self.last.get(), now, self.tty) && done < total {
            return;
        }
        self.last.set(Some(now));
        let line = progress_line(&self.name, done, total, now - self.started);
        let mut err = std::io::stderr().lock();
        if self.tty {
            let _ = write!(err, "\r\x1b[2K{}", fit(&line, terminal_width()));
            self.drawn.set(true);
        } else {
            let _ = writeln!(err, "{line}");
        }
        let _ = err.flush();
    }

    /// Clears the terminal line, so the summary prints on a clean one.
    fn finish(&self) {
        if self.tty && self.drawn.get() {
            let _ = write!(std::io::stderr(), "\r\x1b[2K");
        }
    }
}

/// Whether a progress line is due: every 100 ms on a terminal, every 10 s in a log.
fn due(last: Option<Instant>, now: Instant, tty: bool) -> bool {
    let every = if tty {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(10)
    };
    last.is_none_or(|l| now - l >= every)
}

fn progress_line(name: &str, done: usize, total: usize, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(0.001);
    let rate = done as f64 / secs;
    let width = 20;
    let filled = (done.min(total) * width)
        .checked_div(total)
        .unwrap_or(width);
    let left = total.saturating_sub(done);
    let eta = if rate > 0.0 && left > 0 {
        format!(" · ETA {:.0} s", left as f64 / rate)
    } else {
        String::new()
    };
    format!(
        "{name}: [{}{}] {done}/{total} records · {rate:.0} records/s{eta}",
        "#".repeat(filled),
        "-".repeat(width - filled)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_progress_line_has_a_bar_a_rate_and_an_eta() {
        let line = progress_line("prod", 250, 1000, Duration::from_secs(5));
        assert_eq!(
            line,
            "prod: [#####---------------] 250/1000 records · 50 records/s · ETA 15 s"
        );
        let done = progress_line("prod", 1000, 1000, Duration::from_secs(20));
        assert!(
            done.starts_with("prod: [####################] 1000/1000"),
            "{done}"
        );
        assert!(!done.contains("ETA"), "{done}");
    }

    #[test]
    fn a_terminal_redraws_often_and_a_log_every_ten_seconds() {
        let t0 = Instant::now();
        assert!(due(None, t0, false));
        assert!(due(Some(t0), t0 + Duration::from_millis(150), true));
        assert!(!due(Some(t0), t0 + Duration::from_secs(3), false));
        assert!(due(Some(t0), t0 + Duration::from_secs(10), false));
    }
}
