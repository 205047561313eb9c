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
use std::sync::atomic::{AtomicUsize, Ordering};

use futures_util::stream::{self, StreamExt};
use jiralink_api::endpoints::WorklogFeed;
use jiralink_api::models::{IssueId, WorklogFeedPage};
use jiralink_api::pages::{Cursor, Pages};
use jiralink_api::Client;
use jiralink_store::{now, Backend};

use crate::{convert, unless_gone, SyncError, SyncOptions};

const STREAM: &str = "worklogs";
/// The checkpoint scopes of the two feeds.
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
pub(crate) fn feeds_started(store: &dyn Backend, opts: &SyncOptions) -> Result<bool, SyncError> {
    Ok(!opts.full
        && store
            .checkpoint(&opts.credential, STREAM, UPDATED)?
            .is_some())
}

pub(crate) async fn sync(
    client: &Client,
    store: &mut dyn Backend,
    opts: &SyncOptions,
    feeds_started: bool,
    run_started_ms: i64,
    worklogs_in_jira: usize,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<WorklogCounts, SyncError> {
    let mut counts = WorklogCounts::default();
    // Worklogs written so far, reported with the issues read on their own.
    let written = AtomicUsize::new(0);
    let tick = |issue_reads: usize| progress(written.load(Ordering::Relaxed), issue_reads);
    let overlap = opts.overlap_minutes * 60_000;
    let watermark = |store: &dyn Backend, scope: &str| -> Result<Option<i64>, SyncError> {
        Ok(store
            .checkpoint(&opts.credential, STREAM, scope)?
            .and_then(|v| v.parse().ok()))
    };
    // Where a first run starts the feeds: its own start, less Jira's lag and the overlap.
    let start_mark = run_started_ms - FEED_LAG_MS - overlap;
    let queued = store.worklog_reads()?;

    // The updated feed from its watermark; on a first sync from the beginning of time when that
    // costs fewer requests than reading each queued issue (a feed page holds 1000 worklogs).
    let updated_base = watermark(store, UPDATED)?.unwrap_or(start_mark);
    let updated_from = if feeds_started {
        Some((updated_base - overlap).max(0))
    } else if queued.len() > worklogs_in_jira / LIST_MAX + 1 {
        Some(0)
    } else {
        None
    };
    // Deleted worklogs since the watermark (on a first sync, since it began: a worklog deleted
    // after its issue was fetched). The feed needs only the client, so it is read beside the
    // updated feed (its last page no longer ends the run alone) and marked after it, as before.
    let deleted_base = watermark(store, DELETED)?
        .filter(|_| feeds_started)
        .unwrap_or(start_mark);
    let updated = async {
        match updated_from {
            Some(since) => {
                let until = read_updated(
                    client,
                    &mut *store,
                    opts.concurrency,
                    since,
                    run_started_ms,
                    &|n| {
                        written.fetch_add(n, Ordering::Relaxed);
                        tick(0);
                    },
                )
                .await?;
                Ok(Some(until))
            }
            None => Ok(None),
        }
    };
    let (horizon, (gone, deleted_until)) = futures_util::future::try_join(
        updated,
        read_deleted(client, (deleted_base - overlap).max(0)),
    )
    .await?;
    // Nothing else has written yet: all of it came through the list.
    counts.listed = written.load(Ordering::Relaxed);
    let updated_mark = match horizon {
        Some(until) if feeds_started => until.max(updated_base),
        Some(until) => until,
        None => start_mark,
    };
    counts.deleted = gone.len();
    let stamp = now();
    store.write(|tx| tx.mark_worklogs_deleted(&gone, &stamp))?;
    let deleted_mark = deleted_base.max(deleted_until);

    // Queued issues: covered by the feed, or read whole.
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
    let mut reads = stream::iter(read.into_iter().map(|(id, _, _)| async move {
        // Deleted or moved out of sight since it was queued: nothing to read.
        let list = unless_gone(client.worklogs(&IssueId(id.clone())).all().await)?;
        Ok::<_, SyncError>((id, list))
    }))
    .buffer_unordered(opts.concurrency.max(1));
    while let Some(done) = reads.next().await {
        let (id, list) = done?;
        let rows: Option<Vec<_>> =
            list.map(|l| l.iter().map(|w| convert::worklog(&id, w)).collect());
        counts.issue_reads += 1;
        counts.worklogs_read += rows.as_ref().map_or(0, Vec::len);
        written.fetch_add(rows.as_ref().map_or(0, Vec::len), Ordering::Relaxed);
        tick(counts.issue_reads);
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

/// The `worklog/deleted` feed from `since`: the worklog ids it lists, and the time its pages
/// reach (`since` when it had none).
async fn read_deleted(client: &Client, since: i64) -> Result<(Vec<String>, i64), SyncError> {
    let mut pages = client.worklog_feed(WorklogFeed::Deleted, since);
    let mut gone = Vec::new();
    let mut reached = since;
    loop {
        let at = feed_position(&pages).unwrap_or(since);
        let Some(page) = pages.next_page().await? else {
            break;
        };
        reached = reached.max(page.until(at));
        gone.extend(entries(page).into_iter().map(|(id, _)| id));
    }
    Ok((gone, reached))
}

/// A feed page's entries: (worklog id, updated time in ms); entries without both are skipped.
fn entries(page: WorklogFeedPage) -> Vec<(String, i64)> {
    page.values
        .into_iter()
        .filter_map(|v| Some((v.worklog_id?.to_string(), v.updated_time?)))
        .collect()
}

/// Where a feed's next page starts (`None` after its last page).
fn feed_position(pages: &Pages<'_, WorklogFeedPage>) -> Option<i64> {
    match pages.cursor() {
        Some(Cursor::Since(since)) => Some(*since),
        _ => None,
    }
}

const DAY_MS: i64 = 86_400_000;
/// Worklogs crowd into recent months: more ranges than requests in flight keep them all busy.
const RANGES_PER_REQUEST: usize = 4;

/// Reads `worklog/updated` from `since` and writes the worklogs the store does not hold as they
/// are now. A long span is cut into time ranges read side by side (each a chain of pages, within
/// the sync's concurrency); their changed worklogs are fetched with `worklog/list`, 1000 a
/// request, while the next pages are read (the rest at the end), and `wrote` told how many were
/// written. Returns the feed's last entry time.
async fn read_updated(
    client: &Client,
    store: &mut dyn Backend,
    concurrency: usize,
    since: i64,
    now_ms: i64,
    wrote: &(dyn Fn(usize) + Sync),
) -> Result<i64, SyncError> {
    // The first page says where the feed's entries begin (a first sync starts at 0, decades
    // before the site's first worklog); the span from there is cut into ranges.
    let mut first_range = client.worklog_feed(WorklogFeed::Updated, since);
    let probe = entries(first_range.next_page().await?.unwrap_or_default());
    let more = feed_position(&first_range).is_some();
    let from = match more {
        false => since,
        true => probe.first().map_or(since, |(_, t)| (t - 1).max(since)),
    };
    let span = (now_ms - from).max(0);
    let chains = match more {
        false => 1,
        true => usize::try_from(span / DAY_MS)
            .unwrap_or(usize::MAX)
            .clamp(1, RANGES_PER_REQUEST * concurrency.max(1)),
    };
    let step = span / chains as i64;
    let store = std::sync::Mutex::new(store);
    let store = &store;
    // Changed worklogs not fetched yet, from all the ranges: listed 1000 a request as they
    // gather (a page's are often a few dozen, and one request each was 8% of a first sync's
    // requests), the rest once the ranges are read.
    let stale = std::sync::Mutex::new(Vec::<String>::new());
    let stale = &stale;
    // The probe is the first range's first page, and its pager goes on from there.
    let mut first = Some((first_range, probe));
    let ranges: Vec<_> = (0..chains)
        .map(|k| {
            let start = from + k as i64 * step;
            let end = (k + 1 < chains).then(|| from + (k as i64 + 1) * step);
            let (pages, probe) = match first.take() {
                Some((pages, probe)) => (pages, Some(probe)),
                None => (client.worklog_feed(WorklogFeed::Updated, start), None),
            };
            (start, end, pages, probe)
        })
        .collect();
    let mut ranges = stream::iter(ranges.into_iter().map(|(from, to, mut pages, mut first)| {
        async move {
            let mut until = from;
            loop {
                let next_page = async {
                    match first.take() {
                        Some(p) => Ok(Some(p)),
                        None => pages.next_page().await.map(|p| p.map(entries)),
                    }
                };
                let full = {
                    let mut stale = lock(stale);
                    let full = stale.len() / LIST_MAX * LIST_MAX;
                    stale.drain(..full).collect()
                };
                let (page, listed) =
                    futures_util::future::join(next_page, list_and_write(client, store, full))
                        .await;
                wrote(listed?);
                let Some(mut page) = page? else {
                    break;
                };
                // Entries past this range belong to the next one.
                if let Some(to) = to {
                    page.retain(|(_, t)| *t <= to);
                }
                until = until.max(page.iter().map(|(_, t)| *t).max().unwrap_or(until));
                let ids: Vec<String> = page.iter().map(|(id, _)| id.clone()).collect();
                let held = lock(store).worklog_updates(&ids)?;
                lock(stale).extend(
                    page.into_iter()
                        .filter(|(id, t)| {
                            held.get(id).and_then(|u| u.as_deref().and_then(millis)) != Some(*t)
                        })
                        .map(|(id, _)| id),
                );
                match feed_position(&pages) {
                    Some(next) if to.is_none_or(|to| next < to) => {}
                    _ => break,
                }
            }
            Ok::<_, SyncError>(until)
        }
    }))
    .buffer_unordered(concurrency.max(1));
    let mut until = since;
    while let Some(range) = ranges.next().await {
        until = until.max(range?);
    }
    let rest = std::mem::take(&mut *lock(stale));
    wrote(list_and_write(client, store, rest).await?);
    Ok(until)
}

/// The mutex's value (one held by a task that panicked is still whole: every change to it is a
/// single call).
fn lock<T: ?Sized>(m: &std::sync::Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Fetches worklogs by id, 1000 a request, and writes those of live issues here (an issue not
/// here is in another project, or not synced yet: an issue new to the store has its worklogs
/// read whole). Returns how many were written.
async fn list_and_write(
    client: &Client,
    store: &std::sync::Mutex<&mut dyn Backend>,
    ids: Vec<String>,
) -> Result<usize, SyncError> {
    let mut written = 0;
    for chunk in ids.chunks(LIST_MAX) {
        let list = client.worklog_list(chunk).await?;
        let issue_ids: Vec<String> = list
            .iter()
            .filter_map(|w| w.issue_id.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        let mut store = lock(store);
        let live = store.live_issues_among(&issue_ids)?;
        let rows: Vec<_> = list
            .iter()
            .filter_map(|w| {
                let issue = w.issue_id.as_deref()?;
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
