//! `jiralink insights`: delivery insights from the store, as a table, `--json`, `--csv` or a
//! self-contained `--html` report.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Context;
use jiralink_insights::{Config, Filter, Insights, Options, StoreLocation};

use super::sync::{store_spec, StoreSpec};
use super::{connect, UsageError};
use crate::Global;

#[derive(Debug, clap::Args)]
pub struct Args {
    /// Only projects that this credential's syncs covered (and its last access audit for coverage).
    #[arg(long)]
    credential: Option<String>,
    /// Only these projects (repeatable, or comma-separated).
    #[arg(long = "project", value_delimiter = ',')]
    projects: Vec<String>,
    /// The site (its id or base URL, as `jiralink status` lists them); needed when the store
    /// holds more than one.
    #[arg(long)]
    site: Option<String>,
    /// Only these issue types (repeatable, or comma-separated).
    #[arg(long = "type", value_delimiter = ',')]
    issue_types: Vec<String>,
    /// Only this board (its id): its project's issues and its own sprints.
    #[arg(long)]
    board: Option<String>,
    /// Window start (YYYY-MM-DD or RFC 3339); default: --weeks before --until.
    #[arg(long)]
    since: Option<String>,
    /// Window end; default: --as-of.
    #[arg(long)]
    until: Option<String>,
    /// Window length in weeks when --since is not given.
    #[arg(long, default_value_t = 26)]
    weeks: i64,
    /// The instant ages and open items are measured at; default: now.
    #[arg(long)]
    as_of: Option<String>,
    /// Time zone for weeks and days (IANA name).
    #[arg(long, default_value = "UTC")]
    tz: String,
    /// Insights config (JSON): status-to-stage mapping, bug types, stale days. Without stages in
    /// it, the stages saved on the web app's Stages page (in the store) are used.
    #[arg(long)]
    config: Option<PathBuf>,
    /// Forecast: when will this many items be done.
    #[arg(long, default_value_t = 50)]
    forecast_items: u32,
    /// Forecast: how many items by this date; default: 4 weeks after --as-of.
    #[arg(long)]
    forecast_date: Option<String>,
    /// Monte Carlo seed, for a reproducible forecast; default: random.
    #[arg(long)]
    seed: Option<u64>,
    /// Monte Carlo trials.
    #[arg(long, default_value_t = 10_000)]
    trials: u32,
    /// Print CSV (section,metric,dimension,value) instead of the table.
    #[arg(long)]
    csv: bool,
    /// Also write the self-contained HTML report to this file.
    #[arg(long)]
    html: Option<PathBuf>,
}

/// Parses a date (local midnight in `tz`) or an RFC 3339 time to epoch seconds.
fn instant(flag: &str, s: &str, tz: chrono_tz::Tz) -> anyhow::Result<i64> {
    if let Ok(d) = chrono::NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return Ok(jiralink_insights::flow::local_midnight(tz, d));
    }
    jiralink_insights::parse_time(s).ok_or_else(|| {
        UsageError(format!(
            "{flag} {s:?}: expected a date (2026-01-31) or an RFC 3339 time (2026-01-31T09:00:00Z)"
        ))
        .into()
    })
}

pub fn options(args: &Args) -> anyhow::Result<Options> {
    let tz: chrono_tz::Tz = args.tz.parse().map_err(|_| {
        UsageError(format!(
            "--tz {:?}: not an IANA time zone name (e.g. Europe/Berlin, America/New_York, UTC)",
            args.tz
        ))
    })?;
    let as_of = match &args.as_of {
        Some(s) => instant("--as-of", s, tz)?,
        None => chrono::Utc::now().timestamp(),
    };
    let mut opts = Options::new(as_of, args.weeks, args.seed.unwrap_or_else(rand_seed));
    opts.tz = tz;
    if let Some(s) = &args.until {
        opts.until = instant("--until", s, tz)?;
    }
    opts.since = match &args.since {
        Some(s) => instant("--since", s, tz)?,
        None => opts.until - args.weeks * 7 * 86_400,
    };
    if opts.since >= opts.until {
        anyhow::bail!(UsageError(
            "--since must be before --until (and --as-of)".into()
        ));
    }
    if let Some(s) = &args.forecast_date {
        opts.forecast_date = instant("--forecast-date", s, tz)?;
    }
    opts.forecast_items = args.forecast_items;
    opts.trials = args.trials;
    if let Some(path) = &args.config {
        opts.config = Config::read(path).map_err(|e| UsageError(e.to_string()))?;
    }
    Ok(opts)
}

fn rand_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

pub async fn run(args: Args, global: Global) -> anyhow::Result<()> {
    let mut opts = options(&args)?;
    let store = match store_spec(&global)? {
        StoreSpec::Sqlite(path) => StoreLocation::Sqlite(path),
        // As for the sync: the password from the environment only, never from the arguments.
        StoreSpec::Postgres(url) => StoreLocation::Postgres(super::sync::pg_target(url)),
    };
    // Opening the store migrates an older one first; the stages the web app's Stages page saved
    // there are the dashboards', used unless --config names stages.
    let saved = jiralink_store::web::open_accounts(&store)
        .and_then(|accounts| accounts.web_stages())
        .with_context(|| format!("cannot open the store {store}"))?;
    opts.config
        .use_saved_stages(saved.into_iter().map(|r| (r.status, r.stage)));
    let visible: Option<Vec<String>> = match &args.credential {
        Some(name) => {
            let home = connect::home(global.home.clone())?;
            std::fs::read_to_string(super::access::audit_file(&home, name))
                .ok()
                .and_then(|t| {
                    serde_json::from_str::<Vec<jiralink_api::access::ProjectAccess>>(&t).ok()
                })
                .map(|v| v.into_iter().map(|p| p.key).collect())
        }
        None => None,
    };
    let filter = Filter {
        credential: args.credential.clone(),
        site: args.site.clone(),
        projects: args.projects.clone(),
        issue_types: args.issue_types.clone(),
        board: args.board.clone(),
    };
    // Off the runtime's threads: the Postgres client blocks on a runtime of its own.
    let report = tokio::task::spawn_blocking(move || {
        jiralink_insights::run_on(&store, &filter, &opts, visible.as_deref())
    })
    .await
    .context("insights worker")?
    .map_err(|e| match e {
        jiralink_insights::InsightsError::UnknownCredential(_)
        | jiralink_insights::InsightsError::NotInStore(_)
        | jiralink_insights::InsightsError::NoStore(_) => {
            anyhow::Error::new(UsageError(e.to_string()))
        }
        e => anyhow::Error::new(e),
    })?;
    if let Some(file) = &args.html {
        write_html(&report, file)?;
        if !global.out.json && !args.csv {
            println!("report written to {}\n", file.display());
        }
    }
    let mut out = std::io::stdout().lock();
    if global.out.json {
        // One line, like every `--json` output.
        serde_json::to_writer(&mut out, &report)?;
        writeln!(out)?;
    } else if args.csv {
        out.write_all(csv(&report).as_bytes())?;
    } else {
        out.write_all(table(&report).as_bytes())?;
    }
    Ok(())
}

pub fn write_html(report: &Insights, file: &std::path::Path) -> anyhow::Result<()> {
    std::fs::write(file, jiralink_insights::html::report(report))
        .with_context(|| format!("cannot write the report to {}", file.display()))
}

fn opt(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{v:.1}"))
}

/// `p50 / p85 / p95`, each as `opt` writes it.
fn p50_85_95(p: &jiralink_insights::Percentiles) -> String {
    format!("{} / {} / {}", opt(p.p50), opt(p.p85), opt(p.p95))
}

fn pct(v: Option<f64>) -> String {
    v.map_or("-".into(), |v| format!("{:.0}%", v * 100.0))
}

/// The readable report: headline numbers per family, then the short lists.
pub fn table(r: &Insights) -> String {
    use std::fmt::Write as _;
    let mut s = String::new();
    let f = &r.flow;
    let c = &r.coverage;
    let _ = writeln!(
        s,
        "Insights as of {} · completions {} → {} ({})",
        r.as_of,
        &r.since[..10],
        &r.until[..10],
        r.time_zone
    );
    let _ = writeln!(
        s,
        "Coverage: {} issues in {} projects, {} status changes",
        c.issues,
        c.projects.len(),
        c.status_changes
    );
    if !c.not_visible.is_empty() {
        let _ = writeln!(
            s,
            "  not visible to the credential any more: {}",
            c.not_visible.join(", ")
        );
    }
    if !c.not_synced.is_empty() {
        let _ = writeln!(s, "  visible but not synced: {}", c.not_synced.join(", "));
    }
    let weeks: Vec<String> = f
        .throughput_per_week
        .iter()
        .rev()
        .take(8)
        .rev()
        .map(|w| w.items.to_string())
        .collect();
    let _ = writeln!(s, "\nFlow");
    let rows = [
        ("completed", f.completed.to_string()),
        ("throughput, last 8 weeks", weeks.join(" ")),
        ("lead time p50/p85/p95 (d)", p50_85_95(&f.lead_time_days)),
        ("cycle time p50/p85/p95 (d)", p50_85_95(&f.cycle_time_days)),
        (
            "work in progress (at risk)",
            format!("{} ({})", f.wip, f.at_risk),
        ),
        (
            "flow efficiency",
            if f.waiting_statuses.is_empty() {
                "not measured (no waiting status configured)".to_owned()
            } else {
                pct(f.flow_efficiency)
            },
        ),
        (
            "reopen rate",
            format!(
                "{} ({} items, {} reopens)",
                pct(f.reopen_rate),
                f.reopened_items,
                f.reopens
            ),
        ),
    ];
    for (k, v) in rows {
        let _ = writeln!(s, "  {k:<28} {v}");
    }
    if !f.aging.is_empty() {
        let _ = writeln!(s, "\nOldest work in progress");
        for a in f.aging.iter().take(5) {
            let risk = if a.at_risk { "  at risk" } else { "" };
            let _ = writeln!(
                s,
                "  {:<14} {:<16} {:>7.1} d{risk}",
                a.key, a.status, a.age_days
            );
        }
    }
    for board in &r.sprints.boards {
        let _ = writeln!(
            s,
            "\nSprints of {} (velocity {} pts, say/do {})",
            board.board,
            opt(board.velocity),
            pct(board.say_do_ratio)
        );
        let _ = writeln!(
            s,
            "  {:<20} {:<7} {:>9} {:>6} {:>8} {:>9} {:>8} {:>7}",
            "sprint", "state", "committed", "added", "removed", "completed", "carried", "say/do"
        );
        for &i in board.sprints.iter().rev().take(6).rev() {
            let x = &r.sprints.sprints[i];
            let _ = writeln!(
                s,
                "  {:<20} {:<7} {:>9} {:>6} {:>8} {:>9} {:>8} {:>7}",
                x.name,
                x.state,
                format!("{} ({})", x.committed_items, x.committed_points),
                x.added_items,
                x.removed_items,
                format!("{} ({})", x.completed_items, x.completed_points),
                x.carried_over_items,
                pct(x.say_do_ratio)
            );
        }
    }
    let q = &r.quality;
    let _ = writeln!(
        s,
        "\nQuality\n  bug share of throughput      {} ({} of {})\n  open bugs                    {} (age p50 {} d, p85 {} d)",
        pct(q.bug_share),
        q.bugs_completed,
        q.completed,
        q.open_bugs,
        opt(q.open_bug_age_days.p50),
        opt(q.open_bug_age_days.p85)
    );
    let h = &r.hygiene;
    let _ = writeln!(s, "\nHygiene");
    for (k, c) in [
        (format!("stale ({} days)", h.stale_days), &h.stale),
        ("started, no assignee".into(), &h.started_without_assignee),
        ("done, no resolution".into(), &h.done_without_resolution),
        (
            "no estimate, active sprint".into(),
            &h.missing_estimates_in_active_sprints,
        ),
    ] {
        let first: Vec<&str> = c.keys.iter().take(5).map(String::as_str).collect();
        let _ = writeln!(s, "  {k:<28} {:<6} {}", c.items, first.join(" "));
    }
    let fc = &r.forecast;
    let _ = writeln!(
        s,
        "\nForecast (Monte Carlo, {} trials, seed {}, {} items over {} days of history)",
        fc.trials, fc.seed, fc.history_items, fc.history_days
    );
    for x in &fc.results {
        let _ = writeln!(
            s,
            "  {}%: at least {} items by {}; {} items done by {}",
            x.confidence,
            x.items_by_date,
            fc.date,
            fc.items,
            x.date_for_items.as_deref().unwrap_or("beyond 10 years")
        );
    }
    s
}

fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_owned()
    }
}

/// Long-format CSV: one value per row, `section,metric,dimension,value`.
pub fn csv(r: &Insights) -> String {
    let mut rows: Vec<[String; 4]> = Vec::new();
    let mut row = |a: &str, b: &str, c: &str, d: String| {
        rows.push([a.into(), b.into(), c.into(), d]);
    };
    let num = |v: Option<f64>| v.map_or(String::new(), |v| v.to_string());
    let f = &r.flow;
    row("flow", "completed", "", f.completed.to_string());
    for w in &f.throughput_per_week {
        row("flow", "throughput", &w.week_start, w.items.to_string());
    }
    for (name, p) in [
        ("lead_time_days", &f.lead_time_days),
        ("cycle_time_days", &f.cycle_time_days),
    ] {
        row("flow", name, "p50", num(p.p50));
        row("flow", name, "p85", num(p.p85));
        row("flow", name, "p95", num(p.p95));
    }
    row("flow", "wip", "", f.wip.to_string());
    row("flow", "at_risk", "", f.at_risk.to_string());
    row("flow", "flow_efficiency", "", num(f.flow_efficiency));
    row("flow", "reopen_rate", "", num(f.reopen_rate));
    for t in &f.time_in_status {
        row(
            "flow",
            "time_in_status_days",
            &t.status,
            t.mean_days.to_string(),
        );
    }
    for d in &f.cumulative_flow {
        row("flow", "cfd_to_do", &d.date, d.to_do.to_string());
        row("flow", "cfd_active", &d.date, d.active.to_string());
        row("flow", "cfd_waiting", &d.date, d.waiting.to_string());
        row("flow", "cfd_done", &d.date, d.done.to_string());
    }
    for a in &f.aging {
        row("flow", "aging_days", &a.key, a.age_days.to_string());
    }
    for x in &r.sprints.sprints {
        for (metric, value) in [
            ("committed_items", x.committed_items.to_string()),
            ("committed_points", x.committed_points.to_string()),
            ("added_items", x.added_items.to_string()),
            ("removed_items", x.removed_items.to_string()),
            ("completed_items", x.completed_items.to_string()),
            ("completed_points", x.completed_points.to_string()),
            ("carried_over_items", x.carried_over_items.to_string()),
            ("say_do_ratio", num(x.say_do_ratio)),
        ] {
            row("sprints", metric, &x.name, value);
        }
    }
    for b in &r.sprints.boards {
        row("sprints", "board_velocity", &b.board, num(b.velocity));
    }
    row("sprints", "velocity", "", num(r.sprints.velocity));
    let q = &r.quality;
    row("quality", "bug_share", "", num(q.bug_share));
    row("quality", "open_bugs", "", q.open_bugs.to_string());
    for (at, value) in [
        ("p50", q.open_bug_age_days.p50),
        ("p85", q.open_bug_age_days.p85),
    ] {
        row("quality", "open_bug_age_days", at, num(value));
    }
    for p in &q.open_bugs_by_priority {
        row(
            "quality",
            "open_bugs_by_priority",
            &p.priority,
            p.items.to_string(),
        );
    }
    let h = &r.hygiene;
    for (metric, list) in [
        ("stale", &h.stale),
        ("started_without_assignee", &h.started_without_assignee),
        ("done_without_resolution", &h.done_without_resolution),
        (
            "missing_estimates_in_active_sprints",
            &h.missing_estimates_in_active_sprints,
        ),
    ] {
        row("hygiene", metric, "", list.items.to_string());
    }
    for c in &r.forecast.results {
        let level = format!("{}%", c.confidence);
        row(
            "forecast",
            "items_by_date",
            &level,
            c.items_by_date.to_string(),
        );
        row(
            "forecast",
            "date_for_items",
            &level,
            c.date_for_items.clone().unwrap_or_default(),
        );
    }
    for p in &r.coverage.projects {
        row("coverage", "issues", &p.key, p.issues.to_string());
    }
    let mut s = String::from("section,metric,dimension,value\n");
    for r in rows {
        let line: Vec<String> = r.iter().map(|v| csv_field(v)).collect();
        s.push_str(&line.join(","));
        s.push('\n');
    }
    s
}
