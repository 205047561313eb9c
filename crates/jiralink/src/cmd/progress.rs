//! Progress of a long sync on stderr: a redrawn line on a terminal (records, rate, ETA), a plain
//! line every ten seconds otherwise (CI logs, files).

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiralink_sync::{Progress, ProgressSink};

struct State {
    started: Instant,
    last: Option<Instant>,
    drawn: bool,
}

pub struct Reporter {
    name: String,
    tty: bool,
    state: Arc<Mutex<State>>,
}

impl Reporter {
    pub fn new(name: &str) -> Reporter {
        Reporter {
            name: name.to_owned(),
            tty: std::io::stderr().is_terminal(),
            state: Arc::new(Mutex::new(State {
                started: Instant::now(),
                last: None,
                drawn: false,
            })),
        }
    }

    pub fn sink(&self) -> ProgressSink {
        let (name, tty, state) = (self.name.clone(), self.tty, self.state.clone());
        ProgressSink(Arc::new(move |p: &Progress| {
            let Ok(mut s) = state.lock() else { return };
            let every = if tty {
                Duration::from_millis(100)
            } else {
                Duration::from_secs(10)
            };
            let now = Instant::now();
            if s.last.is_some_and(|l| now - l < every) {
                return;
            }
            s.last = Some(now);
            let line = line(&name, p, now - s.started);
            let mut err = std::io::stderr().lock();
            if tty {
                let _ = write!(err, "\r\x1b[2K{line}");
                s.drawn = true;
            } else {
                let _ = writeln!(err, "{line}");
            }
            let _ = err.flush();
        }))
    }

    /// Clears the terminal line, so the summary prints on a clean one.
    pub fn finish(self) {
        if let Ok(s) = self.state.lock() {
            if self.tty && s.drawn {
                let _ = write!(std::io::stderr(), "\r\x1b[2K");
            }
        }
    }
}

fn line(name: &str, p: &Progress, elapsed: Duration) -> String {
    let secs = elapsed.as_secs_f64().max(0.001);
    let rate = p.issues_written as f64 / secs;
    let left = p.issues_planned.saturating_sub(p.issues_written);
    let eta = if rate > 0.0 && left > 0 && p.projects_done < p.projects {
        format!(
            " · ETA {:.0} s for the projects planned",
            left as f64 / rate
        )
    } else {
        String::new()
    };
    let width = 20;
    let filled = (p.projects_done * width)
        .checked_div(p.projects)
        .unwrap_or(width);
    format!(
        "{name}: [{}{}] {}/{} projects ({}) · {}/{} issues, {} changelog items, {} comments, {} worklogs · {:.0} issues/s{eta}",
        "#".repeat(filled),
        "-".repeat(width - filled),
        p.projects_done,
        p.projects,
        p.project,
        p.issues_written,
        p.issues_planned,
        p.changelog_items,
        p.comments,
        p.worklogs,
        rate
    )
}
