//! Syncs started from the app: one task per run, its progress published to any number of
//! watchers (the server-sent events of the sync page) and kept for the runs list.

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

#[derive(Default)]
pub struct Jobs {
    next: parking_lot::Mutex<u64>,
    runs: parking_lot::Mutex<BTreeMap<u64, watch::Receiver<JobState>>>,
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
}

/// Starts a sync of `credential` (already authorized) and returns its run id.
pub fn start(app: &Arc<App>, credential: String, by: String, projects: Vec<String>) -> u64 {
    let id = {
        let mut n = app.jobs.next.lock();
        *n += 1;
        *n
    };
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
        let outcome = match &result {
            Ok(_) => "ok".to_owned(),
            Err(e) => e["code"].as_str().unwrap_or("failed").to_owned(),
        };
        tx.send_modify(|s| match result {
            Ok(summary) => {
                s.status = "ok";
                s.summary = Some(summary);
            }
            Err(e) => {
                s.status = "failed";
                s.error = Some(e);
            }
        });
        let _ = app
            .accounts
            .lock()
            .web_audit(&by, "sync", &credential, &outcome);
    });
    id
}

async fn run(
    app: &Arc<App>,
    credential: &str,
    projects: Vec<String>,
    tx: Arc<watch::Sender<JobState>>,
) -> Result<jiralink_sync::SyncSummary, serde_json::Value> {
    let failed = |code: &str, cause: String, fix: &str| serde_json::json!({"code": code, "cause": cause, "fix": fix});
    let (cred, mut secrets) = app
        .vault
        .get(credential)
        .map_err(|e| failed("vault", e.to_string(), "check the credential in the vault"))?;
    let client = match app
        .connector
        .client(Some(&app.vault), &cred, &mut secrets)
        .await
        .map_err(|e| failed("credential", e, "edit or rotate the credential"))?
    {
        Ok(c) => c,
        Err(e) => {
            let d = e.diagnosis();
            return Err(failed(&d.code.to_string(), d.cause, &d.fix));
        }
    };
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
        Err(jiralink_sync::SyncError::Jira(e)) => {
            let d = e.diagnosis();
            Err(failed(&d.code.to_string(), d.cause, &d.fix))
        }
        Err(e) => Err(failed("sync_failed", e.to_string(), "see the server log")),
    }
}
