//! Cloud worklogs past the 20 an issue embeds: the `worklog/updated` + `worklog/list` and
//! `worklog/deleted` feeds, then a read of its own for each queued issue the feeds cannot vouch for.
//!
//! Issue batches queue every issue whose embedded list Jira truncated (`t_worklog_reads`, in the
//! batch's transaction). After the issue pass, the feeds are read from their watermarks: changed
//! worklogs the store does not hold as they are now are fetched 1000 a request, deleted ones are
//! marked. A queued issue is then done if the feeds covered it: the feeds had started before it
//! was new to the store, and it has not changed since the last entry the feed returned (Jira
//! leaves the last minute out of both feeds; an issue changed in it is read on its own). The
//! watermarks move last, so a crash anywhere repeats work and loses none.

use std::collections::HashSet;

use futures_util::stream::{self, StreamExt};
use jiralink_api::Client;
use jiralink_store::{now, Store};
use serde_json::{json, Value};

use crate::{all_pages, convert, SyncError, SyncOptions};

const STREAM: &str = "worklogs";
const UPDATED: &str = "updated";
const DELETED: &str = "deleted";
/// `worklog/list` takes at most 1000 ids.
const LIST_MAX: usize = 1000;
/// Jira's feeds leave out the minute before the request.
const FEED_LAG_MS: i64 = 60_000;

/// What the worklog phase did, for the run's summary.
#[derive(Debug, Default)]
pub(crate) struct WorklogCounts {
    pub listed: usize,
    pub deleted: usize,
    pub issue_reads: usize,
    pub worklogs_read: usize,
}

/// Whether the feeds have a watermark this run reads from (else every queued issue is read on
/// its own, and the watermarks start at this run).
pub(crate) fn feeds_started(store: &Store, opts: &SyncOptions) -> Result<bool, SyncError> {
    Ok(!opts.full
        && store
            .checkpoint(&opts.credential, STREAM, UPDATED)?
            .is_some())
}

pub(crate) async fn sync(
    client: &Client,
    store: &mut Store,
    opts: &SyncOptions,
    feeds_started: bool,
    run_started_ms: i64,
) -> Result<WorklogCounts, SyncError> {
    let mut counts = WorklogCounts::default();
    let overlap = opts.overlap_minutes * 60_000;
    let watermark = |store: &Store, scope: &str| -> Result<Option<i64>, SyncError> {
        Ok(store
            .checkpoint(&opts.credential, STREAM, scope)?
            .and_then(|v| v.parse().ok()))
    };
    // Where the feeds are now covered to: this run's last entries, or (first run) its start.
    let start_mark = run_started_ms - FEED_LAG_MS - overlap;
    let (updated_mark, deleted_mark, horizon) = if feeds_started {
        let updated_since = watermark(store, UPDATED)?.unwrap_or(start_mark);
        let (changed, until) = feed(client, UPDATED, (updated_since - overlap).max(0)).await?;
        counts.listed = list_changed(client, store, opts.concurrency, changed).await?;
        let deleted_since = watermark(store, DELETED)?.unwrap_or(start_mark);
        let (gone, deleted_until) = feed(client, DELETED, (deleted_since - overlap).max(0)).await?;
        let gone: Vec<String> = gone.into_iter().map(|(id, _)| id).collect();
        counts.deleted = gone.len();
        let stamp = now();
        store.write(|tx| tx.mark_worklogs_deleted(&gone, &stamp))?;
        (
            until.max(updated_since),
            deleted_until.max(deleted_since),
            Some(until),
        )
    } else {
        (start_mark, start_mark, None)
    };

    // Queued issues: covered by the feeds, or read whole.
    let queued = store.worklog_reads()?;
    let (read, covered): (Vec<_>, Vec<_>) =
        queued
            .into_iter()
            .partition(|(_, need_history, updated)| match horizon {
                None => true,
                Some(h) => {
                    *need_history || updated.as_deref().and_then(millis).is_none_or(|u| u > h)
                }
            });
    store.write(|tx| {
        for (id, _, _) in &covered {
            tx.clear_worklog_read(id)?;
        }
        Ok(())
    })?;
    let api = client.api();
    let mut reads = stream::iter(read.into_iter().map(|(id, _, _)| {
        let api = &api;
        async move {
            let path = format!("{api}/issue/{id}/worklog");
            match all_pages(client, &path, "worklogs").await {
                Ok(list) => Ok((id, Some(list))),
                // Deleted or moved out of sight since it was queued: nothing to read.
                Err(SyncError::Jira(jiralink_api::Error::Diagnosed(d)))
                    if d.status == Some(404) =>
                {
                    Ok((id, None))
                }
                Err(e) => Err(e),
            }
        }
    }))
    .buffer_unordered(opts.concurrency.max(1));
    while let Some(done) = reads.next().await {
        let (id, list) = done?;
        let rows: Option<Vec<_>> =
            list.map(|l| l.iter().map(|w| convert::worklog(&id, w)).collect());
        counts.issue_reads += 1;
        counts.worklogs_read += rows.as_ref().map_or(0, Vec::len);
        let stamp = now();
        store.write(|tx| {
            if let Some(rows) = &rows {
                tx.set_worklogs(&id, rows, &stamp)?;
            }
            tx.clear_worklog_read(&id)
        })?;
    }

    store.write(|tx| {
        tx.set_checkpoint(&opts.credential, STREAM, UPDATED, &updated_mark.to_string())?;
        tx.set_checkpoint(&opts.credential, STREAM, DELETED, &deleted_mark.to_string())
    })?;
    Ok(counts)
}

/// A whole feed from `since`: (worklog id, updated time in ms) and the last entry's time.
async fn feed(
    client: &Client,
    kind: &str,
    mut since: i64,
) -> Result<(Vec<(String, i64)>, i64), SyncError> {
    let mut out = Vec::new();
    let mut until = since;
    loop {
        let page = client
            .get_json(&format!("{}/worklog/{kind}?since={since}", client.api()))
            .await?;
        for v in page["values"].as_array().into_iter().flatten() {
            if let (Some(id), Some(t)) = (v["worklogId"].as_u64(), v["updatedTime"].as_i64()) {
                out.push((id.to_string(), t));
                until = until.max(t);
            }
        }
        let next = page["until"].as_i64().unwrap_or(until);
        // The next page starts after this one's last entry; a page that does not move on ends it.
        if page["lastPage"].as_bool().unwrap_or(true) || next <= since {
            return Ok((out, until));
        }
        since = next;
    }
}

/// Fetches, 1000 a request, the changed worklogs the store does not hold as they are now, and
/// writes those of live issues here. Returns how many were written.
async fn list_changed(
    client: &Client,
    store: &mut Store,
    concurrency: usize,
    changed: Vec<(String, i64)>,
) -> Result<usize, SyncError> {
    let ids: Vec<String> = changed.iter().map(|(id, _)| id.clone()).collect();
    let stored = store.worklog_updates(&ids)?;
    let stale: Vec<String> = changed
        .into_iter()
        .filter(|(id, t)| stored.get(id).and_then(|u| u.as_deref().and_then(millis)) != Some(*t))
        .map(|(id, _)| id)
        .collect();
    let path = format!("{}/worklog/list", client.api());
    let mut pages = stream::iter(stale.chunks(LIST_MAX).map(|ids| {
        let path = &path;
        async move { client.post_json(path, &json!({ "ids": ids })).await }
    }))
    .buffer_unordered(concurrency.max(1));
    let mut written = 0;
    while let Some(page) = pages.next().await {
        let page = page?;
        let list: &[Value] = page.as_array().map_or(&[], Vec::as_slice);
        let issue_ids: Vec<String> = list
            .iter()
            .filter_map(|w| w["issueId"].as_str().map(str::to_owned))
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        // Worklogs of issues not here (other projects, or not synced yet) are left out: an issue
        // new to the store has its worklogs read whole.
        let live = store.live_issues_among(&issue_ids)?;
        let rows: Vec<_> = list
            .iter()
            .filter_map(|w| {
                let issue = w["issueId"].as_str()?;
                live.contains(issue).then(|| convert::worklog(issue, w))
            })
            .collect();
        written += rows.len();
        store.write(|tx| tx.upsert_worklogs(&rows))?;
    }
    Ok(written)
}

/// A store timestamp (UTC, milliseconds) as Unix milliseconds.
fn millis(t: &str) -> Option<i64> {
    chrono::DateTime::parse_from_rfc3339(t)
        .ok()
        .map(|t| t.timestamp_millis())
}
