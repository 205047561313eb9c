//! The admin APIs (projects, group members, permission-scheme grants, user deactivation) on Cloud
//! and Data Center: admin-only, Jira's shapes, and visibility that follows each change at once.
//! Also: label and property edits go through `ops` (changelog, `updated`), and tests change the
//! site only through the test API.

use jiralink_sim::{Deployment, Sim};
use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::support::{Auth, Client};

async fn start(d: Deployment) -> Sim {
    Sim::builder()
        .deployment(d)
        .seed(11)
        .issues(120)
        .projects(4)
        .start()
        .await
        .expect("sim starts")
}

fn keys(v: &Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_array()
        .expect("a list of projects")
        .iter()
        .map(|p| p["key"].as_str().expect("key").to_owned())
        .collect();
    k.sort();
    k
}

/// How many issues `jql` finds for the caller (Cloud's `search/jql`, Data Center's `search`).
async fn search_total(c: &Client, d: Deployment, jql: &str) -> usize {
    let path = match d {
        Deployment::Cloud => "/rest/api/2/search/jql",
        Deployment::Datacenter => "/rest/api/2/search",
    };
    let r = c
        .post(
            path,
            json!({"jql": jql, "maxResults": 100, "fields": ["summary"]}),
        )
        .await;
    if r.status == StatusCode::BAD_REQUEST {
        return 0; // a project the caller cannot see does not exist for it
    }
    assert_eq!(r.status, 200, "{}", r.body);
    let n = r.body["issues"].as_array().expect("issues").len();
    assert!(n < 100, "one page holds them all");
    n
}

/// The reader's identifier as each deployment names users.
fn reader_id(sim: &Sim) -> String {
    let r = sim.identity("reader").expect("reader");
    match sim.deployment() {
        Deployment::Cloud => r.account_id.clone().expect("account id"),
        Deployment::Datacenter => r.username.clone().expect("username"),
    }
}

async fn admin_flow(d: Deployment) {
    let sim = start(d).await;
    let admin = Client::as_identity(&sim, "admin");
    let reader = Client::as_identity(&sim, "reader");
    let cloud = d == Deployment::Cloud;
    let lead = if cloud {
        json!({"leadAccountId": sim.identity("admin").expect("admin").account_id})
    } else {
        json!({"lead": sim.identity("admin").expect("admin").username})
    };
    let mut new_project =
        json!({"key": "NEWP", "name": "New project", "projectTypeKey": "software"});
    new_project
        .as_object_mut()
        .expect("object")
        .extend(lead.as_object().expect("object").clone());

    // Non-admins are refused.
    let r = reader
        .post("/rest/api/2/project", new_project.clone())
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    assert!(r.body["errorMessages"][0]
        .as_str()
        .expect("message")
        .contains("administrator"));
    let r = reader
        .post(
            "/rest/api/2/group/user?groupname=readers-limited",
            json!({"accountId": reader_id(&sim), "name": reader_id(&sim)}),
        )
        .await;
    assert_eq!(r.status, 403, "{}", r.body);
    let anonymous = Client::new(sim.base_url(), Auth::None)
        .post("/rest/api/2/project", new_project.clone())
        .await;
    assert_eq!(anonymous.status, 401);

    // Create: Jira's 201 body; the reader does not see the new project, the admin does.
    let r = admin.post("/rest/api/2/project", new_project.clone()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["key"], "NEWP");
    let id = r.body["id"].as_u64().expect("numeric id");
    assert!(r.body["self"]
        .as_str()
        .expect("self")
        .ends_with(&format!("/project/{id}")));
    assert!(keys(&admin.get("/rest/api/2/project").await.body).contains(&"NEWP".to_owned()));
    assert!(!keys(&reader.get("/rest/api/2/project").await.body).contains(&"NEWP".to_owned()));
    assert_eq!(reader.get("/rest/api/2/project/NEWP").await.status, 404);
    let again = admin.post("/rest/api/2/project", new_project.clone()).await;
    assert_eq!(again.status, 400);
    assert!(
        again.body["errors"]["projectKey"].is_string(),
        "{}",
        again.body
    );
    let bad = admin
        .post(
            "/rest/api/2/project",
            json!({"key": "bad key", "name": "", "projectTypeKey": "software"}),
        )
        .await;
    assert_eq!(bad.status, 400);
    for field in ["projectKey", "projectName", "projectLead"] {
        assert!(
            bad.body["errors"][field].is_string(),
            "{field}: {}",
            bad.body
        );
    }

    // Grant browse through the project's permission scheme: the reader sees it at once.
    let scheme = admin.get("/rest/api/2/project/NEWP/permissionscheme").await;
    assert_eq!(scheme.status, 200, "{}", scheme.body);
    let scheme_id = scheme.body["id"].as_u64().expect("scheme id");
    let grant = json!({"holder": {"type": "group", "parameter": "readers-limited"}, "permission": "BROWSE_PROJECTS"});
    let path = format!("/rest/api/2/permissionscheme/{scheme_id}/permission");
    assert_eq!(reader.post(&path, grant.clone()).await.status, 403);
    let r = admin.post(&path, grant.clone()).await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["permission"], "BROWSE_PROJECTS");
    assert_eq!(r.body["holder"]["parameter"], "readers-limited");
    assert_eq!(
        r.body["holder"]["value"].is_string(),
        cloud,
        "Cloud names the group id"
    );
    let grant_id = r.body["id"].as_u64().expect("grant id");
    assert_eq!(
        admin.post(&path, grant.clone()).await.status,
        400,
        "a repeated grant"
    );
    let listed = admin.get(&path).await;
    assert!(listed.body["permissions"]
        .as_array()
        .expect("grants")
        .iter()
        .any(|g| g["id"] == grant_id));
    assert!(keys(&reader.get("/rest/api/2/project").await.body).contains(&"NEWP".to_owned()));
    let r = admin.delete(&format!("{path}/{grant_id}")).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert!(!keys(&reader.get("/rest/api/2/project").await.body).contains(&"NEWP".to_owned()));
    assert_eq!(
        admin.delete(&format!("{path}/{grant_id}")).await.status,
        400
    );

    // Revoking browse on a project the reader sees hides its issues at once.
    let seen = keys(&reader.get("/rest/api/2/project").await.body);
    let shown = seen.first().expect("the reader sees a project").clone();
    let jql = format!("project = {shown}");
    let before = search_total(&reader, d, &jql).await;
    assert!(before > 0);
    let scheme = admin
        .get(&format!("/rest/api/2/project/{shown}/permissionscheme"))
        .await;
    let path = format!(
        "/rest/api/2/permissionscheme/{}/permission",
        scheme.body["id"]
    );
    let grants = admin.get(&path).await;
    let readers_browse = grants.body["permissions"]
        .as_array()
        .expect("grants")
        .iter()
        .find(|g| {
            g["holder"]["parameter"] == "readers-limited" && g["permission"] == "BROWSE_PROJECTS"
        })
        .expect("the reader's group browses it")["id"]
        .clone();
    assert_eq!(
        admin
            .delete(&format!("{path}/{readers_browse}"))
            .await
            .status,
        204
    );
    assert_eq!(search_total(&reader, d, &jql).await, 0);
    assert!(!keys(&reader.get("/rest/api/2/project").await.body).contains(&shown));
    assert_eq!(admin.post(&path, grant.clone()).await.status, 201);
    assert_eq!(search_total(&reader, d, &jql).await, before);

    // Group membership: out of the group, the reader sees nothing of it; back in, it does.
    let member = format!(
        "/rest/api/2/group/user?groupname=readers-limited&{}={}",
        if cloud { "accountId" } else { "username" },
        reader_id(&sim)
    );
    let r = admin.delete(&member).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(search_total(&reader, d, &jql).await, 0);
    let r = admin
        .post(
            "/rest/api/2/group/user?groupname=readers-limited",
            json!({"accountId": reader_id(&sim), "name": reader_id(&sim)}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.body["name"], "readers-limited");
    assert_eq!(search_total(&reader, d, &jql).await, before);
    let r = admin
        .post(
            "/rest/api/2/group/user?groupname=readers-limited",
            json!({"accountId": reader_id(&sim), "name": reader_id(&sim)}),
        )
        .await;
    assert_eq!(r.status, 400, "already a member");
    let r = admin
        .post(
            "/rest/api/2/group/user?groupname=no-such-group",
            json!({"accountId": reader_id(&sim), "name": reader_id(&sim)}),
        )
        .await;
    assert_eq!(r.status, 404);

    // Deactivation: Data Center's PUT user; Cloud has no Jira API for it (the test API does it).
    let user_path = format!("/rest/api/2/user?username={}", reader_id(&sim));
    if cloud {
        assert_eq!(
            admin.put(&user_path, json!({"active": false})).await.status,
            405
        );
        assert!(sim.test_api().set_user_active(&reader_id(&sim), false));
    } else {
        assert_eq!(
            reader
                .put(&user_path, json!({"active": false}))
                .await
                .status,
            403
        );
        let r = admin.put(&user_path, json!({"active": false})).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(r.body["active"], false);
    }
    assert_eq!(reader.get("/rest/api/2/myself").await.status, 401);
    assert!(sim.test_api().set_user_active(&reader_id(&sim), true));
    assert_eq!(reader.get("/rest/api/2/myself").await.status, 200);

    // Delete: the reader cannot; the admin can, and the project and its issues are gone.
    let expected = if cloud { 404 } else { 403 };
    assert_eq!(
        reader
            .delete(&format!("/rest/api/2/project/{shown}"))
            .await
            .status,
        expected
    );
    let admin_total = search_total(&admin, d, &jql).await;
    assert!(admin_total > 0);
    let r = admin.delete(&format!("/rest/api/2/project/{shown}")).await;
    assert_eq!(r.status, 204, "{}", r.body);
    assert_eq!(
        admin
            .get(&format!("/rest/api/2/project/{shown}"))
            .await
            .status,
        404
    );
    assert_eq!(search_total(&admin, d, &jql).await, 0);
    let snap = sim.snapshot();
    assert!(!snap["projects"]
        .as_array()
        .expect("projects")
        .iter()
        .any(|p| p["key"] == shown.as_str()));
    assert!(!snap["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .any(|i| i["project_key"] == shown.as_str()));
}

#[tokio::test]
async fn admin_apis_on_cloud() {
    admin_flow(Deployment::Cloud).await;
}

#[tokio::test]
async fn admin_apis_on_datacenter() {
    admin_flow(Deployment::Datacenter).await;
}

async fn issue(c: &Client, key: &str) -> Value {
    c.get(&format!(
        "/rest/api/2/issue/{key}?fields=updated,labels&expand=changelog"
    ))
    .await
    .body
}

/// Label edits and issue properties go through `ops`: `updated` moves; labels get Jira's changelog
/// item (field `labels`, the lists space-separated).
#[tokio::test]
async fn labels_and_properties_bump_updated_and_labels_are_in_the_changelog() {
    let sim = start(Deployment::Cloud).await;
    let admin = Client::as_identity(&sim, "admin");
    let key = sim.snapshot()["issues"][0]["key"]
        .as_str()
        .expect("key")
        .to_owned();
    let before = issue(&admin, &key).await;
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let r = admin
        .put(
            &format!("/rest/api/2/issue/{key}"),
            json!({"fields": {"labels": ["alpha", "beta"]}}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = admin
        .put(
            &format!("/rest/api/2/issue/{key}"),
            json!({"update": {"labels": [{"add": "gamma"}, {"remove": "alpha"}]}}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let after = issue(&admin, &key).await;
    assert_eq!(after["fields"]["labels"], json!(["beta", "gamma"]));
    assert!(after["fields"]["updated"].as_str() > before["fields"]["updated"].as_str());
    let histories = after["changelog"]["histories"]
        .as_array()
        .expect("histories");
    let label_items: Vec<&Value> = histories
        .iter()
        .flat_map(|h| h["items"].as_array().into_iter().flatten())
        .filter(|i| i["field"] == "labels")
        .collect();
    assert_eq!(label_items.len(), 2, "{label_items:?}");
    assert_eq!(label_items.last().expect("item")["toString"], "beta gamma");

    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let r = admin
        .put(
            &format!("/rest/api/2/issue/{key}/properties/sim.test"),
            json!({"x": 1}),
        )
        .await;
    assert_eq!(r.status, 201);
    let with_prop = issue(&admin, &key).await;
    assert!(with_prop["fields"]["updated"].as_str() > after["fields"]["updated"].as_str());
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let r = admin
        .delete(&format!("/rest/api/2/issue/{key}/properties/sim.test"))
        .await;
    assert_eq!(r.status, 204);
    let without = issue(&admin, &key).await;
    assert!(without["fields"]["updated"].as_str() > with_prop["fields"]["updated"].as_str());
}

/// A transition into Done with a resolution on its screen records that resolution in the changelog
/// (through `ops`), not Done's default patched in afterwards.
#[tokio::test]
async fn a_transition_records_the_resolution_it_sets() {
    let sim = start(Deployment::Datacenter).await;
    let admin = Client::as_identity(&sim, "admin");
    let open = sim.snapshot()["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|i| i["key"].as_str().expect("key").to_owned())
        .collect::<Vec<_>>();
    let mut done = None;
    for key in &open {
        let issue = admin
            .get(&format!("/rest/api/2/issue/{key}?fields=status"))
            .await;
        if issue.body["fields"]["status"]["statusCategory"]["key"] == "done" {
            continue;
        }
        let t = admin
            .get(&format!("/rest/api/2/issue/{key}/transitions"))
            .await;
        if let Some(to_done) = t.body["transitions"]
            .as_array()
            .expect("transitions")
            .iter()
            .find(|t| t["to"]["statusCategory"]["key"] == "done")
        {
            done = Some((key.clone(), to_done["id"].clone()));
            break;
        }
    }
    let (key, transition) = done.expect("an open issue with a transition to done");
    let r = admin
        .post(
            &format!("/rest/api/2/issue/{key}/transitions"),
            json!({"transition": {"id": transition}, "fields": {"resolution": {"name": "Won't Do"}}}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let after = admin
        .get(&format!(
            "/rest/api/2/issue/{key}?fields=resolution&expand=changelog"
        ))
        .await
        .body;
    assert_eq!(after["fields"]["resolution"]["name"], "Won't Do");
    let last = after["changelog"]["histories"]
        .as_array()
        .expect("histories")
        .last()
        .expect("a history")
        .clone();
    let item = last["items"]
        .as_array()
        .expect("items")
        .iter()
        .find(|i| i["field"] == "resolution")
        .expect("a resolution item")
        .clone();
    assert_eq!(item["toString"], "Won't Do", "{last}");
}

/// Sprint writes go through `ops`: a sprint is created future, started, closed; a move Jira
/// refuses (closed back to active) answers 400 and changes nothing, not even the name sent with it.
#[tokio::test]
async fn sprints_move_future_active_closed_and_refused_moves_change_nothing() {
    let sim = start(Deployment::Cloud).await;
    let admin = Client::as_identity(&sim, "admin");
    let boards = admin.get("/rest/agile/1.0/board?type=scrum").await;
    let board = boards.body["values"][0]["id"]
        .as_i64()
        .expect("a scrum board");
    let created = admin
        .post(
            "/rest/agile/1.0/sprint",
            serde_json::json!({"name": "Ops sprint", "originBoardId": board}),
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    assert_eq!(created.body["state"], "future");
    let id = created.body["id"].as_i64().expect("id");
    let path = format!("/rest/agile/1.0/sprint/{id}");
    let started = admin
        .post(&path, serde_json::json!({"state": "active"}))
        .await;
    assert_eq!(started.status, 200, "{}", started.body);
    assert_eq!(started.body["state"], "active");
    assert!(started.body["startDate"].is_string(), "{}", started.body);
    let closed = admin
        .post(&path, serde_json::json!({"state": "closed"}))
        .await;
    assert_eq!(closed.body["state"], "closed", "{}", closed.body);
    assert!(closed.body["completeDate"].is_string(), "{}", closed.body);
    let refused = admin
        .post(
            &path,
            serde_json::json!({"state": "active", "name": "Renamed"}),
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    let now = admin.get(&path).await;
    assert_eq!(now.body["name"], "Ops sprint", "{}", now.body);
    assert_eq!(now.body["state"], "closed");
}
