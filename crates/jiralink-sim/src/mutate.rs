//! `--mutate-per-s`: a background writer that changes the site while clients read it (creates,
//! updates, moves between projects, deletes, comments and worklogs added and removed).

use std::sync::Arc;
use std::time::Duration;

use rand::{Rng, SeedableRng};

use crate::model::{IssueId, Site, FIRST_ISSUE_ID};
use crate::ops::{NewIssue, NewWorklog, TextField};
use crate::server::Shared;

pub async fn run(
    shared: Arc<Shared>,
    per_second: f64,
    mut stop: tokio::sync::watch::Receiver<bool>,
) {
    let mut rng = rand::rngs::SmallRng::seed_from_u64(shared.cfg.gen.seed ^ 0x5EED);
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / per_second.max(0.001)));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => return,
        }
        if shared
            .mutation_paused
            .load(std::sync::atomic::Ordering::Relaxed)
        {
            continue;
        }
        mutate_once(&mut shared.site.write(), &mut rng);
        shared.touch();
    }
}

/// Applies one random change; returns what it did, for logs and tests.
pub fn mutate_once(site: &mut Site, rng: &mut impl Rng) -> &'static str {
    let live: Vec<IssueId> = {
        // Sample a few candidates instead of collecting a million ids.
        (0..8)
            .filter_map(|_| {
                let id = FIRST_ISSUE_ID + rng.gen_range(0..site.issues.len().max(1)) as IssueId;
                site.issue(id).filter(|i| i.deleted.is_none()).map(|i| i.id)
            })
            .collect()
    };
    let author = rng.gen_range(0..site.users.len() as u32);
    let Some(&issue) = live.first() else {
        return create(site, rng, author);
    };
    match rng.gen_range(0..100) {
        0..=14 => create(site, rng, author),
        15..=39 => {
            // Along the workflow's transitions, as a person in Jira's UI would move it.
            let targets: Vec<u16> = site
                .issue(issue)
                .map(|i| {
                    site.workflow_of(i)
                        .transitions_from(i.status)
                        .map(|t| t.to)
                        .collect()
                })
                .unwrap_or_default();
            if targets.is_empty() {
                return "transition";
            }
            let to = targets[rng.gen_range(0..targets.len())];
            site.transition(issue, to, author);
            "transition"
        }
        40..=49 => {
            site.set_text(
                issue,
                TextField::Summary,
                Some(format!("Edited summary {}", rng.gen::<u32>())),
                author,
            );
            "edit"
        }
        50..=64 => {
            site.add_comment(issue, author, format!("Live comment {}", rng.gen::<u32>()));
            "comment"
        }
        65..=69 => {
            let c = site
                .issue(issue)
                .and_then(|i| i.comments.first().map(|c| c.id));
            match c {
                Some(c) => {
                    site.delete_comment(issue, c);
                    "delete comment"
                }
                None => "noop",
            }
        }
        70..=79 => {
            let w = NewWorklog {
                author,
                started: None,
                time_spent_seconds: 900 * rng.gen_range(1..16),
                comment: None,
            };
            site.add_worklog(issue, w);
            "worklog"
        }
        80..=84 => {
            let w = site
                .issue(issue)
                .and_then(|i| i.worklogs.first().map(|w| w.id));
            match w {
                Some(w) => {
                    site.delete_worklog(issue, w);
                    "delete worklog"
                }
                None => "noop",
            }
        }
        85..=91 => {
            let to = rng.gen_range(0..site.projects.len() as u32);
            site.move_issue(issue, to, author);
            "move"
        }
        _ => {
            site.delete_issue(issue);
            "delete"
        }
    }
}

fn create(site: &mut Site, rng: &mut impl Rng, author: u32) -> &'static str {
    let project = rng.gen_range(0..site.projects.len() as u32);
    let types = &site.projects[project as usize].issue_types;
    let standard: Vec<u16> = types
        .iter()
        .copied()
        .filter(|t| !site.issue_types[*t as usize].subtask)
        .collect();
    let issue_type = standard.first().copied().unwrap_or(0);
    let issue_type = standard
        .get(rng.gen_range(0..standard.len().max(1)))
        .copied()
        .unwrap_or(issue_type);
    site.create_issue(NewIssue {
        project,
        issue_type,
        summary: format!("Created while syncing {}", rng.gen::<u32>()),
        description: None,
        reporter: author,
        assignee: None,
        priority: rng.gen_range(0..site.priorities.len() as u8),
        parent: None,
        labels: Vec::new(),
        story_points: None,
    });
    "create"
}
