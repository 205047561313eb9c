//! Quality (bug share of throughput, bug age, open bugs by priority) and hygiene (stale issues,
//! started work without an assignee, done work without a resolution, missing estimates in active
//! sprints).

use serde::Serialize;

use crate::flow::{ratio, Timeline};
use crate::load::Dataset;
use crate::stages::Stage;
use crate::{Options, Percentiles};

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PriorityCount {
    pub priority: String,
    pub items: u64,
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Quality {
    /// Items done in the window, and the bugs among them.
    pub completed: u64,
    pub bugs_completed: u64,
    pub bug_share: Option<f64>,
    /// Lead time of bugs done in the window.
    pub bug_lead_time_days: Percentiles,
    pub open_bugs: u64,
    /// Age (creation to now) of open bugs.
    pub open_bug_age_days: Percentiles,
    pub open_bugs_by_priority: Vec<PriorityCount>,
}

pub fn quality(ds: &Dataset, timelines: &[Timeline], opts: &Options) -> Quality {
    let bug: Vec<bool> = ds
        .issue_types
        .iter()
        .map(|t| opts.config.is_bug(t))
        .collect();
    let mut q = Quality::default();
    let (mut leads, mut ages) = (Vec::new(), Vec::new());
    let mut by_priority = vec![0u64; ds.priorities.len()];
    for (issue, t) in ds.issues.iter().zip(timelines) {
        let is_bug = bug[issue.issue_type as usize];
        match t.done_at {
            Some(d) if (opts.since..opts.until).contains(&d) => {
                q.completed += 1;
                if is_bug {
                    q.bugs_completed += 1;
                    leads.push(d - issue.created);
                }
            }
            None if is_bug => {
                q.open_bugs += 1;
                ages.push(opts.as_of - issue.created);
                by_priority[issue.priority as usize] += 1;
            }
            _ => {}
        }
    }
    q.bug_share = (q.completed > 0).then(|| ratio(q.bugs_completed as i64, q.completed as i64));
    q.bug_lead_time_days = Percentiles::of(&mut leads);
    q.open_bug_age_days = Percentiles::of(&mut ages);
    q.open_bugs_by_priority = ds
        .priorities
        .iter()
        .zip(by_priority)
        .filter(|(_, n)| *n > 0)
        .map(|(p, items)| PriorityCount {
            priority: if p.is_empty() {
                "(none)".into()
            } else {
                p.clone()
            },
            items,
        })
        .collect();
    q.open_bugs_by_priority
        .sort_by(|a, b| b.items.cmp(&a.items).then(a.priority.cmp(&b.priority)));
    q
}

/// A hygiene check: how many issues fail it, and the first of them by key.
#[derive(Debug, Clone, Serialize, Default, PartialEq)]
pub struct Check {
    pub items: u64,
    pub keys: Vec<String>,
}

impl Check {
    fn add(&mut self, key: &str) {
        self.items += 1;
        if self.keys.len() < 20 {
            self.keys.push(key.to_owned());
        }
    }
}

#[derive(Debug, Clone, Serialize, Default)]
pub struct Hygiene {
    pub stale_days: i64,
    /// Open and not updated for `stale_days`.
    pub stale: Check,
    pub started_without_assignee: Check,
    pub done_without_resolution: Check,
    /// Open items of active sprints without a story-point estimate (sub-tasks excepted).
    pub missing_estimates_in_active_sprints: Check,
}

pub fn hygiene(ds: &Dataset, stages: &[Stage], opts: &Options) -> Hygiene {
    let stale_before = opts.as_of - opts.config.stale_days * 86_400;
    let active_sprint: Vec<bool> = ds.sprints.iter().map(|s| s.state == "active").collect();
    let subtask: Vec<bool> = ds
        .issue_types
        .iter()
        .map(|t| {
            let t = t.to_lowercase();
            t.contains("sub-task") || t.contains("subtask")
        })
        .collect();
    let mut h = Hygiene {
        stale_days: opts.config.stale_days,
        ..Hygiene::default()
    };
    // Failing issues by check, then each list in key order (sorting only the failures).
    let mut failing: [Vec<usize>; 4] = Default::default();
    for (i, issue) in ds.issues.iter().enumerate() {
        let stage = stages[issue.status as usize];
        if stage != Stage::Done && issue.updated < stale_before {
            failing[0].push(i);
        }
        if stage.started() && !issue.assigned {
            failing[1].push(i);
        }
        if stage == Stage::Done && issue.resolved.is_none() {
            failing[2].push(i);
        }
        if stage != Stage::Done
            && issue.story_points.is_none()
            && !subtask[issue.issue_type as usize]
            && issue.sprints.iter().any(|&s| active_sprint[s as usize])
        {
            failing[3].push(i);
        }
    }
    let checks = [
        &mut h.stale,
        &mut h.started_without_assignee,
        &mut h.done_without_resolution,
        &mut h.missing_estimates_in_active_sprints,
    ];
    for (check, mut list) in checks.into_iter().zip(failing) {
        list.sort_by_cached_key(|&i| natural_key(&ds.issues[i].key));
        for i in list {
            check.add(&ds.issues[i].key);
        }
    }
    h
}

/// `ENG-12` sorts after `ENG-9`.
fn natural_key(key: &str) -> (&str, u64) {
    match key.rsplit_once('-') {
        Some((p, n)) => (p, n.parse().unwrap_or(0)),
        None => (key, 0),
    }
}
