//! `jiralink access` on simulator identities whose rights are known.

use jiralink_sim::model::Permission;
use jiralink_sim::{Deployment, Sim};
use serde_json::Value;

use crate::credential::{start_sim_in_projects, Session};

/// `credential add NAME` for the simulator's identity of that name.
fn add(s: &mut Session, sim: &Sim, name: &str) {
    let id = sim.identity(name).expect("identity").clone();
    s.add_identity(sim, name, &id);
}

fn audit(s: &mut Session, name: &str, profile: &str) -> Value {
    let r = s.run(&["--json", "access", name, "--profile", profile], None, &[]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    serde_json::from_str(r.stdout.trim()).expect("JSON")
}

/// The findings of an audit's JSON.
fn findings(v: &Value) -> impl Iterator<Item = &Value> {
    v["findings"].as_array().expect("findings").iter()
}

fn kinds(v: &Value) -> Vec<String> {
    strings(findings(v), "kind")
}

/// The string `field` of each value.
fn strings<'a>(values: impl Iterator<Item = &'a Value>, field: &str) -> Vec<String> {
    values
        .filter_map(|v| v[field].as_str().map(str::to_owned))
        .collect()
}

/// The keys of the projects the group `readers-limited` cannot browse, in the site's order.
fn hidden_from_readers(sim: &Sim) -> Vec<String> {
    let site = sim.shared().site.read();
    let group = site
        .groups
        .iter()
        .position(|g| g.name == "readers-limited")
        .expect("group") as u16;
    site.projects
        .iter()
        .filter(|p| !p.grants.iter().any(|(g, _)| *g == group))
        .map(|p| p.key.clone())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn findings_match_the_rights_of_simulated_identities() {
    let sim = start_sim_in_projects(Deployment::Cloud, 200, 6, 42).await;
    let mut s = Session::new("access");
    for name in ["admin", "reader", "scoped-reader", "service-account"] {
        add(&mut s, &sim, name);
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
        kinds(&reader).iter().all(|k| k == "grant_needed"),
        "browse-only is exactly read-only: {:?}",
        kinds(&reader)
    );
    let reader_rw = audit(&mut s, "reader", "read-write");
    let missing = findings(&reader_rw)
        .filter(|f| f["kind"] == "missing_permission")
        .count();
    assert!(
        missing >= 1,
        "read-write needs create/edit/...: {:?}",
        kinds(&reader_rw)
    );

    // An admin grants the reader's group a new project: the next audit notices it.
    let hidden = hidden_from_readers(&sim)
        .into_iter()
        .next()
        .expect("a hidden project");
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
    let sim = start_sim_in_projects(Deployment::Cloud, 80, 3, 43).await;
    let mut s = Session::new("access-scopes");
    for name in ["scoped-no-agile", "granular-reader", "scoped-reader"] {
        add(&mut s, &sim, name);
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
        findings(v)
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
    // The reader alone first: with an admin credential of the site in the vault, its audit would
    // also ask the admin for the site's projects (the grant-needed check).
    add(&mut s, &sim, "reader");
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
    assert_eq!(reader["site_projects_from"], Value::Null);

    for name in ["admin", "pat-admin"] {
        add(&mut s, &sim, name);
    }
    // Now the admin's view of the site names the three projects the reader cannot browse, using
    // only Data Center endpoints (`mypermissions`, `GET project`).
    let reader = audit(&mut s, "reader", "read-only");
    assert!(
        ["admin", "pat-admin"].contains(&reader["site_projects_from"].as_str().unwrap_or_default()),
        "{reader}"
    );
    assert_eq!(
        kinds(&reader),
        ["grant_needed", "grant_needed", "grant_needed"],
        "{reader}"
    );

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

fn finding<'a>(v: &'a Value, id: &str) -> Option<&'a Value> {
    findings(v).find(|f| f["id"] == id)
}

fn ids_of(v: &Value, kind: &str) -> Vec<String> {
    strings(findings(v).filter(|f| f["kind"] == kind), "id")
}

/// The project watch: a project granted appears (and stays listed until acknowledged), a project
/// revoked vanishes (listed on every audit, not lost), and with an admin credential of the same
/// site in the vault the projects this credential cannot browse are listed as grant needed until
/// granted. Acceptances persist, show, count for `--fail-on warning`, end when the finding is
/// fixed (so it comes back unaccepted) and can be revoked.
#[tokio::test(flavor = "multi_thread")]
async fn project_watch_and_acceptances_persist_until_acknowledged() {
    let sim = start_sim_in_projects(Deployment::Cloud, 60, 6, 45).await;
    let mut s = Session::new("access-watch");
    add(&mut s, &sim, "reader");
    let mut hidden = hidden_from_readers(&sim);
    hidden.sort();
    assert_eq!(hidden.len(), 3);
    let api = sim.test_api();

    // The first audit is the baseline; no admin credential: no grant-needed check.
    let first = audit(&mut s, "reader", "read-only");
    assert!(kinds(&first).is_empty(), "{first}");
    assert_eq!(first["site_projects_from"], Value::Null);

    // With the site admin's credential in the vault, the hidden projects are grant needed.
    add(&mut s, &sim, "admin");
    let v = audit(&mut s, "reader", "read-only");
    assert_eq!(v["site_projects_from"], "admin");
    let wanted: Vec<String> = hidden.iter().map(|k| format!("grant_needed:{k}")).collect();
    assert_eq!(ids_of(&v, "grant_needed"), wanted, "{v}");
    let failing = s.run(
        &["--json", "access", "reader", "--fail-on", "warning"],
        None,
        &[],
    );
    assert_eq!(failing.code, 1, "{}{}", failing.stdout, failing.stderr);
    assert!(
        failing.stderr.contains("--fail-on warning"),
        "{}",
        failing.stderr
    );

    // Granted: it appears, its grant-needed finding goes, and it stays listed run after run.
    assert!(api.grant(&hidden[0], "readers-limited", Permission::BrowseProjects));
    for _ in 0..2 {
        let v = audit(&mut s, "reader", "read-only");
        let appeared = format!("project_appeared:{}", hidden[0]);
        assert!(finding(&v, &appeared).is_some(), "{v}");
        assert_eq!(ids_of(&v, "grant_needed"), wanted[1..], "{v}");
    }
    // Acknowledged: taken into the baseline, no longer listed.
    let ack = s.run(
        &[
            "access",
            "reader",
            "--ack",
            &format!("project_appeared:{}", hidden[0]),
        ],
        None,
        &[],
    );
    assert_eq!(ack.code, 0, "{}{}", ack.stdout, ack.stderr);
    let v = audit(&mut s, "reader", "read-only");
    assert!(ids_of(&v, "project_appeared").is_empty(), "{v}");

    // Revoked: it vanishes, a warning on every audit until acknowledged, and is grant needed again.
    assert!(api.revoke(&hidden[0], "readers-limited", Permission::BrowseProjects));
    for _ in 0..2 {
        let v = audit(&mut s, "reader", "read-only");
        let vanished = finding(&v, &format!("project_vanished:{}", hidden[0])).expect("vanished");
        assert_eq!(vanished["severity"], "warning");
        assert_eq!(ids_of(&v, "grant_needed"), wanted, "{v}");
    }

    // Accepting every warning (with who, when, why) makes `--fail-on warning` pass.
    let mut args = vec!["access", "reader"];
    let vanished = format!("project_vanished:{}", hidden[0]);
    for id in wanted.iter().chain([&vanished]) {
        args.extend(["--ack", id.as_str()]);
    }
    args.extend(["--reason", "kept out on purpose"]);
    let ack = s.run(&args, None, &[("USER", "alice")]);
    assert_eq!(ack.code, 0, "{}{}", ack.stdout, ack.stderr);
    let passing = s.run(
        &["--json", "access", "reader", "--fail-on", "warning"],
        None,
        &[],
    );
    assert_eq!(passing.code, 0, "{}{}", passing.stdout, passing.stderr);
    let v: Value = serde_json::from_str(passing.stdout.trim()).expect("json");
    assert!(
        ids_of(&v, "project_vanished").is_empty(),
        "acknowledged into the baseline"
    );
    for id in &wanted {
        let f = finding(&v, id).expect("still listed");
        assert_eq!(f["accepted"]["by"], "alice", "{f}");
        assert_eq!(f["accepted"]["reason"], "kept out on purpose", "{f}");
    }
    let table = s.run(&["access", "reader"], None, &[]);
    assert!(
        table.stdout.contains("accepted") && table.stdout.contains("by alice at"),
        "{}",
        table.stdout
    );
    let listed = s.run(&["--json", "access", "reader", "--acks"], None, &[]);
    let listed: Value = serde_json::from_str(listed.stdout.trim()).expect("json");
    let accepted = strings(
        listed["accepted"].as_array().expect("accepted").iter(),
        "id",
    );
    assert_eq!(accepted, wanted, "{listed}");

    // A fixed finding ends its acceptance: when it comes back, it counts again.
    assert!(api.grant(&hidden[1], "readers-limited", Permission::BrowseProjects));
    audit(&mut s, "reader", "read-only");
    assert!(api.revoke(&hidden[1], "readers-limited", Permission::BrowseProjects));
    let v = audit(&mut s, "reader", "read-only");
    assert_eq!(
        finding(&v, &wanted[1]).expect("back")["accepted"],
        Value::Null,
        "{v}"
    );
    assert!(finding(&v, &wanted[2]).expect("kept")["accepted"].is_object());

    // Revoked acceptance: the warning counts again.
    let unack = s.run(&["access", "reader", "--unack", &wanted[2]], None, &[]);
    assert_eq!(unack.code, 0, "{}{}", unack.stdout, unack.stderr);
    let v = audit(&mut s, "reader", "read-only");
    assert_eq!(
        finding(&v, &wanted[2]).expect("listed")["accepted"],
        Value::Null
    );
    let listed = s.run(&["--json", "access", "reader", "--acks"], None, &[]);
    let listed: Value = serde_json::from_str(listed.stdout.trim()).expect("json");
    let ended: Vec<(String, String)> = listed["ended"]
        .as_array()
        .expect("ended")
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap_or_default().to_owned(),
                e["ended"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    assert!(
        ended.contains(&(wanted[1].clone(), "fixed".into())),
        "{listed}"
    );
    assert!(
        ended.contains(&(wanted[2].clone(), "revoked".into())),
        "{listed}"
    );

    // A finding only the read-write profile reports stays accepted through read-only audits.
    let rw = audit(&mut s, "reader", "read-write");
    assert!(finding(&rw, "missing_permission:create").is_some(), "{rw}");
    let ack = s.run(
        &["access", "reader", "--ack", "missing_permission:create"],
        None,
        &[],
    );
    assert_eq!(ack.code, 0, "{}{}", ack.stdout, ack.stderr);
    let ro = audit(&mut s, "reader", "read-only");
    assert!(finding(&ro, "missing_permission:create").is_none());
    let rw = audit(&mut s, "reader", "read-write");
    assert!(
        finding(&rw, "missing_permission:create").expect("listed")["accepted"].is_object(),
        "{rw}"
    );

    // An unknown id is bad input, named.
    let bad = s.run(&["access", "reader", "--ack", "nope"], None, &[]);
    assert_eq!(bad.code, 2);
    assert!(bad.stderr.contains("no finding 'nope'"), "{}", bad.stderr);
    let bad = s.run(&["access", "reader", "--unack", "nope"], None, &[]);
    assert_eq!(bad.code, 2);
    let _ = std::fs::remove_dir_all(&s.home);
}

/// Accepting `site_admin` for a vendor that requires admin rights: recorded with who, when and
/// why, shown in the table and in `--json`, and revocable.
#[tokio::test(flavor = "multi_thread")]
async fn a_site_admin_finding_can_be_accepted_and_revoked() {
    let sim = start_sim_in_projects(Deployment::Datacenter, 40, 2, 46).await;
    let mut s = Session::new("access-accept");
    let id = sim.identity("admin").expect("identity").clone();
    s.add_identity(&sim, "align", &id);
    let fail_on = |s: &mut Session| {
        s.run(&["access", "align", "--fail-on", "warning"], None, &[])
            .code
    };
    let v = audit(&mut s, "align", "read-only");
    assert_eq!(
        v["site_projects_from"], "align",
        "an admin sees the site itself"
    );
    assert_eq!(
        finding(&v, "site_admin").expect("site_admin")["accepted"],
        Value::Null
    );
    assert_eq!(fail_on(&mut s), 1);

    let mut args = vec!["access", "align"];
    for id in ["site_admin", "project_admin", "delete_rights"] {
        args.extend(["--ack", id]);
    }
    args.extend(["--reason", "Jira Align requires a Jira administrator"]);
    let ack = s.run(&args, None, &[("USER", "ops-bob")]);
    assert_eq!(ack.code, 0, "{}{}", ack.stdout, ack.stderr);
    assert!(ack.stdout.contains("accepted site_admin"), "{}", ack.stdout);

    let v = audit(&mut s, "align", "read-only");
    let accepted = &finding(&v, "site_admin").expect("still listed")["accepted"];
    assert_eq!(accepted["by"], "ops-bob");
    assert_eq!(
        accepted["reason"],
        "Jira Align requires a Jira administrator"
    );
    assert!(
        chrono::DateTime::parse_from_rfc3339(accepted["at"].as_str().unwrap_or_default()).is_ok(),
        "{accepted}"
    );
    assert_eq!(fail_on(&mut s), 0, "every warning is accepted");
    let table = s.run(&["access", "align"], None, &[]);
    assert!(
        table.stdout.contains("accepted site_admin")
            && table.stdout.contains("by ops-bob at")
            && table
                .stdout
                .contains("Jira Align requires a Jira administrator"),
        "{}",
        table.stdout
    );

    let revoke = s.run(&["access", "align", "--unack", "site_admin"], None, &[]);
    assert_eq!(revoke.code, 0, "{}{}", revoke.stdout, revoke.stderr);
    let v = audit(&mut s, "align", "read-only");
    assert_eq!(
        finding(&v, "site_admin").expect("listed")["accepted"],
        Value::Null
    );
    assert_eq!(fail_on(&mut s), 1);

    // A credential removed and added again under the name (perhaps another account) does not
    // inherit the old acceptances.
    let ack = s.run(&["access", "align", "--ack", "site_admin"], None, &[]);
    assert_eq!(ack.code, 0, "{}{}", ack.stdout, ack.stderr);
    assert_eq!(s.run(&["credential", "remove", "align"], None, &[]).code, 0);
    std::thread::sleep(std::time::Duration::from_millis(5));
    s.add_identity(&sim, "align", &id);
    let v = audit(&mut s, "align", "read-only");
    assert_eq!(
        finding(&v, "site_admin").expect("listed")["accepted"],
        Value::Null,
        "{v}"
    );
    let _ = std::fs::remove_dir_all(&s.home);
}

/// One site under two URLs (`127.0.0.1` and `localhost` here; a DNS alias or a second proxy
/// name in life): the base URLs differ, but once both credentials synced, the store's `site_id`
/// says they reach the same site, and the admin credential serves the grant-needed check.
#[tokio::test(flavor = "multi_thread")]
async fn an_admin_of_the_same_site_under_another_url_is_found_through_the_store() {
    let sim = start_sim_in_projects(Deployment::Cloud, 40, 4, 48).await;
    sim.pause_mutation(true);
    let mut s = Session::new("access-same-site");
    add(&mut s, &sim, "reader");
    let admin = sim.identity("admin").expect("identity").clone();
    let alias = sim.base_url().replace("127.0.0.1", "localhost");
    assert_ne!(alias, sim.base_url());
    let email = admin.email.clone().unwrap_or_default();
    let r = s.add_credential(
        "admin",
        &alias,
        "cloud-token",
        &["--email", &email, "--secret-stdin"],
        Some(&admin.secret),
    );
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);

    let v = audit(&mut s, "reader", "read-only");
    assert_eq!(
        v["site_projects_from"],
        Value::Null,
        "different URLs, no store yet: {v}"
    );
    for name in ["reader", "admin"] {
        let r = s.run(&["sync", name], None, &[]);
        assert_eq!(r.code, 0, "{name}: {}{}", r.stdout, r.stderr);
    }
    let v = audit(&mut s, "reader", "read-only");
    assert_eq!(v["site_projects_from"], "admin", "{v}");
    assert_eq!(kinds(&v), ["grant_needed", "grant_needed"], "{v}");
    let _ = std::fs::remove_dir_all(&s.home);
}
