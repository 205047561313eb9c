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
    /// One issue; `raw` is its JSON as Jira sent it (kept as `raw_json`).
    #[allow(clippy::too_many_arguments)]
    pub fn add(
        &mut self,
        fields: &Fields,
        issue: &Value,
        raw: &str,
        changes: Vec<ChangeRow>,
        comments: &[Value],
        worklogs: &[Value],
        worklogs_complete: bool,
    ) {
        let id = issue["id"].as_str().unwrap_or_default().to_owned();
        let f = &issue["fields"];
        let story_points = fields.story_points.iter().find_map(|k| f[k].as_f64());
        let sprint_ids = fields
            .sprint
            .as_ref()
            .map(|k| sprint_ids(&f[k], issue["key"].as_str().unwrap_or(&id)))
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
            raw_json: raw.to_owned(),
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

/// The sprint ids of an issue's sprint field, in either form Jira writes it: objects (`{"id": 2,
/// ...}`, Cloud) or the legacy strings of Server and Data Center
/// (`com.atlassian.greenhopper.service.sprint.Sprint@1b7c2ac4[id=2,rapidViewId=2,...]`, with the
/// attributes in either order). Any other value is warned about for this issue, never dropped
/// silently.
pub fn sprint_ids(value: &Value, issue: &str) -> Vec<String> {
    let items: &[Value] = match value {
        Value::Null => return Vec::new(),
        Value::Array(a) => a,
        other => std::slice::from_ref(other),
    };
    let mut ids = Vec::new();
    for item in items {
        let id = match item {
            Value::Object(o) => o.get("id").and_then(|i| {
                i.as_i64()
                    .map(|i| i.to_string())
                    .or_else(|| i.as_str().filter(|s| is_id(s)).map(str::to_owned))
            }),
            Value::String(text) => sprint_string_id(text),
            _ => None,
        };
        match id {
            Some(id) => ids.push(id),
            None => tracing::warn!(
                issue,
                value = %item,
                "the sprint field holds a value that is neither a sprint object nor a sprint string; this sprint membership is not recorded"
            ),
        }
    }
    ids
}

fn is_id(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// The `id` attribute of a legacy sprint string. Attributes are `key=value` separated by commas
/// inside the outer brackets; names and goals may hold commas or `=`, so the id is the value of
/// the first `id=` that starts an attribute and is all digits.
fn sprint_string_id(text: &str) -> Option<String> {
    let open = text.find('[')?;
    let body = text[open + 1..].strip_suffix(']')?;
    let head = &text[..open];
    if !head.contains(".sprint.Sprint@") {
        return None;
    }
    let attrs: Vec<&str> = body.split(',').collect();
    let id_at = |i: usize| {
        attrs[i]
            .strip_prefix("id=")
            .filter(|v| is_id(v))
            .map(str::to_owned)
    };
    // The id is followed by `rapidViewId` (8.x, 9.x) or `incompleteIssuesDestinationId` (10.x);
    // that neighbour tells it from an `id=` inside a goal.
    (0..attrs.len())
        .find(|&i| {
            id_at(i).is_some()
                && attrs.get(i + 1).is_some_and(|next| {
                    next.starts_with("rapidViewId=")
                        || next.starts_with("incompleteIssuesDestinationId=")
                })
        })
        .or_else(|| (0..attrs.len()).find(|&i| id_at(i).is_some()))
        .and_then(id_at)
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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sprint_ids_come_from_objects_and_from_both_string_layouts() {
        let legacy = "com.atlassian.greenhopper.service.sprint.Sprint@7eede03a[id=2,rapidViewId=2,state=FUTURE,name=Sprint, the second,startDate=<null>,endDate=<null>,completeDate=<null>,sequence=2,goal=<null>]";
        let sorted = "com.atlassian.greenhopper.service.sprint.Sprint@1a2b[activatedDate=<null>,autoStartStop=false,completeDate=<null>,endDate=<null>,goal=fix id=9,id=99 first,id=31,incompleteIssuesDestinationId=<null>,name=S 31,rapidViewId=4,sequence=31,startDate=<null>,state=ACTIVE,synced=false]";
        let v = json!([{"id": 7, "name": "S 7"}, legacy, sorted]);
        assert_eq!(sprint_ids(&v, "A-1"), ["7", "2", "31"]);
        assert!(sprint_ids(&Value::Null, "A-1").is_empty());
        // A single value (not a list) is read too.
        assert_eq!(sprint_ids(&json!(legacy), "A-1"), ["2"]);
    }

    #[test]
    fn unknown_sprint_values_are_left_out_not_misread() {
        let v = json!(["Sprint 5", {"name": "no id"}, 12, "x.Sprint@1[name=a]"]);
        assert!(sprint_ids(&v, "A-1").is_empty());
    }
}
