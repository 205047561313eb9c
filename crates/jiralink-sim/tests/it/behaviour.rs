//! Behaviour under test conditions: paging completeness, rate limits, faults, latency, TLS, live
//! mutation (including moves that change keys) and the snapshot.

use std::time::{Duration, Instant};

use jiralink_sim::Deployment;
use serde_json::{json, Value};

use crate::support::{seeded, start_sim, Auth, Client};

/// The ids of a page's issues, in order.
fn issue_ids(page: &Value) -> impl Iterator<Item = String> + '_ {
    page["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|i| i["id"].as_str().expect("id").to_owned())
}

/// The token of the page after `page`; `None` on the last page, which says so (`isLast`).
fn next_page_token(page: &Value) -> Option<String> {
    let token = page["nextPageToken"].as_str().map(str::to_owned);
    if token.is_none() {
        assert_eq!(page["isLast"], true, "{page}");
    }
    token
}

/// Every issue id reachable through search/jql paging, in order.
async fn all_ids(c: &Client, jql: &str, page: u64) -> Vec<String> {
    let mut ids = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"jql": jql, "fields": ["id"], "maxResults": page});
        if let Some(t) = &token {
            body["nextPageToken"] = json!(t);
        }
        let r = c.post("/rest/api/3/search/jql", body).await;
        assert_eq!(r.status, 200, "{}", r.body);
        ids.extend(issue_ids(&r.body));
        token = next_page_token(&r.body);
        if token.is_none() {
            return ids;
        }
    }
}

#[tokio::test]
async fn search_pages_cover_the_snapshot_exactly() {
    let sim = start_sim(Deployment::Cloud, 1200, 21).await;
    let admin = Client::as_identity(&sim, "admin");
    let snap = sim.snapshot();
    let mut expected: Vec<String> = snap["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|i| i["id"].to_string())
        .collect();
    let mut got = all_ids(&admin, "project is not EMPTY ORDER BY id ASC", 100).await;
    assert_eq!(got.len(), expected.len());
    let count = admin
        .post(
            "/rest/api/3/search/approximate-count",
            json!({"jql": "project is not EMPTY"}),
        )
        .await;
    assert_eq!(count.body["count"].as_u64(), Some(expected.len() as u64));
    got.sort();
    expected.sort();
    assert_eq!(got, expected);
    // The id-only page cap is 5000; with fields it is 100.
    let r = admin
        .post(
            "/rest/api/3/search/jql",
            json!({"jql": "project is not EMPTY", "fields": ["id"], "maxResults": 9999}),
        )
        .await;
    assert_eq!(r.body["issues"].as_array().map(Vec::len), Some(1200));
    let r = admin
        .post(
            "/rest/api/3/search/jql",
            json!({"jql": "project is not EMPTY", "fields": ["*all"], "maxResults": 9999}),
        )
        .await;
    assert_eq!(r.body["issues"].as_array().map(Vec::len), Some(100));
}

#[tokio::test]
async fn search_caps_changelogs_but_bulk_changelog_is_complete() {
    let sim = start_sim(Deployment::Cloud, 1500, 22).await;
    let admin = Client::as_identity(&sim, "admin");
    let snap = sim.snapshot();
    let long = snap["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .max_by_key(|i| i["changelog_count"].as_u64())
        .expect("an issue")
        .clone();
    let total = long["changelog_count"].as_u64().expect("count");
    assert!(
        total > 40,
        "the generator makes some long histories (longest {total})"
    );
    let id = long["id"].to_string();
    let r = admin
        .post(
            "/rest/api/3/search/jql",
            json!({"jql": format!("id = {id}"), "fields": ["summary"], "expand": "changelog"}),
        )
        .await;
    let ch = &r.body["issues"][0]["changelog"];
    assert_eq!(ch["total"].as_u64(), Some(total));
    assert_eq!(
        ch["histories"].as_array().map(Vec::len),
        Some(40),
        "search results carry at most 40 histories"
    );
    let mut histories = 0u64;
    let mut token: Option<String> = None;
    loop {
        let mut body = json!({"issueIdsOrKeys": [id], "maxResults": 25});
        if let Some(t) = &token {
            body["nextPageToken"] = json!(t);
        }
        let r = admin.post("/rest/api/3/changelog/bulkfetch", body).await;
        for log in r.body["issueChangeLogs"].as_array().expect("logs") {
            histories += log["changeHistories"]
                .as_array()
                .map(|h| h.len() as u64)
                .unwrap_or(0);
        }
        match r.body["nextPageToken"].as_str() {
            Some(t) => token = Some(t.to_owned()),
            None => break,
        }
    }
    assert_eq!(histories, total);
}

#[tokio::test]
async fn bulk_changelog_pages_survive_a_delete_between_pages() {
    let sim = start_sim(Deployment::Cloud, 300, 24).await;
    let admin = Client::as_identity(&sim, "admin");
    let snap = sim.snapshot();
    let mut issues: Vec<Value> = snap["issues"].as_array().expect("issues").clone();
    issues.retain(|i| i["changelog_count"].as_u64() >= Some(4));
    let (a, b) = (&issues[0], &issues[1]);
    let a_count = a["changelog_count"].as_u64().expect("count");
    let b_count = b["changelog_count"].as_u64().expect("count");
    // A first page that ends inside B; then A is deleted; then the rest.
    let body = |token: Option<&str>| {
        let mut v = json!({"issueIdsOrKeys": [a["id"].to_string(), b["id"].to_string()], "maxResults": a_count + 2});
        if let Some(t) = token {
            v["nextPageToken"] = json!(t);
        }
        v
    };
    let b_id = b["id"].to_string();
    let count_b = |r: &Value| -> u64 {
        r["issueChangeLogs"]
            .as_array()
            .expect("logs")
            .iter()
            .filter(|l| l["issueId"].as_str() == Some(b_id.as_str()))
            .map(|l| {
                l["changeHistories"]
                    .as_array()
                    .map_or(0, |h| h.len() as u64)
            })
            .sum()
    };
    let first = admin
        .post("/rest/api/3/changelog/bulkfetch", body(None))
        .await;
    let mut seen = count_b(&first.body);
    assert_eq!(seen, 2);
    let del = admin
        .delete(&format!("/rest/api/3/issue/{}", a["id"]))
        .await;
    assert_eq!(del.status, 204);
    let mut token = first.body["nextPageToken"].as_str().map(str::to_owned);
    while let Some(t) = token {
        let r = admin
            .post("/rest/api/3/changelog/bulkfetch", body(Some(&t)))
            .await;
        seen += count_b(&r.body);
        token = r.body["nextPageToken"].as_str().map(str::to_owned);
    }
    assert_eq!(seen, b_count, "no history of B skipped or repeated");
}

#[tokio::test]
async fn rate_limit_answers_429_per_identity() {
    let sim = seeded(Deployment::Cloud, 50, 23)
        .rate_limit(5.0)
        .start()
        .await
        .expect("sim");
    let admin = Client::as_identity(&sim, "admin");
    let mut limited = None;
    for _ in 0..20 {
        let r = admin.get("/rest/api/3/myself").await;
        if r.status == 429 {
            limited = Some(r);
            break;
        }
        assert_eq!(r.status, 200);
        assert_eq!(r.headers["x-ratelimit-limit"], "5");
    }
    let r = limited.expect("20 requests at once exceed 5 per second");
    let retry: u64 = r.headers["retry-after"]
        .to_str()
        .expect("ascii")
        .parse()
        .expect("seconds");
    assert!((1..=2).contains(&retry));
    assert_eq!(r.headers["x-ratelimit-remaining"], "0");
    assert!(r.headers.contains_key("x-ratelimit-reset"));
    assert_eq!(r.headers["ratelimit-reason"], "jira-burst-based");
    // Another identity has its own bucket.
    assert_eq!(
        Client::as_identity(&sim, "reader")
            .get("/rest/api/3/myself")
            .await
            .status,
        200
    );
}

#[tokio::test]
async fn faults_cover_every_kind() {
    let sim = seeded(Deployment::Cloud, 50, 24)
        .fault_rate(1.0)
        .start()
        .await
        .expect("sim");
    let admin = sim.identity("admin").expect("admin");
    let http = reqwest::Client::new();
    let (mut s500, mut s502, mut s503, mut broken) = (0, 0, 0, 0);
    for _ in 0..80 {
        let resp = http
            .get(format!(
                "{}/rest/api/3/search/jql?jql=project%20is%20not%20EMPTY&fields=*all",
                sim.base_url()
            ))
            .basic_auth(
                admin.email.as_deref().unwrap_or_default(),
                Some(&admin.secret),
            )
            .send()
            .await;
        match resp {
            Err(_) => broken += 1,
            Ok(r) => match r.status().as_u16() {
                500 => s500 += 1,
                502 => s502 += 1,
                503 => {
                    assert!(r.headers().contains_key("retry-after"));
                    s503 += 1
                }
                _ => {
                    if r.bytes().await.is_err() {
                        broken += 1
                    }
                }
            },
        }
    }
    assert!(
        s500 > 0 && s502 > 0 && s503 > 0 && broken > 0,
        "500:{s500} 502:{s502} 503:{s503} reset/truncated:{broken}"
    );
    // /__sim/ is never faulted.
    assert_eq!(
        http.get(format!("{}/__sim/snapshot", sim.base_url()))
            .send()
            .await
            .expect("snapshot")
            .status(),
        200
    );
}

#[tokio::test]
async fn latency_is_added_to_each_request() {
    let sim = seeded(Deployment::Cloud, 20, 25)
        .latency_ms(80)
        .start()
        .await
        .expect("sim");
    let admin = Client::as_identity(&sim, "admin");
    let t = Instant::now();
    assert_eq!(admin.get("/rest/api/3/myself").await.status, 200);
    assert!(
        t.elapsed() >= Duration::from_millis(40),
        "latency 80 ms with ±50% jitter is at least 40 ms"
    );
}

#[tokio::test]
async fn tls_serves_with_the_printed_certificate() {
    let sim = seeded(Deployment::Cloud, 20, 26)
        .tls(true)
        .legacy_search(true)
        .start()
        .await
        .expect("sim");
    assert!(sim.base_url().starts_with("https://localhost:"));
    let pem = std::fs::read(sim.ca_cert().expect("a CA path")).expect("the PEM file");
    let cert = reqwest::Certificate::from_pem(&pem).expect("a PEM certificate");
    let admin = sim.identity("admin").expect("admin");
    let trusted = reqwest::Client::builder()
        .add_root_certificate(cert)
        .build()
        .expect("client");
    let r = trusted
        .get(format!(
            "{}/rest/api/3/search?jql=project%20is%20not%20EMPTY&maxResults=1",
            sim.base_url()
        ))
        .basic_auth(
            admin.email.as_deref().unwrap_or_default(),
            Some(&admin.secret),
        )
        .send()
        .await
        .expect("https works");
    assert_eq!(
        r.status(),
        200,
        "legacy search is served with --legacy-search"
    );
    let body: Value = r.json().await.expect("json");
    assert_eq!(body["total"].as_u64(), Some(20));
    assert!(
        reqwest::Client::new()
            .get(sim.base_url())
            .send()
            .await
            .is_err(),
        "an untrusting client refuses the certificate"
    );
}

#[tokio::test]
async fn mutation_changes_the_site_and_moved_keys_still_resolve() {
    let sim = seeded(Deployment::Cloud, 300, 27)
        .mutate_per_s(400.0)
        .start()
        .await
        .expect("sim");
    let admin = Client::as_identity(&sim, "admin");
    let before = sim.snapshot();
    let deadline = Instant::now() + Duration::from_secs(10);
    let after = loop {
        tokio::time::sleep(Duration::from_millis(100)).await;
        let s = sim.snapshot();
        let moved = s["issues"].as_array().expect("issues").iter().any(|i| {
            before["issues"]
                .as_array()
                .expect("issues")
                .iter()
                .any(|b| b["id"] == i["id"] && b["key"] != i["key"])
        });
        let deleted = !s["deleted"]["issues"]
            .as_array()
            .expect("deleted")
            .is_empty();
        if (moved && deleted) || Instant::now() > deadline {
            break s;
        }
    };
    assert!(
        after["counts"]["issues"] != before["counts"]["issues"]
            || !after["deleted"]["issues"].as_array().expect("d").is_empty()
    );
    let old = before["issues"].as_array().expect("issues");
    let moved = after["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .find_map(|i| {
            old.iter()
                .find(|b| b["id"] == i["id"] && b["key"] != i["key"])
                .map(|b| (b["key"].clone(), i["id"].clone()))
        });
    let (old_key, id) = moved.expect("an issue moved between projects within 10 s");
    let r = admin
        .get(&format!(
            "/rest/api/3/issue/{}",
            old_key.as_str().expect("key")
        ))
        .await;
    assert!(r.status == 200 || r.status == 404, "{}", r.status);
    if r.status == 200 {
        assert_eq!(
            r.body["id"].as_str(),
            Some(id.to_string().as_str()),
            "the old key resolves to the moved issue"
        );
    }
    let deleted = after["deleted"]["issues"][0].to_string();
    assert_eq!(
        admin
            .get(&format!("/rest/api/3/issue/{deleted}"))
            .await
            .status,
        404
    );
    let _ = Auth::None;
}

/// Every worklog id of `worklog/updated` from `since`, following `nextPage`; and the last `until`.
async fn worklog_feed(c: &Client, since: i64) -> (Vec<u64>, i64) {
    let (mut ids, mut since) = (Vec::new(), since);
    loop {
        let r = c
            .get(&format!("/rest/api/3/worklog/updated?since={since}"))
            .await;
        assert_eq!(r.status, 200, "{}", r.body);
        let values = r.body["values"].as_array().expect("values");
        assert!(values.len() <= 1000 || r.body["lastPage"] == false);
        ids.extend(values.iter().map(|v| v["worklogId"].as_u64().expect("id")));
        let until = r.body["until"].as_i64().expect("until");
        if r.body["lastPage"] == true {
            return (ids, until);
        }
        assert!(until > since, "{}", r.body);
        since = until;
    }
}

#[tokio::test]
async fn the_worklog_feeds_and_list_follow_adds_deletes_and_deleted_issues() {
    let sim = seeded(Deployment::Cloud, 1500, 33)
        .worklog_feed_lag_ms(0)
        .start()
        .await
        .expect("sim");
    let admin = Client::as_identity(&sim, "admin");
    let snapshot_ids = |snap: &Value| -> Vec<u64> {
        let mut ids: Vec<u64> = snap["issues"]
            .as_array()
            .expect("issues")
            .iter()
            .flat_map(|i| i["worklog_ids"].as_array().cloned().unwrap_or_default())
            .map(|v| v.as_u64().expect("worklog id"))
            .collect();
        ids.sort_unstable();
        ids
    };
    // From 0 the feed pages hold every worklog once.
    let (mut all, until) = worklog_feed(&admin, 0).await;
    all.sort_unstable();
    let expected = snapshot_ids(&sim.snapshot());
    assert!(expected.len() > 2000, "{} worklogs", expected.len());
    assert_eq!(all, expected);

    // An added worklog is in the feed after `until` and in the list; a deleted one and those of a
    // deleted issue leave both.
    std::thread::sleep(Duration::from_millis(5));
    let snap = sim.snapshot();
    let issues = snap["issues"].as_array().expect("issues");
    let with_worklogs: Vec<&Value> = issues
        .iter()
        .filter(|i| i["worklog_ids"].as_array().is_some_and(|w| w.len() >= 2))
        .take(2)
        .collect();
    let (a, b) = (with_worklogs[0], with_worklogs[1]);
    let added = admin
        .post(
            &format!("/rest/api/3/issue/{}/worklog", a["id"]),
            json!({"timeSpentSeconds": 600}),
        )
        .await;
    assert_eq!(added.status, 201, "{}", added.body);
    let added: u64 = added.body["id"].as_str().expect("id").parse().expect("id");
    let gone = a["worklog_ids"][0].as_u64().expect("id");
    let r = admin
        .delete(&format!("/rest/api/3/issue/{}/worklog/{gone}", a["id"]))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let of_b: Vec<u64> = b["worklog_ids"]
        .as_array()
        .expect("ids")
        .iter()
        .map(|v| v.as_u64().expect("id"))
        .collect();
    let r = admin
        .delete(&format!("/rest/api/3/issue/{}", b["id"]))
        .await;
    assert_eq!(r.status, 204, "{}", r.body);

    let (since_then, _) = worklog_feed(&admin, until).await;
    assert_eq!(since_then, vec![added]);
    let (mut all, _) = worklog_feed(&admin, 0).await;
    all.sort_unstable();
    assert_eq!(all, snapshot_ids(&sim.snapshot()));
    assert!(!all.contains(&gone) && of_b.iter().all(|w| !all.contains(w)));

    let list = admin
        .post(
            "/rest/api/3/worklog/list",
            json!({"ids": [added, gone, of_b[0], a["worklog_ids"][1], added]}),
        )
        .await;
    assert_eq!(list.status, 200, "{}", list.body);
    let listed: Vec<u64> = list
        .body
        .as_array()
        .expect("list")
        .iter()
        .map(|w| w["id"].as_str().expect("id").parse().expect("id"))
        .collect();
    let mut want = vec![added, a["worklog_ids"][1].as_u64().expect("id")];
    want.sort_unstable();
    assert_eq!(listed, want);
}

/// The key of an issue of the first board (on both deployments, whatever search they serve).
async fn some_key(c: &Client) -> String {
    let r = c.get("/rest/agile/1.0/board?maxResults=1").await;
    let board = r.body["values"][0]["id"].as_i64().expect("a board");
    let r = c
        .get(&format!(
            "/rest/agile/1.0/board/{board}/issue?maxResults=1&fields=key"
        ))
        .await;
    r.body["issues"][0]["key"]
        .as_str()
        .expect("an issue")
        .to_owned()
}

#[tokio::test]
async fn v3_rich_text_takes_adf_only_and_v2_takes_wiki_text() {
    const NOT_ADF: &str =
        "Operation value must be an Atlassian Document (see the Atlassian Document Format)";
    let sim = start_sim(Deployment::Cloud, 60, 31).await;
    let c = Client::as_identity(&sim, "admin");
    let key = some_key(&c).await;
    let project = key.split('-').next().expect("a project key").to_owned();
    let adf = crate::support_adf("Rich text");
    let new = |description: Value| json!({"fields": {"project": {"key": project}, "issuetype": {"name": "Task"}, "summary": "ADF", "description": description}});

    // Create, edit: a string (or a non-document object) is refused with Cloud's message.
    for bad in [
        json!("plain text"),
        json!({"type": "paragraph", "content": []}),
    ] {
        let r = c.post("/rest/api/3/issue", new(bad.clone())).await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.body["errors"]["description"], NOT_ADF);
        let r = c
            .put(
                &format!("/rest/api/3/issue/{key}"),
                json!({"fields": {"description": bad}}),
            )
            .await;
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.body["errors"]["description"], NOT_ADF);
    }
    let r = c
        .post("/rest/api/3/issue", json!({"fields": {"project": {"key": project}, "issuetype": {"name": "Task"}, "summary": "Env", "environment": "linux"}}))
        .await;
    assert_eq!(r.body["errors"]["environment"], NOT_ADF, "{}", r.body);
    let r = c.post("/rest/api/3/issue", new(adf.clone())).await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = c
        .put(
            &format!("/rest/api/3/issue/{key}"),
            json!({"fields": {"description": null}}),
        )
        .await;
    assert_eq!(r.status, 204, "null clears: {}", r.body);

    // Comment, worklog, transition.
    let r = c
        .post(
            &format!("/rest/api/3/issue/{key}/comment"),
            json!({"body": "plain"}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["errors"]["comment"], "Comment body is not valid!");
    let r = c
        .post(
            &format!("/rest/api/3/issue/{key}/worklog"),
            json!({"timeSpentSeconds": 60, "comment": "plain"}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(r.body["errors"]["comment"], NOT_ADF);
    let t = c.get(&format!("/rest/api/3/issue/{key}/transitions")).await;
    let tid = t.body["transitions"][0]["id"]
        .as_str()
        .expect("a transition")
        .to_owned();
    let r = c
        .post(
            &format!("/rest/api/3/issue/{key}/transitions"),
            json!({"transition": {"id": tid}, "update": {"comment": [{"add": {"body": "plain"}}]}}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    let before = c
        .get(&format!("/rest/api/3/issue/{key}/comment"))
        .await
        .body["total"]
        .clone();
    let r = c
        .post(
            &format!("/rest/api/3/issue/{key}/transitions"),
            json!({"transition": {"id": tid}, "update": {"comment": [{"add": {"body": adf}}]}}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let after = c
        .get(&format!("/rest/api/3/issue/{key}/comment"))
        .await
        .body["total"]
        .clone();
    assert_eq!(
        after.as_u64(),
        before.as_u64().map(|n| n + 1),
        "the transition's comment was added"
    );

    // REST v2 on Cloud takes wiki text and refuses a document.
    let r = c
        .post(
            &format!("/rest/api/2/issue/{key}/comment"),
            json!({"body": "*wiki* text"}),
        )
        .await;
    assert_eq!(r.status, 201, "{}", r.body);
    let r = c
        .put(
            &format!("/rest/api/2/issue/{key}"),
            json!({"fields": {"description": "h1. Wiki"}}),
        )
        .await;
    assert_eq!(r.status, 204, "{}", r.body);
    let r = c
        .put(
            &format!("/rest/api/2/issue/{key}"),
            json!({"fields": {"description": adf}}),
        )
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert_eq!(
        r.body["errors"]["description"],
        "Operation value must be a string"
    );
}

#[tokio::test]
async fn comment_and_worklog_pages_are_paged_as_cloud_pages_them() {
    let sim = start_sim(Deployment::Cloud, 30, 32).await;
    let c = Client::as_identity(&sim, "admin");
    let key = some_key(&c).await;
    let before = c
        .get(&format!("/rest/api/3/issue/{key}/comment?maxResults=0"))
        .await;
    let existing = before.body["total"].as_u64().expect("total");
    for n in 0..(105 - existing.min(105)) {
        let r = c
            .post(
                &format!("/rest/api/3/issue/{key}/comment"),
                json!({"body": crate::support_adf(&format!("comment {n}"))}),
            )
            .await;
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let total = existing.max(105);
    for query in ["", "?maxResults=1000", "?maxResults=100"] {
        let r = c
            .get(&format!("/rest/api/3/issue/{key}/comment{query}"))
            .await;
        assert_eq!(
            r.body["maxResults"], 100,
            "{query}: {}",
            r.body["maxResults"]
        );
        assert_eq!(r.body["comments"].as_array().map(Vec::len), Some(100));
        assert_eq!(r.body["total"], total);
        assert!(
            r.body.get("isLast").is_none(),
            "Jira sends no isLast on comment pages"
        );
    }
    let r = c
        .get(&format!(
            "/rest/api/3/issue/{key}/comment?startAt=100&maxResults=1000"
        ))
        .await;
    assert_eq!(r.body["startAt"], 100);
    assert_eq!(
        r.body["comments"].as_array().map(Vec::len),
        Some(total as usize - 100)
    );
    let r = c.get(&format!("/rest/api/3/issue/{key}/worklog")).await;
    assert_eq!(r.body["maxResults"], 5000);
    assert!(
        r.body.get("isLast").is_none(),
        "Jira sends no isLast on worklog pages"
    );
    assert_eq!(
        r.body["worklogs"].as_array().map(Vec::len),
        r.body["total"].as_u64().map(|t| t as usize)
    );

    // Data Center answers every comment at once unless asked for fewer.
    let sim = start_sim(Deployment::Datacenter, 30, 32).await;
    let c = Client::as_identity(&sim, "admin");
    let key = some_key(&c).await;
    let r = c.get(&format!("/rest/api/2/issue/{key}/comment")).await;
    assert_eq!(r.body["maxResults"], 1_048_576, "{}", r.body["maxResults"]);
    assert!(r.body.get("isLast").is_none());
    assert_eq!(
        r.body["comments"].as_array().map(Vec::len),
        r.body["total"].as_u64().map(|t| t as usize)
    );
}

#[tokio::test]
async fn page_tokens_are_opaque_bound_to_their_query_and_expire() {
    const BAD: &str = "The nextPageToken is invalid or expired.";
    let sim = start_sim(Deployment::Cloud, 120, 33).await;
    let c = Client::as_identity(&sim, "admin");
    let jql = "project is not EMPTY ORDER BY key ASC";
    let first = c
        .post(
            "/rest/api/3/search/jql",
            json!({"jql": jql, "fields": ["summary"], "maxResults": 5}),
        )
        .await;
    let token = first.body["nextPageToken"]
        .as_str()
        .expect("a token")
        .to_owned();
    let refused = |r: &crate::support::Reply| {
        assert_eq!(r.status, 400, "{}", r.body);
        assert_eq!(r.body["errorMessages"][0], BAD);
    };
    // The same query continues (a different page size is fine); any other query is refused.
    let next = c
        .post(
            "/rest/api/3/search/jql",
            json!({"jql": jql, "fields": ["summary"], "maxResults": 7, "nextPageToken": token}),
        )
        .await;
    assert_eq!(next.status, 200, "{}", next.body);
    for other in [
        json!({"jql": "project is not EMPTY ORDER BY key DESC", "fields": ["summary"]}),
        json!({"jql": jql, "fields": ["summary", "status"]}),
        json!({"jql": jql, "fields": ["summary"], "expand": "changelog"}),
        json!({"jql": jql, "fields": ["summary"], "properties": ["a"]}),
    ] {
        let mut body = other;
        body["nextPageToken"] = json!(token);
        refused(&c.post("/rest/api/3/search/jql", body).await);
    }
    // Garbage, an edited token, and the token of another user are refused.
    let mut edited = token.clone().into_bytes();
    edited[3] = if edited[3] == b'A' { b'B' } else { b'A' };
    for t in [
        "garbage".to_owned(),
        "MTA".to_owned(),
        String::from_utf8(edited).expect("ascii"),
    ] {
        refused(
            &c.post(
                "/rest/api/3/search/jql",
                json!({"jql": jql, "fields": ["summary"], "nextPageToken": t}),
            )
            .await,
        );
    }
    let other = Client::as_identity(&sim, "reader");
    refused(
        &other
            .post(
                "/rest/api/3/search/jql",
                json!({"jql": jql, "fields": ["summary"], "nextPageToken": token}),
            )
            .await,
    );
    // The token says nothing readable about where it points.
    assert!(!token.contains("jql") && !token.contains(':'), "{token}");
    // Bulk changelog tokens are bound to their issue list too.
    let ids: Vec<Value> = first.body["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .map(|i| i["id"].clone())
        .collect();
    let page = c
        .post(
            "/rest/api/3/changelog/bulkfetch",
            json!({"issueIdsOrKeys": ids, "maxResults": 1}),
        )
        .await;
    let ct = page.body["nextPageToken"]
        .as_str()
        .expect("a changelog token")
        .to_owned();
    let r = c
        .post(
            "/rest/api/3/changelog/bulkfetch",
            json!({"issueIdsOrKeys": ids, "maxResults": 1, "nextPageToken": ct}),
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    refused(
        &c.post(
            "/rest/api/3/changelog/bulkfetch",
            json!({"issueIdsOrKeys": ids[..2], "maxResults": 1, "nextPageToken": ct}),
        )
        .await,
    );

    // With a lifetime of 0 every token is already expired.
    let sim = seeded(Deployment::Cloud, 40, 33)
        .page_token_ttl_s(0)
        .start()
        .await
        .expect("sim");
    let c = Client::as_identity(&sim, "admin");
    let first = c
        .post(
            "/rest/api/3/search/jql",
            json!({"jql": jql, "fields": ["id"], "maxResults": 5}),
        )
        .await;
    let token = first.body["nextPageToken"].as_str().expect("a token");
    refused(
        &c.post(
            "/rest/api/3/search/jql",
            json!({"jql": jql, "fields": ["id"], "maxResults": 5, "nextPageToken": token}),
        )
        .await,
    );
}

#[tokio::test]
async fn software_issue_lists_walk_every_issue_once_by_token() {
    let sim = start_sim(Deployment::Cloud, 300, 34).await;
    let c = Client::as_identity(&sim, "admin");
    let boards = c.get("/rest/agile/1.0/board").await;
    let board = boards.body["values"][0]["id"].as_i64().expect("a board");
    let agile = c
        .get(&format!(
            "/rest/agile/1.0/board/{board}/issue?maxResults=100&fields=id"
        ))
        .await;
    let total = agile.body["total"].as_u64().expect("total") as usize;
    assert!(total > 7, "the board has issues to page: {total}");
    let mut expected: Vec<String> = Vec::new();
    let mut start = 0;
    while expected.len() < total {
        let r = c
            .get(&format!(
                "/rest/agile/1.0/board/{board}/issue?maxResults=100&fields=id&startAt={start}"
            ))
            .await;
        let page: Vec<String> = issue_ids(&r.body).collect();
        assert!(!page.is_empty());
        start += page.len();
        expected.extend(page);
    }
    let mut seen = Vec::new();
    let mut token: Option<String> = None;
    loop {
        // startAt is not a parameter of these lists: it is ignored.
        let mut path = format!("/rest/software/1.0/board/{board}/issue?maxResults=7&startAt=99");
        if let Some(t) = &token {
            path.push_str(&format!(
                "&nextPageToken={}",
                url::form_urlencoded::byte_serialize(t.as_bytes()).collect::<String>()
            ));
        }
        let r = c.get(&path).await;
        assert_eq!(r.status, 200, "{}", r.body);
        assert!(r.body.get("startAt").is_none() && r.body.get("total").is_none());
        seen.extend(issue_ids(&r.body));
        token = next_page_token(&r.body);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(
        seen, expected,
        "the token walks every board issue once, in order"
    );
    let r = c
        .get(&format!("/rest/software/1.0/board/{board}/issue"))
        .await;
    assert_eq!(
        r.body["issues"].as_array().map(Vec::len),
        Some(total.min(50))
    );
    // A token of one list is refused by another.
    let first = c
        .get(&format!(
            "/rest/software/1.0/board/{board}/issue?maxResults=1"
        ))
        .await;
    let t = first.body["nextPageToken"].as_str().expect("a token");
    let r = c
        .get(&format!(
            "/rest/software/1.0/board/{board}/backlog?maxResults=1&nextPageToken={t}"
        ))
        .await;
    assert_eq!(r.status, 400, "{}", r.body);
}

#[tokio::test]
async fn resource_paths_answer_the_same_with_a_trailing_slash() {
    for (deployment, v, context) in [
        (Deployment::Cloud, "3", ""),
        (Deployment::Datacenter, "2", "/jira"),
    ] {
        let sim = seeded(deployment, 20, 35)
            .context_path(context)
            .start()
            .await
            .expect("sim");
        let c = Client::as_identity(&sim, "admin");
        let plain = c.get(&format!("/rest/api/{v}/myself")).await;
        let slashed = c.get(&format!("/rest/api/{v}/myself/")).await;
        assert_eq!(slashed.status, 200, "{}", slashed.body);
        assert_eq!(slashed.body, plain.body);
        let projects = c
            .get(&format!("/rest/api/{v}/project/search/?maxResults=1"))
            .await;
        assert_eq!(projects.status, 200, "{}", projects.body);
        assert_eq!(
            projects.body["values"].as_array().map(Vec::len),
            Some(1),
            "the query survives"
        );
        assert!(sim.unmatched().is_empty(), "{:?}", sim.unmatched());
    }
}
