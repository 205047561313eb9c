//! Benchmark: every insight on a store of ISSUES issues and CHANGES changelog items.
//!
//! `cargo bench -p jiralink-insights --bench insights -- [ISSUES] [CHANGES]` (default 1,000,000 and
//! 10,000,000). The store is generated once through the store's own write path (in a child process,
//! so that generation does not count in this process's peak RSS) and kept under target/ for reruns.

use std::path::{Path, PathBuf};
use std::time::Instant;

use jiralink_store::{ChangeRow, IssueRow, SprintRow, Store};
use rand::{Rng, SeedableRng};

// The same allocator as the `jiralink` binary, so the figures are the command's.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const STATUSES: [(&str, &str, &str); 6] = [
    ("1", "To Do", "new"),
    ("3", "In Progress", "indeterminate"),
    ("4", "In Review", "indeterminate"),
    ("5", "Blocked", "indeterminate"),
    ("6", "Done", "done"),
    ("7", "Won't Do", "done"),
];
const FILLER: &str = "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum. Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum. Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur. Excepteur sint occaecat cupidatat non proident, sunt in culpa qui officia deserunt mollit anim id est laborum. Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua. Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo consequat. Duis aute irure dolor in reprehenderit in voluptate velit esse cillum dolore eu fugiat nulla pariatur.";
const T0: i64 = 1_672_531_200; // 2023-01-01
const SPAN: i64 = 2 * 365 * 86_400;

fn iso(t: i64) -> String {
    jiralink_insights::iso(t).replace('Z', ".000Z")
}

fn generate(path: &Path, issues: u64, changes: u64) {
    let _ = std::fs::remove_file(path);
    let mut store = Store::open_sqlite(path).expect("open store");
    let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
    store
        .write(|tx| {
            for (id, name, cat) in STATUSES {
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
            for p in 0..20 {
                tx.upsert_project(
                    &format!("{}", 10_000 + p),
                    &format!("P{p}"),
                    &format!("Project {p}"),
                    Some("software"),
                    "{}",
                )?;
            }
            for s in 0..(SPAN / (14 * 86_400)) {
                let start = T0 + s * 14 * 86_400;
                tx.upsert_sprint(&SprintRow {
                    id: (s + 1).to_string(),
                    board_id: "1".into(),
                    name: format!("Sprint {}", s + 1),
                    state: if start + 14 * 86_400 < T0 + SPAN {
                        "closed"
                    } else {
                        "active"
                    }
                    .into(),
                    start_date: Some(iso(start)),
                    end_date: Some(iso(start + 14 * 86_400)),
                    complete_date: (start + 14 * 86_400 < T0 + SPAN)
                        .then(|| iso(start + 14 * 86_400)),
                    goal: None,
                })?;
            }
            Ok(())
        })
        .expect("metadata");
    let per_issue = (changes / issues.max(1)).max(1);
    let batch = 10_000;
    let started = Instant::now();
    for chunk in 0..issues.div_ceil(batch) {
        store
            .write(|tx| {
                for n in chunk * batch..((chunk + 1) * batch).min(issues) {
                    let id = (100_000 + n).to_string();
                    let created = T0 + rng.gen_range(0..SPAN - 30 * 86_400);
                    let mut t = created;
                    let mut status = 0usize;
                    let mut rows = Vec::with_capacity(per_issue as usize);
                    for k in 0..per_issue {
                        t += rng.gen_range(600..3 * 86_400);
                        let (field, from, to, fs, ts) = if k % 2 == 0 {
                            let next = match status {
                                0 => 1,
                                1 => [2, 3, 4][rng.gen_range(0..3)],
                                2 => [1, 4][rng.gen_range(0..2)],
                                3 => 1,
                                _ => [1, 4, 5][rng.gen_range(0..3)],
                            };
                            let r = (
                                "status",
                                STATUSES[status].0,
                                STATUSES[next].0,
                                STATUSES[status].1,
                                STATUSES[next].1,
                            );
                            status = next;
                            (
                                r.0.to_owned(),
                                Some(r.1.to_owned()),
                                Some(r.2.to_owned()),
                                Some(r.3.to_owned()),
                                Some(r.4.to_owned()),
                            )
                        } else if k % 5 == 1 {
                            let s = ((t - T0) / (14 * 86_400) + 1).to_string();
                            (
                                "Sprint".into(),
                                None,
                                Some(s.clone()),
                                None,
                                Some(format!("Sprint {s}")),
                            )
                        } else {
                            (
                                "assignee".into(),
                                Some(format!("u{}", rng.gen_range(0..500))),
                                Some(format!("u{}", rng.gen_range(0..500))),
                                None,
                                None,
                            )
                        };
                        rows.push(ChangeRow {
                            change_id: format!("{id}{k:03}"),
                            item_index: 0,
                            changed_at: Some(iso(t)),
                            author_id: Some("u1".into()),
                            field: Some(field),
                            from_value: from,
                            from_string: fs,
                            to_value: to,
                            to_string: ts,
                        });
                    }
                    let (name, _, cat) = STATUSES[status];
                    tx.upsert_issue(&IssueRow {
                        id: id.clone(),
                        key: format!("P{}-{}", n % 20, n / 20 + 1),
                        project_key: format!("P{}", n % 20),
                        issue_type: Some(["Story", "Bug", "Task"][rng.gen_range(0..3)].into()),
                        summary: Some(format!("Issue {n}")),
                        status: Some(name.into()),
                        status_category: Some(cat.into()),
                        priority: Some(["High", "Medium", "Low"][rng.gen_range(0..3)].into()),
                        assignee_id: rng.gen_bool(0.9).then(|| "u1".into()),
                        reporter_id: Some("u1".into()),
                        created: Some(iso(created)),
                        updated: Some(iso(t)),
                        resolved: (cat == "done").then(|| iso(t)),
                        story_points: rng.gen_bool(0.8).then(|| f64::from(rng.gen_range(1..9))),
                        parent_key: None,
                        // About 2 KB, like a real issue's JSON before comments: scans must not read it.
                        raw_json: format!(
                            r#"{{"id":"{id}","fields":{{"description":"{}"}}}}"#,
                            FILLER
                        ),
                    })?;
                    tx.replace_changes(&id, &rows)?;
                    let sprint = ((t - T0) / (14 * 86_400) + 1).to_string();
                    tx.set_sprint_issues(&id, &[sprint])?;
                }
                Ok(())
            })
            .expect("write");
        if chunk % 20 == 0 {
            eprintln!(
                "generated {} issues in {:.0} s",
                (chunk + 1) * batch,
                started.elapsed().as_secs_f64()
            );
        }
    }
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let args: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with("--"))
        .collect();
    if args.first().map(String::as_str) == Some("generate") {
        generate(
            Path::new(&args[1]),
            args[2].parse().expect("issues"),
            args[3].parse().expect("changes"),
        );
        return;
    }
    let issues: u64 = args
        .first()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let changes: u64 = args
        .get(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(10_000_000);
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../target/bench-data");
    std::fs::create_dir_all(&dir).expect("bench dir");
    // v3: stores made since 2026-11-29 have 32 KiB pages (the store's PAGE_SIZE); a v2 file has 4 KiB.
    let path = dir.join(format!("insights-v3-{issues}-{changes}.db"));
    if !path.exists() {
        let t = Instant::now();
        let tmp = path.with_extension("partial");
        let status = std::process::Command::new(std::env::current_exe().expect("exe"))
            .args([
                "generate",
                &tmp.display().to_string(),
                &issues.to_string(),
                &changes.to_string(),
            ])
            .status()
            .expect("generator");
        assert!(status.success(), "generating the store failed");
        std::fs::rename(&tmp, &path).expect("rename");
        eprintln!(
            "generated {} in {:.0} s",
            path.display(),
            t.elapsed().as_secs_f64()
        );
    }
    let as_of = T0 + SPAN;
    let mut opts = jiralink_insights::Options::new(as_of, 26, 42);
    opts.forecast_items = 500;
    let t = Instant::now();
    let ds =
        jiralink_insights::load::load(&path, &jiralink_insights::Filter::default()).expect("load");
    let loaded = t.elapsed().as_secs_f64();
    let r = jiralink_insights::compute(&ds, &opts, None);
    let total = t.elapsed().as_secs_f64();
    let html = jiralink_insights::html::report(&r);
    let with_html = t.elapsed().as_secs_f64();
    println!("| issues | changelog items | status changes | load s | all insights s | + HTML s | peak RSS MiB |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    println!(
        "| {} | {} | {} | {:.2} | {:.2} | {:.2} | {:.0} |",
        r.coverage.issues,
        changes,
        r.coverage.status_changes,
        loaded,
        total,
        with_html,
        peak_rss_mib()
    );
    eprintln!(
        "completed {} · cycle p85 {:?} d · sprints {} · report {} KiB",
        r.flow.completed,
        r.flow.cycle_time_days.p85,
        r.sprints.sprints.len(),
        html.len() / 1024
    );
}
