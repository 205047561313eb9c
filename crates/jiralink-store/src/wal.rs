//! Checkpoints of an SQLite store's write-ahead log, on a thread of their own.
//!
//! A checkpoint copies the WAL's pages back into the database file and then syncs that file to
//! disk. SQLite's automatic checkpoint runs inside the commit that crosses its threshold, so the
//! writer (a sync's batches) waited for every sync of the database file: on the build machine a
//! 100,000-issue sync spent a third of its time there (83 s with them, 56 s with no syncs at all),
//! with its requests held back behind the writer. Here the committing connection only notes how
//! many pages its WAL holds; when [`WalPolicy::soft_pages`] of them are new since the last
//! checkpoint, a thread with its own connection runs a passive checkpoint while the writer goes on
//! (a page rewritten by many commits is still copied back once per 64 MiB), and past
//! [`WalPolicy::hard_pages`] (the WAL could not restart, or the thread fell behind) the writer
//! checkpoints itself, so the WAL stays bounded whatever happens.

use std::cell::Cell;
use std::path::Path;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc::{self, SyncSender};
use std::sync::Arc;
use std::thread::JoinHandle;

use rusqlite::Connection;

use crate::Result;

thread_local! {
    /// Pages in the WAL after the last commit on this thread (SQLite runs the WAL hook on the
    /// committing thread, inside `commit`).
    static WAL_PAGES: Cell<i32> = const { Cell::new(0) };
}

fn note_wal_pages(_: &rusqlite::hooks::Wal, pages: std::ffi::c_int) -> rusqlite::Result<()> {
    WAL_PAGES.set(pages);
    Ok(())
}

/// When a checkpoint is due, in pages of the store.
#[derive(Debug, Clone, Copy)]
pub(crate) struct WalPolicy {
    /// The background thread checkpoints past this (64 MiB of pages).
    pub soft_pages: i32,
    /// The writer checkpoints itself past this (512 MiB of pages).
    pub hard_pages: i32,
}

impl WalPolicy {
    pub fn for_page_size(page_size: i64) -> WalPolicy {
        let pages = |bytes: i64| i32::try_from(bytes / page_size.max(512)).unwrap_or(i32::MAX);
        WalPolicy {
            soft_pages: pages(64 << 20),
            hard_pages: pages(512 << 20),
        }
    }

    /// Turns SQLite's own checkpoints off on the writer's connection and has its commits note
    /// the WAL's size instead (the two share SQLite's one WAL hook).
    pub fn install(conn: &Connection) -> Result<()> {
        conn.pragma_update(None, "wal_autocheckpoint", 0)?;
        conn.wal_hook(Some(note_wal_pages));
        Ok(())
    }
}

/// What the last commit on this thread left in the WAL, in pages (taken: reads 0 until the next
/// commit).
pub(crate) fn take_wal_pages() -> i32 {
    WAL_PAGES.take()
}

/// The thread that checkpoints a store's WAL when asked. Dropping it finishes the checkpoint
/// under way and stops the thread.
pub(crate) struct Checkpointer {
    wake: Option<SyncSender<()>>,
    thread: Option<JoinHandle<()>>,
    /// Frames of the WAL its last checkpoint copied back.
    backfilled: Arc<AtomicI32>,
}

impl Checkpointer {
    pub fn start(path: &Path) -> Result<Checkpointer> {
        let conn = Connection::open(path)?;
        conn.busy_timeout(std::time::Duration::from_secs(10))?;
        // One request waits while a checkpoint runs; more would ask for the same work.
        let (wake, asked) = mpsc::sync_channel::<()>(1);
        let backfilled = Arc::new(AtomicI32::new(0));
        let copied = backfilled.clone();
        let thread = std::thread::Builder::new()
            .name("jiralink-wal-checkpoint".into())
            .spawn(move || {
                while asked.recv().is_ok() {
                    // A passive checkpoint copies what no reader still needs and never waits for
                    // the writer. A failed one (busy, I/O) is retried at the next request, and the
                    // writer's own checkpoint past the hard bound reports a failure that persists.
                    if let Ok(frames) =
                        conn.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |r| r.get(2))
                    {
                        copied.store(frames, Ordering::Relaxed);
                    }
                }
            })
            .map_err(|e| crate::StoreError::Sqlite(crate::DbError(Box::new(e))))?;
        Ok(Checkpointer {
            wake: Some(wake),
            thread: Some(thread),
            backfilled,
        })
    }

    /// The WAL's frames not yet copied back, of `pages` in it (a WAL that restarted since the
    /// last checkpoint is all new).
    pub fn pending(&self, pages: i32) -> i32 {
        let done = self.backfilled.load(Ordering::Relaxed);
        if pages >= done {
            pages - done
        } else {
            pages
        }
    }

    /// Asks for a checkpoint; returns at once.
    pub fn request(&self) {
        // Full: a checkpoint is already asked for, and covers this commit too.
        if let Some(wake) = &self.wake {
            let _ = wake.try_send(());
        }
    }
}

impl Drop for Checkpointer {
    fn drop(&mut self) {
        drop(self.wake.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}
