//! Data Center truth: Cloud-only endpoints answered as Data Center answers an unknown resource, the
//! server page cap (`--dc-max-results`), and what differs between Data Center releases
//! (`--dc-version`: serverInfo, the sprint field's strings, personal access tokens).

use jiralink_sim::{DcVersion, Deployment, Sim, SimError};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};

use crate::support::{seeded, start_sim, Auth, Client};

async fn dc(version: Option<&str>, max_results: Option<usize>) -> Sim {
    let mut b = seeded(Deployment::Datacenter, 300, 21).context_path("/jira");
    if let Some(v) = version {
        b = b.dc_version(v.parse().expect("a version"));
    }
    if let Some(n) = max_results {
        b = b.dc_max_results(n);
    }
    b.start().await.expect("sim")
}

/// Every Cloud-only resource the simulator serves on Cloud, with a body Cloud would accept.
fn cloud_only() -> Vec<(Method, &'static str, Option<Value>)> {
    vec![
        (Method::GET, "/search/jql?jql=order%20by%20key", None),
        (
            Method::POST,
            "/search/jql",
            Some(json!({"jql": "order by key"})),
        ),
        (
            Method::POST,
            "/search/approximate-count",
            Some(json!({"jql": "order by key"})),
        ),
        (
            Method::POST,
            "/changelog/bulkfetch",
            Some(json!({"issueIdsOrKeys": ["10000"]})),
        ),
        (Method::POST, "/comment/list", Some(json!({"ids": [1]}))),
        (Method::GET, "/users/search?maxResults=5", None),
        (
            Method::POST,
            "/permissions/project",
            Some(json!({"permissions": ["BROWSE_PROJECTS"]})),
        ),
        (
            Method::POST,
            "/permissions/check",
            Some(json!({"globalPermissions": ["ADMINISTER"]})),
        ),
        (Method::GET, "/priority/search", None),
        (Method::GET, "/resolution/search", None),
        (Method::GET, "/issue/10000/changelog", None),
    ]
}

#[tokio::test]
async fn datacenter_answers_cloud_only_endpoints_as_unknown_resources() {
    let sim = dc(None, None).await;
    let admin = Client::as_identity(&sim, "admin");
    let anonymous = Client::new(sim.base_url(), Auth::None);
    for api in ["2", "latest"] {
        for (method, path, body) in cloud_only() {
            let full = format!("/rest/api/{api}{path}");
            for c in [&admin, &anonymous] {
                let r = c.send(method.clone(), &full, body.clone()).await;
                assert_eq!(
                    r.status,
                    StatusCode::NOT_FOUND,
                    "{method} {full}: {}",
                    r.body
                );
                // Jersey's 404, naming the whole URL (context path and query included).
                assert_eq!(
                    r.body,
                    json!({"message": format!("null for uri: {}{full}", sim.base_url()), "status-code": 404}),
                    "{method} {full}"
                );
            }
        }
    }
    // Paths that Data Center reads as an issue or project key.
    let r = admin
        .post(
            "/rest/api/2/issue/bulkfetch",
            json!({"issueIdsOrKeys": ["10000"]}),
        )
        .await;
    assert_eq!(r.status, StatusCode::METHOD_NOT_ALLOWED, "{}", r.body);
    assert!(r.headers["allow"].to_str().expect("allow").contains("GET"));
    let r = admin.get("/rest/api/2/issue/bulkfetch").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["errorMessages"], json!(["Issue Does Not Exist"]));
    let r = admin.get("/rest/api/2/project/search?maxResults=5").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(
        r.body["errorMessages"],
        json!(["No project could be found with key 'search'."])
    );
    // The Jira Software 1.0 API (token-paged board and sprint issues) is Cloud's.
    let r = admin.get("/rest/software/1.0/board/1/issue").await;
    assert_eq!(r.status, StatusCode::NOT_FOUND);
    assert_eq!(r.body["status-code"], 404);
    // Any other unknown REST path gets the same Jersey answer.
    let r = admin.get("/rest/api/2/no-such-thing").await;
    assert_eq!(
        r.body["message"],
        format!("null for uri: {}/rest/api/2/no-such-thing", sim.base_url())
    );
    // What Data Center has still answers.
    for path in [
        "/rest/api/2/search?jql=order%20by%20key&maxResults=1",
        "/rest/api/2/user/search?username=.&maxResults=5",
        "/rest/api/2/project",
        "/rest/api/2/mypermissions?permissions=BROWSE_PROJECTS",
        "/rest/api/2/worklog/updated?since=0",
        "/rest/api/2/issue/10000?expand=changelog",
    ] {
        let r = admin.get(path).await;
        assert_eq!(r.status, StatusCode::OK, "{path}: {}", r.body);
    }
    // Bad credentials are refused before routing, as Seraph does.
    let wrong = Client::new(sim.base_url(), Auth::Basic("admin".into(), "wrong".into()));
    let r = wrong.get("/rest/api/2/search/jql").await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn cloud_serves_what_datacenter_refuses() {
    let sim = start_sim(Deployment::Cloud, 50, 22).await;
    let admin = Client::as_identity(&sim, "admin");
    for (method, path, body) in cloud_only() {
        if path.contains("/search") && path.contains("priority")
            || path.contains("resolution")
            || path.contains("comment/list")
        {
            // Served by other parts of the simulator as they arrive; not this test's subject.
            continue;
        }
        let full = format!("/rest/api/3{path}");
        let r = admin.send(method.clone(), &full, body).await;
        assert_ne!(
            r.status,
            StatusCode::NOT_FOUND,
            "{method} {full}: {}",
            r.body
        );
    }
}

#[tokio::test]
async fn the_dc_page_cap_cuts_every_search_and_list() {
    let sim = dc(None, Some(20)).await;
    let c = Client::as_identity(&sim, "admin");
    let r = c
        .get("/rest/api/2/search?jql=order%20by%20key&maxResults=100")
        .await;
    assert_eq!(r.body["maxResults"], 20, "the page says it was cut");
    assert_eq!(r.body["issues"].as_array().map(Vec::len), Some(20));
    assert!(r.body["total"].as_u64().expect("total") > 20);
    let r = c
        .post(
            "/rest/api/2/search",
            json!({"jql": "order by key", "maxResults": 1000, "startAt": 20}),
        )
        .await;
    assert_eq!(r.body["maxResults"], 20);
    assert_eq!(r.body["issues"].as_array().map(Vec::len), Some(20));
    // Without maxResults: Jira's default of 50, cut to the cap.
    let r = c.get("/rest/api/2/search?jql=order%20by%20key").await;
    assert_eq!(r.body["maxResults"], 20);
    let boards = c.get("/rest/agile/1.0/board?maxResults=50").await;
    assert_eq!(boards.body["maxResults"], 20);
    let board = boards.body["values"][0]["id"].as_u64().expect("a board");
    let r = c
        .get(&format!(
            "/rest/agile/1.0/board/{board}/issue?maxResults=100"
        ))
        .await;
    assert_eq!(r.body["maxResults"], 20);
    assert!(r.body["issues"].as_array().expect("issues").len() <= 20);
    let r = c
        .get(&format!(
            "/rest/agile/1.0/board/{board}/sprint?maxResults=50"
        ))
        .await;
    assert_eq!(r.body["maxResults"], 20);
    // Paging through the capped search still reaches every issue once.
    let total = c
        .get("/rest/api/2/search?jql=order%20by%20key&maxResults=0")
        .await
        .body["total"]
        .as_u64()
        .expect("total") as usize;
    let mut seen = std::collections::BTreeSet::new();
    let mut start = 0;
    while start < total {
        let page = c
            .get(&format!(
                "/rest/api/2/search?jql=order%20by%20key&maxResults=100&startAt={start}&fields=key"
            ))
            .await;
        let issues = page.body["issues"].as_array().expect("issues").clone();
        assert!(!issues.is_empty());
        start += issues.len();
        seen.extend(
            issues
                .iter()
                .map(|i| i["id"].as_str().expect("id").to_owned()),
        );
    }
    assert_eq!(seen.len(), total);
    // Zero is refused with the fix.
    let err = Sim::builder()
        .deployment(Deployment::Datacenter)
        .dc_max_results(0)
        .start()
        .await
        .err()
        .expect("refused");
    assert!(err.to_string().contains("--dc-max-results"), "{err}");
}

/// The sprint field values of the first issues that have some.
async fn sprint_values(c: &Client) -> Vec<String> {
    let r = c
        .get("/rest/api/2/search?jql=order%20by%20key&fields=customfield_10020&maxResults=200")
        .await;
    let values: Vec<String> = r.body["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .flat_map(|i| {
            i["fields"]["customfield_10020"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .map(|v| match v {
            Value::String(s) => s,
            other => panic!("Data Center's sprint field holds strings, not {other}"),
        })
        .collect();
    assert!(!values.is_empty(), "some issues are in sprints");
    values
}

#[tokio::test]
async fn dc_versions_differ_in_server_info_sprint_strings_and_pats() {
    // The default, 9.12: historical attribute order.
    let sim = dc(None, None).await;
    let c = Client::as_identity(&sim, "admin");
    let info = c.get("/rest/api/2/serverInfo").await;
    assert_eq!(info.body["version"], "9.12.15");
    assert_eq!(info.body["versionNumbers"], json!([9, 12, 15]));
    assert_eq!(info.body["buildNumber"], 9_120_015);
    assert_eq!(sim.startup_line()["dc_version"], "9.12.15");
    for s in sprint_values(&c).await {
        assert!(
            s.starts_with("com.atlassian.greenhopper.service.sprint.Sprint@") && s.ends_with(']'),
            "{s}"
        );
        let body = &s[s.find('[').expect("[") + 1..];
        assert!(body.starts_with("id="), "{s}");
        assert!(body.contains(",rapidViewId="), "{s}");
        assert!(
            body.contains(",state=CLOSED,")
                || body.contains(",state=ACTIVE,")
                || body.contains(",state=FUTURE,"),
            "{s}"
        );
    }
    // The snapshot and the Agile API still describe sprints as objects.
    let snap = sim.snapshot();
    assert!(snap["sprints"].as_array().is_some_and(|s| !s.is_empty()));

    // 10.3: the same strings, attributes sorted.
    let sim = dc(Some("10.3"), None).await;
    let c = Client::as_identity(&sim, "admin");
    let info = c.get("/rest/api/2/serverInfo").await;
    assert_eq!(info.body["version"], "10.3.0");
    for s in sprint_values(&c).await {
        let body = &s[s.find('[').expect("[") + 1..];
        assert!(body.starts_with("activatedDate="), "{s}");
        assert!(
            body.contains(",incompleteIssuesDestinationId=<null>,name="),
            "{s}"
        );
        assert!(body.ends_with(",synced=false]"), "{s}");
    }

    // 8.20 has personal access tokens; 8.13 does not (Seraph ignores Bearer: anonymous).
    let with = dc(Some("8.20"), None).await;
    let pat = with
        .identity("pat-admin")
        .expect("a PAT on 8.20")
        .secret
        .clone();
    let me = Client::new(with.base_url(), Auth::Bearer(pat.clone()))
        .get("/rest/api/2/myself")
        .await;
    assert_eq!(me.status, StatusCode::OK);
    let without = dc(Some("8.13"), None).await;
    assert!(
        without.identity("pat-admin").is_none(),
        "no PAT is offered before 8.14"
    );
    let me = Client::new(without.base_url(), Auth::Bearer(pat))
        .get("/rest/api/2/myself")
        .await;
    assert_eq!(me.status, StatusCode::UNAUTHORIZED);

    // Cloud keeps objects.
    let cloud = start_sim(Deployment::Cloud, 100, 21).await;
    let r = Client::as_identity(&cloud, "admin")
        .get("/rest/api/3/search/jql?jql=project%20is%20not%20EMPTY&fields=customfield_10020&maxResults=100")
        .await;
    let first = r.body["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .find_map(|i| i["fields"]["customfield_10020"].as_array().cloned())
        .expect("an issue in a sprint");
    assert!(first[0]["id"].is_u64(), "{first:?}");
}

#[test]
fn dc_versions_parse_and_refuse_what_is_not_a_release() {
    assert_eq!(
        "9.12".parse::<DcVersion>().expect("ok"),
        DcVersion::new(9, 12, 0)
    );
    assert_eq!(
        "10.3.4".parse::<DcVersion>().expect("ok"),
        DcVersion::new(10, 3, 4)
    );
    assert!(DcVersion::new(8, 13, 9) < DcVersion::PATS_SINCE);
    for bad in ["7.13", "9", "nine", "9.x", "12.0", ""] {
        let e = bad.parse::<DcVersion>().expect_err(bad);
        assert!(
            matches!(e, SimError::Config(ref m) if m.contains("8.20")),
            "{bad}: {e}"
        );
    }
}
