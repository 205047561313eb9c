//! Every endpoint the simulator serves, success and error cases, checked against the matching schema
//! in Atlassian's OpenAPI specs (platform v3 and Agile); Data Center / v2 bodies against the same
//! shapes.

use jiralink_sim::Deployment;
use serde_json::{json, Value};

use crate::support::{
    agile, assert_dc_unknown_resource, assert_error_body, platform, seeded, start_sim, Client,
    Reply, Spec,
};

/// Runs one call and validates it; returns the reply for further assertions.
async fn call(
    c: &Client,
    v: &str,
    method: &str,
    template: &str,
    path: &str,
    body: Option<Value>,
    status: u16,
) -> Reply {
    let (full, template) = (
        format!("/rest/api/{v}{path}"),
        format!("/rest/api/3{template}"),
    );
    checked(c, platform(), method, &template, &full, body, status).await
}

async fn agile_call(
    c: &Client,
    method: &str,
    template: &str,
    path: &str,
    body: Option<Value>,
    status: u16,
) -> Reply {
    let (full, template) = (
        format!("/rest/agile/1.0{path}"),
        format!("/rest/agile/1.0{template}"),
    );
    checked(c, agile(), method, &template, &full, body, status).await
}

/// Sends `method full` and asserts its status; a success is validated against `template` of
/// `spec`, a failure has Jira's error body.
async fn checked(
    c: &Client,
    spec: &Spec,
    method: &str,
    template: &str,
    full: &str,
    body: Option<Value>,
    status: u16,
) -> Reply {
    let m = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
    let reply = c.send(m, full, body).await;
    assert_eq!(
        reply.status.as_u16(),
        status,
        "{method} {full}: {}",
        reply.body
    );
    if reply.status.is_success() {
        spec.validate(method, template, &reply);
    } else {
        assert_error_body(&reply);
    }
    reply
}

fn first_key(reply: &Reply) -> String {
    reply.body["issues"][0]["key"]
        .as_str()
        .expect("an issue key")
        .to_owned()
}

#[tokio::test]
async fn cloud_v3_endpoints_match_the_spec() {
    let sim = start_sim(Deployment::Cloud, 400, 3).await;
    let c = Client::as_identity(&sim, "admin");
    platform_endpoints(&c, "3", true).await;
    agile_endpoints(&c).await;
    software_endpoints(&c, true).await;
    assert!(
        sim.unmatched().is_empty(),
        "unmatched routes: {:?}",
        sim.unmatched()
    );
}

#[tokio::test]
async fn cloud_v2_endpoints_match_the_spec() {
    let sim = start_sim(Deployment::Cloud, 200, 4).await;
    let c = Client::as_identity(&sim, "admin");
    platform_endpoints(&c, "2", true).await;
    // v2 bodies carry wiki text where v3 carries ADF.
    let r = c.get("/rest/api/2/search/jql?jql=project%20is%20not%20EMPTY&fields=description,comment&maxResults=50").await;
    let mut bodies = 0;
    for issue in r.body["issues"].as_array().expect("issues") {
        for comment in issue["fields"]["comment"]["comments"]
            .as_array()
            .expect("comments")
        {
            assert!(
                comment["body"].is_string(),
                "v2 comment bodies are wiki text: {comment}"
            );
            bodies += 1;
        }
    }
    assert!(bodies > 0, "some comments were checked");
    let r = c
        .get("/rest/api/3/search/jql?jql=project%20is%20not%20EMPTY&fields=comment&maxResults=50")
        .await;
    let adf = r.body["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .flat_map(|i| {
            i["fields"]["comment"]["comments"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .next()
        .expect("a comment");
    assert_eq!(adf["body"]["type"], "doc", "v3 comment bodies are ADF");
}

#[tokio::test]
async fn datacenter_endpoints_match_the_spec() {
    let sim = seeded(Deployment::Datacenter, 300, 5)
        .context_path("/jira")
        .start()
        .await
        .expect("sim");
    assert!(sim.base_url().ends_with("/jira"));
    let c = Client::as_identity(&sim, "admin");
    platform_endpoints(&c, "2", false).await;
    agile_endpoints(&c).await;
    software_endpoints(&c, false).await;
    // Data Center users carry name and key, and comment bodies are wiki text.
    let me = c.get("/rest/api/2/myself").await;
    assert!(
        me.body["name"].is_string() && me.body["key"].is_string(),
        "{}",
        me.body
    );
    // v3 does not exist on Data Center.
    assert_eq!(c.get("/rest/api/3/myself").await.status, 404);
}

async fn platform_endpoints(c: &Client, v: &str, cloud: bool) {
    call(c, v, "GET", "/serverInfo", "/serverInfo", None, 200).await;
    let me = call(c, v, "GET", "/myself", "/myself", None, 200).await;
    call(
        c,
        v,
        "GET",
        "/mypermissions",
        "/mypermissions?permissions=BROWSE_PROJECTS,CREATE_ISSUES,ADMINISTER",
        None,
        200,
    )
    .await;
    call(
        c,
        v,
        "GET",
        "/mypermissions",
        "/mypermissions?permissions=NOT_A_PERMISSION",
        None,
        400,
    )
    .await;
    // `project/search` is Cloud's; Data Center lists every project at once.
    let projects = call(c, v, "GET", "/project", "/project", None, 200).await;
    let key = projects.body[0]["key"].as_str().expect("key").to_owned();
    let pid = projects.body[0]["id"].as_str().expect("id").to_owned();
    if cloud {
        let page = call(
            c,
            v,
            "GET",
            "/project/search",
            "/project/search?maxResults=2",
            None,
            200,
        )
        .await;
        assert_eq!(page.body["values"].as_array().map(Vec::len), Some(2));
        call(
            c,
            v,
            "GET",
            "/project/search",
            "/project/search?startAt=2&maxResults=100",
            None,
            200,
        )
        .await;
    }
    call(
        c,
        v,
        "GET",
        "/project/{projectIdOrKey}",
        &format!("/project/{key}"),
        None,
        200,
    )
    .await;
    call(
        c,
        v,
        "GET",
        "/project/{projectIdOrKey}",
        "/project/NOPE",
        None,
        404,
    )
    .await;
    // The bulk permission APIs are Cloud's (Data Center answers them 404, see tests/it/dc.rs).
    if cloud {
        call(
            c,
            v,
            "POST",
            "/permissions/project",
            "/permissions/project",
            Some(json!({"permissions": ["BROWSE_PROJECTS"]})),
            200,
        )
        .await;
        let check = json!({"globalPermissions": ["ADMINISTER"], "projectPermissions": [{"permissions": ["BROWSE_PROJECTS", "DELETE_ISSUES"], "projects": [pid.parse::<i64>().expect("numeric id")]}]});
        call(
            c,
            v,
            "POST",
            "/permissions/check",
            "/permissions/check",
            Some(check),
            200,
        )
        .await;
    }
    priority_and_resolution_endpoints(c, v, cloud).await;
    for (t, p) in [
        ("/field", "/field"),
        ("/status", "/status"),
        ("/statuscategory", "/statuscategory"),
        ("/priority", "/priority"),
        ("/resolution", "/resolution"),
        ("/issuetype", "/issuetype"),
        ("/issueLinkType", "/issueLinkType"),
    ] {
        call(c, v, "GET", t, p, None, 200).await;
    }
    if cloud {
        call(
            c,
            v,
            "GET",
            "/users/search",
            "/users/search?maxResults=20",
            None,
            200,
        )
        .await;
        call(
            c,
            v,
            "GET",
            "/user/search",
            "/user/search?query=a",
            None,
            200,
        )
        .await;
        let account = me.body["accountId"].as_str().expect("accountId");
        call(
            c,
            v,
            "GET",
            "/user",
            &format!("/user?accountId={account}"),
            None,
            200,
        )
        .await;
    } else {
        call(
            c,
            v,
            "GET",
            "/user/search",
            "/user/search?username=a",
            None,
            200,
        )
        .await;
    }

    // Search.
    let jql = format!("project = {key} ORDER BY key ASC");
    let enc = |s: &str| url::form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let key_of: String;
    if cloud {
        let r = call(
            c,
            v,
            "GET",
            "/search/jql",
            &format!(
                "/search/jql?jql={}&fields=*all&expand=changelog,names&maxResults=3",
                enc(&jql)
            ),
            None,
            200,
        )
        .await;
        assert_eq!(r.body["issues"].as_array().map(Vec::len), Some(3));
        key_of = first_key(&r);
        let token = r.body["nextPageToken"]
            .as_str()
            .expect("a next page")
            .to_owned();
        // The token continues the query it came from (same JQL, fields and expand).
        call(c, v, "POST", "/search/jql", "/search/jql", Some(json!({"jql": jql, "nextPageToken": token, "fields": ["*all"], "expand": "changelog,names", "maxResults": 3})), 200).await;
        call(c, v, "POST", "/search/jql", "/search/jql", Some(json!({"jql": jql, "nextPageToken": token, "fields": ["summary", "status"], "maxResults": 3})), 400).await;
        let ids = call(
            c,
            v,
            "POST",
            "/search/jql",
            "/search/jql",
            Some(json!({"jql": jql, "fields": ["id"], "maxResults": 5000})),
            200,
        )
        .await;
        assert!(ids.body["issues"][0]["fields"]
            .as_object()
            .is_none_or(|f| f.is_empty()));
        call(
            c,
            v,
            "GET",
            "/search/jql",
            "/search/jql?jql=ORDER%20BY%20key",
            None,
            400,
        )
        .await;
        call(
            c,
            v,
            "GET",
            "/search/jql",
            "/search/jql?jql=project%20%3D%3D%3D",
            None,
            400,
        )
        .await;
        call(
            c,
            v,
            "POST",
            "/search/approximate-count",
            "/search/approximate-count",
            Some(json!({"jql": jql})),
            200,
        )
        .await;
        let gone = c
            .get(&format!("/rest/api/{v}/search?jql={}", enc(&jql)))
            .await;
        assert_eq!(gone.status, 410, "{}", gone.body);
        assert_error_body(&gone);
    } else {
        let r = call(
            c,
            v,
            "GET",
            "/search",
            &format!(
                "/search?jql={}&expand=changelog&maxResults=3&startAt=1",
                enc(&jql)
            ),
            None,
            200,
        )
        .await;
        assert!(r.body["total"].as_u64().is_some_and(|t| t >= 3));
        assert_eq!(r.body["startAt"], 1);
        key_of = first_key(&r);
        call(
            c,
            v,
            "POST",
            "/search",
            "/search",
            Some(json!({"jql": jql, "fields": ["summary"], "maxResults": 2})),
            200,
        )
        .await;
        call(
            c,
            v,
            "GET",
            "/search",
            "/search?jql=foo%20%3D%20bar",
            None,
            400,
        )
        .await;
    }

    // One issue and what hangs off it.
    let issue = call(
        c,
        v,
        "GET",
        "/issue/{issueIdOrKey}",
        &format!("/issue/{key_of}?expand=changelog,renderedFields,names"),
        None,
        200,
    )
    .await;
    let id = issue.body["id"].as_str().expect("id").to_owned();
    call(
        c,
        v,
        "GET",
        "/issue/{issueIdOrKey}",
        "/issue/NOPE-999999",
        None,
        404,
    )
    .await;
    call(
        c,
        v,
        "GET",
        "/issue/{issueIdOrKey}/comment",
        &format!("/issue/{id}/comment"),
        None,
        200,
    )
    .await;
    call(
        c,
        v,
        "GET",
        "/issue/{issueIdOrKey}/worklog",
        &format!("/issue/{id}/worklog"),
        None,
        200,
    )
    .await;
    call(
        c,
        v,
        "GET",
        "/issue/{issueIdOrKey}/transitions",
        &format!("/issue/{id}/transitions"),
        None,
        200,
    )
    .await;
    call(
        c,
        v,
        "GET",
        "/issue/{issueIdOrKey}/properties",
        &format!("/issue/{id}/properties"),
        None,
        200,
    )
    .await;
    // The spec documents the single-link form (`?globalId=`); without it Jira answers a list.
    let links = c.get(&format!("/rest/api/{v}/issue/{id}/remotelink")).await;
    assert_eq!(links.status, 200);
    for link in links.body.as_array().expect("a list of remote links") {
        platform()
            .check(
                &json!({"$ref": "#/components/schemas/RemoteIssueLink"}),
                link,
            )
            .expect("a RemoteIssueLink");
    }
    if cloud {
        call(
            c,
            v,
            "GET",
            "/issue/{issueIdOrKey}/changelog",
            &format!("/issue/{id}/changelog?maxResults=2"),
            None,
            200,
        )
        .await;
        call(c, v, "POST", "/issue/bulkfetch", "/issue/bulkfetch", Some(json!({"issueIdsOrKeys": [key_of, id, "NOPE-1"], "fields": ["*all"], "expand": ["changelog"]})), 200).await;
        call(
            c,
            v,
            "POST",
            "/issue/bulkfetch",
            "/issue/bulkfetch",
            Some(json!({"issueIdsOrKeys": []})),
            400,
        )
        .await;
        call(
            c,
            v,
            "POST",
            "/changelog/bulkfetch",
            "/changelog/bulkfetch",
            Some(json!({"issueIdsOrKeys": [id], "maxResults": 5})),
            200,
        )
        .await;
        call(
            c,
            v,
            "POST",
            "/changelog/bulkfetch",
            "/changelog/bulkfetch",
            Some(json!({"issueIdsOrKeys": []})),
            400,
        )
        .await;
        call(
            c,
            v,
            "GET",
            "/worklog/updated",
            "/worklog/updated?since=0",
            None,
            200,
        )
        .await;
        call(
            c,
            v,
            "GET",
            "/worklog/deleted",
            "/worklog/deleted?since=0",
            None,
            200,
        )
        .await;
    }

    // Writes.
    let issue_type = json!({"name": "Task"});
    let desc = if v == "3" {
        crate::support_adf("Created by the schema test")
    } else {
        json!("Created by the schema test")
    };
    let created = call(c, v, "POST", "/issue", "/issue", Some(json!({"fields": {"project": {"key": key}, "issuetype": issue_type, "summary": "Schema test issue", "description": desc}})), 201).await;
    let new_key = created.body["key"].as_str().expect("key").to_owned();
    call(
        c,
        v,
        "POST",
        "/issue",
        "/issue",
        Some(json!({"fields": {"project": {"key": key}, "issuetype": issue_type}})),
        400,
    )
    .await;
    let bulk = json!({"issueUpdates": [
        {"fields": {"project": {"key": key}, "issuetype": issue_type, "summary": "Bulk one"}},
        {"fields": {"project": {"key": key}, "issuetype": issue_type}},
    ]});
    let r = c.post(&format!("/rest/api/{v}/issue/bulk"), bulk).await;
    assert!(r.status == 201 || r.status == 400, "{}", r.body);
    platform().validate("POST", "/rest/api/3/issue/bulk", &r);
    assert_eq!(r.body["issues"].as_array().map(Vec::len), Some(1));
    assert_eq!(r.body["errors"][0]["failedElementNumber"], 1);
    let r = c
        .put(
            &format!("/rest/api/{v}/issue/{new_key}"),
            json!({"fields": {"summary": "Renamed"}}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let transitions = c
        .get(&format!("/rest/api/{v}/issue/{new_key}/transitions"))
        .await;
    let tid = transitions.body["transitions"][0]["id"]
        .as_str()
        .expect("a transition")
        .to_owned();
    let r = c
        .post(
            &format!("/rest/api/{v}/issue/{new_key}/transitions"),
            json!({"transition": {"id": tid}}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    call(
        c,
        v,
        "POST",
        "/issue/{issueIdOrKey}/transitions",
        &format!("/issue/{new_key}/transitions"),
        Some(json!({"transition": {"id": "999999"}})),
        400,
    )
    .await;
    let body = if v == "3" {
        crate::support_adf("A comment")
    } else {
        json!("A comment")
    };
    let comment = call(
        c,
        v,
        "POST",
        "/issue/{issueIdOrKey}/comment",
        &format!("/issue/{new_key}/comment"),
        Some(json!({"body": body})),
        201,
    )
    .await;
    let cid = comment.body["id"].as_str().expect("comment id").to_owned();
    call(
        c,
        v,
        "GET",
        "/issue/{issueIdOrKey}/comment/{id}",
        &format!("/issue/{new_key}/comment/{cid}"),
        None,
        200,
    )
    .await;
    if cloud {
        call(
            c,
            v,
            "POST",
            "/comment/list",
            "/comment/list",
            Some(json!({"ids": [cid.parse::<i64>().expect("numeric")]})),
            200,
        )
        .await;
    }
    let wl = call(
        c,
        v,
        "POST",
        "/issue/{issueIdOrKey}/worklog",
        &format!("/issue/{new_key}/worklog"),
        Some(json!({"timeSpentSeconds": 3600, "started": "2025-01-02T10:00:00.000+0000"})),
        201,
    )
    .await;
    let wid = wl.body["id"].as_str().expect("worklog id").to_owned();
    if cloud {
        call(
            c,
            v,
            "POST",
            "/worklog/list",
            "/worklog/list",
            Some(json!({"ids": [wid.parse::<i64>().expect("numeric")]})),
            200,
        )
        .await;
    }
    let r = c
        .put(
            &format!("/rest/api/{v}/issue/{new_key}/properties/sync.state"),
            json!({"hash": "abc"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    call(
        c,
        v,
        "GET",
        "/issue/{issueIdOrKey}/properties/{propertyKey}",
        &format!("/issue/{new_key}/properties/sync.state"),
        None,
        200,
    )
    .await;
    let link = call(
        c,
        v,
        "POST",
        "/issue/{issueIdOrKey}/remotelink",
        &format!("/issue/{new_key}/remotelink"),
        Some(json!({"object": {"url": "https://ci.example/1", "title": "CI run"}})),
        201,
    )
    .await;
    let link_id = link.body["id"].as_i64().expect("remote link id");
    remote_link_endpoints(c, v, &new_key, link_id).await;
    assign_endpoint(c, v, &new_key, &me.body, cloud).await;
    let r = c.post(&format!("/rest/api/{v}/issueLink"), json!({"type": {"name": "Blocks"}, "inwardIssue": {"key": key_of}, "outwardIssue": {"key": new_key}})).await;
    assert_eq!(r.status, 201, "{}", r.body);

    // Deletes: worklog, comment, property, then the issue itself (404 afterwards).
    assert_eq!(
        c.delete(&format!("/rest/api/{v}/issue/{new_key}/worklog/{wid}"))
            .await
            .status,
        204
    );
    assert_eq!(
        c.delete(&format!("/rest/api/{v}/issue/{new_key}/comment/{cid}"))
            .await
            .status,
        204
    );
    assert_eq!(
        c.delete(&format!(
            "/rest/api/{v}/issue/{new_key}/properties/sync.state"
        ))
        .await
        .status,
        204
    );
    assert_eq!(
        c.delete(&format!("/rest/api/{v}/issue/{new_key}"))
            .await
            .status,
        204
    );
    call(
        c,
        v,
        "GET",
        "/issue/{issueIdOrKey}",
        &format!("/issue/{new_key}"),
        None,
        404,
    )
    .await;
}

/// `priority/{id}`, `resolution/{id}` on every deployment; their `search` pages on Cloud only.
async fn priority_and_resolution_endpoints(c: &Client, v: &str, cloud: bool) {
    let all = call(c, v, "GET", "/priority", "/priority", None, 200).await;
    let pid = all.body[0]["id"].as_str().expect("priority id").to_owned();
    let one = call(
        c,
        v,
        "GET",
        "/priority/{id}",
        &format!("/priority/{pid}"),
        None,
        200,
    )
    .await;
    assert_eq!(one.body, all.body[0], "one priority reads as in the list");
    call(c, v, "GET", "/priority/{id}", "/priority/999999", None, 404).await;
    let all = call(c, v, "GET", "/resolution", "/resolution", None, 200).await;
    let rid = all.body[0]["id"]
        .as_str()
        .expect("resolution id")
        .to_owned();
    let one = call(
        c,
        v,
        "GET",
        "/resolution/{id}",
        &format!("/resolution/{rid}"),
        None,
        200,
    )
    .await;
    assert_eq!(one.body, all.body[0], "one resolution reads as in the list");
    call(
        c,
        v,
        "GET",
        "/resolution/{id}",
        "/resolution/999999",
        None,
        404,
    )
    .await;
    if cloud {
        let page = call(
            c,
            v,
            "GET",
            "/priority/search",
            "/priority/search?maxResults=2",
            None,
            200,
        )
        .await;
        assert_eq!(page.body["values"].as_array().map(Vec::len), Some(2));
        assert_eq!(page.body["isLast"], false, "{}", page.body);
        assert!(page.body["nextPage"].is_string());
        let named = call(
            c,
            v,
            "GET",
            "/priority/search",
            &format!("/priority/search?id={pid}"),
            None,
            200,
        )
        .await;
        assert_eq!(named.body["total"], 1);
        let default = call(
            c,
            v,
            "GET",
            "/priority/search",
            "/priority/search?onlyDefault=true",
            None,
            200,
        )
        .await;
        assert_eq!(default.body["values"][0]["isDefault"], true);
        let res = call(
            c,
            v,
            "GET",
            "/resolution/search",
            "/resolution/search",
            None,
            200,
        )
        .await;
        assert!(res.body["values"].as_array().is_some_and(|r| r
            .iter()
            .filter(|x| x["default"] == true)
            .count()
            == 1));
        call(
            c,
            v,
            "GET",
            "/resolution/search",
            &format!("/resolution/search?id={rid}&onlyDefault=false"),
            None,
            200,
        )
        .await;
    } else {
        for path in ["/priority/search", "/resolution/search"] {
            let r = c.get(&format!("/rest/api/{v}{path}")).await;
            assert_eq!(r.status, 404, "Data Center has no {path}: {}", r.body);
            assert_dc_unknown_resource(&r);
        }
    }
}

/// GET, PUT and DELETE of one remote link, with their refusals.
async fn remote_link_endpoints(c: &Client, v: &str, key: &str, link: i64) {
    let t = "/issue/{issueIdOrKey}/remotelink/{linkId}";
    let got = call(
        c,
        v,
        "GET",
        t,
        &format!("/issue/{key}/remotelink/{link}"),
        None,
        200,
    )
    .await;
    assert_eq!(got.body["object"]["title"], "CI run");
    let r = c
        .put(
            &format!("/rest/api/{v}/issue/{key}/remotelink/{link}"),
            json!({"object": {"url": "https://ci.example/2", "title": "CI rerun"}}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let got = call(
        c,
        v,
        "GET",
        t,
        &format!("/issue/{key}/remotelink/{link}"),
        None,
        200,
    )
    .await;
    assert_eq!(got.body["object"]["url"], "https://ci.example/2");
    call(
        c,
        v,
        "PUT",
        t,
        &format!("/issue/{key}/remotelink/{link}"),
        Some(json!({"object": {"url": ""}})),
        400,
    )
    .await;
    call(
        c,
        v,
        "GET",
        t,
        &format!("/issue/{key}/remotelink/999999"),
        None,
        404,
    )
    .await;
    call(
        c,
        v,
        "GET",
        t,
        &format!("/issue/{key}/remotelink/abc"),
        None,
        400,
    )
    .await;
    let r = c
        .delete(&format!("/rest/api/{v}/issue/{key}/remotelink/{link}"))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    call(
        c,
        v,
        "GET",
        t,
        &format!("/issue/{key}/remotelink/{link}"),
        None,
        404,
    )
    .await;
    call(
        c,
        v,
        "DELETE",
        t,
        &format!("/issue/{key}/remotelink/{link}"),
        None,
        404,
    )
    .await;
}

/// `PUT issue/{key}/assignee`: by accountId on Cloud, by name on Data Center; null unassigns.
async fn assign_endpoint(c: &Client, v: &str, key: &str, me: &Value, cloud: bool) {
    let (field, who) = if cloud {
        ("accountId", me["accountId"].clone())
    } else {
        ("name", me["name"].clone())
    };
    let path = format!("/rest/api/{v}/issue/{key}/assignee");
    let r = c.put(&path, json!({ field: who })).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let issue = c
        .get(&format!("/rest/api/{v}/issue/{key}?fields=assignee"))
        .await;
    assert_eq!(issue.body["fields"]["assignee"][field], who);
    let r = c.put(&path, json!({ field: null })).await;
    assert_eq!(r.status, 204, "{}", r.body);
    let issue = c
        .get(&format!("/rest/api/{v}/issue/{key}?fields=assignee"))
        .await;
    assert!(issue.body["fields"]["assignee"].is_null(), "{}", issue.body);
    let t = "/issue/{issueIdOrKey}/assignee";
    call(
        c,
        v,
        "PUT",
        t,
        &format!("/issue/{key}/assignee"),
        Some(json!({ field: "no-such-user" })),
        400,
    )
    .await;
    call(
        c,
        v,
        "PUT",
        t,
        &format!("/issue/{key}/assignee"),
        Some(json!({})),
        400,
    )
    .await;
    call(
        c,
        v,
        "PUT",
        t,
        "/issue/NOPE-999999/assignee",
        Some(json!({ field: who })),
        404,
    )
    .await;
}

async fn agile_endpoints(c: &Client) {
    let boards = agile_call(c, "GET", "/board", "/board", None, 200).await;
    let scrum = boards.body["values"]
        .as_array()
        .expect("boards")
        .iter()
        .find(|b| b["type"] == "scrum")
        .expect("a scrum board")
        .clone();
    let bid = scrum["id"].as_i64().expect("board id");
    agile_call(
        c,
        "GET",
        "/board/{boardId}",
        &format!("/board/{bid}"),
        None,
        200,
    )
    .await;
    agile_call(c, "GET", "/board/{boardId}", "/board/999999", None, 404).await;
    agile_call(
        c,
        "GET",
        "/board/{boardId}/configuration",
        &format!("/board/{bid}/configuration"),
        None,
        200,
    )
    .await;
    let sprints = agile_call(
        c,
        "GET",
        "/board/{boardId}/sprint",
        &format!("/board/{bid}/sprint"),
        None,
        200,
    )
    .await;
    let states: Vec<&str> = sprints.body["values"]
        .as_array()
        .expect("sprints")
        .iter()
        .filter_map(|s| s["state"].as_str())
        .collect();
    assert!(
        states.contains(&"closed") && states.contains(&"active") && states.contains(&"future"),
        "{states:?}"
    );
    let active = sprints.body["values"]
        .as_array()
        .expect("sprints")
        .iter()
        .find(|s| s["state"] == "active")
        .expect("active")["id"]
        .as_i64()
        .expect("id");
    agile_call(
        c,
        "GET",
        "/board/{boardId}/issue",
        &format!("/board/{bid}/issue?maxResults=5"),
        None,
        200,
    )
    .await;
    agile_call(
        c,
        "GET",
        "/board/{boardId}/epic",
        &format!("/board/{bid}/epic"),
        None,
        200,
    )
    .await;
    agile_call(
        c,
        "GET",
        "/sprint/{sprintId}",
        &format!("/sprint/{active}"),
        None,
        200,
    )
    .await;
    let in_sprint = agile_call(
        c,
        "GET",
        "/sprint/{sprintId}/issue",
        &format!("/sprint/{active}/issue"),
        None,
        200,
    )
    .await;
    assert!(
        in_sprint.body["total"].as_u64().is_some_and(|t| t > 0),
        "the active sprint has issues"
    );
    let new_sprint = agile_call(
        c,
        "POST",
        "/sprint",
        "/sprint",
        Some(json!({"name": "Schema sprint", "originBoardId": bid})),
        201,
    )
    .await;
    let sid = new_sprint.body["id"].as_i64().expect("sprint id");
    let key = in_sprint.body["issues"][0]["key"]
        .as_str()
        .expect("key")
        .to_owned();
    let r = c
        .post(
            &format!("/rest/agile/1.0/sprint/{sid}/issue"),
            json!({"issues": [key]}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
}

/// The token-paged lists of `/rest/software/1.0` (Cloud): a page is `expand`, `issues` (each an
/// Agile `IssueBean`), `isLast` and, unless last, `nextPageToken`; Data Center answers 404.
async fn software_endpoints(c: &Client, cloud: bool) {
    let boards = c.get("/rest/agile/1.0/board").await;
    let scrum = boards.body["values"]
        .as_array()
        .expect("boards")
        .iter()
        .find(|b| b["type"] == "scrum")
        .expect("a scrum board")["id"]
        .as_i64()
        .expect("board id");
    let sprints = c
        .get(&format!(
            "/rest/agile/1.0/board/{scrum}/sprint?state=active"
        ))
        .await;
    let sprint = sprints.body["values"][0]["id"]
        .as_i64()
        .expect("an active sprint");
    let lists = [
        format!("/rest/software/1.0/board/{scrum}/issue?fields=summary,status&maxResults=3"),
        format!("/rest/software/1.0/board/{scrum}/backlog?fields=summary&maxResults=3"),
        format!("/rest/software/1.0/sprint/{sprint}/issue?fields=*all&maxResults=3"),
        format!("/rest/software/1.0/board/{scrum}/issue"),
    ];
    for path in &lists {
        let r = c.get(path).await;
        if !cloud {
            assert_eq!(r.status, 404, "{path} is Cloud only: {}", r.body);
            assert_dc_unknown_resource(&r);
            continue;
        }
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        let keys: Vec<&str> = r
            .body
            .as_object()
            .expect("a page")
            .keys()
            .map(String::as_str)
            .collect();
        assert!(
            keys.iter()
                .all(|k| ["expand", "issues", "isLast", "nextPageToken"].contains(k)),
            "{path}: {keys:?}"
        );
        assert_eq!(
            r.body["isLast"].as_bool(),
            Some(r.body.get("nextPageToken").is_none())
        );
        for issue in r.body["issues"].as_array().expect("issues") {
            agile()
                .check(&json!({"$ref": "#/components/schemas/IssueBean"}), issue)
                .unwrap_or_else(|e| panic!("{path}: not an IssueBean: {e:?}"));
        }
    }
    if cloud {
        let r = c
            .get(&format!(
                "/rest/software/1.0/board/{scrum}/issue/approximate-count"
            ))
            .await;
        assert!(
            r.body["count"].as_u64().is_some_and(|n| n > 0),
            "{}",
            r.body
        );
        let r = c.get("/rest/software/1.0/board/999999/issue").await;
        assert_eq!(r.status, 404);
        assert_error_body(&r);
    }
}
