//! `jiralink-apply`: write-back. Makes Jira match a file of records (JSONL or CSV), planning first
//! (validation against create metadata and permissions, a diff against Jira's live values), then
//! acting (bulk creates, updates, transitions, comments, worklogs, links), every write recorded in
//! the store's ledger before it is sent, and ambiguous outcomes reconciled before any retry.

pub mod markup;
mod plan;
pub mod record;
mod run;
mod sprint;
mod workflow;

use std::collections::BTreeMap;

use jiralink_store::ledger::Ledger;
use serde::Serialize;

pub use record::{parse, InputError, Record};

/// The entity property every created issue, comment and worklog carries.
pub const ORIGIN_PROPERTY: &str = "jiralink.origin";

/// The origin property's value as write-back reads it back (it writes the run id too).
#[derive(Debug, serde::Deserialize)]
pub(crate) struct Origin {
    pub external_id: String,
}

/// What to do when Jira's value changed since the last apply and the file's differs too.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnConflict {
    /// Report the conflict and write nothing for that field (the record fails).
    #[default]
    Fail,
    /// Keep Jira's value.
    JiraWins,
    /// Write the file's value.
    FileWins,
}

/// How an apply runs.
pub struct Options<'a> {
    pub credential: String,
    /// Who ran it (OS user), recorded in `write_log`.
    pub actor: String,
    pub run_id: String,
    pub dry_run: bool,
    pub on_conflict: OnConflict,
    /// Records worked on at once after the creates (within the client's pacing).
    pub concurrency: usize,
    /// How long after a write whose answer was lost (or whose run died) Jira is searched for it:
    /// the request may still be running there.
    pub reconcile_after: std::time::Duration,
    /// Called with (records done, records in all) as work completes.
    pub progress: Option<&'a dyn Fn(usize, usize)>,
}

/// Errors that stop the whole run (a single record's failure is in its report instead).
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ApplyError {
    #[error(transparent)]
    Jira(#[from] jiralink_api::Error),
    #[error(transparent)]
    Store(#[from] jiralink_store::StoreError),
}

/// What became of one record.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Dry run: what would be done.
    Planned,
    /// Written (or adopted) as the file says.
    Applied,
    /// Jira already matched the file.
    Unchanged,
    /// Refused (by validation, a conflict or Jira): see `problems`.
    Failed,
}

/// One record's plan and result.
#[derive(Debug, Clone, Serialize)]
pub struct RecordReport {
    pub line: usize,
    pub external_id: String,
    pub issue_key: Option<String>,
    /// The planned actions, e.g. `create`, `update summary,labels`, `transition Done`.
    pub actions: Vec<String>,
    pub outcome: Outcome,
    pub problems: Vec<String>,
}

/// The run's result.
#[derive(Debug, Clone, Serialize, Default)]
pub struct Report {
    pub run_id: String,
    pub records: Vec<RecordReport>,
    pub created: usize,
    pub updated: usize,
    pub unchanged: usize,
    pub failed: usize,
    /// Write requests sent (creates, edits, transitions, comments, worklogs, links).
    pub writes: u64,
    /// Objects found already written after an ambiguous answer, and adopted instead of re-sent.
    pub adopted: u64,
    pub requests: u32,
    pub duration_ms: u64,
}

impl Report {
    fn count(&mut self) {
        let by = |o: Outcome| self.records.iter().filter(|r| r.outcome == o).count();
        self.failed = by(Outcome::Failed);
        self.unchanged = by(Outcome::Unchanged);
        self.created = self
            .records
            .iter()
            .filter(|r| r.outcome == Outcome::Applied && r.actions.iter().any(|a| a == "create"))
            .count();
        self.updated = by(Outcome::Applied) - self.created;
    }
}

/// Applies `records` (with the file's bad lines, reported as failed) to Jira through `client`,
/// keeping the ledger in `ledger` (already scoped to the client's site).
pub async fn apply(
    client: &jiralink_api::Client,
    ledger: &mut dyn Ledger,
    parsed: record::Parsed,
    opts: &Options<'_>,
) -> Result<Report, ApplyError> {
    let started = std::time::Instant::now();
    let requests_before = client.requests();
    let (records, bad) = parsed;
    let mut report = Report {
        run_id: opts.run_id.clone(),
        ..Report::default()
    };
    let mut reports: BTreeMap<usize, RecordReport> = bad
        .into_iter()
        .map(|b| {
            (
                b.line,
                RecordReport {
                    line: b.line,
                    external_id: b.external_id.unwrap_or_default(),
                    issue_key: None,
                    actions: Vec::new(),
                    outcome: Outcome::Failed,
                    problems: vec![b.problem],
                },
            )
        })
        .collect();
    let mut runner = run::Runner::new(client, ledger, opts);
    runner.reconcile_pending().await?;
    runner.recover_lost_ledger(&records).await?;
    let plans = plan::plan(&mut runner, &records).await?;
    let (done, writes, adopted) = runner.execute(&records, plans).await?;
    for r in done {
        reports.insert(r.line, r);
    }
    report.records = reports.into_values().collect();
    report.writes = writes;
    report.adopted = adopted;
    report.count();
    report.requests = client.requests() - requests_before;
    report.duration_ms = started.elapsed().as_millis() as u64;
    Ok(report)
}

/// Jira's message for a refused request: its error body when it sent one, else the diagnosis.
pub fn jira_message(e: &jiralink_api::Error) -> String {
    match e {
        jiralink_api::Error::Jira {
            status,
            messages,
            errors,
        } => {
            let mut parts: Vec<String> = messages.clone();
            parts.extend(errors.iter().map(|(k, v)| format!("{k}: {v}")));
            format!("Jira answered {status}: {}", parts.join("; "))
        }
        jiralink_api::Error::Diagnosed(d) if !d.jira.is_empty() => {
            let mut parts: Vec<String> = d.jira.messages.clone();
            parts.extend(d.jira.errors.iter().map(|(k, v)| format!("{k}: {v}")));
            match d.status {
                Some(s) => format!("Jira answered {s}: {}", parts.join("; ")),
                None => parts.join("; "),
            }
        }
        other => {
            let d = other.diagnosis();
            format!("{}: {}", d.code.as_str(), d.cause)
        }
    }
}
