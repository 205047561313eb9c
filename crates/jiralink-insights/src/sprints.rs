//! Sprint metrics, from each issue's sprint-field and estimate history: committed vs completed
//! (items and story points), scope added and removed after the start, carry-over, velocity and the
//! say/do ratio. Membership at an instant is read from the history, so an issue moved out of a
//! sprint after it closed still counts where it was. Sprints are grouped by board: velocity and
//! say/do are per board (two teams' sprints are never averaged together).

use serde::Serialize;

use crate::flow::{ratio, status_at};
use crate::load::{Dataset, Issue};
use crate::stages::Stage;
use crate::Options;

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SprintReport {
    pub id: String,
    pub name: String,
    pub board_id: String,
    /// The board's name (its id when the store lacks the board).
    pub board: String,
    pub state: String,
    pub start: String,
    pub end: String,
    /// In the sprint when it started.
    pub committed_items: u64,
    pub committed_points: f64,
    /// Joined after the start (even if removed again).
    pub added_items: u64,
    pub added_points: f64,
    /// Left before the end.
    pub removed_items: u64,
    pub removed_points: f64,
    /// In the sprint at its end and done then.
    pub completed_items: u64,
    pub completed_points: f64,
    /// In the sprint at its end and not done: carried over.
    pub carried_over_items: u64,
    pub carried_over_points: f64,
    /// Completed points over committed points (items where no points were committed).
    pub say_do_ratio: Option<f64>,
}

/// The sprints of one board.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct BoardSprints {
    pub board_id: String,
    pub board: String,
    /// Its sprints' indexes in `Sprints::sprints`, by start date.
    pub sprints: Vec<usize>,
    /// Mean completed points of the board's last three closed sprints.
    pub velocity: Option<f64>,
    /// Completed over committed points of the board's closed sprints.
    pub say_do_ratio: Option<f64>,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Sprints {
    /// Sprints that started, ending in the window (or still active), by board, then start date.
    pub sprints: Vec<SprintReport>,
    /// The sprints per board, by board name.
    pub boards: Vec<BoardSprints>,
    /// The board's velocity when the report covers one board; `None` for several (each board's
    /// is in `boards`: sprints of different teams and lengths do not average).
    pub velocity: Option<f64>,
    /// As `velocity`: the one board's, else `None`.
    pub say_do_ratio: Option<f64>,
}

fn member_at(issue: &Issue, sprint: u32, t: i64) -> bool {
    let c = &issue.sprint_changes;
    if c.is_empty() {
        return issue.sprints.contains(&sprint);
    }
    match c.partition_point(|x| x.at <= t) {
        0 => c[0].from.contains(&sprint),
        n => c[n - 1].to.contains(&sprint),
    }
}

/// Story points at `t`, from the estimate history.
fn points_at(issue: &Issue, t: i64) -> f64 {
    let c = &issue.estimate_changes;
    let v = match c.partition_point(|x| x.0 <= t) {
        _ if c.is_empty() => issue.story_points,
        0 => c[0].1,
        n => c[n - 1].2,
    };
    v.unwrap_or(0.0)
}

pub fn sprints(ds: &Dataset, stages: &[Stage], opts: &Options) -> Sprints {
    // Issues that were ever in each sprint.
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); ds.sprints.len()];
    for (i, issue) in ds.issues.iter().enumerate() {
        if issue.sprints.is_empty() && issue.sprint_changes.is_empty() {
            continue;
        }
        let mut seen: Vec<u32> = issue.sprints.clone();
        for c in &issue.sprint_changes {
            seen.extend(c.from.iter().chain(&c.to));
        }
        seen.sort_unstable();
        seen.dedup();
        for s in seen {
            members[s as usize].push(i);
        }
    }
    let mut out = Sprints::default();
    for (s, sprint) in ds.sprints.iter().enumerate() {
        let Some(start) = sprint.start else { continue };
        // A sprint none of whose issues is in the report's scope (another project's board, when
        // the report is filtered) says nothing here.
        if members[s].is_empty() || ds.board.as_ref().is_some_and(|b| *b != sprint.board_id) {
            continue;
        }
        let closed = sprint.state == "closed";
        let end = if closed {
            sprint.complete.or(sprint.end).unwrap_or(opts.as_of)
        } else {
            opts.as_of
        };
        let in_window = !closed || (opts.since..=opts.until).contains(&end);
        if start > opts.as_of || !in_window {
            continue;
        }
        let s = s as u32;
        // Closing a sprint moves its open issues on at the closing instant: membership at the end
        // is read just before it.
        let last = if closed { end - 1 } else { end };
        let mut r = SprintReport {
            id: sprint.id.clone(),
            name: sprint.name.clone(),
            board_id: sprint.board_id.clone(),
            board: sprint
                .board
                .clone()
                .filter(|b| !b.is_empty())
                .unwrap_or_else(|| format!("board {}", sprint.board_id)),
            state: sprint.state.clone(),
            start: crate::iso(start),
            end: crate::iso(end),
            committed_items: 0,
            committed_points: 0.0,
            added_items: 0,
            added_points: 0.0,
            removed_items: 0,
            removed_points: 0.0,
            completed_items: 0,
            completed_points: 0.0,
            carried_over_items: 0,
            carried_over_points: 0.0,
            say_do_ratio: None,
        };
        for &i in &members[s as usize] {
            let issue = &ds.issues[i];
            let committed = member_at(issue, s, start);
            let added = !committed
                && issue
                    .sprint_changes
                    .iter()
                    .any(|c| c.at > start && c.at <= last && c.to.contains(&s));
            let at_end = member_at(issue, s, last);
            if committed {
                r.committed_items += 1;
                r.committed_points += points_at(issue, start);
            }
            if added {
                r.added_items += 1;
                r.added_points += points_at(issue, end);
            }
            if (committed || added) && !at_end {
                r.removed_items += 1;
                r.removed_points += points_at(issue, end);
            }
            if at_end {
                if stages[status_at(issue, end) as usize] == Stage::Done {
                    r.completed_items += 1;
                    r.completed_points += points_at(issue, end);
                } else {
                    r.carried_over_items += 1;
                    r.carried_over_points += points_at(issue, end);
                }
            }
        }
        r.say_do_ratio = if r.committed_points > 0.0 {
            Some(round(r.completed_points / r.committed_points))
        } else if r.committed_items > 0 {
            Some(ratio(r.completed_items as i64, r.committed_items as i64))
        } else {
            None
        };
        out.sprints.push(r);
    }
    // Grouped by board (stable: each board's sprints stay in start order).
    out.sprints
        .sort_by(|a, b| (&a.board, &a.board_id).cmp(&(&b.board, &b.board_id)));
    for (i, r) in out.sprints.iter().enumerate() {
        match out.boards.last_mut() {
            Some(b) if b.board_id == r.board_id => b.sprints.push(i),
            _ => out.boards.push(BoardSprints {
                board_id: r.board_id.clone(),
                board: r.board.clone(),
                sprints: vec![i],
                velocity: None,
                say_do_ratio: None,
            }),
        }
    }
    for b in &mut out.boards {
        let closed: Vec<&SprintReport> = b
            .sprints
            .iter()
            .map(|&i| &out.sprints[i])
            .filter(|r| r.state == "closed")
            .collect();
        let last3 = &closed[closed.len().saturating_sub(3)..];
        if !last3.is_empty() {
            b.velocity = Some(round(
                last3.iter().map(|r| r.completed_points).sum::<f64>() / last3.len() as f64,
            ));
        }
        let (done, committed) = closed.iter().fold((0.0, 0.0), |(d, c), r| {
            (d + r.completed_points, c + r.committed_points)
        });
        b.say_do_ratio = (committed > 0.0).then(|| round(done / committed));
    }
    if let [one] = &out.boards[..] {
        out.velocity = one.velocity;
        out.say_do_ratio = one.say_do_ratio;
    }
    out
}

fn round(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}
