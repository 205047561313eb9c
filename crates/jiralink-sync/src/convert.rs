//! Wire models to store rows, explicitly, field by field. Custom fields (story points, sprint) are
//! found by their schema in the field list, never by a hard-coded id.

use std::collections::HashMap;

use jiralink_api::models::{
    self, user_id, ChangelogPage, Comment, Field, FieldId, History, Issue, IssueFields,
    ProjectDetail, SprintFieldEntry, UserRef, Worklog,
};
use jiralink_store::{
    into_utc, utc, ChangeRow, CommentRow, ComponentRow, IssueBatch, IssueRefs, IssueRow, LinkRow,
    SprintRow, StoreError, Tx, VersionRow, WorklogRow,
};

/// The ids of the custom fields the store normalises.
#[derive(Debug, Default, Clone)]
pub struct Fields {
    story_points: Vec<FieldId>,
    sprint: Option<FieldId>,
}

impl Fields {
    pub fn from_field_list(list: &[Field]) -> Fields {
        let mut f = Fields::default();
        for field in list {
            let custom = field
                .schema
                .as_ref()
                .and_then(|s| s.custom.as_deref())
                .unwrap_or_default();
            let name = field.name.to_ascii_lowercase();
            if custom.ends_with(":jsw-story-points")
                || (custom.ends_with(":float") && name.contains("story point"))
            {
                f.story_points.push(field.id.clone());
            }
            if custom.ends_with(":gh-sprint") {
                f.sprint = Some(field.id.clone());
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
    pub fn add(&mut self, page: ChangelogPage) {
        for log in page.items {
            self.add_histories(log.issue_id.text(), log.change_histories);
        }
    }

    /// An issue's change histories (a bulkfetch entry, or an embedded `changelog.histories`); their
    /// strings are moved into the rows, not copied.
    pub fn add_histories(&mut self, issue: &str, histories: Vec<History>) {
        let rows = self.0.entry(issue.to_owned()).or_default();
        for h in histories {
            let changed_at = h.created.and_then(into_utc);
            let author_id = h.author.and_then(UserRef::into_id);
            let change_id = h.id.to_string();
            for (n, item) in h.items.into_iter().enumerate() {
                rows.push(ChangeRow {
                    change_id: change_id.clone(),
                    item_index: n as i64,
                    changed_at: changed_at.clone(),
                    author_id: author_id.clone(),
                    field: item.field_id.or(item.field),
                    from_value: item.from,
                    from_string: item.from_string,
                    to_value: item.to,
                    to_string: item.to_string,
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
pub fn worklog(issue_id: &str, w: &Worklog) -> WorklogRow {
    WorklogRow {
        id: w.id.to_string(),
        issue_id: issue_id.to_owned(),
        author_id: user_id(&w.author),
        started: w.started.as_deref().and_then(utc),
        time_spent_seconds: w.time_spent_seconds,
        updated: w.updated.as_deref().and_then(utc),
    }
}

/// A comment of Jira's as a store row: its body as text, and as Jira sent it (moved, not copied).
fn comment(issue_id: &str, c: Comment) -> CommentRow {
    let body_text = c.plain_text();
    CommentRow {
        id: c.id.to_string(),
        issue_id: issue_id.to_owned(),
        author_id: c.author.and_then(UserRef::into_id),
        created: c.created.and_then(into_utc),
        updated: c.updated.and_then(into_utc),
        body_text: Some(body_text),
        body_raw: Some(String::from(Box::<str>::from(c.body))),
    }
}

/// An issue's worklogs as the batch receives them: the inline list is all of them, a list read
/// whole, or the inline list of an issue whose others are left to the worklog feeds.
pub enum IssueWorklogs {
    Complete(Vec<Worklog>),
    Partial(Vec<Worklog>),
}

impl Batch {
    /// One issue, with its changelog rows and its comments and worklogs (embedded or read apart).
    /// Its JSON text becomes `raw_json`, and its strings are moved into the rows, not copied.
    pub fn add(
        &mut self,
        fields: &Fields,
        mut issue: Issue,
        changes: Vec<ChangeRow>,
        comments: Vec<Comment>,
        worklogs: IssueWorklogs,
    ) {
        let raw_json = issue.take_raw();
        let id = issue.id.to_string();
        let f = std::mem::take(&mut issue.fields);
        let story_points = fields.story_points.iter().find_map(|k| f.custom_number(k));
        let sprint_ids = fields
            .sprint
            .as_ref()
            .and_then(|k| f.custom(k))
            .map(|v| {
                let key = if issue.key.is_empty() {
                    &id
                } else {
                    &issue.key
                };
                sprint_ids(models::sprint_field(v), key)
            })
            .unwrap_or_default();
        self.rows.refs.push((id.clone(), refs(&f)));
        let (worklogs, complete) = match worklogs {
            IssueWorklogs::Complete(w) => (w, true),
            IssueWorklogs::Partial(w) => (w, false),
        };
        if !complete {
            self.worklog_reads.push(id.clone());
        }
        self.worklogs_in_jira += f
            .worklog
            .as_ref()
            .and_then(|w| w.total)
            .map_or(worklogs.len(), |t| t as usize);
        let (status, status_category) = match f.status {
            Some(s) => (Some(s.name), s.status_category.and_then(|c| c.key)),
            None => (None, None),
        };
        self.rows.issues.push(IssueRow {
            id: id.clone(),
            key: issue.key,
            project_key: f.project.map(|p| p.key).unwrap_or_default(),
            issue_type: f.issuetype.map(|n| n.name),
            summary: f.summary,
            status,
            status_category,
            priority: f.priority.map(|n| n.name),
            assignee_id: f.assignee.and_then(UserRef::into_id),
            reporter_id: f.reporter.and_then(UserRef::into_id),
            created: f.created.and_then(into_utc),
            updated: f.updated.and_then(into_utc),
            resolved: f.resolutiondate.and_then(into_utc),
            story_points,
            parent_key: f.parent.and_then(|p| p.key),
            raw_json,
        });
        self.rows.changes.push((id.clone(), changes));
        self.rows.comments.push((
            id.clone(),
            comments.into_iter().map(|c| comment(&id, c)).collect(),
        ));
        self.rows.worklogs.push((
            id.clone(),
            worklogs.iter().map(|w| worklog(&id, w)).collect(),
            complete,
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
pub fn sprint_ids(entries: Vec<SprintFieldEntry>, issue: &str) -> Vec<String> {
    let mut ids = Vec::new();
    for entry in entries {
        match entry.id() {
            Some(id) => ids.push(id),
            None => tracing::warn!(
                issue,
                value = ?entry,
                "the sprint field holds a value that is neither a sprint object nor a sprint string; this sprint membership is not recorded"
            ),
        }
    }
    ids
}

/// An issue's fix and affects versions, components and links, from its fields.
fn refs(f: &IssueFields) -> IssueRefs {
    let ids =
        |v: &[models::IdOnly]| -> Vec<String> { v.iter().filter_map(|x| x.id.clone()).collect() };
    IssueRefs {
        fix_versions: ids(&f.fix_versions),
        affects_versions: ids(&f.versions),
        components: ids(&f.components),
        links: f
            .issuelinks
            .iter()
            .map(|l| {
                let (direction, other) = match &l.outward_issue {
                    Some(out) => ("outward", Some(out)),
                    None => ("inward", l.inward_issue.as_ref()),
                };
                LinkRow {
                    id: l.id.to_string(),
                    link_type: l.link_type.as_ref().and_then(|t| t.name.clone()),
                    direction: direction.to_owned(),
                    other_issue_id: other.and_then(|o| o.id.clone()),
                    other_issue_key: other.and_then(|o| o.key.clone()),
                }
            })
            .collect(),
    }
}

/// A project's versions and components.
pub type Catalog = (Vec<VersionRow>, Vec<ComponentRow>);

/// A project's versions and components, from `project/{key}`.
pub fn catalog(project: &ProjectDetail) -> Catalog {
    let versions = project
        .versions
        .iter()
        .map(|v| VersionRow {
            id: v.id.to_string(),
            name: v.name.clone(),
            released: v.released,
            archived: v.archived,
            release_date: v.release_date.clone(),
        })
        .collect();
    let components = project
        .components
        .iter()
        .map(|c| ComponentRow {
            id: c.id.to_string(),
            name: c.name.clone(),
            lead_id: user_id(&c.lead),
        })
        .collect();
    (versions, components)
}

/// A sprint as a store row; `board` is the board it was listed from, its board when Jira does
/// not name its origin board.
pub fn sprint(s: &models::Sprint, board: models::BoardId) -> SprintRow {
    SprintRow {
        id: s.id.to_string(),
        board_id: s.origin_board_id.unwrap_or(board).to_string(),
        name: s.name.clone(),
        state: s.state.clone(),
        start_date: s.start_date.as_deref().and_then(utc),
        end_date: s.end_date.as_deref().and_then(utc),
        complete_date: s.complete_date.as_deref().and_then(utc),
        goal: s.goal.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::value::RawValue;

    fn entries(json: &str) -> Vec<SprintFieldEntry> {
        models::sprint_field(&RawValue::from_string(json.to_owned()).expect("the fixture is JSON"))
    }

    #[test]
    fn sprint_ids_come_from_objects_and_from_both_string_layouts() {
        let legacy = "com.atlassian.greenhopper.service.sprint.Sprint@7eede03a[id=2,rapidViewId=2,state=FUTURE,name=Sprint, the second,startDate=<null>,endDate=<null>,completeDate=<null>,sequence=2,goal=<null>]";
        let sorted = "com.atlassian.greenhopper.service.sprint.Sprint@1a2b[activatedDate=<null>,autoStartStop=false,completeDate=<null>,endDate=<null>,goal=fix id=9,id=99 first,id=31,incompleteIssuesDestinationId=<null>,name=S 31,rapidViewId=4,sequence=31,startDate=<null>,state=ACTIVE,synced=false]";
        let v = serde_json::json!([{"id": 7, "name": "S 7"}, legacy, sorted]).to_string();
        assert_eq!(sprint_ids(entries(&v), "A-1").join(" "), "7 2 31");
        assert!(sprint_ids(entries("null"), "A-1").is_empty());
        // A single value (not a list) is read too.
        let one = serde_json::json!(legacy).to_string();
        assert_eq!(sprint_ids(entries(&one), "A-1").join(" "), "2");
    }

    #[test]
    fn unknown_sprint_values_are_left_out_not_misread() {
        let v = r#"[ "Sprint 5", {"name": "no id"}, 12, "x.Sprint@1[name=a]"]"#;
        assert!(sprint_ids(entries(v), "A-1").is_empty());
    }
}
