//! The HTML report's promises: no point of the cycle-time scatter is clipped without a mark and a
//! count (or the axis grows to hold it), sprints are charted per board (never interleaved) and a
//! report can be of one board, and every metric carries its one-line definition.

use jiralink_insights::flow::{AgingColumn, AgingItem, CycleItem, Flow};
use jiralink_insights::html::{report, scatter_axis, DEFINITIONS};
use jiralink_insights::{compute, load, Filter, Insights, Options, Percentiles, Stage};
use jiralink_store::SprintRow;

use crate::hand_computed::{
    d, empty_store, issue, section_of, st, to_do_in_progress_done, DAY, T0,
};

fn insights(flow: Flow) -> Insights {
    Insights {
        as_of: "2024-03-01T00:00:00Z".into(),
        since: "2024-01-01T00:00:00Z".into(),
        until: "2024-03-01T00:00:00Z".into(),
        time_zone: "UTC".into(),
        coverage: Default::default(),
        flow,
        sprints: Default::default(),
        quality: Default::default(),
        hygiene: Default::default(),
        forecast: Default::default(),
    }
}

/// 40 items of 1 to 5 days, plus `extra`; the p95 is 5 days.
fn flow_with(extra: &[f64]) -> Flow {
    let mut scatter: Vec<CycleItem> = (0..40)
        .map(|n| CycleItem {
            key: format!("ENG-{n}"),
            done: jiralink_insights::iso(T0 + (n + 1) * DAY),
            cycle_days: f64::from(1 + (n % 5) as u32),
        })
        .collect();
    for (k, v) in extra.iter().enumerate() {
        scatter.push(CycleItem {
            key: format!("SLOW-{k}"),
            done: jiralink_insights::iso(T0 + 45 * DAY),
            cycle_days: *v,
        });
    }
    Flow {
        completed: scatter.len() as u64,
        cycle_time_days: Percentiles {
            count: scatter.len() as u64,
            p50: Some(3.0),
            p85: Some(5.0),
            p95: Some(5.0),
        },
        scatter,
        ..Flow::default()
    }
}

/// The scatter's svg: its drawn dots' y positions and its beyond-the-axis marks.
fn scatter_svg(html: &str) -> (Vec<f64>, usize, String) {
    let svg = section_of(html, "data-chart=\"scatter\"", "</svg>");
    let cys = svg
        .split("<circle ")
        .skip(1)
        .map(|c| {
            let v = c.split("cy=\"").nth(1).expect("cy");
            v[..v.find('"').expect("quote")].parse().expect("number")
        })
        .collect();
    (cys, svg.matches("class=\"beyond\"").count(), svg.to_owned())
}

#[test]
fn an_outlier_beyond_the_axis_is_marked_and_counted_never_silently_clipped() {
    let r = insights(flow_with(&[100.0, 60.0]));
    assert_eq!(scatter_axis(&r.flow), (15.0, 2));
    let html = report(&r);
    let (cys, beyond, svg) = scatter_svg(&html);
    // Every point is drawn: 40 dots inside the plot, 2 red marks on the top edge.
    assert_eq!((cys.len(), beyond), (40, 2));
    assert!(svg.contains("data-beyond-axis=\"2\""));
    assert!(svg.contains("▲ 2 beyond the axis (up to 100.0 d)"), "{svg}");
    assert!(svg.contains("SLOW-0 · 100.0 d (beyond the axis)"));
    assert!(
        cys.iter().all(|&cy| (16.0..=236.0).contains(&cy)),
        "{cys:?}"
    );
    assert!(html.contains("2 item(s) took longer than the axis shows (15.0 d"));
}

#[test]
fn a_moderately_slow_item_grows_the_axis_instead() {
    // 12 days is within three times the p95 (15): the axis ends at 12 and the item is a dot.
    let r = insights(flow_with(&[12.0]));
    assert_eq!(scatter_axis(&r.flow), (12.0, 0));
    let html = report(&r);
    let (cys, beyond, svg) = scatter_svg(&html);
    assert_eq!((cys.len(), beyond), (41, 0));
    assert!(svg.contains("data-beyond-axis=\"0\""));
    assert!(
        svg.contains(">12d</text>"),
        "the top gridline reads the slowest item"
    );
    // The slowest dot sits on the top of the axis, not beyond it.
    let top = cys.iter().cloned().fold(f64::MAX, f64::min);
    assert!((top - 16.0).abs() < 0.05, "{top}");
    assert!(!html.contains("took longer than the axis shows"));
    // A rolling average is drawn over the points.
    assert!(svg.contains("class=\"rolling\""));
}

#[test]
fn a_sampled_scatter_says_how_many_items_it_shows() {
    let mut f = flow_with(&[]);
    // Items done straight from to do have no cycle time: more items done is no sample.
    f.completed = 50;
    assert!(!report(&insights(f.clone())).contains("evenly sampled"));
    f.cycle_time_days.count = 12_000;
    let html = report(&insights(f));
    assert!(html.contains("Showing 40 of 12000 items with a cycle time, evenly sampled"));
}

#[test]
fn sprints_are_charted_per_board_with_each_boards_velocity() {
    // Board 1 "Alpha" runs A1 (days 0-14) and A2 (14-28); board 2 "Beta" runs B1 (7-21), in
    // between them in time. Each sprint holds one item done before its end; board 3's sprint G1
    // holds none.
    let (path, mut store) = empty_store("boards");
    store
        .write(|tx| {
            to_do_in_progress_done(tx)?;
            tx.upsert_board("1", "Alpha", "scrum", Some("ENG"))?;
            tx.upsert_board("2", "Beta", "scrum", Some("ENG"))?;
            // Another project's board: its sprint holds none of the report's issues.
            tx.upsert_board("3", "Gamma", "scrum", Some("OPS"))?;
            for (id, board, name, start) in [
                ("11", "1", "A1", 0),
                ("21", "2", "B1", 7),
                ("12", "1", "A2", 14),
                ("31", "3", "G1", 3),
            ] {
                tx.upsert_sprint(&SprintRow {
                    id: id.into(),
                    board_id: board.into(),
                    name: name.into(),
                    state: "closed".into(),
                    start_date: Some(d(start)),
                    end_date: Some(d(start + 14)),
                    complete_date: Some(d(start + 14)),
                    goal: None,
                })?;
            }
            for (n, sprint, points, done) in
                [(1, "11", 3.0, 10), (2, "21", 5.0, 15), (3, "12", 2.0, 20)]
            {
                let id = format!("{}", 100 + n);
                issue(
                    tx,
                    &id,
                    &format!("ENG-{n}"),
                    "ENG",
                    "Story",
                    ("Done", "done"),
                    0,
                    done,
                    Some(done),
                    true,
                    Some(points),
                    &[st(1, "1", "3"), st(done, "3", "6")],
                );
                tx.set_sprint_issues(&id, &[sprint.to_owned()])?;
            }
            Ok(())
        })
        .expect("store");
    let ds = load::load(&path, &Filter::default()).expect("load");
    let mut o = Options::new(T0 + 40 * DAY, 1, 3);
    o.since = T0;
    let r = compute(&ds, &o, None);
    let boards: Vec<(&str, Vec<&str>, Option<f64>)> = r
        .sprints
        .boards
        .iter()
        .map(|b| {
            (
                b.board.as_str(),
                b.sprints
                    .iter()
                    .map(|&i| r.sprints.sprints[i].name.as_str())
                    .collect(),
                b.velocity,
            )
        })
        .collect();
    assert_eq!(
        boards,
        vec![
            ("Alpha", vec!["A1", "A2"], Some(2.5)),
            ("Beta", vec!["B1"], Some(5.0))
        ]
    );
    // Gamma's sprint has no issue in scope: no chart for it. Two boards: no velocity averaged
    // across them.
    assert!(!report(&r).contains("Gamma"));
    assert_eq!((r.sprints.velocity, r.sprints.say_do_ratio), (None, None));

    let html = report(&r);
    let alpha = section_of(&html, "<h3 data-board=\"1\">Alpha</h3>", "</svg>");
    let beta = section_of(&html, "<h3 data-board=\"2\">Beta</h3>", "</svg>");
    assert!(alpha.contains("<title>A1 · 3</title>") && alpha.contains("<title>A2 · 2</title>"));
    assert!(!alpha.contains("B1"), "{alpha}");
    assert!(beta.contains("<title>B1 · 5</title>") && !beta.contains("A1") && !beta.contains("A2"));
    assert!(alpha.contains("velocity 2.5 pts"));
    assert!(
        html.contains("<b>per board</b>"),
        "the headline does not mix boards"
    );

    // The board filter: its project's issues and its own sprints; the headline is its velocity.
    let only = |board: &str| Filter {
        board: Some(board.into()),
        ..Filter::default()
    };
    let beta = compute(&load::load(&path, &only("2")).expect("load"), &o, None);
    let names: Vec<&str> = beta
        .sprints
        .sprints
        .iter()
        .map(|s| s.name.as_str())
        .collect();
    assert_eq!(names, vec!["B1"]);
    assert_eq!(beta.sprints.velocity, Some(5.0));
    assert_eq!(beta.coverage.issues, 3, "ENG's issues");
    let gamma = compute(&load::load(&path, &only("3")).expect("load"), &o, None);
    assert_eq!(
        (gamma.coverage.issues, gamma.sprints.sprints.len()),
        (0, 0),
        "OPS holds none"
    );
    let e = load::load(&path, &only("99")).expect_err("unknown board");
    assert!(e.to_string().contains("--board 99: no such board"), "{e}");
}

#[test]
fn every_metric_card_and_chart_has_its_one_line_definition() {
    let html = report(&insights(flow_with(&[])));
    let cards = html.matches("<div class=\"card\"").count();
    assert_eq!(cards, 8);
    for card in html.split("<div class=\"card\"").skip(1) {
        let card = &card[..card.find("</div>").expect("card end")];
        assert!(card.contains("<span class=\"def\""), "{card}");
    }
    for h2 in html.split("<h2>").skip(1) {
        let after = &h2[h2.find("</h2>").expect("h2 end") + 5..];
        assert!(
            after.starts_with("<p class=\"def\""),
            "no definition after <h2>{}",
            &h2[..40.min(h2.len())]
        );
    }
    for (key, text) in DEFINITIONS {
        assert!(!text.is_empty() && !text.contains('\n'), "{key}");
    }
}

#[test]
fn aging_work_in_progress_is_drawn_by_workflow_column_within_percentile_bands() {
    let item = |key: &str, status: &str, age: f64| AgingItem {
        key: key.into(),
        status: status.into(),
        age_days: age,
        at_risk: age > 5.0,
    };
    let column = |status: &str, stage, items: Vec<AgingItem>| AgingColumn {
        status: status.into(),
        stage,
        items: items.len() as u64,
        age_days: Percentiles::default(),
        oldest: items,
    };
    let mut f = flow_with(&[]);
    f.wip = 5;
    f.aging_columns = vec![
        column(
            "In Progress",
            Stage::Active,
            vec![
                item("ENG-1", "In Progress", 30.0),
                item("ENG-2", "In Progress", 4.0),
                item("ENG-3", "In Progress", 2.0),
            ],
        ),
        column(
            "In Review",
            Stage::Waiting,
            vec![item("ENG-4", "In Review", 1.0)],
        ),
    ];
    let html = report(&insights(f));
    let svg = section_of(&html, "data-chart=\"aging\"", "</svg>");
    // 30 days is beyond three times the p95 (15): marked and counted; the others are dots.
    assert!(
        svg.contains("data-points=\"4\" data-beyond-axis=\"1\""),
        "{svg}"
    );
    assert_eq!(
        (
            svg.matches("<circle ").count(),
            svg.matches("class=\"beyond\"").count()
        ),
        (3, 1)
    );
    assert!(svg.contains("ENG-1 · In Progress · 30.0 d (beyond the axis)"));
    // One column per status, named with its count; the percentile bands behind the dots (below
    // p50, p50 to p85, above p95: p85 and p95 are equal here, so no band between them).
    assert!(svg.contains(">In Progress (3)</text>") && svg.contains(">In Review (1)</text>"));
    assert_eq!(svg.matches("<rect ").count(), 3, "{svg}");
    assert!(svg.contains("fill=\"#e3fcef\"") && svg.contains("fill=\"#ffebe6\""));
    assert!(html.contains("Showing the 4 oldest of 5 items in progress"));
    assert!(html.contains("1 item(s) are older than the axis shows (15.0 d"));
}
