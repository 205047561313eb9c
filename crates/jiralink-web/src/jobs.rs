//! Syncs and access audits started from the app: one task per run. A sync's progress is
//! published to any number of watchers (the server-sent events of the sync page) and kept for the
//! runs list; an audit's state is kept for its page to poll.

use std::collections::BTreeMap;
use std::sync::Arc;

use jiralink_sync::{Progress, ProgressSink, SyncOptions};
use serde::Serialize;
use tokio::sync::watch;

use crate::App;

/// The state of one sync run, as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct JobState {
    pub id: u64,
    pub credential: String,
    pub started_by: String,
    pub started: String,
    /// `running`, `ok` or `failed`.
    pub status: &'static str,
    pub progress: Progress,
    pub summary: Option<jiralink_sync::SyncSummary>,
    /// The diagnosis code of a failure, with its cause and fix.
    pub error: Option<serde_json::Value>,
}

/// The state of one access audit run from the app, as the API shows it.
#[derive(Debug, Clone, Serialize)]
pub struct AuditState {
    pub id: u64,
    pub credential: String,
    pub started_by: String,
    pub started: String,
    /// `read-only` or `read-write`.
    pub profile: String,
    /// `running`, `ok` or `failed`.
    pub status: &'static str,
    /// When it ended well: projects seen, findings, those still open (not accepted), requests.
    pub summary: Option<serde_json::Value>,
    /// The diagnosis code of a failure, with its cause and fix.
    pub error: Option<serde_json::Value>,
}

#[derive(Default)]
pub struct Jobs {
    next: parking_lot::Mutex<u64>,
    runs: parking_lot::Mutex<BTreeMap<u64, watch::Receiver<JobState>>>,
    audits: parking_lot::Mutex<BTreeMap<u64, AuditState>>,
}

impl Jobs {
    pub fn get(&self, id: u64) -> Option<watch::Receiver<JobState>> {
        self.runs.lock().get(&id).cloned()
    }

    /// Every run since the app started, newest first.
    pub fn all(&self) -> Vec<JobState> {
        self.runs
            .lock()
            .values()
            .rev()
            .map(|r| r.borrow().clone())
            .collect()
    }

    /// Whether a run of `credential` is going on.
    pub fn running(&self, credential: &str) -> bool {
        self.runs.lock().values().any(|r| {
            let s = r.borrow();
            s.credential == credential && s.status == "running"
        })
    }

    fn next_id(&self) -> u64 {
        let mut n = self.next.lock();
        *n += 1;
        *n
    }

    pub fn audit(&self, id: u64) -> Option<AuditState> {
        self.audits.lock().get(&id).cloned()
    }

    /// Whether an audit of `credential` is going on.
    pub fn auditing(&self, credential: &str) -> bool {
        self.audits
            .lock()
            .values()
            .any(|a| a.credential == credential && a.status == "running")
    }
}

/// Starts an access audit of `credential` (already authorized) for `profile` and returns its id;
/// the audit runs through the app's `AccessBook`, which saves it where `jiralink access` does.
pub fn start_audit(
    app: &Arc<App>,
    credential: String,
    by: String,
    profile: jiralink_api::access::Profile,
) -> u64 {
    let id = app.jobs.next_id();
    app.jobs.audits.lock().insert(
        id,
        AuditState {
            id,
            credential: credential.clone(),
            started_by: by.clone(),
            started: jiralink_store::now(),
            profile: serde_json::to_value(profile)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            status: "running",
            summary: None,
            error: None,
        },
    );
    let app = app.clone();
    let handle = tokio::runtime::Handle::current();
    // The audit's future is not `Send` (as the sync's): driven on a blocking thread.
    tokio::task::spawn_blocking(move || {
        let result = handle.block_on(audit(&app, &credential, profile));
        let outcome = outcome(&result);
        if let Some(s) = app.jobs.audits.lock().get_mut(&id) {
            end(result, &mut s.status, &mut s.summary, &mut s.error);
        }
        let _ = app
            .accounts()
            .web_audit(&by, "access-audit", &credential, &outcome);
    });
    id
}

/// A failure as the runs show it: the diagnosis code, its cause and its fix.
fn failed(code: &str, cause: String, fix: &str) -> serde_json::Value {
    serde_json::json!({"code": code, "cause": cause, "fix": fix})
}

/// Jira's refusal (or an unreachable site) as the runs show it: its diagnosis.
fn refused(e: &jiralink_api::Error) -> serde_json::Value {
    let d = e.diagnosis();
    failed(&d.code.to_string(), d.cause, &d.fix)
}

/// What the app's audit log records of a run's end: `ok`, or the failure's code.
fn outcome<T>(result: &Result<T, serde_json::Value>) -> String {
    match result {
        Ok(_) => "ok".to_owned(),
        Err(e) => e["code"].as_str().unwrap_or("failed").to_owned(),
    }
}

/// A run's state at its end: `ok` with its summary, or `failed` with its error.
fn end<S>(
    result: Result<S, serde_json::Value>,
    status: &mut &'static str,
    summary: &mut Option<S>,
    error: &mut Option<serde_json::Value>,
) {
    match result {
        Ok(s) => {
            *status = "ok";
            *summary = Some(s);
        }
        Err(e) => {
            *status = "failed";
            *error = Some(e);
        }
    }
}

/// The credential of a run and a client for it, or the failure the run ends with.
async fn connect(
    app: &Arc<App>,
    credential: &str,
) -> Result<(jiralink_vault::Credential, jiralink_api::Client), serde_json::Value> {
    let (cred, mut secrets) = app
        .vault
        .get(credential)
        .map_err(|e| failed("vault", e.to_string(), "check the credential in the vault"))?;
    let client = app
        .connector
        .client(Some(&app.vault), &cred, &mut secrets)
        .await
        .map_err(|e| failed("credential", e, "edit or rotate the credential"))?
        .map_err(|e| refused(&e))?;
    Ok((cred, client))
}

async fn audit(
    app: &Arc<App>,
    credential: &str,
    profile: jiralink_api::access::Profile,
) -> Result<serde_json::Value, serde_json::Value> {
    let (cred, client) = connect(app, credential).await?;
    match app.access.audit(&app.vault, &cred, &client, profile).await {
        Ok(r) => Ok(serde_json::json!({
            "projects": r.projects.len(),
            "findings": r.findings.len(),
            "open": r.findings.iter().filter(|f| f.accepted.is_none()).count(),
            "site_admin": r.site_admin,
            "requests": r.requests,
        })),
        Err(crate::AuditError::Jira(e)) => Err(refused(&e)),
        Err(crate::AuditError::Failed(m)) => Err(failed("audit_failed", m, "see the server log")),
    }
}

/// Starts a sync of `credential` (already authorized) and returns its run id.
pub fn start(app: &Arc<App>, credential: String, by: String, projects: Vec<String>) -> u64 {
    let id = app.jobs.next_id();
    let (tx, rx) = watch::channel(JobState {
        id,
        credential: credential.clone(),
        started_by: by.clone(),
        started: jiralink_store::now(),
        status: "running",
        progress: Progress::default(),
        summary: None,
        error: None,
    });
    app.jobs.runs.lock().insert(id, rx);
    let app = app.clone();
    let handle = tokio::runtime::Handle::current();
    // The sync's future holds the store and is not `Send`: it is driven on a blocking thread of
    // the runtime, and the tasks it spawns run on the runtime's workers.
    tokio::task::spawn_blocking(move || {
        let tx = Arc::new(tx);
        let result = handle.block_on(run(&app, &credential, projects, tx.clone()));
        let outcome = outcome(&result);
        tx.send_modify(|s| end(result, &mut s.status, &mut s.summary, &mut s.error));
        let _ = app.accounts().web_audit(&by, "sync", &credential, &outcome);
    });
    id
}

async fn run(
    app: &Arc<App>,
    credential: &str,
    projects: Vec<String>,
    tx: Arc<watch::Sender<JobState>>,
) -> Result<jiralink_sync::SyncSummary, serde_json::Value> {
    let (_, client) = connect(app, credential).await?;
    let mut store = app
        .backend()
        .map_err(|e| failed("store", e.to_string(), "check the store"))?;
    let mut opts = SyncOptions::new(credential);
    opts.projects = projects;
    let sink = tx.clone();
    opts.progress = Some(ProgressSink(Arc::new(move |p: &Progress| {
        sink.send_modify(|s| s.progress = p.clone());
    })));
    match jiralink_sync::sync(&client, &mut *store, &opts).await {
        Ok(s) => Ok(s),
        Err(jiralink_sync::SyncError::Jira(e)) => Err(refused(&e)),
        Err(e) => Err(failed("sync_failed", e.to_string(), "see the server log")),
    }
}
