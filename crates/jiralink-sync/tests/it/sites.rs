//! Sites in one store: two simulators whose numeric ids overlap never touch each other's rows; two
//! credentials of one site share its rows; what a credential can no longer see is recorded as not
//! visible, never deleted.

use std::collections::BTreeSet;

use jiralink_sim::model::Permission;
use jiralink_sim::{Deployment, Sim};
use jiralink_store::{Backend, Store};
use jiralink_sync::{sync, SyncError, SyncOptions};
use serde_json::Value;

use super::{assert_matches, client, dc_client, rows, store};

fn ids(snap: &Value) -> BTreeSet<u64> {
    snap["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .filter_map(|i| i["id"].as_u64())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn two_sites_in_one_store_never_touch_each_other_in_either_order() {
    for cloud_first in [true, false] {
        let a = Sim::builder()
            .deployment(Deployment::Cloud)
            .issues(300)
            .seed(61)
            .mutate_per_s(40.0)
            .start()
            .await
            .expect("sim a");
        let b = Sim::builder()
            .deployment(Deployment::Datacenter)
            .issues(200)
            .seed(62)
            .mutate_per_s(40.0)
            .start()
            .await
            .expect("sim b");
        let overlap = ids(&a.snapshot()).intersection(&ids(&b.snapshot())).count();
        assert!(
            overlap >= 150,
            "the two sites share numeric ids ({overlap})"
        );
        let (ca, cb) = (client(&a).await, dc_client(&b).await);
        let (_dir, mut s) = store(&format!("two-sites-{cloud_first}"));
        let (first, second) = if cloud_first {
            ((&ca, "a"), (&cb, "b"))
        } else {
            ((&cb, "b"), (&ca, "a"))
        };
        // Both sites change while they are synced, one after the other, twice.
        for (c, name) in [first, second, first, second] {
            sync(c, &mut s, &SyncOptions::new(name))
                .await
                .expect("sync");
        }
        a.pause_mutation(true);
        b.pause_mutation(true);
        let (snap_a, snap_b) = (a.snapshot(), b.snapshot());
        sync(&cb, &mut s, &SyncOptions::new("b"))
            .await
            .expect("sync b");
        let site_b = s.site().to_owned();
        assert_matches(&s, &snap_b);
        sync(&ca, &mut s, &SyncOptions::new("a"))
            .await
            .expect("sync a");
        let site_a = s.site().to_owned();
        assert_matches(&s, &snap_a);
        // What A's last sync marked deleted, Jira deleted (B's rows, with the same ids, are not A's).
        let snap_a_deleted: BTreeSet<String> = snap_a["deleted"]["issues"]
            .as_array()
            .expect("deleted")
            .iter()
            .map(|v| v.to_string())
            .collect();
        let a_deleted = rows(
            &s,
            &format!(
                "SELECT id, '' FROM issues WHERE site_id = '{site_a}' AND deleted_at IS NOT NULL"
            ),
        );
        assert!(a_deleted.iter().all(|(id, _)| snap_a_deleted.contains(id)));
        s.scope_to(&site_b).expect("scope");
        assert_matches(&s, &snap_b);
        assert_eq!(site_a, a.cloud_id(), "a Cloud site is keyed by its cloudId");
        assert_ne!(site_a, site_b);
        let sites = rows(
            &s,
            "SELECT site_id, deployment FROM sites ORDER BY deployment",
        );
        assert_eq!(
            sites,
            vec![
                (site_a.clone(), "cloud".to_owned()),
                (site_b.clone(), "datacenter".to_owned())
            ]
        );
        // Every row of every table is one site's; the runs name theirs.
        let runs = rows(&s, "SELECT credential, site_id FROM sync_runs ORDER BY id");
        assert!(runs.iter().all(
            |(cred, site)| (cred == "a" && *site == site_a) || (cred == "b" && *site == site_b)
        ));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_second_credential_of_the_same_site_shares_its_rows() {
    let sim = Sim::builder()
        .deployment(Deployment::Cloud)
        .issues(300)
        .seed(63)
        .start()
        .await
        .expect("sim");
    let c = client(&sim).await;
    let (_dir, mut s) = store("two-credentials");
    sync(&c, &mut s, &SyncOptions::new("one"))
        .await
        .expect("sync one");
    let before = s.counts().expect("counts");
    let second = sync(&c, &mut s, &SyncOptions::new("two"))
        .await
        .expect("sync two");
    assert_eq!(second.issues_deleted, 0);
    assert_eq!(s.counts().expect("counts"), before, "no row twice");
    assert_eq!(
        rows(
            &s,
            "SELECT CAST(COUNT(DISTINCT site_id) AS TEXT), '' FROM issues"
        ),
        vec![("1".to_owned(), String::new())]
    );
    assert_matches(&s, &sim.snapshot());
}

/// Revokes browse from every group the project's permission scheme grants it to (through the
/// simulator's test API, as an admin would through the permission scheme); returns those groups.
fn revoke_browse(sim: &Sim, key: &str) -> Vec<String> {
    let groups: Vec<String> = {
        let site = sim.shared().site.read();
        let project = site
            .projects
            .iter()
            .find(|p| p.key == key)
            .expect("project");
        project
            .grants
            .iter()
            .filter(|(_, perms)| perms.has(Permission::BrowseProjects))
            .map(|(g, _)| site.groups[*g as usize].name.clone())
            .collect()
    };
    for g in &groups {
        assert!(sim.test_api().revoke(key, g, Permission::BrowseProjects));
    }
    groups
}

#[tokio::test(flavor = "multi_thread")]
async fn a_project_the_credential_no_longer_sees_is_not_visible_not_deleted() {
    let sim = Sim::builder()
        .deployment(Deployment::Cloud)
        .issues(300)
        .seed(64)
        .start()
        .await
        .expect("sim");
    let c = client(&sim).await;
    let (_dir, mut s) = store("not-visible");
    sync(&c, &mut s, &SyncOptions::new("t"))
        .await
        .expect("sync");
    let snap = sim.snapshot();
    let key = sim.shared().site.read().projects[0].key.clone();
    let in_project = |s: &Store| {
        rows(
            s,
            &format!("SELECT id, COALESCE(deleted_at, '') FROM issues WHERE project_key = '{key}'"),
        )
    };
    let before = in_project(&s);
    assert!(!before.is_empty());
    assert!(before.iter().all(|(_, deleted)| deleted.is_empty()));
    // The project's permission scheme no longer grants anyone browse; and Jira deletes an issue
    // elsewhere.
    let groups = revoke_browse(&sim, &key);
    let other = snap["issues"]
        .as_array()
        .expect("issues")
        .iter()
        .find(|i| i["project_key"].as_str().is_some_and(|p| p != key))
        .expect("an issue of another project")["key"]
        .as_str()
        .expect("key")
        .to_owned();
    c.send(
        reqwest::Method::DELETE,
        &format!("/rest/api/3/issue/{other}"),
        None,
    )
    .await
    .expect("delete");
    let after = sync(&c, &mut s, &SyncOptions::new("t"))
        .await
        .expect("sync");
    assert_eq!(after.projects_not_visible, vec![key.clone()]);
    assert_eq!(after.issues_deleted, 1, "only the issue Jira deleted");
    assert_eq!(in_project(&s), before, "kept, none marked deleted");
    assert_eq!(
        rows(&s, "SELECT credential, project_key FROM not_visible"),
        vec![("t".to_owned(), key.clone())]
    );
    let deleted = rows(
        &s,
        &format!("SELECT key, '' FROM issues WHERE key = '{other}' AND deleted_at IS NOT NULL"),
    );
    assert_eq!(deleted.len(), 1, "the deleted issue has deleted_at");
    // verify names the project instead of failing on Jira's 400 for it.
    let report = jiralink_sync::verify(&c, &mut s, &[], 20)
        .await
        .expect("verify");
    assert_eq!(report.not_visible, vec![key.clone()]);
    assert!(report.ok, "{report:?}");
    // Visible again: the record goes.
    for g in &groups {
        assert!(sim.test_api().grant(&key, g, Permission::BrowseProjects));
    }
    let again = sync(&c, &mut s, &SyncOptions::new("t"))
        .await
        .expect("sync");
    assert!(again.projects_not_visible.is_empty());
    assert!(rows(&s, "SELECT credential, project_key FROM not_visible").is_empty());
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_project_keys_are_named() {
    let sim = Sim::builder()
        .deployment(Deployment::Cloud)
        .issues(50)
        .seed(65)
        .start()
        .await
        .expect("sim");
    let c = client(&sim).await;
    let (_dir, mut s) = store("unknown");
    let mut opts = SyncOptions::new("t");
    let known = sim.shared().site.read().projects[0].key.clone();
    opts.projects = vec![known, "NOPE".into(), "ZZZ".into()];
    match sync(&c, &mut s, &opts).await {
        Err(SyncError::UnknownProjects { keys, .. }) => {
            assert_eq!(keys, vec!["NOPE".to_owned(), "ZZZ".to_owned()])
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(s.counts().expect("counts").issues, 0, "nothing synced");
}
