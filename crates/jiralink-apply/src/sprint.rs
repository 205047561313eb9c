//! Sprints by name through the Agile API: the sprints of a project's boards
//! (`board?projectKeyOrId=`, `board/{id}/sprint`), the sprint ids an issue's sprint field holds
//! (Cloud's objects, Data Center's `...Sprint@hash[id=2,...]` strings), and the move
//! (`POST sprint/{id}/issue`, up to 50 issues a request).

use std::collections::HashMap;

use jiralink_api::Client;
use serde_json::Value;

/// The custom field type of Jira Software's sprint field.
pub(crate) const SPRINT_FIELD_TYPE: &str = "com.pyxis.greenhopper.jira:gh-sprint";

/// Jira's limit of issues moved by one `POST sprint/{id}/issue`.
pub(crate) const MOVE_BATCH: usize = 50;

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Sprint {
    pub id: u64,
    pub name: String,
    pub state: String,
}

/// The sprints of every board of `project`, by lower-case name (the first board's when two
/// boards have a sprint of the same name), read through the client's pager.
pub(crate) async fn sprints_of(
    client: &Client,
    project: &str,
) -> Result<HashMap<String, Sprint>, jiralink_api::Error> {
    let mut out = HashMap::new();
    for board in client.project_boards(project).all().await? {
        // A kanban board has no sprints: Jira answers 400 there.
        if board.kind == "kanban" {
            continue;
        }
        for s in client.sprints(board.id).all().await? {
            if s.name.is_empty() {
                continue;
            }
            out.entry(s.name.to_lowercase()).or_insert(Sprint {
                id: s.id.0,
                name: s.name,
                state: s.state,
            });
        }
    }
    Ok(out)
}

/// The sprint ids an issue's sprint field holds, read as the sync reads them
/// ([`jiralink_api::models::sprint_field`]): objects with `id` (Cloud, and REST v3), or Data
/// Center's strings `com.atlassian.greenhopper.service.sprint.Sprint@7eede03a[id=2,...]`.
pub(crate) fn sprint_ids(v: &Value) -> Vec<u64> {
    let Ok(raw) = serde_json::value::RawValue::from_string(v.to_string()) else {
        return Vec::new();
    };
    jiralink_api::models::sprint_field(&raw)
        .iter()
        .filter_map(|entry| entry.id()?.parse().ok())
        .collect()
}

/// `POST /rest/agile/1.0/sprint/{id}/issue` with up to 50 issue keys. Jira answers 204 with no
/// body, which is no JSON: an answer that is 2xx but not JSON is the move done (as it is when a
/// body came cut short: the move ran).
pub(crate) async fn move_issues(
    client: &Client,
    sprint: u64,
    keys: &[String],
) -> Result<(), jiralink_api::Error> {
    client.move_to_sprint(sprint, keys).await
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sprint_ids_read_cloud_objects_and_data_center_strings() {
        let cloud = json!([{"id": 3, "name": "ENG Sprint 3", "state": "closed"}, {"id": 4}]);
        assert_eq!(sprint_ids(&cloud), [3, 4]);
        let dc = json!([
            "com.atlassian.greenhopper.service.sprint.Sprint@7eede03a[id=2,rapidViewId=2,state=FUTURE,name=A,startDate=<null>]",
            "com.atlassian.greenhopper.service.sprint.Sprint@1[activatedDate=<null>,goal=<null>,id=17,name=B]"
        ]);
        assert_eq!(sprint_ids(&dc), [2, 17]);
        // A goal holding `,id=` is not the id (Data Center 10.x sorts the attributes).
        let goal = json!([
            "com.atlassian.greenhopper.service.sprint.Sprint@1a2b[completeDate=<null>,goal=fix,id=9,id=31,incompleteIssuesDestinationId=<null>,name=S 31]"
        ]);
        assert_eq!(sprint_ids(&goal), [31]);
        assert!(sprint_ids(&Value::Null).is_empty());
    }
}
