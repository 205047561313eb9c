//! Wire JSON to store rows, explicitly, field by field. Custom fields (story points, sprint) are
//! found by their schema in the field list, never by a hard-coded id.

use std::collections::HashMap;

use jiralink_store::{
    utc, ChangeRow, CommentRow, ComponentRow, IssueBatch, IssueRefs, IssueRow, LinkRow, SprintRow,
    StoreError, Tx, VersionRow, WorklogRow,
};
use serde_json::Value;

/// The ids of the custom fields the store normalises.
#[derive(Debug, Default, Clone)]
pub struct Fields {
    story_points: Vec<String>,
    sprint: Option<String>,
}

impl Fields {
    pub fn from_field_list(list: &Value) -> Fields {
        let mut f = Fields::default();
        for field in list.as_array().into_iter().flatten() {
            let id = field["id"].as_str().unwrap_or_default().to_owned();
            let custom = field["schema"]["custom"].as_str().unwrap_or_default();
            let name = field["name"]
                .as_str()
                .unwrap_or_default()
                .to_ascii_lowercase();
            if custom.ends_with(":jsw-story-points")
                || (custom.ends_with(":float") && name.contains("story point"))
            {
                f.story_points.push(id.clone());
            }
            if custom.ends_with(":gh-sprint") {
                f.sprint = Some(id);
            }
        }
        f
    }
}

/// Changelog rows per issue id, gathered from `changelog/bulkfetch` pages.
#[derive(Debug, Default)]
pub struct Changes(HashMap<String, Vec<ChangeRow>>);

impl Changes {
    /// A `changelog/bulkfetch` page (Cloud).
    pub fn add(&mut self, page: &Value) {
        for log in page["issueChangeLogs"].as_array().into_iter().flatten() {
            self.add_histories(
                log["issueId"].as_str().unwrap_or_default(),
                &log["changeHistories"],
            );
        }
    }

    /// An issue's change histories (a bulkfetch entry, or an embedded `changelog.histories`).
    pub fn add_histories(&mut self, issue: &str, histories: &Value) {
        let rows = self.0.entry(issue.to_owned()).or_default();
        for h in histories.as_array().into_iter().flatten() {
            let change_id = h["id"].as_str().unwrap_or_default();
            for (n, item) in h["items"].as_array().into_iter().flatten().enumerate() {
                rows.push(ChangeRow {
                    change_id: change_id.to_owned(),
                    item_index: n as i64,
                    changed_at: h["created"].as_str().and_then(utc),
                    author_id: h["author"]["accountId"]
                        .as_str()
                        .or(h["author"]["key"].as_str())
                        .map(str::to_owned),
                    field: item["fieldId"]
                        .as_str()
                        .or(item["field"].as_str())
                        .map(str::to_owned),
                    from_value: item["from"].as_str().map(str::to_owned),
                    from_string: item["fromString"].as_str().map(str::to_owned),
                    to_value: item["to"].as_str().map(str::to_owned),
                    to_string: item["toString"].as_str().map(str::to_owned),
                });
            }
        }
    }

    pub fn take(&mut self, issue: &str) -> Vec<ChangeRow> {
        self.0.remove(issue).unwrap_or_default()
    }
}

/// What one bulk fetch yields, ready to write in one transaction.
#[derive(Debug, Default)]
pub struct Batch {
    /// The rows; an issue whose worklogs are not all here is queued for the worklog feeds or a
    /// read of its own, in `worklog_reads`.
    pub rows: IssueBatch,
    pub worklog_reads: Vec<String>,
    /// How many worklogs Jira has for these issues (embedded or not).
    pub worklogs_in_jira: usize,
}

/// A worklog of Jira's (embedded, per issue, or from `worklog/list`) as a store row.
pub fn worklog(issue_id: &str, w: &Value) -> WorklogRow {
    WorklogRow {
        id: w["id"].as_str().unwrap_or_default().to_owned(),
        issue_id: issue_id.to_owned(),
        author_id: s(&w["author"]["accountId"]).or(s(&w["author"]["key"])),
        started: w["started"].as_str().and_then(utc),
        time_spent_seconds: w["timeSpentSeconds"].as_i64(),
        updated: w["updated"].as_str().and_then(utc),
    }
}

fn s(v: &Value) -> Option<String> {
    v.as_str().map(str::to_owned)
}

impl Batch {
    pub fn add(
        &mut self,
        fields: &Fields,
        issue: &Value,
        changes: Vec<ChangeRow>,
        comments: &[Value],
        worklogs: &[Value],
        worklogs_complete: bool,
    ) {
        let id = issue["id"].as_str().unwrap_or_default().to_owned();
        let f = &issue["fields"];
        let story_points = fields.story_points.iter().find_map(|k| f[k].as_f64());
        let sprint_ids: Vec<String> = fields
            .sprint
            .as_ref()
            .and_then(|k| f[k].as_array())
            .map(|a| {
                a.iter()
                    .filter_map(|sp| sp["id"].as_i64().map(|i| i.to_string()))
                    .collect()
            })
            .unwrap_or_default();
        self.rows.issues.push(IssueRow {
            id: id.clone(),
            key: issue["key"].as_str().unwrap_or_default().to_owned(),
            project_key: f["project"]["key"].as_str().unwrap_or_default().to_owned(),
            issue_type: s(&f["issuetype"]["name"]),
            summary: s(&f["summary"]),
            status: s(&f["status"]["name"]),
            status_category: s(&f["status"]["statusCategory"]["key"]),
            priority: s(&f["priority"]["name"]),
            assignee_id: s(&f["assignee"]["accountId"]).or(s(&f["assignee"]["key"])),
            reporter_id: s(&f["reporter"]["accountId"]).or(s(&f["reporter"]["key"])),
            created: f["created"].as_str().and_then(utc),
            updated: f["updated"].as_str().and_then(utc),
            resolved: f["resolutiondate"].as_str().and_then(utc),
            story_points,
            parent_key: s(&f["parent"]["key"]),
            raw_json: issue.to_string(),
        });
        self.rows.refs.push((id.clone(), refs(f)));
        self.rows.changes.push((id.clone(), changes));
        self.rows.comments.push((
            id.clone(),
            comments
                .iter()
                .map(|c| CommentRow {
                    id: c["id"].as_str().unwrap_or_default().to_owned(),
                    issue_id: id.clone(),
                    author_id: s(&c["author"]["accountId"]).or(s(&c["author"]["key"])),
                    created: c["created"].as_str().and_then(utc),
                    updated: c["updated"].as_str().and_then(utc),
                    body_text: Some(jiralink_api::adf::plain_text(&c["body"])),
                    body_raw: Some(c["body"].to_string()),
                })
                .collect(),
        ));
        if !worklogs_complete {
            self.worklog_reads.push(id.clone());
        }
        self.worklogs_in_jira += f["worklog"]["total"]
            .as_u64()
            .map_or(worklogs.len(), |t| t as usize);
        self.rows.worklogs.push((
            id.clone(),
            worklogs.iter().map(|w| worklog(&id, w)).collect(),
            worklogs_complete,
        ));
        self.rows.sprints.push((id, sprint_ids));
    }

    /// Writes the batch; `feeds_started` says whether the worklog feeds have a watermark (see
    /// `Tx::queue_worklog_read`).
    pub fn write(&self, tx: &dyn Tx, now: &str, feeds_started: bool) -> Result<(), StoreError> {
        for id in &self.worklog_reads {
            tx.queue_worklog_read(id, feeds_started)?;
        }
        tx.write_issues(&self.rows, now)
    }
}

/// An issue's fix and affects versions, components and links, from its fields.
fn refs(f: &Value) -> IssueRefs {
    let ids = |v: &Value| -> Vec<String> {
        v.as_array()
            .into_iter()
            .flatten()
            .filter_map(|x| s(&x["id"]))
            .collect()
    };
    IssueRefs {
        fix_versions: ids(&f["fixVersions"]),
        affects_versions: ids(&f["versions"]),
        components: ids(&f["components"]),
        links: f["issuelinks"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|l| {
                let (direction, other) = if l["outwardIssue"].is_object() {
                    ("outward", &l["outwardIssue"])
                } else {
                    ("inward", &l["inwardIssue"])
                };
                LinkRow {
                    id: l["id"].as_str().unwrap_or_default().to_owned(),
                    link_type: s(&l["type"]["name"]),
                    direction: direction.to_owned(),
                    other_issue_id: s(&other["id"]),
                    other_issue_key: s(&other["key"]),
                }
            })
            .collect(),
    }
}

/// A project's versions and components, from a project object (`GET project/{key}`).
pub fn catalog(project: &Value) -> (Vec<VersionRow>, Vec<ComponentRow>) {
    let list = |k: &str| project[k].as_array().cloned().unwrap_or_default();
    let versions = list("versions")
        .iter()
        .map(|v| VersionRow {
            id: v["id"].as_str().unwrap_or_default().to_owned(),
            name: v["name"].as_str().unwrap_or_default().to_owned(),
            released: v["released"].as_bool(),
            archived: v["archived"].as_bool(),
            release_date: s(&v["releaseDate"]),
        })
        .collect();
    let components = list("components")
        .iter()
        .map(|c| ComponentRow {
            id: c["id"].as_str().unwrap_or_default().to_owned(),
            name: c["name"].as_str().unwrap_or_default().to_owned(),
            lead_id: s(&c["lead"]["accountId"]).or(s(&c["lead"]["key"])),
        })
        .collect();
    (versions, components)
}

pub fn sprint(v: &Value) -> SprintRow {
    SprintRow {
        id: v["id"].to_string(),
        board_id: v["originBoardId"].to_string(),
        name: v["name"].as_str().unwrap_or_default().to_owned(),
        state: v["state"].as_str().unwrap_or_default().to_owned(),
        start_date: v["startDate"].as_str().and_then(utc),
        end_date: v["endDate"].as_str().and_then(utc),
        complete_date: v["completeDate"].as_str().and_then(utc),
        goal: s(&v["goal"]),
    }
}
