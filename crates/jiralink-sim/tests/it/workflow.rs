//! Writes as Jira validates them: an edit with one refused field changes nothing; workflows
//! restrict transitions (some statuses take several steps) and transition screens require
//! fields (`expand=transitions.fields` shows them; a transition without one is refused with
//! Jira's `errors` body), on Cloud and Data Center.

use jiralink_sim::{Deployment, Sim};
use serde_json::{json, Value};

use crate::support::{platform, Client};

fn project_of(sim: &Sim, kind: &str) -> String {
    sim.project_of_type(kind)
        .unwrap_or_else(|| panic!("a {kind} project"))
}

async fn start(deployment: Deployment) -> (Sim, Client, &'static str) {
    let sim = Sim::builder()
        .deployment(deployment)
        .issues(80)
        .projects(5)
        .seed(31)
        .start()
        .await
        .expect("sim");
    let c = Client::as_identity(&sim, "admin");
    let v = if deployment == Deployment::Cloud {
        "3"
    } else {
        "2"
    };
    (sim, c, v)
}

async fn create_task(c: &Client, v: &str, project: &str) -> String {
    let r = c
        .post(
            &format!("/rest/api/{v}/issue"),
            json!({"fields": {"project": {"key": project}, "issuetype": {"name": "Task"}, "summary": "Workflow test"}}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    r.body["key"].as_str().expect("key").to_owned()
}

async fn status_of(c: &Client, v: &str, key: &str) -> (String, Value) {
    let r = c
        .get(&format!(
            "/rest/api/{v}/issue/{key}?fields=status,resolution,assignee"
        ))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    (
        r.body["fields"]["status"]["name"]
            .as_str()
            .expect("status")
            .to_owned(),
        r.body["fields"].clone(),
    )
}

/// (id, target status name, the transition's JSON) of each transition offered now.
async fn offered(c: &Client, v: &str, key: &str, expand: bool) -> Vec<(String, String, Value)> {
    let q = if expand {
        "?expand=transitions.fields"
    } else {
        ""
    };
    let r = c
        .get(&format!("/rest/api/{v}/issue/{key}/transitions{q}"))
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    if v == "3" {
        platform().validate("GET", "/rest/api/3/issue/{issueIdOrKey}/transitions", &r);
    }
    r.body["transitions"]
        .as_array()
        .expect("transitions")
        .iter()
        .map(|t| {
            (
                t["id"].as_str().expect("id").to_owned(),
                t["to"]["name"].as_str().expect("to").to_owned(),
                t.clone(),
            )
        })
        .collect()
}

fn id_to(list: &[(String, String, Value)], status: &str) -> Option<String> {
    list.iter()
        .find(|(_, to, _)| to == status)
        .map(|(id, ..)| id.clone())
}

async fn edit_is_all_or_nothing(deployment: Deployment) {
    let (sim, c, v) = start(deployment).await;
    let project = project_of(&sim, "software");
    let key = create_task(&c, v, &project).await;
    let r = c
        .put(
            &format!("/rest/api/{v}/issue/{key}"),
            json!({"fields": {"summary": "Changed", "labels": ["x"], "priority": {"name": "Urgent"}, "colour": "red"}}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["errors"]["priority"], "Specify a valid priority.");
    assert!(
        r.body["errors"]["colour"]
            .as_str()
            .is_some_and(|m| m.contains("cannot be set")),
        "{}",
        r.body
    );
    let got = c
        .get(&format!("/rest/api/{v}/issue/{key}?fields=summary,labels"))
        .await;
    assert_eq!(
        got.body["fields"]["summary"], "Workflow test",
        "a refused edit changed the summary"
    );
    assert_eq!(got.body["fields"]["labels"], json!([]));
    // The same edit without the refused fields goes through.
    let r = c
        .put(
            &format!("/rest/api/{v}/issue/{key}"),
            json!({"fields": {"summary": "Changed", "labels": ["x"]}}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let got = c
        .get(&format!("/rest/api/{v}/issue/{key}?fields=summary"))
        .await;
    assert_eq!(got.body["fields"]["summary"], "Changed");
}

#[tokio::test]
async fn cloud_edit_with_a_refused_field_changes_nothing() {
    edit_is_all_or_nothing(Deployment::Cloud).await;
}

#[tokio::test]
async fn datacenter_edit_with_a_refused_field_changes_nothing() {
    edit_is_all_or_nothing(Deployment::Datacenter).await;
}

async fn restricted_workflows_and_required_screen_fields(deployment: Deployment) {
    let (sim, c, v) = start(deployment).await;
    let project = project_of(&sim, "software");
    let key = create_task(&c, v, &project).await;
    let path = format!("/rest/api/{v}/issue/{key}/transitions");

    // From To Do: In Progress and Done, not In Review (two steps away).
    let list = offered(&c, v, &key, false).await;
    let mut targets: Vec<&str> = list.iter().map(|(_, to, _)| to.as_str()).collect();
    targets.sort();
    assert_eq!(targets, ["Done", "In Progress"]);
    assert!(list.iter().all(|(.., t)| t.get("fields").is_none()));
    let expanded = offered(&c, v, &key, true).await;
    let done = expanded
        .iter()
        .find(|(_, to, _)| to == "Done")
        .expect("Done");
    assert_eq!(done.2["hasScreen"], true);
    let res = &done.2["fields"]["resolution"];
    assert_eq!(res["required"], true, "{}", done.2);
    assert_eq!(res["schema"]["type"], "resolution");
    assert!(res["allowedValues"]
        .as_array()
        .expect("resolutions")
        .iter()
        .any(|r| r["name"] == "Won't Do"));
    let progress = expanded
        .iter()
        .find(|(_, to, _)| to == "In Progress")
        .expect("In Progress");
    assert_eq!(progress.2["hasScreen"], false);
    assert_eq!(progress.2["fields"], json!({}));
    // `transitionId` keeps one.
    let r = c.get(&format!("{path}?transitionId={}", done.0)).await;
    assert_eq!(r.body["transitions"].as_array().map(Vec::len), Some(1));

    // Done without its required resolution: 400 with Jira's errors, nothing changed.
    let r = c.post(&path, json!({"transition": {"id": done.0}})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.body["errorMessages"],
        json!(["Field Resolution is required."])
    );
    assert_eq!(r.body["errors"], json!({}));
    assert_eq!(status_of(&c, v, &key).await.0, "To Do");
    // In Review is not reachable from To Do.
    let review_id = {
        let r = c
            .post(&path, json!({"transition": {"id": progress.0}}))
            .await;
        assert_eq!(r.status, 204, "{}", r.body);
        let id = id_to(&offered(&c, v, &key, false).await, "In Review").expect("In Review");
        let r = c
            .post(&path, json!({"transition": {"id": id_to(&offered(&c, v, &key, false).await, "To Do").expect("back to To Do")}}))
            .await;
        assert_eq!(r.status, 204, "{}", r.body);
        id
    };
    let r = c
        .post(&path, json!({"transition": {"id": review_id}}))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body["errorMessages"][0]
            .as_str()
            .is_some_and(|m| m.contains("is not valid for this issue")),
        "{}",
        r.body
    );
    // A field that is not on the transition's screen is refused, and nothing moves.
    let r = c
        .post(
            &path,
            json!({"transition": {"id": progress.0}, "fields": {"resolution": {"name": "Done"}}}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body["errors"]["resolution"]
        .as_str()
        .is_some_and(|m| m.contains("not on the appropriate screen")));
    assert_eq!(status_of(&c, v, &key).await.0, "To Do");
    // Two steps to In Review, then Done with its resolution.
    for target in ["In Progress", "In Review"] {
        let id = id_to(&offered(&c, v, &key, false).await, target).expect("a step");
        let r = c.post(&path, json!({"transition": {"id": id}})).await;
        assert_eq!(r.status, 204, "{}", r.body);
    }
    assert_eq!(status_of(&c, v, &key).await.0, "In Review");
    let id = id_to(&offered(&c, v, &key, false).await, "Done").expect("Done");
    let r = c
        .post(
            &path,
            json!({"transition": {"id": id}, "fields": {"resolution": {"name": "Won't Do"}}}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let (status, fields) = status_of(&c, v, &key).await;
    assert_eq!(status, "Done");
    assert_eq!(fields["resolution"]["name"], "Won't Do");

    // A business project: starting work asks for an assignee when the issue has none.
    let business = project_of(&sim, "business");
    let key = create_task(&c, v, &business).await;
    let path = format!("/rest/api/{v}/issue/{key}/transitions");
    let select = id_to(
        &offered(&c, v, &key, false).await,
        "Selected for Development",
    )
    .expect("Backlog -> Selected");
    assert!(id_to(&offered(&c, v, &key, false).await, "Blocked").is_none());
    let r = c.post(&path, json!({"transition": {"id": select}})).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let start = offered(&c, v, &key, true).await;
    let start = start
        .iter()
        .find(|(_, to, _)| to == "In Progress")
        .expect("Selected -> In Progress");
    assert_eq!(start.2["fields"]["assignee"]["required"], true);
    let r = c.post(&path, json!({"transition": {"id": start.0}})).await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["errors"]["assignee"], "Assignee is required.");
    let admin = sim.identity("admin").expect("admin");
    let me = if v == "3" {
        json!({"accountId": admin.account_id})
    } else {
        json!({"name": admin.username})
    };
    let r = c
        .post(
            &path,
            json!({"transition": {"id": start.0}, "fields": {"assignee": me}}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let (status, fields) = status_of(&c, v, &key).await;
    assert_eq!(status, "In Progress");
    assert!(!fields["assignee"].is_null());
    assert!(id_to(&offered(&c, v, &key, false).await, "Blocked").is_some());
}

#[tokio::test]
async fn cloud_workflows_restrict_transitions_and_screens_require_fields() {
    restricted_workflows_and_required_screen_fields(Deployment::Cloud).await;
}

#[tokio::test]
async fn datacenter_workflows_restrict_transitions_and_screens_require_fields() {
    restricted_workflows_and_required_screen_fields(Deployment::Datacenter).await;
}
