//! Progress of a long sync on stderr: a redrawn line on a terminal (records, rate, ETA), a plain
//! line every ten seconds otherwise (CI logs, files); issues by project, then the worklog feeds,
//! then boards.

use std::io::{IsTerminal, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiralink_sync::{Phase, Progress, ProgressSink};

struct State {
    started: Instant,
    last: Option<Instant>,
    drawn: bool,
    /// When the first issues were written, and how many: the pass's rate is counted from there,
    /// not from the start (the site's metadata and the plan before it are no part of the rate).
    first_written: Option<(Instant, usize)>,
}

/// The pass's rate (and so its ETA) is shown once it has run this long: over its first batches
/// it says nothing (a 54-second sync showed "ETA 1390 s" on its first line).
const RATE_AFTER: Duration = Duration::from_secs(2);

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
                first_written: None,
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
            if s.first_written.is_none() && p.issues_written > 0 {
                s.first_written = Some((now, p.issues_written));
            }
            let rate = s.first_written.and_then(|(at, n)| {
                let secs = now.saturating_duration_since(at);
                (secs >= RATE_AFTER)
                    .then(|| p.issues_written.saturating_sub(n) as f64 / secs.as_secs_f64())
            });
            let line = line(&name, p, now - s.started, rate);
            let mut err = std::io::stderr().lock();
            if tty {
                // A redrawn line must not wrap, or each redraw leaves a line behind.
                let line = fit(&line, terminal_width());
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

/// The terminal's width as the shell exports it (`COLUMNS`), else the classic 80.
pub(crate) fn terminal_width() -> usize {
    std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|w| *w >= 20)
        .unwrap_or(80)
}

/// `line` cut to fit in `width` columns (one left free for the cursor), an ellipsis marking the cut.
pub(crate) fn fit(line: &str, width: usize) -> String {
    let room = width.saturating_sub(1).max(1);
    if line.chars().count() <= room {
        return line.to_owned();
    }
    let mut s: String = line.chars().take(room - 1).collect();
    s.push('…');
    s
}

/// The line for `p`, `elapsed` since the sync started; `rate` is the pass's issues a second, when
/// known.
fn line(name: &str, p: &Progress, elapsed: Duration, rate: Option<f64>) -> String {
    match p.phase {
        Phase::Issues => {}
        Phase::Worklogs => {
            return format!(
                "{name}: {} issues written · worklog feeds: {} worklogs, {} issues read on their own · {:.0} s",
                p.issues_written,
                p.worklogs,
                p.worklog_issue_reads,
                elapsed.as_secs_f64()
            )
        }
        Phase::Boards => {
            return format!(
                "{name}: {} issues written · boards and sprints · {:.0} s",
                p.issues_written,
                elapsed.as_secs_f64()
            )
        }
    }
    // Against the count up front when there is one (a first sync), else the projects planned.
    let (of, scope) = match p.issues_expected {
        Some(n) => (n.max(p.issues_planned), ""),
        None => (p.issues_planned, " for the projects planned"),
    };
    let left = of.saturating_sub(p.issues_written);
    let pace = match rate {
        Some(rate) if rate > 0.0 && left > 0 && p.projects_done < p.projects => {
            format!(
                " · {rate:.0} issues/s · ETA {:.0} s{scope}",
                left as f64 / rate
            )
        }
        Some(rate) => format!(" · {rate:.0} issues/s"),
        None => String::new(),
    };
    let width = 20;
    let filled = match p.issues_expected {
        Some(_) => (p.issues_written.min(of) * width).checked_div(of),
        None => (p.projects_done * width).checked_div(p.projects),
    }
    .unwrap_or(width);
    format!(
        "{name}: [{}{}] {}/{} projects ({}) · {}/{} issues, {} changelog items, {} comments, {} worklogs{pace}",
        "#".repeat(filled),
        "-".repeat(width - filled),
        p.projects_done,
        p.projects,
        p.project,
        p.issues_written,
        of,
        p.changelog_items,
        p.comments,
        p.worklogs,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_long_progress_line_fits_the_terminal() {
        let long = "prod: 12345 issues written · worklog feeds: 999 worklogs, 12 issues read on their own · boards 3 · 120 s · ETA 45 s · 250 records/s";
        let cut = fit(long, 80);
        assert_eq!(cut.chars().count(), 79);
        assert!(cut.ends_with('…'));
        assert_eq!(fit("short", 80), "short");
    }

    #[test]
    fn each_phase_has_its_own_line() {
        let mut p = Progress {
            projects: 4,
            projects_done: 1,
            project: "ENG".into(),
            issues_planned: 2000,
            issues_written: 1000,
            worklogs: 300,
            ..Progress::default()
        };
        // Over the pass's first seconds, no rate and no ETA.
        let first = line("site", &p, Duration::from_secs(1), None);
        assert!(
            first.ends_with("1000/2000 issues, 0 changelog items, 0 comments, 300 worklogs"),
            "{first}"
        );
        let issues = line("site", &p, Duration::from_secs(10), Some(100.0));
        assert!(
            issues
                .starts_with("site: [#####---------------] 1/4 projects (ENG) · 1000/2000 issues")
                && issues.contains("100 issues/s · ETA 10 s"),
            "{issues}"
        );
        // With the count up front, the bar and the ETA are the whole site's.
        p.issues_expected = Some(4000);
        let counted = line("site", &p, Duration::from_secs(10), Some(100.0));
        assert!(
            counted
                .starts_with("site: [#####---------------] 1/4 projects (ENG) · 1000/4000 issues")
                && counted.ends_with("100 issues/s · ETA 30 s"),
            "{counted}"
        );
        p.phase = Phase::Worklogs;
        p.worklogs = 5300;
        p.worklog_issue_reads = 7;
        let feeds = line("site", &p, Duration::from_secs(12), Some(100.0));
        assert_eq!(
            feeds,
            "site: 1000 issues written · worklog feeds: 5300 worklogs, 7 issues read on their own · 12 s"
        );
        p.phase = Phase::Boards;
        assert!(line("site", &p, Duration::from_secs(13), None).contains("boards and sprints"));
    }
}
