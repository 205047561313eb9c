//! `GET /__sim/snapshot`: the ground truth that tests and benchmarks compare a synced store with.

use std::collections::{BTreeMap, BTreeSet};

use axum::response::{IntoResponse, Response};
use serde_json::{json, Value};

use crate::model::{Site, SprintState};
use crate::render::{content_hash, iso_utc};

pub async fn handler(state: super::routes::SharedState) -> Response {
    let body = snapshot(&state.site.read());
    axum::Json(body).into_response()
}

/// Every live project, issue, comment, worklog and sprint, and everything deleted so far. Ids are
/// numbers; times are UTC ISO-8601 with milliseconds (`updated`) and epoch ms (`updated_ms`).
pub fn snapshot(site: &Site) -> Value {
    let projects: Vec<Value> = site
        .projects
        .iter()
        .filter(|p| p.deleted.is_none())
        .map(|p| json!({"id": p.id, "key": p.key, "name": p.name, "type": p.project_type.key()}))
        .collect();
    let mut issues = Vec::with_capacity(site.issues.len());
    let mut deleted_issues = Vec::new();
    let (mut comments, mut worklogs, mut changelogs) = (0usize, 0usize, 0usize);
    for i in &site.issues {
        if i.deleted.is_some() {
            deleted_issues.push(i.id);
            continue;
        }
        comments += i.comments.len();
        worklogs += i.worklogs.len();
        changelogs += i.changelog.len();
        issues.push(json!({
            "id": i.id,
            "key": site.issue_key(i),
            "project_key": site.projects[i.project as usize].key,
            "updated": iso_utc(i.updated),
            "updated_ms": i.updated,
            "content_hash": content_hash(site, i),
            "changelog_count": i.changelog.len(),
            "comment_ids": i.comments.iter().map(|c| c.id).collect::<Vec<_>>(),
            "worklog_ids": i.worklogs.iter().map(|w| w.id).collect::<Vec<_>>(),
            "sprint_ids": i.sprints,
        }));
    }
    let sprints: Vec<Value> = site
        .sprints
        .iter()
        .map(
            |s| json!({"id": s.id, "board_id": s.board, "name": s.name, "state": s.state.as_str()}),
        )
        .collect();
    let boards: Vec<Value> = site
        .boards
        .iter()
        .map(|b| {
            json!({"id": b.id, "name": b.name, "type": if b.scrum { "scrum" } else { "kanban" },
                        "project_key": site.projects[b.project as usize].key})
        })
        .collect();
    json!({
        "deployment": site.deployment.as_str(),
        "taken_at": iso_utc(site.now()),
        "counts": {
            "projects": projects.len(), "issues": issues.len(), "comments": comments, "worklogs": worklogs,
            "changelogs": changelogs, "boards": boards.len(), "sprints": sprints.len(),
            "active_sprints": site.sprints.iter().filter(|s| s.state == SprintState::Active).count(),
        },
        "projects": projects,
        "issues": issues,
        "boards": boards,
        "sprints": sprints,
        "deleted": {
            "issues": deleted_issues,
            "comments": site.deleted_comments.iter().map(|t| t.id).collect::<Vec<_>>(),
            "worklogs": site.deleted_worklogs.iter().map(|t| t.id).collect::<Vec<_>>(),
        },
    })
}

/// The live issues of a snapshot: id → (key, `updated`), what a synced store must hold.
pub fn issue_versions(snapshot: &Value) -> BTreeMap<String, (String, String)> {
    let text = |v: &Value| v.as_str().unwrap_or_default().to_owned();
    live_issues(snapshot)
        .map(|i| (i["id"].to_string(), (text(&i["key"]), text(&i["updated"]))))
        .collect()
}

/// The ids a snapshot's live issues list under `field` (`comment_ids`, `worklog_ids`).
pub fn child_ids(snapshot: &Value, field: &str) -> BTreeSet<String> {
    live_issues(snapshot)
        .flat_map(|i| i[field].as_array().cloned().unwrap_or_default())
        .map(|v| v.to_string())
        .collect()
}

fn live_issues(snapshot: &Value) -> impl Iterator<Item = &Value> {
    snapshot["issues"].as_array().into_iter().flatten()
}
