//! A hand-built store whose every metric is worked out by hand in the comments below: reopened
//! twice, moved between projects, a renamed status, sprint scope added and removed, an item done at
//! a week boundary that a time zone moves, a deleted issue that must not count.
//!
//! Day n is 2024-01-01 (a Monday) + n days, 00:00 UTC; "now" (as of) is day 60, the window is
//! days 0 to 60. Statuses: 1 To Do (new), 3 In Progress, 4 In Review (mapped to waiting), 5 Review
//! (was "Code Review"; both in progress), 6 Done (done).

use std::path::PathBuf;

use jiralink_insights::{compute, load, Config, Filter, Options, Stage};
use jiralink_store::{ChangeRow, IssueRow, SprintRow, Store};

pub(crate) const T0: i64 = 1_704_067_200; // 2024-01-01T00:00:00Z
pub(crate) const DAY: i64 = 86_400;

pub(crate) fn d(n: i64) -> String {
    jiralink_insights::iso(T0 + n * DAY).replace('Z', ".000Z")
}

struct Fixture {
    path: PathBuf,
}

/// `(day, field, from id, to id, from string, to string)`.
type Item<'a> = (
    i64,
    &'a str,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
    Option<&'a str>,
);

#[allow(clippy::too_many_arguments)]
pub(crate) fn issue(
    tx: &dyn jiralink_store::Tx,
    id: &str,
    key: &str,
    project: &str,
    kind: &str,
    status: (&str, &str),
    created: i64,
    updated: i64,
    resolved: Option<i64>,
    assigned: bool,
    points: Option<f64>,
    items: &[Item],
) {
    tx.upsert_issue(&IssueRow {
        id: id.into(),
        key: key.into(),
        project_key: project.into(),
        issue_type: Some(kind.into()),
        summary: Some(format!("{key} summary")),
        status: Some(status.0.into()),
        status_category: Some(status.1.into()),
        priority: Some(if kind == "Bug" { "High" } else { "Medium" }.into()),
        assignee_id: assigned.then(|| "u1".into()),
        reporter_id: Some("u1".into()),
        created: Some(d(created)),
        updated: Some(d(updated)),
        resolved: resolved.map(d),
        story_points: points,
        parent_key: None,
        raw_json: "{}".into(),
    })
    .expect("issue");
    let rows: Vec<ChangeRow> = items
        .iter()
        .enumerate()
        .map(|(k, (day, field, fv, tv, fs, ts))| ChangeRow {
            change_id: format!("{id}-{k}"),
            item_index: 0,
            changed_at: Some(d(*day)),
            author_id: Some("u1".into()),
            field: Some((*field).into()),
            from_value: fv.map(Into::into),
            from_string: fs.map(Into::into),
            to_value: tv.map(Into::into),
            to_string: ts.map(Into::into),
        })
        .collect();
    tx.replace_changes(id, &rows).expect("changes");
}

/// A status change item by ids, with the names as history rows carry them.
pub(crate) fn st<'a>(day: i64, from: &'a str, to: &'a str) -> Item<'a> {
    let name = |id: &str| -> &'static str {
        match id {
            "1" => "To Do",
            "3" => "In Progress",
            "4" => "In Review",
            "5" => "Code Review",
            _ => "Done",
        }
    };
    (
        day,
        "status",
        Some(from),
        Some(to),
        Some(name(from)),
        Some(name(to)),
    )
}

pub(crate) fn sprint<'a>(day: i64, from: &'a str, to: &'a str) -> Item<'a> {
    let v = |s: &'a str| (!s.is_empty()).then_some(s);
    (day, "Sprint", v(from), v(to), v(from), v(to))
}

/// The three statuses of a simple workflow and the project ENG.
pub(crate) fn to_do_in_progress_done(tx: &dyn jiralink_store::Tx) -> jiralink_store::Result<()> {
    tx.upsert_status("1", "To Do", "new")?;
    tx.upsert_status("3", "In Progress", "indeterminate")?;
    tx.upsert_status("6", "Done", "done")?;
    tx.upsert_project("10000", "ENG", "Engineering", None, "{}")
}

/// A new, empty store in its own temporary directory.
pub(crate) fn empty_store(tag: &str) -> (PathBuf, Store) {
    let dir = std::env::temp_dir().join(format!("jiralink-insights-{}-{tag}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    let path = dir.join("store.db");
    let _ = std::fs::remove_file(&path);
    let store = Store::open_sqlite(&path).expect("store");
    (path, store)
}

fn fixture(name: &str) -> Fixture {
    let (path, mut store) = empty_store(name);
    store
        .write(|tx| {
            for (id, name, cat) in [
                ("1", "To Do", "new"),
                ("3", "In Progress", "indeterminate"),
                ("4", "In Review", "indeterminate"),
                ("5", "Review", "indeterminate"),
                ("6", "Done", "done"),
            ] {
                tx.upsert_status(id, name, cat)?;
            }
            tx.upsert_field(
                "customfield_10016",
                "Story point estimate",
                true,
                Some("number"),
                Some("com.pyxis.greenhopper.jira:jsw-story-points"),
            )?;
            tx.upsert_field(
                "customfield_10020",
                "Sprint",
                true,
                Some("array"),
                Some("com.pyxis.greenhopper.jira:gh-sprint"),
            )?;
            tx.upsert_project("10000", "ENG", "Engineering", Some("software"), "{}")?;
            tx.upsert_project("10001", "OPS", "Operations", Some("software"), "{}")?;
            tx.upsert_project("10002", "WEB", "Website", Some("software"), "{}")?;
            tx.upsert_sprint(&SprintRow {
                id: "1".into(),
                board_id: "1".into(),
                name: "Sprint 1".into(),
                state: "closed".into(),
                start_date: Some(d(0)),
                end_date: Some(d(14)),
                complete_date: Some(d(14)),
                goal: None,
            })?;
            tx.upsert_sprint(&SprintRow {
                id: "2".into(),
                board_id: "1".into(),
                name: "Sprint 2".into(),
                state: "active".into(),
                start_date: Some(d(56)),
                end_date: Some(d(70)),
                complete_date: None,
                goal: None,
            })?;
            let done = ("Done", "done");
            let todo = ("To Do", "new");
            let doing = ("In Progress", "indeterminate");
            // A: to do 0-2, in progress 2-5, in review (waiting) 5-6, done 6.
            //    lead 6, cycle 4, active 3, waiting 1. Sprint 1 from day -1; 3 points.
            issue(
                tx,
                "1",
                "ENG-1",
                "ENG",
                "Story",
                done,
                0,
                6,
                Some(6),
                true,
                Some(3.0),
                &[
                    sprint(-1, "", "1"),
                    st(2, "1", "3"),
                    st(5, "3", "4"),
                    st(6, "4", "6"),
                ],
            );
            tx.set_sprint_issues("1", &["1".into()])?;
            // B, a bug reopened twice: done 3, reopened 4, done 8, reopened 10, done 12.
            //    lead 12, cycle 11 (1 to 12), active 2 + 4 + 2 = 8, 2 reopens. In sprint 1
            //    throughout (no sprint history); 5 points.
            issue(
                tx,
                "2",
                "ENG-2",
                "ENG",
                "Bug",
                done,
                0,
                12,
                Some(12),
                true,
                Some(5.0),
                &[
                    st(1, "1", "3"),
                    st(3, "3", "6"),
                    st(4, "6", "3"),
                    st(8, "3", "6"),
                    st(10, "6", "3"),
                    st(12, "3", "6"),
                ],
            );
            tx.set_sprint_issues("2", &["1".into()])?;
            // C, moved from ENG (ENG-3) to OPS (OPS-1); its in-progress status was renamed from
            //    "Code Review" to "Review" (same id 5). Lead 6 (3 to 9), cycle 5, active 5.
            issue(
                tx,
                "3",
                "OPS-1",
                "OPS",
                "Story",
                done,
                3,
                9,
                Some(9),
                true,
                None,
                &[
                    st(4, "1", "5"),
                    (6, "Key", None, None, Some("ENG-3"), Some("OPS-1")),
                    (
                        6,
                        "project",
                        Some("10000"),
                        Some("10001"),
                        Some("Engineering"),
                        Some("Operations"),
                    ),
                    st(9, "5", "6"),
                ],
            );
            // D: started day 11, nobody assigned, not updated since: stale, aging 49 days.
            issue(
                tx,
                "4",
                "ENG-4",
                "ENG",
                "Task",
                doing,
                10,
                11,
                None,
                false,
                Some(1.0),
                &[st(11, "1", "3")],
            );
            // E: an open bug, created day 20, updated day 50: age 40.
            issue(
                tx,
                "5",
                "ENG-5",
                "ENG",
                "Bug",
                todo,
                20,
                50,
                None,
                true,
                None,
                &[],
            );
            // F: a bug done in the window, then deleted: counts nowhere.
            issue(
                tx,
                "6",
                "ENG-6",
                "ENG",
                "Bug",
                done,
                5,
                7,
                Some(7),
                true,
                None,
                &[st(6, "1", "3"), st(7, "3", "6")],
            );
            tx.mark_issues_deleted(&["6".into()], &d(30))?;
            // G: in progress 15-21, done day 21 00:00 UTC (a Monday; Sunday evening in New York),
            //    without a resolution. Lead 7, cycle 6, active 6.
            issue(
                tx,
                "7",
                "ENG-7",
                "ENG",
                "Story",
                done,
                14,
                21,
                None,
                true,
                Some(2.0),
                &[st(15, "1", "3"), st(21, "3", "6")],
            );
            // H: done before the window (day -5).
            issue(
                tx,
                "8",
                "ENG-8",
                "ENG",
                "Story",
                done,
                -12,
                -5,
                Some(-5),
                true,
                None,
                &[st(-10, "1", "3"), st(-5, "3", "6")],
            );
            // I: started day 55 (aging 5), in sprint 2 from day 54, no estimate.
            issue(
                tx,
                "9",
                "ENG-9",
                "ENG",
                "Story",
                doing,
                54,
                55,
                None,
                true,
                None,
                &[sprint(54, "", "2"), st(55, "1", "3")],
            );
            tx.set_sprint_issues("9", &["2".into()])?;
            // J: added to sprint 1 after its start (day 3), estimated 2 then 3, never started:
            //    carried over into sprint 2 at sprint 1's completion.
            issue(
                tx,
                "10",
                "ENG-10",
                "ENG",
                "Story",
                todo,
                2,
                14,
                None,
                true,
                Some(3.0),
                &[
                    sprint(3, "", "1"),
                    (3, "Story point estimate", None, None, None, Some("2")),
                    (10, "Story point estimate", None, None, Some("2"), Some("3")),
                    sprint(14, "1", "1, 2"),
                ],
            );
            tx.set_sprint_issues("10", &["1".into(), "2".into()])?;
            // K: in sprint 1 at its start (day -2), removed day 7; 8 points.
            issue(
                tx,
                "11",
                "ENG-11",
                "ENG",
                "Story",
                todo,
                -3,
                7,
                None,
                true,
                Some(8.0),
                &[sprint(-2, "", "1"), sprint(7, "1", "")],
            );
            Ok(())
        })
        .expect("fixture");
    // No sync marks a project deleted today; the store's views allow it, and insights leave it out.
    store
        .execute_batch(&format!(
            "UPDATE t_projects SET deleted_at = '{}' WHERE key = 'WEB'",
            d(40)
        ))
        .expect("project deleted");
    Fixture { path }
}

fn options() -> Options {
    let mut o = Options::new(T0 + 60 * DAY, 1, 7);
    o.since = T0;
    o.until = T0 + 60 * DAY;
    o.config = Config {
        stages: [("In Review".to_owned(), Stage::Waiting)]
            .into_iter()
            .collect(),
        ..Config::default()
    };
    o
}

#[test]
fn every_metric_family_matches_the_hand_computed_values() {
    let f = fixture("all");
    let ds = load::load(&f.path, &Filter::default()).expect("load");
    let visible = vec!["ENG".to_owned(), "OPS".to_owned(), "DATA".to_owned()];
    let r = compute(&ds, &options(), Some(&visible));

    // Coverage: 10 live issues (F deleted); WEB no longer visible; DATA visible, never synced.
    assert_eq!(r.coverage.issues, 10);
    assert_eq!(r.coverage.status_changes, 17);
    assert_eq!(r.coverage.not_visible, vec!["WEB"]);
    assert_eq!(r.coverage.not_synced, vec!["DATA"]);
    let ops = r
        .coverage
        .projects
        .iter()
        .find(|p| p.key == "OPS")
        .expect("OPS");
    assert_eq!((ops.issues, ops.visible), (1, Some(true)));

    // Flow: done in the window are A (day 6), C (9), B (12), G (21).
    let fl = &r.flow;
    assert_eq!(fl.completed, 4);
    let weeks: Vec<(String, u64)> = fl
        .throughput_per_week
        .iter()
        .map(|w| (w.week_start.clone(), w.items))
        .collect();
    assert_eq!(
        &weeks[..4],
        &[
            ("2024-01-01".into(), 1),
            ("2024-01-08".into(), 2),
            ("2024-01-15".into(), 0),
            ("2024-01-22".into(), 1)
        ]
    );
    assert_eq!(weeks.len(), 9);
    // Lead times 6, 6, 7, 12; cycle times 4, 5, 6, 11 (nearest rank).
    assert_eq!(
        (
            fl.lead_time_days.p50,
            fl.lead_time_days.p85,
            fl.lead_time_days.p95
        ),
        (Some(6.0), Some(12.0), Some(12.0))
    );
    assert_eq!(
        (
            fl.cycle_time_days.p50,
            fl.cycle_time_days.p85,
            fl.cycle_time_days.p95
        ),
        (Some(5.0), Some(11.0), Some(11.0))
    );
    // Active 3 + 8 + 5 + 6 = 22 days, waiting 1 (A in review).
    assert_eq!(fl.flow_efficiency, Some(0.9565));
    // B, reopened twice, is one of four.
    assert_eq!(
        (fl.reopened_items, fl.reopens, fl.reopen_rate),
        (1, 2, Some(0.25))
    );
    // Mean days per completed item: To Do (2 + 1 + 1 + 1) / 4, In Progress (3 + 8 + 6) / 4,
    // In Review 1 / 4, Review (renamed; C's 5 days) / 4, Done (B's 1 + 2 days between reopens) / 4.
    let tis: Vec<(&str, f64)> = fl
        .time_in_status
        .iter()
        .map(|t| (t.status.as_str(), t.mean_days))
        .collect();
    assert_eq!(
        tis,
        vec![
            ("To Do", 1.25),
            ("In Progress", 4.25),
            ("In Review", 0.25),
            ("Review", 1.25),
            ("Done", 0.75)
        ]
    );
    // Work in progress: D (49 days, beyond the p85 of 11: at risk) and I (5 days).
    assert_eq!((fl.wip, fl.at_risk), (2, 1));
    let aging: Vec<(&str, f64, bool)> = fl
        .aging
        .iter()
        .map(|a| (a.key.as_str(), a.age_days, a.at_risk))
        .collect();
    assert_eq!(aging, vec![("ENG-4", 49.0, true), ("ENG-9", 5.0, false)]);
    // By workflow column: each item in its current status, with the column's age percentiles.
    let columns: Vec<(&str, u64, Option<f64>, Vec<&str>)> = fl
        .aging_columns
        .iter()
        .map(|c| {
            (
                c.status.as_str(),
                c.items,
                c.age_days.p50,
                c.oldest.iter().map(|a| a.key.as_str()).collect(),
            )
        })
        .collect();
    assert_eq!(
        columns,
        vec![("In Progress", 2, Some(5.0), vec!["ENG-4", "ENG-9"])]
    );
    // Cumulative flow at the end of Jan 1: A, K to do; B started at midnight; H done.
    let cfd = |date: &str| {
        let c = fl
            .cumulative_flow
            .iter()
            .find(|c| c.date == date)
            .expect("day");
        (c.to_do, c.active, c.waiting, c.done)
    };
    assert_eq!(cfd("2024-01-01"), (2, 1, 0, 1));
    // End of Jan 5: A in review (waiting); B reopened, C in Review: active; K, J to do.
    assert_eq!(cfd("2024-01-05"), (2, 2, 1, 1));
    assert_eq!(cfd("2024-01-06"), (2, 2, 0, 2));
    assert_eq!(fl.cumulative_flow.len(), 60);

    // Sprints. Sprint 1: committed A (3), B (5), K (8); J added (3 points at the end); K removed;
    // A and B completed (8 points); J carried over. Sprint 2 (active): I and J, 3 points, none done.
    let s = &r.sprints;
    assert_eq!(s.sprints.len(), 2);
    let s1 = &s.sprints[0];
    assert_eq!((s1.committed_items, s1.committed_points), (3, 16.0));
    assert_eq!((s1.added_items, s1.added_points), (1, 3.0));
    assert_eq!((s1.removed_items, s1.removed_points), (1, 8.0));
    assert_eq!((s1.completed_items, s1.completed_points), (2, 8.0));
    assert_eq!((s1.carried_over_items, s1.carried_over_points), (1, 3.0));
    assert_eq!(s1.say_do_ratio, Some(0.5));
    let s2 = &s.sprints[1];
    assert_eq!(
        (
            s2.committed_items,
            s2.committed_points,
            s2.completed_items,
            s2.carried_over_items
        ),
        (2, 3.0, 0, 2)
    );
    assert_eq!(s2.say_do_ratio, Some(0.0));
    assert_eq!((s.velocity, s.say_do_ratio), (Some(8.0), Some(0.5)));

    // Quality: B is the one bug of four done (F, deleted, is not); E open 40 days, High.
    let q = &r.quality;
    assert_eq!((q.bugs_completed, q.bug_share), (1, Some(0.25)));
    assert_eq!(q.bug_lead_time_days.p50, Some(12.0));
    assert_eq!((q.open_bugs, q.open_bug_age_days.p50), (1, Some(40.0)));
    assert_eq!(q.open_bugs_by_priority.len(), 1);
    assert_eq!(
        (
            q.open_bugs_by_priority[0].priority.as_str(),
            q.open_bugs_by_priority[0].items
        ),
        ("High", 1)
    );

    // Hygiene: stale (open, not updated since day 30): D, J, K.
    let h = &r.hygiene;
    assert_eq!(h.stale.keys, vec!["ENG-4", "ENG-10", "ENG-11"]);
    assert_eq!(h.started_without_assignee.keys, vec!["ENG-4"]);
    assert_eq!(h.done_without_resolution.keys, vec!["ENG-7"]);
    assert_eq!(h.missing_estimates_in_active_sprints.keys, vec!["ENG-9"]);
}

#[test]
fn a_time_zone_moves_an_item_done_at_midnight_utc_into_the_week_before() {
    let f = fixture("tz");
    let ds = load::load(&f.path, &Filter::default()).expect("load");
    let mut o = options();
    o.tz = "America/New_York".parse().expect("tz");
    let r = compute(&ds, &o, None);
    // Weeks start on Mondays in New York: the window's first instant is Sunday Dec 31 there.
    // G, done Monday 00:00 UTC, is Sunday 19:00 in New York: the week of Jan 15.
    let weeks: Vec<(String, u64)> = r
        .flow
        .throughput_per_week
        .iter()
        .map(|w| (w.week_start.clone(), w.items))
        .collect();
    assert_eq!(
        &weeks[..5],
        &[
            ("2023-12-25".into(), 0),
            ("2024-01-01".into(), 1),
            ("2024-01-08".into(), 2),
            ("2024-01-15".into(), 1),
            ("2024-01-22".into(), 0)
        ]
    );
}

#[test]
fn filters_follow_moved_issues_and_stage_mapping_defaults_to_categories() {
    let f = fixture("filter");
    // C moved to OPS: a report on OPS holds it, with its whole history.
    let ds = load::load(
        &f.path,
        &Filter {
            projects: vec!["ops".into()],
            ..Filter::default()
        },
    )
    .expect("load");
    let r = compute(&ds, &options(), None);
    assert_eq!(
        (
            r.coverage.issues,
            r.flow.completed,
            r.flow.lead_time_days.p50
        ),
        (1, 1, Some(6.0))
    );
    // Bugs only: B (done) and E (open).
    let ds = load::load(
        &f.path,
        &Filter {
            issue_types: vec!["bug".into()],
            ..Filter::default()
        },
    )
    .expect("load");
    assert_eq!(ds.issues.len(), 2);
    // Without the config, In Review is in progress like any "indeterminate" status: no waiting,
    // so flow efficiency would read 100% whatever the flow: it is not measured, and the report
    // says why.
    let ds = load::load(&f.path, &Filter::default()).expect("load");
    let mut o = options();
    o.config = Config::default();
    let unconfigured = compute(&ds, &o, None);
    assert_eq!(unconfigured.flow.flow_efficiency, None);
    assert!(unconfigured.flow.waiting_statuses.is_empty());
    let html = jiralink_insights::html::report(&unconfigured);
    assert!(html.contains("id=\"flow-efficiency-unmeasured\""));
    assert!(html.contains("meaningless until waiting statuses are configured"));
    let configured = compute(&ds, &options(), None);
    assert_eq!(configured.flow.waiting_statuses, vec!["In Review"]);
    assert!(!jiralink_insights::html::report(&configured).contains("flow-efficiency-unmeasured"));
    // A credential that never synced is named in the error.
    let e = load::load(
        &f.path,
        &Filter {
            credential: Some("nobody".into()),
            ..Filter::default()
        },
    )
    .expect_err("unknown");
    assert!(e.to_string().contains("jiralink sync nobody"), "{e}");
}

#[test]
fn a_constant_history_forecasts_exactly_and_a_seed_repeats() {
    // One item done every day of a 28-day window: every trial draws 1 a day.
    let (path, mut store) = empty_store("forecast");
    store
        .write(|tx| {
            to_do_in_progress_done(tx)?;
            for n in 0..28 {
                issue(
                    tx,
                    &format!("{}", 100 + n),
                    &format!("ENG-{n}"),
                    "ENG",
                    "Story",
                    ("Done", "done"),
                    n - 3,
                    n,
                    Some(n),
                    true,
                    None,
                    &[
                        (n - 1, "status", Some("1"), Some("3"), None, None),
                        (n, "status", Some("3"), Some("6"), None, None),
                    ],
                );
            }
            Ok(())
        })
        .expect("store");
    let ds = load::load(&path, &Filter::default()).expect("load");
    let mut o = Options::new(T0 + 28 * DAY, 4, 99);
    o.forecast_date = T0 + 42 * DAY;
    o.forecast_items = 10;
    let r = compute(&ds, &o, None);
    assert_eq!(
        (r.forecast.history_days, r.forecast.history_items),
        (28, 28)
    );
    for c in &r.forecast.results {
        assert_eq!(c.items_by_date, 14, "{c:?}");
        assert_eq!(c.date_for_items.as_deref(), Some("2024-02-08"), "{c:?}");
    }
    assert_eq!(r.forecast.histogram, vec![(10, 10_000)]);
    assert_eq!(r.flow.cycle_time_days.p95, Some(1.0));
    // The report answers both questions with calendar dates, per confidence.
    let html = jiralink_insights::html::report(&r);
    let when = section_of(&html, "id=\"forecast-when\"", "</table>");
    assert!(html.contains("When will 10 items be done?"));
    for c in [50, 85, 95] {
        assert!(
            when.contains(&format!(
                "<tr data-confidence=\"{c}\"><td>{c}%</td><td>2024-02-08</td></tr>"
            )),
            "{when}"
        );
    }
    let by = section_of(&html, "id=\"forecast-by-date\"", "</table>");
    assert!(html.contains("How many items by 2024-02-12?"));
    assert!(by.contains("<td>95%</td><td>14 items</td>"), "{by}");
    // The histogram is labelled with the completion date, not a count of days.
    assert!(html.contains("<title>2024-02-08 · 10000</title>"));

    // A real history: the same seed gives the same forecast, and confidence orders the answers.
    let f = fixture("seed");
    let ds = load::load(&f.path, &Filter::default()).expect("load");
    let mut o = options();
    o.forecast_items = 3;
    let a = compute(&ds, &o, None).forecast;
    let b = compute(&ds, &o, None).forecast;
    assert_eq!(a.results, b.results);
    assert!(
        a.results[0].items_by_date >= a.results[1].items_by_date
            && a.results[1].items_by_date >= a.results[2].items_by_date
    );
    assert!(
        a.results[0].date_for_items <= a.results[1].date_for_items
            && a.results[1].date_for_items <= a.results[2].date_for_items
    );
}

#[test]
fn history_rows_without_status_ids_map_by_name() {
    // Some Data Center history rows carry only status names.
    let (path, mut store) = empty_store("names");
    store
        .write(|tx| {
            to_do_in_progress_done(tx)?;
            issue(
                tx,
                "1",
                "ENG-1",
                "ENG",
                "Story",
                ("Done", "done"),
                0,
                9,
                Some(9),
                true,
                None,
                &[
                    (2, "status", None, None, Some("To Do"), Some("In Progress")),
                    (9, "status", None, None, Some("In Progress"), Some("Done")),
                ],
            );
            Ok(())
        })
        .expect("store");
    let ds = load::load(&path, &Filter::default()).expect("load");
    let r = compute(&ds, &options(), None);
    assert_eq!(
        (
            r.flow.completed,
            r.flow.cycle_time_days.p50,
            r.flow.lead_time_days.p50
        ),
        (1, Some(7.0), Some(9.0))
    );
}

/// The text of `html` from `start` to the next `end`.
pub(crate) fn section_of<'a>(html: &'a str, start: &str, end: &str) -> &'a str {
    let from = html
        .find(start)
        .unwrap_or_else(|| panic!("{start} not in the report"));
    let rest = &html[from..];
    &rest[..rest.find(end).unwrap_or(rest.len())]
}
