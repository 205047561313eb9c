//! `jiralink-insights`: delivery metrics (flow, sprints, quality, hygiene), Monte Carlo forecasts
//! and a self-contained HTML report, computed from the store's public views. Reads only the store;
//! nothing leaves the machine.
//!
//! The store is SQLite ([`run`], or [`run_on`] with [`StoreLocation::Sqlite`]) or, with the cargo
//! feature `postgres`, PostgreSQL ([`run_on`] with `StoreLocation::Postgres`): one loader reads
//! both through the store's reader of its public views (`jiralink_store::ViewReader`), with the
//! same SQL, since their views are the same. Insights has no database code of its own.
//!
//! `load` reads the views once into compact columns; `stages` maps statuses to stages; each metric
//! family is a pure function of the loaded data and the options, so a test can check it by hand.

pub mod flow;
pub mod forecast;
pub mod html;
pub mod load;
pub mod quality;
pub mod sprints;
pub mod stages;

use std::path::Path;

use serde::Serialize;

pub use jiralink_store::StoreLocation;
pub use load::{parse_time, Category, Dataset};
pub use stages::{Config, Stage};

#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InsightsError {
    #[error("no jiralink store at {0}: run `jiralink sync NAME` first, or pass --store")]
    NoStore(String),
    #[error("no sync of credential {0:?} is in the store: run `jiralink sync {0}` first")]
    UnknownCredential(String),
    /// Connecting to or reading the store failed (file, server, credentials, or a query); the
    /// message carries the whole cause (a PostgreSQL server's own text).
    #[error("store read failed: {0}")]
    Store(jiralink_store::StoreError),
    #[error("{0}")]
    Load(String),
    /// A usage error: the filter names a site or projects the store does not hold.
    #[error("{0}")]
    NotInStore(String),
    #[error("insights config {path}: {message}")]
    Config { path: String, message: String },
}

impl From<jiralink_store::StoreError> for InsightsError {
    fn from(e: jiralink_store::StoreError) -> InsightsError {
        match e {
            jiralink_store::StoreError::NoStore(at) => InsightsError::NoStore(at),
            e => InsightsError::Store(e),
        }
    }
}

/// Which part of the store a report covers.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    /// Only projects a sync of this credential covered.
    pub credential: Option<String>,
    /// The site (its `site_id` or base URL); needed when the store holds more than one.
    pub site: Option<String>,
    pub projects: Vec<String>,
    pub issue_types: Vec<String>,
    /// A board (its id): its project's issues and its own sprints only.
    pub board: Option<String>,
}

/// What a report is computed for. Times are epoch seconds.
#[derive(Debug, Clone)]
pub struct Options {
    /// "Now": ages and open-item metrics are measured at this instant.
    pub as_of: i64,
    /// The window of completions (throughput, lead and cycle times, sprints ending in it).
    pub since: i64,
    pub until: i64,
    /// Weeks and days are cut in this time zone.
    pub tz: chrono_tz::Tz,
    pub config: Config,
    /// Forecast: how many items by this date, and when this many items will be done.
    pub forecast_date: i64,
    pub forecast_items: u32,
    pub trials: u32,
    pub seed: u64,
}

impl Options {
    /// The last `weeks` weeks up to `as_of`, forecasting 4 weeks and 50 items ahead.
    pub fn new(as_of: i64, weeks: i64, seed: u64) -> Options {
        Options {
            as_of,
            since: as_of - weeks * 7 * 86_400,
            until: as_of,
            tz: chrono_tz::UTC,
            config: Config::default(),
            forecast_date: as_of + 28 * 86_400,
            forecast_items: 50,
            trials: 10_000,
            seed,
        }
    }
}

/// Every metric family of a report.
#[derive(Debug, Clone, Serialize)]
pub struct Insights {
    pub as_of: String,
    pub since: String,
    pub until: String,
    pub time_zone: String,
    pub coverage: Coverage,
    pub flow: flow::Flow,
    pub sprints: sprints::Sprints,
    pub quality: quality::Quality,
    pub hygiene: quality::Hygiene,
    pub forecast: forecast::Forecast,
}

/// What the data covers, so that no one mistakes a partial picture for the whole.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Coverage {
    pub projects: Vec<ProjectCoverage>,
    pub issues: u64,
    pub status_changes: u64,
    /// Projects the credential can see (last access audit) that the store holds no issues of.
    pub not_synced: Vec<String>,
    /// Projects in the store that the credential no longer sees (deleted, or access removed).
    pub not_visible: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ProjectCoverage {
    pub key: String,
    pub name: String,
    pub issues: u64,
    /// Visible per the last access audit; `None` when no audit was given.
    pub visible: Option<bool>,
}

/// Loads the SQLite store at `path` and computes every metric. `visible` is the project keys of
/// the credential's last access audit, when there is one.
pub fn run(
    path: &Path,
    filter: &Filter,
    opts: &Options,
    visible: Option<&[String]>,
) -> Result<Insights, InsightsError> {
    run_on(
        &StoreLocation::Sqlite(path.to_owned()),
        filter,
        opts,
        visible,
    )
}

/// As [`run`], on the store at `store`: SQLite or (feature `postgres`) PostgreSQL. A PostgreSQL
/// store must be read off an async runtime's threads (from async code: in `spawn_blocking`).
pub fn run_on(
    store: &StoreLocation,
    filter: &Filter,
    opts: &Options,
    visible: Option<&[String]>,
) -> Result<Insights, InsightsError> {
    let ds = load::load_from(store, filter)?;
    Ok(compute(&ds, opts, visible))
}

pub fn compute(ds: &Dataset, opts: &Options, visible: Option<&[String]>) -> Insights {
    let stages = stages::stage_table(ds, &opts.config);
    // Sprints and hygiene need no timelines: they run beside the flow families.
    let ((sprints, hygiene), (flow, quality, forecast)) = std::thread::scope(|scope| {
        let side = scope.spawn(|| {
            (
                sprints::sprints(ds, &stages, opts),
                quality::hygiene(ds, &stages, opts),
            )
        });
        let timelines = flow::timelines(ds, &stages);
        let main = (
            flow::flow(ds, &stages, &timelines, opts),
            quality::quality(ds, &timelines, opts),
            forecast::forecast(&timelines, opts),
        );
        (side.join().expect("sprint and hygiene metrics"), main)
    });
    Insights {
        as_of: iso(opts.as_of),
        since: iso(opts.since),
        until: iso(opts.until),
        time_zone: opts.tz.name().to_owned(),
        coverage: coverage(ds, visible),
        sprints,
        quality,
        hygiene,
        forecast,
        flow,
    }
}

fn coverage(ds: &Dataset, visible: Option<&[String]>) -> Coverage {
    let mut counts = vec![0u64; ds.projects.len()];
    for i in &ds.issues {
        counts[i.project as usize] += 1;
    }
    let seen = |k: &str| visible.map(|v| v.iter().any(|x| x.eq_ignore_ascii_case(k)));
    let projects: Vec<ProjectCoverage> = ds
        .projects
        .iter()
        .zip(&counts)
        .map(|(p, &n)| ProjectCoverage {
            key: p.key.clone(),
            name: p.name.clone(),
            issues: n,
            visible: if p.deleted { Some(false) } else { seen(&p.key) },
        })
        .collect();
    let not_synced = visible
        .unwrap_or_default()
        .iter()
        .filter(|k| {
            !projects
                .iter()
                .any(|p| p.key.eq_ignore_ascii_case(k) && p.issues > 0)
        })
        .cloned()
        .collect();
    Coverage {
        not_visible: projects
            .iter()
            .filter(|p| p.visible == Some(false))
            .map(|p| p.key.clone())
            .collect(),
        not_synced,
        issues: ds.issues.len() as u64,
        status_changes: ds.issues.iter().map(|i| i.transitions.len() as u64).sum(),
        projects,
    }
}

/// An epoch second as UTC ISO-8601, the store's format.
pub fn iso(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .unwrap_or_default()
        .format("%Y-%m-%dT%H:%M:%SZ")
        .to_string()
}

/// Days, rounded to a hundredth, for output.
pub(crate) fn days(secs: i64) -> f64 {
    (secs as f64 / 864.0).round() / 100.0
}

/// The nearest-rank percentile of sorted values: the smallest value with at least `p`% of the
/// values at or below it.
pub fn percentile(sorted: &[i64], p: f64) -> Option<i64> {
    if sorted.is_empty() {
        return None;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil().max(1.0) as usize;
    Some(sorted[rank.min(sorted.len()) - 1])
}

/// p50 / p85 / p95 of durations, in days.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Percentiles {
    pub count: u64,
    pub p50: Option<f64>,
    pub p85: Option<f64>,
    pub p95: Option<f64>,
}

impl Percentiles {
    pub fn of(values: &mut [i64]) -> Percentiles {
        values.sort_unstable();
        let p = |q| percentile(values, q).map(days);
        Percentiles {
            count: values.len() as u64,
            p50: p(50.0),
            p85: p(85.0),
            p95: p(95.0),
        }
    }
}
