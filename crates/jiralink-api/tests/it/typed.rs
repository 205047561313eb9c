//! The typed client against the simulator: endpoint methods read wire models through the one
//! pager, and Jira's refusals arrive as `Error::Jira` with its error body.

use jiralink_api::endpoints::IssueFieldSet;
use jiralink_api::models::{IssueId, IssueRef};
use jiralink_api::{Client, Error};
use jiralink_sim::{Deployment, Sim};

async fn admin(sim: &Sim) -> Client {
    let id = sim.identity("admin").expect("identity");
    crate::diagnosis::builder(
        sim.base_url(),
        crate::diagnosis::kind_of(id),
        crate::diagnosis::auth_of(id),
    )
    .gateway_url(sim.gateway_url())
    .build()
    .await
    .expect("client")
}

#[tokio::test]
async fn jiras_refusals_carry_its_error_body() {
    for deployment in [Deployment::Cloud, Deployment::Datacenter] {
        let sim = Sim::builder()
            .deployment(deployment)
            .issues(20)
            .seed(7)
            .start()
            .await
            .expect("sim");
        let client = admin(&sim).await;
        // An issue that does not exist: 404 with Jira's message.
        match client.issue_changelog(&IssueId("999999".into())).await {
            Err(e @ Error::Jira { status: 404, .. }) => {
                let Error::Jira { messages, .. } = &e else {
                    unreachable!()
                };
                assert!(!messages.is_empty(), "{deployment:?}: {e:?}");
                // The diagnosis is the one of the same answer read as a whole.
                let d = e.diagnosis();
                assert_eq!(d.status, Some(404));
                assert_eq!(d.jira.messages, *messages);
                assert_eq!(e.to_string(), d.to_string());
            }
            other => panic!("{deployment:?}: expected Error::Jira 404, got {other:?}"),
        }
        // A JQL naming a project that does not exist: 400, with Jira's words.
        let refused = match deployment {
            Deployment::Cloud => client
                .search_jql_ids("project = NOPE", 100)
                .all()
                .await
                .map(|_| ()),
            _ => client
                .search::<IssueRef>("project = NOPE", IssueFieldSet::Id, 100, true)
                .all()
                .await
                .map(|_| ()),
        };
        match refused {
            Err(Error::Jira {
                status: 400,
                messages,
                errors,
            }) => {
                let said = format!("{messages:?} {errors:?}");
                assert!(said.contains("NOPE"), "{deployment:?}: {said}");
            }
            other => panic!("{deployment:?}: expected Error::Jira 400, got {other:?}"),
        }
    }
}

#[tokio::test]
async fn every_issue_id_arrives_through_the_pager_whatever_the_page_size() {
    let sim = Sim::builder()
        .deployment(Deployment::Datacenter)
        .issues(130)
        .seed(9)
        .dc_max_results(20)
        .start()
        .await
        .expect("sim");
    let client = admin(&sim).await;
    let projects = client.all_projects().await.expect("projects");
    assert!(!projects.is_empty());
    let jql = "ORDER BY id ASC";
    // Asked for 1000 a page, served 20: the first page shows the size, the rest in parallel.
    let (parallel, total) = client
        .search::<IssueRef>(jql, IssueFieldSet::Id, 1000, true)
        .all_parallel(4)
        .await
        .expect("ids");
    let serial = client
        .search::<IssueRef>(jql, IssueFieldSet::Id, 1000, true)
        .all()
        .await
        .expect("ids");
    assert_eq!(parallel.len(), total);
    let ids = |v: &[IssueRef]| v.iter().map(|i| i.id.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&parallel), ids(&serial));
    assert_eq!(
        total,
        client.search_total(jql).await.expect("total").unwrap_or(0) as usize
    );
    assert!(total > 20, "more than one page: {total}");
}
