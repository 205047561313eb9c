//! `jiralink access` on simulator identities whose rights are known.

use jiralink_sim::model::Permission;
use jiralink_sim::{Deployment, Identity, Sim};
use serde_json::Value;

use crate::credential::Session;

fn add(s: &mut Session, sim: &Sim, name: &str, id: &Identity) {
    s.add_identity(sim, name, id);
}

fn audit(s: &mut Session, name: &str, profile: &str) -> Value {
    let r = s.run(&["--json", "access", name, "--profile", profile], None, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    serde_json::from_str(r.stdout.trim()).expect("JSON")
}

fn kinds(v: &Value) -> Vec<String> {
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["kind"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn findings_match_the_rights_of_simulated_identities() {
    let sim = Sim::builder()
        .deployment(Deployment::Cloud)
        .issues(200)
        .projects(6)
        .seed(42)
        .start()
        .await
        .expect("sim");
    let mut s = Session::new("access");
    for name in ["admin", "reader", "scoped-reader", "service-account"] {
        let id = sim.identity(name).expect("identity").clone();
        add(&mut s, &sim, name, &id);
    }

    let admin = audit(&mut s, "admin", "read-only");
    assert_eq!(admin["projects"].as_array().map(Vec::len), Some(6));
    assert!(
        admin["requests"].as_u64().is_some_and(|n| n <= 10),
        "{}",
        admin["requests"]
    );
    let k = kinds(&admin);
    for expected in ["site_admin", "project_admin", "delete_rights"] {
        assert!(k.contains(&expected.to_owned()), "admin findings {k:?}");
    }

    let reader = audit(&mut s, "reader", "read-only");
    let seen = reader["projects"].as_array().expect("projects").len();
    assert_eq!(seen, 3, "the reader browses every other project");
    assert!(
        kinds(&reader).is_empty(),
        "browse-only is exactly read-only: {:?}",
        kinds(&reader)
    );
    let reader_rw = audit(&mut s, "reader", "read-write");
    let missing = reader_rw["findings"]
        .as_array()
        .expect("f")
        .iter()
        .filter(|f| f["kind"] == "missing_permission")
        .count();
    assert!(
        missing >= 1,
        "read-write needs create/edit/...: {:?}",
        kinds(&reader_rw)
    );

    // An admin grants the reader's group a new project: the next audit notices it.
    let hidden = {
        let site = sim.shared().site.read();
        let group = site
            .groups
            .iter()
            .position(|g| g.name == "readers-limited")
            .expect("group") as u16;
        let hidden = (0..site.projects.len())
            .find(|p| !site.projects[*p].grants.iter().any(|(g, _)| *g == group))
            .expect("a hidden project");
        site.projects[hidden].key.clone()
    };
    assert!(sim
        .test_api()
        .grant(&hidden, "readers-limited", Permission::BrowseProjects));
    let again = audit(&mut s, "reader", "read-only");
    assert!(
        kinds(&again).contains(&"project_appeared".to_owned()),
        "{:?}",
        kinds(&again)
    );

    let scoped = audit(&mut s, "scoped-reader", "read-write");
    assert_eq!(
        scoped["missing_scopes"],
        serde_json::json!(["write:jira-work"])
    );
    assert!(kinds(&scoped).contains(&"missing_scope".to_owned()));
    assert!(!kinds(&audit(&mut s, "scoped-reader", "read-only"))
        .contains(&"write_scope_on_read_only".to_owned()));
    let sa = audit(&mut s, "service-account", "read-only");
    assert!(
        kinds(&sa).contains(&"write_scope_on_read_only".to_owned()),
        "{:?}",
        kinds(&sa)
    );
    let _ = std::fs::remove_dir_all(&s.home);
}

/// Scopes per feature: a classic token without the Agile scopes is told, before any sync, that it
/// cannot read boards and sprints; a granular-only token passes every read feature.
#[tokio::test(flavor = "multi_thread")]
async fn scoped_tokens_report_missing_scopes_per_feature() {
    let sim = Sim::builder()
        .deployment(Deployment::Cloud)
        .issues(80)
        .projects(3)
        .seed(43)
        .start()
        .await
        .expect("sim");
    let mut s = Session::new("access-scopes");
    for name in ["scoped-no-agile", "granular-reader", "scoped-reader"] {
        let id = sim.identity(name).expect("identity").clone();
        add(&mut s, &sim, name, &id);
    }
    let refused = |v: &Value| -> Vec<String> {
        v["features"]
            .as_array()
            .expect("features")
            .iter()
            .filter(|f| f["ok"] == false)
            .filter_map(|f| f["feature"].as_str().map(str::to_owned))
            .collect()
    };
    let scope_messages = |v: &Value| -> Vec<String> {
        v["findings"]
            .as_array()
            .expect("findings")
            .iter()
            .filter(|f| f["kind"] == "missing_scope")
            .filter_map(|f| f["message"].as_str().map(str::to_owned))
            .collect()
    };

    let no_agile = audit(&mut s, "scoped-no-agile", "read-only");
    assert_eq!(
        refused(&no_agile),
        ["sync:boards", "sync:sprints", "write-back"],
        "{no_agile}"
    );
    let messages = scope_messages(&no_agile);
    assert_eq!(messages.len(), 2, "{messages:?}");
    assert!(
        messages[0].starts_with("sync:boards")
            && messages[0].contains("read:board-scope:jira-software")
    );
    assert!(
        messages[1].starts_with("sync:sprints")
            && messages[1].contains("read:sprint:jira-software")
    );

    let granular = audit(&mut s, "granular-reader", "read-only");
    assert_eq!(refused(&granular), ["write-back"], "{granular}");
    assert!(scope_messages(&granular).is_empty());
    let granular_rw = audit(&mut s, "granular-reader", "read-write");
    let messages = scope_messages(&granular_rw);
    assert_eq!(messages.len(), 1, "{messages:?}");
    assert!(messages[0].starts_with("write-back"));

    let reader = audit(&mut s, "scoped-reader", "read-only");
    assert_eq!(refused(&reader), ["write-back"], "{reader}");
    assert!(scope_messages(&reader).is_empty());
}

/// Data Center has no bulk permission APIs (the simulator answers them 404, as Data Center does):
/// the audit works from the project list and `mypermissions`, in two requests for a browse-only
/// account and two plus one per project otherwise.
#[tokio::test(flavor = "multi_thread")]
async fn access_audit_on_datacenter_uses_only_datacenter_endpoints() {
    let sim = Sim::builder()
        .deployment(Deployment::Datacenter)
        .issues(200)
        .projects(6)
        .seed(44)
        .context_path("/jira")
        .start()
        .await
        .expect("sim");
    let mut s = Session::new("access-dc");
    for name in ["admin", "reader", "pat-admin"] {
        let id = sim.identity(name).expect("identity").clone();
        add(&mut s, &sim, name, &id);
    }
    let stats = || async {
        reqwest::get(format!("{}/__sim/stats", sim.base_url()))
            .await
            .expect("stats")
            .json::<Value>()
            .await
            .expect("json")["requests"]
            .as_u64()
            .expect("requests")
    };

    let before = stats().await;
    let reader = audit(&mut s, "reader", "read-only");
    let served = stats().await - before;
    assert_eq!(reader["requests"], 2, "project list + mypermissions");
    // The command itself may look the site up once before the audit.
    assert!(
        (2..=3).contains(&served),
        "the simulator saw {served} requests"
    );
    let projects = reader["projects"].as_array().expect("projects");
    assert_eq!(projects.len(), 3, "the reader browses every other project");
    for p in projects {
        assert_eq!(p["permissions"], serde_json::json!(["browse"]), "{p}");
    }
    assert!(kinds(&reader).is_empty(), "{:?}", kinds(&reader));

    for name in ["admin", "pat-admin"] {
        let admin = audit(&mut s, name, "read-only");
        assert_eq!(admin["projects"].as_array().map(Vec::len), Some(6));
        assert_eq!(
            admin["requests"],
            2 + 6,
            "{name}: one mypermissions per project"
        );
        assert_eq!(admin["site_admin"], true);
        let k = kinds(&admin);
        for expected in ["site_admin", "project_admin", "delete_rights"] {
            assert!(k.contains(&expected.to_owned()), "{name} findings {k:?}");
        }
        let projects = admin["projects"].as_array().expect("projects");
        let has = |p: &Value, short: &str| {
            p["permissions"]
                .as_array()
                .is_some_and(|a| a.iter().any(|x| x == short))
        };
        assert!(projects.iter().all(|p| has(p, "browse")), "{name}");
        assert!(projects.iter().any(|p| has(p, "administer")), "{name}");
    }
    assert!(sim.unmatched().is_empty(), "{:?}", sim.unmatched());
    let _ = std::fs::remove_dir_all(&s.home);
}
